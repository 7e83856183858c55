import type { AuditEntry } from '../core/audit.ts';
import { timeOrderedId } from '../core/ids.ts';
import type { DeadlineStage, Incident } from '../core/incident.ts';
import type { IncidentService } from '../incidents/incident-service.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import { minuteOfClock } from './patrol-dates.ts';
import { patrolMetrics } from './patrol-metrics.ts';
import type { PatrolSettings } from './patrol-schema.ts';
import { type DutyMiss, type MissKind, type PatrolService, patrolCollections } from './patrol-service.ts';

/** The category of the cases a missed duty raises. */
export const dutyMissedCategory = 'duty_missed';
/** The pseudo-device a missed-duty case names (an incident names a device; this one is the patrol attendance). */
export const patrolCaseSource = { id: 'case-source:patrol', name: '巡查考勤', adapter: 'people' } as const;

/** Each kind of miss: its deadline setting and its case's title. Lookup, not branching. */
const missKinds: Readonly<
  Record<MissKind, { readonly deadline: (settings: PatrolSettings) => string; readonly title: string }>
> = {
  patrol: { deadline: (settings) => settings.patrolBy, title: '巡查未完成' },
  zero_report: { deadline: (settings) => settings.zeroReportBy, title: '未报零报告' },
};

/** What the sweep knows of a grid's day when it judges a kind. */
export interface DayFacts {
  readonly patrolCompleted: boolean;
  readonly zeroReported: boolean;
  /** A case was reported in the grid by a person that day: the zero report is not owed (零报告 is "nothing found"). */
  readonly caseReported: boolean;
}

/** The kinds whose deadline has passed at this minute of the local day. */
export function dueKinds(minuteOfDay: number, settings: PatrolSettings): MissKind[] {
  return (Object.keys(missKinds) as MissKind[]).filter(
    (kind) => minuteOfDay >= minuteOfClock(missKinds[kind].deadline(settings)),
  );
}

/** Whether a kind is missed, on the day's facts. */
export function isMissed(kind: MissKind, facts: DayFacts, settings: PatrolSettings): boolean {
  const judges: Record<MissKind, () => boolean> = {
    patrol: () => !facts.patrolCompleted,
    zero_report: () => settings.zeroReportRequired && !facts.zeroReported && !facts.caseReported,
  };
  return judges[kind]();
}

/** Audit actions that record a person reporting a case (device cases are the system's). */
const reportingActions = new Set(['case.report', 'incident.create', 'incident.report', 'incident.register']);
/** How far back the audit is read for a day's reported cases: pages of this many, at most this many pages. */
const auditPage = 1000;
const auditPages = 50;

export interface DutySweepOptions {
  readonly patrols: PatrolService;
  readonly incidents: Pick<IncidentService, 'createCase'>;
  readonly store: Pick<Store, 'getRecord' | 'putRecord' | 'claim' | 'listAudit' | 'getIncident'>;
  readonly jurisdiction: Jurisdiction;
  readonly deadlineMs: (category: string, stage: DeadlineStage) => number;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  readonly now?: (() => number) | undefined;
}

/**
 * After each daily deadline (patrols.patrolBy, patrols.zeroReportBy, local time), raises a case to the grid's chief
 * for each grid whose patrol is not complete or whose zero report is owed and missing, and records the miss in
 * 'duty-misses'. Exactly once per grid, date and kind: the record answers across restarts, store.claim between
 * siblings sharing a store. Judges only today: a hub down from a deadline to midnight raises nothing for that day.
 */
export class DutySweep {
  readonly #options: DutySweepOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /**
   * Grid/date/kind judged done or raised by this instance: neither changes back, so they are not read again each
   * sweep until midnight. Today's only.
   */
  readonly #settled = new Set<string>();
  #running: Promise<void> | undefined;

