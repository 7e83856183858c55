import { AuditTrail } from '../audit/audit-trail.ts';
import type { ResolvedDevice } from '../core/device.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import { isoTime, timeOrderedId } from '../core/ids.ts';
import {
  type DeadlineStage,
  type Incident,
  type RelatedEvent,
  relatedEventsLimit,
  stormCategory,
} from '../core/incident.ts';
import type { FloodDescription, RuleDescription } from '../core/rule.ts';
import type { ActiveIncidents } from './active-incidents.ts';
import { CorrelationAnchors } from './correlation-anchors.ts';
import type { IncidentMetrics } from './incident-metrics.ts';
import type { RaisingWriter } from './incident-writer.ts';
import { chainOf, foldsInto, type Raising, type RaisingChain, type RaisingStep } from './raising.ts';
import type { Router } from './router.ts';
import { appendNewest, type Correlation, maxSeverity, SlidingWindow } from './rule-book.ts';

/** What a new incident is raised as: a rule's, or a storm's. */
type IncidentKind = Pick<RuleDescription, 'category' | 'severity' | 'title'>;

export interface IncidentRaisingOptions {
  readonly writer: RaisingWriter;
  readonly active: ActiveIncidents;
  readonly router: Router;
  readonly metrics: IncidentMetrics;
  /** The deadline of a category's stage (lifecycle context). */
  readonly deadlineMs: (category: string, stage: DeadlineStage) => number;
  /** Alarm-storm control; none when left out. */
  readonly flood?: FloodDescription | undefined;
}

/**
 * A device event under its rule goes through named steps, each handling it or passing it on, in this order:
 * redelivered (its change is committed already: nothing again) → repeat (one more occurrence of the device's open
 * incident, dedupe) → correlated join (another device's correlated incident in the grid) → storm (a flooded grid's
 * storm incident) → create and route (a new incident, routed to who must act). The writer (incident-writer.ts) says
 * how each is written; the correlation windows and flood counts (seconds to minutes) are kept here and not across a
 * restart. A new kind of handling is a new step in the list.
 */
export class IncidentRaising {
  readonly #options: IncidentRaisingOptions;
  /** Per grid: the incidents still open to correlation. */
  readonly #anchors = new CorrelationAnchors();
  /** Per grid: when its newest incidents were created, for flood control. */
  readonly #creations = new Map<string, SlidingWindow>();
  readonly steps: readonly RaisingStep[];
  readonly #chain: RaisingChain;

