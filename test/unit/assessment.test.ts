import { describe, expect, it } from 'vitest';
import type { Incident, IncidentState } from '../../src/core/incident.ts';
import {
  type Assessment,
  assess,
  assessmentCsv,
  assessmentCsvColumns,
  type Figures,
  figuresOf,
  nearestRank,
  rate,
} from '../../src/incidents/assessment.ts';

/** All times in these tests are minutes after this instant. */
const t0 = Date.parse('2026-11-01T00:00:00.000Z');
const minute = (minutes: number): number => t0 + minutes * 60_000;
const iso = (minutes: number): string => new Date(minute(minutes)).toISOString();

/** November 2026 in minutes after t0. */
const november = { from: minute(0), to: minute(30 * 24 * 60) };

const grids = {
  a: { id: 'grid-a', name: 'A网格 Grid A' },
  b: { id: 'grid-b', name: 'B网格 Grid B' },
} as const;

interface Story {
  readonly grid?: keyof typeof grids;
  /** Minutes after t0. */
  readonly created?: number;
  readonly accepted?: number;
  readonly resolved?: number;
  readonly closed?: number;
  readonly state?: IncidentState;
  readonly handler?: string | null;
  readonly reworks?: number;
  /** How many times a centre supervised (督办) it, a minute apart after creation. */
  readonly supervisions?: number;
  /** Minutes from creation; the demo's defaults. Null leaves the deadline out of the timeline. */
  readonly acceptWithin?: number | null;
  readonly resolveWithin?: number | null;
}

let serial = 0;

/** A complete incident told as a story in minutes: what happened when, and the state it ended in. */
function incident(story: Story = {}): Incident {
  const grid = grids[story.grid ?? 'a'];
  const created = story.created ?? 0;
  const acceptWithin = story.acceptWithin === undefined ? 10 : story.acceptWithin;
  const resolveWithin = story.resolveWithin === undefined ? 240 : story.resolveWithin;
  const state =
    story.state ??
    (story.closed !== undefined
      ? 'closed'
      : story.resolved !== undefined
        ? 'resolved'
        : story.accepted !== undefined
          ? 'accepted'
          : 'dispatched');
  const handler =
    story.handler === undefined ? (story.accepted === undefined ? null : 'worker-1') : story.handler;
  serial += 1;
  return {
    id: `inc_test${String(serial).padStart(6, '0')}`,
    state,
    title: 'Door forced open',
    category: 'intrusion',
    severity: 'critical',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: iso(created), attributes: { door: 1 } },
    gridId: grid.id,
    chain: [
      { id: grid.id, name: grid.name, level: 'grid' },
      { id: 'community-x', name: 'X社区', level: 'community' },
      { id: 'street-x', name: 'X街道', level: 'street' },
      { id: 'district-x', name: 'X区', level: 'district' },
    ],
    createdAt: iso(created),
    updatedAt: iso(story.closed ?? story.resolved ?? story.accepted ?? created),
    occurrences: 1,
    lastOccurredAt: iso(created),
    related: [],
    assignees: handler === null ? ['worker-1'] : [handler],
    handler,
    responsibleNodeId: grid.id,
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: story.reworks ?? 0,
    timeline: {
      dispatchedAt: iso(created),
      ...(acceptWithin === null ? {} : { acceptBy: iso(created + acceptWithin) }),
      ...(resolveWithin === null ? {} : { resolveBy: iso(created + resolveWithin) }),
      ...(story.accepted === undefined ? {} : { acceptedAt: iso(story.accepted) }),
      ...(story.resolved === undefined ? {} : { resolvedAt: iso(story.resolved) }),
      ...(story.closed === undefined ? {} : { closedAt: iso(story.closed) }),
    },
    ...(story.resolved === undefined
      ? {}
      : { resolvedAt: iso(story.resolved), resolvedBy: handler ?? 'system' }),
    ...(story.supervisions === undefined
      ? {}
      : {
          supervisions: Array.from({ length: story.supervisions }, (_, n) => ({
            nodeId: 'community-x',
            userId: 'officer-x',
            at: iso(created + n + 1),
            note: 'report back',
          })),
        }),
  };
}

