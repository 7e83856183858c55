import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment } from '../../src/config/load.ts';
import { timeOrderedId } from '../../src/core/ids.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { DutyMiss } from '../../src/patrols/patrol-service.ts';
import {
  demoConfig,
  deploymentOf,
  type MovableClock,
  movableClock,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';
import { moveTo, shanghai } from '../helpers/local-clock.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

/**
 * The duty sweep after the hub was down (#25 point 5): real hubs stopped and started again on the same store (an
 * LMDB directory, a Redis key prefix), with a clock the test moves across days. Each missed day since the last one
 * judged is raised once, at most patrols.catchUpDays back; a miss whose case a crash left unraised is completed once.
 */

const day = 86_400_000;
const patrolGrids = ['grid-luming-01', 'grid-xijiao-01', 'grid-xijiao-02'];
const kinds = ['patrol', 'zero_report'];

/** Each grid/date/kind of the duty cases in the store, sorted; a case raised twice shows twice. */
async function dutyKeys(hub: TestHub): Promise<string[]> {
  const cases = (await hub.testHandle.store.listActiveIncidents()).filter(
    (incident: Incident) => incident.category === 'duty_missed',
  );
  return cases
    .map(({ gridId, event }) => `${gridId}/${event.attributes.date}/${event.attributes.kind}`)
    .sort();
}

/** Every grid and kind of these dates, as dutyKeys lists them. */
function everyMiss(dates: readonly string[]): string[] {
  return dates
    .flatMap((date) => patrolGrids.flatMap((grid) => kinds.map((kind) => `${grid}/${date}/${kind}`)))
    .sort();
}

/** The local dates `from` … `from + count - 1` days. */
function datesFrom(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, index) => shanghai(from + index * day).date);
}

interface StoreUnderTest {
  readonly name: string;
  /** A hub on the store, as often as the test restarts it. */
  readonly start: (clock: MovableClock, catchUpDays?: number) => Promise<TestHub>;
  readonly cleanUp: () => Promise<void>;
  /** How long a pending miss waits before another start completes it (pendingGraceMs). */
  readonly graceMs: number;
}

function withCatchUp(config: Record<string, unknown>, catchUpDays: number | undefined): void {
  if (catchUpDays !== undefined)
    config.patrols = { ...(config.patrols as Record<string, unknown>), catchUpDays };
}

function lmdb(): StoreUnderTest {
  const directory = temporaryDirectory('gridhub-duty-catch-up-');
  return {
    name: 'an LMDB directory',
    start: (clock, catchUpDays) => {
      const config = demoConfig() as unknown as Record<string, unknown>;
      withCatchUp(config, catchUpDays);
      return startTestHub({ clock: clock.now, dataDir: directory.path, deployment: deploymentOf(config) });
    },
    cleanUp: async () => directory.remove(),
    graceMs: 0,
  };
}

function redis(name: string): StoreUnderTest {
  const keyPrefix = testKeyPrefix(name);
  return {
    name: 'a Redis key prefix',
    start: (clock, catchUpDays) => {
      const deployment: Deployment = redisDeployment(keyPrefix, (config) => withCatchUp(config, catchUpDays));
      return startTestHub({ clock: clock.now, deployment });
    },
    cleanUp: () => deleteRedisKeys(keyPrefix),
    graceMs: 5 * 60_000,
  };
}

