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
  /**
   * How old a pending miss (its intent written, its case maybe not) must be before a sweep completes it. 0 where one
   * hub owns the store: a pending miss found is its own crashed raise. Where instances share a store, longer than any
   * raise takes, so that a sibling's raise still under way is not completed twice.
   */
  readonly pendingGraceMs?: number;
}

/** What the sweep keeps of its own progress (collection `duty-sweeps`, key `judged`). */
interface SweepProgress {
  /** The last local date whose deadlines were all judged. */
  readonly date: string;
}

const progressKey = 'judged';
const allKinds = Object.keys(missKinds) as MissKind[];

/**
 * After each daily deadline (patrols.patrolBy, patrols.zeroReportBy, local time), raises a case to the grid's chief
 * for each grid whose patrol is not complete or whose zero report is owed and missing, and records the miss in
 * 'duty-misses'. Exactly once per grid, date and kind: the record answers across restarts, store.claim between
 * siblings sharing a store. It keeps the last date it judged whole ('duty-sweeps'), so the first sweep after the hub
 * was down across deadlines judges each day missed since, at most patrols.catchUpDays back.
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
    const { patrols, store } = this.#options;
    const days = patrols.days;
    const today = days.date(now);
    for (const key of this.#settled) if (!key.includes(`/${today}/`)) this.#settled.delete(key);
    const progress = await store.getRecord<SweepProgress>(patrolCollections.sweeps, progressKey);
    const yesterday = days.previous(today);
    // Days missed while the hub was down: every deadline of theirs has passed. A first run judges from today on.
    // The progress moves only past days judged whole: a miss still pending is judged again next sweep.
    let whole = true;
    if (progress !== undefined && progress.date < yesterday)
      for (const date of this.#missedDays(progress.date, today))
        whole = (await this.#judge(date, allKinds, now)) && whole;
    if (whole && (progress === undefined || progress.date < yesterday)) await this.#progress(yesterday, now);
    const due = dueKinds(days.minute(now), patrols.settings);
    if (due.length === 0) return;
    const todayWhole = await this.#judge(today, due, now);
    if (whole && todayWhole && due.length === allKinds.length && (progress?.date ?? '') < today)
      await this.#progress(today, now);
  }

  /** The dates after `judged` and before `today`, oldest first, at most patrols.catchUpDays of them. */
  #missedDays(judged: string, today: string): string[] {
    const { days, settings } = this.#options.patrols;
    const missed: string[] = [];
    for (let date = days.previous(today); date > judged && missed.length < settings.catchUpDays; ) {
      missed.unshift(date);
      date = days.previous(date);
    }
    return missed;
  }

  #progress(date: string, now: number): Promise<void> {
    const { store, patrols } = this.#options;
    const progress: SweepProgress = { date };
    return store.putRecord(patrolCollections.sweeps, progressKey, progress, patrols.expiresAt(now));
  }

  /**
   * Judges these kinds of a date for every patrol grid: raises each miss not yet recorded, completes a pending one.
   * True when every one is settled (none left pending).
   */
  async #judge(date: string, kinds: readonly MissKind[], now: number): Promise<boolean> {
    const { patrols, store } = this.#options;
    let reported: Set<string> | undefined;
    let whole = true;
    for (const grid of patrols.grids) {
      for (const kind of kinds) {
        const key = `${grid.grid}/${date}/${kind}`;
        if (this.#settled.has(key)) continue;
        const recorded = await store.getRecord<DutyMiss>(patrolCollections.misses, key);
        if (recorded !== undefined) {
          if (recorded.pendingSince === undefined || (await this.#complete(key, recorded, now)))
            this.#settled.add(key);
          else whole = false;
          continue;
        }
        const day = await patrols.finaliseDay(grid.grid, date);
        reported ??= kind === 'zero_report' ? await this.#gridsWithReportedCases(date) : undefined;
        const facts: DayFacts = {
          patrolCompleted: day.completed,
          zeroReported: kind === 'zero_report' && (await patrols.zeroReportOf(grid.grid, date)) !== undefined,
          caseReported: reported?.has(grid.grid) ?? false,
        };
        // A sibling raising it now: judged again next sweep, by its record, until that is complete.
        if (isMissed(kind, facts, patrols.settings) && !(await this.#raise(grid.grid, date, kind, now)))
          whole = false;
        else this.#settled.add(key);
      }
    }
    return whole;
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

  /**
   * Raises a miss: claimed between siblings, then the intent (the record, pending, naming the case's id) written
   * before the case, and the record completed after it. A crash in between leaves the intent, which a later sweep
   * completes (#complete): the case is created under the recorded id unless it exists, so never twice. False when a
   * sibling holds the claim (it raises it).
   */
  async #raise(gridId: string, date: string, kind: MissKind, now: number): Promise<boolean> {
    const { store, patrols } = this.#options;
    const key = `${gridId}/${date}/${kind}`;
    if (!(await store.claim(`duty-miss/${key}`, 3600_000))) return false;
    if (this.#options.jurisdiction.grid(gridId) === undefined) return true;
    const miss: DutyMiss = {
      gridId,
      date,
      kind,
      userIds: patrols.workersOf(gridId),
      incidentId: timeOrderedId('inc', now),
    };
    await store.putRecord(
      patrolCollections.misses,
      key,
      { ...miss, pendingSince: new Date(now).toISOString() },
      patrols.expiresAt(now),
    );
    await this.#createCase(miss, now);
    await store.putRecord(patrolCollections.misses, key, miss, patrols.expiresAt(now));
    return true;
  }

  /**
   * Completes a miss left pending by a raise that did not finish (a crash, a failed write): creates its case unless
   * it exists, then the record. True when the miss is complete; false when it is too young to be judged abandoned
   * or a sibling completes it.
   */
  async #complete(key: string, pending: DutyMiss, now: number): Promise<boolean> {
    const { store, patrols, logger } = this.#options;
    const { pendingSince, ...miss } = pending;
    const exists = (await store.getIncident(miss.incidentId)) !== undefined;
    if (!exists) {
      if (now - Date.parse(pendingSince ?? '') < (this.#options.pendingGraceMs ?? 0)) return false;
      if (!(await store.claim(`duty-miss/${key}/complete/${miss.incidentId}`, 3600_000))) return false;
      await this.#createCase(miss, now);
      logger.info({ ns: 'patrols', key, incidentId: miss.incidentId }, 'pending missed duty completed');
    }
    await store.putRecord(patrolCollections.misses, key, miss, patrols.expiresAt(now));
    return true;
  }

  /** The case of a miss, to the grid's chiefs (new for the community centre when it has none). */
  async #createCase(miss: DutyMiss, now: number): Promise<void> {
    const { patrols, jurisdiction, incidents } = this.#options;
    const { gridId, date, kind, incidentId } = miss;
    const entry = jurisdiction.grid(gridId);
    if (entry === undefined) return;
    const chiefs = patrols.chiefsOf(gridId);
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
