import { createHash, createPublicKey } from 'node:crypto';
import webPush from 'web-push';
import type { Store } from '../store/store.ts';

/**
 * Web Push subscriptions, per user, in the store's records (collection `push-subscriptions`, key
 * `<userId>/<first 22 characters of base64url SHA-256 of the endpoint>`), so every hub sharing the store sends to
 * them; and the VAPID key pair (collection `vapid`), from the config or made at the first start and kept there.
 * Used by the web_push channel and by the /api/push routes.
 */

export const subscriptionCollection = 'push-subscriptions';
export const vapidCollection = 'vapid';

/** A subscription as kept: what the browser's PushSubscription.toJSON() gave, and when. */
export interface StoredSubscription {
  readonly endpoint: string;
  readonly expirationTime: number | null;
  readonly keys: { readonly p256dh: string; readonly auth: string };
  readonly createdAt: string;
}

/** What a user is shown of their subscriptions: never the keys, nor the whole endpoint (a capability URL). */
export interface SubscriptionView {
  readonly id: string;
  readonly host: string;
  readonly createdAt: string;
}

export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
}

/** The id of an endpoint: short, stable, and the endpoint cannot be read back from it. */
export function endpointId(endpoint: string): string {
  return createHash('sha256').update(endpoint).digest('base64url').slice(0, 22);
}

/** Whether `p256dh` (base64url) is an uncompressed P-256 point on the curve. */
export function isP256Point(p256dh: string): boolean {
  const point = Buffer.from(p256dh, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) return false;
  try {
    // OpenSSL checks that the point lies on the curve when it imports the key.
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `host` (lower case) is on the allow-list: an entry is a host name, matched exactly, or `*.suffix`,
 * matching any name below the suffix (never the suffix itself, never an IP address). Only an exact entry lets an
 * IP address through: tests name 127.0.0.1.
 */
export function endpointHostAllowed(host: string, allowed: readonly string[]): boolean {
  const name = host.toLowerCase();
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase();
    if (!pattern.startsWith('*.')) return name === pattern;
    const isIp = /^[0-9.]+$/.test(name) || name.includes(':');
    return !isIp && name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  });
}

export class PushSubscriptions {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async list(userId: string): Promise<StoredSubscription[]> {
    const kept = await this.#store.listRecords<StoredSubscription>(subscriptionCollection, `${userId}/`);
    return kept.map((record) => record.value).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async views(userId: string): Promise<SubscriptionView[]> {
    return (await this.list(userId)).map((subscription) => ({
      id: endpointId(subscription.endpoint),
      host: new URL(subscription.endpoint).host,
      createdAt: subscription.createdAt,
    }));
  }

  /** Whether the user already has this endpoint (subscribing again only renews its keys). */
  async has(userId: string, endpoint: string): Promise<boolean> {
    return (await this.#store.getRecord(subscriptionCollection, this.#key(userId, endpoint))) !== undefined;
  }

  async count(userId: string): Promise<number> {
    return (await this.#store.listRecords(subscriptionCollection, `${userId}/`)).length;
  }

  async put(
    userId: string,
    subscription: Omit<StoredSubscription, 'createdAt'>,
    now = new Date(),
  ): Promise<string> {
    const stored: StoredSubscription = { ...subscription, createdAt: now.toISOString() };
    await this.#store.putRecord(subscriptionCollection, this.#key(userId, subscription.endpoint), stored);
    return endpointId(subscription.endpoint);
  }

  /** Removes the user's subscription to `endpoint`; whether there was one. */
  async remove(userId: string, endpoint: string): Promise<boolean> {
    const key = this.#key(userId, endpoint);
    const existed = (await this.#store.getRecord(subscriptionCollection, key)) !== undefined;
    if (existed) await this.#store.removeRecord(subscriptionCollection, key);
    return existed;
  }

  #key(userId: string, endpoint: string): string {
    return `${userId}/${endpointId(endpoint)}`;
  }
}

/** One read (or first write) of the VAPID keys per store: the channel and the routes of one hub share it. */
const vapidOf = new WeakMap<Store, Promise<VapidKeys>>();

/**
 * The configured keys when given; otherwise those kept in the store, made and kept there at the first start.
 * Two hubs starting at once on an empty shared store could each make a pair: the second write wins, and the
 * loser's subscriptions (made within that moment) would need renewing; the read after the write narrows it.
 */
export function vapidKeys(store: Store, configured: VapidKeys | undefined): Promise<VapidKeys> {
  if (configured !== undefined) return Promise.resolve(configured);
  let keys = vapidOf.get(store);
  if (keys === undefined) {
    keys = (async () => {
      const kept = await store.getRecord<VapidKeys>(vapidCollection, 'keys');
      if (kept !== undefined) return kept;
      const made = webPush.generateVAPIDKeys();
      await store.putRecord(vapidCollection, 'keys', {
        publicKey: made.publicKey,
        privateKey: made.privateKey,
      });
      return (await store.getRecord<VapidKeys>(vapidCollection, 'keys')) ?? made;
    })();
    // A failed read is tried again next time rather than remembered.
    keys.catch(() => vapidOf.delete(store));
    vapidOf.set(store, keys);
  }
  return keys;
}
