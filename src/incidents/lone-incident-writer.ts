import type { AuditEntry } from '../core/audit.ts';
import { isoTime } from '../core/ids.ts';
import type { Incident, RelatedEvent } from '../core/incident.ts';
import { IncidentChangeQueue } from './change-queue.ts';
import {
  announceChange,
  announceCreated,
  creationAudit,
  type IncidentWriter,
  type IncidentWriterFactory,
  type IncidentWriterParts,
  type Join,
  repeatOf,
  settled,
  type UnconditionedRaising,
} from './incident-writer.ts';
import type { Raising, RaisingChain, RaisingStep } from './raising.ts';

/**
 * The incident writes of a hub that owns its store (LMDB): the in-memory view is the truth, so a change starts from
 * it without a read, and each kind of change has its own store write (a repeat writes what it counted, a join or a
 * grouping what it appended, anything else the incident whole). A device event's change is announced as soon as it
 * is decided, with its commit (`whenStored`): the live views show an alarm without waiting for the store's round
 * trip (half the latency under load), while the device's acknowledgement and whatever leaves the hub for good (feed,
 * webhooks, evidence) wait for the commit. A hub that dies before the commit has not acknowledged the event: its
 * device sends it again, and the dashboards, reconnecting, load the incidents anew.
 */
export class LoneIncidentWriter implements IncidentWriter {
  readonly changes: IncidentChangeQueue;
  readonly #parts: IncidentWriterParts;
  /** Keyed device events whose change is being committed: a redelivery meanwhile waits for the same outcome. */
  readonly #eventsInFlight = new Map<string, Promise<void>>();

  constructor(parts: IncidentWriterParts) {
    this.#parts = parts;
    this.changes = new IncidentChangeQueue({ current: (incidentId) => this.current(incidentId) });
  }

  /**
   * A redelivered event (the broker never got its acknowledgement) changes nothing again: its change is committed
   * (a synchronous read of the embedded store), or is being committed and the redelivery waits for it.
   */
  readonly redelivered: RaisingStep = {
    name: 'redelivered',
    handle: (raising: Raising, next: RaisingChain): Promise<void> => {
      const eventKey = raising.event.key;
      if (eventKey === undefined) return next(raising);
      const pending = this.#eventsInFlight.get(eventKey);
      if (pending !== undefined || this.#parts.store.eventCommitted(eventKey) === true) {
        this.#parts.metrics.eventsRedelivered.inc();
        return pending ?? settled;
      }
      const raised = next(raising);
      this.#eventsInFlight.set(eventKey, raised);
      const forget = () => this.#eventsInFlight.delete(eventKey);
      raised.then(forget, forget);
      return raised;
    },
  };

  raise(raising: Raising, steps: RaisingChain): Promise<void> {
    raising.now = Date.now();
    raising.open = this.#parts.active.openOf(raising.device.id, raising.event.type);
    return steps(raising);
  }

  openIncident(deviceId: string, eventType: string): Incident | undefined {
    return this.#parts.active.openOf(deviceId, eventType);
  }

  cached(incidentId: string): Incident | undefined {
    return this.#parts.active.get(incidentId);
  }

  /** In memory while active, else as stored (it ended while a change waited). */
  async current(incidentId: string): Promise<Incident | undefined> {
    return this.#parts.active.get(incidentId) ?? (await this.#parts.store.getIncident(incidentId));
  }

  repeat(raising: Raising, open: Incident): Promise<void> {
    const { event, now } = raising;
    this.#parts.metrics.eventsDeduplicated.inc();
    return this.changes.fold(
      open.id,
      (before) => ({
        ...before,
        occurrences: before.occurrences + 1,
        lastOccurredAt: isoTime(event.occurredAt),
        updatedAt: isoTime(now),
      }),
      (before, after) => this.#repeated(before, after, event.key),
    );
  }

  /**
   * Joins fold like repeats (a perimeter breach draws many devices' events at once), and are announced as repeats
   * are, as soon as decided: a fold's changes reach clients in the order they were made.
   */
  join(incidentId: string, join: Join): Promise<void> {
    return this.changes.fold(incidentId, join.change, (before, after) => this.#joined(before, after, join));
  }

  group(
    storm: Incident,
    grouped: RelatedEvent,
    change: (before: Incident) => Incident,
    eventKey: string | undefined,
  ): Promise<void> {
    return this.changes.fold(storm.id, change, async (_before, after) => {
      await this.#parts.store.saveJoined(after, grouped, undefined, eventKey);
      this.#parts.active.remember(after);
      this.#parts.active.stormPushes.soon(after.id);
    });
  }

  create(incident: Incident, raising: Raising, adopt: (incident: Incident) => void): Promise<void> {
    adopt(incident);
    return this.#save(incident, raising);
  }

  createStorm(storm: Incident, raising: UnconditionedRaising): Promise<void> {
    this.#parts.active.remember(storm);
    return this.#save(storm, raising);
  }

  async change(before: Incident, after: Incident, audit: AuditEntry): Promise<Incident> {
    await this.#parts.store.saveIncident(after, audit);
    return announceChange(this.#parts, before, after);
  }

  /** The in-memory view is the only one: nothing to learn from elsewhere. */
  refresh(): void {}

  /**
   * A repeat folded into its incident: announced as soon as it is decided, with its commit, and kept in memory once
   * committed. A change whose commit fails was shown but is not counted: its device is not acknowledged, sends the
   * event again, and it is then shown the same again.
   */
  async #repeated(before: Incident, after: Incident, eventKey: string | undefined): Promise<void> {
    const stored = this.#parts.store.saveRepeat(after, eventKey);
    this.#parts.bus.emit('incident:updated', { before, after }, repeatOf(after), stored);
    await stored;
    this.#parts.active.remember(after);
  }

  /** A correlated event joined into its incident: announced and kept as a repeat is (#repeated). */
  async #joined(before: Incident, after: Incident, join: Join): Promise<void> {
    const stored = this.#parts.store.saveJoined(after, join.joined, join.audit(before, after), join.eventKey);
    this.#parts.bus.emit('incident:updated', { before, after }, undefined, stored);
    await stored;
    this.#parts.active.remember(after);
  }

  /**
   * Commits a new incident with its audit entry, announced at once with its commit. One whose commit fails is
   * forgotten (ActiveIncidents.forgetUnsaved): its device's event, sent again, raises it anew.
   */
  #save(incident: Incident, raising: UnconditionedRaising): Promise<void> {
    const audit = creationAudit(incident);
    const eventKey = raising.event.key;
    const stored = this.changes.serial(incident.id, () =>
      this.#parts.store.saveIncident(incident, audit, eventKey),
    );
    announceCreated(this.#parts, incident, raising.receivedAt, stored);
    stored.catch(() => this.#parts.active.forgetUnsaved(incident));
    return stored;
  }
}

export const loneIncidentWriter: IncidentWriterFactory = (parts) => new LoneIncidentWriter(parts);
