import type { Incident } from '../core/incident.ts';
import { type DutyMiss, type PatrolDay, patrolCollections } from '../patrols/patrol-service.ts';
import type { AssessmentSettings, DeductionRuleName, PointsRuleName } from './scoring-schema.ts';

/**
 * The monthly assessment's scores (千分制, #25 point 6): every grid and every worker starts the month at the base
 * score, earns points and loses them by the configured rules (assessment.points, assessment.deductions), each rule
 * capped per month, the score never below the floor; then they are ranked. Every score keeps its line items: which
 * rule, how many items, how many points, and the case ids or dates behind them.
 *
 * Pure: no clock, no store; one pass over the month's incidents and one over each kind of duty record.
 *
 * What counts, and for whom (a grid counts everything of its grid; a worker what is theirs):
 * - the incidents created in the month (hub.timezone), as the assessment's figures count them;
 * - onTimeClosure: a case resolved (resolved or closed) by its `resolveBy` — for the grid and the handler;
 * - foundOnPatrol: a people's case the worker reported from the field (`origin.kind` field_report) — for the grid
 *   and the reporter (`origin.reportedBy`);
 * - patrolCompleted: a 'patrol-days' record of the month with `completed` — for the grid and each of its `userIds`;
 * - overdueStage: each stage deadline missed — accept (`acceptBy` vs `acceptedAt`, or passed unaccepted),
 *   arrive (`acceptedAt` + the category's arrive deadline vs `arrivedAt`), resolve (`resolveBy` vs `resolvedAt`, or
 *   passed unresolved) — for the grid and the handler (nobody's, beyond the grid, while no one accepted);
 * - escalation: each escalation (`escalations`) — for the grid and the handler;
 * - rework: each rejected verification (`reworks`) — for the grid and the handler;
 * - supervision: each supervision notice (`supervisions`) — for the grid and the handler;
 * - missedPatrol, missedZeroReport: a 'duty-misses' record of the month of that kind — for the grid and each of its
 *   `userIds`.
 */

// What the patrols keep (patrols/patrol-service.ts), read here: one definition of the records and their collections.
export type { DutyMiss, PatrolDay, ZeroReport } from '../patrols/patrol-service.ts';
export const patrolDaysCollection = patrolCollections.days;
export const zeroReportsCollection = patrolCollections.zeroReports;
export const dutyMissesCollection = patrolCollections.misses;

export type RuleName = PointsRuleName | DeductionRuleName;

/** The rules in the order line items are listed: points first, then deductions. */
export const pointRules: readonly PointsRuleName[] = ['onTimeClosure', 'foundOnPatrol', 'patrolCompleted'];
export const deductionRules: readonly DeductionRuleName[] = [
  'overdueStage',
  'escalation',
  'rework',
  'supervision',
  'missedPatrol',
  'missedZeroReport',
];

/** A line item refers to at most this many case ids or dates; `count` still counts them all. */
export const maxRefsPerLine = 200;

export interface LineItem {
  readonly rule: RuleName;
  readonly kind: 'points' | 'deduction';
  /** How many items the rule counted. */
  readonly count: number;
  /** Signed: positive for points, negative for deductions, after the rule's cap. */
  readonly points: number;
  /** True when the cap cut the points. */
  readonly capped: boolean;
  /** The case ids (with the stage for overdueStage: `inc_…:accept`) or dates behind the items, at most maxRefsPerLine. */
  readonly refs: readonly string[];
}

export interface Score {
  readonly id: string;
  readonly name: string;
  /** Workers: the grids they work in; grids: the grid itself. */
  readonly gridIds: readonly string[];
  readonly score: number;
  /** Positive totals, after caps. */
  readonly earned: number;
  readonly deducted: number;
  /** 1-based; ties broken by fewer deductions, then name. */
  readonly rank: number;
  /** Only rules that counted something. */
  readonly items: readonly LineItem[];
}

export interface ScoreSubject {
  readonly id: string;
  readonly name: string;
  readonly gridIds: readonly string[];
}

