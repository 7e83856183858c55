/**
 * A token bucket per source (an address): each may send `burst` at once and `perSecond` after that. Receivers that
 * take messages from unauthenticated senders (SIA DC-09 panels, GB/T 28181 registrations) admit each message
 * through one, so a flood from one address cannot crowd out the rest. The map is bounded: past `maxSources` it is
 * cleared, which at worst gives a flood's addresses a fresh burst, never unbounded memory.
 */
export class SourceBuckets {
  readonly #rate: { readonly perSecond: number; readonly burst: number };
  readonly #maxSources: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;

  constructor(
    rate: { readonly perSecond: number; readonly burst: number },
    options: { readonly maxSources?: number; readonly now?: () => number } = {},
  ) {
    this.#rate = rate;
    this.#maxSources = options.maxSources ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Takes a token for the source; false when it has none left (the message is over its rate). */
  admit(source: string): boolean {
    const { perSecond, burst } = this.#rate;
    const now = this.#now();
    let bucket = this.#buckets.get(source);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxSources) this.#buckets.clear();
      bucket = { tokens: burst, at: now };
      this.#buckets.set(source, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  clear(): void {
    this.#buckets.clear();
  }
}
