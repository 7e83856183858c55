import { rmSync } from 'node:fs';
import { type Incident, type RelatedEvent, relatedEventsLimit } from '../src/core/incident.ts';
import { appendNewest } from '../src/incidents/rule-book.ts';
import { LmdbStore } from '../src/store/lmdb-store.ts';

const dir = '/tmp/mb/joins';
for (const mode of ['whole', 'joined', 'whole', 'joined']) {
  rmSync(dir, { recursive: true, force: true });
  const store = new LmdbStore({ dataDir: dir, deadLetterLimit: 100 });
  await store.start();
  const at = new Date().toISOString();
  let held: Incident = {
    id: 'inc_1',
    state: 'dispatched',
    title: 'Alarm storm in 西郊一网格',
    category: 'storm',
    severity: 'major',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'access.denied', occurredAt: at, attributes: { door: 1 } },
    gridId: 'g',
    chain: [
      { id: 'g', name: '西郊一网格', level: 'grid' },
      { id: 'c', name: '西郊社区', level: 'community' },
      { id: 's', name: '西郊街道', level: 'street' },
      { id: 'd', name: '海淀区', level: 'district' },
    ],
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: ['w1', 'w2', 'chief'],
    handler: null,
    responsibleNodeId: 'g',
    escalations: 0,
    dueAt: at,
    dueStage: 'accept',
    reworks: 0,
    timeline: { dispatchedAt: at, acceptBy: at, resolveBy: at },
  };
  await store.saveIncident(held);
  const n = 20000;
  const batch = 20;
  const cpu = process.cpuUsage();
  const t = performance.now();
  let loop = 0;
  for (let i = 0; i < n; i += batch) {
    const writes: Promise<void>[] = [];
    const l0 = performance.now();
    for (let j = 0; j < batch; j++) {
      const joined: RelatedEvent = {
        deviceId: `gate-${(i + j) % 50}`,
        type: 'access.denied',
        occurredAt: new Date(Date.now() + i + j).toISOString(),
      };
      held = {
        ...held,
        occurrences: held.occurrences + 1,
        lastOccurredAt: joined.occurredAt,
        related: appendNewest(held.related, joined, relatedEventsLimit),
        updatedAt: joined.occurredAt,
      };
      writes.push(
        mode === 'whole'
          ? store.saveIncident(held, undefined, `k/${i + j}`)
          : store.saveJoined(held, joined, undefined, `k/${i + j}`),
      );
    }
    loop += performance.now() - l0;
    await Promise.all(writes);
  }
  const used = process.cpuUsage(cpu);
  console.log(
    mode.padEnd(7),
    `main thread ${((loop / n) * 1000).toFixed(1)} µs/write to issue, CPU ${((used.user + used.system) / n).toFixed(1)} µs/write in all, ${(((performance.now() - t) / n) * 1000).toFixed(1)} µs wall`,
  );
  await store.stop();
}