export interface ScoringInput {
  readonly settings: AssessmentSettings;
  /** `YYYY-MM` in `timeZone`. */
  readonly month: string;
  readonly timeZone: string;
  /** Any incidents: those created outside the month are skipped. */
  readonly incidents: Iterable<Incident>;
  readonly patrolDays: Iterable<PatrolDay>;
  readonly dutyMisses: Iterable<DutyMiss>;
  /** The grids and workers to score, all listed even with nothing counted. Items of others are dropped. */
  readonly grids: readonly ScoreSubject[];
  readonly workers: readonly ScoreSubject[];
  /** The arrive deadline of a category in ms after acceptance; without it the arrive stage is not judged. */
  readonly arriveMs?: (category: string) => number;
  /** Epoch ms: deadlines that passed with nothing done by then count as missed (default: the month's end). */
  readonly asOf?: number;
}

export interface Scores {
  readonly month: string;
  /** ISO 8601: the month's first and the next month's first instant in the time zone. */
  readonly from: string;
  readonly to: string;
  readonly grids: readonly Score[];
  readonly workers: readonly Score[];
}

// ---- months in a time zone ----

const dateFormats = new Map<string, Intl.DateTimeFormat>();
function dateFormat(timeZone: string): Intl.DateTimeFormat {
  let format = dateFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dateFormats.set(timeZone, format);
  }
  return format;
}

