import type { Incident } from '../core/incident.ts';
import type { Correlation } from './rule-book.ts';

/** An incident that other devices' events may still join by correlation, in its grid's short list. */
export interface CorrelationAnchor {
  readonly incidentId: string;
  readonly deviceId: string;
  readonly eventType: string;
  /** When it was created or last joined: correlation windows run from here. */
  anchoredAt: number;
  /** The longest window of its event type's correlations: past anchoredAt + this, nothing can join it. */
  readonly longestWindowMs: number;
}

/**
 * Per grid, the incidents still open to correlation: a perimeter breach draws several devices' events, and those
 * within a correlation's window join the first device's incident rather than raise their own. Each grid's list is
 * kept short by the windows, so a scan of one is cheap.
 */
export class CorrelationAnchors {
  readonly #byGrid = new Map<string, CorrelationAnchor[]>();

  clear(): void {
    this.#byGrid.clear();
  }

  /** Opens a new incident to other devices' correlated events for the longest of its event's windows. */
  anchor(incident: Incident, correlations: readonly Correlation[], now: number): void {
    const anchors = this.#byGrid.get(incident.gridId) ?? [];
    anchors.push({
      incidentId: incident.id,
      deviceId: incident.device.id,
      eventType: incident.event.type,
      anchoredAt: now,
      longestWindowMs: Math.max(...correlations.map((correlation) => correlation.windowMs)),
    });
    this.#byGrid.set(incident.gridId, anchors);
  }

  /**
   * The newest incident of the grid that this device's event may join: raised by another device, from an event
   * of a correlation this event shares, created or last joined within that correlation's window. Anchors whose
   * incident is no longer open (`isOpen`) or whose every window passed are dropped on the way.
   */
  match(
    gridId: string,
    deviceId: string,
    correlations: readonly Correlation[],
    now: number,
    isOpen: (incidentId: string) => boolean,
  ): { anchor: CorrelationAnchor; correlation: Correlation } | undefined {
    const anchors = this.#byGrid.get(gridId);
    if (anchors === undefined) return undefined;
    const live = anchors.filter(
      (anchor) => isOpen(anchor.incidentId) && now - anchor.anchoredAt <= anchor.longestWindowMs,
    );
    if (live.length === 0) this.#byGrid.delete(gridId);
    else if (live.length < anchors.length) this.#byGrid.set(gridId, live);
    let match: { anchor: CorrelationAnchor; correlation: Correlation } | undefined;
    for (const anchor of live) {
      // Same-device repeats are dedupe's business; of several candidates, the newest wins.
      if (anchor.deviceId === deviceId) continue;
      if (match !== undefined && match.anchor.anchoredAt > anchor.anchoredAt) continue;
      const correlation = correlations.find(
        (candidate) =>
          candidate.events.has(anchor.eventType) && now - anchor.anchoredAt <= candidate.windowMs,
      );
      if (correlation !== undefined) match = { anchor, correlation };
    }
    return match;
  }
}
