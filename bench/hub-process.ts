import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hub } from '../src/hub.ts';
import { ThreadedBroker } from '../src/ingest/threaded-broker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { benchDeployment } from './deployment.ts';
import { type ParentMessage, reply, serverStats } from './server-ipc.ts';

/** The hub in its own process for the benchmark: BENCH_DEVICES extra devices, ports chosen by the OS. */
const extra = Number(process.env.BENCH_DEVICES ?? 200);
const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-'));
const hub = new Hub({
  deployment: benchDeployment(extra),
  runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
  host: '127.0.0.1',
  logger: createLogger(process.env.LOG_LEVEL ?? 'error'),
});

/**
 * BENCH_DIAG=1: times every saveIncident (call → commit) and counts how many were waiting on each incident, printed
 * to stderr every 2 s: is the hub waiting on the store, and on which incidents?
 */
if (process.env.BENCH_DIAG === '1') {
  const store = hub.store as unknown as { saveIncident: (...args: unknown[]) => Promise<void> };
  const save = store.saveIncident.bind(store);
  let latencies: number[] = [];
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
  setInterval(() => {
    const sorted = latencies.sort((a, b) => a - b);
    const at = (p: number) => (sorted[Math.floor((p / 100) * (sorted.length - 1))] ?? Number.NaN).toFixed(1);
    process.stderr.write(
      `\n[diag] saves ${sorted.length}/2s commit p50 ${at(50)} p99 ${at(99)} max ${at(100)} ms; most saves in flight on one incident (a fold) ${worstPending.count} (${worstPending.category})\n`,
    );
    latencies = [];
    worstPending = { id: '', count: 0, category: '' };
  }, 2000).unref();
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 5_000);
  timer.unref();
  await hub.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') {
    // The incidents not yet ended, which the hub holds in memory: nothing closes them in the bench.
    const broker = hub.broker instanceof ThreadedBroker ? hub.broker : undefined;
    void Promise.all([hub.metrics.incidentsActive.get(), broker?.threadStats()]).then(
      ([{ values }, thread]) => {
        const stats = serverStats();
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
