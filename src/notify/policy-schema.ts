import { z } from 'zod';

/** Who is told, through which channels, in which order and after what delays (see policy.ts). */
export const policySchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
});
export type PolicyConfig = z.infer<typeof policySchema>;
