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

/** A 国标编码 (GB/T 28181 Appendix D): 8-digit centre, 2-digit industry, 3-digit type, 7-digit serial. */
const nationalId = z.string().regex(/^\d{20}$/, 'must be a 20-digit GB/T 28181 national code (国标编码)');

/** Incident priority as GB/T 28181's AlarmPriority: 1 is the most urgent (一级警情), 4 the least. */
const alarmPriority = z.number().int().min(1).max(4);

export const cascadeAlarmSchema = z.strictObject({
  method: z
    .number()
    .int()
    .min(1)
    .max(9)
    .describe(
      'AlarmMethod: 1 telephone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other (2016; 2022 adds more).',
    ),
  alarmType: z
    .number()
    .int()
    .min(1)
    .max(99)
    .optional()
    .describe(
      "AlarmType within the method (<Info><AlarmType>), e.g. method 5 type 6 intrusion; absent: the method's alarm without a type.",
    ),
  eventType: z
    .number()
    .int()
    .min(1)
    .max(99)
    .optional()
    .describe('2022 only: the EventType of <Info><AlarmTypeParam>; not sent to a 2016 superior.'),
  priority: alarmPriority
    .optional()
    .describe("AlarmPriority 1 (most urgent) to 4; absent: from the incident's severity."),
});

export const cascadeSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Register to the superior platform and send incidents up; false keeps the settings unused.'),
    local: z
      .strictObject({
        id: nationalId
          .refine((id) => id.slice(10, 13) === '200', 'must have type code 200 (a platform) in digits 11-13')
          .describe("gridhub's own national code as a lower platform (type code 200, 中心信令控制服务器)."),
        domain: z
          .string()
          .regex(/^\d{10}$/, 'must be 10 digits (the centre code and industry code, 域编码)')
          .describe("gridhub's SIP domain: the first 10 digits of its national code, by convention."),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(0)
          .describe(
            'The local SIP port the cascade sends from and the superior sends to (0: a free one, for tests).',
          ),
        host: z
          .string()
          .min(1)
          .optional()
          .describe(
            "The address to bind and to name in Via and Contact: one the superior can reach; the hub's address when left out.",
          ),
        transport: z.enum(['udp', 'tcp']).default('udp').describe('udp or tcp, as the superior expects.'),
      })
      .describe('gridhub as a lower platform (下级平台).'),
    superior: z
      .strictObject({
        id: nationalId.describe("The superior platform's national code (its SIP server id)."),
        domain: z
          .string()
          .regex(/^\d{10}$/, 'must be 10 digits (域编码)')
          .describe(
            "The superior's SIP domain: the REGISTER's Request-URI host part and the digest realm it uses.",
          ),
        host: z.string().min(1).describe("The superior's SIP address (IP or host name)."),
        port: z.number().int().min(1).max(65535).default(5060).describe("The superior's SIP port."),
        transport: z
          .enum(['udp', 'tcp'])
          .optional()
          .describe('udp or tcp; the local transport when left out (they must agree).'),
        password: z
          .string()
          .min(1)
          .max(256)
          .describe(
            'The password the superior gave gridhub for its Digest challenge. Give it as {env: NAME} or {file: path}. Never logged.',
          ),
      })
      .describe('The superior platform (上级平台) gridhub registers to.'),
    registerExpiresSeconds: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(3600)
      .describe('Expires asked in REGISTER; refreshed at about two thirds of what the superior grants.'),
    keepaliveSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe('Interval of the MESSAGE Keepalive sent to the superior.'),
    keepaliveMissesBeforeReregister: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(3)
      .describe('Unanswered keepalives in a row after which gridhub registers again.'),
    codePrefix: z
      .string()
      .regex(/^\d{10}$/, 'must be 10 digits: the 8-digit centre code and the 2-digit industry code')
      .optional()
      .describe(
        "First 10 digits of the national codes generated for devices without gb28181.id; local.id's first 10 when left out.",
      ),
    networkDigit: z
      .number()
      .int()
      .min(0)
      .max(9)
      .default(0)
      .describe(
        "Digit 14 of generated codes, GB/T 28181's network identifier (0-4 the video private network, 5 public security, 6 government, 7 internet, 8 social resources).",
      ),
    civilCode: z
      .string()
      .regex(/^\d{2,12}$/, 'must be an administrative division code (行政区划, 2 to 12 digits)')
      .optional()
      .describe("CivilCode in the catalog; the codePrefix's first 6 digits (the county) when left out."),
    edition: z
      .enum(['2016', '2022'])
      .default('2016')
      .describe(
        "The superior's GB/T 28181 edition: a 2016 superior is sent only 2016 alarm codes (a 2022 one's own codes have 2016 stand-ins).",
      ),
    categories: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/), cascadeAlarmSchema)
      .default({})
      .describe(
        'Overrides of the incident → (AlarmMethod, AlarmType, AlarmPriority) tables (src/ingest/gb28181/alarm-codes.ts: by event type, then category), by category.',
      ),
    queueLimit: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe(
        'Alarms kept while the superior is unreachable; past it the oldest is dropped (and counted).',
      ),
  })
  .describe(
    'gridhub as a GB/T 28181 lower platform: registers to a superior platform and sends incidents up.',
  );

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
  gb28181: cascadeSchema
    .optional()
    .describe('GB/T 28181 cascade: gridhub as a lower platform (下级平台) of a superior one; absent: none.'),
});

export type OutboundConfig = z.infer<typeof outboundSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;

export type CascadeConfig = z.infer<typeof cascadeSchema>;
export type CascadeAlarmConfig = z.infer<typeof cascadeAlarmSchema>;
