import { AuditTrail } from '../audit/audit-trail.ts';
import { principalOf } from '../auth/principals.ts';
import { type ResolvedDevice, stormCategory } from '../config/load.ts';
import type { DeadlinesConfig, FloodConfig, RosterConfig, RuleConfig, UserConfig } from '../config/schema.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import { type HubBusEvents, type IncidentRepeat, whenStored } from '../core/events.ts';
import { timeOrderedId } from '../core/ids.ts';
import {
  type DeadlineStage,
  type EvidenceItem,
  type Incident,
  isOpen,
  type RelatedEvent,
  relatedEventsLimit,
  terminalStates,
} from '../core/incident.ts';
import type { Principal } from '../core/principal.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { Store } from '../store/store.ts';
import { IncidentChangeQueue } from './change-queue.ts';
import { type CorrelationAnchor, CorrelationAnchors } from './correlation-anchors.ts';
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
import { appendNewest, type Correlation, maxSeverity, SlidingWindow } from './rule-book.ts';
import { SharedIncidents, sharedConditionKey } from './shared-incidents.ts';
import { ThrottledPushes } from './throttled-pushes.ts';
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
  /**
   * The store is shared with other hub instances: read an incident from the store before changing it (another
   * instance may have changed it), and claim each escalation so exactly one instance makes it.
   */
  readonly shared?: boolean;
  /** How often deadlines are checked. */
  readonly sweepMs: number;
  /** Alarm-storm control; none when left out. */
  readonly flood?: FloodConfig;
}

/** What a new incident is raised as: a rule's, or a storm's. */
type IncidentKind = Pick<RuleConfig, 'category' | 'severity' | 'title'>;

/** How a committed change is written, and what else goes with it (see #commit). */
interface ChangeWrite {
  readonly audit?: AuditEntry;
  /** Only a dedupe repeat: occurrences counted (Store.saveRepeat), pushed as its delta. */
  readonly repeat?: boolean;
  /** Only another device's event joined into `related` (Store.saveJoined). */
  readonly joined?: RelatedEvent;
  readonly eventKey?: string;
}

const settled = Promise.resolve();
/** Sharing the store: how often an instance reloads every active incident, its siblings' included. */
const sharedReloadMs = 30_000;
/** A storm incident's updates are pushed at most this often; every grouped event is still committed at once. */
const stormPushMs = 1000;
const noCorrelations: readonly Correlation[] = [];

const stageKeys = { accept: 'acceptMinutes', arrive: 'arriveMinutes', resolve: 'resolveMinutes' } as const;

/** Key of a device's condition: one device, one raising event type. */
function conditionKey(deviceId: string, eventType: string): string {
  return `${deviceId}\u0000${eventType}`;
}

/**
 * Whether an event of the rule folds into its condition's open incident: a lasting condition (clearedBy) folds every
 * repeat while open; others only within their dedupe window. A window of 0 folds nothing, though the device's clock
 * be at the hub's millisecond or ahead of it.
 */
function foldsInto(open: Incident, rule: RuleConfig, now: number): boolean {
  return (
    rule.clearedBy !== undefined ||
    (rule.dedupeSeconds > 0 && now - Date.parse(open.lastOccurredAt) <= rule.dedupeSeconds * 1000)
  );
}

/** What a repeat changed of the incident, for the pushes that carry only that. */
function repeatOf(incident: Incident): IncidentRepeat {
  const { id, occurrences, lastOccurredAt, updatedAt, version } = incident;
  return version === undefined
    ? { id, occurrences, lastOccurredAt, updatedAt }
    : { id, occurrences, lastOccurredAt, updatedAt, version };
}

