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
  unreachable,
} from './channel-support.ts';

/**
 * 企业微信 application messages (应用消息): a textcard to the recipient's WeCom UserID, with the case link as its
 * button. The access token (gettoken, valid `expires_in` seconds, 7200) is cached and fetched again a margin
 * before it ends, or at once when the send answers 40014 (invalid) or 42001 (expired): then the send is tried
 * once more with the new token.
 */
export const wecomAppSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('wecom_app'),
  baseUrl: providerBaseUrl('https://qyapi.weixin.qq.com'),
  corpId: z.string().min(1).max(64).describe('The enterprise id (企业ID, corpid).'),
  agentId: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .describe("The application's AgentId."),
  secret: credential("The application's Secret (corpsecret)"),
  buttonText: z
    .string()
    .min(1)
    .max(4)
    .default('详情')
    .describe('The textcard button (btntxt, at most 4 characters).'),
});
export type WecomAppConfig = z.infer<typeof wecomAppSchema>;

/** A token is fetched again this long before WeCom says it ends. */
const tokenMarginMs = 5 * 60_000;

/** The access token was refused as stale: fetch a new one and send once more. */
const staleTokenCodes = new Set([40014, 42001]);
/**
 * The configured credentials refused (WeCom's global error codes): 40001 invalid secret, 40013 invalid corpid,
 * 40056 invalid agentid, 60020 the hub's address is not on the application's trusted IP list, 40091 secret
 * invalid, 301002 no permission for the application.
 */
const credentialCodes = new Set([40001, 40013, 40056, 40091, 60020, 301002, 48002]);
/** Worth trying again later: -1 system busy, 45009 over the call rate limit, 45033 over the concurrency limit. */
const retryableCodes = new Set([-1, 45009, 45033]);

export class WecomAppChannel extends ProviderChannel {
  readonly #config: WecomAppConfig;
  #token: { readonly value: string; readonly until: number } | undefined;
  /** One token request at a time: concurrent sends share it. */
  #fetching: Promise<string | Attempt> | undefined;

  constructor(config: WecomAppConfig, dependencies: ChannelDependencies) {
    super(config.id, 'wecom_app', dependencies, [config.secret]);
    this.#config = config;
  }

  reaches(recipient: Recipient): boolean {
    return recipient.contact.wecomUserId !== undefined;
  }

  async stop(): Promise<void> {
    this.#token = undefined;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const userId = recipient.contact.wecomUserId;
    if (userId === undefined) return unreachable('no WeCom UserID');
    const first = await this.#sendWithToken(userId, notification, false);
    if (first !== 'stale') return first;
    this.#token = undefined;
    const second = await this.#sendWithToken(userId, notification, true);
    return second === 'stale' ? retryable('WeCom refused a fresh access token') : second;
  }

  async #sendWithToken(
    userId: string,
    notification: Notification,
    retried: boolean,
  ): Promise<Attempt | 'stale'> {
    const token = await this.#accessToken();
    if (typeof token !== 'string') return token;
    const answer = await callProvider(
      `${this.#config.baseUrl}/cgi-bin/message/send?access_token=${encodeURIComponent(token)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          touser: userId,
          msgtype: 'textcard',
          agentid: this.#config.agentId,
          textcard: {
            // WeCom's textcard limits: title 128 bytes, description 512 bytes.
            title: truncateBytes(notification.title, 128),
            description: truncateBytes(notification.body, 512),
            url: notification.url,
            btntxt: this.#config.buttonText,
          },
        }),
        timeoutMs: this.#config.timeoutMs,
      },
    );
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    const code = field(answer.json, 'errcode');
    if (code === 0) {
      // WeCom answers 0 even when the user is unknown, naming them in `invaliduser`.
      const invalid = field(answer.json, 'invaliduser');
      if (typeof invalid === 'string' && invalid !== '') return refused('WeCom does not know this UserID');
      const msgid = field(answer.json, 'msgid');
      return sent(typeof msgid === 'string' ? msgid : undefined);
    }
    if (typeof code === 'number' && staleTokenCodes.has(code))
      return retried ? retryable(`WeCom refused a fresh access token (errcode ${code})`) : 'stale';
    return this.#verdict(code, field(answer.json, 'errmsg'), answer.status);
  }

  #verdict(code: unknown, message: unknown, status: number): Attempt {
    const said = `WeCom errcode ${String(code)}${typeof message === 'string' ? `: ${message}` : ''}`;
    if (typeof code !== 'number') return refused(`WeCom answered HTTP ${status} without an errcode`);
    if (credentialCodes.has(code)) return credentialsRefused(said);
    if (retryableCodes.has(code)) return retryable(said);
    return refused(said);
  }

  /** The cached token, or a new one; a failure as the attempt's result. */
  async #accessToken(): Promise<string | Attempt> {
    if (this.#token !== undefined && Date.now() < this.#token.until) return this.#token.value;
    this.#fetching ??= this.#fetchToken().finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  async #fetchToken(): Promise<string | Attempt> {
    const query = new URLSearchParams({ corpid: this.#config.corpId, corpsecret: this.#config.secret });
    const answer = await callProvider(`${this.#config.baseUrl}/cgi-bin/gettoken?${query}`, {
      method: 'GET',
      timeoutMs: this.#config.timeoutMs,
    });
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    const code = field(answer.json, 'errcode');
    const token = field(answer.json, 'access_token');
    const expiresIn = field(answer.json, 'expires_in');
    if (code === 0 && typeof token === 'string' && token !== '') {
      const seconds = typeof expiresIn === 'number' ? expiresIn : 7200;
      this.#token = { value: token, until: Date.now() + Math.max(0, seconds * 1000 - tokenMarginMs) };
      return token;
    }
    return this.#verdict(code, field(answer.json, 'errmsg'), answer.status);
  }
}

export const createWecomAppChannel = (config: WecomAppConfig, dependencies: ChannelDependencies) =>
  new WecomAppChannel(config, dependencies);
