import { AuditTrail } from '../audit/audit-trail.ts';
import { principalOf } from '../auth/principals.ts';
import type { ResolvedDevice } from '../config/load.ts';
import type { DeadlinesConfig, RosterConfig, RuleConfig, UserConfig } from '../config/schema.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { HubBusEvents } from '../core/events.ts';
import { timeOrderedId } from '../core/ids.ts';
import { type DeadlineStage, type Incident, isOpen, terminalStates } from '../core/incident.ts';
import type { Principal } from '../core/principal.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { Store } from '../store/store.ts';
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
import type { Router } from './router.ts';
import type { Visibility } from './visibility.ts';

export class IncidentError extends Error {
  constructor(
    readonly kind: Refusal['kind'] | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

export interface IncidentServiceOptions {
  readonly store: Store;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: HubMetrics;
  readonly router: Router;
  readonly visibility: Visibility;
  readonly deadlines: DeadlinesConfig;
  readonly jurisdiction: Jurisdiction;
  readonly users: readonly UserConfig[];
  readonly logger: Logger;
  /** How often deadlines are checked. */
  readonly sweepMs: number;
}

const settled = Promise.resolve();
const stageKeys = { accept: 'acceptMinutes', arrive: 'arriveMinutes', resolve: 'resolveMinutes' } as const;

/** Key of a device's condition: one device, one raising event type. */
function conditionKey(deviceId: string, eventType: string): string {
  return `${deviceId}\u0000${eventType}`;
}

/**
 * Owns the incidents that are not over: creates them (routed to who must act), folds repeats into them, applies
 * every lifecycle action one at a time per incident, audits each change in the same transaction as the change, and
 * escalates what runs past its deadline. Everything it holds in memory is rebuilt from the store on start, so
 * deadlines and escalations survive a restart.
 */
export class IncidentService {
  readonly #options: IncidentServiceOptions;
  readonly #log: Logger;
  /** Incidents not yet ended, by id. */
  readonly #active = new Map<string, Incident>();
  /** The open incident of each device condition, for dedupe and clearing. */
  readonly #conditions = new Map<string, string>();
  /** Per-incident queues: one change at a time, in order. */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #principals: ReadonlyMap<string, Principal>;
  readonly #context: Omit<LifecycleContext, 'now'>;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: IncidentServiceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'incidents' });
    this.#principals = new Map(options.users.map((user) => [user.id, principalOf(user)]));
    const { deadlines, jurisdiction } = options;
    this.#context = {
      deadlineMs: (category: string, stage: DeadlineStage) =>
        (deadlines.categories[category] ?? deadlines.default)[stageKeys[stage]] * 60_000,
      parentOf: (nodeId: string) => jurisdiction.ancestry(nodeId)[1]?.id,
    };
  }