  constructor(options: IncidentRaisingOptions) {
    this.#options = options;
    const { writer } = options;
    this.steps = [
      writer.redelivered,
      {
        name: 'repeat',
        handle: (raising, next) =>
          raising.open !== undefined && foldsInto(raising.open, raising.rule, raising.now)
            ? writer.repeat(raising, raising.open)
            : next(raising),
      },
      { name: 'correlated join', handle: (raising, next) => this.#join(raising) ?? next(raising) },
      { name: 'storm', handle: (raising, next) => this.#group(raising) ?? next(raising) },
      { name: 'create and route', handle: (raising) => this.#createAndRoute(raising) },
    ];
    this.#chain = chainOf(this.steps);
  }

  /** Forgets the correlation windows and flood counts (a start). */
  clear(): void {
    this.#anchors.clear();
    this.#creations.clear();
  }

  raise(
    event: DeviceEvent,
    device: ResolvedDevice,
    rule: RuleDescription,
    receivedAt: number,
    correlations: readonly Correlation[],
  ): Promise<void> {
    const raising: Raising = {
      event,
      device,
      rule,
      receivedAt,
      correlations,
      now: 0,
      open: undefined,
      contested: false,
    };
    return this.#options.writer.raise(raising, this.#chain);
  }

  /** Another device's event joins the grid's newest correlated incident: related, severity raised, audited. */
  #join(raising: Raising): Promise<void> | undefined {
    const { event, device, correlations, now } = raising;
    if (correlations.length === 0) return undefined;
    const match = this.#anchors.match(
      device.grid.ref.id,
      device.id,
      correlations,
      now,
      this.#options.active.isOpenHere,
    );
    if (match === undefined) return undefined;
    const { anchor, correlation } = match;
    anchor.anchoredAt = now;
    this.#options.metrics.eventsCorrelated.inc();
    const joined: RelatedEvent = {
      deviceId: event.deviceId,
      type: event.type,
      occurredAt: isoTime(event.occurredAt),
    };
    return this.#options.writer.join(anchor.incidentId, {
      joined,
      eventKey: event.key,
      change: (before) => ({
        ...before,
        ...(correlation.title === undefined ? {} : { title: correlation.title }),
        severity: maxSeverity(before.severity, correlation.severity),
        related: appendNewest(before.related, joined, relatedEventsLimit),
        updatedAt: isoTime(now),
      }),
      audit: (before, after) =>
        AuditTrail.entry('system', {
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
    });
  }

  /**
   * A flooded grid's event joins the grid's open storm incident, or starts one. Every grouped event is committed at
   * once (nothing is lost), but pushed at most once a second, with a trailing push of the last state. An emergency,
   * or a lasting condition that its device must be able to clear, is never folded into a storm.
   */
  #group(raising: Raising): Promise<void> | undefined {
    const { event, device, rule, now } = raising;
    const gridId = device.grid.ref.id;
    const groupable = rule.clearedBy === undefined && !this.#options.router.isEmergency(rule.category);
    if (!groupable || !this.#creations.get(gridId)?.full(now)) return undefined;
    this.#options.metrics.incidentsGrouped.inc();
    const grouped: RelatedEvent = {
      deviceId: device.id,
      type: event.type,
      occurredAt: isoTime(event.occurredAt),
    };
    const storm = this.#options.active.stormOf(gridId);
    if (storm === undefined) {
      const kind: IncidentKind = {
        category: stormCategory,
        severity: 'major',
        title: `Alarm storm in ${device.grid.ref.name}`,
      };
      const created: Incident = { ...this.#newIncident(event, device, kind, now), related: [grouped] };
      return this.#options.writer.createStorm(created, raising);
    }
    return this.#options.writer.group(
      storm,
      grouped,
      (before) => ({
        ...before,
        occurrences: before.occurrences + 1,
        lastOccurredAt: grouped.occurredAt,
        related: appendNewest(before.related, grouped, relatedEventsLimit),
        updatedAt: isoTime(now),
      }),
      event.key,
    );
  }

  #createAndRoute(raising: Raising): Promise<void> {
    const { event, device, rule, now } = raising;
    return this.#options.writer.create(this.#newIncident(event, device, rule, now), raising, (incident) =>
      this.#adopt(incident, raising),
    );
  }

  /** A new incident of this instance: kept active, counted toward its grid's flood, open to correlation. */
  #adopt(incident: Incident, { correlations, now }: Raising): void {
    this.#options.active.remember(incident);
    this.#counted(incident.gridId, now);
    if (correlations.length > 0) this.#anchors.anchor(incident, correlations, now);
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

  /** A new incident of the event, routed: dispatched to the duty roster's assignees, or new for the centre. */
  #newIncident(event: DeviceEvent, device: ResolvedDevice, rule: IncidentKind, now: number): Incident {
    const at = new Date(now).toISOString();
    const route = this.#options.router.route(
      { gridId: device.grid.ref.id, chain: device.grid.chain, category: rule.category },
      now,
    );
    const dispatched = route.assignees.length > 0;
    const acceptBy = new Date(now + this.#options.deadlineMs(rule.category, 'accept')).toISOString();
    return {
      id: timeOrderedId('inc', now),
      state: dispatched ? 'dispatched' : 'new',
      title: rule.title,
      category: rule.category,
      severity: rule.severity,
      device: {
        id: device.id,
        name: device.name,
        adapter: device.adapter.id,
        // Where the worker goes: carried onto the case so the task card needs nothing else.
        ...(device.address === undefined ? {} : { address: device.address }),
        ...(device.location === undefined ? {} : { location: [device.location[0], device.location[1]] }),
      },
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
        resolveBy: new Date(now + this.#options.deadlineMs(rule.category, 'resolve')).toISOString(),
      },
    };
  }
}
