import { type AuthTransport, authTransports, type ThrottleReason, throttleReasons } from '../core/reasons.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';

// The lists of transports and reasons are in core, where the metrics registry reads them.
export type { AuthTransport, ThrottleReason } from '../core/reasons.ts';

/** What the limits on guessing count, on every transport. */
const guessMetrics = declareMetrics((metrics) => {
  const authFailures = metrics.counter({
    name: 'gridhub_auth_failures_total',
    help: 'Failed authentications (a bad token, password or device secret), by transport: rest, socketio, mqtt, device_http (pushes to receivers.http).',
    labelNames: ['transport'] as const,
    shownAtZero: { transport: authTransports },
  });
  const authThrottled = metrics.counter({
    name: 'gridhub_auth_throttled_total',
    help: 'Authentications refused unchecked because their remote address or claimed identity failed too often, by transport and by what was locked (address, identity).',
    labelNames: ['transport', 'reason'] as const,
    shownAtZero: { transport: authTransports, reason: throttleReasons },
  });
  return { authFailures, authThrottled };
});

export interface Throttled {
  readonly reason: ThrottleReason;
  /** Whole seconds until the lockout ends (at least 1): REST's Retry-After. */
  readonly retryAfterSeconds: number;
}

/**
 * The limits on guessing as the config file gives them (`limits.auth`; config/schema.ts checks at compile time that
 * its schema is these, field for field).
 */
export interface GuessLimits {
  /** Failed authentications from one remote address. */
  readonly perAddress: GuessWindow;
  /** Failed authentications claiming one identity, from any address. */
  readonly perIdentity: GuessWindow;
  /** Addresses and identities remembered each, the oldest quiet ones forgotten first. */
  readonly trackedKeys: number;
}

export interface GuessWindow {
  /** Failed authentications within the window that start a lockout. */
  readonly maxFailures: number;
  /** The window the failures count over (fixed, starting at the first failure). */
  readonly windowSeconds: number;
  /** How long every authentication from it is refused once locked out, good credentials included. */
  readonly lockoutSeconds: number;
}

interface Entry {
  /** When the window of the failures counted started (ms). */
  start: number;
  failures: number;
  /** Until when every attempt is refused (ms); 0: not locked. */
  lockedUntil: number;
}

/**
 * Failures per key in a fixed window, and a lockout once they reach the limit. At most `maxKeys` keys: past that,
 * the oldest entry that is not locked goes (entries are re-inserted when their window restarts or they lock, so the
 * Map's order is roughly that of their last change).
 */
class FailureCounts {
  readonly #window: GuessWindow;
  readonly #maxKeys: number;
  readonly #entries = new Map<string, Entry>();

