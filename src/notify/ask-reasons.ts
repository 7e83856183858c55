import type { Incident } from '../core/incident.ts';
import { isOpen } from '../core/incident.ts';
import type { Milestone } from './policy-schema.ts';

/**
 * Why a person is asked to act, and what each reason makes of a step's `until`: the milestones of the config
 * (accepted, acknowledged, arrived, resolved) read as facts of the case, per reason. One table, so no part of the
 * notifier branches on the reason.
 */

/** Why a person is told. */
export const askReasons = ['dispatched', 'escalated', 'rework', 'handed_off'] as const;
export type AskReason = (typeof askReasons)[number];

/** What the facts read of a case. */
export type FactCase = Pick<
  Incident,
  'state' | 'handler' | 'acknowledgements' | 'coordinators' | 'assignees' | 'responsibleNodeId'
>;

/** Whom a fact is about: the person asked, and the centre they were asked at (an escalation). */
export interface FactAsk {
  readonly userId: string;
  readonly nodeId?: string;
}

/** What may hold of a case for the person asked; a step ends when one of its facts holds that did not when asked. */
export type Fact = 'taken' | 'centreAcknowledged' | 'onSite' | 'ended' | 'coordinated';

const facts: Record<Fact, (incident: FactCase, ask: FactAsk) => boolean> = {
  /** Someone took the case (it has a handler). */
  taken: (incident) => incident.handler !== null,
  /** The centre the officer was asked at acknowledged the case. */
  centreAcknowledged: (incident, ask) =>
    ask.nodeId !== undefined && (incident.acknowledgements ?? []).some((ack) => ack.nodeId === ask.nodeId),
  onSite: (incident) => incident.state === 'on_site',
  /** Resolved, closed, false alarm or cancelled. */
  ended: (incident) => !isOpen(incident.state),
  /** The coordinator's part is done: they were handed the case, and no hand-off to them is left open. */
  coordinated: (incident, ask) => {
    const theirs = (incident.coordinators ?? []).filter((entry) => entry.userId === ask.userId);
    return theirs.length > 0 && theirs.every((entry) => entry.doneAt !== undefined);
  },
};

/** The facts holding now: kept as an ask's baseline when the person is asked. */
export function factsOf(incident: FactCase, ask: FactAsk): Fact[] {
  return (Object.keys(facts) as Fact[]).filter((fact) => facts[fact](incident, ask));
}

export function holds(fact: Fact, incident: FactCase, ask: FactAsk): boolean {
  return facts[fact](incident, ask);
}

/** The milestones as the config names them, for a person asked for the first time (dispatch, escalation). */
const firstAsk: Record<Milestone, readonly Fact[]> = {
  accepted: ['taken', 'ended'],
  acknowledged: ['taken', 'centreAcknowledged', 'ended'],
  arrived: ['onSite', 'ended'],
  resolved: ['ended'],
};

/**
 * What ends a step, per reason and milestone: any of the facts, newly holding since the ask. A rework's handler has
 * nothing to accept again: they "accept" it by acting on it again, on site or by resolving it. A coordinator
 * (handed_off) has only their part to do: every milestone is their part done, or the case ended.
 */
export const untilFacts: Record<AskReason, Record<Milestone, readonly Fact[]>> = {
  dispatched: firstAsk,
  escalated: firstAsk,
  rework: {
    accepted: ['onSite', 'ended'],
    acknowledged: ['onSite', 'ended'],
    arrived: ['onSite', 'ended'],
    resolved: ['ended'],
  },
  handed_off: {
    accepted: ['coordinated', 'ended'],
    acknowledged: ['coordinated', 'ended'],
    arrived: ['coordinated', 'ended'],
    resolved: ['coordinated', 'ended'],
  },
};

/** An assignee or the handler. */
const onTheCase = (incident: FactCase, ask: FactAsk) =>
  incident.assignees.includes(ask.userId) || incident.handler === ask.userId;

/**
 * Whether the person is still the one asked: a worker taken off the case (a redispatch to others), officers of a
 * centre the case climbed past, a department user no longer coordinating it are not.
 */
export const stillAsked: Record<AskReason, (incident: FactCase, ask: FactAsk) => boolean> = {
  dispatched: onTheCase,
  rework: onTheCase,
  escalated: (incident, ask) => incident.responsibleNodeId === ask.nodeId,
  handed_off: (incident, ask) => (incident.coordinators ?? []).some((entry) => entry.userId === ask.userId),
};

/**
 * Baselines kept before facts replaced milestones (records written by an earlier version): each milestone read as
 * the fact that kept the same steps running.
 */
const legacyBaseline: Readonly<Record<string, Fact>> = {
  accepted: 'taken',
  acknowledged: 'centreAcknowledged',
  arrived: 'onSite',
  resolved: 'ended',
};

export function baselineOf(stored: readonly string[]): Fact[] {
  return stored.map((entry) => legacyBaseline[entry] ?? (entry as Fact));
}
