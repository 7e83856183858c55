import { beforeAll, describe, expect, it } from 'vitest';
import { dutyRecordsOf } from '../../src/assessment/duty-records.ts';
import {
  type DutyMiss,
  type LineItem,
  maxRefsPerLine,
  monthOf,
  monthPeriod,
  type PatrolDay,
  type Score,
  type ScoringInput,
  scoreMonth,
  scoresCsv,
  scoresCsvHeader,
} from '../../src/assessment/scores.ts';
import { type AssessmentSettings, assessmentSchema } from '../../src/assessment/scoring-schema.ts';
import type { Incident, IncidentState } from '../../src/core/incident.ts';
import { FakeStore } from '../helpers/fake-store.ts';

const zone = 'Asia/Shanghai';
/** 2026-11-01 00:00 in Shanghai (UTC+8). */
const t0 = Date.parse('2026-10-31T16:00:00.000Z');
const minute = (minutes: number) => t0 + minutes * 60_000;
const iso = (minutes: number) => new Date(minute(minutes)).toISOString();

const defaults: AssessmentSettings = assessmentSchema.parse({});
const grids = [
  { id: 'grid-a', name: 'A网格', gridIds: ['grid-a'] },
  { id: 'grid-b', name: 'B网格', gridIds: ['grid-b'] },
];
const workers = [
  { id: 'worker-1', name: '王一', gridIds: ['grid-a'] },
  { id: 'worker-2', name: '李二', gridIds: ['grid-b'] },
];

interface Story {
  grid?: string;
  created?: number;
  accepted?: number;
  arrived?: number;
  resolved?: number;
  state?: IncidentState;
  handler?: string | null;
  reworks?: number;
  escalations?: number;
  supervisions?: number;
  reportedBy?: string;
  acceptWithin?: number;
  resolveWithin?: number;
}

let serial = 0;
function incident(story: Story): Incident {
  const created = story.created ?? 0;
  const handler =
    story.handler === undefined ? (story.accepted === undefined ? null : 'worker-1') : story.handler;
  const state =
    story.state ??
    (story.resolved !== undefined ? 'closed' : story.accepted !== undefined ? 'accepted' : 'dispatched');
  serial += 1;
  const gridId = story.grid ?? 'grid-a';
  return {
    id: `inc_s${String(serial).padStart(6, '0')}`,
    state,
    title: 'case',
    category: 'intrusion',
    severity: 'major',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: iso(created), attributes: {} },
    gridId,
    chain: [
      { id: gridId, name: gridId, level: 'grid' },
      { id: 'community-x', name: 'X社区', level: 'community' },
    ],
    createdAt: iso(created),
    updatedAt: iso(created),
    occurrences: 1,
    lastOccurredAt: iso(created),
    related: [],
    assignees: handler === null ? [] : [handler],
    handler,
    responsibleNodeId: gridId,
    escalations: story.escalations ?? 0,
    dueAt: null,
    dueStage: null,
    reworks: story.reworks ?? 0,
    timeline: {
      dispatchedAt: iso(created),
      acceptBy: iso(created + (story.acceptWithin ?? 10)),
      resolveBy: iso(created + (story.resolveWithin ?? 240)),
      ...(story.accepted === undefined ? {} : { acceptedAt: iso(story.accepted) }),
      ...(story.arrived === undefined ? {} : { arrivedAt: iso(story.arrived) }),
      ...(story.resolved === undefined ? {} : { resolvedAt: iso(story.resolved) }),
    },
    ...(story.supervisions === undefined
      ? {}
      : {
          supervisions: Array.from({ length: story.supervisions }, (_, n) => ({
            nodeId: 'community-x',
            userId: 'officer-x',
            at: iso(created + n + 1),
            note: '请尽快处理',
          })),
        }),
    ...(story.reportedBy === undefined
      ? {}
      : { origin: { kind: 'field_report', reportedBy: story.reportedBy } }),
  } as Incident;
}

