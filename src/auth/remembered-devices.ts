import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { SessionRecord, Store } from '../store/store.ts';
import type { SessionEnd, Sessions } from './sessions.ts';

/** The store's collection of remembered phones, by device id. */
export const rememberedDevicesCollection = 'remembered-devices';

/**
 * A phone left unused this long is forgotten (its record ends): "remember this phone" should not outlive the phone
 * being in someone's pocket. Every login with it pushes the end on.
 */
export const rememberedDeviceIdleMs = 90 * 24 * 3600_000;

/** How many retired secrets a device keeps, to know a stolen copy when it comes back. */
const retiredSecretsKept = 8;
/** The sessions opened from a device that its revocation ends (the newest; older ones have ended by their age). */
const sessionsKept = 8;
const maxLabelLength = 120;

/** What the store keeps of a remembered phone: never its secret, only the secret's SHA-256. */
export interface RememberedDeviceRecord {
  readonly userId: string;
  readonly label: string;
  readonly secretDigest: string;
  /** The digests of the secrets rotated away: presenting one again means someone else holds a copy. */
  readonly retiredDigests: readonly string[];
  /** The sessions it opened (and the one it was remembered from), ended with it. */
  readonly sessionIds: readonly string[];
  readonly createdAt: string;
  readonly lastUsedAt: string;
}

/** A remembered phone as its owner and admins see it. */
export interface RememberedDeviceView {
  readonly deviceId: string;
  readonly userId: string;
  readonly label: string;
  readonly createdAt: string;
  readonly lastUsedAt: string;
}

/** What the phone keeps: its id and its current secret (the only copy of it). */
export interface DeviceCredential {
  readonly deviceId: string;
  readonly secret: string;
}

export const deviceLoginOutcomes = ['ok', 'unknown', 'wrong_secret', 'reused', 'user_unavailable'] as const;
export type DeviceLoginOutcome = (typeof deviceLoginOutcomes)[number];
export const deviceRevocationReasons = [
  'owner',
  'admin',
  'reused_secret',
  'user_disabled',
  'user_removed',
  'password_changed',
] as const;
export type DeviceRevocationReason = (typeof deviceRevocationReasons)[number];

const rememberedDeviceMetrics = declareMetrics((metrics) => ({
  remembered: metrics.counter({
    name: 'gridhub_remembered_devices_created_total',
    help: 'Phones remembered at login ("remember this phone").',
  }),
  logins: metrics.counter({
    name: 'gridhub_remembered_device_logins_total',
    help: "Logins with a remembered phone's credential, by outcome: ok, unknown (no such device), wrong_secret, reused (a rotated secret presented again: the device is revoked), user_unavailable (disabled or removed).",
    labelNames: ['outcome'] as const,
    shownAtZero: { outcome: deviceLoginOutcomes },
  }),
  revoked: metrics.counter({
    name: 'gridhub_remembered_devices_revoked_total',
    help: 'Remembered phones revoked, by reason: owner, admin, reused_secret, user_disabled, user_removed, password_changed (reset by an admin), logout.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: deviceRevocationReasons },
  }),
}));

/** A session end that revokes every phone of the user: all their sessions ended, for these reasons. */
const revokingEnds: Readonly<Partial<Record<SessionEnd['reason'], DeviceRevocationReason>>> = {
  user_disabled: 'user_disabled',
  user_removed: 'user_removed',
  password_changed: 'password_changed',
};

export interface RememberedDevicesOptions {
  readonly store: Pick<Store, 'putRecord' | 'getRecord' | 'listRecords' | 'removeRecord' | 'getSession'>;
  readonly sessions: Sessions;
  /** Whether the user may log in now (known, enabled, not removed). */
  readonly isActiveUser: (userId: string) => boolean;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  readonly now?: () => number;
}

const digestOf = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
const newSecret = (): string => randomBytes(32).toString('base64url');

function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const platformPatterns = [/android|harmony/i, /iphone|ipad/i, /windows|mac os/i, /linux/i];

