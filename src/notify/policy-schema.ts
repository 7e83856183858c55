import { z } from 'zod';
import { severities } from '../core/incident.ts';
import { roles } from '../core/principal.ts';

/** The id policies name a channel by (as channels/channel-schema.ts spells it; kept here so neither imports the other). */
const channelIdSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, - and _');
const clockTimeSchema = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'HH:MM, 00:00 to 23:59');

/** Where a case has got to: a step is skipped once the case got there (see policy.ts, `milestoneReached`). */
export const milestones = ['accepted', 'acknowledged', 'arrived', 'resolved'] as const;
export type Milestone = (typeof milestones)[number];

export const policyStepSchema = z.strictObject({
  channel: channelIdSchema.describe('The id of a channel in notify.channels.'),
  afterSeconds: z
    .number()
    .int()
    .min(0)
    .max(24 * 3600)
    .default(0)
    .describe(
      'Seconds after the person was asked to act (dispatched, escalated to, sent back) this step is due.',
    ),
  severities: z
    .array(z.enum(severities))
    .min(1)
    .max(severities.length)
    .optional()
    .describe('Only for cases of these severities; every severity when left out.'),
  until: z
    .enum(milestones)
    .default('accepted')
    .describe(
      'The step is skipped (cancelled) once the case got there: accepted (someone took it), acknowledged (the centre acknowledged it, or someone took it), arrived (on site), resolved (resolved or ended). For a rework, accepted and acknowledged mean back on site (or resolved); for a department user handed the case, every milestone means their part done (docs/notifications.md).',
    ),
});

export const quietHoursSchema = z.strictObject({
  from: clockTimeSchema.describe('Start, local time of hub.timezone.'),
  to: clockTimeSchema.describe('End, local time; earlier than from for quiet hours across midnight.'),
  exceptSeverities: z
    .array(z.enum(severities))
    .max(severities.length)
    .default(['critical'])
    .describe('Steps of cases of these severities are sent during quiet hours too.'),
});

export const bundleSchema = z.strictObject({
  maxMessages: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .describe(
      'Messages one person gets on one channel within the window; past that, one message lists the rest.',
    ),
  windowSeconds: z.number().int().min(1).max(3600).describe('The window, in seconds.'),
});

/** Who is told, through which channels, in which order and after what delays (see policy.ts). */
export const policySchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
    roles: z
      .array(z.enum(roles))
      .min(1)
      .max(roles.length)
      .optional()
      .describe("The roles it applies to; a user's own policy (users) wins over their role's."),
    users: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(1000)
      .optional()
      .describe('The user ids it applies to.'),
    steps: z.array(policyStepSchema).min(1).max(10).describe('In order: each step one channel at its delay.'),
    quietHours: quietHoursSchema
      .optional()
      .describe(
        'Steps falling within these hours wait until they end, except for the severities excepted (critical by default).',
      ),
    bundle: bundleSchema
      .optional()
      .describe(
        'During storms: per person and channel, past maxMessages within the window one message lists them.',
      ),
  })
  .refine((policy) => policy.roles !== undefined || policy.users !== undefined, {
    message: 'a policy applies to roles, users or both: give at least one',
  });
export type PolicyConfig = z.infer<typeof policySchema>;
export type PolicyStep = z.infer<typeof policyStepSchema>;
export type QuietHours = z.infer<typeof quietHoursSchema>;

/** How deliveries are made whatever the policy: retries, timeouts, bounds (notify.delivery). */
export const deliverySchema = z.strictObject({
  attempts: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe('Attempts of one step on a retryable failure (timeout, 5xx, rate limit) before the next step.'),
  retryBackoffSeconds: z
    .number()
    .min(0.01)
    .max(600)
    .default(5)
    .describe('The wait before the first retry; it doubles at each further one.'),
  timeoutSeconds: z
    .number()
    .min(0.01)
    .max(120)
    .default(10)
    .describe('A delivery not answered within this counts as a retryable failure.'),
  concurrencyPerChannel: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(4)
    .describe('Deliveries in flight at once on one channel: a slow provider holds up only its own.'),
  maxPending: z
    .number()
    .int()
    .min(10)
    .max(1_000_000)
    .default(10_000)
    .describe('Pending notifications kept at most; past this, new ones are refused and counted (overflow).'),
});
export type DeliveryConfig = z.infer<typeof deliverySchema>;
