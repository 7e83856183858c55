import type { AuditEntry } from '../core/audit.ts';
import { isoTime } from '../core/ids.ts';
import { type Incident, isOpen, type RelatedEvent } from '../core/incident.ts';
import { IncidentChangeQueue } from './change-queue.ts';
import {
  announceChange,
  announceCreated,
  creationAudit,
  type IncidentWriter,
  type IncidentWriterFactory,
  type IncidentWriterParts,
  type Join,
  type UnconditionedRaising,
} from './incident-writer.ts';
import type { Raising, RaisingChain, RaisingStep } from './raising.ts';
import { SharedIncidents, sharedConditionKey } from './shared-incidents.ts';

/** How often an instance reloads every active incident, its siblings' included. */
const sharedReloadMs = 30_000;
/** How often the steps run again for one event while other instances keep winning its device condition. */
const raisingAttempts = 8;

/**
 * The incident writes of hub instances sharing a store (Redis), where a device's consecutive events and an incident's
 * actions may reach different instances: every change is read from the store and written over the version read (a
 * compare-and-set, SharedIncidents.write), made again from a fresh read when another instance got there first, and
 * announced once committed: a sibling's clients would keep an incident a dying instance showed them and never stored.
 * A device condition's open incident is the one the store names; a new one is created only if no instance created it
 * first. Correlation and storms stay per instance.
 */
export class SharedIncidentWriter implements IncidentWriter {
  readonly changes: IncidentChangeQueue;
  readonly #parts: IncidentWriterParts;
  readonly #shared: SharedIncidents;
  #reloadedAt = Date.now();

  constructor(parts: IncidentWriterParts) {
    this.#parts = parts;
    const shared = new SharedIncidents(parts.store);
    this.#shared = shared;
    this.changes = new IncidentChangeQueue({
      current: (incidentId) => this.current(incidentId),
      retrying: (work) => shared.retrying(work),
    });
  }

  /**
   * A redelivered event is refused by the store in the same step as its change would be written (its key is there):
   * nothing to look up before; `repeat` and `create` say what became of it.
   */
  readonly redelivered: RaisingStep = {
    name: 'redelivered',
    handle: (raising: Raising, next: RaisingChain) => next(raising),
  };

  /** The steps run from the condition's open incident as stored now, and again while another instance wins it. */
  async raise(raising: Raising, steps: RaisingChain): Promise<void> {
    const { device, event } = raising;
    const condition = sharedConditionKey(device.id, event.type);
    for (let attempt = 1; ; attempt++) {
      raising.now = Date.now();
      raising.open = await this.#shared.openIncident(condition);
      raising.contested = false;
      await steps(raising);
      if (!raising.contested) return;
      if (attempt >= raisingAttempts) {
        throw new Error(`the ${event.type} condition of ${device.id} kept changing under this event`);
      }
    }
  }

  openIncident(deviceId: string, eventType: string): Promise<Incident | undefined> {
    return this.#shared.openIncident(sharedConditionKey(deviceId, eventType));
  }

  /** Never: another instance may have changed it. */
  cached(): undefined {
    return undefined;
  }

  /** Always as stored: another instance may have changed it. */
  current(incidentId: string): Promise<Incident | undefined> {
    return this.#parts.store.getIncident(incidentId);
  }

