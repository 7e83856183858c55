import path from 'node:path';
import { open } from 'lmdb';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/core/audit.ts';
import { type Incident, type RelatedEvent, relatedEventsLimit } from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import { appendNewest } from '../../src/incidents/rule-book.ts';
import { LmdbStore } from '../../src/store/lmdb-store.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import { FakeStore } from '../helpers/fake-store.ts';
import { temporaryDirectory } from '../helpers/hub.ts';
import { deleteRedisKeys, redisUrl } from '../helpers/redis.ts';

let runs = 0;

/**
 * Each case gets a store of its own: a fresh LMDB directory, a fresh Redis key prefix that is deleted after, or a
 * fresh fake in memory.
 */
interface StoreKind {
  readonly name: string;
  /**
   * Whether the store bounds what it keeps over a long life: it prunes its oldest dead letters past their limit and
   * forgets device event keys past their retention. The real stores do, or a hub running for months would fill its
   * disk or Redis; the unit tests' fake lives for one test and keeps everything, so the cases on pruning are made
   * only for the kinds that are durable (see `durableKinds`).
   */
  readonly durable: boolean;
  /** Whether `clock` dates what the store keeps (else it keeps its own time, a server's). */
  readonly takesClock: boolean;
  open(options?: {
    eventKeyRetentionMs?: number;
    clock?: () => number;
  }): Promise<{ store: Store; reopen: () => Promise<Store>; remove: () => Promise<void> }>;
}

/** The embedded store, committing at once or (`commitWindowMs`) in groups: the contract holds either way. */
function lmdbKind(name: string, commitWindowMs: number): StoreKind {
  return {
    name,
    durable: true,
    takesClock: true,
    async open(options = {}) {
      const directory = temporaryDirectory('gridhub-store-');
      const make = () =>
        new LmdbStore({ dataDir: directory.path, deadLetterLimit: 100, commitWindowMs, ...options });
      const store = make();
      await store.start();
      return {
        store,
        reopen: async () => {
          const again = make();
          await again.start();
          return again;
        },
        remove: async () => directory.remove(),
      };
    },
  };
}

const kinds: StoreKind[] = [
  lmdbKind('embedded (LMDB)', 0),
  lmdbKind('embedded (LMDB, 5 ms commit window)', 5),
  {
    name: 'Redis',
    durable: true,
    takesClock: false,
    async open({ clock: _serverTime, ...options } = {}) {
      const keyPrefix = `gridhub-test:${process.pid}:${++runs}:`;
      const make = () => new RedisStore({ url: redisUrl, keyPrefix, deadLetterLimit: 100, ...options });
      const store = make();
      await store.start();
      return {
        store,
        reopen: async () => {
          const again = make();
          await again.start();
          return again;
        },
        remove: () => deleteRedisKeys(keyPrefix),
      };
    },
  },
  {
    // The unit tests' store in memory (test/helpers/fake-store.ts): held to the same contract, so that a unit test
    // on it learns what a real store would answer. What it keeps outlives a stop, as on disk: a reopen starts it again.
    name: 'in-memory fake',
    durable: false,
    takesClock: false,
    async open() {
      const store = new FakeStore();
      await store.start();
      return {
        store,
        reopen: async () => {
          await store.start();
          return store;
        },
        remove: async () => undefined,
      };
    },
  },
];

/** The kinds that bound what they keep: only these get the cases on pruning (none is skipped; they are not made). */
const durableKinds = kinds.filter((kind) => kind.durable);

function incident(n: number, overrides: Partial<Incident> = {}): Incident {
  const at = new Date(Date.UTC(2026, 10, 22, 8, 0, n)).toISOString();
  const grid = n % 2 === 0 ? 'g-even' : 'g-odd';
  return {
    id: `inc_${String(n).padStart(5, '0')}`,
    state: 'dispatched',
    title: 'Door forced open',
    category: 'intrusion',
    severity: 'critical',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: at, attributes: { door: 1 } },
    gridId: grid,
    chain: [
      { id: grid, name: grid, level: 'grid' },
      { id: 'c1', name: 'C1', level: 'community' },
    ],
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: ['worker'],
    handler: null,
    responsibleNodeId: grid,
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: 0,
    timeline: {},
    ...overrides,
  };
}