function score(input: Partial<ScoringInput> & { incidents?: Incident[] }) {
  return scoreMonth({
    settings: defaults,
    month: '2026-11',
    timeZone: zone,
    incidents: [],
    patrolDays: [],
    dutyMisses: [],
    grids,
    workers,
    arriveMs: () => 30 * 60_000,
    ...input,
  });
}

const find = (scores: readonly Score[], id: string) => scores.find((entry) => entry.id === id) as Score;
const item = (entry: Score, rule: string) => entry.items.find((line) => line.rule === rule) as LineItem;

/** A complete, on-time case: accepted in 5, arrived in 20, resolved in 60 minutes. */
const onTime = (story: Story = {}) => incident({ accepted: 5, arrived: 20, resolved: 60, ...story });

describe('千分制 scoring: points', () => {
  it('gives onTimeClosure points per case resolved by its deadline, to the grid and the handler', () => {
    const cases = [onTime(), onTime({ created: 100, accepted: 105, arrived: 110, resolved: 400 })];
    const scores = score({ incidents: cases });
    const grid = find(scores.grids, 'grid-a');
    expect(item(grid, 'onTimeClosure')).toEqual({
      rule: 'onTimeClosure',
      kind: 'points',
      count: 1,
      points: 2,
      capped: false,
      refs: [cases[0]?.id],
    });
    // The second case resolved 300 minutes after creation, past its 240: a deduction, no points.
    expect(item(grid, 'overdueStage').refs).toEqual([`${cases[1]?.id}:resolve`]);
    expect(grid.score).toBe(1000 + 2 - 5);
    expect(find(scores.workers, 'worker-1').score).toBe(997);
    expect(find(scores.grids, 'grid-b')).toMatchObject({ score: 1000, items: [] });
  });

  it("gives foundOnPatrol points for a worker's field reports, read defensively from origin", () => {
    const reported = onTime({ reportedBy: 'worker-2', grid: 'grid-b', handler: 'worker-2' });
    const deviceCase = onTime({ grid: 'grid-b', handler: 'worker-2' });
    const notField = {
      ...onTime({ grid: 'grid-b', handler: 'worker-2' }),
      origin: { kind: 'hotline_12345' },
    } as Incident;
    const scores = score({ incidents: [reported, deviceCase, notField] });
    expect(item(find(scores.workers, 'worker-2'), 'foundOnPatrol')).toMatchObject({ count: 1, points: 3 });
    expect(item(find(scores.grids, 'grid-b'), 'foundOnPatrol').refs).toEqual([reported.id]);
    expect(item(find(scores.workers, 'worker-2'), 'onTimeClosure').count).toBe(3);
  });

  it('gives patrolCompleted points per completed day to the grid and each of its workers', () => {
    const days: PatrolDay[] = [
      {
        gridId: 'grid-a',
        date: '2026-11-02',
        required: 3,
        visited: ['p1', 'p2', 'p3'],
        completed: true,
        userIds: ['worker-1'],
      },
      {
        gridId: 'grid-a',
        date: '2026-11-03',
        required: 3,
        visited: ['p1'],
        completed: false,
        userIds: ['worker-1'],
      },
      {
        gridId: 'grid-a',
        date: '2026-10-31',
        required: 3,
        visited: ['p1', 'p2', 'p3'],
        completed: true,
        userIds: ['worker-1'],
      },
    ];
    const scores = score({ patrolDays: days });
    expect(item(find(scores.grids, 'grid-a'), 'patrolCompleted')).toMatchObject({
      count: 1,
      points: 1,
      refs: ['2026-11-02'],
    });
    expect(find(scores.workers, 'worker-1').score).toBe(1001);
  });
});