  constructor(window: GuessWindow, maxKeys: number) {
    this.#window = window;
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** How long the key stays locked (ms), 0 when it is not. */
  lockedFor(key: string, now: number): number {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.lockedUntil <= now ? 0 : entry.lockedUntil - now;
  }

  /** Counts a failure; returns the lockout it starts (ms), or 0. */
  fail(key: string, now: number): number {
    let entry = this.#entries.get(key);
    if (entry === undefined || now - entry.start >= this.#window.windowSeconds * 1000) {
      if (entry === undefined) this.#makeRoom(now);
      else this.#entries.delete(key);
      entry = { start: now, failures: 0, lockedUntil: entry?.lockedUntil ?? 0 };
      this.#entries.set(key, entry);
    }
    entry.failures += 1;
    if (entry.failures < this.#window.maxFailures) return 0;
    const lockoutMs = this.#window.lockoutSeconds * 1000;
    // A fresh window after the lockout: its failures start again from none.
    this.#entries.delete(key);
    this.#entries.set(key, { start: now + lockoutMs, failures: 0, lockedUntil: now + lockoutMs });
    return lockoutMs;
  }

  #makeRoom(now: number): void {
    if (this.#entries.size < this.#maxKeys) return;
    let looked = 0;
    for (const [key, entry] of this.#entries) {
      // A few of the oldest are looked at for one not locked; failing that, the oldest goes anyway.
      if (entry.lockedUntil <= now || ++looked >= 8) {
        this.#entries.delete(key);
        return;
      }
    }
  }
}

export interface GuessLimiterOptions {
  readonly limits: GuessLimits;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Limits guessing on every transport (REST bearer tokens and password logins, Socket.IO handshakes, MQTT
 * CONNECTs): failed authentications are counted per remote address and per identity claimed, each in a window, and
 * past the limit every attempt from that address, or claiming that identity, is refused for a lockout period, good
 * credentials included (else a lockout would not stop a guesser: its right guess would get through). An identity
 * is one named with its secret (an MQTT username, a login's username), never a bearer token's unverified claim;
 * and its lockout spares the address it last authenticated from, so failing in a device's name from elsewhere
 * does not keep the device out. Each failure and each refusal is counted by transport and logged (throttled) with
 * the remote address and the identity claimed, never the secret.
 */
export class GuessLimiter {
  readonly #byAddress: FailureCounts;
  readonly #byIdentity: FailureCounts;
  /** Where each identity last authenticated (identity → address), the oldest forgotten past trackedKeys. */
  readonly #knownAddress = new Map<string, string>();
  readonly #maxKnown: number;
  readonly #metrics: ReturnType<typeof guessMetrics>;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #now: () => number;

  constructor(options: GuessLimiterOptions) {
    const { perAddress, perIdentity, trackedKeys } = options.limits;
    this.#byAddress = new FailureCounts(perAddress, trackedKeys);
    this.#byIdentity = new FailureCounts(perIdentity, trackedKeys);
    this.#maxKnown = trackedKeys;
    this.#metrics = guessMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'auth-limits' });
    this.#now = options.now ?? Date.now;
  }

  /** How many addresses and identities are remembered now (bounded by `trackedKeys` each). */
  get tracked(): { addresses: number; identities: number } {
    return { addresses: this.#byAddress.size, identities: this.#byIdentity.size };
  }

  /**
   * Before authenticating: undefined to go on, or the lockout that refuses this attempt (counted and logged).
   * `address` may be unknown (a relayed connection without one): the identity still counts.
   */
  refuse(
    transport: AuthTransport,
    address: string | undefined,
    identity: string | undefined,
  ): Throttled | undefined {
    const now = this.#now();
    const byAddress = address === undefined ? 0 : this.#byAddress.lockedFor(address, now);
    // An identity's lockout stops guessing from new places; it does not keep the device or person out at the address
    // they last authenticated from (else anyone could mute a device by failing in its name).
    const byIdentity =
      identity === undefined || (address !== undefined && this.#knownAddress.get(identity) === address)
        ? 0
        : this.#byIdentity.lockedFor(identity, now);
    if (byAddress === 0 && byIdentity === 0) return undefined;
    const reason: ThrottleReason = byAddress >= byIdentity ? 'address' : 'identity';
    const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(byAddress, byIdentity) / 1000));
    this.#metrics.authThrottled.labels(transport, reason).inc();
    // One line per address and transport every 10 s, whatever identities it cycles through.
    const suppressed = this.#throttle.admit(`refused:${transport}:${address ?? identity}`, now);
    if (suppressed >= 0) {
      this.#log.warn(
        { transport, address, identity, reason, retryAfterSeconds, suppressed },
        'authentication refused: too many failures',
      );
    }
    return { reason, retryAfterSeconds };
  }

  /** After an authentication succeeded: the address is where the identity is known, which its lockout spares. */
  succeeded(address: string | undefined, identity: string | undefined): void {
    if (address === undefined || identity === undefined) return;
    this.#knownAddress.delete(identity);
    if (this.#knownAddress.size >= this.#maxKnown) {
      const oldest = this.#knownAddress.keys().next().value;
      if (oldest !== undefined) this.#knownAddress.delete(oldest);
    }
    this.#knownAddress.set(identity, address);
  }

  /** After an authentication failed: counted, logged (throttled), and towards a lockout of its address and identity. */
  failed(transport: AuthTransport, address: string | undefined, identity: string | undefined): void {
    const now = this.#now();
    this.#metrics.authFailures.labels(transport).inc();
    const addressLock = address === undefined ? 0 : this.#byAddress.fail(address, now);
    const identityLock = identity === undefined ? 0 : this.#byIdentity.fail(identity, now);
    if (addressLock > 0 || identityLock > 0) {
      this.#log.warn(
        {
          transport,
          address,
          identity,
          locked: addressLock > 0 ? 'address' : 'identity',
          lockoutSeconds: Math.max(addressLock, identityLock) / 1000,
        },
        'too many failed authentications: locked out',
      );
      return;
    }
    const suppressed = this.#throttle.admit(`failed:${transport}:${address ?? identity}`, now);
    if (suppressed >= 0)
      this.#log.info({ transport, address, identity, suppressed }, 'authentication failed');
  }
}

/** An identity as a key and in logs: at most 64 characters (the longest id the hub gives anything). */
export function boundedIdentity(identity: string | undefined): string | undefined {
  return identity === undefined || identity.length === 0 ? undefined : identity.slice(0, 64);
}
