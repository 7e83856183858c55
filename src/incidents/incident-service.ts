import { AuditTrail } from '../audit/audit-trail.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { TypedBus } from '../core/bus.ts';
import type { ResolvedDevice } from '../core/device.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { DeadlinesDescription } from '../core/dispatch.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { DeadlineStage, EvidenceItem, FieldPosition, Incident } from '../core/incident.ts';
import type { Principal } from '../core/principal.ts';
import type { RosterDescription } from '../core/roster.ts';
import type { FloodDescription, RuleDescription } from '../core/rule.ts';
import type { People } from '../core/user.ts';
import { type ArrivalSettings, judgeArrival } from '../field/geo.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import { ActiveIncidents } from './active-incidents.ts';
import { DeadlineSweep } from './deadline-sweep.ts';
import { deadlineMsOf, IncidentActions, lifecycleContextOf } from './incident-actions.ts';
import { incidentMetrics } from './incident-metrics.ts';
import type { IncidentWriter, IncidentWriterFactory } from './incident-writer.ts';
import type { ActionInput, IncidentAction } from './lifecycle.ts';
import {
  type DepartmentDescription,
  departmentOfUser,
  type LifecycleConfig,
  lifecycleLimitsOf,
  lifecycleSchema,
} from './lifecycle-schema.ts';
import { IncidentRaising } from './raising-steps.ts';
import { Rosters } from './rosters.ts';
import type { Router } from './router.ts';
import type { Correlation } from './rule-book.ts';
import type { Visibility } from './visibility.ts';

export interface IncidentServiceOptions {
  readonly store: Store;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly router: Router;
  readonly visibility: Visibility;
  readonly deadlines: DeadlinesDescription;
  readonly jurisdiction: Jurisdiction;
  /** The people the hub knows now (accounts.people): who a dispatch or hand-off may name. */
  readonly people: People;
  readonly logger: Logger;
  /**
   * How incidents are written: `loneIncidentWriter` for a hub that owns its store, `sharedIncidentWriter` for
   * instances sharing one (every change a compare-and-set over a fresh read). Chosen where the hub is assembled.
   */
  readonly writer: IncidentWriterFactory;
  /** How often deadlines are checked. */
  readonly sweepMs: number;
  /** The clock the deadline sweep compares deadlines to; Date.now unless a test moves it past one. */
  readonly now?: () => number;
  /** Alarm-storm control; none when left out. */
  readonly flood?: FloodDescription;
  /** How a phone's arrival is judged against the device (config map.coordinates, field.*); none: not judged. */
  readonly arrivals?: ArrivalSettings;
  /** Bounds of 延期 and 挂账 (config `lifecycle`); the defaults when left out. */
  readonly lifecycle?: LifecycleConfig;
  /** Departments cases are handed to for coordination (config `departments`); none when left out. */
  readonly departments?: readonly DepartmentDescription[];
}

const noCorrelations: readonly Correlation[] = [];

/**
 * Owns the incidents that are not over, through its parts: raising a device event (raising-steps.ts: redelivered →
 * repeat → correlated join → storm → create and route), lifecycle actions (incident-actions.ts), the deadline sweep
 * (deadline-sweep.ts), rosters (rosters.ts), all written through one incident writer (incident-writer.ts) and kept in
 * one in-memory view (active-incidents.ts). Incidents, dedupe and storms are rebuilt from the store on start, so
 * deadlines and escalations survive a restart; correlation windows and flood counts (seconds to minutes) do not.
 */
export class IncidentService {
  readonly #options: IncidentServiceOptions;
  readonly #active: ActiveIncidents;
  readonly #writer: IncidentWriter;
  readonly #raising: IncidentRaising;
  readonly #actions: IncidentActions;
  readonly #sweep: DeadlineSweep;
  readonly #rosters: Rosters;