describe('千分制 scoring: deductions', () => {
  it('deducts each missed stage: accept late, arrive late, resolve late, and an accept deadline passed unaccepted', () => {
    const late = incident({ accepted: 15, arrived: 50, resolved: 300 });
    const unaccepted = incident({ created: 1000 });
    const scores = score({ incidents: [late, unaccepted], asOf: minute(2000) });
    expect(item(find(scores.grids, 'grid-a'), 'overdueStage')).toMatchObject({
      count: 5,
      points: -25,
      refs: [
        `${late.id}:accept`,
        `${late.id}:arrive`,
        `${late.id}:resolve`,
        `${unaccepted.id}:accept`,
        `${unaccepted.id}:resolve`,
      ],
    });
    // The unaccepted case is nobody's: the worker answers for their own three.
    expect(item(find(scores.workers, 'worker-1'), 'overdueStage').count).toBe(3);
  });

  it('does not judge a deadline that has not come yet', () => {
    const open = incident({ created: 0, accepted: 5 });
    const scores = score({ incidents: [open], asOf: minute(20) });
    expect(find(scores.grids, 'grid-a').items).toEqual([]);
  });

  it('deducts per escalation, per rework and per supervision notice', () => {
    const troubled = onTime({ escalations: 2, reworks: 3, supervisions: 1 });
    const entry = find(score({ incidents: [troubled] }).workers, 'worker-1');
    expect(item(entry, 'escalation')).toMatchObject({ count: 2, points: -10, refs: [troubled.id] });
    expect(item(entry, 'rework')).toMatchObject({ count: 3, points: -30 });
    expect(item(entry, 'supervision')).toMatchObject({ count: 1, points: -10 });
    expect(entry.score).toBe(1000 + 2 - 10 - 30 - 10);
    expect(entry).toMatchObject({ earned: 2, deducted: 50 });
  });

  it('deducts missed patrols and missed zero reports from the duty-misses records, for the grid and its workers', () => {
    const misses: DutyMiss[] = [
      { gridId: 'grid-b', date: '2026-11-05', kind: 'patrol', userIds: ['worker-2'], incidentId: 'inc_x1' },
      {
        gridId: 'grid-b',
        date: '2026-11-05',
        kind: 'zero_report',
        userIds: ['worker-2'],
        incidentId: 'inc_x2',
      },
      {
        gridId: 'grid-b',
        date: '2026-11-06',
        kind: 'zero_report',
        userIds: ['worker-2'],
        incidentId: 'inc_x3',
      },
      {
        gridId: 'grid-b',
        date: '2026-12-01',
        kind: 'zero_report',
        userIds: ['worker-2'],
        incidentId: 'inc_x4',
      },
    ];
    const scores = score({ dutyMisses: misses });
    const worker = find(scores.workers, 'worker-2');
    expect(item(worker, 'missedPatrol')).toMatchObject({ count: 1, points: -10, refs: ['2026-11-05'] });
    expect(item(worker, 'missedZeroReport')).toMatchObject({
      count: 2,
      points: -10,
      refs: ['2026-11-05', '2026-11-06'],
    });
    expect(find(scores.grids, 'grid-b').score).toBe(980);
  });

  it('caps each rule and keeps the score at the floor', () => {
    const reworked = Array.from({ length: 30 }, (_, n) =>
      onTime({
        created: n * 300,
        accepted: n * 300 + 5,
        arrived: n * 300 + 20,
        resolved: n * 300 + 60,
        reworks: 1,
      }),
    );
    const capped = find(score({ incidents: reworked }).grids, 'grid-a');
    expect(item(capped, 'rework')).toMatchObject({ count: 30, points: -200, capped: true });
    expect(item(capped, 'onTimeClosure')).toMatchObject({ count: 30, points: 60, capped: false });

    const harsh = assessmentSchema.parse({
      baseScore: 100,
      floor: 10,
      deductions: { rework: { points: 50, cap: 0 } },
    });
    const floored = find(score({ incidents: reworked, settings: harsh }).grids, 'grid-a');
    expect(item(floored, 'rework')).toMatchObject({ points: -1500, capped: false });
    expect(floored.score).toBe(10);
  });

  it('turns a rule off with 0 points', () => {
    const settings = assessmentSchema.parse({ deductions: { supervision: { points: 0, cap: 0 } } });
    const entry = find(score({ incidents: [onTime({ supervisions: 2 })], settings }).grids, 'grid-a');
    expect(item(entry, 'supervision')).toMatchObject({ count: 2, points: -0 });
    expect(entry.score).toBe(1002);
  });
});

