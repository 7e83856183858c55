import { describe, expect, it } from 'vitest';
import { TypedBus } from '../../src/core/bus.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import type { WorkerPosition } from '../../src/core/position.ts';
import type { Principal } from '../../src/core/principal.ts';
import type { RosterDescription } from '../../src/core/roster.ts';
import { fixedPeople } from '../../src/core/user.ts';
import { Router } from '../../src/incidents/router.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { positionsSchema } from '../../src/positions/position-schema.ts';
import { WorkerPositions } from '../../src/positions/worker-positions.ts';
import { FakeStore } from '../helpers/fake-store.ts';
import { demoDeployment } from '../helpers/hub.ts';

const deployment = demoDeployment();
/** 2026-12-07 (a Monday) at these hours in Shanghai (UTC+8). */
const shanghai = (hour: number, minute = 0) => Date.UTC(2026, 11, 7, hour - 8, minute);

const worker04: Principal = {
  userId: 'worker-xijiao-04',
  name: '吴敏 Wu Min',
  role: 'grid_worker',
  scopeNodeIds: ['grid-xijiao-04'],
};
const chief: Principal = {
  userId: 'chief-xijiao',
  name: '马超 Ma Chao',
  role: 'grid_chief',
  scopeNodeIds: ['grid-xijiao-01', 'grid-xijiao-02', 'grid-xijiao-03', 'grid-xijiao-04', 'grid-xijiao-05'],
};

async function positionsWith(rosters: RosterDescription[], clock: { now: number }) {
  const router = new Router(fixedPeople(deployment.users), rosters, deployment.routing, 'Asia/Shanghai');
  const bus = new TypedBus<HubBusEvents>();
  const pushed: WorkerPosition[] = [];
  bus.on('worker:position', (position) => pushed.push(position));
  const store = new FakeStore();
  await store.start();
  const positions = new WorkerPositions({
    settings: positionsSchema.parse({}),
    store,
    router,
    jurisdiction: deployment.jurisdiction,
    bus,
    metrics: new MetricsRegistry(),
    logger: createLogger('silent'),
    now: () => clock.now,
  });
  return { positions, pushed };
}

describe('who is on duty for sharing a position', () => {
  it("follows a roster's shift across midnight", async () => {
    const clock = { now: shanghai(2) };
    const { positions } = await positionsWith(
      [{ grid: 'grid-xijiao-04', shifts: [{ users: ['worker-xijiao-04'], from: '20:00', to: '08:00' }] }],
      clock,
    );
    expect(positions.onDuty(worker04, shanghai(2))).toBe(true);
    expect(positions.onDuty(worker04, shanghai(21, 30))).toBe(true);
    expect(positions.onDuty(worker04, shanghai(12))).toBe(false);
  });

  it('has every worker of a grid without a roster on duty, and a chief of rostered grids only when named', async () => {
    const clock = { now: shanghai(12) };
    expect((await positionsWith([], clock)).positions.onDuty(chief)).toBe(true);
    const everyGridRostered = chief.scopeNodeIds.map((grid) => ({
      grid,
      shifts: [{ users: ['worker-xijiao-relief'], from: '00:00', to: '00:00' }],
    }));
    expect((await positionsWith(everyGridRostered, clock)).positions.onDuty(chief)).toBe(false);
    const named = everyGridRostered.map((roster, index) =>
      index === 2 ? { ...roster, shifts: [{ users: ['chief-xijiao'], from: '09:00', to: '17:00' }] } : roster,
    );
    expect((await positionsWith(named, clock)).positions.onDuty(chief)).toBe(true);
  });
});

describe('a position report', () => {
  const inGrid = { lon: 116.304, lat: 39.928, accuracyM: 10 };

  it('waits the interval, measured from the last kept one, and says how long is left', async () => {
    const clock = { now: shanghai(12) };
    const { positions, pushed } = await positionsWith([], clock);
    await positions.setSharing(worker04, true);
    const at = () => new Date(clock.now).toISOString();
    await positions.report(worker04, { ...inGrid, at: at() }, () => {});
    clock.now += 12_400;
    const waits: number[] = [];
    await expect(
      positions.report(worker04, { ...inGrid, at: at() }, (s) => waits.push(s)),
    ).rejects.toMatchObject({
      code: 'position_too_frequent',
    });
    expect(waits).toEqual([18]);
    clock.now += 17_600;
    await positions.report(worker04, { ...inGrid, at: at() }, () => {});
    expect(pushed.map((position) => position.userId)).toEqual(['worker-xijiao-04', 'worker-xijiao-04']);
  });

  it('takes a position a little outside the grids (the margin) and refuses one farther', async () => {
    const clock = { now: shanghai(12) };
    const { positions } = await positionsWith([], clock);
    await positions.setSharing(worker04, true);
    // The demo's grids reach down to latitude 39.911 (Luming); 1 km and 3 km south of that.
    const south = (metres: number) => 39.911 - metres / 111_320;
    const at = () => new Date(clock.now).toISOString();
    await expect(
      positions.report(worker04, { ...inGrid, lat: south(3000), at: at() }, () => {}),
    ).rejects.toMatchObject({ code: 'position_out_of_bounds' });
    await expect(
      positions.report(worker04, { ...inGrid, lat: south(1000), at: at() }, () => {}),
    ).resolves.toMatchObject({ userId: 'worker-xijiao-04' });
  });
});
