import { createHmac } from 'node:crypto';
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
} from './channel-support.ts';

/**
 * A DingTalk custom robot (自定义机器人) posting to one group, so it reaches every recipient; the recipient is
 * @-mentioned by DingTalk user id or phone. With 加签 (the `secret`), each request carries `timestamp` (ms) and
 * `sign` = urlencode(base64(HmacSHA256(key = secret, message = timestamp + "\n" + secret))).
 */
export const dingtalkRobotSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('dingtalk_robot'),
  baseUrl: providerBaseUrl('https://oapi.dingtalk.com'),
  accessToken: credential("The robot's access_token (from its webhook address)"),
  secret: credential('The 加签 secret (SEC…)').optional(),
  format: z
    .enum(['markdown', 'actionCard'])
    .default('markdown')
    .describe(
      'markdown: the text with a link and the @mention; actionCard: a card with one button to the case.',
    ),
});
export type DingtalkRobotConfig = z.infer<typeof dingtalkRobotSchema>;

/** The 加签 signature of `timestamp` (ms since the epoch), before URL encoding. */
export function dingtalkSign(secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
}

/**
 * 310000: the signature, keyword or IP setting refused the message; 300001/300005: the token does not exist or is
 * not the robot's; 400101/400102: the robot or token is disabled.
 */
const credentialCodes = new Set([310000, 300001, 300005, 400101, 400102]);
/** 130101: more than 20 messages a minute; -1: busy. */
const retryableCodes = new Set([130101, -1]);

export class DingtalkRobotChannel extends ProviderChannel {
  readonly #config: DingtalkRobotConfig;

  constructor(config: DingtalkRobotConfig, dependencies: ChannelDependencies) {
    super(config.id, 'dingtalk_robot', dependencies, [config.accessToken, config.secret]);
    this.#config = config;
  }

  reaches(): boolean {
    return true;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const { contact } = recipient;
    const phone = contact.phone?.replace(/^\+86/, '');
    // DingTalk shows the @ only when the text names the mentioned person as well.
    const mention =
      contact.dingtalkUserId !== undefined
        ? `@${contact.dingtalkUserId}`
        : phone !== undefined
          ? `@${phone}`
          : '';
    const at = {
      atUserIds: contact.dingtalkUserId === undefined ? [] : [contact.dingtalkUserId],
      atMobiles: contact.dingtalkUserId === undefined && phone !== undefined ? [phone] : [],
      isAtAll: false,
    };
    const text = `### ${notification.title}\n\n${notification.body}\n\n${mention}`;
    const message =
      this.#config.format === 'markdown'
        ? {
            msgtype: 'markdown',
            markdown: { title: notification.title, text: `${text}\n\n[查看 / View](${notification.url})` },
            at,
          }
        : {
            msgtype: 'actionCard',
            actionCard: {
              title: notification.title,
              text,
              btnOrientation: '0',
              singleTitle: '查看 / View',
              singleURL: notification.url,
            },
            at,
          };
    const query = new URLSearchParams({ access_token: this.#config.accessToken });
    if (this.#config.secret !== undefined) {
      const timestamp = Date.now();
      query.set('timestamp', String(timestamp));
      query.set('sign', dingtalkSign(this.#config.secret, timestamp));
    }
    const answer = await callProvider(`${this.#config.baseUrl}/robot/send?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      timeoutMs: this.#config.timeoutMs,
    });
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    const code = field(answer.json, 'errcode');
    if (code === 0) return sent();
    const errmsg = field(answer.json, 'errmsg');
    const said = `DingTalk errcode ${String(code)}${typeof errmsg === 'string' ? `: ${errmsg}` : ''}`;
    if (typeof code === 'number' && credentialCodes.has(code)) return credentialsRefused(said);
    if (typeof code === 'number' && retryableCodes.has(code)) return retryable(said);
    return refused(said);
  }
}

export const createDingtalkRobotChannel = (config: DingtalkRobotConfig, dependencies: ChannelDependencies) =>
  new DingtalkRobotChannel(config, dependencies);
