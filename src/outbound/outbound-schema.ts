import { z } from 'zod';
import { feedTypes } from '../core/feed-message.ts';

/**
 * The `outbound:` section of the configuration file: where the hub sends every incident change. Strict like the
 * rest of the file (unknown keys are errors), and every field says what it is for.
 */

/** Longest wait between two attempts of one delivery, whatever backoffSeconds and the attempt number give. */
export const MAX_BACKOFF_SECONDS = 300;

const topicLevel = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be one topic level: letters, digits, "-" or "_"')
  // `<base>/devices/...` is the device topic grammar (core/topics.ts): the feed must not land in it.
  .refine((level) => level !== 'devices', '"devices" is the device topics\' level; choose another');

export const mqttFeedSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Publish every incident change on the embedded broker, at QoS 1.'),
  topic: topicLevel
    .default('incidents')
    .describe('One topic level appended to hub.topicBase: the feed is published on `<topicBase>/<topic>`.'),
});

export const webhookSchema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9-]{0,63}$/,
      'must be lowercase letters, digits and dashes, starting with a letter or digit',
    )
    .describe('Names the webhook in logs, metrics, audit entries and the x-gridhub-delivery ids.'),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .describe(
      'Where deliveries are POSTed. Credentials in it (https://user:pass@host/...) are sent as Basic ' +
        'authorization and never logged; logs and audit entries show the URL without credentials or query.',
    ),
  secret: z
    .string()
    .min(16, 'a webhook secret needs at least 16 characters')
    .max(256)
    .describe(
      'Key of the HMAC-SHA256 in x-gridhub-signature; the receiver holds the same key. Never logged.',
    ),
  events: z
    .array(z.enum(feedTypes))
    .min(1, 'name at least one of new, update, end')
    .default([...feedTypes])
    .describe('Which feed messages this webhook receives: any of new, update, end.'),
  timeoutSeconds: z
    .number()
    .positive()
    .max(60)
    .default(5)
    .describe('How long one attempt waits for the response headers before it counts as failed.'),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(20)
    .default(6)
    .describe('Attempts per delivery, the first included, before it is given up and audited as failed.'),
  backoffSeconds: z
    .number()
    .positive()
    .max(MAX_BACKOFF_SECONDS)
    .default(1)
    .describe(
      `Wait after the first failed attempt; after attempt n the wait is backoffSeconds·2^(n-1), at most ${MAX_BACKOFF_SECONDS} s.`,
    ),
});

export const outboundSchema = z.strictObject({
  mqtt: mqttFeedSchema.default(mqttFeedSchema.parse({})).describe('The incident feed on MQTT.'),
  webhooks: z
    .array(webhookSchema)
    .default([])
    .superRefine(
      (webhooks, context) => {
        const seen = new Set<unknown>();
        webhooks.forEach((webhook, index) => {
          // Runs even when an item is invalid (see `when`), so the item may not be a webhook yet.
          const id: unknown = (webhook as Partial<WebhookConfig> | undefined)?.id;
          if (typeof id !== 'string') return;
          if (seen.has(id))
            context.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate webhook id ${id}` });
          seen.add(id);
        });
      },
      // Checked alongside the items' own problems, so every issue is reported at once.
      { when: (payload) => Array.isArray(payload.value) },
    )
    .describe('HTTP endpoints every incident change is POSTed to, signed, and retried with backoff.'),
});

export type OutboundConfig = z.infer<typeof outboundSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
