import type { AttributeValue } from './device-event.ts';
import { chainInScope, type GridChain } from './jurisdiction.ts';

export const severities = ['info', 'warning', 'major', 'critical'] as const;
export type Severity = (typeof severities)[number];

/**
 * The lifecycle of a case (GB/T 30428's collect → dispatch → handle → verify → close). Open states are the ones
 * someone still has to act on.
 */
export const incidentStates = [
  'new',
  'dispatched',
  'accepted',
  'on_site',
  'escalated',
  'resolved',
  'closed',
  'false_alarm',
  'cancelled',
] as const;
export type IncidentState = (typeof incidentStates)[number];

const openStates: ReadonlySet<IncidentState> = new Set([
  'new',
  'dispatched',
  'accepted',
  'on_site',
  'escalated',
]);

export function isOpen(state: IncidentState): boolean {
  return openStates.has(state);
}

/** A grid-tagged case raised from a device event. This is exactly what `incident:new` carries. */
export interface Incident {
  /** Time-ordered: sorting ids sorts incidents by creation. */
  readonly id: string;
  readonly state: IncidentState;
  readonly title: string;
  readonly category: string;
  readonly severity: Severity;
  readonly device: { readonly id: string; readonly name: string; readonly adapter: string };
  readonly event: {
    readonly type: string;
    /** ISO 8601, as the device reported it. */
    readonly occurredAt: string;
    readonly attributes: Readonly<Record<string, AttributeValue>>;
  };
  readonly gridId: string;
  /** grid → community → street → district, grid first. */
  readonly chain: GridChain;
  /** ISO 8601, when the hub created the incident. */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Set when the incident was resolved; `resolvedBy` is a user id, or `system` when the device cleared it. */
  readonly resolvedAt?: string;
  readonly resolvedBy?: string;
  readonly resolution?: string;
}

/** What `incident:update` carries, after Frigate: consumers never need to keep shadow state. */
export interface IncidentChange {
  readonly before: Incident;
  readonly after: Incident;
}

/** True when the incident lies under one of the scope nodes (or when no scope is asked for). */
export function incidentInScope(incident: Incident, scopeNodeIds: readonly string[] | undefined): boolean {
  return scopeNodeIds === undefined || chainInScope(incident.chain, scopeNodeIds);
}