function audit(n: number, target: string): AuditEntry {
  return {
    id: `aud_${String(n).padStart(5, '0')}`,
    at: new Date(Date.UTC(2026, 10, 22, 8, 0, n)).toISOString(),
    actor: { userId: 'officer', role: 'duty_officer' },
    action: 'incident.accept',
    target: { kind: 'incident', id: target },
    outcome: 'ok',
    detail: { n },
  };
}

function deadLetter(n: number): DeadLetter {
  return {
    id: `dl_${String(n).padStart(5, '0')}`,
    receivedAt: new Date(Date.UTC(2026, 10, 22, 8, 0, 0, n)).toISOString(),
    topic: 'gridhub/devices/gate-1/events',
    deviceId: 'gate-1',
    reason: 'not_json',
    problems: ['not valid JSON'],
    payloadBytes: 3,
    payloadShape: null,
  };
}

describe.each(kinds)('the $name store keeps the Store contract', (kind) => {
  let opened: Awaited<ReturnType<StoreKind['open']>>;
  let store: Store;

  beforeEach(async () => {
    opened = await kind.open();
    store = opened.store;
  });

  afterEach(async () => {
    await store.stop();
    await opened.remove();
  });

  afterAll(() => undefined);

  it('saves, reads and lists incidents newest first, with keyset pages', async () => {
    for (let n = 1; n <= 7; n++) await store.saveIncident(incident(n));
    expect(await store.getIncident('inc_00003')).toEqual(incident(3));
    expect(await store.getIncident('inc_nope')).toBeUndefined();
    const first = await store.listIncidents({ limit: 3 });
    expect(first.map((item) => item.id)).toEqual(['inc_00007', 'inc_00006', 'inc_00005']);
    const second = await store.listIncidents({ limit: 3, before: 'inc_00005' });
    expect(second.map((item) => item.id)).toEqual(['inc_00004', 'inc_00003', 'inc_00002']);
  });

  it('keeps records of a collection by key, lists them in key order or by prefix, and forgets those past their end', async () => {
    await store.putRecord('push-subscriptions', 'worker-2/b', { endpoint: 'b' });
    await store.putRecord('push-subscriptions', 'worker-1/a', { endpoint: 'a' });
    await store.putRecord('push-subscriptions', 'worker-10/c', { endpoint: 'c' }, Date.now() + 60_000);
    await store.putRecord('positions', 'worker-1/1', { at: 1 }, Date.now() - 1);
    await store.putRecord('positions', 'worker-1/2', { at: 2 });
    expect(await store.getRecord('push-subscriptions', 'worker-1/a')).toEqual({ endpoint: 'a' });
    expect(await store.getRecord('push-subscriptions', 'worker-3/a')).toBeUndefined();
    // Past its end: neither read nor listed.
    expect(await store.getRecord('positions', 'worker-1/1')).toBeUndefined();
    expect((await store.listRecords('positions')).map((record) => record.key)).toEqual(['worker-1/2']);
    const all = await store.listRecords<{ endpoint: string }>('push-subscriptions');
    expect(all.map((record) => [record.key, record.value.endpoint])).toEqual([
      ['worker-1/a', 'a'],
      ['worker-10/c', 'c'],
      ['worker-2/b', 'b'],
    ]);
    expect(all[1]?.expiresAt).toBeGreaterThan(Date.now());
    expect(all[0]?.expiresAt).toBeNull();
    expect((await store.listRecords('push-subscriptions', 'worker-1/')).map((record) => record.key)).toEqual([
      'worker-1/a',
    ]);
    await store.putRecord('push-subscriptions', 'worker-1/a', { endpoint: 'a2' });
    await store.removeRecord('push-subscriptions', 'worker-2/b');
    await store.stop();
    store = await opened.reopen();
    expect(
      (await store.listRecords<{ endpoint: string }>('push-subscriptions')).map(
        (record) => record.value.endpoint,
      ),
    ).toEqual(['a2', 'c']);
    await expect(store.putRecord('Bad Name', 'k', 1)).rejects.toThrow(/collection/);
    await expect(store.putRecord('positions', '', 1)).rejects.toThrow(/key/);
  });

  it('lists by scope, by filter, and stops at the time bound', async () => {
    for (let n = 1; n <= 6; n++) await store.saveIncident(incident(n));
    const even = await store.listIncidents({ limit: 10, scopeNodeIds: ['g-even'] });
    expect(even.map((item) => item.id)).toEqual(['inc_00006', 'inc_00004', 'inc_00002']);
    const filtered = await store.listIncidents({ limit: 10, filter: (item) => item.id.endsWith('5') });
    expect(filtered.map((item) => item.id)).toEqual(['inc_00005']);
    const bounded = await store.listIncidents({ limit: 10, after: 'inc_00004' });
    expect(bounded.map((item) => item.id)).toEqual(['inc_00006', 'inc_00005', 'inc_00004']);
  });

  it('overwrites an incident on change and keeps only the unfinished among the active ones', async () => {
    await store.saveIncident(incident(1));
    await store.saveIncident(incident(2));
    await store.saveIncident(incident(2, { state: 'closed' }));
    await store.saveIncident(incident(3, { state: 'resolved' }));
    expect((await store.getIncident('inc_00002'))?.state).toBe('closed');
    expect((await store.listActiveIncidents()).map((item) => item.id)).toEqual(['inc_00001', 'inc_00003']);
  });

  it('reads a repeat written after its incident everywhere the incident is read, and across a reopen', async () => {
    const repeated = (occurrences: number): Incident =>
      incident(1, {
        occurrences,
        lastOccurredAt: `2026-11-22T08:0${occurrences}:00.000Z`,
        updatedAt: `2026-11-22T08:0${occurrences}:00.500Z`,
      });
    await store.saveIncident(incident(1));
    await store.saveIncident(incident(2));
    await store.saveRepeat(repeated(2), 'gate-1/2/2026-11-22T08:02:00Z');
    await store.saveRepeat(repeated(3), 'gate-1/3/2026-11-22T08:03:00Z');
    expect(await store.getIncident('inc_00001')).toEqual(repeated(3));
    expect(await store.listIncidents({ limit: 5 })).toEqual([incident(2), repeated(3)]);
    expect(await store.listActiveIncidents()).toEqual([repeated(3), incident(2)]);
    expect(await store.eventCommitted('gate-1/3/2026-11-22T08:03:00Z')).toBe(true);
    // A whole write after the repeats carries them, and wins over the repeat record; while it commits, a read
    // still sees the repeats.
    const whole = store.saveIncident({ ...repeated(3), state: 'accepted', handler: 'worker' });
    expect((await store.getIncident('inc_00001'))?.occurrences).toBe(3);
    await whole;
    expect(await store.getIncident('inc_00001')).toMatchObject({ state: 'accepted', occurrences: 3 });
    await store.saveRepeat({ ...repeated(4), state: 'accepted', handler: 'worker' });
    await store.stop();
    store = await opened.reopen();
    expect(await store.getIncident('inc_00001')).toEqual({
      ...repeated(4),
      state: 'accepted',
      handler: 'worker',
    });
    await store.saveIncident({ ...repeated(4), state: 'closed', handler: 'worker' });
    expect(await store.listActiveIncidents()).toEqual([incident(2)]);
    expect((await store.getIncident('inc_00001'))?.state).toBe('closed');
  });

  it('reads joined events written after their incident, the newest kept, beside repeats, whole writes and a reopen', async () => {
    // What the incident service holds: each change made over the one before, as its fold or queue makes it.
    let held = incident(1, { category: 'storm', severity: 'major' });
    const join = (n: number, change: Partial<Incident> = {}): [Incident, RelatedEvent] => {
      const joined: RelatedEvent = {
        deviceId: `gate-${n}`,
        type: 'access.denied',
        occurredAt: new Date(Date.UTC(2026, 10, 22, 9, 0, n)).toISOString(),
      };
      held = {
        ...held,
        occurrences: held.occurrences + 1,
        lastOccurredAt: joined.occurredAt,
        related: appendNewest(held.related, joined, relatedEventsLimit),
        updatedAt: joined.occurredAt,
        ...change,
      };
      return [held, joined];
    };
    await store.saveIncident(held);
    await store.saveJoined(...join(1), audit(1, held.id), 'gate-1/1/2026-11-22T09:00:01Z');
    // A correlation raises the severity and names the incident anew.
    await store.saveJoined(...join(2, { severity: 'critical', title: 'Perimeter breach' }));
    expect(await store.getIncident(held.id)).toEqual(held);
    expect(await store.eventCommitted('gate-1/1/2026-11-22T09:00:01Z')).toBe(true);
    expect((await store.listAudit({ limit: 5, targetId: held.id })).map((entry) => entry.id)).toEqual([
      'aud_00001',
    ]);
    // A fold: several joins issued in one turn, past the limit, with a repeat among them; each builds on the last.
    const fold: Promise<void>[] = [];
    for (let n = 3; n <= relatedEventsLimit + 6; n++) {
      fold.push(store.saveJoined(...join(n)));
      if (n === 10) {
        held = { ...held, occurrences: held.occurrences + 1, updatedAt: '2026-11-22T09:30:00.000Z' };
        fold.push(store.saveRepeat(held));
      }
    }
    await Promise.all(fold);
    expect(held.related).toHaveLength(relatedEventsLimit);
    expect(await store.getIncident(held.id)).toEqual(held);
    expect(await store.listIncidents({ limit: 5 })).toEqual([held]);
    expect(await store.listActiveIncidents()).toEqual([held]);
    await store.stop();
    store = await opened.reopen();
    expect(await store.getIncident(held.id)).toEqual(held);
    // A whole write carries them all; joins after it build on it, and so does a whole write issued with them.
    held = { ...held, state: 'accepted', handler: 'worker' };
    await store.saveIncident(held);
    expect(await store.getIncident(held.id)).toEqual(held);
    const more = [store.saveJoined(...join(40))];
    held = { ...held, state: 'on_site' };
    more.push(store.saveIncident(held), store.saveJoined(...join(41)));
    await Promise.all(more);
    expect(await store.getIncident(held.id)).toEqual(held);
    held = { ...held, state: 'closed' };
    await store.saveIncident(held);
    expect(await store.getIncident(held.id)).toEqual(held);
    expect(await store.listActiveIncidents()).toEqual([]);
  });

  it('writes an incident with its audit entry, and lists the audit trail by target and in all, newest first', async () => {
    await store.saveIncident(incident(1), audit(1, 'inc_00001'));
    await store.appendAudit(audit(2, 'inc_00002'));
    await store.appendAudit(audit(3, 'inc_00001'));
    expect((await store.listAudit({ limit: 10, targetId: 'inc_00001' })).map((entry) => entry.id)).toEqual([
      'aud_00003',
      'aud_00001',
    ]);
    expect((await store.listAudit({ limit: 2 })).map((entry) => entry.id)).toEqual([
      'aud_00003',
      'aud_00002',
    ]);
    expect((await store.listAudit({ limit: 10, before: 'aud_00002' })).map((entry) => entry.id)).toEqual([
      'aud_00001',
    ]);
  });

  it('keeps dead letters newest first, a filter deciding what fills the page', async () => {
    for (let n = 1; n <= 10; n++) await store.saveDeadLetter(deadLetter(n));
    const kept = await store.listDeadLetters({ limit: 500 });
    expect(kept.map((letter) => letter.id)).toEqual(
      Array.from({ length: 10 }, (_, index) => deadLetter(10 - index).id),
    );
    // A filter (the caller's area) decides what fills the page, not what is cut from it.
    const even = (letter: DeadLetter) => Number(letter.id.slice(3)) % 2 === 0;
    const page = await store.listDeadLetters({ limit: 3, before: 'dl_00010', filter: even });
    expect(page.map((letter) => letter.id)).toEqual(['dl_00008', 'dl_00006', 'dl_00004']);
  });

  it('writes a change only over the version it was made from, with its audit entry or not at all', async () => {
    expect(await store.writeIncident({ incident: incident(1, { version: 1 }), expectedVersion: 0 })).toEqual({
      written: true,
    });
    const stale = await store.writeIncident({
      incident: incident(1, { version: 1, occurrences: 9 }),
      audit: audit(1, 'inc_00001'),
      expectedVersion: 0,
    });
    expect(stale).toEqual({ written: false, refused: 'version' });
    expect((await store.getIncident('inc_00001'))?.occurrences).toBe(1);
    expect(await store.listAudit({ limit: 5 })).toEqual([]);
    const fresh = await store.writeIncident({
      incident: incident(1, { version: 2, occurrences: 2 }),
      audit: audit(2, 'inc_00001'),
      expectedVersion: 1,
    });
    expect(fresh).toEqual({ written: true });
    expect(await store.getIncident('inc_00001')).toEqual(incident(1, { version: 2, occurrences: 2 }));
    expect((await store.listAudit({ limit: 5, targetId: 'inc_00001' })).map((entry) => entry.id)).toEqual([
      'aud_00002',
    ]);
    // An incident stored before versions existed is at version 0.
    await store.saveIncident(incident(2));
    expect(
      (await store.writeIncident({ incident: incident(2, { version: 1 }), expectedVersion: 0 })).written,
    ).toBe(true);
  });

  it('loses no change when writers race, each retrying over a fresh read', async () => {
    await store.saveIncident(incident(1, { version: 0 }));
    const fold = async () => {
      for (;;) {
        const before = (await store.getIncident('inc_00001')) as Incident;
        const version = before.version ?? 0;
        const after = { ...before, occurrences: before.occurrences + 1, version: version + 1 };
        if ((await store.writeIncident({ incident: after, expectedVersion: version })).written) return;
      }
    };
    await Promise.all(Array.from({ length: 12 }, fold));
    const stored = await store.getIncident('inc_00001');
    expect(stored?.occurrences).toBe(13);
    expect(stored?.version).toBe(12);
  });

  it("creates a device condition's open incident only if none holds it, and frees it when the incident ends", async () => {
    const condition = { key: 'gate-1/door.forced_open', claim: true };
    expect(await store.openCondition(condition.key)).toBeUndefined();
    expect(
      (await store.writeIncident({ incident: incident(1), condition, expectedVersion: 0 })).written,
    ).toBe(true);
    expect(await store.openCondition(condition.key)).toBe('inc_00001');
    // A second instance raising the same condition at once loses, and learns whose incident to fold into.
    const loser = await store.writeIncident({
      incident: incident(2),
      audit: audit(2, 'inc_00002'),
      condition,
      expectedVersion: 0,
    });
    expect(loser).toEqual({ written: false, refused: 'condition', holder: 'inc_00001' });
    expect(await store.getIncident('inc_00002')).toBeUndefined();
    expect(await store.listAudit({ limit: 5 })).toEqual([]);
    // Past its dedupe window an open incident is replaced as the condition's incident by a new one.
    expect(
      (
        await store.writeIncident({
          incident: incident(3),
          condition: { ...condition, replaces: 'inc_00001' },
        })
      ).written,
    ).toBe(true);
    expect(await store.openCondition(condition.key)).toBe('inc_00003');
    // A change that leaves the incident open keeps the condition; one that ends it frees it.
    await store.writeIncident({
      incident: incident(3, { state: 'accepted' }),
      condition: { key: condition.key },
    });
    expect(await store.openCondition(condition.key)).toBe('inc_00003');
    await store.writeIncident({
      incident: incident(1, { state: 'closed' }),
      condition: { key: condition.key },
    });
    expect(await store.openCondition(condition.key)).toBe('inc_00003');
    await store.writeIncident({
      incident: incident(3, { state: 'resolved' }),
      condition: { key: condition.key },
    });
    expect(await store.openCondition(condition.key)).toBeUndefined();
    expect((await store.listActiveIncidents()).map((item) => item.id)).toEqual(['inc_00003']);
    // A holder ended by a plain write (which knows no condition) does not block the condition.
    expect((await store.writeIncident({ incident: incident(4), condition })).written).toBe(true);
    await store.saveIncident(incident(4, { state: 'false_alarm' }));
    expect((await store.writeIncident({ incident: incident(5), condition })).written).toBe(true);
    expect(await store.openCondition(condition.key)).toBe('inc_00005');
  });

  it('records the device event a change came from with the change, and refuses the event a second time', async () => {
    expect(await store.eventCommitted('gate-1/7/2026-11-22T08:00:01Z')).toBe(false);
    await store.saveIncident(incident(1), audit(1, 'inc_00001'), 'gate-1/7/2026-11-22T08:00:01Z');
    expect(await store.eventCommitted('gate-1/7/2026-11-22T08:00:01Z')).toBe(true);
    const folded = await store.writeIncident({
      incident: incident(1, { occurrences: 2 }),
      eventKey: 'gate-1/8/2026-11-22T08:00:02Z',
    });
    expect(folded).toEqual({ written: true });
    const again = await store.writeIncident({
      incident: incident(1, { occurrences: 3 }),
      eventKey: 'gate-1/8/2026-11-22T08:00:02Z',
    });
    // A shared store also names the incident the event went into: a sibling that gets the event again pushes it
    // again. One hub owning its store has nobody to push it for.
    expect(again).toEqual(
      store.kind === 'redis'
        ? { written: false, refused: 'event', incidentId: 'inc_00001' }
        : { written: false, refused: 'event' },
    );
    expect((await store.getIncident('inc_00001'))?.occurrences).toBe(2);
    const created = await store.writeIncident({
      incident: incident(2),
      condition: { key: 'gate-1/tamper', claim: true },
      eventKey: 'gate-1/7/2026-11-22T08:00:01Z',
    });
    expect(created).toMatchObject({ written: false, refused: 'event' });
    expect(await store.openCondition('gate-1/tamper')).toBeUndefined();
    await store.stop();
    store = await opened.reopen();
    expect(await store.eventCommitted('gate-1/8/2026-11-22T08:00:02Z')).toBe(true);
    expect(await store.eventCommitted('gate-1/9/2026-11-22T08:00:03Z')).toBe(false);
  });

  it('writes a change, its audit entry and its event key together or not at all: an oversized key writes nothing', async () => {
    const tooLong = `gate-1/7/2026-11-22T08:00:01.${'1'.repeat(2_000)}Z`;
    const writes: [string, () => Promise<unknown>][] = [
      ['saveIncident', () => store.saveIncident(incident(1), audit(1, 'inc_00001'), tooLong)],
      ['saveRepeat', () => store.saveRepeat(incident(2), tooLong)],
      [
        'saveJoined',
        () =>
          store.saveJoined(
            incident(3),
            { deviceId: 'gate-2', type: 'door.forced_open', occurredAt: incident(3).createdAt },
            audit(3, 'inc_00003'),
            tooLong,
          ),
      ],
      [
        'writeIncident',
        () => store.writeIncident({ incident: incident(4), audit: audit(4, 'inc_00004'), eventKey: tooLong }),
      ],
    ];
    for (const [name, write] of writes) {
      await expect(write(), name).rejects.toThrow(/event key/);
    }
    // Give a write that was issued anyway the time to commit.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await store.listIncidents({ limit: 10 })).toEqual([]);
    expect(await store.listAudit({ limit: 10 })).toEqual([]);
    await store.stop();
    store = await opened.reopen();
    expect(await store.listIncidents({ limit: 10 })).toEqual([]);
    expect(await store.listAudit({ limit: 10 })).toEqual([]);
  });

  it('keeps device records and rosters, and everything across a reopen', async () => {
    const record = {
      id: 'gate-9',
      description: null,
      secretDigest: 'ab'.repeat(32),
      disabled: true,
      maintenanceUntil: null,
      updatedAt: 'x',
    };
    await store.saveDeviceRecord(record);
    await store.saveRoster({ grid: 'g-even', shifts: [{ users: ['worker'], from: '08:00', to: '20:00' }] });
    await store.saveIncident(incident(1), audit(1, 'inc_00001'));
    await store.stop();
    store = await opened.reopen();
    expect(await store.listDeviceRecords()).toEqual([record]);
    expect(await store.listRosters()).toEqual([
      { grid: 'g-even', shifts: [{ users: ['worker'], from: '08:00', to: '20:00' }] },
    ]);
    expect(await store.getIncident('inc_00001')).toEqual(incident(1));
    expect((await store.listAudit({ limit: 5 })).map((entry) => entry.id)).toEqual(['aud_00001']);
  });

  it("keeps login sessions until their end, revoked or not, and lists a user's live ones, across a reopen", async () => {
    const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
    const session = (id: string, userId: string, endsIn: number) => ({
      id,
      userId,
      createdAt: at(-1),
      expiresAt: at(endsIn),
      revokedAt: null,
      revokedReason: null,
    });
    await store.saveSession(session('s-1', 'worker', 60));
    await store.saveSession(session('s-2', 'worker', 120));
    const officers = session('s-3', 'officer', 60);
    await store.saveSession(officers);
    const revoked = { ...session('s-2', 'worker', 120), revokedAt: at(0), revokedReason: 'logout' };
    await store.saveSession(revoked);
    expect(await store.getSession('s-2')).toEqual(revoked);
    expect(await store.getSession('nope')).toBeUndefined();
    await store.stop();
    store = await opened.reopen();
    const listed = await store.listSessions('worker');
    expect(listed.map((found) => found.id).sort()).toEqual(['s-1', 's-2']);
    expect(await store.listSessions('officer')).toEqual([officers]);
    expect(await store.listSessions('nobody')).toEqual([]);
  });

  it('forgets a session once past its end', async () => {
    const ended = {
      id: 's-old',
      userId: 'worker',
      createdAt: new Date(Date.now() - 60_000).toISOString(),
      expiresAt: new Date(Date.now() + 150).toISOString(),
      revokedAt: null,
      revokedReason: null,
    };
    await store.saveSession(ended);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.listSessions('worker')).toEqual([]);
    // The embedded store drops it at the next login; until then it is past its end, which readers check.
    const kept = await store.getSession('s-old');
    expect(kept === undefined || Date.parse(kept.expiresAt) < Date.now()).toBe(true);
  });

  it('keeps accounts, replaced on change, across a reopen', async () => {
    const account = {
      id: 'worker-9',
      name: 'Worker Nine',
      role: 'grid_worker' as const,
      scope: null,
      grids: ['g-even'],
      passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
      tokenDigest: null,
      disabled: false,
      removed: false,
      createdBy: 'admin',
      updatedAt: 'x',
    };
    await store.saveAccount(account);
    await store.saveAccount({ ...account, id: 'admin', role: 'admin', scope: 'district', grids: null });
    await store.saveAccount({ ...account, disabled: true });
    await store.stop();
    store = await opened.reopen();
    expect(await store.getAccount('worker-9')).toEqual({ ...account, disabled: true });
    expect(await store.getAccount('nobody')).toBeUndefined();
    expect((await store.listAccounts()).map((found) => found.id).sort()).toEqual(['admin', 'worker-9']);
  });
});

