import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { Hub } from '../src/hub.ts';
import { ThreadedBroker } from '../src/ingest/threaded-broker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { benchDeployment } from './deployment.ts';
import { nowMs, percentile } from './proc.ts';
import { type ParentMessage, reply, serverStats } from './server-ipc.ts';

/**
 * The hub in its own process for the benchmark: BENCH_DEVICES extra devices, ports chosen by the OS;
 * BENCH_COMMIT_WINDOW_MS=N runs its store with a group-commit window of N ms (store.commitWindowMs).
 */
const extra = Number(process.env.BENCH_DEVICES ?? 200);
const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-'));
const commitWindowMs = process.env.BENCH_COMMIT_WINDOW_MS;
const deployment = benchDeployment(extra);
const hub = new Hub({
  deployment:
    commitWindowMs === undefined
      ? deployment
      : { ...deployment, store: { kind: 'embedded', commitWindowMs: Number(commitWindowMs) } },
  runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
  host: '127.0.0.1',
  logger: createLogger(process.env.LOG_LEVEL ?? 'error'),
});

/**
 * BENCH_DIAG=1, printed to stderr every 2 s: is the hub waiting on the store, and on which incidents? Every
 * saveIncident timed (call → commit) with how many were waiting on each incident; every store write a device event
 * may wait on, timed; where a sample's time goes: device time → decoded on the hub's thread → pushed; and how many
 * LMDB transactions the store and the event log commit a second.
 */
if (process.env.BENCH_DIAG === '1') {
  type Write = (...args: unknown[]) => Promise<void>;
  const store = hub.store as unknown as Record<'saveIncident' | 'saveRepeat' | 'saveJoined', Write>;
  const save = store.saveIncident.bind(store);
  let latencies: number[] = [];
  /** p50, p99 and max of a list of durations, sorted in place. */
  const percentiles = (values: number[]): string => {
    const sorted = values.sort((a, b) => a - b);
    const at = (p: number) => percentile(sorted, p).toFixed(1);
    return `p50 ${at(50)} p99 ${at(99)} max ${at(100)} ms (${sorted.length})`;
  };
  const pending = new Map<string, number>();
  let worstPending = { id: '', count: 0, category: '' };
  store.saveIncident = (...args: unknown[]) => {
    const incident = args[0] as { id: string; category: string };
    const count = (pending.get(incident.id) ?? 0) + 1;
    pending.set(incident.id, count);
    if (count > worstPending.count) worstPending = { id: incident.id, count, category: incident.category };
    const started = performance.now();
    const done = () => {
      latencies.push(performance.now() - started);
      const left = (pending.get(incident.id) ?? 1) - 1;
      if (left === 0) pending.delete(incident.id);
      else pending.set(incident.id, left);
    };
    const result = save(...args);
    result.then(done, done);
    return result;
  };
  // Every write a device event may wait on, call → committed, whichever kind (wrapping the wrapper above).
  let allWrites: number[] = [];
  for (const method of ['saveRepeat', 'saveJoined', 'saveIncident'] as const) {
    const original = store[method].bind(store);
    store[method] = (...args: unknown[]) => {
      const started = performance.now();
      const result = original(...args);
      const done = () => allWrites.push(performance.now() - started);
      result.then(done, done);
      return result;
    };
  }
  // LMDB transactions a second, of the store and of the event log: their last transaction ids, read through a second
  // handle on each file (lmdb-js shares the environment within a process). Opened once the hub has created them.
  setTimeout(() => {
    const files = ['gridhub.lmdb', 'events.lmdb'];
    const envs = files.map((file) => open({ path: path.join(dataDir, file), readOnly: true }));
    const lastTxnIds = () => envs.map((env) => (env.getStats() as { lastTxnId: number }).lastTxnId);
    let last = lastTxnIds();
    setInterval(() => {
      const now = lastTxnIds();
      const perSecond = files.map((file, index) => `${file} ${((now[index] ?? 0) - (last[index] ?? 0)) / 2}`);
      process.stderr.write(`\n[diag] LMDB transactions a second: ${perSecond.join(', ')}\n`);
      last = now;
    }, 2000).unref();
  }, 1000).unref();
  // Device events waiting for their incident change to commit: how many, and the oldest (a queue on one incident?).
  const incidents = hub.incidents as unknown as { raise: (...args: unknown[]) => Promise<void> };
  const raise = incidents.raise.bind(incidents);
  const waiting = new Map<number, string>();
  let nextWait = 0;
  let raisedByKind = new Map<string, number>();
  incidents.raise = (...args: unknown[]) => {
    const id = nextWait++;
    const started = performance.now();
    const rule = args[2] as { event: string };
    waiting.set(id, `${started} ${rule.event}`);
    const done = () => {
      waiting.delete(id);
      const took = performance.now() - started;
      if (took > 100) raisedByKind.set(rule.event, (raisedByKind.get(rule.event) ?? 0) + 1);
    };
    const result = raise(...args);
    result.then(done, done);
    return result;
  };
  setInterval(() => {
    let oldest = '';
    for (const value of waiting.values()) {
      oldest = value;
      break;
    }
    const [since, kind] = oldest.split(' ');
    process.stderr.write(
      `\n[diag] raises waiting ${waiting.size}, oldest ${since ? (performance.now() - Number(since)).toFixed(0) : '-'} ms (${kind ?? ''}); over 100 ms: ${JSON.stringify(Object.fromEntries(raisedByKind))}\n`,
    );
    raisedByKind = new Map();
  }, 2000).unref();
  // Where a sample's time goes: device time → the hub's push (the clients' figure less Socket.IO and the client),
  // and for new incidents the broker thread's receipt → the push (the hub's own share).
  let toPush: number[] = [];
  let receiptToPush: number[] = [];
  let toIngest: number[] = [];
  hub.bus.on('incident:created', (incident, receivedAt) => {
    toPush.push(nowMs() - Date.parse(incident.event.occurredAt));
    receiptToPush.push(performance.now() - receivedAt);
  });
  hub.bus.on('device:event', (event) => {
    toIngest.push(nowMs() - event.occurredAt);
  });
  hub.bus.on('incident:updated', (_change, repeat) => {
    if (repeat !== undefined) toPush.push(nowMs() - Date.parse(repeat.lastOccurredAt));
  });
  setInterval(() => {
    process.stderr.write(
      `\n[diag] device → push ${percentiles(toPush)}; new incidents, receipt → push ${percentiles(receiptToPush)}; device → decoded ${percentiles(toIngest)}; writes call → committed ${percentiles(allWrites)}\n`,
    );
    allWrites = [];
    toIngest = [];
    toPush = [];
    receiptToPush = [];
  }, 2000).unref();
  setInterval(() => {
    process.stderr.write(
      `\n[diag] new incidents' saves in 2 s, commit ${percentiles(latencies)}; most saves in flight on one incident (a fold) ${worstPending.count} (${worstPending.category})\n`,
    );
    latencies = [];
    worstPending = { id: '', count: 0, category: '' };
  }, 2000).unref();
}