describe('千分制 ranking', () => {
  it('ranks by score, ties by fewer deductions, then by name', () => {
    const many = [
      { id: 'grid-a', name: 'A网格', gridIds: ['grid-a'] },
      { id: 'grid-b', name: 'B网格', gridIds: ['grid-b'] },
      { id: 'grid-c', name: 'C网格', gridIds: ['grid-c'] },
      { id: 'grid-d', name: 'D网格', gridIds: ['grid-d'] },
    ];
    const days = (gridId: string, n: number): PatrolDay[] =>
      Array.from({ length: n }, (_, d) => ({
        gridId,
        date: `2026-11-${String(d + 1).padStart(2, '0')}`,
        required: 1,
        visited: ['p'],
        completed: true,
        userIds: [],
      }));
    // A: +10 −10 = 1000 with deductions; B: 1000 clean; C: 1000 clean; D: +10.
    const misses: DutyMiss[] = [
      { gridId: 'grid-a', date: '2026-11-20', kind: 'patrol', userIds: [], incidentId: 'inc_missed' },
    ];
    const scores = score({
      grids: many,
      patrolDays: [...days('grid-a', 10), ...days('grid-d', 10)],
      dutyMisses: misses,
    });
    expect(scores.grids.map((entry) => [entry.id, entry.score, entry.rank])).toEqual([
      ['grid-d', 1010, 1],
      ['grid-b', 1000, 2],
      ['grid-c', 1000, 3],
      ['grid-a', 1000, 4],
    ]);
  });
});

describe('months in Asia/Shanghai', () => {
  it('bounds a month by local midnights', () => {
    expect(monthPeriod('2026-11', zone)).toEqual({
      from: Date.parse('2026-10-31T16:00:00.000Z'),
      to: Date.parse('2026-11-30T16:00:00.000Z'),
    });
    expect(monthPeriod('2026-12', zone).to).toBe(Date.parse('2026-12-31T16:00:00.000Z'));
    expect(monthOf(Date.parse('2026-10-31T16:00:00.000Z'), zone)).toBe('2026-11');
    expect(monthOf(Date.parse('2026-10-31T15:59:59.999Z'), zone)).toBe('2026-10');
  });

  it('counts a case created at 00:00 local on the 1st, not one a millisecond before, nor the next month', () => {
    const first = onTime({ created: 0, accepted: 5, arrived: 10, resolved: 20 });
    const before = { ...onTime(), createdAt: '2026-10-31T15:59:59.999Z' } as Incident;
    const after = { ...onTime(), createdAt: '2026-11-30T16:00:00.000Z' } as Incident;
    const entry = find(score({ incidents: [first, before, after] }).grids, 'grid-a');
    expect(item(entry, 'onTimeClosure').refs).toEqual([first.id]);
  });
});

