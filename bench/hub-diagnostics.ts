import path from 'node:path';
import { open } from 'lmdb';
import type { Hub } from '../src/hub.ts';
import { nowMs, percentile } from './proc.ts';

/**
 * BENCH_DIAG=1 (bench/hub-process.ts), printed to stderr every 2 s: is the hub waiting on the store, and on which
 * incidents?
 * - every store write a device event may wait on, call → committed; new incidents' saves apart, with the most in
 *   flight on one incident (a fold);
 * - device events waiting for their incident change (raise) to commit: how many, the oldest, and kinds over 100 ms;
 * - where a sample's time goes: device time → decoded on the hub's thread, → pushed, and for new incidents the
 *   broker thread's receipt → the push (the hub's own share);
 * - LMDB transactions a second, of the store and of the event log.
 */
export function startDiagnostics(hub: Hub, dataDir: string): void {
  let allWrites: number[] = [];
  let saves: number[] = [];
  const savesPending = new Map<string, number>();
  let worstPending = { count: 0, category: '' };
  const store = hub.testHandle.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of ['saveRepeat', 'saveJoined']) {
    timeCalls(store, method, () => (ms) => allWrites.push(ms));
  }
  timeCalls(store, 'saveIncident', (args) => {
    const incident = args[0] as { id: string; category: string };
    const count = (savesPending.get(incident.id) ?? 0) + 1;
    savesPending.set(incident.id, count);
    if (count > worstPending.count) worstPending = { count, category: incident.category };
    return (ms) => {
      allWrites.push(ms);
      saves.push(ms);
      const left = (savesPending.get(incident.id) ?? 1) - 1;
      if (left === 0) savesPending.delete(incident.id);
      else savesPending.set(incident.id, left);
    };
  });

  /** Raises not yet committed, in the order they began: when, and the rule's event. */
  const waiting = new Map<number, { since: number; event: string }>();
  let nextWait = 0;
  let slowRaises = new Map<string, number>();
  timeCalls(
    hub.testHandle.incidents as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>,
    'raise',
    (args) => {
      const id = nextWait++;
      const { event } = args[2] as { event: string };
      waiting.set(id, { since: performance.now(), event });
      return (ms) => {
        waiting.delete(id);
        if (ms > 100) slowRaises.set(event, (slowRaises.get(event) ?? 0) + 1);
      };
    },
  );

  let toPush: number[] = [];
  let receiptToPush: number[] = [];
  let toDecoded: number[] = [];
  hub.bus.on('incident:created', (incident, receivedAt) => {
    toPush.push(nowMs() - Date.parse(incident.event.occurredAt));
    receiptToPush.push(performance.now() - receivedAt);
  });
  hub.bus.on('device:event', (event) => {
    toDecoded.push(nowMs() - event.occurredAt);
  });
  hub.bus.on('incident:updated', (_change, repeat) => {
    if (repeat !== undefined) toPush.push(nowMs() - Date.parse(repeat.lastOccurredAt));
  });

  // Last transaction ids, read through a second handle on each file (lmdb-js shares the environment within a
  // process), opened once the hub has created them.
  const files = ['gridhub.lmdb', 'events.lmdb'];
  let lastTxnIds: (() => number[]) | undefined;
  let lastTxns: number[] = [];
  setTimeout(() => {
    const envs = files.map((file) => open({ path: path.join(dataDir, file), readOnly: true }));
    lastTxnIds = () => envs.map((env) => (env.getStats() as { lastTxnId: number }).lastTxnId);
    lastTxns = lastTxnIds();
  }, 1000).unref();

  setInterval(() => {
    const oldest = waiting.values().next().value;
    const oldestMs = oldest === undefined ? '-' : (performance.now() - oldest.since).toFixed(0);
    const txns = lastTxnIds?.() ?? [];
    const perSecond = files.map(
      (file, index) => `${file} ${((txns[index] ?? 0) - (lastTxns[index] ?? 0)) / 2}`,
    );
    lastTxns = txns;
    process.stderr.write(
      `\n[diag] device → push ${percentiles(toPush)}; new incidents, receipt → push ${percentiles(receiptToPush)}; ` +
        `device → decoded ${percentiles(toDecoded)}; writes call → committed ${percentiles(allWrites)}` +
        `\n[diag] new incidents' saves, commit ${percentiles(saves)}; most saves in flight on one incident (a fold) ` +
        `${worstPending.count} (${worstPending.category})` +
        `\n[diag] raises waiting ${waiting.size}, oldest ${oldestMs} ms ` +
        `(${oldest?.event ?? ''}); over 100 ms: ${JSON.stringify(Object.fromEntries(slowRaises))}` +
        `\n[diag] LMDB transactions a second: ${perSecond.join(', ')}\n`,
    );
    allWrites = [];
    saves = [];
    worstPending = { count: 0, category: '' };
    slowRaises = new Map();
    toPush = [];
    receiptToPush = [];
    toDecoded = [];
  }, 2000).unref();
}

/**
 * Replaces `method` with a wrapper that calls `start` with its arguments, then the callback `start` returned with the
 * ms the call took to settle.
 */
function timeCalls(
  target: Record<string, (...args: unknown[]) => Promise<unknown>>,
  method: string,
  start: (args: unknown[]) => (ms: number) => void,
): void {
  const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  target[method] = (...args: unknown[]) => {
    const done = start(args);
    const started = performance.now();
    const result = original(...args);
    const finish = () => done(performance.now() - started);
    result.then(finish, finish);
    return result;
  };
}

/** p50, p99 and max of a list of durations, sorted in place. */
function percentiles(values: number[]): string {
  const sorted = values.sort((a, b) => a - b);
  const at = (p: number) => percentile(sorted, p).toFixed(1);
  return `p50 ${at(50)} p99 ${at(99)} max ${at(100)} ms (${sorted.length})`;
}