  constructor(options: IncidentServiceOptions) {
    this.#options = options;
    const { store, bus, router } = options;
    const metrics = incidentMetrics(options.metrics);
    const logger = options.logger.child({ ns: 'incidents' });
    const active = new ActiveIncidents((change) => bus.emit('incident:updated', change));
    this.#active = active;
    const writer = options.writer({ store, bus, metrics, active, logger });
    this.#writer = writer;
    const arrivals = options.arrivals;
    const context = {
      ...lifecycleContextOf(options.deadlines, options.jurisdiction),
      limits: lifecycleLimitsOf(options.lifecycle ?? lifecycleSchema.parse({})),
      departmentOf: departmentOfUser(options.departments ?? []),
      ...(arrivals === undefined
        ? {}
        : {
            arrivalOf: (incident: Incident, position: FieldPosition) =>
              incident.device.location === undefined
                ? undefined
                : judgeArrival(incident.device.location, position, arrivals),
          }),
    };
    this.#raising = new IncidentRaising({
      writer,
      active,
      router,
      metrics,
      deadlineMs: context.deadlineMs,
      flood: options.flood,
    });
    this.#actions = new IncidentActions({
      writer,
      store,
      metrics,
      visibility: options.visibility,
      people: options.people,
      context,
      logger,
    });
    this.#sweep = new DeadlineSweep({
      active,
      writer,
      actions: this.#actions,
      store,
      metrics,
      logger,
      parentOf: context.parentOf,
      sweepMs: options.sweepMs,
      now: options.now,
    });
    this.#rosters = new Rosters(store, router);
  }

  async start(): Promise<void> {
    this.#active.clear();
    incidentMetrics(this.#options.metrics).countActive(() => this.#active.size);
    this.#raising.clear();
    await this.#rosters.load();
    for (const incident of await this.#options.store.listActiveIncidents()) this.#active.remember(incident);
    this.#sweep.start();
  }

  stop(): void {
    this.#sweep.stop();
    this.#active.stormPushes.clear();
  }

  /**
   * Attaches a piece of evidence that is complete on disk, as the hub: committed with its audit entry and pushed
   * as an `incident:update`. Works on ended incidents too (a clip may finish after a quick false alarm).
   */
  attachEvidence(
    incidentId: string,
    item: EvidenceItem,
    upload?: {
      /** The user who uploaded it (audited as theirs). */
      readonly by: Principal;
      /** Throws to refuse it, judged on the case as it stands (state, who may add, the per-case bound). */
      readonly admit: (incident: Incident) => void;
    },
  ): Promise<Incident | undefined> {
    const writer = this.#writer;
    return writer.changes.serial(incidentId, async () => {
      const before = await writer.current(incidentId);
      if (before === undefined) return undefined;
      upload?.admit(before);
      const after: Incident = {
        ...before,
        evidence: [...(before.evidence ?? []), item],
        updatedAt: new Date().toISOString(),
      };
      const audit = AuditTrail.entry(upload?.by ?? 'system', {
        action: 'incident.evidence',
        target: { kind: 'incident', id: incidentId },
        outcome: 'ok',
        detail: {
          kind: item.kind,
          cameraId: item.cameraId,
          bytes: item.bytes,
          ...(item.stage === undefined ? {} : { stage: item.stage }),
        },
      });
      return writer.change(before, after, audit);
    });
  }

  /**
   * A change to a case from outside the lifecycle (#25: a 12345 work order's 签收 or 回访, recorded on its case),
   * as the hub or a user: committed with its audit entry and pushed as an `incident:update`, as evidence is, so the
   * consoles that show the case draw it again. Works on ended cases too (a 回访 may come after closure).
   */
  amendCase(
    incidentId: string,
    amend: (incident: Incident) => Incident,
    audit: AuditEntry,
  ): Promise<Incident | undefined> {
    const writer = this.#writer;
    return writer.changes.serial(incidentId, async () => {
      const before = await writer.current(incidentId);
      if (before === undefined) return undefined;
      const after: Incident = { ...amend(before), updatedAt: new Date().toISOString() };
      return writer.change(before, after, audit);
    });
  }

  /**
   * A people's case (#25), built by the cases module: written as a storm is, a new incident of no device condition
   * (its `device` is a pseudo-device), kept active and announced, so routing's notifications, deadlines, escalation,
   * evidence and the assessment apply to it as to a device's case. Resolves once committed.
   */
  async createCase(incident: Incident): Promise<Incident> {
    await this.#writer.createStorm(incident, { event: {}, receivedAt: performance.now() });
    return (await this.#writer.current(incident.id)) ?? incident;
  }

  /** The time a stage of a category (or `category/sub`) may take, in ms: the lifecycle's lookup. */
  deadlineMs(category: string, stage: DeadlineStage): number {
    return deadlineMsOf(this.#options.deadlines)(category, stage);
  }

  /** Replaces a grid's duty roster, kept across restarts. */
  setRoster(actor: Principal, roster: RosterDescription): Promise<void> {
    return this.#rosters.set(actor, roster);
  }

  /** An active (not ended) incident, without touching the store. */
  active(id: string): Incident | undefined {
    return this.#active.get(id);
  }

  /** The active incidents this accepts, from memory (a shared store's are refreshed by the deadline sweep). */
  activeWhere(accept: (incident: Incident) => boolean): Incident[] {
    return [...this.#active.values()].filter(accept);
  }

  /** A device event under its rule, through the raising steps (raising-steps.ts). */
  raise(
    event: DeviceEvent,
    device: ResolvedDevice,
    rule: RuleDescription,
    receivedAt: number,
    correlations: readonly Correlation[] = noCorrelations,
  ): Promise<void> {
    return this.#raising.raise(event, device, rule, receivedAt, correlations);
  }

  /** Resolves, as the hub, the open incidents of this device that the event clears. */
  clear(event: DeviceEvent, clearedRules: readonly RuleDescription[]): Promise<void> {
    return this.#actions.clear(event, clearedRules);
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
    return this.#actions.act(actor, incidentId, action, input);
  }

  /** Escalates every open incident past its deadline one level up, unless it is already at the top. */
  sweep(now?: number): void {
    this.#sweep.sweep(now);
  }
}