describe('the CSV', () => {
  it('is UTF-8 with a BOM, Chinese headers, one row per entry in rank order, formula-like names defused', () => {
    const scores = score({
      incidents: [onTime({ reworks: 1 })],
      grids: [...grids, { id: 'grid-z', name: '=cmd()', gridIds: ['grid-z'] }],
    });
    const csv = scoresCsv(scores.grids, 'grid');
    expect(csv.startsWith('\uFEFF排名,类别,编号,名称,得分,加分,扣分,按期办结(次),按期办结(分)')).toBe(true);
    const lines = csv.slice(1).trimEnd().split('\r\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]?.split(',')).toHaveLength(scoresCsvHeader.length);
    // Tied at 1000 without deductions: by name, and '=' sorts before the letters.
    expect(lines[2]).toBe('2,网格,grid-b,B网格,1000,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0');
    expect(lines[1]).toBe("1,网格,grid-z,'=cmd(),1000,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0");
    expect(lines[3]).toBe('3,网格,grid-a,A网格,992,2,10,1,2,0,0,0,0,0,0,0,0,1,-10,0,0,0,0,0,0');
  });
});

describe("the patrols' records, read from the store", () => {
  it('reads patrol-days and duty-misses of the grids in the month by key prefix, and skips malformed ones', async () => {
    const store = new FakeStore();
    await store.start();
    await store.putRecord('patrol-days', 'grid-a/2026-11-02', {
      gridId: 'grid-a',
      date: '2026-11-02',
      required: 2,
      visited: ['p1', 'p2'],
      completed: true,
      userIds: ['worker-1'],
    });
    await store.putRecord('patrol-days', 'grid-a/2026-10-30', {
      gridId: 'grid-a',
      date: '2026-10-30',
      required: 2,
      visited: [],
      completed: false,
      userIds: ['worker-1'],
    });
    await store.putRecord('patrol-days', 'grid-c/2026-11-02', {
      gridId: 'grid-c',
      date: '2026-11-02',
      required: 2,
      visited: [],
      completed: true,
      userIds: [],
    });
    await store.putRecord('patrol-days', 'grid-b/2026-11-03', { gridId: 'grid-b', date: 'yesterday' });
    await store.putRecord('duty-misses', 'grid-b/2026-11-04/zero_report', {
      gridId: 'grid-b',
      date: '2026-11-04',
      kind: 'zero_report',
      userIds: ['worker-2'],
      incidentId: 'inc_1',
    });
    await store.putRecord('zero-reports', 'grid-b/2026-11-05', {
      gridId: 'grid-b',
      date: '2026-11-05',
      userId: 'worker-2',
      at: '2026-11-05T01:00:00.000Z',
    });
    const read = await dutyRecordsOf(store, ['grid-a', 'grid-b'], '2026-11');
    expect(read.patrolDays.map((day) => `${day.gridId}/${day.date}`)).toEqual(['grid-a/2026-11-02']);
    expect(read.dutyMisses).toEqual([
      {
        gridId: 'grid-b',
        date: '2026-11-04',
        kind: 'zero_report',
        userIds: ['worker-2'],
        incidentId: 'inc_1',
      },
    ]);
    expect(read.malformed).toBe(1);
    const scores = score({ ...read });
    expect(find(scores.workers, 'worker-1').score).toBe(1001);
    expect(find(scores.workers, 'worker-2').score).toBe(995);
  });
});

describe('a district month', () => {
  const cases: Incident[] = [];
  let elapsedMs = 0;
  let result: ReturnType<typeof score>;
  const manyGrids = Array.from({ length: 200 }, (_, n) => ({
    id: `grid-${n}`,
    name: `第${n}网格`,
    gridIds: [`grid-${n}`],
  }));
  const manyWorkers = Array.from({ length: 400 }, (_, n) => ({
    id: `worker-${n}`,
    name: `网格员${n}`,
    gridIds: [`grid-${n % 200}`],
  }));

  beforeAll(() => {
    for (let n = 0; n < 20_000; n += 1) {
      const created = (n * 2) % (29 * 24 * 60);
      cases.push(
        incident({
          grid: `grid-${n % 200}`,
          handler: `worker-${n % 400}`,
          created,
          accepted: created + (n % 15),
          arrived: created + 20 + (n % 20),
          resolved: created + 100 + (n % 300),
          reworks: n % 17 === 0 ? 1 : 0,
          supervisions: n % 23 === 0 ? 1 : 0,
          ...(n % 5 === 0 ? { reportedBy: `worker-${n % 400}` } : {}),
        }),
      );
    }
    const started = performance.now();
    result = score({ incidents: cases, grids: manyGrids, workers: manyWorkers });
    elapsedMs = performance.now() - started;
    console.info(`scored 20,000 cases of 200 grids and 400 workers in ${elapsedMs.toFixed(1)} ms`);
  });

  it('scores every grid and worker of 20,000 cases', () => {
    expect(result.grids).toHaveLength(200);
    expect(result.workers).toHaveLength(400);
    const counted = result.grids.reduce(
      (sum, entry) => sum + (entry.items.find((line) => line.rule === 'rework')?.count ?? 0),
      0,
    );
    expect(counted).toBe(cases.filter((entry) => entry.reworks > 0).length);
    expect(
      result.grids.every((entry) => entry.items.every((line) => line.refs.length <= maxRefsPerLine)),
    ).toBe(true);
  });
});
