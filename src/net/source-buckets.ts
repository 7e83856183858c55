/**
 * A token bucket per source (an address): each may send `burst` at once and `perSecond` after that. Receivers that
 * take messages from unauthenticated senders (SIA DC-09 panels, GB/T 28181 registrations) admit each message
 * through one, so a flood from one address cannot crowd out the rest. The map is bounded: past `maxSources` the
 * oldest tenth is forgotten, which at worst gives those addresses a fresh burst, never unbounded memory.
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
      if (this.#buckets.size >= this.#maxSources) this.#evictOldest();
      bucket = { tokens: burst, at: now };
      this.#buckets.set(source, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /**
   * Makes room by forgetting the tenth of the sources seen first (a Map keeps insertion order): a flood from many
   * addresses then costs the oldest their state, never every source's at once.
   */
  #evictOldest(): void {
    let evict = Math.max(1, Math.floor(this.#maxSources / 10));
    for (const source of this.#buckets.keys()) {
      if (evict-- <= 0) break;
      this.#buckets.delete(source);
    }
  }

  clear(): void {
    this.#buckets.clear();
  }
}