/** The audit entry of a new incident, committed with it. */
function creationAudit(incident: Incident): ReturnType<typeof AuditTrail.entry> {
  return AuditTrail.entry('system', {
    action: 'incident.create',
    target: { kind: 'incident', id: incident.id },
    outcome: 'ok',
    detail: {
      state: incident.state,
      assignees: incident.assignees,
      responsibleNodeId: incident.responsibleNodeId,
    },
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Owns the incidents that are not over: creates them (routed to who must act), folds repeats into them, joins
 * other devices' correlated events to them, groups a flooded grid's events into one storm incident, applies every
 * lifecycle action one at a time per incident, audits each change in the same transaction as the change, and
 * escalates what runs past its deadline. Incidents, dedupe and storms are rebuilt from the store on start, so
 * deadlines and escalations survive a restart; correlation windows and flood counts (seconds to minutes) do not.
 */
export class IncidentService {
  readonly #options: IncidentServiceOptions;
  readonly #log: Logger;
  /** Incidents not yet ended, by id. */
  readonly #active = new Map<string, Incident>();
  /** The open incident of each device condition, for dedupe and clearing. */
  readonly #conditions = new Map<string, string>();
  /** Each incident's changes, one at a time and in order; device events' changes folded (change-queue.ts). */
  readonly #changes: IncidentChangeQueue;
  /** Per grid: the incidents still open to correlation. */
  readonly #anchors = new CorrelationAnchors();
  /** Whether an incident is active here and open: what an anchor needs to stay joinable. */
  readonly #openHere = (incidentId: string): boolean => {
    const incident = this.#active.get(incidentId);
    return incident !== undefined && isOpen(incident.state);
  };
  /** Per grid: when its newest incidents were created, for flood control. */
  readonly #creations = new Map<string, SlidingWindow>();
  /** Per grid: its open storm incident. */
  readonly #storms = new Map<string, string>();
  /** Storm incidents not yet ended: their pushes, at most one a second. */
  readonly #stormPushes: ThrottledPushes;
  readonly #principals: ReadonlyMap<string, Principal>;
  readonly #context: Omit<LifecycleContext, 'now'>;
  /** Sharing the store: the writes and lookups several instances need (see shared-incidents.ts). */
  readonly #shared: SharedIncidents | undefined;
  /** Keyed device events whose change is being committed: a redelivery meanwhile waits for the same outcome. */
  readonly #eventsInFlight = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #reloadedAt = Date.now();

  constructor(options: IncidentServiceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'incidents' });
    this.#principals = new Map(options.users.map((user) => [user.id, principalOf(user)]));
    const shared = options.shared ? new SharedIncidents(options.store) : undefined;
    this.#shared = shared;
    this.#stormPushes = new ThrottledPushes({
      intervalMs: stormPushMs,
      current: (incidentId) => this.#active.get(incidentId),
      push: (change) => this.#options.bus.emit('incident:updated', change),
    });
    this.#changes = new IncidentChangeQueue({
      current: (incidentId) => this.#current(incidentId),
      ...(shared === undefined ? {} : { retrying: (work) => shared.retrying(work) }),
    });
    const { deadlines, jurisdiction } = options;
    this.#context = {
      deadlineMs: (category: string, stage: DeadlineStage) =>
        (deadlines.categories[category] ?? deadlines.default)[stageKeys[stage]] * 60_000,
      parentOf: (nodeId: string) => jurisdiction.ancestry(nodeId)[1]?.id,
    };
  }

  async start(): Promise<void> {
    this.#active.clear();
    this.#options.metrics.countActiveIncidents(() => this.#active.size);
    this.#conditions.clear();
    this.#anchors.clear();
    this.#creations.clear();
    this.#storms.clear();
    this.#stormPushes.clear();
    // Rosters changed through the API replace the config's roster of their grid.
    for (const roster of await this.#options.store.listRosters()) this.#options.router.setRoster(roster);
    for (const incident of await this.#options.store.listActiveIncidents()) this.#remember(incident);
    this.#timer = setInterval(() => this.sweep(), this.#options.sweepMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stormPushes.clear();
  }

  /**
   * Attaches a piece of evidence that is complete on disk, as the hub: committed with its audit entry and pushed
   * as an `incident:update`. Works on ended incidents too (a clip may finish after a quick false alarm).
   */
  attachEvidence(incidentId: string, item: EvidenceItem): Promise<Incident | undefined> {
    return this.#changes.serial(incidentId, async () => {
      const before = await this.#current(incidentId);
      if (before === undefined) return undefined;
      const after: Incident = {
        ...before,
        evidence: [...(before.evidence ?? []), item],
        updatedAt: new Date().toISOString(),
      };
      const audit = AuditTrail.entry('system', {
        action: 'incident.evidence',
        target: { kind: 'incident', id: incidentId },
        outcome: 'ok',
        detail: { kind: item.kind, cameraId: item.cameraId, bytes: item.bytes },
      });
      return this.#commit(before, after, { audit });
    });
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

  /**
   * A device event under its rule, in this order: one more occurrence of the device's open incident (dedupe);
   * else another device's correlated incident in the grid, joined; else, in a flooded grid, the grid's storm
   * incident; else a new incident, routed.
   */
  raise(
    event: DeviceEvent,
    device: ResolvedDevice,
    rule: RuleConfig,
    receivedAt: number,
    correlations: readonly Correlation[] = noCorrelations,
  ): Promise<void> {
    const shared = this.#shared;
    if (shared !== undefined) return this.#raiseShared(shared, event, device, rule, receivedAt, correlations);
    const eventKey = event.key;
    if (eventKey === undefined) return this.#raiseHere(event, device, rule, receivedAt, correlations);
    // A redelivered event (the broker never got its acknowledgement) changes nothing again: its change is committed
    // (a synchronous read of the embedded store), or is being committed and the redelivery waits for it.
    const pending = this.#eventsInFlight.get(eventKey);
    if (pending !== undefined || this.#options.store.eventCommitted(eventKey) === true) {
      this.#options.metrics.eventsRedelivered.inc();
      return pending ?? settled;
    }
    const raising = this.#raiseHere(event, device, rule, receivedAt, correlations);
    this.#eventsInFlight.set(eventKey, raising);
    const forget = () => this.#eventsInFlight.delete(eventKey);
    raising.then(forget, forget);
    return raising;
  }

  #raiseHere(
    event: DeviceEvent,
    device: ResolvedDevice,
    rule: RuleConfig,
    receivedAt: number,
    correlations: readonly Correlation[],
  ): Promise<void> {
    const now = Date.now();
    const key = conditionKey(device.id, event.type);
    const openId = this.#conditions.get(key);
    const open = openId === undefined ? undefined : this.#active.get(openId);
    if (open !== undefined && isOpen(open.state) && foldsInto(open, rule, now)) {
      this.#options.metrics.eventsDeduplicated.inc();
      return this.#changes.fold(
        open.id,
        (before) => ({
          ...before,
          occurrences: before.occurrences + 1,
          lastOccurredAt: iso(event.occurredAt),
          updatedAt: iso(now),
        }),
        (before, after) => this.#commitFolded(before, after, { repeat: true, eventKey: event.key }),
      );
    }
    const joined = this.#joinOrGroup(event, device, rule, receivedAt, correlations, now);
    if (joined !== undefined) return joined;
    const incident = this.#create(event, device, rule, now);
    this.#adopt(incident, correlations, now);
    return this.#save(incident, receivedAt, event.key);
  }

  /**
   * An event that raises no incident of its own: it joins a correlated incident of its grid, or its flooded grid's
   * storm. Undefined when it does neither.
   */
  #joinOrGroup(
    event: DeviceEvent,
    device: ResolvedDevice,
    rule: RuleConfig,
    receivedAt: number,
    correlations: readonly Correlation[],
    now: number,
  ): Promise<void> | undefined {
    const gridId = device.grid.ref.id;
    if (correlations.length > 0) {
      const match = this.#anchors.match(gridId, device.id, correlations, now, this.#openHere);
      if (match !== undefined) return this.#join(match.anchor, match.correlation, event, now);
    }
    // An emergency, or a lasting condition that its device must be able to clear, is never folded into a storm.
    const groupable = rule.clearedBy === undefined && !this.#options.router.isEmergency(rule.category);
    if (groupable && this.#creations.get(gridId)?.full(now))
      return this.#group(event, device, receivedAt, now);
    return undefined;
  }

  /** A new incident of this instance: kept active, counted toward its grid's flood, open to correlation. */
  #adopt(incident: Incident, correlations: readonly Correlation[], now: number): void {
    this.#remember(incident);
    this.#counted(incident.gridId, now);
    if (correlations.length > 0) this.#anchors.anchor(incident, correlations, now);
  }

  #announceCreated(incident: Incident, receivedAt: number, stored?: Promise<unknown>): void {
    this.#options.bus.emit('incident:created', incident, receivedAt, stored);
    whenStored(stored, () => this.#options.metrics.incidentsCreated.labels(incident.severity).inc());
  }

  /**
   * raise() for instances sharing the store, where a device's consecutive events may reach different instances:
   * its open incident is the one the store names for the condition; a new one is created only if no instance
   * created it first, else the event folds into that one; an event whose change is committed (it was delivered
   * again) changes nothing. Correlation and storms stay per instance.
   */
  async #raiseShared(
    shared: SharedIncidents,
    event: DeviceEvent,
    device: ResolvedDevice,
    rule: RuleConfig,
    receivedAt: number,
    correlations: readonly Correlation[],
  ): Promise<void> {
    // A redelivered event is refused by the store in the same step as its change would be written (its key is there).
    const condition = sharedConditionKey(device.id, event.type);
    for (let attempt = 1; ; attempt++) {
      const now = Date.now();
      const open = await shared.openIncident(condition);
      if (open !== undefined && foldsInto(open, rule, now)) {
        if (await this.#foldShared(open, event, now)) return;
      } else {
        const joined = this.#joinOrGroup(event, device, rule, receivedAt, correlations, now);
        if (joined !== undefined) return joined;
        const incident: Incident = { ...this.#create(event, device, rule, now), version: 1 };
        // `open` is still open but past its dedupe window: the new incident replaces it as the condition's.
        const outcome = await this.#changes.serial(incident.id, () =>
          shared.create(incident, creationAudit(incident), open?.id, event.key),
        );
        if (typeof outcome === 'object' && 'redeliveredTo' in outcome) {
          this.#options.metrics.eventsRedelivered.inc();
          // Its first delivery's instance may have died before its push left: push it again.
          const created =
            outcome.redeliveredTo === undefined
              ? undefined
              : await this.#options.store.getIncident(outcome.redeliveredTo);
          if (created !== undefined) this.#options.bus.emit('incident:replayed', created);
          return;
        }
        if (outcome === 'created') {
          this.#adopt(incident, correlations, now);
          this.#announceCreated(incident, receivedAt);
          return;
        }
        // Another instance created the condition's incident first: the next turn folds the event into it.
      }
      if (attempt >= 8) {
        throw new Error(`the ${event.type} condition of ${device.id} kept changing under this event`);
      }
    }
  }

  /** Folds a repeat into the shared open incident; false when it is no longer open (then the event raises anew). */
  #foldShared(open: Incident, event: DeviceEvent, now: number): Promise<boolean> {
    // The incident as just read, the first time; after a lost race, as read again.
    let read: Incident | undefined = open;
    return this.#changes.serial(open.id, async () => {
      const before = read ?? (await this.#options.store.getIncident(open.id));
      read = undefined;
      if (before === undefined || !isOpen(before.state)) return false;
      // Repeats arrive through several instances, not always in order: the last occurrence is the latest.
      const after: Incident = {
        ...before,
        occurrences: before.occurrences + 1,
        lastOccurredAt: iso(Math.max(event.occurredAt, Date.parse(before.lastOccurredAt))),
        updatedAt: iso(now),
      };
      if ((await this.#commit(before, after, { repeat: true, eventKey: event.key })) === before) {
        this.#options.metrics.eventsRedelivered.inc();
        this.#options.bus.emit('incident:replayed', before);
      } else {
        this.#options.metrics.eventsDeduplicated.inc();
      }
      return true;
    });
  }

  /** clear() for instances sharing the store: the open incidents are the ones the store names. */
  async #clearShared(
    shared: SharedIncidents,
    event: DeviceEvent,
    clearedRules: readonly RuleConfig[],
  ): Promise<void> {
    await Promise.all(
      clearedRules.map(async (rule) => {
        const incident = await shared.openIncident(sharedConditionKey(event.deviceId, rule.event));
        if (incident === undefined) return;
        await this.act('system', incident.id, 'clear', { note: `cleared by ${event.type}` }).catch(
          (error: unknown) => {
            this.#log.warn({ incidentId: incident.id, error: (error as Error).message }, 'clearing failed');
          },
        );
      }),
    );
  }

  /** Resolves, as the hub, the open incidents of this device that the event clears. */
  clear(event: DeviceEvent, clearedRules: readonly RuleConfig[]): Promise<void> {
    if (this.#shared !== undefined) return this.#clearShared(this.#shared, event, clearedRules);
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
    return this.#changes.serial(incidentId, async () => {
      const before = this.#options.shared
        ? await this.#options.store.getIncident(incidentId)
        : (this.#active.get(incidentId) ?? (await this.#options.store.getIncident(incidentId)));
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
      return this.#commit(before, after, { audit });
    });
  }

  /** Escalates every open incident past its deadline one level up, unless it is already at the top. */
  sweep(now: number = Date.now()): void {
    if (this.#options.shared && now - this.#reloadedAt >= sharedReloadMs) {
      this.#reloadedAt = now;
      this.#reloadShared().catch((error: unknown) =>
        this.#log.warn({ error: (error as Error).message }, 'reloading active incidents failed'),
      );
    }
    for (const incident of this.#active.values()) {
      if (!isOpen(incident.state) || incident.dueAt === null || Date.parse(incident.dueAt) > now) continue;
      if (this.#context.parentOf(incident.responsibleNodeId) === undefined) continue;
      if (this.#changes.busy(incident.id)) continue;
      void this.#escalate(incident);
    }
  }

  /**
   * Sharing the store, an instance learns of the others' incidents (so a dead instance's deadlines are kept) and of
   * the ones they ended (so it neither escalates nor correlates to them). A copy older than the one in memory (by
   * version) is not taken: this instance may have changed the incident while the list was read.
   */
  async #reloadShared(): Promise<void> {
    const known = new Map(this.#active);
    const incidents = await this.#options.store.listActiveIncidents();
    const active = new Set<string>();
    for (const incident of incidents) {
      active.add(incident.id);
      const held = this.#active.get(incident.id);
      if (this.#changes.busy(incident.id) || (held?.version ?? 0) > (incident.version ?? 0)) continue;
      this.#remember(incident);
    }
    for (const [id, incident] of known) {
      // Active here, unchanged since the list was asked for, and not active in the store: another instance ended it.
      if (active.has(id) || this.#active.get(id) !== incident) continue;
      const ended = await this.#options.store.getIncident(id);
      if (ended !== undefined && this.#active.get(id) === incident && !this.#changes.busy(id)) {
        this.#remember(ended);
      }
    }
  }

  /**
   * Escalates an overdue incident, once across every hub sharing the store: the claim names the incident, its level
   * and the deadline that passed, so exactly one instance wins it. A loser reloads the incident (the winner has
   * changed it) and so stops trying.
   */
  async #escalate(incident: Incident): Promise<void> {
    try {
      const claim = `escalate:${incident.id}:${incident.escalations}:${incident.dueAt}`;
      if (!(await this.#options.store.claim(claim, 10 * 60_000))) {
        const fresh = await this.#options.store.getIncident(incident.id);
        if (fresh !== undefined) this.#remember(fresh);
        return;
      }
      await this.act('system', incident.id, 'escalate', { note: `${incident.dueStage} deadline passed` });
      this.#options.metrics.escalations.inc();
    } catch (error) {
      this.#log.warn({ incidentId: incident.id, error: (error as Error).message }, 'escalation failed');
    }
  }

  #create(event: DeviceEvent, device: ResolvedDevice, rule: IncidentKind, now: number): Incident {
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
      // The worker's acceptance clock starts at dispatch: a case the centre must dispatch by hand gets its
      // acceptBy when it is dispatched (its dueAt meanwhile is the centre's deadline to dispatch it).
      timeline: {
        ...(dispatched ? { dispatchedAt: at, acceptBy } : {}),
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

  /**
   * Writes a change with its audit entry, updates the in-memory view, then announces it. A storm's change is
   * announced from what clients last saw of it, which may be older than `before` (its pushes are throttled), so
   * every push's `before` is the previous push's `after`.
   */
  async #commit(before: Incident, after: Incident, change: ChangeWrite = {}): Promise<Incident> {
    const { audit, repeat = false, eventKey } = change;
    if (this.#shared === undefined) {
      await this.#write(after, change);
    } else {
      // Over the version read, or StaleIncident and the change queue makes the change again from a fresh read.
      const written = await this.#shared.write(before, after, audit, eventKey);
      if (written === undefined) return before;
      // What was written carries its version: it is what is announced and returned.
      after = written;
    }
    // Clients are shown it now; a storm's pending throttled push is moot, and its `before` is what they last saw.
    const shown = this.#stormPushes.showNow(after) ?? before;
    this.#remember(after);
    // A repeat is most of the incident traffic under load: its delta lets pushes skip encoding both incidents.
    this.#options.bus.emit(
      'incident:updated',
      { before: shown, after },
      repeat ? repeatOf(after) : undefined,
    );
    return after;
  }

  /** The store write of a change, on one instance: of a repeat or a join what it changed, else the incident whole. */
  #write(after: Incident, { audit, repeat = false, joined, eventKey }: ChangeWrite): Promise<void> {
    const store = this.#options.store;
    return joined !== undefined
      ? store.saveJoined(after, joined, audit, eventKey)
      : repeat && audit === undefined
        ? store.saveRepeat(after, eventKey)
        : store.saveIncident(after, audit, eventKey);
  }

  /**
   * A device event folded into its incident on one instance (a repeat, a correlated join): announced as soon as it is
   * decided, with its commit (see #save), and kept in memory once committed. A change whose commit fails was shown but
   * is not counted: its device is not acknowledged, sends the event again, and it is then shown the same again.
   */
  async #commitFolded(before: Incident, after: Incident, change: ChangeWrite): Promise<void> {
    const stored = this.#write(after, change);
    this.#options.bus.emit(
      'incident:updated',
      { before, after },
      change.repeat ? repeatOf(after) : undefined,
      stored,
    );
    await stored;
    this.#remember(after);
  }

  /**
   * Commits a new incident with its audit entry. On one instance it is announced at once, with its commit: the live
   * views show a device's alarm as soon as it is decided, not after the store's round trip (half the latency under
   * load), while the device's acknowledgement and whatever leaves the hub (feed, webhooks, evidence) wait for the
   * commit. A hub that dies before the commit has not acknowledged the event: its device sends it again, and the
   * dashboards, reconnecting, load the incidents anew. Instances sharing a store announce it once committed: a
   * sibling's clients would keep an incident a dying instance showed them and never stored.
   */
  #save(incident: Incident, receivedAt: number, eventKey?: string): Promise<void> {
    const audit = creationAudit(incident);
    const stored = this.#changes.serial(incident.id, () =>
      this.#options.store.saveIncident(incident, audit, eventKey),
    );
    if (this.#shared === undefined) {
      this.#announceCreated(incident, receivedAt, stored);
      stored.catch(() => this.#forgetUnsaved(incident));
      return stored;
    }
    return stored.then(() => this.#announceCreated(incident, receivedAt));
  }

  /**
   * A new incident whose commit failed, on one instance: no longer active here, so nothing folds into it (a fold
   * finds it nowhere and fails, change-queue.ts) and the device's event, not acknowledged and sent again, raises it
   * anew. Its correlation anchor lapses with it (#openHere). The dashboards, shown it already, drop it on their next
   * reload.
   */
  #forgetUnsaved(incident: Incident): void {
    if (this.#active.get(incident.id) !== incident) return;
    // #remember's bookkeeping for an incident that ended: out of the active incidents, its condition and its storm.
    this.#remember({ ...incident, state: 'cancelled' });
  }

  /**
   * The incident as it stands: in memory while active, else as stored (it ended while a change waited). Sharing the
   * store, always as stored: another instance may have changed it.
   */
  async #current(incidentId: string): Promise<Incident | undefined> {
    return (
      (this.#shared === undefined ? this.#active.get(incidentId) : undefined) ??
      (await this.#options.store.getIncident(incidentId))
    );
  }

  /** Another device's event joins the incident: related, severity raised, audited with the change. */
  #join(anchor: CorrelationAnchor, correlation: Correlation, event: DeviceEvent, now: number): Promise<void> {
    anchor.anchoredAt = now;
    this.#options.metrics.eventsCorrelated.inc();
    const joined: RelatedEvent = {
      deviceId: event.deviceId,
      type: event.type,
      occurredAt: iso(event.occurredAt),
    };
    const joinedInto = (before: Incident): Incident => ({
      ...before,
      ...(correlation.title === undefined ? {} : { title: correlation.title }),
      severity: maxSeverity(before.severity, correlation.severity),
      related: appendNewest(before.related, joined, relatedEventsLimit),
      updatedAt: iso(now),
    });
    const joinWrite = (before: Incident, after: Incident): ChangeWrite => ({
      audit: AuditTrail.entry('system', {
        action: 'incident.correlate',
        target: { kind: 'incident', id: before.id },
        outcome: 'ok',
        detail: {
          correlation: correlation.id,
          deviceId: joined.deviceId,
          eventType: joined.type,
          severity: after.severity,
        },
      }),
      joined,
      eventKey: event.key,
    });
    // One hub owning the store: joins fold like repeats (a perimeter breach draws many devices' events at once), and
    // are announced as repeats are, as soon as decided: a fold's changes reach clients in the order they were made.
    const anchored = this.#active.get(anchor.incidentId);
    if (this.#shared === undefined && anchored !== undefined) {
      return this.#changes.fold(anchor.incidentId, joinedInto, (before, after) =>
        this.#commitFolded(before, after, joinWrite(before, after)),
      );
    }
    return this.#changes.serial(anchor.incidentId, async () => {
      const before = await this.#current(anchor.incidentId);
      if (before === undefined) return;
      const after = joinedInto(before);
      await this.#commit(before, after, joinWrite(before, after));
    });
  }

  /** Counts a new incident of the grid toward flood control. */
  #counted(gridId: string, now: number): void {
    const flood = this.#options.flood;
    if (flood === undefined || flood.maxIncidents === 0) return;
    let window = this.#creations.get(gridId);
    if (window === undefined) {
      window = new SlidingWindow(flood.maxIncidents, flood.windowSeconds * 1000);
      this.#creations.set(gridId, window);
    }
    window.add(now);
  }

  /**
   * A flooded grid's event joins the grid's open storm incident, or starts one. Every grouped event is committed
   * at once (nothing is lost), but pushed at most once a second, with a trailing push of the last state.
   */
  #group(event: DeviceEvent, device: ResolvedDevice, receivedAt: number, now: number): Promise<void> {
    this.#options.metrics.incidentsGrouped.inc();
    const grouped: RelatedEvent = {
      deviceId: device.id,
      type: event.type,
      occurredAt: iso(event.occurredAt),
    };
    const stormId = this.#storms.get(device.grid.ref.id);
    const storm = stormId === undefined ? undefined : this.#active.get(stormId);
    if (storm === undefined) {
      const kind: IncidentKind = {
        category: stormCategory,
        severity: 'major',
        title: `Alarm storm in ${device.grid.ref.name}`,
      };
      const created: Incident = { ...this.#create(event, device, kind, now), related: [grouped] };
      this.#remember(created);
      return this.#save(created, receivedAt, event.key);
    }
    const groupedInto = (before: Incident): Incident => ({
      ...before,
      occurrences: before.occurrences + 1,
      lastOccurredAt: grouped.occurredAt,
      related: appendNewest(before.related, grouped, relatedEventsLimit),
      updatedAt: iso(now),
    });
    const shared = this.#shared;
    if (shared === undefined) {
      return this.#changes.fold(storm.id, groupedInto, async (_before, after) => {
        await this.#options.store.saveJoined(after, grouped, undefined, event.key);
        this.#remember(after);
        this.#stormPushes.soon(after.id);
      });
    }
    return this.#changes.serial(storm.id, async () => {
      const before = (await this.#current(storm.id)) ?? storm;
      const written = await shared.write(before, groupedInto(before), undefined, event.key);
      if (written === undefined) return;
      this.#remember(written);
      this.#stormPushes.soon(written.id);
    });
  }

  #remember(incident: Incident): void {
    const terminal = terminalStates.has(incident.state);
    if (terminal) {
      this.#active.delete(incident.id);
    } else {
      this.#active.set(incident.id, incident);
    }
    if (incident.category === stormCategory) {
      this.#rememberStorm(incident, terminal);
      return;
    }
    const key = conditionKey(incident.device.id, incident.event.type);
    if (isOpen(incident.state)) this.#conditions.set(key, incident.id);
    else if (this.#conditions.get(key) === incident.id) this.#conditions.delete(key);
  }

  /** A storm is no device's condition: its first device's repeats and clearing events are not its business. */
  #rememberStorm(storm: Incident, terminal: boolean): void {
    if (isOpen(storm.state)) this.#storms.set(storm.gridId, storm.id);
    else if (this.#storms.get(storm.gridId) === storm.id) this.#storms.delete(storm.gridId);
    // Tracked from its creation (incident:created is its first push), or when found open at start.
    if (terminal) this.#stormPushes.forget(storm.id);
    else this.#stormPushes.track(storm);
  }
}
