import type { Incident } from '../core/incident.ts';

/**
 * The monthly assessment (千分制考核): per grid and per worker, how many cases there were, how fast they were taken
 * and resolved, and how many met their deadlines (GB/T 30428's on-time closure rate, closure rate and rework).
 * Pure: no clock, no store, no I/O; the caller reads the incidents and says "as of" when.
 *
 * Definitions (every rate is a fraction 0–1 rounded to 4 decimals, null when its denominator is 0):
 *
 * - **Period**: the incidents created in [from, to): `from` inclusive, `to` exclusive, by `createdAt`.
 * - **accepted**: incidents someone accepted (`timeline.acceptedAt` set), whatever their state now.
 *   **closed**: in state `closed` (verified). **resolved**: in state `resolved` (awaiting verification) or `closed`.
 *   **falseAlarms**, **cancelled**: in those states.
 * - **onTimeAcceptanceRate** = accepted on time / judged for acceptance. An incident with an `acceptBy` is judged:
 *   - when accepted: on time when `acceptedAt <= acceptBy`, else late;
 *   - when never accepted: late when `acceptBy` passed while it still waited to be taken, that is
 *     `acceptBy < min(asOf, when it ended unaccepted)` — ended meaning resolved by the device clearing
 *     (`timeline.resolvedAt`) or false-alarmed or cancelled (`timeline.closedAt`). Otherwise it is not judged
 *     (its deadline has not come, or it ended before anyone had to take it).
 * - **onTimeClosureRate** = resolved on time / judged for resolution. False alarms and cancelled incidents are not
 *   judged (nothing was to be resolved). An incident with a `resolveBy` is judged:
 *   - when resolved (`timeline.resolvedAt` set): on time when `resolvedAt <= resolveBy`, else late. A rejected
 *     verification drops the resolution, so a reworked case is judged by its last resolution;
 *   - when not resolved: late when `resolveBy < asOf`, else not judged yet; a suspended case (挂账) is not judged
 *     while it lies suspended (its resolve-by moves by the time it lay when resumed).
 *   `resolveBy` is the approved deadline: an approved extension (延期) moves it.
 * - **closureRate** = resolved (resolved or closed) / (incidents − false alarms − cancelled).
 * - **responseSeconds**: `createdAt → timeline.acceptedAt` of every accepted incident.
 *   **closureSeconds**: `createdAt → timeline.resolvedAt` of every incident now resolved or closed (its last
 *   resolution). Both as p50 and p90 by the nearest-rank method (see {@link nearestRank}), null with no values.
 * - **reworks**: the sum of the incidents' `reworks` (verifications that sent a case back to its handler).
 * - **supervised**: incidents a higher centre supervised (督办) at least once (`supervisions` not empty);
 *   **supervisions**: the sum of their supervisions.
 *
 * Workers are credited by `handler`, the user who accepted the case: every figure of a case counts for its handler,
 * including time before it was dispatched to them and a resolution entered by a duty officer. Incidents nobody
 * accepted count for the grid and overall, for no worker.
 *
 * `asOf` (ms epoch, default `period.to`) only decides whether a deadline that passed with nothing done counts as
 * late; what did happen is read from the timeline as it stands, even when it happened after the period.
 */

export interface Period {
  /** ms epoch, inclusive. */
  readonly from: number;
  /** ms epoch, exclusive. */
  readonly to: number;
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p90: number | null;
}

export interface Figures {
  readonly incidents: number;
  readonly accepted: number;
  /** In state `closed`: verified. */
  readonly closed: number;
  /** In state `resolved` or `closed`. */
  readonly resolved: number;
  readonly falseAlarms: number;
  readonly cancelled: number;
  readonly onTimeAcceptanceRate: number | null;
  readonly onTimeClosureRate: number | null;
  readonly closureRate: number | null;
  /** createdAt → acceptedAt, in seconds. */
  readonly responseSeconds: Percentiles;
  /** createdAt → resolvedAt, in seconds. */
  readonly closureSeconds: Percentiles;
  readonly reworks: number;
  /** Incidents with at least one supervision (督办). */
  readonly supervised: number;
  /** Supervisions in all. */
  readonly supervisions: number;
}

export interface GridFigures {
  readonly gridId: string;
  readonly gridName: string;
  readonly figures: Figures;
}

export interface WorkerFigures {
  readonly userId: string;
  readonly figures: Figures;
}

