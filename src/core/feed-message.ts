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
  if (kind === 'created') return { type: 'new', before: null, after: subject as Incident };
  const { before, after } = subject as IncidentChange;
  const ends = isTerminal(after.state) && !isTerminal(before.state);
  return { type: ends ? 'end' : 'update', before, after };
}
