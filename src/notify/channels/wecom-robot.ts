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
  truncateBytes,
} from './channel-support.ts';

/**
 * A WeCom group robot (群机器人): one webhook posts to one group, so it reaches every recipient. `text` @-mentions
 * the recipient by phone (mentioned_mobile_list) so their phone rings; `markdown` reads better but mentions no one.
 */
export const wecomRobotSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('wecom_robot'),
  baseUrl: providerBaseUrl('https://qyapi.weixin.qq.com'),
  key: credential("The webhook's key (the `key=` of its address)"),
  format: z
    .enum(['text', 'markdown'])
    .default('text')
    .describe('text: mentions the recipient by phone; markdown: richer, mentions no one.'),
});
export type WecomRobotConfig = z.infer<typeof wecomRobotSchema>;

/** 93000: the webhook key is invalid (the robot was removed); 93004: the robot is disabled. */
const credentialCodes = new Set([93000, 93004, 93008]);
/** -1 busy; 45009 over the robot's rate (20 messages a minute). */
const retryableCodes = new Set([-1, 45009]);

/** WeCom's limits: text 2048 bytes, markdown 4096 bytes. */
const maxBytes = { text: 2048, markdown: 4096 } as const;

export class WecomRobotChannel extends ProviderChannel {
  readonly #config: WecomRobotConfig;

  constructor(config: WecomRobotConfig, dependencies: ChannelDependencies) {
    super(config.id, 'wecom_robot', dependencies, [config.key]);
    this.#config = config;
  }

  reaches(): boolean {
    return true;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const { format } = this.#config;
    const phone = recipient.contact.phone?.replace(/^\+86/, '');
    const message =
      format === 'text'
        ? {
            msgtype: 'text',
            text: {
              content: truncateBytes(
                `${notification.title}\n${notification.body}\n${notification.url}`,
                maxBytes.text,
              ),
              ...(phone === undefined ? {} : { mentioned_mobile_list: [phone] }),
            },
          }
        : {
            msgtype: 'markdown',
            markdown: {
              content: truncateBytes(
                `**${notification.title}**\n${notification.body}\n[查看 / View](${notification.url})`,
                maxBytes.markdown,
              ),
            },
          };
    const answer = await callProvider(
      `${this.#config.baseUrl}/cgi-bin/webhook/send?key=${encodeURIComponent(this.#config.key)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
        timeoutMs: this.#config.timeoutMs,
      },
    );
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    const code = field(answer.json, 'errcode');
    if (code === 0) return sent();
    const message_ = field(answer.json, 'errmsg');
    const said = `WeCom robot errcode ${String(code)}${typeof message_ === 'string' ? `: ${message_}` : ''}`;
    if (typeof code === 'number' && credentialCodes.has(code)) return credentialsRefused(said);
    if (typeof code === 'number' && retryableCodes.has(code)) return retryable(said);
    return refused(said);
  }
}

export const createWecomRobotChannel = (config: WecomRobotConfig, dependencies: ChannelDependencies) =>
  new WecomRobotChannel(config, dependencies);
