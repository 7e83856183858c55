import { createHash } from 'node:crypto';
import webPush from 'web-push';
import { z } from 'zod';
import type { Severity } from '../../core/incident.ts';
import type { Notification, PushPayload, Recipient } from '../channel.ts';
import {
  endpointHostAllowed,
  PushSubscriptions,
  type StoredSubscription,
  vapidKeys,
} from '../push-subscriptions.ts';
import type { ChannelDependencies } from './channel-dependencies.ts';
import {
  type Attempt,
  callProvider,
  commonChannelSettings,
  credentialsRefused,
  ProviderChannel,
  refused,
  retryable,
  sent,
  unreachable,
} from './channel-support.ts';

/** The push services of the major browsers: Chrome/Edge (FCM), Firefox, Edge/Windows (WNS), Safari. */
export const defaultEndpointHosts = [
  'fcm.googleapis.com',
  'updates.push.services.mozilla.com',
  '*.notify.windows.com',
  'web.push.apple.com',
];

const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'base64url')
    .refine((text) => Buffer.from(text, 'base64url').length === bytes, `${bytes} bytes, base64url`);

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291), to every push
 * subscription the recipient's browsers registered through /api/push. The hub POSTs to the endpoint a browser gave:
 * its host must be on `endpointHosts` (against SSRF), and it must be https unless `allowHttpEndpoints`, which only
 * a test with a local push service sets.
 */
export const webPushSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('web_push'),
  vapid: z
    .strictObject({
      subject: z
        .string()
        .max(200)
        .regex(/^(mailto:|https:\/\/)/, 'a mailto: or https: URL')
        .describe('How a push service reaches the operator: mailto:ops@example.gov.cn or an https URL.'),
      publicKey: base64url(65).optional().describe('The VAPID public key (an uncompressed P-256 point).'),
      privateKey: base64url(32)
        .optional()
        .describe(
          'The VAPID private key; give it as {env: NAME} or {file: path}. Absent: made at the first start.',
        ),
    })
    .refine((vapid) => (vapid.publicKey === undefined) === (vapid.privateKey === undefined), {
      message: 'give both publicKey and privateKey, or neither (then the hub makes and keeps a pair)',
    }),
  endpointHosts: z
    .array(
      z
        .string()
        .max(253)
        .regex(/^(\*\.)?[a-z0-9.-]+$|^[0-9.]+$/, 'a host name, *.suffix or an IPv4 address'),
    )
    .min(1)
    .max(50)
    .default(defaultEndpointHosts)
    .describe('The push services the hub will POST to: host names, or *.suffix for any name below it.'),
  allowHttpEndpoints: z
    .boolean()
    .default(false)
    .describe(
      'Accept http:// endpoints. Only for tests with a local push service: browsers only give https.',
    ),
  maxSubscriptionsPerUser: z
    .number()
    .int()
    .min(1)
    .max(20)
    .default(5)
    .describe('Browsers one user may subscribe; one more is refused (409) until they remove one.'),
});
export type WebPushConfig = z.infer<typeof webPushSchema>;

/**
 * How long a push service keeps a message for a phone that is offline, and how urgently it wakes it: a critical
 * alarm wakes the phone at once (high) and is worth delivering for hours; a notice can wait.
 */
const deliveryOf: Record<Severity, { readonly ttlSeconds: number; readonly urgency: webPush.Urgency }> = {
  critical: { ttlSeconds: 4 * 3600, urgency: 'high' },
  major: { ttlSeconds: 8 * 3600, urgency: 'high' },
  warning: { ttlSeconds: 12 * 3600, urgency: 'normal' },
  info: { ttlSeconds: 24 * 3600, urgency: 'low' },
};

/** RFC 8030 §5.4: a Topic is at most 32 base64url characters; a newer message of the same topic replaces it. */
export function pushTopic(notification: Notification): string {
  const caseKey = notification.incidentIds.join(',');
  return createHash('sha256').update(caseKey).digest('base64url').slice(0, 32);
}

/** The endpoint's answer: 201 created (some services 200/202); 404/410 the subscription is gone. */
type EndpointOutcome = 'sent' | 'gone' | 'retryable' | 'vapid_refused' | 'refused';

export class WebPushChannel extends ProviderChannel {
  readonly #config: WebPushConfig;
  readonly #subscriptions: PushSubscriptions;

  constructor(config: WebPushConfig, dependencies: ChannelDependencies) {
    super(config.id, 'web_push', dependencies, [config.vapid.privateKey]);
    this.#config = config;
    this.#subscriptions = new PushSubscriptions(dependencies.store);
  }

  /** Makes (or reads) the VAPID keys, so the first delivery does not wait on it. */
  async start(): Promise<void> {
    await this.#keys();
  }