  constructor(options: DutySweepOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    const everyMs = this.#options.patrols.settings.sweepSeconds * 1000;
    this.#timer = setInterval(() => void this.sweep(), everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One sweep; overlapping calls share the running one. Resolves with the misses raised. */
  sweep(now: number = this.#now()): Promise<void> {
    this.#running ??= this.#sweep(now)
      .catch((error: unknown) =>
        this.#options.logger.warn({ ns: 'patrols', error: (error as Error).message }, 'duty sweep failed'),
      )
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #sweep(now: number): Promise<void> {
    const { patrols } = this.#options;
    const settings = patrols.settings;
    const due = dueKinds(patrols.days.minute(now), settings);
    if (due.length === 0) return;
    const date = patrols.days.date(now);
    for (const key of this.#settled) if (!key.includes(`/${date}/`)) this.#settled.delete(key);
    let reported: Set<string> | undefined;
    for (const grid of patrols.grids) {
      for (const kind of due) {
        const key = `${grid.grid}/${date}/${kind}`;
        if (this.#settled.has(key)) continue;
        if ((await this.#options.store.getRecord(patrolCollections.misses, key)) !== undefined) {
          this.#settled.add(key);
          continue;
        }
        const day = await patrols.finaliseDay(grid.grid, date);
        reported ??= kind === 'zero_report' ? await this.#gridsWithReportedCases(date) : undefined;
        const facts: DayFacts = {
          patrolCompleted: day.completed,
          zeroReported: kind === 'zero_report' && (await patrols.zeroReportOf(grid.grid, date)) !== undefined,
          caseReported: reported?.has(grid.grid) ?? false,
        };
        if (isMissed(kind, facts, settings)) await this.#raise(grid.grid, date, kind, now);
        this.#settled.add(key);
      }
    }
  }

  /** The grids with a case a person reported on the date (from the audit trail). */
  async #gridsWithReportedCases(date: string): Promise<Set<string>> {
    const { store, patrols } = this.#options;
    const [from, to] = patrols.days.span(date);
    const grids = new Set<string>();
    let before: string | undefined;
    for (let page = 0; page < auditPages; page++) {
      const entries: AuditEntry[] = await store.listAudit({
        limit: auditPage,
        ...(before === undefined ? {} : { before }),
      });
      for (const entry of entries) {
        const at = Date.parse(entry.at);
        if (at < from || at >= to || entry.actor.userId === 'system') continue;
        if (!reportingActions.has(entry.action) || entry.target.kind !== 'incident') continue;
        const incident = await store.getIncident(entry.target.id);
        if (incident !== undefined) grids.add(incident.gridId);
      }
      const oldest = entries.at(-1);
      if (oldest === undefined || entries.length < auditPage || Date.parse(oldest.at) < from) break;
      before = oldest.id;
    }
    return grids;
  }

  async #raise(gridId: string, date: string, kind: MissKind, now: number): Promise<void> {
    const { store, patrols, jurisdiction, incidents } = this.#options;
    const key = `${gridId}/${date}/${kind}`;
    if (!(await store.claim(`duty-miss/${key}`, 3600_000))) return;
    const entry = jurisdiction.grid(gridId);
    if (entry === undefined) return;
    const chiefs = patrols.chiefsOf(gridId);
    const incidentId = timeOrderedId('inc', now);
    const miss: DutyMiss = { gridId, date, kind, userIds: patrols.workersOf(gridId), incidentId };
    // The miss first: a crash after it raises no second case on restart (at worst, none at all).
    await store.putRecord(patrolCollections.misses, key, miss, patrols.expiresAt(now));
    const at = new Date(now).toISOString();
    const dispatched = chiefs.length > 0;
    const acceptBy = new Date(now + this.#options.deadlineMs(dutyMissedCategory, 'accept')).toISOString();
    const community = entry.chain[1];
    const incident: Incident = {
      id: incidentId,
      state: dispatched ? 'dispatched' : 'new',
      title: `${missKinds[kind].title}:${entry.ref.name} ${date}`,
      category: dutyMissedCategory,
      severity: 'warning',
      device: { ...patrolCaseSource },
      origin: { kind: 'patrol' },
      event: { type: `duty.missed.${kind}`, occurredAt: at, attributes: { kind, date, gridId } },
      gridId,
      chain: entry.chain,
      createdAt: at,
      updatedAt: at,
      occurrences: 1,
      lastOccurredAt: at,
      related: [],
      assignees: chiefs,
      handler: null,
      responsibleNodeId: dispatched ? gridId : (community?.id ?? gridId),
      escalations: 0,
      dueStage: 'accept',
      dueAt: acceptBy,
      reworks: 0,
      timeline: {
        ...(dispatched ? { dispatchedAt: at, acceptBy } : {}),
        resolveBy: new Date(now + this.#options.deadlineMs(dutyMissedCategory, 'resolve')).toISOString(),
      },
    };
    await incidents.createCase(incident);
    patrolMetrics(this.#options.metrics).misses.labels(kind).inc();
    this.#options.logger.info(
      { ns: 'patrols', gridId, date, kind, incidentId },
      'missed duty raised to the grid chief',
    );
  }
}
