import { describe, expect, it } from 'vitest';
import { SourceBuckets } from '../../src/net/source-buckets.ts';

describe('SourceBuckets: a token bucket per source address', () => {
  it('admits a burst, then the rate, per source', () => {
    let now = 0;
    const buckets = new SourceBuckets({ perSecond: 2, burst: 3 }, { now: () => now });
    expect([1, 2, 3, 4].map(() => buckets.admit('10.0.0.1'))).toEqual([true, true, true, false]);
    // Another address has its own bucket.
    expect(buckets.admit('10.0.0.2')).toBe(true);
    now += 500; // half a second: one token back at 2/s
    expect(buckets.admit('10.0.0.1')).toBe(true);
    expect(buckets.admit('10.0.0.1')).toBe(false);
  });

  it('forgets the oldest sources when full, never every source at once', () => {
    const buckets = new SourceBuckets({ perSecond: 0.001, burst: 1 }, { maxSources: 10, now: () => 0 });
    expect(buckets.admit('flooder')).toBe(true);
    expect(buckets.admit('flooder')).toBe(false);
    for (let index = 0; index < 8; index++) buckets.admit(`old-${index}`);
    expect(buckets.admit('recent')).toBe(true);
    // Full at 10: the next new source evicts the oldest tenth (one: the flooder), not the recent ones.
    expect(buckets.admit('newcomer')).toBe(true);
    expect(buckets.admit('recent')).toBe(false);
    expect(buckets.admit('flooder')).toBe(true);
  });
});
