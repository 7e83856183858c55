/**
 * A ledger's answer: at once (a lone instance's memory) or later (Redis). The liveness sweep runs every second over
 * every device, so it awaits only what is a promise, and a lone instance's sweep stays synchronous.
 */
export type Answer<T> = T | Promise<T>;

/**
 * What hub instances tell each other of device liveness, and what the liveness sweep asks before it raises
 * anything. With several instances a device's messages reach one of them (the one it is connected to, or any, with
 * shared subscriptions), so each instance alone would find the others' devices silent. The ledger keeps, across
 * instances: when each device was last heard, when each watchdog was last reset, and which devices are offline with
 * an incident raised, so device.offline, device.online and a watchdog's event are each raised by exactly one
 * instance. A lone instance's ledger ({@link LoneLivenessLedger}) has nobody to tell and every claim is its own.
 */
export interface LivenessLedger {
  /** The liveness monitor starts: what this instance alone remembered of an earlier run is forgotten. */
  begin(): void;
  /** A message from the device reached this instance. Runs on every message: at most a Map write. */
  heard(deviceId: string, now: number): void;
  /** A watchdog's reset event reached this instance. */
  reset(deviceId: string, watchdog: number, now: number): void;
  /** Sends what was heard since the last flush. */
  flush(): Answer<void>;
  /**
   * When devices were last heard by other instances: at least the overdue ones named (none named: maybe none), and
   * now and then every device, so a device heard by a sibling shows online here too.
   */
  lastHeard(overdue: readonly string[]): Answer<ReadonlyMap<string, number>>;
  /** When the watchdogs were last reset by any instance, by watchdogKey. */
  lastResets(watchdogs: readonly WatchdogRef[]): Answer<ReadonlyMap<string, number>>;
  /** Devices some instance raised device.offline for, with when it was raised. */
  offline(): Answer<ReadonlyMap<string, number>>;
  /** Records device.offline for this silence; true for the one instance that gets to raise it. */
  markOffline(deviceId: string, now: number): Answer<boolean>;
  /** Clears device.offline; true for the one instance that gets to raise device.online. */
  markOnline(deviceId: string): Answer<boolean>;
  /** Claims a watchdog's firing for the reset it is overdue from; true for exactly one instance. */
  claimWatchdog(deviceId: string, index: number, resetAt: number): Answer<boolean>;
}

/** One watchdog of a device: its index among the device's watchdogs. */
export interface WatchdogRef {
  readonly deviceId: string;
  readonly index: number;
}

/** A device's watchdog (its index among the device's watchdogs) in the ledger's tables. */
export function watchdogKey(deviceId: string, index: number): string {
  return `${deviceId}#${index}`;
}

const nothing: ReadonlyMap<string, number> = new Map();

/**
 * The ledger of a lone instance. What it hears and resets it knows already (the monitor's own state holds it), so
 * those are written nowhere and no other instance ever heard a device; it keeps only its offline marks, which the
 * sweep reads back, and every claim is its own. Every answer is immediate: no await, no allocation per device.
 */
export class LoneLivenessLedger implements LivenessLedger {
  readonly #offline = new Map<string, number>();

  begin(): void {
    this.#offline.clear();
  }

  heard(): void {}

  reset(): void {}

  flush(): void {}

  lastHeard(): ReadonlyMap<string, number> {
    return nothing;
  }

  lastResets(): ReadonlyMap<string, number> {
    return nothing;
  }

  offline(): ReadonlyMap<string, number> {
    return this.#offline;
  }

  markOffline(deviceId: string, now: number): boolean {
    this.#offline.set(deviceId, now);
    return true;
  }

  markOnline(deviceId: string): boolean {
    this.#offline.delete(deviceId);
    return true;
  }

  claimWatchdog(): boolean {
    return true;
  }
}
