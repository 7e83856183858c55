import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LmdbStore } from '../src/store/lmdb-store.ts';
import { percentile } from './proc.ts';
import { benchIncident } from './store-fixtures.ts';

/**
 * `npx tsx bench/commit-window.ts [rate] [seconds] [windows…]`: what the embedded store's commit window
 * (`store.commitWindowMs`) saves and costs, on this machine. Device events arrive one per timer turn, as they do
 * from separate device connections, each writing a repeat with its event key (the most common incident write) and
 * waiting for its commit, as the ingest waits before it acknowledges. For each window: CPU per event (every thread
 * of the process: the event loop, lmdb-js's write thread, the kernel's `fsync`), the event loop's busy time per event
 * and the commit latency each event waited. CPU time, not wall time, so the figures hold on a busy machine better
 * than the full bench's latencies do.
 */
const args = process.argv.slice(2).map(Number);
const rate = args[0] || 1000;
const seconds = args[1] || 5;
const windows = args.length > 2 ? args.slice(2) : [0, 1, 2, 5];

const incident = benchIncident();

async function measure(windowMs: number): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'gridhub-window-'));
  const store = new LmdbStore({ dataDir, deadLetterLimit: 100, commitWindowMs: windowMs });
  await store.start();
  const waits: number[] = [];
  const pending: Promise<void>[] = [];
  const total = rate * seconds;
  // Timer turns of at least 1 ms: above 1,000/s, several events share a turn, as they do when the hub is busy.
  const perTurn = Math.max(1, Math.round(rate / 1000));
  const cpuBefore = process.cpuUsage();
  const loopBefore = performance.eventLoopUtilization();
  let sent = 0;
  await new Promise<void>((done) => {
    const timer = setInterval(
      () => {
        for (let index = 0; index < perTurn && sent < total; index++, sent++) {
          const began = performance.now();
          const occurrences = sent + 2;
          pending.push(
            store
              .saveRepeat({ ...incident, occurrences }, `bench/${sent}/${began}`)
              .then(() => void waits.push(performance.now() - began)),
          );
        }
        if (sent >= total) {
          clearInterval(timer);
          done();
        }
      },
      Math.max(1, Math.round((1000 * perTurn) / rate)),
    );
  });
  await Promise.all(pending);
  const cpu = process.cpuUsage(cpuBefore);
  const loop = performance.eventLoopUtilization(loopBefore);
  await store.stop();
  rmSync(dataDir, { recursive: true, force: true });
  waits.sort((a, b) => a - b);
  process.stdout.write(
    `| ${windowMs} | ${rate} | ${((cpu.user + cpu.system) / total).toFixed(0)} | ${(cpu.system / total).toFixed(0)} | ${((loop.active * 1000) / total).toFixed(0)} | ${percentile(waits, 50).toFixed(2)} | ${percentile(waits, 99).toFixed(2)} |\n`,
  );
}

process.stdout.write(
  '| window ms | events/s | CPU µs/event | of it system | event loop µs/event | commit wait p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|\n',
);
for (const windowMs of windows) await measure(windowMs);
