import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Incident, type RelatedEvent, relatedEventsLimit } from '../src/core/incident.ts';
import { appendNewest } from '../src/incidents/rule-book.ts';
import { LmdbStore } from '../src/store/lmdb-store.ts';

/**
 * `npx tsx bench/join-writes.ts [writes] [per turn]`: what a storm grouping costs the embedded store, written whole
 * (saveIncident: the incident with its related events re-encoded) and as a delta (saveJoined: the joined event and
 * the changed fields), on a storm incident shaped like the demo's, in turns of several writes as a fold issues them.
 * Per write: the event loop's time to issue it, and the process's CPU in all (lmdb-js's write thread included).
 * Each way twice, alternating.
 */
const [writes = 20_000, perTurn = 20] = process.argv.slice(2).map(Number);

function stormIncident(): Incident {
  const at = new Date().toISOString();
  const chain = [
    { id: 'g', name: '西郊一网格', level: 'grid' },
    { id: 'c', name: '西郊社区', level: 'community' },
    { id: 's', name: '西郊街道', level: 'street' },
    { id: 'd', name: '海淀区', level: 'district' },
  ] as Incident['chain'];
  return {
    id: 'inc_storm',
    state: 'dispatched',
    title: 'Alarm storm in 西郊一网格',
    category: 'storm',
    severity: 'major',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'access.denied', occurredAt: at, attributes: { door: 1 } },
    gridId: 'g',
    chain,
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: ['worker-a', 'worker-b', 'chief'],
    handler: null,
    responsibleNodeId: 'g',
    escalations: 0,
    dueAt: at,
    dueStage: 'accept',
    reworks: 0,
    timeline: { dispatchedAt: at, acceptBy: at, resolveBy: at },
  };
}

async function measure(way: 'whole' | 'delta'): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'gridhub-join-writes-'));
  const store = new LmdbStore({ dataDir, deadLetterLimit: 100 });
  await store.start();
  try {
    let held = stormIncident();
    await store.saveIncident(held);
    let issuing = 0;
    const cpu = process.cpuUsage();
    for (let n = 0; n < writes; n += perTurn) {
      const turn: Promise<void>[] = [];
      const began = performance.now();
      for (let k = n; k < n + perTurn; k++) {
        const joined: RelatedEvent = {
          deviceId: `gate-${k % 50}`,
          type: 'access.denied',
          occurredAt: new Date(Date.now() + k).toISOString(),
        };
        held = {
          ...held,
          occurrences: held.occurrences + 1,
          lastOccurredAt: joined.occurredAt,
          related: appendNewest(held.related, joined, relatedEventsLimit),
          updatedAt: joined.occurredAt,
        };
        const eventKey = `gate/${k}`;
        turn.push(
          way === 'whole'
            ? store.saveIncident(held, undefined, eventKey)
            : store.saveJoined(held, joined, undefined, eventKey),
        );
      }
      issuing += performance.now() - began;
      await Promise.all(turn);
    }
    const used = process.cpuUsage(cpu);
    process.stdout.write(
      `${way.padEnd(5)}  event loop ${((issuing / writes) * 1000).toFixed(1)} µs/write to issue, CPU ${((used.user + used.system) / writes).toFixed(1)} µs/write in all\n`,
    );
  } finally {
    await store.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const way of ['whole', 'delta', 'whole', 'delta'] as const) await measure(way);