const noFigures: Figures = {
  incidents: 0,
  accepted: 0,
  closed: 0,
  resolved: 0,
  falseAlarms: 0,
  cancelled: 0,
  onTimeAcceptanceRate: null,
  onTimeClosureRate: null,
  closureRate: null,
  responseSeconds: { p50: null, p90: null },
  closureSeconds: { p50: null, p90: null },
  reworks: 0,
  supervised: 0,
  supervisions: 0,
};

describe('assess: counts and rates', () => {
  it('assesses an empty period as zeros and nulls, still listing the grids it is told about', () => {
    const assessment = assess([], november, november.to, [grids.b, grids.a]);
    expect(assessment).toEqual<Assessment>({
      period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
      asOf: '2026-12-01T00:00:00.000Z',
      overall: noFigures,
      grids: [
        { gridId: 'grid-a', gridName: 'A网格 Grid A', figures: noFigures },
        { gridId: 'grid-b', gridName: 'B网格 Grid B', figures: noFigures },
      ],
      workers: [],
    });
    expect(assess([], november)).toMatchObject({ overall: noFigures, grids: [], workers: [] });
  });

  it('counts incidents, acceptances, resolutions, closures, false alarms and cancellations', () => {
    const incidents = [
      incident({ accepted: 5, resolved: 60, closed: 90 }),
      incident({ accepted: 5, resolved: 60 }),
      incident({ accepted: 5 }),
      incident({}),
      incident({ accepted: 3, state: 'false_alarm', closed: 4 }),
      incident({ state: 'cancelled', closed: 2 }),
    ];
    const { overall } = assess(incidents, november);
    expect(overall).toMatchObject({
      incidents: 6,
      accepted: 4,
      closed: 1,
      resolved: 2,
      falseAlarms: 1,
      cancelled: 1,
    });
  });

  it('judges acceptance on time up to and including acceptBy, and late after it', () => {
    const incidents = [
      incident({ accepted: 5 }), // on time
      incident({ accepted: 10 }), // on time: exactly at acceptBy
      incident({ accepted: 11 }), // late
      incident({ accepted: 30, acceptWithin: null }), // no deadline: not judged
    ];
    expect(assess(incidents, november).overall.onTimeAcceptanceRate).toBe(0.6667);
  });

  it('counts a never-accepted incident late once acceptBy passed before asOf, and not before', () => {
    const waiting = incident({ created: 100 }); // acceptBy at 110, nobody took it
    const onTime = incident({ accepted: 2 });
    // Judged at the end of the period (the default): late, so 1 of 2 on time.
    expect(assess([waiting, onTime], november).overall.onTimeAcceptanceRate).toBe(0.5);
    expect(assess([waiting, onTime], november, minute(111)).overall.onTimeAcceptanceRate).toBe(0.5);
    // Judged at 110 exactly (the deadline) or earlier: not late yet, so not judged.
    expect(assess([waiting, onTime], november, minute(110)).overall.onTimeAcceptanceRate).toBe(1);
    expect(assess([waiting], november, minute(105)).overall.onTimeAcceptanceRate).toBeNull();
  });

  it('judges an incident that ended unaccepted by whether it ended before its acceptBy', () => {
    const incidents = [
      incident({ state: 'false_alarm', closed: 5 }), // ended in time: not judged
      incident({ state: 'cancelled', closed: 20 }), // waited past acceptBy (10): late
      incident({ resolved: 8, state: 'resolved', handler: null }), // cleared by the device in time: not judged
      incident({ resolved: 12, state: 'resolved', handler: null }), // cleared after acceptBy: late
      incident({ accepted: 1, state: 'false_alarm', closed: 3 }), // accepted in time
    ];
    expect(assess(incidents, november).overall.onTimeAcceptanceRate).toBe(0.3333);
  });

  it('judges resolution by resolveBy: on time, late, overdue unresolved as of asOf, rework by its last resolution', () => {
    const incidents = [
      incident({ accepted: 1, resolved: 100 }), // on time
      incident({ accepted: 1, resolved: 240, closed: 300 }), // on time: exactly at resolveBy
      incident({ accepted: 1, resolved: 241, reworks: 1 }), // late: resolved again after the rework
      incident({ created: 1000, accepted: 1001 }), // resolveBy 1240: late as of the period's end
      incident({ accepted: 1, state: 'false_alarm', closed: 500 }), // false alarm: not judged
      incident({ state: 'cancelled', closed: 500 }), // cancelled: not judged
      incident({ accepted: 1, resolved: 300, resolveWithin: null }), // no deadline: not judged
    ];
    expect(assess(incidents, november).overall.onTimeClosureRate).toBe(0.5);
    // As of 1240 the open one is not late yet: 2 of 3 judged on time.
    expect(assess(incidents, november, minute(1240)).overall.onTimeClosureRate).toBe(0.6667);
  });

  it('computes the closure rate without false alarms and cancellations in the denominator', () => {
    const incidents = [
      incident({ accepted: 1, resolved: 20, closed: 30 }),
      incident({ accepted: 1, resolved: 20 }),
      incident({ accepted: 1 }),
      incident({ accepted: 1, state: 'false_alarm', closed: 2 }),
      incident({ state: 'cancelled', closed: 2 }),
    ];
    expect(assess(incidents, november).overall.closureRate).toBe(0.6667);
    const onlyFalseAlarms = [
      incident({ state: 'false_alarm', closed: 2 }),
      incident({ state: 'cancelled', closed: 2 }),
    ];
    expect(assess(onlyFalseAlarms, november).overall).toMatchObject({
      closureRate: null,
      onTimeClosureRate: null,
      falseAlarms: 1,
      cancelled: 1,
    });
  });

  it('sums reworks', () => {
    const incidents = [
      incident({ accepted: 1, resolved: 20, reworks: 2 }),
      incident({ accepted: 1, reworks: 1 }),
      incident({}),
    ];
    expect(assess(incidents, november).overall.reworks).toBe(3);
  });

  it('counts the incidents supervised at least once and their supervisions, overall, per grid and per handler', () => {
    const incidents = [
      incident({ grid: 'a', accepted: 1, handler: 'worker-zhao', supervisions: 2 }),
      incident({ grid: 'a', supervisions: 1 }),
      // An ended case keeps the supervisions it had while open.
      incident({ grid: 'b', accepted: 1, resolved: 20, closed: 30, handler: 'worker-zhao', supervisions: 3 }),
      incident({ grid: 'b', supervisions: 0 }),
      incident({ grid: 'b' }),
    ];
    const assessment = assess(incidents, november);
    expect(assessment.overall).toMatchObject({ supervised: 3, supervisions: 6 });
    expect(
      assessment.grids.map((grid) => [grid.gridId, grid.figures.supervised, grid.figures.supervisions]),
    ).toEqual([
      ['grid-a', 2, 3],
      ['grid-b', 1, 3],
    ]);
    expect(assessment.workers).toEqual([
      expect.objectContaining({
        userId: 'worker-zhao',
        figures: expect.objectContaining({ supervised: 2, supervisions: 5 }),
      }),
    ]);
  });

  it('rounds rates to 4 decimals and answers null for a zero denominator', () => {
    expect(rate(1, 3)).toBe(0.3333);
    expect(rate(2, 3)).toBe(0.6667);
    expect(rate(1, 8)).toBe(0.125);
    expect(rate(0, 5)).toBe(0);
    expect(rate(0, 0)).toBeNull();
  });
});

