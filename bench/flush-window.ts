import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { percentile } from './proc.ts';

/**
 * The durability window, measured: LMDB opened as the hub opens it (lmdb-js defaults, so overlappingSync on
 * Linux), incident-sized msgpack records written at the given rate; for each commit, the time from the commit
 * (when the write's promise resolves, which is when the hub lets aedes send the PUBACK) until `flushed` (fsync
 * done). A process crash inside that window loses nothing; an OS crash or power cut can lose those commits.
 */
const rate = Number(process.env.FLUSH_RATE ?? 2000);
const seconds = Math.min(30, Number(process.env.FLUSH_SECONDS ?? 5));
const dir = mkdtempSync(path.join(tmpdir(), 'gridhub-flush-'));
const root = open({ path: path.join(dir, 'probe.lmdb'), maxDbs: 8 });
const db = root.openDB<Record<string, unknown>, string>({ name: 'incidents', encoding: 'msgpack' });
const record = {
  id: 'inc_x',
  state: 'dispatched',
  title: 'Access denied',
  related: Array.from({ length: 20 }, (_, index) => ({
    deviceId: `gate-${index}`,
    type: 'access.denied',
    occurredAt: new Date().toISOString(),
  })),
  timeline: Array.from({ length: 4 }, () => ({
    at: new Date().toISOString(),
    by: 'system',
    action: 'dispatch',
    note: '',
  })),
};
const commitMs: number[] = [];
const windowMs: number[] = [];
const started = performance.now();
let written = 0;
const pending: Promise<void>[] = [];
while (performance.now() - started < seconds * 1000) {
  const due = Math.floor(((performance.now() - started) * rate) / 1000);
  for (; written < due; written += 1) {
    const begin = performance.now();
    pending.push(
      db.put(`k${written % 5000}`, { ...record, id: `inc_${written}` }).then(async () => {
        const committed = performance.now();
        commitMs.push(committed - begin);
        await root.flushed;
        windowMs.push(performance.now() - committed);
      }),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await Promise.all(pending);
await root.close();
rmSync(dir, { recursive: true, force: true });
const sort = (values: number[]): number[] => values.sort((a, b) => a - b);
const commits = sort(commitMs);
const windows = sort(windowMs);
const summary = {
  type: 'flush',
  rate,
  seconds,
  writes: written,
  commit: { p50: percentile(commits, 50), p99: percentile(commits, 99), max: commits.at(-1) ?? Number.NaN },
  window: { p50: percentile(windows, 50), p99: percentile(windows, 99), max: windows.at(-1) ?? Number.NaN },
};
if (process.send) process.send(summary, () => process.disconnect());
else process.stdout.write(`${JSON.stringify(summary)}\n`);