/**
 * BENCH_ALLOC_PROFILE=1: a sampling heap profile of every allocation of the hub's thread, those the collector has
 * already taken included (what feeds the collector, not what the heap holds at the end), written when the hub stops
 * to bench/results/profiles/ as a .heapprofile (Chrome DevTools' Memory tab reads it; bench/top-allocations.ts too).
 */
const allocationProfile = process.env.BENCH_ALLOC_PROFILE === '1' ? new Session() : undefined;
if (allocationProfile !== undefined) {
  allocationProfile.connect();
  allocationProfile.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

function writeAllocationProfile(): Promise<void> {
  const session = allocationProfile;
  if (session === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error === null) {
        const file = path.join(
          import.meta.dirname,
          'results',
          'profiles',
          `alloc-${new Date().toISOString().replace(/[:.]/g, '-')}.heapprofile`,
        );
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, JSON.stringify(result.profile));
        process.stderr.write(`allocation profile: ${file}\n`);
      }
      session.disconnect();
      resolve();
    });
  });
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 5_000);
  timer.unref();
  await writeAllocationProfile();
  await hub.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') {
    // The incidents not yet ended, which the hub holds in memory: nothing closes them in the bench.
    const broker = hub.broker instanceof ThreadedBroker ? hub.broker : undefined;
    const quiet = message.quiet === true;
    void Promise.all([hub.metrics.incidentsActive.get(), broker?.threadStats({ heap: !quiet })]).then(
      ([{ values }, thread]) => {
        const stats = serverStats(quiet);
        reply({
          type: 'stats',
          ...stats,
          // The heap of both threads: the broker thread holds the connections' state.
          heapUsed: stats.heapUsed + (thread?.heapUsed ?? 0),
          ...(thread === undefined ? {} : { brokerThreadBusyPercent: thread.busyPercent }),
          devices: hub.broker.connectedClients,
          activeIncidents: values[0]?.value ?? 0,
        });
      },
    );
  }
  if (message.type === 'stop') void stop(0);
});
process.once('disconnect', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

hub.start().then(
  () => reply({ type: 'ready', http: hub.httpPort, mqtt: hub.mqttPort, devices: hub.registry.size }),
  (error: unknown) => {
    process.stderr.write(`bench hub: ${(error as Error).stack ?? String(error)}\n`);
    void stop(1);
  },
);