describe('assess: response and closure times', () => {
  it('takes nearest-rank percentiles: ⌈p/100 × n⌉-th of the sorted values', () => {
    expect(nearestRank([], 50)).toBeNull();
    expect(nearestRank([42], 50)).toBe(42);
    expect(nearestRank([42], 90)).toBe(42);
    expect(nearestRank([3, 7], 50)).toBe(3);
    expect(nearestRank([3, 7], 90)).toBe(7);
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(nearestRank(ten, 50)).toBe(5);
    expect(nearestRank(ten, 90)).toBe(9);
    expect(nearestRank(ten, 100)).toBe(10);
    expect(nearestRank(ten, 0)).toBe(1);
    // Rank 0.9 × 6 = 5.4 rounds up to the 6th, never to the nearer 5th.
    expect(nearestRank([10, 20, 30, 40, 50, 60], 90)).toBe(60);
    expect(nearestRank([10, 20, 30, 40, 50, 60], 50)).toBe(30);
  });

  it('measures response from creation to acceptance, in seconds, for 1, 2 and 10 incidents', () => {
    const one = [incident({ created: 0, accepted: 2 })];
    expect(figuresOf(one, november.to).responseSeconds).toEqual({ p50: 120, p90: 120 });
    const two = [incident({ created: 5, accepted: 8 }), incident({ created: 0, accepted: 1 })];
    expect(figuresOf(two, november.to).responseSeconds).toEqual({ p50: 60, p90: 180 });
    // Accepted after 10, 9, … 1 minutes, given out of order.
    const ten = [7, 3, 10, 1, 5, 9, 2, 8, 6, 4].map((after) => incident({ created: 0, accepted: after }));
    expect(figuresOf(ten, november.to).responseSeconds).toEqual({ p50: 300, p90: 540 });
  });

  it('measures closure from creation to the last resolution, of resolved and closed incidents only', () => {
    const incidents = [
      incident({ created: 0, accepted: 1, resolved: 30 }),
      incident({ created: 10, accepted: 11, resolved: 40, closed: 50 }),
      incident({ created: 0, accepted: 1, resolved: 90, reworks: 1 }),
      incident({ created: 0, accepted: 1 }), // unresolved
      incident({ created: 0, accepted: 1, resolved: 5, state: 'cancelled', closed: 6 }), // cancelled after resolving
    ];
    const { closureSeconds, responseSeconds } = figuresOf(incidents, november.to);
    expect(closureSeconds).toEqual({ p50: 1800, p90: 5400 });
    // Every accepted incident has a response time, the cancelled one included: 60 × 5.
    expect(responseSeconds).toEqual({ p50: 60, p90: 60 });
    const fractional = incident({ created: 0 });
    const withMilliseconds = {
      ...fractional,
      timeline: { ...fractional.timeline, acceptedAt: new Date(minute(0) + 1_234).toISOString() },
    };
    expect(figuresOf([withMilliseconds], november.to).responseSeconds).toEqual({ p50: 1.234, p90: 1.234 });
  });
});

