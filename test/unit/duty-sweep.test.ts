import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { fixedPeople } from '../../src/core/user.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { DutySweep } from '../../src/patrols/duty-sweep.ts';
import { type DutyMiss, PatrolService } from '../../src/patrols/patrol-service.ts';
import { FakeStore } from '../helpers/fake-store.ts';
import { demoDeployment } from '../helpers/hub.ts';

const day = 86_400_000;
/** 2026-12-08 09:00 in Asia/Shanghai (the demo's zone). */
const morning = Date.parse('2026-12-08T01:00:00Z');

/** A duty sweep over the demo's patrol grids, on a store in memory, with a clock the test sets. */
async function sweepOver(createCase: (incident: Incident) => Promise<Incident>) {
  const deployment = demoDeployment();
  const store = new FakeStore();
  await store.start();
  let now = morning;
  const clock = () => now;
  const metrics = new MetricsRegistry();
  const patrols = new PatrolService({
    settings: { ...deployment.patrols, catchUpDays: 3 },
    store,
    router: { roster: () => undefined, onDuty: () => [] },
    jurisdiction: deployment.jurisdiction,
    people: fixedPeople(deployment.users),
    coordinates: deployment.map.coordinates,
    timezone: 'Asia/Shanghai',
    fallbackKey: 'unit-test-key-0123456789',
    metrics,
    now: clock,
  });
  const sweep = new DutySweep({
    patrols,
    incidents: { createCase },
    store,
    jurisdiction: deployment.jurisdiction,
    deadlineMs: () => 3600_000,
    metrics,
    logger: pino({ level: 'silent' }),
    now: clock,
  });
  return { store, sweep, at: (ms: number) => (now = ms) };
}

describe('the duty sweep', () => {
  it('judges the days missed since the last judged one, at most patrols.catchUpDays back', async () => {
    const created: Incident[] = [];
    const { store, sweep, at } = await sweepOver(async (incident) => {
      created.push(incident);
      return incident;
    });
    await sweep.sweep(morning);
    expect(created).toEqual([]);
    // Down for five days: the three days before the sixth morning are judged, the two before them are not.
    await sweep.sweep(at(morning + 5 * day));
    const dates = [...new Set(created.map((incident) => incident.event.attributes.date))].sort();
    expect(dates).toEqual(['2026-12-10', '2026-12-11', '2026-12-12']);
    expect(created).toHaveLength(3 * 3 * 2);
    expect(await store.getRecord('duty-sweeps', 'judged')).toEqual({ date: '2026-12-12' });
    await sweep.sweep(morning + 5 * day);
    expect(created).toHaveLength(18);
  });

  it('completes, under the recorded id, a miss whose case failed to be created, and never twice', async () => {
    const created: Incident[] = [];
    let failures = 1;
    const { store, sweep, at } = await sweepOver(async (incident) => {
      if (failures-- > 0) throw new Error('store unavailable');
      created.push(incident);
      return incident;
    });
    await sweep.sweep(morning);
    // 20:30: both deadlines passed; the first case's creation fails, the sweep stops there.
    await sweep.sweep(at(morning + 11.5 * 3600_000));
    expect(created).toEqual([]);
    const pending = (await store.listRecords<DutyMiss>('duty-misses', '')).map((record) => record.value);
    expect(pending).toHaveLength(1);
    expect(pending[0]?.pendingSince).toEqual(expect.any(String));
    await sweep.sweep(morning + 11.5 * 3600_000);
    expect(created.map((incident) => incident.id)).toContain(pending[0]?.incidentId);
    expect(new Set(created.map((incident) => incident.id)).size).toBe(6);
    expect(created).toHaveLength(6);
    const records = (await store.listRecords<DutyMiss>('duty-misses', '')).map((record) => record.value);
    expect(records.every((record) => record.pendingSince === undefined)).toBe(true);
    expect(await store.getRecord('duty-sweeps', 'judged')).toEqual({ date: '2026-12-08' });
  });
});
