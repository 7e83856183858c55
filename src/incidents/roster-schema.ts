import { z } from 'zod';
import { clockTimeSchema, nodeIdSchema } from '../core/schema-parts.ts';

/**
 * A grid's duty roster as the config file describes it; the REST API takes and answers a grid's shifts in the same
 * shape. config/schema.ts checks at compile time that these are core/roster.ts's descriptions, field for field.
 */

export const shiftSchema = z.strictObject({
  users: z
    .array(nodeIdSchema)
    .min(1)
    .describe("On duty during this shift: a grid's workers, or a centre's duty officers."),
  days: z
    .array(z.number().int().min(1).max(7))
    .min(1)
    .optional()
    .describe('ISO weekdays (1 = Monday … 7 = Sunday) the shift starts on; every day when left out.'),
  from: clockTimeSchema.describe('Start, local time of hub.timezone.'),
  to: clockTimeSchema.describe(
    'End, local time; earlier than from for a shift across midnight; equal to from for all day.',
  ),
});

export const rosterSchema = z.strictObject({
  grid: nodeIdSchema,
  shifts: z.array(shiftSchema).min(1),
});