  async start(): Promise<void> {
    this.#active.clear();
    this.#conditions.clear();
    // Rosters changed through the API replace the config's roster of their grid.
    for (const roster of await this.#options.store.listRosters()) this.#options.router.setRoster(roster);
    for (const incident of await this.#options.store.listActiveIncidents()) this.#remember(incident);
    this.#timer = setInterval(() => this.sweep(), this.#options.sweepMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Replaces a grid's duty roster, kept across restarts. */
  async setRoster(actor: Principal, roster: RosterConfig): Promise<void> {
    await this.#options.store.saveRoster(roster);
    this.#options.router.setRoster(roster);
    await this.#options.store.appendAudit(
      AuditTrail.entry(actor, {
        action: 'roster.update',
        target: { kind: 'grid', id: roster.grid },
        outcome: 'ok',
        detail: { shifts: roster.shifts },
      }),
    );
  }

  /** An active (not ended) incident, without touching the store. */
  active(id: string): Incident | undefined {
    return this.#active.get(id);
  }

  /** A device event under its rule: a new incident, routed; or one more occurrence of the open one. */
  raise(event: DeviceEvent, device: ResolvedDevice, rule: RuleConfig, receivedAt: number): Promise<void> {
    const now = Date.now();
    const key = conditionKey(device.id, event.type);
    const openId = this.#conditions.get(key);
    const open = openId === undefined ? undefined : this.#active.get(openId);
    // A lasting condition (clearedBy) folds every repeat while open; others only within their dedupe window.
    if (
      open !== undefined &&
      isOpen(open.state) &&
      (rule.clearedBy !== undefined || now - Date.parse(open.lastOccurredAt) <= rule.dedupeSeconds * 1000)
    ) {
      this.#options.metrics.eventsDeduplicated.inc();
      return this.#serial(open.id, async () => {
        const before = this.#active.get(open.id) ?? open;
        const at = new Date(now).toISOString();
        const after: Incident = {
          ...before,
          occurrences: before.occurrences + 1,
          lastOccurredAt: new Date(event.occurredAt).toISOString(),
          updatedAt: at,
        };
        await this.#commit(before, after);
      });
    }
    const incident = this.#create(event, device, rule, now);
    this.#remember(incident);
    const audit = AuditTrail.entry('system', {
      action: 'incident.create',
      target: { kind: 'incident', id: incident.id },
      outcome: 'ok',
      detail: {
        state: incident.state,
        assignees: incident.assignees,
        responsibleNodeId: incident.responsibleNodeId,
      },
    });
    const { store, bus, metrics } = this.#options;
    return this.#serial(incident.id, () =>
      store.saveIncident(incident, audit).then(() => {
        metrics.incidentsCreated.labels(incident.severity).inc();
        bus.emit('incident:created', incident, receivedAt);
      }),
    );
  }

  /** Resolves, as the hub, the open incidents of this device that the event clears. */
  clear(event: DeviceEvent, clearedRules: readonly RuleConfig[]): Promise<void> {
    const pending: Promise<unknown>[] = [];
    for (const rule of clearedRules) {
      const id = this.#conditions.get(conditionKey(event.deviceId, rule.event));
      const incident = id === undefined ? undefined : this.#active.get(id);
      if (incident === undefined || !isOpen(incident.state)) continue;
      pending.push(
        this.act('system', incident.id, 'clear', { note: `cleared by ${event.type}` }).catch(
          (error: unknown) => {
            this.#log.warn({ incidentId: incident.id, error: (error as Error).message }, 'clearing failed');
          },
        ),
      );
    }
    return pending.length === 0 ? settled : Promise.all(pending).then(() => undefined);
  }

  /**
   * Applies a lifecycle action for a user (who must be allowed to see the incident) or for the hub. Resolves with
   * the incident after the change, committed with its audit entry; rejects with an IncidentError saying why not.
   */
  act(
    actor: Principal | 'system',
    incidentId: string,
    action: IncidentAction,
    input: ActionInput = {},
  ): Promise<Incident> {
    return this.#serial(incidentId, async () => {
      const before = this.#active.get(incidentId) ?? (await this.#options.store.getIncident(incidentId));
      const who: Actor = actor === 'system' ? systemActor : actor;
      if (before === undefined || (actor !== 'system' && !this.#options.visibility.canSee(actor, before))) {
        throw new IncidentError('not_found', `no incident ${incidentId}`);
      }
      const problem = this.#checkInput(before, action, input);
      const after = problem ?? applyAction(before, action, who, input, { ...this.#context, now: Date.now() });
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
        await this.#options.store.appendAudit(audit);
        throw new IncidentError(after.kind, after.reason);
      }
      if (action === 'reject') this.#options.metrics.reworks.inc();
      await this.#commit(before, after, audit);
      return after;
    });
  }

  /** Escalates every open incident past its deadline one level up, unless it is already at the top. */
  sweep(now: number = Date.now()): void {
    for (const incident of this.#active.values()) {
      if (!isOpen(incident.state) || incident.dueAt === null || Date.parse(incident.dueAt) > now) continue;
      if (this.#context.parentOf(incident.responsibleNodeId) === undefined) continue;
      if (this.#queues.has(incident.id)) continue;
      this.act('system', incident.id, 'escalate', { note: `${incident.dueStage} deadline passed` }).then(
        () => this.#options.metrics.escalations.inc(),
        (error: unknown) =>
          this.#log.warn({ incidentId: incident.id, error: (error as Error).message }, 'escalation failed'),
      );
    }
  }

  #create(event: DeviceEvent, device: ResolvedDevice, rule: RuleConfig, now: number): Incident {
    const at = new Date(now).toISOString();
    const route = this.#options.router.route(
      { gridId: device.grid.ref.id, chain: device.grid.chain, category: rule.category },
      now,
    );
    const dispatched = route.assignees.length > 0;
    const acceptBy = new Date(now + this.#context.deadlineMs(rule.category, 'accept')).toISOString();
    return {
      id: timeOrderedId('inc', now),
      state: dispatched ? 'dispatched' : 'new',
      title: rule.title,
      category: rule.category,
      severity: rule.severity,
      device: { id: device.id, name: device.name, adapter: device.adapter.id },
      event: {
        type: event.type,
        occurredAt: new Date(event.occurredAt).toISOString(),
        attributes: event.attributes,
      },
      gridId: device.grid.ref.id,
      chain: device.grid.chain,
      createdAt: at,
      updatedAt: at,
      occurrences: 1,
      lastOccurredAt: new Date(event.occurredAt).toISOString(),
      related: [],
      assignees: route.assignees,
      handler: null,
      responsibleNodeId: route.responsibleNodeId,
      escalations: 0,
      dueStage: 'accept',
      dueAt: acceptBy,
      reworks: 0,
      timeline: {
        ...(dispatched ? { dispatchedAt: at } : {}),
        acceptBy,
        resolveBy: new Date(now + this.#context.deadlineMs(rule.category, 'resolve')).toISOString(),
      },
    };
  }

  /** Dispatch names real users who may see the case; everything else is the lifecycle's to judge. */
  #checkInput(incident: Incident, action: IncidentAction, input: ActionInput): Refusal | undefined {
    if (action !== 'dispatch') return undefined;
    for (const userId of input.assignees ?? []) {
      const principal = this.#principals.get(userId);
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
    return input.assignees === undefined ? {} : { assignees: input.assignees };
  }

  /** Writes a change with its audit entry, updates the in-memory view, then announces it. */
  async #commit(
    before: Incident,
    after: Incident,
    audit?: ReturnType<typeof AuditTrail.entry>,
  ): Promise<void> {
    await this.#options.store.saveIncident(after, audit);
    this.#remember(after);
    this.#options.bus.emit('incident:updated', { before, after });
  }

  #remember(incident: Incident): void {
    const key = conditionKey(incident.device.id, incident.event.type);
    if (terminalStates.has(incident.state)) {
      this.#active.delete(incident.id);
    } else {
      this.#active.set(incident.id, incident);
    }
    if (isOpen(incident.state)) this.#conditions.set(key, incident.id);
    else if (this.#conditions.get(key) === incident.id) this.#conditions.delete(key);
  }

  /** Runs `work` after every earlier change of the same incident, so changes never interleave. */
  #serial<T>(incidentId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(incidentId) ?? settled;
    const next = previous.then(work, work);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(incidentId, tail);
    void tail.then(() => {
      if (this.#queues.get(incidentId) === tail) this.#queues.delete(incidentId);
    });
    return next;
  }
}
