import { createHmac, randomUUID } from 'node:crypto';
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
import { notificationFields, templateVariablesSchema } from './template-variables.ts';

/**
 * Alibaba Cloud SMS (dysmsapi, API version 2017-05-25), action SendSms, signed with the RPC signature v1:
 * HMAC-SHA1 with key `AccessKeySecret&` over `POST&%2F&` + percentEncode(the sorted, percent-encoded query).
 * The parameters go as an application/x-www-form-urlencoded body, the signature among them.
 */
export const smsAliyunSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('sms_aliyun'),
  baseUrl: providerBaseUrl('https://dysmsapi.aliyuncs.com'),
  accessKeyId: z.string().min(1).max(128).describe('The AccessKey ID.'),
  accessKeySecret: credential('The AccessKey secret'),
  regionId: z.string().min(1).max(32).default('cn-hangzhou'),
  signName: z.string().min(1).max(64).describe('The approved signature (签名), e.g. 网格通.'),
  templateCode: z.string().min(1).max(64).describe('The approved template, e.g. SMS_123456789.'),
  templateVariables: templateVariablesSchema,
});
export type SmsAliyunConfig = z.infer<typeof smsAliyunSchema>;

/** RFC 3986 percent-encoding as Alibaba Cloud documents it: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function aliyunPercentEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The signature of `parameters` (without Signature) for `method`, per the RPC signature v1. */
export function aliyunSignature(
  method: string,
  parameters: Record<string, string>,
  accessKeySecret: string,
): string {
  const canonical = Object.keys(parameters)
    .sort()
    .map((key) => `${aliyunPercentEncode(key)}=${aliyunPercentEncode(parameters[key] ?? '')}`)
    .join('&');
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(canonical)}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
}

/** Codes that mean the AccessKey was refused. */
const credentialCodes = new Set([
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive',
  'SignatureDoesNotMatch',
  'Forbidden.RAM',
  'isv.ACCOUNT_ABNORMAL',
]);
/** Try again later: rate limits and throttling. */
const retryableCodes = new Set([
  'isv.BUSINESS_LIMIT_CONTROL',
  'Throttling',
  'Throttling.User',
  'ServiceUnavailable',
]);

export class SmsAliyunChannel extends ProviderChannel {
  readonly #config: SmsAliyunConfig;

  constructor(config: SmsAliyunConfig, dependencies: ChannelDependencies) {
    super(config.id, 'sms_aliyun', dependencies, [config.accessKeySecret]);
    this.#config = config;
  }

  reaches(recipient: Recipient): boolean {
    return recipient.contact.phone !== undefined;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const phone = recipient.contact.phone;
    if (phone === undefined) return unreachable('no phone number');
    const config = this.#config;
    const parameters: Record<string, string> = {
      AccessKeyId: config.accessKeyId,
      Action: 'SendSms',
      Format: 'JSON',
      RegionId: config.regionId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: randomUUID(),
      SignatureVersion: '1.0',
      // ISO 8601 in UTC, without milliseconds: 2026-12-07T22:30:00Z.
      Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Version: '2017-05-25',
      // Mainland numbers without the +86 prefix; others with their 00-prefixed country code.
      PhoneNumbers: phone.replace(/^\+86/, '').replace(/^\+/, '00'),
      SignName: config.signName,
      TemplateCode: config.templateCode,
      TemplateParam: JSON.stringify(notificationFields(notification, config.templateVariables)),
      OutId: notification.id.slice(0, 256),
    };
    const signature = aliyunSignature('POST', parameters, config.accessKeySecret);
    const body = Object.entries({ ...parameters, Signature: signature })
      .map(([key, value]) => `${aliyunPercentEncode(key)}=${aliyunPercentEncode(value)}`)
      .join('&');
    const answer = await callProvider(`${config.baseUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      timeoutMs: config.timeoutMs,
    });
    if (!answer.answered) return retryable(answer.reason);
    const code = field(answer.json, 'Code');
    if (code === 'OK' && answer.status === 200) {
      const bizId = field(answer.json, 'BizId');
      return sent(typeof bizId === 'string' ? bizId : undefined);
    }
    const message = field(answer.json, 'Message');
    const said = `Aliyun ${String(code)}${typeof message === 'string' ? `: ${message}` : ''}`;
    if (typeof code === 'string' && credentialCodes.has(code)) return credentialsRefused(said);
    if (typeof code === 'string' && retryableCodes.has(code)) return retryable(said);
    return transportFailure(answer) ?? refused(said);
  }
}

export const createSmsAliyunChannel = (config: SmsAliyunConfig, dependencies: ChannelDependencies) =>
  new SmsAliyunChannel(config, dependencies);
