import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import { IncidentChangeQueue } from '../../src/incidents/change-queue.ts';
import { ThrottledPushes } from '../../src/incidents/throttled-pushes.ts';

/** Only what these two modules read of an incident: its id and a count. */
function incident(id: string, occurrences: number): Incident {
  return { id, occurrences } as unknown as Incident;
}
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('IncidentChangeQueue', () => {
  it('runs one incident’s changes one at a time, in order, and another incident’s alongside', async () => {
    const queue = new IncidentChangeQueue({ current: async () => undefined });
    const log: string[] = [];
    const change = (name: string, ms: number) => async () => {
      log.push(`${name} start`);
      await wait(ms);
      log.push(`${name} end`);
    };
    const first = queue.serial('inc_a', change('a1', 30));
    const second = queue.serial('inc_a', change('a2', 1));
    const other = queue.serial('inc_b', change('b1', 1));
    expect(queue.busy('inc_a')).toBe(true);
    await Promise.all([first, second, other]);
    expect(log.indexOf('a2 start')).toBeGreaterThan(log.indexOf('a1 end'));
    expect(log.indexOf('b1 end')).toBeLessThan(log.indexOf('a1 end'));
    await wait(0);
    expect(queue.busy('inc_a')).toBe(false);
  });

  it('folds the changes that arrive while an earlier one commits into one turn, each over the one before', async () => {
    let stored = incident('inc_a', 1);
    const queue = new IncidentChangeQueue({ current: async () => stored });
    let release: () => void = () => {};
    const blocker = queue.serial('inc_a', () => new Promise<void>((resolve) => (release = resolve)));
    const commits: [number, number][] = [];
    const plusOne = (before: Incident) => incident(before.id, before.occurrences + 1);
    const commit = async (before: Incident, after: Incident) => {
      commits.push([before.occurrences, after.occurrences]);
      stored = after;
    };
    await wait(0); // the blocker is running: what comes now waits behind it
    const folded = [1, 2, 3].map(() => queue.fold('inc_a', plusOne, commit));
    expect(folded[0]).toBe(folded[2]);
    release();
    await blocker;
    await Promise.all(folded);
    expect(commits).toEqual([
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
  });

  it('fails every event of a fold whose incident is found nowhere (its creation did not commit), writing nothing', async () => {
    const queue = new IncidentChangeQueue({ current: async () => undefined });
    const commits: Incident[] = [];
    const plusOne = (before: Incident) => incident(before.id, before.occurrences + 1);
    const folded = [1, 2].map(() =>
      queue.fold('inc_lost', plusOne, async (_before, after) => {
        commits.push(after);
      }),
    );
    for (const event of folded) await expect(event).rejects.toThrow('incident inc_lost is not stored');
    expect(commits).toEqual([]);
  });
});

describe('ThrottledPushes', () => {
  // Its interval is a timeout and readings of Date.now(), and nothing else here waits on time: only those are faked,
  // and the tests move them on (to the millisecond of an interval's end) instead of sleeping through them.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('pushes a tracked incident at most once an interval, the last state trailing, each before the last after', async () => {
    let current = incident('inc_storm', 1);
    const pushes: IncidentChange[] = [];
    const throttled = new ThrottledPushes({
      intervalMs: 60,
      current: () => current,
      push: (change) => pushes.push(change),
    });
    throttled.track(current);
    for (let count = 2; count <= 5; count++) {
      current = incident('inc_storm', count);
      throttled.soon('inc_storm');
    }
    // Tracked just now: its creation was its push, so nothing goes before the interval ends.
    expect(pushes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(59);
    expect(pushes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(pushes.map(({ before, after }) => [before.occurrences, after.occurrences])).toEqual([[1, 5]]);

    // An interval after the last push, the next goes at once.
    await vi.advanceTimersByTimeAsync(70);
    current = incident('inc_storm', 6);
    throttled.soon('inc_storm');
    expect(pushes.map(({ before, after }) => [before.occurrences, after.occurrences])).toEqual([
      [1, 5],
      [5, 6],
    ]);
    // A change pushed at once by its maker moots the pending push and says what clients saw.
    current = incident('inc_storm', 7);
    throttled.soon('inc_storm');
    expect(throttled.showNow(incident('inc_storm', 8))?.occurrences).toBe(6);
    await vi.advanceTimersByTimeAsync(120);
    expect(pushes).toHaveLength(2);
    throttled.clear();
  });

  it('pushes nothing for an incident it does not track, or no longer does', async () => {
    const pushes: IncidentChange[] = [];
    const throttled = new ThrottledPushes({
      intervalMs: 10,
      current: (id) => incident(id, 9),
      push: (change) => pushes.push(change),
    });
    throttled.soon('inc_other');
    expect(throttled.showNow(incident('inc_other', 9))).toBeUndefined();
    throttled.track(incident('inc_storm', 1));
    throttled.forget('inc_storm');
    throttled.soon('inc_storm');
    await vi.advanceTimersByTimeAsync(40);
    expect(pushes).toEqual([]);
  });
});