  /** Folds a repeat into the open incident; contested when it is no longer open (then the event raises anew). */
  async repeat(raising: Raising, open: Incident): Promise<void> {
    const { event, now } = raising;
    // The incident as just read, the first time; after a lost race, as read again.
    let read: Incident | undefined = open;
    const folded = await this.changes.serial(open.id, async () => {
      const before = read ?? (await this.#parts.store.getIncident(open.id));
      read = undefined;
      if (before === undefined || !isOpen(before.state)) return false;
      // Repeats arrive through several instances, not always in order: the last occurrence is the latest.
      const after: Incident = {
        ...before,
        occurrences: before.occurrences + 1,
        lastOccurredAt: isoTime(Math.max(event.occurredAt, Date.parse(before.lastOccurredAt))),
        updatedAt: isoTime(now),
      };
      if ((await this.#commit(before, after, undefined, event.key, true)) === before) {
        this.#parts.metrics.eventsRedelivered.inc();
        this.#parts.bus.emit('incident:replayed', before);
      } else {
        this.#parts.metrics.eventsDeduplicated.inc();
      }
      return true;
    });
    if (!folded) raising.contested = true;
  }

  join(incidentId: string, join: Join): Promise<void> {
    return this.changes.serial(incidentId, async () => {
      const before = await this.current(incidentId);
      if (before === undefined) return;
      const after = join.change(before);
      await this.#commit(before, after, join.audit(before, after), join.eventKey);
    });
  }

  group(
    storm: Incident,
    _grouped: RelatedEvent,
    change: (before: Incident) => Incident,
    eventKey: string | undefined,
  ): Promise<void> {
    return this.changes.serial(storm.id, async () => {
      const before = (await this.current(storm.id)) ?? storm;
      const written = await this.#shared.write(before, change(before), undefined, eventKey);
      if (written === undefined) return;
      this.#parts.active.remember(written);
      this.#parts.active.stormPushes.soon(written.id);
    });
  }

  /**
   * Created only if no other open incident holds the device condition (the open one read, past its dedupe window, is
   * replaced); else contested, and the next turn folds the event into the holder. An event whose change is committed
   * already was delivered again: its incident is pushed again (its first delivery's instance may have died before
   * its push left).
   */
  async create(incident: Incident, raising: Raising, adopt: (incident: Incident) => void): Promise<void> {
    const versioned: Incident = { ...incident, version: 1 };
    // `raising` is read again on the next turn: what this write needs is taken now.
    const replaces = raising.open?.id;
    const eventKey = raising.event.key;
    const outcome = await this.changes.serial(versioned.id, () =>
      this.#shared.create(versioned, creationAudit(versioned), replaces, eventKey),
    );
    if (outcome === 'created') {
      adopt(versioned);
      announceCreated(this.#parts, versioned, raising.receivedAt);
    } else if ('redeliveredTo' in outcome) {
      this.#parts.metrics.eventsRedelivered.inc();
      const created =
        outcome.redeliveredTo === undefined
          ? undefined
          : await this.#parts.store.getIncident(outcome.redeliveredTo);
      if (created !== undefined) this.#parts.bus.emit('incident:replayed', created);
    } else {
      raising.contested = true;
    }
  }

  /** A storm is no device's condition: written as it is, and announced once committed. */
  async createStorm(storm: Incident, raising: UnconditionedRaising): Promise<void> {
    this.#parts.active.remember(storm);
    const audit = creationAudit(storm);
    const eventKey = raising.event.key;
    await this.changes.serial(storm.id, () => this.#parts.store.saveIncident(storm, audit, eventKey));
    announceCreated(this.#parts, storm, raising.receivedAt);
  }

  change(before: Incident, after: Incident, audit: AuditEntry): Promise<Incident> {
    return this.#commit(before, after, audit);
  }

  /**
   * Now and then, an instance learns of the others' incidents (so a dead instance's deadlines are kept) and of the
   * ones they ended (so it neither escalates nor correlates to them).
   */
  refresh(now: number): void {
    if (now - this.#reloadedAt < sharedReloadMs) return;
    this.#reloadedAt = now;
    this.#reload().catch((error: unknown) =>
      this.#parts.logger.warn({ error: (error as Error).message }, 'reloading active incidents failed'),
    );
  }

  /**
   * Writes a change over the version read, or StaleIncident and the change queue makes the change again from a fresh
   * read. What was written carries its version: it is what is announced and returned. An event whose change was
   * committed already writes nothing: `before` is returned.
   */
  async #commit(
    before: Incident,
    after: Incident,
    audit: AuditEntry | undefined,
    eventKey?: string,
    repeat = false,
  ): Promise<Incident> {
    const written = await this.#shared.write(before, after, audit, eventKey);
    if (written === undefined) return before;
    return announceChange(this.#parts, before, written, repeat);
  }

  /**
   * Every active incident as stored. A copy older than the one in memory (by version) is not taken: this instance
   * may have changed the incident while the list was read.
   */
  async #reload(): Promise<void> {
    const { active, store } = this.#parts;
    const known = new Map<string, Incident>();
    for (const incident of active.values()) known.set(incident.id, incident);
    const incidents = await store.listActiveIncidents();
    const stillActive = new Set<string>();
    for (const incident of incidents) {
      stillActive.add(incident.id);
      const held = active.get(incident.id);
      if (this.changes.busy(incident.id) || (held?.version ?? 0) > (incident.version ?? 0)) continue;
      active.remember(incident);
    }
    for (const [id, incident] of known) {
      // Active here, unchanged since the list was asked for, and not active in the store: another instance ended it.
      if (stillActive.has(id) || active.get(id) !== incident) continue;
      const ended = await store.getIncident(id);
      if (ended !== undefined && active.get(id) === incident && !this.changes.busy(id)) {
        active.remember(ended);
      }
    }
  }
}

export const sharedIncidentWriter: IncidentWriterFactory = (parts) => new SharedIncidentWriter(parts);
