import { z } from 'zod';
import { channelSchema } from './channels/channel-schema.ts';
import { deliverySchema, policySchema } from './policy-schema.ts';

/** Notifications that reach a locked phone: the channels, the policies, and where messages link to. */
export const notifySchema = z.strictObject({
  publicUrl: z
    .url({ protocol: /^https?$/ })
    .max(300)
    .optional()
    .describe(
      "The address people open the hub's pages at, e.g. https://grid.example.gov.cn: every message links to its case under it. Absent: the HTTP listener's own address.",
    ),
  channels: z
    .array(channelSchema)
    .default([])
    .describe('How messages leave the hub: Web Push, WeCom, DingTalk, SMS, a voice-call webhook.'),
  policies: z
    .array(policySchema)
    .default([])
    .describe('Per role or user: the order of channels, the delays between them, quiet hours, bundling.'),
  delivery: deliverySchema
    .default(deliverySchema.parse({}))
    .describe('Retries, timeouts and bounds of every delivery, whatever the policy.'),
});
export type NotifyConfig = z.infer<typeof notifySchema>;