/** A short name for the phone, from its user agent: what its owner recognises in the list. */
export function labelOf(userAgent: string | undefined): string {
  if (userAgent === undefined || userAgent.trim() === '') return 'unknown browser';
  const parts = (/\(([^)]*)\)/.exec(userAgent)?.[1] ?? '').split(';').map((part) => part.trim());
  // The most telling first: a phone's own system before the desktop kernel its browser also names (Linux).
  const platform =
    platformPatterns.map((pattern) => parts.find((part) => pattern.test(part))).find(Boolean) ?? '';
  const browser =
    /(MicroMessenger|HuaweiBrowser|MiuiBrowser|EdgA?|Firefox|CriOS|Chrome|Version\/[\d.]+ Mobile\/\S+ Safari|Safari)\/?[\d.]*/.exec(
      userAgent,
    )?.[0] ?? '';
  const label = [browser, platform].filter(Boolean).join(' · ') || userAgent;
  return label.slice(0, maxLabelLength);
}

/**
 * Phones that keep their worker logged in until revoked: a device id and a secret the phone keeps, exchanged for a
 * new session whenever its tab was closed or its session ended. The store keeps only the secret's SHA-256. Each
 * login rotates the secret; a rotated secret presented again means two holders (a copied phone storage), so the
 * device is revoked and every session it opened ends. A user's phones are all revoked when the account is disabled,
 * removed or its password reset by an admin (every session of theirs ends then: `Sessions.onEnd` tells).
 */
export class RememberedDevices {
  readonly #options: RememberedDevicesOptions;
  readonly #metrics: ReturnType<typeof rememberedDeviceMetrics>;
  readonly #log: Logger;
  readonly #now: () => number;
  #stopListening: (() => void) | undefined;
  /** Revocations started by session ends, so stop() can wait for them. */
  readonly #pending = new Set<Promise<void>>();

