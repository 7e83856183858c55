import { AuditTrail } from '../audit/audit-trail.ts';
import { principalOf } from '../auth/principals.ts';
import { stageDeadlineMinutes } from '../cases/catalogue.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { DeadlinesDescription } from '../core/dispatch.ts';
import { refused } from '../core/errors.ts';
import { type DeadlineStage, type Incident, incidentInScope } from '../core/incident.ts';
import type { Principal } from '../core/principal.ts';
import type { RuleDescription } from '../core/rule.ts';
import type { People } from '../core/user.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { Store } from '../store/store.ts';
import type { IncidentMetrics } from './incident-metrics.ts';
import { type IncidentWriter, settled } from './incident-writer.ts';
import {
  type ActionInput,
  type Actor,
  applyAction,
  type IncidentAction,
  isRefusal,
  type LifecycleContext,
  type Refusal,
  systemActor,
} from './lifecycle.ts';
import type { Visibility } from './visibility.ts';

/**
 * The time a stage of a category may take, in ms: the category's own deadline, else the default. A people's case
 * with a sub-category asks for `category/sub` (deadlineCategoryOf), which falls back to its category's (#25).
 */
export function deadlineMsOf(deadlines: DeadlinesDescription): LifecycleContext['deadlineMs'] {
  return (category: string, stage: DeadlineStage) =>
    stageDeadlineMinutes(deadlines, category, stage) * 60_000;
}

/** The lifecycle's view of the deployment: each category's deadlines, and who is above a node. */
export function lifecycleContextOf(
  deadlines: DeadlinesDescription,
  jurisdiction: Jurisdiction,
): Omit<LifecycleContext, 'now'> {
  return {
    deadlineMs: deadlineMsOf(deadlines),
    parentOf: (nodeId: string) => jurisdiction.ancestry(nodeId)[1]?.id,
  };
}

export interface IncidentActionsOptions {
  readonly writer: IncidentWriter;
  readonly store: Store;
  readonly metrics: IncidentMetrics;
  readonly visibility: Visibility;
  /** Who a dispatch or hand-off may name: the people the hub knows now. */
  readonly people: People;
  readonly context: Omit<LifecycleContext, 'now'>;
  readonly logger: Logger;
}

/**
 * Lifecycle actions (acknowledge, dispatch, accept, …, and the hub's own: clear, escalate), one at a time per
 * incident: the lifecycle table (lifecycle.ts) judges each; a refusal is audited and answered as the catalogue's error of its kind (core/errors.ts' refused),
 * a change committed with its audit entry by the writer.
 */
export class IncidentActions {
  readonly #options: IncidentActionsOptions;

  constructor(options: IncidentActionsOptions) {
    this.#options = options;
  }

  #principal(userId: string): Principal | undefined {
    const person = this.#options.people.get(userId);
    return person === undefined ? undefined : principalOf(person);
  }

  /**
   * Applies a lifecycle action for a user (who must be allowed to see the incident) or for the hub. Resolves with
   * the incident after the change, committed with its audit entry; rejects with the catalogue's error of the refusal's kind, saying why not.
   */
  act(
    actor: Principal | 'system',
    incidentId: string,
    action: IncidentAction,
    input: ActionInput = {},
  ): Promise<Incident> {
    const { writer, store } = this.#options;
    return writer.changes.serial(incidentId, async () => {
      const before = writer.cached(incidentId) ?? (await store.getIncident(incidentId));
      const who: Actor = actor === 'system' ? systemActor : actor;
      if (before === undefined || (actor !== 'system' && !this.#options.visibility.canSee(actor, before))) {
        throw refused('not_found', `no incident ${incidentId}`);
      }
      const problem = this.#checkInput(before, action, input);
      const after =
        problem ?? applyAction(before, action, who, input, { ...this.#options.context, now: Date.now() });
      const audit = AuditTrail.entry(actor, {
        action: `incident.${action}`,
        target: { kind: 'incident', id: incidentId },
        outcome: isRefusal(after) ? 'refused' : 'ok',
        detail: {
          from: before.state,
          ...(isRefusal(after) ? {} : { to: after.state }),
          ...this.#detail(input),
        },
        ...(isRefusal(after) ? { message: after.reason } : input.note ? { message: input.note } : {}),
      });
      if (isRefusal(after)) {
        await store.appendAudit(audit);
        throw refused(after.kind, after.reason);
      }
      if (action === 'reject') this.#options.metrics.reworks.inc();
      return writer.change(before, after, audit);
    });
  }

  /** Resolves, as the hub, the open incidents of this device that the event clears. */
  clear(event: DeviceEvent, clearedRules: readonly RuleDescription[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const rule of clearedRules) {
      const open = this.#options.writer.openIncident(event.deviceId, rule.event);
      const clearing =
        open instanceof Promise
          ? open.then((incident) => this.#clearOne(incident, event))
          : this.#clearOne(open, event);
      if (clearing !== undefined) pending.push(clearing);
    }
    return pending.length === 0 ? settled : Promise.all(pending).then(() => undefined);
  }

  /** A failed clearing is logged: the event's other changes still commit, and its device is acknowledged. */
  #clearOne(incident: Incident | undefined, event: DeviceEvent): Promise<void> | undefined {
    if (incident === undefined) return undefined;
    return this.act('system', incident.id, 'clear', { note: `cleared by ${event.type}` }).then(
      () => undefined,
      (error: unknown) => {
        this.#options.logger.warn(
          { incidentId: incident.id, error: (error as Error).message },
          'clearing failed',
        );
      },
    );
  }

  /** Dispatch names real users who may see the case; everything else is the lifecycle's to judge. */
  #checkInput(incident: Incident, action: IncidentAction, input: ActionInput): Refusal | undefined {
    if (action === 'hand_off' && input.coordinator !== undefined) {
      // The department user must be a configured user whose scope reaches the case (they will see it, #25).
      const principal = this.#principal(input.coordinator);
      if (principal === undefined || !incidentInScope(incident, principal.scopeNodeIds))
        return {
          kind: 'invalid',
          reason: `${input.coordinator} is not a user who can coordinate this incident`,
        };
      return undefined;
    }
    if (action !== 'dispatch') return undefined;
    for (const userId of input.assignees ?? []) {
      const principal = this.#principal(userId);
      if (
        principal === undefined ||
        principal.role === 'admin' ||
        !this.#options.visibility.canSee(principal, incident)
      ) {
        return { kind: 'invalid', reason: `${userId} is not a user who can take this incident` };
      }
    }
    return undefined;
  }

  #detail(input: ActionInput): Record<string, unknown> {
    return {
      ...(input.assignees === undefined ? {} : { assignees: input.assignees }),
      ...(input.takenAt === undefined ? {} : { takenAt: input.takenAt }),
      // #25: the inputs of 延期, 挂账, hand-off and feedback, as taken.
      ...(input.until === undefined ? {} : { until: input.until }),
      ...(input.reviewAt === undefined ? {} : { reviewAt: input.reviewAt }),
      ...(input.coordinator === undefined ? {} : { coordinator: input.coordinator }),
      ...(input.via === undefined ? {} : { via: input.via }),
    };
  }
}
