import gcoord from 'gcoord';
import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { haversineM, judgeArrival, toWgs84 } from '../../src/field/geo.ts';
import { type Actor, applyAction, isRefusal, type LifecycleContext } from '../../src/incidents/lifecycle.ts';

const now = Date.parse('2026-12-07T08:00:00Z');
const worker: Actor = { userId: 'worker', role: 'grid_worker' };
const officer: Actor = { userId: 'officer', role: 'duty_officer' };
/** A device on the Bund, configured in GCJ-02 (read off AMap). */
const deviceGcj: [number, number] = [121.4903, 31.2416];
const settings = { coordinates: 'GCJ02', radiusM: 300, keepPositions: true } as const;
const context: LifecycleContext = {
  now,
  deadlineMs: () => 60 * 60_000,
  parentOf: () => undefined,
  arrivalOf: (incident, position) =>
    incident.device.location === undefined
      ? undefined
      : judgeArrival(incident.device.location, position, settings),
};

function incident(overrides: Partial<Incident> = {}): Incident {
  const at = new Date(now - 60_000).toISOString();
  return {
    id: 'inc_1',
    state: 'accepted',
    title: 'Door forced open',
    category: 'intrusion',
    severity: 'critical',
    device: {
      id: 'gate-1',
      name: 'Gate 1',
      adapter: 'gate-access',
      address: '中山东一路1号',
      location: deviceGcj,
    },
    event: { type: 'door.forced_open', occurredAt: at, attributes: {} },
    gridId: 'g1',
    chain: [{ id: 'g1', name: 'G1', level: 'grid' }],
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: ['worker'],
    handler: 'worker',
    responsibleNodeId: 'g1',
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: 0,
    timeline: {},
    ...overrides,
  };
}

function applied(result: ReturnType<typeof applyAction>): Incident {
  if (isRefusal(result)) throw new Error(result.reason);
  return result;
}

describe('distances', () => {
  it('measures a degree of latitude as about 111.2 km and a point as 0', () => {
    expect(haversineM([121, 31], [121, 32])).toBeGreaterThan(111_100);
    expect(haversineM([121, 31], [121, 32])).toBeLessThan(111_300);
    expect(haversineM([121.4903, 31.2416], [121.4903, 31.2416])).toBe(0);
  });

  it('converts GCJ-02 to WGS84 before measuring: the offset alone is hundreds of metres in Shanghai', () => {
    const wgs = toWgs84(deviceGcj, 'GCJ02');
    expect(haversineM(deviceGcj, wgs)).toBeGreaterThan(300);
    expect(toWgs84(deviceGcj, 'WGS84')).toEqual(deviceGcj);
    // A phone standing at the device (its GPS reads WGS84) is near, though the raw numbers differ by ~500 m.
    const atDevice = judgeArrival(deviceGcj, { lon: wgs[0], lat: wgs[1], accuracyM: 10 }, settings);
    expect(atDevice).toMatchObject({ distanceM: 0, accuracyM: 10, far: false });
  });

  it('flags an arrival farther than the radius plus the accuracy, and keeps the position only when asked', () => {
    const [lon, lat] = toWgs84(deviceGcj, 'GCJ02');
    // ~444 m north.
    const away = { lon, lat: lat + 0.004 };
    expect(judgeArrival(deviceGcj, { ...away, accuracyM: 20 }, settings).far).toBe(true);
    expect(judgeArrival(deviceGcj, { ...away, accuracyM: 200 }, settings).far).toBe(false);
    expect(judgeArrival(deviceGcj, away, settings).position).toEqual(away);
    expect(judgeArrival(deviceGcj, away, { ...settings, keepPositions: false })).not.toHaveProperty(
      'position',
    );
    const wgsDevice = gcoord.transform(deviceGcj, gcoord.GCJ02, gcoord.WGS84) as [number, number];
    expect(judgeArrival(wgsDevice, away, { ...settings, coordinates: 'WGS84' }).distanceM).toBeGreaterThan(
      440,
    );
  });
});

describe('the lifecycle keeps the arrival and the returned note', () => {
  it('arrive with a far position is on site, flagged far; without one it carries no arrival', () => {
    const [lon, lat] = toWgs84(deviceGcj, 'GCJ02');
    const far = applied(
      applyAction(
        incident(),
        'arrive',
        worker,
        { position: { lon: lon + 0.01, lat, accuracyM: 15 } },
        context,
      ),
    );
    expect(far.state).toBe('on_site');
    expect(far.arrival).toMatchObject({ far: true, accuracyM: 15 });
    expect(far.arrival?.distanceM).toBeGreaterThan(900);
    const none = applied(applyAction(incident({ arrival: far.arrival }), 'arrive', worker, {}, context));
    expect(none).not.toHaveProperty('arrival');
    // A device without a location cannot be measured against.
    const unplaced = incident({ device: { id: 'gate-2', name: 'Gate 2', adapter: 'gate-access' } });
    expect(
      applied(applyAction(unplaced, 'arrive', worker, { position: { lon, lat } }, context)),
    ).not.toHaveProperty('arrival');
  });

  it('a rejected verification keeps its note as returned, through the next resolve, replaced by the next reject', () => {
    const resolved = applied(
      applyAction(incident({ state: 'on_site' }), 'resolve', worker, { note: 'done' }, context),
    );
    const rejected = applied(applyAction(resolved, 'reject', officer, { note: '请补充现场照片' }, context));
    expect(rejected.returned).toEqual({
      userId: 'officer',
      at: new Date(now).toISOString(),
      note: '请补充现场照片',
    });
    expect(rejected.reworks).toBe(1);
    expect(rejected.state).toBe('accepted');
    const again = applied(applyAction(rejected, 'resolve', worker, { note: 'photos added' }, context));
    expect(again.returned?.note).toBe('请补充现场照片');
    const second = applied(applyAction(again, 'reject', officer, { note: '门锁仍未修好' }, context));
    expect(second).toMatchObject({ reworks: 2, returned: { note: '门锁仍未修好' } });
    expect(isRefusal(applyAction(again, 'reject', officer, {}, context))).toBe(true);
  });
});
