import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Notification, Recipient } from '../channel.ts';
import type { ChannelDependencies } from './channel-dependencies.ts';
import {
  type Attempt,
  callProvider,
  commonChannelSettings,
  credential,
  credentialsRefused,
  field,
  ProviderChannel,
  providerBaseUrl,
  refused,
  retryable,
  sent,
  transportFailure,
  unreachable,
} from './channel-support.ts';
import { notificationFieldNames, notificationFields } from './template-variables.ts';

/**
 * Tencent Cloud SMS (sms.tencentcloudapi.com, API version 2021-01-11), action SendSms, signed with TC3-HMAC-SHA256:
 * a canonical request over the JSON body and the signed headers content-type and host, a string to sign with the
 * date's credential scope, and a key derived from "TC3" + SecretKey over the date, the service and "tc3_request".
 */
export const smsTencentSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('sms_tencent'),
  baseUrl: providerBaseUrl('https://sms.tencentcloudapi.com'),
  secretId: z.string().min(1).max(128).describe('The SecretId.'),
  secretKey: credential('The SecretKey'),
  region: z.string().min(1).max(32).default('ap-guangzhou'),
  smsSdkAppId: z
    .string()
    .regex(/^\d{1,20}$/)
    .describe('The SMS application id (SmsSdkAppId).'),
  signName: z.string().min(1).max(64).describe('The approved signature (签名内容).'),
  templateId: z
    .string()
    .regex(/^\d{1,20}$/)
    .describe('The approved template id.'),
  templateParams: z
    .array(z.enum(notificationFieldNames))
    .max(10)
    .default(['title'])
    .describe("The template's variables in order ({1}, {2}, …), each from a field of the notification."),
  paramMaxLength: z.number().int().min(1).max(500).default(20),
});
export type SmsTencentConfig = z.infer<typeof smsTencentSchema>;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/** The Authorization header of a TC3-HMAC-SHA256 request. */
export function tc3Authorization(options: {
  readonly secretId: string;
  readonly secretKey: string;
  readonly service: string;
  readonly host: string;
  readonly timestamp: number;
  readonly contentType: string;
  readonly payload: string;
}): string {
  const date = new Date(options.timestamp * 1000).toISOString().slice(0, 10);
  const signedHeaders = 'content-type;host';
  const canonicalRequest = [
    'POST',
    '/',
    '',
    `content-type:${options.contentType}\nhost:${options.host}\n`,
    signedHeaders,
    sha256Hex(options.payload),
  ].join('\n');
  const scope = `${date}/${options.service}/tc3_request`;
  const stringToSign = [
    'TC3-HMAC-SHA256',
    String(options.timestamp),
    scope,
    sha256Hex(canonicalRequest),
  ].join('\n');
  const signingKey = hmac(hmac(hmac(`TC3${options.secretKey}`, date), options.service), 'tc3_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return `TC3-HMAC-SHA256 Credential=${options.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

const contentType = 'application/json; charset=utf-8';
/** Error codes (Response.Error.Code) worth trying again. */
const retryableCodes = new Set([
  'RequestLimitExceeded',
  'InternalError',
  'InternalError.Timeout',
  'LimitExceeded.DeliveryFrequencyLimit',
]);

export class SmsTencentChannel extends ProviderChannel {
  readonly #config: SmsTencentConfig;

  constructor(config: SmsTencentConfig, dependencies: ChannelDependencies) {
    super(config.id, 'sms_tencent', dependencies, [config.secretKey]);
    this.#config = config;
  }

  reaches(recipient: Recipient): boolean {
    return recipient.contact.phone !== undefined;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const phone = recipient.contact.phone;
    if (phone === undefined) return unreachable('no phone number');
    const config = this.#config;
    const variables = notificationFields(notification, {
      map: Object.fromEntries(config.templateParams.map((from, index) => [String(index), from])),
      maxLength: config.paramMaxLength,
    });
    const payload = JSON.stringify({
      // E.164: a mainland number without its +86 gets it.
      PhoneNumberSet: [phone.startsWith('+') ? phone : `+86${phone}`],
      SmsSdkAppId: config.smsSdkAppId,
      SignName: config.signName,
      TemplateId: config.templateId,
      TemplateParamSet: config.templateParams.map((_from, index) => variables[String(index)] ?? ''),
      SessionContext: notification.id.slice(0, 512),
    });
    const host = new URL(config.baseUrl).host;
    const timestamp = Math.floor(Date.now() / 1000);
    const answer = await callProvider(`${config.baseUrl}/`, {
      method: 'POST',
      headers: {
        authorization: tc3Authorization({
          secretId: config.secretId,
          secretKey: config.secretKey,
          service: 'sms',
          host,
          timestamp,
          contentType,
          payload,
        }),
        'content-type': contentType,
        'x-tc-action': 'SendSms',
        'x-tc-timestamp': String(timestamp),
        'x-tc-version': '2021-01-11',
        'x-tc-region': config.region,
      },
      body: payload,
      timeoutMs: config.timeoutMs,
    });
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    const errorCode = field(answer.json, 'Response', 'Error', 'Code');
    if (typeof errorCode === 'string') {
      const message = field(answer.json, 'Response', 'Error', 'Message');
      const said = `Tencent ${errorCode}${typeof message === 'string' ? `: ${message}` : ''}`;
      if (errorCode.startsWith('AuthFailure')) return credentialsRefused(said);
      if (retryableCodes.has(errorCode)) return retryable(said);
      return refused(said);
    }
    const status = field(answer.json, 'Response', 'SendStatusSet');
    const first = Array.isArray(status) ? (status[0] as unknown) : undefined;
    const code = field(first, 'Code');
    if (code === 'Ok') {
      const serial = field(first, 'SerialNo');
      return sent(typeof serial === 'string' ? serial : undefined);
    }
    const said = `Tencent ${String(code)}: ${String(field(first, 'Message'))}`;
    if (typeof code === 'string' && retryableCodes.has(code)) return retryable(said);
    return refused(said);
  }
}

export const createSmsTencentChannel = (config: SmsTencentConfig, dependencies: ChannelDependencies) =>
  new SmsTencentChannel(config, dependencies);
