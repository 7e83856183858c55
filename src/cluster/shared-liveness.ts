import { type LivenessLedger, type WatchdogRef, watchdogKey } from '../fleet/liveness-ledger.ts';
import type { RedisCoordinator } from './redis-coordinator.ts';

/** Every this many reads of last-heard times, every device's is read, not only the overdue ones'. */
const fullReadEvery = 10;

function numbers(table: Map<string, string>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [field, value] of table) {
    const number = Number(value);
    if (Number.isFinite(number)) result.set(field, number);
  }
  return result;
}

/**
 * The ledger of instances sharing one Redis: three hashes and a claim per watchdog firing. What this instance hears
 * is kept in memory and written at each sweep's flush, so a device's message costs a Map write.
 */
export class RedisLivenessLedger implements LivenessLedger {
  readonly #coordinator: RedisCoordinator;
  #heard = new Map<string, number>();
  #resets = new Map<string, number>();
  #reads = 0;

  constructor(coordinator: RedisCoordinator) {
    this.#coordinator = coordinator;
  }

  /** What siblings recorded outlives this instance's restart: nothing to forget. */
  begin(): void {}

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

  async lastHeard(overdue: readonly string[]): Promise<Map<string, number>> {
    const all = this.#reads++ % fullReadEvery === 0;
    if (!all && overdue.length === 0) return new Map();
    return numbers(await this.#coordinator.readTable('last-heard', all ? undefined : overdue));
  }

  async lastResets(watchdogs: readonly WatchdogRef[]): Promise<Map<string, number>> {
    const keys = watchdogs.map(({ deviceId, index }) => watchdogKey(deviceId, index));
    return numbers(await this.#coordinator.readTable('watchdog-resets', keys));
  }

  async offline(): Promise<Map<string, number>> {
    return numbers(await this.#coordinator.readTable('offline'));
  }

  markOffline(deviceId: string, now: number): Promise<boolean> {
    return this.#coordinator.claimField('offline', deviceId, String(now));
  }

  markOnline(deviceId: string): Promise<boolean> {
    return this.#coordinator.dropField('offline', deviceId);
  }

  claimWatchdog(deviceId: string, index: number, resetAt: number): Promise<boolean> {
    return this.#coordinator.acquire(`watchdog:${watchdogKey(deviceId, index)}:${resetAt}`, 24 * 60 * 60_000);
  }
}