describe.each(durableKinds)('the $name store bounds what it keeps', (kind) => {
  it('prunes the oldest dead letters past the limit', async () => {
    const opened = await kind.open();
    try {
      for (let n = 1; n <= 300; n++) await opened.store.saveDeadLetter(deadLetter(n));
      const kept = await opened.store.listDeadLetters({ limit: 500 });
      // Pruned once, at the 256th write, down to the limit of 100; 44 more since.
      expect(kept).toHaveLength(144);
      expect(kept[0]?.id).toBe('dl_00300');
      expect(kept.at(-1)?.id).toBe('dl_00157');
    } finally {
      await opened.store.stop();
      await opened.remove();
    }
  });

  it('forgets device event keys past their retention, and keeps the newer ones', async () => {
    let clock = Date.now();
    const short = await kind.open({ eventKeyRetentionMs: 50, clock: () => clock });
    try {
      const key = (n: number) => `gate-${n % 7}/${n}/2026-11-22T08:00:00Z`;
      for (let n = 1; n <= 256; n++) await short.store.saveIncident(incident(1), undefined, key(n));
      if (kind.takesClock) expect(await short.store.eventCommitted(key(1))).toBe(true);
      clock += 60_000;
      // A store on a server keeps its own time: let it pass.
      if (!kind.takesClock) await new Promise((resolve) => setTimeout(resolve, 120));
      // The embedded store prunes as it writes, a slice at a time: these writes lap the old keys.
      for (let n = 257; n <= 512; n++) await short.store.saveIncident(incident(1), undefined, key(n));
      for (const n of [1, 100, 256]) expect(await short.store.eventCommitted(key(n))).toBe(false);
      // Fresh keys stay. (With a server's clock, 50 ms is too short to say so without timing the test; the other
      // cases show that Redis keeps keys for the default retention.)
      if (kind.takesClock) {
        for (const n of [257, 400, 512]) expect(await short.store.eventCommitted(key(n))).toBe(true);
      }
    } finally {
      await short.store.stop();
      await short.remove();
    }
  });
});

