import { z } from 'zod';
import { channelKinds } from '../channel.ts';

/** The id policies name a channel by. */
export const channelIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, - and _');

/**
 * One notification channel in the config: its id, its kind, and the kind's own settings (provider address,
 * credentials as secret references). Each kind's settings are checked by its module's schema.
 */
export const channelSchema = z.strictObject({
  id: channelIdSchema,
  kind: z.enum(channelKinds),
});
export type ChannelConfig = z.infer<typeof channelSchema>;
