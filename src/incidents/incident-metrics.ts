import { declareMetrics } from '../observability/metrics-registry.ts';
import { suppressionReasons } from './rule-book.ts';

/** What raising, the lifecycle and the escalation sweep count. */
export const incidentMetrics = declareMetrics((metrics) => {
  const eventsSuppressed = metrics.counter({
    name: 'gridhub_events_suppressed_total',
    help: 'Events that raised no incident: their device in maintenance, or a suppression schedule.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: suppressionReasons },
  });
  /** What gridhub_incidents_active reads when scraped (see countActive). */
  let active: () => number = () => 0;
  return {
    eventsDeduplicated: metrics.counter({
      name: 'gridhub_events_deduplicated_total',
      help: 'Events of a lasting condition that already has an open incident, so raised nothing new.',
    }),
    eventsRedelivered: metrics.counter({
      name: 'gridhub_events_redelivered_total',
      help: 'Device events delivered again (same device, seq and time) after their change was committed: ignored.',
    }),
    eventsCorrelated: metrics.counter({
      name: 'gridhub_events_correlated_total',
      help: "Events that joined another device's open incident in the same grid by a correlation rule.",
    }),
    eventsSuppressed,
    incidentsGrouped: metrics.counter({
      name: 'gridhub_incidents_grouped_total',
      help: "Events grouped into their grid's alarm-storm incident instead of an incident each (flood control).",
    }),
    escalations: metrics.counter({
      name: 'gridhub_escalations_total',
      help: 'Incidents escalated one level up because a deadline passed.',
    }),
    reviewsDue: metrics.counter({
      name: 'gridhub_suspensions_reviewed_total',
      help: 'Suspended cases (挂账) resumed by the hub at their review date, back to their centre.',
    }),
    noticesEnded: metrics.counter({
      name: 'gridhub_public_notices_ended_total',
      help: 'Approved cases whose public notice (公示) ran out without objection, ended by the hub for dispatch.',
    }),
    reworks: metrics.counter({
      name: 'gridhub_reworks_total',
      help: 'Verifications rejected, sending a case back to its handler.',
    }),
    incidentsCreated: metrics.counter({
      name: 'gridhub_incidents_created_total',
      help: 'Incidents created from device events.',
      labelNames: ['severity'] as const,
    }),
    incidentsActive: metrics.gauge({
      name: 'gridhub_incidents_active',
      help: 'Incidents not yet ended (open, or awaiting verification): the backlog, each held in memory.',
      collect(): void {
        this.set(active());
      },
    }),
    /** The incidents not yet ended are counted where they are held, and read at each scrape, not on every change. */
    countActive(count: () => number): void {
      active = count;
    },
  };
});

export type IncidentMetrics = ReturnType<typeof incidentMetrics>;
