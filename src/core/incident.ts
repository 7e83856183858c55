import type { AttributeValue } from './device-event.ts';
import type { GridChain } from './jurisdiction.ts';

export const severities = ['info', 'warning', 'major', 'critical'] as const;
export type Severity = (typeof severities)[number];

export const incidentStates = ['new'] as const;
export type IncidentState = (typeof incidentStates)[number];

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
}

/** True when the incident lies under one of the scope nodes (or when no scope is asked for). */
export function incidentInScope(incident: Incident, scopeNodeIds: readonly string[] | undefined): boolean {
  if (scopeNodeIds === undefined) return true;
  return incident.chain.some((place) => scopeNodeIds.includes(place.id));
}