/** The wall-clock time in the zone at `at`, read as if it were UTC: its difference to `at` is the zone's offset. */
function wallClockMs(at: number, timeZone: string): number {
  const parts = Object.fromEntries(
    dateFormat(timeZone)
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  return Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
}

/** The instant local midnight starts the given day in the zone (twice corrected, for a day a DST change starts). */
function localMidnight(year: number, monthIndex: number, timeZone: string): number {
  const wall = Date.UTC(year, monthIndex, 1);
  let at = wall;
  for (let i = 0; i < 2; i += 1) at = wall - (wallClockMs(at, timeZone) - at);
  return at;
}

export const monthPattern = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The month `YYYY-MM` in the zone as [from, to) in epoch ms. */
export function monthPeriod(month: string, timeZone: string): { from: number; to: number } {
  const match = monthPattern.exec(month);
  if (match === null) throw new Error(`not a month: ${month}`);
  const year = Number(match[1]);
  const index = Number(match[2]) - 1;
  return { from: localMidnight(year, index, timeZone), to: localMidnight(year, index + 1, timeZone) };
}

/** The month `YYYY-MM` an instant falls in, in the zone. */
export function monthOf(at: number, timeZone: string): string {
  return new Date(wallClockMs(at, timeZone)).toISOString().slice(0, 7);
}

// ---- the tally ----

interface Tally {
  readonly counts: Map<RuleName, number>;
  readonly refs: Map<RuleName, string[]>;
}

function newTally(): Tally {
  return { counts: new Map(), refs: new Map() };
}

function add(tally: Tally | undefined, rule: RuleName, ref: string, count = 1): void {
  if (tally === undefined || count <= 0) return;
  tally.counts.set(rule, (tally.counts.get(rule) ?? 0) + count);
  let refs = tally.refs.get(rule);
  if (refs === undefined) {
    refs = [];
    tally.refs.set(rule, refs);
  }
  if (refs.length < maxRefsPerLine && refs.at(-1) !== ref) refs.push(ref);
}

/** The stages of a case whose deadline was missed (see the module's comment). */
function missedStages(incident: Incident, asOf: number, arriveMs: ScoringInput['arriveMs']): string[] {
  const { acceptBy, acceptedAt, arrivedAt, resolveBy, resolvedAt, closedAt } = incident.timeline;
  const ended = incident.state === 'false_alarm' || incident.state === 'cancelled';
  const endedAt = closedAt !== undefined && ended ? Date.parse(closedAt) : Number.POSITIVE_INFINITY;
  const missed: string[] = [];
  if (acceptBy !== undefined) {
    const due = Date.parse(acceptBy);
    const by =
      acceptedAt !== undefined ? Date.parse(acceptedAt) : Math.min(asOf, endedAt, parseOr(resolvedAt));
    if (by > due) missed.push('accept');
  }
  if (arriveMs !== undefined && acceptedAt !== undefined) {
    const due = Date.parse(acceptedAt) + arriveMs(incident.category);
    const by = arrivedAt !== undefined ? Date.parse(arrivedAt) : Math.min(asOf, endedAt, parseOr(resolvedAt));
    if (by > due) missed.push('arrive');
  }
  if (resolveBy !== undefined && !ended) {
    const due = Date.parse(resolveBy);
    const by = resolvedAt !== undefined ? Date.parse(resolvedAt) : asOf;
    if (by > due) missed.push('resolve');
  }
  return missed;
}

function parseOr(at: string | undefined): number {
  return at === undefined ? Number.POSITIVE_INFINITY : Date.parse(at);
}

/** Where people's cases say who reported them: set by the intake of field reports; absent on device cases. */
function reporterOf(incident: Incident): string | undefined {
  const origin = incident.origin;
  return origin?.kind === 'field_report' && origin.reportedBy !== undefined ? origin.reportedBy : undefined;
}

function isResolved(incident: Incident): boolean {
  return incident.state === 'resolved' || incident.state === 'closed';
}

function lineItems(tally: Tally, settings: AssessmentSettings): LineItem[] {
  const items: LineItem[] = [];
  const rules: [RuleName, 'points' | 'deduction', { points: number; cap: number }][] = [
    ...pointRules.map(
      (rule) =>
        [rule, 'points', settings.points[rule]] as [
          RuleName,
          'points',
          (typeof settings.points)[PointsRuleName],
        ],
    ),
    ...deductionRules.map(
      (rule) =>
        [rule, 'deduction', settings.deductions[rule]] as [
          RuleName,
          'deduction',
          (typeof settings.deductions)[DeductionRuleName],
        ],
    ),
  ];
  for (const [rule, kind, { points, cap }] of rules) {
    const count = tally.counts.get(rule) ?? 0;
    if (count === 0) continue;
    const uncapped = count * points;
    const capped = cap > 0 && uncapped > cap;
    const total = capped ? cap : uncapped;
    items.push({
      rule,
      kind,
      count,
      points: kind === 'points' ? total : -total,
      capped,
      refs: tally.refs.get(rule) ?? [],
    });
  }
  return items;
}

const collator = new Intl.Collator('zh-CN');

function ranked(
  subjects: readonly ScoreSubject[],
  tallies: Map<string, Tally>,
  settings: AssessmentSettings,
): Score[] {
  const scores = subjects.map((subject) => {
    const items = lineItems(tallies.get(subject.id) ?? newTally(), settings);
    const earned = items.filter((item) => item.kind === 'points').reduce((sum, item) => sum + item.points, 0);
    const deducted = -items
      .filter((item) => item.kind === 'deduction')
      .reduce((sum, item) => sum + item.points, 0);
    const score = Math.max(settings.floor, settings.baseScore + earned - deducted);
    return {
      ...subject,
      score: round(score),
      earned: round(earned),
      deducted: round(deducted),
      rank: 0,
      items,
    };
  });
  scores.sort(
    (a, b) =>
      b.score - a.score ||
      a.deducted - b.deducted ||
      collator.compare(a.name, b.name) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return scores.map((score, index) => ({ ...score, rank: index + 1 }));
}

/** Points may be fractional in the configuration: scores keep two decimals, no float noise. */
function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Scores the month: see the module's comment for what counts for whom. */
export function scoreMonth(input: ScoringInput): Scores {
  const { settings, month, timeZone } = input;
  const period = monthPeriod(month, timeZone);
  const asOf = input.asOf ?? period.to;
  const gridTallies = new Map(input.grids.map((grid) => [grid.id, newTally()]));
  const workerTallies = new Map(input.workers.map((worker) => [worker.id, newTally()]));
  const both = (
    gridId: string,
    userId: string | null | undefined,
    rule: RuleName,
    ref: string,
    count = 1,
  ) => {
    add(gridTallies.get(gridId), rule, ref, count);
    if (userId) add(workerTallies.get(userId), rule, ref, count);
  };

  for (const incident of input.incidents) {
    const created = Date.parse(incident.createdAt);
    if (created < period.from || created >= period.to) continue;
    const { gridId, handler, id } = incident;
    if (
      !gridTallies.has(gridId) &&
      (handler === null || !workerTallies.has(handler)) &&
      reporterOf(incident) === undefined
    )
      continue;
    const { resolveBy, resolvedAt } = incident.timeline;
    if (
      isResolved(incident) &&
      resolveBy !== undefined &&
      resolvedAt !== undefined &&
      Date.parse(resolvedAt) <= Date.parse(resolveBy)
    )
      both(gridId, handler, 'onTimeClosure', id);
    const reporter = reporterOf(incident);
    if (reporter !== undefined) both(gridId, reporter, 'foundOnPatrol', id);
    for (const stage of missedStages(incident, asOf, input.arriveMs))
      both(gridId, handler, 'overdueStage', `${id}:${stage}`);
    both(gridId, handler, 'escalation', id, incident.escalations);
    both(gridId, handler, 'rework', id, incident.reworks);
    both(gridId, handler, 'supervision', id, incident.supervisions?.length ?? 0);
  }

  const inMonth = (date: string) => date.startsWith(`${month}-`);
  const forEach = (gridId: string, userIds: readonly string[], rule: RuleName, date: string) => {
    add(gridTallies.get(gridId), rule, date);
    for (const userId of new Set(userIds)) add(workerTallies.get(userId), rule, date);
  };
  for (const day of input.patrolDays) {
    if (day.completed && inMonth(day.date)) forEach(day.gridId, day.userIds, 'patrolCompleted', day.date);
  }
  const missRule = { patrol: 'missedPatrol', zero_report: 'missedZeroReport' } as const;
  for (const miss of input.dutyMisses) {
    const rule = missRule[miss.kind];
    if (rule !== undefined && inMonth(miss.date)) forEach(miss.gridId, miss.userIds, rule, miss.date);
  }

  return {
    month,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    grids: ranked(input.grids, gridTallies, settings),
    workers: ranked(input.workers, workerTallies, settings),
  };
}

// ---- CSV ----

/** The rules' Chinese names, the CSV's headers and the console's labels' source. */
export const ruleNames: Record<RuleName, string> = {
  onTimeClosure: '按期办结',
  foundOnPatrol: '巡查发现',
  patrolCompleted: '完成巡查',
  overdueStage: '环节超期',
  escalation: '升级',
  rework: '返工',
  supervision: '督办',
  missedPatrol: '漏巡',
  missedZeroReport: '漏报零报告',
};

const rulesInOrder: readonly RuleName[] = [...pointRules, ...deductionRules];

/** The CSV's header: rank, kind, id, name, score, earned, deducted, then per rule its count and its points. */
export const scoresCsvHeader: readonly string[] = [
  '排名',
  '类别',
  '编号',
  '名称',
  '得分',
  '加分',
  '扣分',
  ...rulesInOrder.flatMap((rule) => [`${ruleNames[rule]}(次)`, `${ruleNames[rule]}(分)`]),
];

function csvCell(value: string | number): string {
  const text = String(value);
  // A leading =, +, - or @ would be a formula to a spreadsheet program: names come from configuration, still quoted.
  const safe = /^[=+\-@]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One level's scores (grid or worker) as RFC 4180 CSV, CRLF, led by a UTF-8 byte order mark for spreadsheets. */
export function scoresCsv(scores: readonly Score[], level: 'grid' | 'worker'): string {
  const kind = level === 'grid' ? '网格' : '网格员';
  const rows = scores.map((score) => {
    const byRule = new Map(score.items.map((item) => [item.rule, item]));
    return [
      score.rank,
      kind,
      score.id,
      score.name,
      score.score,
      score.earned,
      score.deducted,
      ...rulesInOrder.flatMap((rule) => [byRule.get(rule)?.count ?? 0, byRule.get(rule)?.points ?? 0]),
    ]
      .map(csvCell)
      .join(',');
  });
  return `\uFEFF${[scoresCsvHeader.map(csvCell).join(','), ...rows].join('\r\n')}\r\n`;
}
