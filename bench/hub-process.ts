import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hub } from '../src/hub.ts';
import { incidentMetrics } from '../src/incidents/incident-metrics.ts';
import { ThreadedBroker } from '../src/ingest/threaded-broker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { benchDeployment } from './deployment.ts';
import { startDiagnostics } from './hub-diagnostics.ts';
import { type ParentMessage, reply, serverStats } from './server-ipc.ts';

/**
 * The hub in its own process for the benchmark: BENCH_DEVICES extra devices, ports chosen by the OS;
 * BENCH_COMMIT_WINDOW_MS=N runs its store with a group-commit window of N ms (store.commitWindowMs);
 * BENCH_BROKER_THREAD=always|never|auto sets mqtt.brokerThread (else the deployment's: auto).
 */
const extra = Number(process.env.BENCH_DEVICES ?? 200);
const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-'));
const commitWindowMs = process.env.BENCH_COMMIT_WINDOW_MS;
const brokerThread = (['always', 'never', 'auto'] as const).find(
  (setting) => setting === process.env.BENCH_BROKER_THREAD,
);
const benchDefaults = benchDeployment(extra);
const deployment = {
  ...benchDefaults,
  ...(commitWindowMs === undefined
    ? {}
    : { store: { kind: 'embedded' as const, commitWindowMs: Number(commitWindowMs) } }),
  ...(brokerThread === undefined ? {} : { mqtt: { ...benchDefaults.mqtt, brokerThread } }),
};
const hub = new Hub({
  deployment,
  runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
  host: '127.0.0.1',
  logger: createLogger(process.env.LOG_LEVEL ?? 'error'),
});

if (process.env.BENCH_DIAG === '1') startDiagnostics(hub, dataDir);

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

/** The size of the store's file: it keeps each event's key for a day, so it grows with the events. */
function storeBytes(): number {
  try {
    return statSync(path.join(dataDir, 'gridhub.lmdb')).size;
  } catch {
    return 0;
  }
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') {
    // The incidents not yet ended, which the hub holds in memory: nothing closes them in the bench.
    const broker = hub.testHandle.broker instanceof ThreadedBroker ? hub.testHandle.broker : undefined;
    // The broker in the hub's thread (one CPU) counts its connections too.
    const connected = (hub.testHandle.broker as { connectedClients?: number } | undefined)?.connectedClients;
    const quiet = message.quiet === true;
    void Promise.all([
      incidentMetrics(hub.testHandle.metrics).incidentsActive.get(),
      broker?.threadStats({ heap: !quiet }),
    ]).then(([{ values }, thread]) => {
      const stats = serverStats(quiet);
      reply({
        type: 'stats',
        ...stats,
        // The heap of both threads: the broker thread holds the connections' state.
        heapUsed: stats.heapUsed + (thread?.heapUsed ?? 0),
        ...(thread === undefined ? {} : { brokerThreadBusyPercent: thread.busyPercent }),
        devices: connected ?? 0,
        activeIncidents: values[0]?.value ?? 0,
        storeBytes: storeBytes(),
      });
    });
  }
  if (message.type === 'stop') void stop(0);
});
process.once('disconnect', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

hub.start().then(
  () => reply({ type: 'ready', http: hub.httpPort, mqtt: hub.mqttPort, devices: hub.deviceCount }),
  (error: unknown) => {
    process.stderr.write(`bench hub: ${(error as Error).stack ?? String(error)}\n`);
    void stop(1);
  },
);