describe('the embedded store with a commit window', () => {
  it("commits a quiet store's write at once, the writes made within the window after it together, in order, and what waits when it stops", async () => {
    const directory = temporaryDirectory('gridhub-store-');
    // A window far longer than a commit takes on a loaded machine: what is checked inside it is surely inside it.
    const make = () => new LmdbStore({ dataDir: directory.path, deadLetterLimit: 100, commitWindowMs: 400 });
    let store = make();
    await store.start();
    try {
      // A quiet store: the first write and the rest of its turn's go at once, in one transaction.
      const first = store.saveIncident(incident(1), audit(1, 'inc_00001'), 'gate-1/1/2026-11-22T08:00:01Z');
      const sameTurn = store.saveRepeat(incident(1, { occurrences: 2 }), 'gate-1/2/2026-11-22T08:00:02Z');
      await Promise.all([first, sameTurn]);
      expect(store.eventCommitted('gate-1/2/2026-11-22T08:00:02Z')).toBe(true);
      // Within the window of that transaction, later writes wait for it to close.
      const repeat = store.saveRepeat(incident(1, { occurrences: 3 }), 'gate-1/3/2026-11-22T08:00:03Z');
      const whole = store.saveIncident(incident(1, { occurrences: 3, state: 'accepted' }));
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(store.eventCommitted('gate-1/3/2026-11-22T08:00:03Z')).toBe(false);
      expect((await store.getIncident('inc_00001'))?.occurrences).toBe(2);
      await Promise.all([repeat, whole]);
      expect(await store.getIncident('inc_00001')).toEqual(
        incident(1, { occurrences: 3, state: 'accepted' }),
      );
      expect(store.eventCommitted('gate-1/3/2026-11-22T08:00:03Z')).toBe(true);
      expect((await store.listAudit({ limit: 5 })).map((entry) => entry.id)).toEqual(['aud_00001']);
      // A write still in its window when the store stops is written by the stop.
      await store.saveIncident(incident(3));
      const last = store.saveIncident(incident(2));
      await store.stop();
      await last;
      store = make();
      await store.start();
      expect(await store.getIncident('inc_00002')).toEqual(incident(2));
    } finally {
      await store.stop();
      await directory.remove();
    }
  });
});

