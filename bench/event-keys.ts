import { rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LmdbStore } from '../src/store/lmdb-store.ts';
import { benchIncident } from './store-fixtures.ts';

/**
 * `npx tsx bench/event-keys.ts [events] [perGeneration]`: the embedded store's file as device events' keys pile up
 * (each repeat written with its event key, 100 to a transaction, as fast as the store takes them), printed every
 * tenth of the run: it levels off once two generations of keys are full (src/store/event-keys.ts). 2,000,000 events
 * and generations of 500,000 (the store's default) by default.
 */
const [events = 2_000_000, perGeneration = 500_000] = process.argv.slice(2).map(Number);
const dataDir = await mkdtemp(path.join(tmpdir(), 'gridhub-event-keys-'));
const store = new LmdbStore({ dataDir, deadLetterLimit: 100, eventKeysPerGeneration: perGeneration });
await store.start();
const incident = benchIncident();
const fileMB = () => statSync(path.join(dataDir, 'gridhub.lmdb')).size / 2 ** 20;
process.stdout.write(`| events written | store file MB |\n|---:|---:|\n`);
try {
  for (let n = 0; n < events; ) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < 100 && n < events; i++, n++) {
      batch.push(
        store.saveRepeat({ ...incident, occurrences: n + 1 }, `gate-${n % 200}/${n}/2026-12-07T08:00:00Z`),
      );
    }
    await Promise.all(batch);
    if (n % (events / 10) === 0)
      process.stdout.write(`| ${n.toLocaleString('en')} | ${fileMB().toFixed(1)} |\n`);
  }
} finally {
  await store.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
