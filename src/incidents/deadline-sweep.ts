import type { Incident } from '../core/incident.ts';
import { isOpen } from '../core/incident.ts';
import type { Logger } from '../observability/logger.ts';
import type { Store } from '../store/store.ts';
import type { ActiveIncidents } from './active-incidents.ts';
import type { IncidentActions } from './incident-actions.ts';
import type { IncidentMetrics } from './incident-metrics.ts';
import type { IncidentWriter } from './incident-writer.ts';
import { type IncidentAction, noticeRunning } from './lifecycle.ts';

export interface DeadlineSweepOptions {
  readonly active: ActiveIncidents;
  readonly writer: IncidentWriter;
  readonly actions: Pick<IncidentActions, 'act'>;
  readonly store: Store;
  readonly metrics: IncidentMetrics;
  readonly logger: Logger;
  /** Who is above a node: an incident at the top has no one to escalate to. */
  readonly parentOf: (nodeId: string) => string | undefined;
  /** How often deadlines are checked. */
  readonly sweepMs: number;
  /** The clock (ms since the epoch) deadlines are compared to; Date.now unless a test moves it past one. */
  readonly now?: () => number;
}

/**
 * Escalates, now and then, every open incident past its deadline one level up, unless it is already at the top or a
 * change of it is under way. Each escalation is claimed in the store, so exactly one of the instances sharing it
 * makes it (a store only one hub uses grants every claim).
 */
export class DeadlineSweep {
  readonly #options: DeadlineSweepOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: DeadlineSweepOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#timer = setInterval(() => this.sweep(), this.#options.sweepMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  sweep(now: number = this.#now()): void {
    const { active, writer, parentOf } = this.#options;
    writer.refresh(now);
    for (const incident of active.values()) {
      if (incident.state === 'suspended') {
        // 挂账 has no deadline (nothing escalates); its review date resumes it, back to the centre's attention.
        if (incident.suspension !== undefined && Date.parse(incident.suspension.reviewAt) <= now)
          if (!writer.changes.busy(incident.id))
            void this.#once(incident, `resume:${incident.id}:${incident.suspension.at}`, 'resume', {
              note: 'review date reached',
              done: () => this.#options.metrics.reviewsDue.inc(),
            });
        continue;
      }
      const notice = noticeRunning(incident);
      if (notice !== undefined) {
        // 公示 has no deadline either; when it runs out without objection the case goes to dispatch.
        if (Date.parse(notice.until) <= now && !writer.changes.busy(incident.id))
          void this.#once(incident, `notice:${incident.id}:${notice.from}`, 'end_notice', {
            note: 'public notice ended without objection',
            done: () => this.#options.metrics.noticesEnded.inc(),
          });
        continue;
      }
      if (!isOpen(incident.state) || incident.dueAt === null || Date.parse(incident.dueAt) > now) continue;
      if (parentOf(incident.responsibleNodeId) === undefined) continue;
      if (writer.changes.busy(incident.id)) continue;
      void this.#escalate(incident);
    }
  }

  /**
   * A one-off change the hub makes at a date (a suspension's review, the end of a 公示), once across the hubs sharing
   * the store: claimed as escalations are; a loser reloads the incident (the winner has changed it).
   */
  async #once(
    incident: Incident,
    claim: string,
    action: IncidentAction,
    { note, done }: { readonly note: string; readonly done: () => void },
  ): Promise<void> {
    const { store, active, actions, logger } = this.#options;
    try {
      if (!(await store.claim(claim, 10 * 60_000))) {
        const fresh = await store.getIncident(incident.id);
        if (fresh !== undefined) active.remember(fresh);
        return;
      }
      await actions.act('system', incident.id, action, { note });
      done();
    } catch (error) {
      logger.warn({ incidentId: incident.id, action, error: (error as Error).message }, `${action} failed`);
    }
  }

  /**
   * Escalates an overdue incident, once across every hub sharing the store: the claim names the incident, its level
   * and the deadline that passed, so exactly one instance wins it. A loser reloads the incident (the winner has
   * changed it) and so stops trying.
   */
  async #escalate(incident: Incident): Promise<void> {
    const { store, active, actions, metrics, logger } = this.#options;
    try {
      const claim = `escalate:${incident.id}:${incident.escalations}:${incident.dueAt}`;
      if (!(await store.claim(claim, 10 * 60_000))) {
        const fresh = await store.getIncident(incident.id);
        if (fresh !== undefined) active.remember(fresh);
        return;
      }
      await actions.act('system', incident.id, 'escalate', { note: `${incident.dueStage} deadline passed` });
      metrics.escalations.inc();
    } catch (error) {
      logger.warn({ incidentId: incident.id, error: (error as Error).message }, 'escalation failed');
    }
  }
}
