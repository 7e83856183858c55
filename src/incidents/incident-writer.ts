import { AuditTrail } from '../audit/audit-trail.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { TypedBus } from '../core/bus.ts';
import { type HubBusEvents, type IncidentRepeat, whenStored } from '../core/events.ts';
import type { Incident, RelatedEvent } from '../core/incident.ts';
import type { Logger } from '../observability/logger.ts';
import type { Store } from '../store/store.ts';
import type { ActiveIncidents } from './active-incidents.ts';
import type { IncidentChangeQueue } from './change-queue.ts';
import type { IncidentMetrics } from './incident-metrics.ts';
import type { Raising, RaisingChain, RaisingStep } from './raising.ts';

/** What a writer works with: the store, the bus it announces on, and this instance's view of the active incidents. */
export interface IncidentWriterParts {
  readonly store: Store;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: IncidentMetrics;
  readonly active: ActiveIncidents;
  readonly logger: Logger;
}

/** Another device's event joining an incident by correlation: what it makes of the incident, audited with it. */
export interface Join {
  readonly joined: RelatedEvent;
  readonly eventKey: string | undefined;
  readonly change: (before: Incident) => Incident;
  readonly audit: (before: Incident, after: Incident) => AuditEntry;
}

/**
 * How incidents are written and announced: one store write per kind of change, each committed in order per incident
 * (`changes`) and announced on the bus. One implementation for a hub that owns its store (lone-incident-writer.ts:
 * the live view first, the store's round trip after) and one for instances sharing a store (shared-incident-writer.ts:
 * every change a compare-and-set, announced once committed). Chosen once, where the hub is assembled: nothing else
 * asks which it is.
 */
/** What creating an incident of no device condition needs of its cause: a Raising is one, a people's case too. */
export interface UnconditionedRaising {
  readonly event: { readonly key?: string };
  readonly receivedAt: number;
}

export interface IncidentWriter {
  /** Each incident's changes, one at a time and in order; device events' changes folded (change-queue.ts). */
  readonly changes: IncidentChangeQueue;
  /** The first raising step: an event whose change is committed changes nothing again. */
  readonly redelivered: RaisingStep;
  /** Runs the raising steps for an event, with `now` and the device condition's open incident found. */
  raise(raising: Raising, steps: RaisingChain): Promise<void>;
  /** The device condition's open incident, for clearing it. */
  openIncident(deviceId: string, eventType: string): Incident | undefined | Promise<Incident | undefined>;
  /** The incident as held in memory, when that is surely current (a change may start from it without a read). */
  cached(incidentId: string): Incident | undefined;
  /** The incident as it stands: cached, else as stored. */
  current(incidentId: string): Promise<Incident | undefined>;
  /** A repeat of the device's event folded into its condition's open incident (dedupe). */
  repeat(raising: Raising, open: Incident): Promise<void>;
  /** Another device's correlated event joined into the incident. */
  join(incidentId: string, join: Join): Promise<void>;
  /** A flooded grid's event grouped into its open storm incident; pushed throttled. */
  group(
    storm: Incident,
    grouped: RelatedEvent,
    change: (before: Incident) => Incident,
    eventKey: string | undefined,
  ): Promise<void>;
  /** A new incident of a device condition; `adopt` makes it this instance's once it is the condition's. */
  create(incident: Incident, raising: Raising, adopt: (incident: Incident) => void): Promise<void>;
  /**
   * A new incident of no device condition: a flooded grid's storm, or a case from people (IncidentService.createCase).
   * Only the event's key (when a device event caused it) and when it was received are read.
   */
  createStorm(storm: Incident, raising: UnconditionedRaising): Promise<void>;
  /**
   * Any other change (a lifecycle action, evidence attached), inside the incident's turn of `changes`: resolves with
   * the incident as written and announced.
   */
  change(before: Incident, after: Incident, audit: AuditEntry): Promise<Incident>;
  /** Called by every deadline sweep: a shared store's writer learns of its siblings' changes now and then. */
  refresh(now: number): void;
}

/** The part of a writer the raising steps use (raising-steps.ts). */
export type RaisingWriter = Pick<
  IncidentWriter,
  'redelivered' | 'raise' | 'repeat' | 'join' | 'group' | 'create' | 'createStorm'
>;

/** Chosen at assembly (src/hub.ts): builds the writer over the service's parts. */
export type IncidentWriterFactory = (parts: IncidentWriterParts) => IncidentWriter;

export const settled = Promise.resolve();

/** What a repeat changed of the incident, for the pushes that carry only that. */
export function repeatOf(incident: Incident): IncidentRepeat {
  const { id, occurrences, lastOccurredAt, updatedAt, version } = incident;
  return version === undefined
    ? { id, occurrences, lastOccurredAt, updatedAt }
    : { id, occurrences, lastOccurredAt, updatedAt, version };
}

/** The audit entry of a new incident, committed with it. */
export function creationAudit(incident: Incident): AuditEntry {
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

/** Announces a new incident; `stored` is its commit when it is announced before it (see whenStored). */
export function announceCreated(
  parts: IncidentWriterParts,
  incident: Incident,
  receivedAt: number,
  stored?: Promise<unknown>,
): void {
  parts.bus.emit('incident:created', incident, receivedAt, stored);
  whenStored(stored, () => parts.metrics.incidentsCreated.labels(incident.severity).inc());
}

/**
 * Keeps a committed change in memory, then announces it. A storm's change is announced from what clients last saw of
 * it, which may be older than `before` (its pushes are throttled), so every push's `before` is the previous push's
 * `after`. A repeat is most of the incident traffic under load: its delta lets pushes skip encoding both incidents.
 */
export function announceChange(
  parts: IncidentWriterParts,
  before: Incident,
  after: Incident,
  repeat = false,
): Incident {
  // Clients are shown it now; a storm's pending throttled push is moot, and its `before` is what they last saw.
  const shown = parts.active.stormPushes.showNow(after) ?? before;
  parts.active.remember(after);
  parts.bus.emit('incident:updated', { before: shown, after }, repeat ? repeatOf(after) : undefined);
  return after;
}
