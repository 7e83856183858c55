import type { RedisCoordinator } from './redis-coordinator.ts';

/**
 * What hub instances tell each other of device liveness. With several instances a device's messages reach one of
 * them (the one it is connected to, or any, with shared subscriptions), so each instance alone would find the
 * others' devices silent. The ledger keeps, across instances: when each device was last heard, when each watchdog
 * was last reset, and which devices are offline with an incident raised, so device.offline, device.online and a
 * watchdog's event are each raised by exactly one instance.
 */
export interface LivenessLedger {
  /** A message from the device reached this instance. Runs on every message: a Map write, sent in batches. */
  heard(deviceId: string, now: number): void;
  /** A watchdog's reset event reached this instance. */
  reset(deviceId: string, watchdog: number, now: number): void;
  /** Sends what was heard since the last flush. */
  flush(): Promise<void>;
  /** When the devices were last heard by any instance (all devices when none are named). */
  lastHeard(deviceIds?: readonly string[]): Promise<Map<string, number>>;
  /** When the watchdogs were last reset by any instance, by watchdogKey. */
  lastResets(watchdogs: readonly { deviceId: string; index: number }[]): Promise<Map<string, number>>;
  /** Devices some instance raised device.offline for, with the start of their silence. */
  offline(): Promise<Map<string, number>>;
  /** Records device.offline for this silence; true for the one instance that gets to raise it. */
  markOffline(deviceId: string, silentSince: number): Promise<boolean>;
  /** Clears device.offline; true for the one instance that gets to raise device.online. */
  markOnline(deviceId: string): Promise<boolean>;
  /** Claims a watchdog's firing for the reset it is overdue from; true for exactly one instance. */
  claimWatchdog(deviceId: string, index: number, resetAt: number): Promise<boolean>;
}

/** A device's watchdog (its index among the device's watchdogs) in the ledger's tables. */
export function watchdogKey(deviceId: string, index: number): string {
  return `${deviceId}#${index}`;
}

function numbers(table: Map<string, string>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [field, value] of table) {
    const number = Number(value);
    if (Number.isFinite(number)) result.set(field, number);
  }
  return result;
}

/** The ledger on Redis: three hashes and a claim per watchdog firing. */
export class RedisLivenessLedger implements LivenessLedger {
  readonly #coordinator: RedisCoordinator;
  #heard = new Map<string, number>();
  #resets = new Map<string, number>();

  constructor(coordinator: RedisCoordinator) {
    this.#coordinator = coordinator;
  }

  heard(deviceId: string, now: number): void {
    this.#heard.set(deviceId, now);
  }

  reset(deviceId: string, watchdog: number, now: number): void {
    this.#resets.set(watchdogKey(deviceId, watchdog), now);
  }

  async flush(): Promise<void> {
    const heard = this.#heard;
    const resets = this.#resets;
    this.#heard = new Map();
    this.#resets = new Map();
    try {
      await this.#coordinator.keepNewest('last-heard', heard);
      await this.#coordinator.keepNewest('watchdog-resets', resets);
    } catch (error) {
      // Kept for the next flush: what was heard during a Redis outage still counts once it is back.
      for (const [key, at] of heard) if (!this.#heard.has(key)) this.#heard.set(key, at);
      for (const [key, at] of resets) if (!this.#resets.has(key)) this.#resets.set(key, at);
      throw error;
    }
  }

  async lastHeard(deviceIds?: readonly string[]): Promise<Map<string, number>> {
    return numbers(await this.#coordinator.readTable('last-heard', deviceIds));
  }

  async lastResets(watchdogs: readonly { deviceId: string; index: number }[]): Promise<Map<string, number>> {
    const keys = watchdogs.map(({ deviceId, index }) => watchdogKey(deviceId, index));
    return numbers(await this.#coordinator.readTable('watchdog-resets', keys));
  }

  async offline(): Promise<Map<string, number>> {
    return numbers(await this.#coordinator.readTable('offline'));
  }

  markOffline(deviceId: string, silentSince: number): Promise<boolean> {
    return this.#coordinator.claimField('offline', deviceId, String(silentSince));
  }

  markOnline(deviceId: string): Promise<boolean> {
    return this.#coordinator.dropField('offline', deviceId);
  }

  claimWatchdog(deviceId: string, index: number, resetAt: number): Promise<boolean> {
    return this.#coordinator.acquire(`watchdog:${watchdogKey(deviceId, index)}:${resetAt}`, 24 * 60 * 60_000);
  }
}