export interface Assessment {
  /** ISO 8601. */
  readonly period: { readonly from: string; readonly to: string };
  /** ISO 8601: the moment against which unmet deadlines were judged. */
  readonly asOf: string;
  readonly overall: Figures;
  /** By gridId. */
  readonly grids: readonly GridFigures[];
  /** By userId. */
  readonly workers: readonly WorkerFigures[];
}

/** A grid to list even when it had no incident in the period (every grid of a node is assessed). */
export interface GridRef {
  readonly id: string;
  readonly name: string;
}

type Judgement = 'on_time' | 'late' | undefined;

/** True when the incident was created in [from, to). */
export function inPeriod(incident: Incident, period: Period): boolean {
  const created = Date.parse(incident.createdAt);
  return created >= period.from && created < period.to;
}

/**
 * The nearest-rank percentile of ascending values: the value at 1-based rank ⌈percent/100 × n⌉ (at least 1), so it
 * is always one of the values. n = 1: p50 = p90 = the value; n = 2: p50 the smaller, p90 the larger; n = 10: p50 the
 * 5th, p90 the 9th. Null when there are no values.
 */
export function nearestRank(sorted: readonly number[], percent: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((percent * sorted.length) / 100));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

/** numerator / denominator rounded to 4 decimals; null when the denominator is 0. */
export function rate(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : Math.round((numerator / denominator) * 10_000) / 10_000;
}

function isEnded(incident: Incident): boolean {
  return incident.state === 'false_alarm' || incident.state === 'cancelled';
}

function acceptance(incident: Incident, asOf: number): Judgement {
  const { acceptBy, acceptedAt, resolvedAt, closedAt } = incident.timeline;
  if (acceptBy === undefined) return undefined;
  const due = Date.parse(acceptBy);
  if (acceptedAt !== undefined) return Date.parse(acceptedAt) <= due ? 'on_time' : 'late';
  const endings = [resolvedAt, closedAt].filter((at) => at !== undefined).map((at) => Date.parse(at));
  return due < Math.min(asOf, ...endings) ? 'late' : undefined;
}

function resolution(incident: Incident, asOf: number): Judgement {
  const { resolveBy, resolvedAt } = incident.timeline;
  if (resolveBy === undefined || isEnded(incident)) return undefined;
  const due = Date.parse(resolveBy);
  if (resolvedAt !== undefined) return Date.parse(resolvedAt) <= due ? 'on_time' : 'late';
  if (incident.state === 'suspended') return undefined;
  return due < asOf ? 'late' : undefined;
}

function secondsSinceCreation(incident: Incident, at: string): number {
  return (Date.parse(at) - Date.parse(incident.createdAt)) / 1000;
}

function percentiles(values: number[]): Percentiles {
  const sorted = values.sort((a, b) => a - b);
  return { p50: nearestRank(sorted, 50), p90: nearestRank(sorted, 90) };
}

function rateOf(judgements: readonly Judgement[]): number | null {
  const judged = judgements.filter((judgement) => judgement !== undefined);
  return rate(judged.filter((judgement) => judgement === 'on_time').length, judged.length);
}

/** The figures of a set of incidents, judged as of `asOf` (see the definitions at the top of this module). */
export function figuresOf(incidents: readonly Incident[], asOf: number): Figures {
  const count = (test: (incident: Incident) => boolean) => incidents.filter(test).length;
  const resolved = count((incident) => incident.state === 'resolved' || incident.state === 'closed');
  const falseAlarms = count((incident) => incident.state === 'false_alarm');
  const cancelled = count((incident) => incident.state === 'cancelled');
  const response: number[] = [];
  const closure: number[] = [];
  for (const incident of incidents) {
    const { acceptedAt, resolvedAt } = incident.timeline;
    if (acceptedAt !== undefined) response.push(secondsSinceCreation(incident, acceptedAt));
    if (resolvedAt !== undefined && (incident.state === 'resolved' || incident.state === 'closed'))
      closure.push(secondsSinceCreation(incident, resolvedAt));
  }
  return {
    incidents: incidents.length,
    accepted: count((incident) => incident.timeline.acceptedAt !== undefined),
    closed: count((incident) => incident.state === 'closed'),
    resolved,
    falseAlarms,
    cancelled,
    onTimeAcceptanceRate: rateOf(incidents.map((incident) => acceptance(incident, asOf))),
    onTimeClosureRate: rateOf(incidents.map((incident) => resolution(incident, asOf))),
    closureRate: rate(resolved, incidents.length - falseAlarms - cancelled),
    responseSeconds: percentiles(response),
    closureSeconds: percentiles(closure),
    reworks: incidents.reduce((sum, incident) => sum + incident.reworks, 0),
    supervised: count((incident) => (incident.supervisions?.length ?? 0) > 0),
    supervisions: incidents.reduce((sum, incident) => sum + (incident.supervisions?.length ?? 0), 0),
  };
}