describe('the embedded store’s event keys, in two generations', () => {
  const key = (n: number) => `gate-${n % 7}/${n}/2026-11-22T08:00:00Z`;

  it('keeps at most two generations whatever the rate: the oldest keys go whole, the newest stay, across a restart', async () => {
    const directory = temporaryDirectory('gridhub-store-');
    const make = () =>
      new LmdbStore({ dataDir: directory.path, deadLetterLimit: 100, eventKeysPerGeneration: 100 });
    let store = make();
    await store.start();
    try {
      for (let n = 1; n <= 350; n++) await store.saveRepeat(incident(1, { occurrences: n }), key(n));
      // 1–100 filled the first generation, 101–200 the second, 201–300 the first again (1–100 dropped), 301–350
      // the second (101–200 dropped): 201–350 are recognised.
      for (const n of [1, 100, 101, 200]) expect(store.eventCommitted(key(n))).toBe(false);
      for (const n of [201, 300, 301, 350]) expect(store.eventCommitted(key(n))).toBe(true);
      await store.stop();
      store = make();
      await store.start();
      for (const n of [201, 350]) expect(store.eventCommitted(key(n))).toBe(true);
      expect(store.eventCommitted(key(200))).toBe(false);
      // Written on after the restart, into the generation it was writing: the next 50 fill it, then 201–300 go.
      for (let n = 351; n <= 401; n++) await store.saveRepeat(incident(1, { occurrences: n }), key(n));
      expect(store.eventCommitted(key(300))).toBe(false);
      for (const n of [301, 400, 401]) expect(store.eventCommitted(key(n))).toBe(true);
    } finally {
      await store.stop();
      await directory.remove();
    }
  });

  it('recognises the keys a store kept before generations until the first turn, and none past the retention', async () => {
    const directory = temporaryDirectory('gridhub-store-');
    // As a hub of 2026-12-06 left it: one `events` table, key → when it was recorded, nothing else.
    let clock = Date.now();
    const before = open({ path: path.join(directory.path, 'gridhub.lmdb'), maxDbs: 16 });
    const events = before.openDB<number, string>({ name: 'events', encoding: 'msgpack' });
    await events.put(key(1), clock);
    await before.close();
    const store = new LmdbStore({
      dataDir: directory.path,
      deadLetterLimit: 100,
      eventKeyRetentionMs: 60_000,
      clock: () => clock,
    });
    await store.start();
    try {
      expect(store.eventCommitted(key(1))).toBe(true);
      await store.saveRepeat(incident(1, { occurrences: 2 }), key(2));
      clock += 20_000;
      expect(store.eventCommitted(key(1))).toBe(true);
      // Half the retention after the first key of the new generation, the generations turn: the old table is
      // the older generation, dropped whole; the new generation's keys are the older ones now.
      clock += 20_000;
      await store.saveRepeat(incident(1, { occurrences: 3 }), key(3));
      expect(store.eventCommitted(key(1))).toBe(false);
      expect(store.eventCommitted(key(2))).toBe(true);
      // Past the retention a key is not recognised, though its generation is not dropped yet.
      clock += 30_000;
      expect(store.eventCommitted(key(2))).toBe(false);
      expect(store.eventCommitted(key(3))).toBe(true);
    } finally {
      await store.stop();
      await directory.remove();
    }
  });
});