describe.each([
  ['lmdb', lmdb],
  ['redis', () => redis('duty-catch-up')],
])('the duty sweep catching up on %s', (_name, make) => {
  const store = make();
  const running: TestHub[] = [];
  let clock: MovableClock;
  let firstDay: number;

  const start = async (catchUpDays?: number) => {
    const hub = await store.start(clock, catchUpDays);
    running.push(hub);
    return hub;
  };
  const stop = async (hub: TestHub) => {
    running.splice(running.indexOf(hub), 1);
    await hub.stop();
  };

  beforeAll(() => {
    clock = movableClock();
    moveTo(clock, 9 * 60);
    firstDay = clock.now();
  });

  afterAll(async () => {
    for (const hub of running.splice(0)) await hub.stop();
    await store.cleanUp();
  });

  it(`judges each day missed while the hub was down, once, across restarts (${store.name})`, async () => {
    let hub = await start();
    await hub.testHandle.dutySweep.sweep(clock.now());
    expect(await dutyKeys(hub)).toEqual([]);
    // Its first sweep starts judging from today: yesterday counts as judged.
    expect(await hub.testHandle.store.getRecord('duty-sweeps', 'judged')).toEqual({
      date: shanghai(firstDay - day).date,
    });
    await stop(hub);
    // Down for three days: started again on the fourth morning, before its deadlines.
    clock.moveOn(3 * day);
    hub = await start();
    const down = datesFrom(firstDay, 3);
    if (store.graceMs > 0) {
      // Two siblings sharing the store catch up at once: each miss is still raised by one of them only.
      const sibling = await start();
      await Promise.all([
        hub.testHandle.dutySweep.sweep(clock.now()),
        sibling.testHandle.dutySweep.sweep(clock.now()),
      ]);
      await stop(sibling);
    } else {
      await hub.testHandle.dutySweep.sweep(clock.now());
    }
    expect(await dutyKeys(hub)).toEqual(everyMiss(down));
    // The mark moves over the days once each miss is settled (a sibling's, raised meanwhile, on its next sweep).
    await hub.testHandle.dutySweep.sweep(clock.now());
    expect(await hub.testHandle.store.getRecord('duty-sweeps', 'judged')).toEqual({ date: down[2] });
    expect(await dutyKeys(hub)).toEqual(everyMiss(down));
    await stop(hub);
    hub = await start();
    await hub.testHandle.dutySweep.sweep(clock.now());
    expect(await dutyKeys(hub)).toEqual(everyMiss(down));
    await stop(hub);
  });

  it(`judges at most patrols.catchUpDays back (${store.name})`, async () => {
    // The store judged up to yesterday morning's date (the last test); down five more days, catching up two.
    clock.moveOn(5 * day);
    const hub = await start(2);
    const before = await dutyKeys(hub);
    await hub.testHandle.dutySweep.sweep(clock.now());
    const added = (await dutyKeys(hub)).filter((key) => !before.includes(key));
    const lastTwo = datesFrom(clock.now() - 2 * day, 2);
    expect(added).toEqual(everyMiss(lastTwo));
    await stop(hub);
  });

  it(`completes a miss a crash left without its case, once (${store.name})`, async () => {
    // Past both deadlines of the day; a crashed raise left two intents: one before its case, one after it.
    moveTo(clock, 20 * 60 + 30);
    const date = shanghai(clock.now()).date;
    let hub = await start();
    const records = hub.testHandle.store;
    const pendingSince = new Date(clock.now()).toISOString();
    const intent = (
      kind: 'patrol' | 'zero_report',
      incidentId: string,
    ): DutyMiss & { pendingSince: string } => ({
      gridId: 'grid-xijiao-02',
      date,
      kind,
      userIds: ['worker-xijiao-02'],
      incidentId,
      pendingSince,
    });
    const lost = intent('patrol', timeOrderedId('inc', clock.now()));
    const raised = intent('zero_report', timeOrderedId('inc', clock.now()));
    const expires = clock.now() + 30 * day;
    await records.putRecord('duty-misses', `grid-xijiao-02/${date}/patrol`, lost, expires);
    await records.putRecord('duty-misses', `grid-xijiao-02/${date}/zero_report`, raised, expires);
    const chain = hub.hub.deployment.jurisdiction.grid('grid-xijiao-02')?.chain ?? [];
    const at = new Date(clock.now()).toISOString();
    await records.saveIncident({
      id: raised.incidentId,
      state: 'dispatched',
      title: '未报零报告',
      category: 'duty_missed',
      severity: 'warning',
      device: { id: 'case-source:patrol', name: '巡查考勤', adapter: 'people' },
      event: { type: 'duty.missed.zero_report', occurredAt: at, attributes: { kind: 'zero_report', date } },
      gridId: 'grid-xijiao-02',
      chain,
      createdAt: at,
      updatedAt: at,
      occurrences: 1,
      lastOccurredAt: at,
      related: [],
      assignees: ['chief-xijiao'],
      handler: null,
      responsibleNodeId: 'grid-xijiao-02',
      escalations: 0,
      dueAt: null,
      dueStage: null,
      reworks: 0,
      timeline: {},
    });
    await stop(hub);
    hub = await start();
    await hub.testHandle.dutySweep.sweep(clock.now());
    const mine = (keys: string[]) => keys.filter((key) => key.startsWith(`grid-xijiao-02/${date}/`));
    if (store.graceMs > 0) {
      // Shared: a pending miss this young may be a sibling's raise under way; it waits out the grace.
      expect(mine(await dutyKeys(hub))).toEqual([`grid-xijiao-02/${date}/zero_report`]);
      expect(await hub.testHandle.store.getRecord('duty-misses', `grid-xijiao-02/${date}/patrol`)).toEqual(
        lost,
      );
      clock.moveOn(store.graceMs + 60_000);
      await hub.testHandle.dutySweep.sweep(clock.now());
    }
    expect(mine(await dutyKeys(hub))).toEqual([
      `grid-xijiao-02/${date}/patrol`,
      `grid-xijiao-02/${date}/zero_report`,
    ]);
    const { pendingSince: _lost, ...completed } = lost;
    const { pendingSince: _raised, ...kept } = raised;
    expect(await hub.testHandle.store.getRecord('duty-misses', `grid-xijiao-02/${date}/patrol`)).toEqual(
      completed,
    );
    expect(await hub.testHandle.store.getRecord('duty-misses', `grid-xijiao-02/${date}/zero_report`)).toEqual(
      kept,
    );
    expect((await hub.testHandle.store.getIncident(lost.incidentId))?.title).toContain('巡查未完成');
    await stop(hub);
    hub = await start();
    await hub.testHandle.dutySweep.sweep(clock.now());
    expect(mine(await dutyKeys(hub))).toHaveLength(2);
    await stop(hub);
  });
});
