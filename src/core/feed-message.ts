import { type Incident, type IncidentChange, type IncidentState, terminalStates } from './incident.ts';

export { terminalStates };

/**
 * The outbound feed's one message shape, after Frigate's review messages: every change of an incident is
 * `{type, before, after}`, so a consumer never keeps shadow state to know what changed. In core, because the
 * store's delivery outbox and the MQTT access policy hold it as well as the outbound feed.
 */
export const feedTypes = ['new', 'update', 'end'] as const;
export type FeedType = (typeof feedTypes)[number];

export interface FeedMessage {
  readonly type: FeedType;
  /** The incident before the change; null for `new`. */
  readonly before: Incident | null;
  readonly after: Incident;
}

/**
 * Entering a terminal state ends an incident's feed. `resolved` is not terminal: a resolved incident awaits
 * verification and can be sent back for rework, so resolving it is an `update`; the `end` comes when it is closed.
 */
export function isTerminal(state: IncidentState): boolean {
  return terminalStates.has(state);
}

/**
 * Classifies a bus event for the feed:
 * - `new`: the incident was created (before is null);
 * - `end`: the change moves the incident from a non-terminal state into a terminal one, so each time an
 *   incident ends there is exactly one `end`;
 * - `update`: anything else, including a change to an incident that had already ended (say closed →
 *   false_alarm, or a note added after closing), which is not a second `end`.
 */
export function feedMessage(kind: 'created', incident: Incident): FeedMessage;
export function feedMessage(kind: 'updated', change: IncidentChange): FeedMessage;
export function feedMessage(kind: 'created' | 'updated', subject: Incident | IncidentChange): FeedMessage;
export function feedMessage(kind: 'created' | 'updated', subject: Incident | IncidentChange): FeedMessage {
  if (kind === 'created') return { type: 'new', before: null, after: withoutPositions(subject as Incident) };
  const { before, after } = subject as IncidentChange;
  const ends = isTerminal(after.state) && !isTerminal(before.state);
  return { type: ends ? 'end' : 'update', before: withoutPositions(before), after: withoutPositions(after) };
}

/**
 * A grid worker's position (where their phone was at 到达, where a photo was taken) is personal data the hub keeps
 * for its own officers only: the feed and webhooks leave the hub, so they carry the distance and the far flag, not
 * the point. Incidents without one pass as they are (no copy).
 */
function withoutPositions(incident: Incident): Incident {
  const arrival = incident.arrival;
  const placed = incident.evidence?.some((item) => item.position !== undefined) ?? false;
  if (arrival?.position === undefined && !placed) return incident;
  return {
    ...incident,
    ...(arrival === undefined ? {} : { arrival: withoutPosition(arrival) }),
    ...(incident.evidence === undefined ? {} : { evidence: incident.evidence.map(withoutPosition) }),
  };
}

function withoutPosition<T extends { readonly position?: unknown }>(item: T): T {
  if (item.position === undefined) return item;
  const { position: _position, ...rest } = item;
  return rest as T;
}
