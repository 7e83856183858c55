import type { AuditEntry } from '../core/audit.ts';
import { type Incident, isOpen, stormCategory } from '../core/incident.ts';
import type { Store } from '../store/store.ts';

/** A change was made from a version another instance has since replaced: make it again from a fresh read. */
export class StaleIncident extends Error {
  constructor(readonly incidentId: string) {
    super(`incident ${incidentId} was changed by another instance meanwhile`);
  }
}

/**
 * How often a change is made again over a fresh read before the caller is told it failed. Each instance makes one
 * change of an incident at a time, so only other instances' changes can beat it; a short random wait after a
 * loss lets a loser that keeps meeting the same fast winner through.
 */
const attempts = 32;

/** Key of a device's condition in the shared store: one device, one raising event type. */
export function sharedConditionKey(deviceId: string, eventType: string): string {
  return `${deviceId}/${eventType}`;
}

/** The condition an incident holds while open; a storm is no device's condition. */
function conditionOf(incident: Incident): { key: string } | undefined {
  return incident.category === stormCategory
    ? undefined
    : { key: sharedConditionKey(incident.device.id, incident.event.type) };
}

/**
 * What became of a new incident: written; the event's change was already committed (into the incident named, when
 * the store says), so this is a redelivery; or another incident holds its condition.
 */
export type SharedCreation =
  | 'created'
  | { readonly redeliveredTo: string | undefined }
  | { readonly holder: string };

/**
 * The incident writes of hub instances sharing a store, where any instance may receive any device's next event
 * and any officer's action: every change is written over the version it was made from (a compare-and-set in the
 * store) and made again from a fresh read when another instance got there first; a device condition's open
 * incident is found in the store and created only if absent; each device event's change is committed with its key,
 * so a redelivered event changes nothing.
 */
export class SharedIncidents {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The condition's open incident as stored now, if there is one. */
  async openIncident(conditionKey: string): Promise<Incident | undefined> {
    const id = await this.#store.openCondition(conditionKey);
    const incident = id === undefined ? undefined : await this.#store.getIncident(id);
    return incident !== undefined && isOpen(incident.state) ? incident : undefined;
  }

  /**
   * Writes a change made from `before`, as the next version. Resolves with what was written, or undefined when
   * `eventKey`'s change was already committed; rejects with StaleIncident when another instance changed it first.
   */
  async write(
    before: Incident,
    after: Incident,
    audit?: AuditEntry,
    eventKey?: string,
  ): Promise<Incident | undefined> {
    const expectedVersion = before.version ?? 0;
    const versioned: Incident = { ...after, version: expectedVersion + 1 };
    const condition = conditionOf(versioned);
    const outcome = await this.#store.writeIncident({
      incident: versioned,
      expectedVersion,
      ...(audit === undefined ? {} : { audit }),
      ...(condition === undefined ? {} : { condition }),
      ...(eventKey === undefined ? {} : { eventKey }),
    });
    if (outcome.written) return versioned;
    if (outcome.refused === 'event') return undefined;
    throw new StaleIncident(after.id);
  }

  /**
   * Writes a new incident. A device condition's incident is created only if no other open incident holds the
   * condition (`replaces` names one whose dedupe window has passed); else the caller folds the event into the
   * holder.
   */
  async create(
    incident: Incident,
    audit: AuditEntry,
    replaces: string | undefined,
    eventKey: string | undefined,
  ): Promise<SharedCreation> {
    const condition = conditionOf(incident);
    const outcome = await this.#store.writeIncident({
      incident,
      audit,
      expectedVersion: 0,
      ...(condition === undefined
        ? {}
        : { condition: { ...condition, claim: true, ...(replaces === undefined ? {} : { replaces }) } }),
      ...(eventKey === undefined ? {} : { eventKey }),
    });
    if (outcome.written) return 'created';
    if (outcome.refused === 'condition') return { holder: outcome.holder };
    return { redeliveredTo: outcome.refused === 'event' ? outcome.incidentId : undefined };
  }

  /** Runs `work` again while it fails with StaleIncident: each run reads the incident afresh. */
  async retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof StaleIncident) || attempt >= attempts) throw error;
      }
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * attempt));
    }
  }
}