describe('assess: grids, workers and the period', () => {
  it('splits the figures per grid and per handler, sorted by id; unaccepted incidents count for no worker', () => {
    const incidents = [
      incident({ grid: 'b', accepted: 20, resolved: 60, closed: 70, handler: 'worker-zhao', reworks: 1 }),
      incident({ grid: 'a', accepted: 5, resolved: 30, handler: 'worker-zhao' }),
      incident({ grid: 'a', accepted: 3, handler: 'worker-huang' }),
      incident({ grid: 'a' }),
    ];
    const assessment = assess(incidents, november);
    expect(assessment.overall).toMatchObject({
      incidents: 4,
      accepted: 3,
      resolved: 2,
      closed: 1,
      reworks: 1,
    });
    expect(assessment.grids.map((grid) => [grid.gridId, grid.gridName])).toEqual([
      ['grid-a', 'A网格 Grid A'],
      ['grid-b', 'B网格 Grid B'],
    ]);
    const [gridA, gridB] = assessment.grids;
    expect(gridA?.figures).toEqual<Figures>({
      incidents: 3,
      accepted: 2,
      closed: 0,
      resolved: 1,
      falseAlarms: 0,
      cancelled: 0,
      // On time: 5 and 3; late: the one nobody took (acceptBy passed long before the end of the period).
      onTimeAcceptanceRate: 0.6667,
      // Resolved at 30 on time; two unresolved and past resolveBy at the period's end.
      onTimeClosureRate: 0.3333,
      closureRate: 0.3333,
      responseSeconds: { p50: 180, p90: 300 },
      closureSeconds: { p50: 1800, p90: 1800 },
      reworks: 0,
      supervised: 0,
      supervisions: 0,
    });
    expect(gridB?.figures).toMatchObject({
      incidents: 1,
      accepted: 1,
      closed: 1,
      resolved: 1,
      onTimeAcceptanceRate: 0,
      onTimeClosureRate: 1,
      closureRate: 1,
      reworks: 1,
    });
    expect(assessment.workers.map((worker) => worker.userId)).toEqual(['worker-huang', 'worker-zhao']);
    const [huang, zhao] = assessment.workers;
    expect(huang?.figures).toMatchObject({
      incidents: 1,
      accepted: 1,
      resolved: 0,
      onTimeAcceptanceRate: 1,
      onTimeClosureRate: 0,
      closureRate: 0,
    });
    expect(zhao?.figures).toMatchObject({
      incidents: 2,
      accepted: 2,
      resolved: 2,
      closed: 1,
      onTimeAcceptanceRate: 0.5,
      onTimeClosureRate: 1,
      closureRate: 1,
      responseSeconds: { p50: 300, p90: 1200 },
      closureSeconds: { p50: 1800, p90: 3600 },
      reworks: 1,
    });
  });

  it('names a grid missing from the list after the incident chain and keeps listed grids without incidents', () => {
    const assessment = assess([incident({ grid: 'b' })], november, november.to, [grids.a]);
    expect(assessment.grids.map((grid) => [grid.gridId, grid.gridName, grid.figures.incidents])).toEqual([
      ['grid-a', 'A网格 Grid A', 0],
      ['grid-b', 'B网格 Grid B', 1],
    ]);
  });

  it('takes incidents created from `from` inclusive to `to` exclusive', () => {
    const atFrom = incident({ created: 0 });
    const justBefore = { ...incident({}), createdAt: new Date(november.from - 1).toISOString() };
    const lastMillisecond = { ...incident({}), createdAt: new Date(november.to - 1).toISOString() };
    const atTo = { ...incident({}), createdAt: new Date(november.to).toISOString() };
    const assessment = assess([justBefore, atFrom, lastMillisecond, atTo], november);
    expect(assessment.overall.incidents).toBe(2);
    expect(assessment.grids).toEqual([
      expect.objectContaining({ gridId: 'grid-a', figures: expect.objectContaining({ incidents: 2 }) }),
    ]);
    expect(assess([atTo], { from: november.to, to: november.to + 1 }).overall.incidents).toBe(1);
  });
});

