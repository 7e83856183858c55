import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * One JSON logger for the hub; components take a child with their namespace (`{ns: 'ingest'}`).
 * Log lines carry ids and reasons, never secrets or residents' identifiers.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { svc: 'gridhub' } });
}

/**
 * Lets one line through per key per interval and counts what it held back, so a device that sends garbage
 * a thousand times a second costs one log line every ten seconds, not a thousand. Counting is done elsewhere
 * (metrics), so nothing is hidden: the log only stops repeating itself.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
  }

  /** Returns the number of lines suppressed since the last one for this key, or -1 to stay quiet now. */
  admit(key: string, now: number = Date.now()): number {
    const entry = this.#last.get(key);
    if (entry === undefined || now - entry.at >= this.#intervalMs) {
      const suppressed = entry?.suppressed ?? 0;
      this.#last.set(key, { at: now, suppressed: 0 });
      if (this.#last.size > 10_000) this.#last.clear();
      return suppressed;
    }
    entry.suppressed++;
    return -1;
  }
}