  async reaches(recipient: Recipient): Promise<boolean> {
    return (await this.#subscriptions.count(recipient.userId)) > 0;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const kept = await this.#subscriptions.list(recipient.userId);
    // A subscription past the expirationTime its browser gave is dead: removed, not tried.
    const now = Date.now();
    const lapsed = kept.filter(
      (subscription) => subscription.expirationTime !== null && subscription.expirationTime <= now,
    );
    await Promise.all(
      lapsed.map((subscription) => this.#subscriptions.remove(recipient.userId, subscription.endpoint)),
    );
    const subscriptions = kept.filter((subscription) => !lapsed.includes(subscription));
    if (subscriptions.length === 0) return unreachable('no push subscription');
    const keys = await this.#keys();
    const payload: PushPayload = {
      title: notification.title,
      body: notification.body,
      url: notification.url,
      tag: notification.incidentIds[0] ?? notification.id,
      severity: notification.severity,
      incidentIds: notification.incidentIds,
    };
    const outcomes = await Promise.all(
      subscriptions.map((subscription) =>
        this.#push(subscription, JSON.stringify(payload), notification, keys),
      ),
    );
    await Promise.all(
      subscriptions.map((subscription, index) =>
        outcomes[index] === 'gone'
          ? this.#subscriptions.remove(recipient.userId, subscription.endpoint)
          : Promise.resolve(false),
      ),
    );
    const count = (outcome: EndpointOutcome) => outcomes.filter((each) => each === outcome).length;
    // RFC 8030 §7.3: 404/410 mean the browser dropped the subscription; it is removed, never tried again.
    if (count('gone') > 0)
      this.log.info({ channel: this.id, removed: count('gone') }, 'expired push subscriptions removed');
    if (count('sent') > 0) return sent(`${count('sent')} of ${subscriptions.length} subscriptions`);
    if (count('vapid_refused') > 0)
      return credentialsRefused('a push service refused the VAPID authorization');
    if (count('retryable') > 0) return retryable('no push service took the message (timeout or 5xx)');
    if (count('gone') === subscriptions.length) return unreachable('every push subscription had expired');
    return refused('the push services refused the message');
  }

  async #push(
    subscription: StoredSubscription,
    payload: string,
    notification: Notification,
    keys: { publicKey: string; privateKey: string },
  ): Promise<EndpointOutcome> {
    // Checked again at sending: the allow-list may have narrowed since the browser subscribed.
    const endpoint = new URL(subscription.endpoint);
    const schemeAllowed =
      endpoint.protocol === 'https:' || (this.#config.allowHttpEndpoints && endpoint.protocol === 'http:');
    if (!schemeAllowed || !endpointHostAllowed(endpoint.hostname, this.#config.endpointHosts))
      return 'refused';
    const delivery = deliveryOf[notification.severity];
    let details: webPush.RequestDetails;
    try {
      details = this.#requestDetails(subscription, payload, notification, keys, delivery);
    } catch {
      // A kept subscription the library cannot encrypt to (keys checked at subscribing, so not expected): skipped.
      return 'refused';
    }
    const headers = Object.fromEntries(
      Object.entries(details.headers).map(([name, value]) => [name.toLowerCase(), String(value)]),
    );
    const answer = await callProvider(details.endpoint, {
      method: 'POST',
      headers,
      ...(details.body === null ? {} : { body: details.body }),
      timeoutMs: this.#config.timeoutMs,
    });
    if (!answer.answered) return 'retryable';
    if (answer.status >= 200 && answer.status <= 299) return 'sent';
    if (answer.status === 404 || answer.status === 410) return 'gone';
    if (answer.status === 401 || answer.status === 403) return 'vapid_refused';
    if (answer.status === 429 || answer.status >= 500) return 'retryable';
    return 'refused';
  }

  /** The encrypted, VAPID-signed request (RFC 8291, RFC 8292) for one subscription. */
  #requestDetails(
    subscription: StoredSubscription,
    payload: string,
    notification: Notification,
    keys: { publicKey: string; privateKey: string },
    delivery: { readonly ttlSeconds: number; readonly urgency: webPush.Urgency },
  ): webPush.RequestDetails {
    return webPush.generateRequestDetails(
      { endpoint: subscription.endpoint, keys: subscription.keys },
      payload,
      {
        vapidDetails: {
          subject: this.#config.vapid.subject,
          publicKey: keys.publicKey,
          privateKey: keys.privateKey,
        },
        TTL: delivery.ttlSeconds,
        urgency: delivery.urgency,
        topic: pushTopic(notification),
        contentEncoding: 'aes128gcm',
      },
    );
  }

  #keys() {
    const { publicKey, privateKey } = this.#config.vapid;
    return vapidKeys(
      this.store,
      publicKey === undefined || privateKey === undefined ? undefined : { publicKey, privateKey },
    );
  }
}

export const createWebPushChannel = (config: WebPushConfig, dependencies: ChannelDependencies) =>
  new WebPushChannel(config, dependencies);

/** The /api/push routes' settings: the first web_push channel's, or none (then they answer 404). */
export function webPushRoutesOf(channels: readonly { readonly kind: string }[]): { webPush?: WebPushConfig } {
  const webPush = channels.find((channel): channel is WebPushConfig => channel.kind === 'web_push');
  return webPush === undefined ? {} : { webPush };
}
