import type { Incident, IncidentChange } from '../core/incident.ts';
import { isOpen, stormCategory, terminalStates } from '../core/incident.ts';
import { ThrottledPushes } from './throttled-pushes.ts';

/** A storm incident's updates are pushed at most this often; every grouped event is still committed at once. */
const stormPushMs = 1000;

/** Key of a device's condition: one device, one raising event type. */
function conditionKey(deviceId: string, eventType: string): string {
  return `${deviceId}\u0000${eventType}`;
}

/**
 * This instance's view of the incidents not yet ended: by id, the open incident of each device condition (dedupe
 * and clearing), each grid's open storm, and the throttled pushes of storms. Rebuilt from the store on start; on a
 * shared store also from the siblings' changes (SharedIncidentWriter.refresh).
 */
export class ActiveIncidents {
  /** Incidents not yet ended, by id. */
  readonly #active = new Map<string, Incident>();
  /** The open incident of each device condition, for dedupe and clearing. */
  readonly #conditions = new Map<string, string>();
  /** Per grid: its open storm incident. */
  readonly #storms = new Map<string, string>();
  /** Storm incidents not yet ended: their pushes, at most one a second. */
  readonly stormPushes: ThrottledPushes;

  constructor(push: (change: IncidentChange) => void) {
    this.stormPushes = new ThrottledPushes({
      intervalMs: stormPushMs,
      current: (incidentId) => this.#active.get(incidentId),
      push,
    });
  }

  get size(): number {
    return this.#active.size;
  }

  get(id: string): Incident | undefined {
    return this.#active.get(id);
  }

  values(): IterableIterator<Incident> {
    return this.#active.values();
  }

  /** Whether an incident is active here and open: what a correlation anchor needs to stay joinable. */
  readonly isOpenHere = (incidentId: string): boolean => {
    const incident = this.#active.get(incidentId);
    return incident !== undefined && isOpen(incident.state);
  };

  /** The device condition's open incident, if this instance holds one. */
  openOf(deviceId: string, eventType: string): Incident | undefined {
    const id = this.#conditions.get(conditionKey(deviceId, eventType));
    const incident = id === undefined ? undefined : this.#active.get(id);
    return incident !== undefined && isOpen(incident.state) ? incident : undefined;
  }

  /** The grid's open storm incident, if this instance holds one. */
  stormOf(gridId: string): Incident | undefined {
    const id = this.#storms.get(gridId);
    return id === undefined ? undefined : this.#active.get(id);
  }

  clear(): void {
    this.#active.clear();
    this.#conditions.clear();
    this.#storms.clear();
    this.stormPushes.clear();
  }

  /** Keeps the incident as it now stands: active while not ended, its condition's (or grid's storm) while open. */
  remember(incident: Incident): void {
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

  /**
   * A new incident whose commit failed, on one instance: no longer active here, so nothing folds into it (a fold
   * finds it nowhere and fails, change-queue.ts) and the device's event, not acknowledged and sent again, raises it
   * anew. Its correlation anchor lapses with it (isOpenHere). The dashboards, shown it already, drop it on their next
   * reload.
   */
  forgetUnsaved(incident: Incident): void {
    if (this.#active.get(incident.id) !== incident) return;
    // The bookkeeping of an incident that ended: out of the active incidents, its condition and its storm.
    this.remember({ ...incident, state: 'cancelled' });
  }

  /** A storm is no device's condition: its first device's repeats and clearing events are not its business. */
  #rememberStorm(storm: Incident, terminal: boolean): void {
    if (isOpen(storm.state)) this.#storms.set(storm.gridId, storm.id);
    else if (this.#storms.get(storm.gridId) === storm.id) this.#storms.delete(storm.gridId);
    // Tracked from its creation (incident:created is its first push), or when found open at start.
    if (terminal) this.stormPushes.forget(storm.id);
    else this.stormPushes.track(storm);
  }
}
