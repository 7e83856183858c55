import { z } from 'zod';
import type { Notification, Recipient } from '../channel.ts';
import type { ChannelDependencies } from './channel-dependencies.ts';
import {
  type Attempt,
  callProvider,
  commonChannelSettings,
  credentialsRefused,
  field,
  ProviderChannel,
  refused,
  retryable,
  sent,
  transportFailure,
  unreachable,
} from './channel-support.ts';

/** A JSON value of the body template: strings may hold {phone}, {text}, {url}, {title}, {id}. */
type Template = string | number | boolean | null | Template[] | { [key: string]: Template };
const templateSchema: z.ZodType<Template> = z.lazy(() =>
  z.union([
    z.string().max(2000),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(templateSchema).max(50),
    z.record(z.string().max(100), templateSchema),
  ]),
);

/**
 * A deployment's own SMS gateway over HTTP: the body is the configured JSON template with its placeholders filled,
 * success is a 2xx answer and, when `success` names one, a field of the JSON answer equal to the expected value.
 */
export const smsHttpSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('sms_http'),
  url: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .describe("The gateway's address, e.g. https://sms.example.gov.cn/send."),
  method: z.enum(['POST', 'PUT']).default('POST'),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(1000))
    .default({})
    .describe(
      'Extra headers, e.g. {authorization: {env: SMS_GATEWAY_AUTH}}: their values are treated as secrets.',
    ),
  body: templateSchema.describe(
    'The JSON body; in its strings {phone}, {text} (title and body), {title}, {url} and {id} are replaced.',
  ),
  success: z
    .strictObject({
      path: z.string().min(1).max(200).describe('A dotted path into the JSON answer, e.g. result.code.'),
      equals: z.union([z.string().max(200), z.number(), z.boolean()]),
    })
    .optional()
    .describe('Besides a 2xx answer, this field of the answer must equal this value.'),
  credentialStatuses: z
    .array(z.number().int().min(400).max(499))
    .max(10)
    .default([401, 403])
    .describe('HTTP statuses that mean the gateway refused the credentials.'),
});
export type SmsHttpConfig = z.infer<typeof smsHttpSchema>;

const placeholder = /\{(phone|text|title|url|id)\}/g;

function fill(template: Template, values: Record<string, string>): Template {
  if (typeof template === 'string')
    return template.replace(placeholder, (_whole, name: string) => values[name] ?? '');
  if (Array.isArray(template)) return template.map((item) => fill(item, values));
  if (template !== null && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, fill(value, values)]));
  return template;
}

export class SmsHttpChannel extends ProviderChannel {
  readonly #config: SmsHttpConfig;

  constructor(config: SmsHttpConfig, dependencies: ChannelDependencies) {
    super(config.id, 'sms_http', dependencies, [
      ...Object.values(config.headers),
      new URL(config.url).password || undefined,
    ]);
    this.#config = config;
  }

  reaches(recipient: Recipient): boolean {
    return recipient.contact.phone !== undefined;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const phone = recipient.contact.phone;
    if (phone === undefined) return unreachable('no phone number');
    const body = fill(this.#config.body, {
      phone,
      text: `${notification.title} ${notification.body} ${notification.url}`,
      title: notification.title,
      url: notification.url,
      id: notification.id,
    });
    const answer = await callProvider(this.#config.url, {
      method: this.#config.method,
      headers: { 'content-type': 'application/json', ...this.#config.headers },
      body: JSON.stringify(body),
      timeoutMs: this.#config.timeoutMs,
    });
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    if (this.#config.credentialStatuses.includes(answer.status))
      return credentialsRefused(`the SMS gateway refused the credentials (HTTP ${answer.status})`);
    if (answer.status < 200 || answer.status > 299)
      return refused(`the SMS gateway answered HTTP ${answer.status}`);
    const { success } = this.#config;
    if (success !== undefined) {
      const value = field(answer.json, ...success.path.split('.'));
      if (value !== success.equals)
        return refused(`the SMS gateway answered ${success.path} = ${JSON.stringify(value) ?? 'nothing'}`);
    }
    return sent();
  }
}

export const createSmsHttpChannel = (config: SmsHttpConfig, dependencies: ChannelDependencies) =>
  new SmsHttpChannel(config, dependencies);
