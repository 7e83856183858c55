import type { Severity } from '../core/incident.ts';
import type { UserContact } from '../core/user.ts';

export type { UserContact } from '../core/user.ts';

/**
 * The notification service's one boundary with its providers: each channel (Web Push, WeCom, DingTalk, SMS, a
 * voice-call webhook) is a small module behind this interface, made from its config entry by the table in
 * channels/index.ts. The policies (policy.ts) decide who is told, through which channel and when; a channel only
 * delivers one message to one recipient and says how it went. A channel never throws for a provider's failure:
 * it answers `failed`, so an outage is counted and retried, never a crash or a stalled pipeline.
 */

/** The kinds of channel, each a module under channels/. */
export const channelKinds = [
  'web_push',
  'wecom_app',
  'wecom_robot',
  'dingtalk_robot',
  'sms_http',
  'sms_aliyun',
  'sms_tencent',
  'voice_webhook',
] as const;
export type ChannelKind = (typeof channelKinds)[number];

/** One person a message goes to. */
export interface Recipient {
  readonly userId: string;
  readonly name: string;
  readonly contact: UserContact;
}

/** What is sent: one case, or a bundle of cases during a storm. Every message links to its case(s). */
export interface Notification {
  /** Unique per delivery attempt chain: providers that deduplicate get it (idempotency), audit entries name it. */
  readonly id: string;
  /** Short, in the deployment's language, e.g. "【紧急】西郊第1网格 · 门被强行打开". */
  readonly title: string;
  /** One or a few lines: place, device, time, what is asked (accept within 10 minutes). */
  readonly body: string;
  /** An absolute link to the case (or the list of bundled cases) in the hub's pages. */
  readonly url: string;
  readonly severity: Severity;
  /** The cases it is about, oldest first: one, or several when bundled. */
  readonly incidentIds: readonly string[];
}

/**
 * The payload a Web Push message carries (JSON, encrypted per RFC 8291): what the service worker shows.
 * `tag` replaces an earlier notification of the same case on the phone.
 */
export interface PushPayload {
  readonly title: string;
  readonly body: string;
  readonly url: string;
  readonly tag: string;
  readonly severity: Severity;
  readonly incidentIds: readonly string[];
}

export type DeliveryResult =
  /** The provider accepted the message; `reference` is its message id when it gives one. */
  | { readonly outcome: 'sent'; readonly reference?: string }
  /**
   * The provider refused or could not be reached. `retryable`: a timeout, 5xx, rate limit or expired access token
   * (try again later); not: a wrong credential, a malformed request, a recipient the provider does not know.
   */
  | { readonly outcome: 'failed'; readonly retryable: boolean; readonly reason: string }
  /** The recipient has no address on this channel (no phone, no push subscription): the next channel is tried. */
  | { readonly outcome: 'unreachable'; readonly reason: string };

/**
 * How a channel stands, for /healthz and the operators' page: `ok`; `failing` (its last deliveries failed, e.g. the
 * provider is down); `credentials_refused` (the provider refused the configured credential: a visible status, not
 * a crash; it stays until a delivery succeeds).
 */
export type ChannelHealth = 'ok' | 'failing' | 'credentials_refused';
export interface ChannelStatus {
  readonly health: ChannelHealth;
  /** The last failure's reason, without secrets. */
  readonly lastError?: string;
  /** ISO 8601. */
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
}

export interface NotificationChannel {
  /** The config entry's id, e.g. "wecom" or "sms": policies name channels by it. */
  readonly id: string;
  readonly kind: ChannelKind;
  /** Whether the channel has an address for this recipient (a robot posting to a group reaches everyone). */
  reaches(recipient: Recipient): boolean | Promise<boolean>;
  send(recipient: Recipient, notification: Notification): Promise<DeliveryResult>;
  status(): ChannelStatus;
  /** Undo everything start did (timers, cached tokens, sockets). Both optional. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** 13812345678 → 138****5678: how a phone number appears in audit entries and operator pages. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^0-9]/g, '');
  if (digits.length < 7) return '****';
  return `${digits.slice(-11, -8)}****${digits.slice(-4)}`;
}