describe('assessmentCsv', () => {
  it('writes one header row, a row per grid, then a row per worker, quoting where needed', () => {
    const incidents = [
      incident({ grid: 'a', accepted: 5, resolved: 30, handler: 'worker-zhao' }),
      incident({ grid: 'b', supervisions: 2 }),
    ];
    const assessment = assess(incidents, november, november.to, [
      grids.a,
      { id: 'grid-b', name: 'B, "the east" grid' },
    ]);
    const text = assessmentCsv(assessment);
    expect(text.startsWith('\uFEFF')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const lines = text.slice(1).split('\r\n').slice(0, -1);
    expect(lines).toEqual([
      assessmentCsvColumns.join(','),
      'grid,grid-a,A网格 Grid A,1,1,0,1,0,0,1,1,1,300,300,1800,1800,0,0,0',
      'grid,grid-b,"B, ""the east"" grid",1,0,0,0,0,0,0,0,0,,,,,0,1,2',
      'worker,worker-zhao,,1,1,0,1,0,0,1,1,1,300,300,1800,1800,0,0,0',
    ]);
    expect(assessmentCsvColumns[0]).toBe('kind');
    expect(assessmentCsvColumns.slice(-3)).toEqual(['reworks', 'supervised', 'supervisions']);
    expect(assessmentCsvColumns).toHaveLength(19);
  });
});

describe('#25: suspensions in the on-time closure', () => {
  it('does not judge a suspended case late while it lies', () => {
    const overdue = incident({ accepted: 5, resolveWithin: 60 });
    const suspended: Incident = { ...incident({ accepted: 5, resolveWithin: 60 }), state: 'suspended' };
    expect(assess([overdue], november, minute(120)).overall.onTimeClosureRate).toBe(0);
    expect(assess([suspended], november, minute(120)).overall.onTimeClosureRate).toBeNull();
  });
});
