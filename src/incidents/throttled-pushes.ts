import type { Incident, IncidentChange } from '../core/incident.ts';

/** What clients last saw of a throttled incident, and the trailing push that will show them the rest. */
interface Announcement {
  shown: Incident;
  at: number;
  timer: NodeJS.Timeout | undefined;
}

export interface ThrottledPushesOptions {
  /** At most one push per incident this often. */
  readonly intervalMs: number;
  /** The incident as it stands now; undefined once it has ended. */
  readonly current: (incidentId: string) => Incident | undefined;
  /** Pushes a change from what clients last saw to what it is now. */
  readonly push: (change: IncidentChange) => void;
}

/**
 * Incidents whose changes are pushed at most once an interval, with a trailing push of the last state: a storm
 * incident takes in a flooded grid's every event, and its clients need to see it grow, not each event. Every
 * change is still committed at once; only its push waits. Each push's `before` is the previous push's `after`.
 */
export class ThrottledPushes {
  readonly #options: ThrottledPushesOptions;
  readonly #announcements = new Map<string, Announcement>();

  constructor(options: ThrottledPushesOptions) {
    this.#options = options;
  }

  /** Throttles the incident's pushes from now on; clients see it as it is (its creation push, or a restart). */
  track(incident: Incident): void {
    if (this.#announcements.has(incident.id)) return;
    this.#announcements.set(incident.id, { shown: incident, at: Date.now(), timer: undefined });
  }

  /** The incident ended: no more throttled pushes of it. */
  forget(incidentId: string): void {
    clearTimeout(this.#announcements.get(incidentId)?.timer);
    this.#announcements.delete(incidentId);
  }

  /** Cancels every pending push and forgets every incident. */
  clear(): void {
    for (const announcement of this.#announcements.values()) clearTimeout(announcement.timer);
    this.#announcements.clear();
  }

  /** Pushes the incident's state now if its last push is an interval old, else once it is (one timer at a time). */
  soon(incidentId: string): void {
    const announcement = this.#announcements.get(incidentId);
    if (announcement === undefined || announcement.timer !== undefined) return;
    const wait = announcement.at + this.#options.intervalMs - Date.now();
    if (wait <= 0) {
      this.#announce(announcement, incidentId);
      return;
    }
    announcement.timer = setTimeout(() => this.#announce(announcement, incidentId), wait);
  }

  /**
   * For a change the caller pushes itself, at once (an officer's action on a storm): records that clients see
   * `incident` now, any pending push being moot, and returns what they saw before. Undefined when its pushes are
   * not throttled.
   */
  showNow(incident: Incident): Incident | undefined {
    const announcement = this.#announcements.get(incident.id);
    return announcement === undefined ? undefined : this.#show(announcement, incident);
  }

  #announce(announcement: Announcement, incidentId: string): void {
    announcement.timer = undefined;
    const current = this.#options.current(incidentId);
    if (current === undefined || current === announcement.shown) return;
    this.#options.push({ before: this.#show(announcement, current), after: current });
  }

  #show(announcement: Announcement, incident: Incident): Incident {
    clearTimeout(announcement.timer);
    const before = announcement.shown;
    announcement.shown = incident;
    announcement.at = Date.now();
    announcement.timer = undefined;
    return before;
  }
}