  constructor(options: RememberedDevicesOptions) {
    this.#options = options;
    this.#metrics = rememberedDeviceMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'remembered-devices' });
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#stopListening = this.#options.sessions.onEnd((end) => {
      const reason = revokingEnds[end.reason];
      if (end.sessionId !== undefined || reason === undefined) return;
      const revoking = this.revokeAllOf(end.userId, reason)
        .then(() => undefined)
        .catch((error: unknown) =>
          this.#log.error({ userId: end.userId, err: error }, "revoking a user's phones failed"),
        )
        .finally(() => this.#pending.delete(revoking));
      this.#pending.add(revoking);
    });
  }

  async stop(): Promise<void> {
    this.#stopListening?.();
    this.#stopListening = undefined;
    await Promise.all(this.#pending);
  }

  /** Remembers the phone a session runs on; answers its credential (the secret's only copy). */
  async remember(session: SessionRecord, userAgent: string | undefined): Promise<DeviceCredential> {
    const deviceId = randomBytes(16).toString('base64url');
    const secret = newSecret();
    const now = new Date(this.#now()).toISOString();
    await this.#save(deviceId, {
      userId: session.userId,
      label: labelOf(userAgent),
      secretDigest: digestOf(secret),
      retiredDigests: [],
      sessionIds: [session.id],
      createdAt: now,
      lastUsedAt: now,
    });
    this.#metrics.remembered.inc();
    this.#log.info({ userId: session.userId, deviceId }, 'phone remembered');
    return { deviceId, secret };
  }

  /**
   * A login with a phone's credential: its user and a new secret (the old one retired), or why not. `open` opens
   * the session, which the device's record then names.
   */
  async login(
    credential: DeviceCredential,
    open: (userId: string) => Promise<SessionRecord>,
  ): Promise<
    | { readonly userId: string; readonly session: SessionRecord; readonly secret: string }
    | { readonly failure: Exclude<DeviceLoginOutcome, 'ok'> }
  > {
    const { deviceId } = credential;
    const record = await this.#options.store.getRecord<RememberedDeviceRecord>(
      rememberedDevicesCollection,
      deviceId,
    );
    const failed = (failure: Exclude<DeviceLoginOutcome, 'ok'>) => {
      this.#metrics.logins.labels(failure).inc();
      return { failure };
    };
    if (record === undefined) return failed('unknown');
    const digest = digestOf(credential.secret);
    if (!sameDigest(digest, record.secretDigest)) {
      if (record.retiredDigests.some((retired) => sameDigest(retired, digest))) {
        this.#log.warn({ userId: record.userId, deviceId }, 'a rotated phone secret came back: revoked');
        await this.#revoke(deviceId, record, 'reused_secret');
        return failed('reused');
      }
      return failed('wrong_secret');
    }
    if (!this.#options.isActiveUser(record.userId)) return failed('user_unavailable');
    const session = await open(record.userId);
    const secret = newSecret();
    await this.#save(deviceId, {
      ...record,
      secretDigest: digestOf(secret),
      retiredDigests: [record.secretDigest, ...record.retiredDigests].slice(0, retiredSecretsKept),
      sessionIds: [session.id, ...record.sessionIds].slice(0, sessionsKept),
      lastUsedAt: new Date(this.#now()).toISOString(),
    });
    this.#metrics.logins.labels('ok').inc();
    return { userId: record.userId, session, secret };
  }

  /** The user's remembered phones, most recently used first. */
  async listOf(userId: string): Promise<RememberedDeviceView[]> {
    const all = await this.#options.store.listRecords<RememberedDeviceRecord>(rememberedDevicesCollection);
    return all
      .filter(({ value }) => value.userId === userId)
      .map(({ key, value }) => viewOf(key, value))
      .sort((a, b) => (a.lastUsedAt < b.lastUsedAt ? 1 : a.lastUsedAt > b.lastUsedAt ? -1 : 0));
  }

  /** Revokes one of the user's phones; false when they have none of that id. */
  async revokeOne(userId: string, deviceId: string, reason: DeviceRevocationReason): Promise<boolean> {
    const record = await this.#options.store.getRecord<RememberedDeviceRecord>(
      rememberedDevicesCollection,
      deviceId,
    );
    if (record === undefined || record.userId !== userId) return false;
    await this.#revoke(deviceId, record, reason);
    return true;
  }

  /** Revokes every phone of a user; answers how many. */
  async revokeAllOf(userId: string, reason: DeviceRevocationReason): Promise<number> {
    const all = await this.#options.store.listRecords<RememberedDeviceRecord>(rememberedDevicesCollection);
    const theirs = all.filter(({ value }) => value.userId === userId);
    for (const { key, value } of theirs) await this.#revoke(key, value, reason);
    return theirs.length;
  }

  /** The record goes, and so do the sessions it opened (a revoked phone is logged out now, not at its shift's end). */
  async #revoke(
    deviceId: string,
    record: RememberedDeviceRecord,
    reason: DeviceRevocationReason,
  ): Promise<void> {
    await this.#options.store.removeRecord(rememberedDevicesCollection, deviceId);
    this.#metrics.revoked.labels(reason).inc();
    this.#log.info({ userId: record.userId, deviceId, reason }, 'phone revoked');
    for (const sessionId of record.sessionIds) {
      const session = await this.#options.store.getSession(sessionId);
      if (session !== undefined && session.revokedAt === null && Date.parse(session.expiresAt) > this.#now())
        await this.#options.sessions.end(session, 'device_revoked');
    }
  }

  #save(deviceId: string, record: RememberedDeviceRecord): Promise<void> {
    return this.#options.store.putRecord(
      rememberedDevicesCollection,
      deviceId,
      record,
      Date.parse(record.lastUsedAt) + rememberedDeviceIdleMs,
    );
  }
}

function viewOf(deviceId: string, record: RememberedDeviceRecord): RememberedDeviceView {
  return {
    deviceId,
    userId: record.userId,
    label: record.label,
    createdAt: record.createdAt,
    lastUsedAt: record.lastUsedAt,
  };
}