function groupBy(incidents: readonly Incident[], key: (incident: Incident) => string | null) {
  const groups = new Map<string, Incident[]>();
  for (const incident of incidents) {
    const id = key(incident);
    if (id === null) continue;
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [incident]);
    else group.push(incident);
  }
  return groups;
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Assesses the incidents created in the period (others are ignored), overall, per grid and per worker (handler).
 * `grids` lists grids to report even with no incident (a node's every grid); a grid that had incidents is reported
 * whether listed or not, named from the list or else from the incident's chain.
 */
export function assess(
  incidents: readonly Incident[],
  period: Period,
  asOf: number = period.to,
  grids: readonly GridRef[] = [],
): Assessment {
  const inside = incidents.filter((incident) => inPeriod(incident, period));
  const names = new Map(grids.map((grid) => [grid.id, grid.name]));
  const byGrid = groupBy(inside, (incident) => incident.gridId);
  for (const incident of inside) {
    if (!names.has(incident.gridId)) names.set(incident.gridId, incident.chain[0]?.name ?? incident.gridId);
  }
  const byWorker = groupBy(inside, (incident) => incident.handler);
  return {
    period: { from: new Date(period.from).toISOString(), to: new Date(period.to).toISOString() },
    asOf: new Date(asOf).toISOString(),
    overall: figuresOf(inside, asOf),
    grids: [...names.keys()].sort(byId).map((gridId) => ({
      gridId,
      gridName: names.get(gridId) ?? gridId,
      figures: figuresOf(byGrid.get(gridId) ?? [], asOf),
    })),
    workers: [...byWorker.keys()].sort(byId).map((userId) => ({
      userId,
      figures: figuresOf(byWorker.get(userId) ?? [], asOf),
    })),
  };
}

/**
 * The columns of the CSV download: one row per grid (`kind` grid, `id` the grid id, `name` its name), then one per
 * worker (`kind` worker, `id` the user id, `name` empty); then the figures. Rates are fractions 0–1, times are
 * seconds; an empty cell is a null (no denominator, no values).
 */
export const assessmentCsvColumns = [
  'kind',
  'id',
  'name',
  'incidents',
  'accepted',
  'closed',
  'resolved',
  'falseAlarms',
  'cancelled',
  'onTimeAcceptanceRate',
  'onTimeClosureRate',
  'closureRate',
  'responseP50Seconds',
  'responseP90Seconds',
  'closureP50Seconds',
  'closureP90Seconds',
  'reworks',
  'supervised',
  'supervisions',
] as const;

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRow(kind: 'grid' | 'worker', id: string, name: string, figures: Figures): string {
  return [
    kind,
    id,
    name,
    figures.incidents,
    figures.accepted,
    figures.closed,
    figures.resolved,
    figures.falseAlarms,
    figures.cancelled,
    figures.onTimeAcceptanceRate,
    figures.onTimeClosureRate,
    figures.closureRate,
    figures.responseSeconds.p50,
    figures.responseSeconds.p90,
    figures.closureSeconds.p50,
    figures.closureSeconds.p90,
    figures.reworks,
    figures.supervised,
    figures.supervisions,
  ]
    .map(csvCell)
    .join(',');
}

/**
 * The grids and workers tables as one RFC 4180 CSV (CRLF line ends, one header row of
 * {@link assessmentCsvColumns}), led by a UTF-8 byte order mark so that spreadsheet programs read the Chinese
 * grid names as UTF-8.
 */
export function assessmentCsv(assessment: Assessment): string {
  const rows = [
    assessmentCsvColumns.join(','),
    ...assessment.grids.map((grid) => csvRow('grid', grid.gridId, grid.gridName, grid.figures)),
    ...assessment.workers.map((worker) => csvRow('worker', worker.userId, '', worker.figures)),
  ];
  return `\uFEFF${rows.join('\r\n')}\r\n`;
}
