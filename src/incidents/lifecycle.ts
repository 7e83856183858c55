import { isoTime } from '../core/ids.ts';
import {
  type Arrival,
  type DeadlineStage,
  deadlineCategoryOf,
  type FieldPosition,
  type Incident,
  type IncidentState,
  incidentStates,
} from '../core/incident.ts';
import type { Role } from '../core/principal.ts';

/**
 * The case lifecycle as a table (GB/T 30428's loop: register → dispatch → handle → feed back → verify → close),
 * after aedes' step tables: each action names the states it leaves from, who may take it, and what it changes.
 * Pure: no clock, no store, no I/O; the incident service applies the result.
 */
export const incidentActions = [
  'acknowledge',
  'dispatch',
  'accept',
  'arrive',
  'resolve',
  'verify',
  'reject',
  'escalate',
  'false_alarm',
  'cancel',
  'note',
  'supervise',
  'clear',
] as const;
export type IncidentAction = (typeof incidentActions)[number];

/** Who acts: a user, or the hub itself (deadlines, devices clearing their condition). */
export interface Actor {
  readonly userId: string;
  readonly role: Role | 'system';
  /** The user's jurisdiction nodes (a Principal's scope): an acknowledgement is made for the centre among them. */
  readonly scopeNodeIds?: readonly string[];
}

export const systemActor: Actor = { userId: 'system', role: 'system' };

export interface ActionInput {
  readonly note?: string;
  /** For dispatch: the users who must act. */
  readonly assignees?: readonly string[];
  /** For arrive: where the phone is (WGS84), judged against the device by the context's `arrivalOf`. */
  readonly position?: FieldPosition;
  /**
   * When the user took it, if earlier than the hub learned of it (an action queued on a phone offline): recorded in
   * its audit entry only. The lifecycle stamps the hub's own time: deadlines are judged by when the hub knew.
   */
  readonly takenAt?: string;
}

/** What the lifecycle needs to know beyond the incident: deadlines and the jurisdiction's parents. */
export interface LifecycleContext {
  readonly now: number;
  /** The time allowed for a stage of this category, in ms. */
  readonly deadlineMs: (category: string, stage: DeadlineStage) => number;
  /** The parent of a jurisdiction node, undefined at the root. */
  readonly parentOf: (nodeId: string) => string | undefined;
  /**
   * An arrival placed by the phone: its distance to the incident's device and whether it is far (field/geo.ts'
   * judgeArrival with the deployment's settings). Undefined when the device has no location to measure from.
   */
  readonly arrivalOf?: (incident: Incident, position: FieldPosition) => Arrival | undefined;
}

export type Refusal = { readonly kind: 'illegal' | 'forbidden' | 'invalid'; readonly reason: string };

type Relation = 'anyone' | 'assignee' | 'handler' | 'not_handler' | 'handler_or_supervisor';

interface ActionRule {
  readonly from: readonly IncidentState[];
  readonly roles: readonly Actor['role'][];
  readonly relation: Relation;
  /**
   * Whether {@link availableActions} offers the action to this actor, beyond its state, role and relation: for a
   * condition its `apply` checks on the incident (a centre of the actor's over it, one still to acknowledge).
   * Offered when absent.
   */
  readonly offered?: (incident: Incident, actor: Actor) => boolean;
  readonly apply: (
    incident: Incident,
    actor: Actor,
    input: ActionInput,
    context: LifecycleContext,
  ) => Incident | Refusal;
}

const open: readonly IncidentState[] = ['new', 'dispatched', 'accepted', 'on_site', 'escalated'];
const supervisors: readonly Actor['role'][] = ['duty_officer', 'admin'];
const everyone: readonly Actor['role'][] = [
  'duty_officer',
  'admin',
  'grid_worker',
  'grid_chief',
  'integrator',
];

function due(incident: Incident, stage: DeadlineStage, from: number, context: LifecycleContext) {
  return { dueStage: stage, dueAt: isoTime(from + context.deadlineMs(deadlineCategoryOf(incident), stage)) };
}

const noDeadline = { dueStage: null, dueAt: null } as const;

/** The incident with this arrival, or with none: an arrival without a position leaves no earlier one standing. */
function withArrival(incident: Incident, arrival: Arrival | undefined): Incident {
  const { arrival: _earlier, ...rest } = incident;
  return arrival === undefined ? rest : { ...rest, arrival };
}

/**
 * The centre an officer acts for on an incident (acknowledge, supervise): their scope node on its chain, the lowest
 * if they hold several. Undefined when their jurisdiction does not cover it.
 */
function centreOf(incident: Incident, actor: Actor) {
  return incident.chain.find((node) => actor.scopeNodeIds?.includes(node.id));
}

const rules: Record<IncidentAction, ActionRule> = {
  /**
   * "We have seen it": no change of state, but recorded for the acknowledging user's centre (their scope node over
   * the incident, the lowest if they hold several), so the centre's other officers see the alarm as acknowledged.
   * A centre acknowledges once; a second time is refused with who did it first.
   */
  acknowledge: {
    from: open,
    roles: ['duty_officer', 'grid_chief', 'admin'],
    relation: 'anyone',
    offered: (incident, actor) => {
      const centre = centreOf(incident, actor);
      return centre !== undefined && !incident.acknowledgements?.some((entry) => entry.nodeId === centre.id);
    },
    apply: (incident, actor, _input, context) => {
      const centre = centreOf(incident, actor);
      if (centre === undefined)
        return {
          kind: 'forbidden',
          reason: 'only a centre whose jurisdiction covers the incident may acknowledge it',
        };
      const earlier = incident.acknowledgements?.find((entry) => entry.nodeId === centre.id);
      if (earlier !== undefined)
        return {
          kind: 'illegal',
          reason: `${centre.name} has already acknowledged this incident (${earlier.userId} at ${earlier.at})`,
        };
      return {
        ...incident,
        acknowledgements: [
          ...(incident.acknowledgements ?? []),
          { nodeId: centre.id, userId: actor.userId, at: isoTime(context.now) },
        ],
      };
    },
  },
  dispatch: {
    from: ['new', 'escalated', 'dispatched'],
    roles: [...supervisors, 'system'],
    relation: 'anyone',
    apply: (incident, _actor, input, context) => {
      const assignees = input.assignees ?? [];
      if (assignees.length === 0) return { kind: 'invalid', reason: 'dispatch needs at least one assignee' };
      const { timeline } = incident;
      return {
        ...incident,
        state: 'dispatched',
        assignees: [...new Set(assignees)],
        handler: null,
        ...due(incident, 'accept', context.now, context),
        timeline: {
          ...timeline,
          dispatchedAt: timeline.dispatchedAt ?? isoTime(context.now),
          acceptBy:
            timeline.acceptBy ??
            isoTime(context.now + context.deadlineMs(deadlineCategoryOf(incident), 'accept')),
          resolveBy:
            timeline.resolveBy ??
            isoTime(
              Date.parse(incident.createdAt) + context.deadlineMs(deadlineCategoryOf(incident), 'resolve'),
            ),
        },
      };
    },
  },
  accept: {
    // A worker who accepts after the case climbed a level still acts: escalation goes on until someone does.
    from: ['dispatched', 'escalated'],
    roles: everyone,
    relation: 'assignee',
    apply: (incident, actor, _input, context) => ({
      ...incident,
      state: 'accepted',
      handler: actor.userId,
      assignees: [actor.userId],
      ...due(incident, 'arrive', context.now, context),
      timeline: { ...incident.timeline, acceptedAt: incident.timeline.acceptedAt ?? isoTime(context.now) },
    }),
  },
  arrive: {
    from: ['accepted'],
    roles: everyone,
    relation: 'handler',
    apply: (incident, _actor, input, context) => ({
      ...withArrival(
        incident,
        input.position === undefined ? undefined : context.arrivalOf?.(incident, input.position),
      ),
      state: 'on_site',
      dueStage: 'resolve',
      dueAt:
        incident.timeline.resolveBy ??
        isoTime(context.now + context.deadlineMs(deadlineCategoryOf(incident), 'resolve')),
      timeline: { ...incident.timeline, arrivedAt: incident.timeline.arrivedAt ?? isoTime(context.now) },
    }),
  },
  resolve: {
    from: ['accepted', 'on_site'],
    roles: everyone,
    relation: 'handler_or_supervisor',
    apply: (incident, actor, input, context) => ({
      ...incident,
      state: 'resolved',
      ...noDeadline,
      resolvedAt: isoTime(context.now),
      resolvedBy: actor.userId,
      resolution: input.note ?? '',
      timeline: { ...incident.timeline, resolvedAt: isoTime(context.now) },
    }),
  },
  verify: {
    from: ['resolved'],
    roles: supervisors,
    relation: 'not_handler',
    apply: (incident, actor, _input, context) => ({
      ...incident,
      state: 'closed',
      closedBy: actor.userId,
      timeline: { ...incident.timeline, closedAt: isoTime(context.now) },
    }),
  },
  reject: {
    from: ['resolved'],
    roles: supervisors,
    relation: 'not_handler',
    // The note stays on the case as `returned` (the worker's card shows what to redo), through the next resolve so
    // the verifying officer reads the rework against it; a later rejection replaces it.
    apply: (incident, actor, input, context) => {
      if (!input.note)
        return { kind: 'invalid', reason: 'a rejected verification needs a note saying what to redo' };
      const { resolvedAt: _at, resolvedBy: _by, resolution: _resolution, ...rest } = incident;
      const { resolvedAt: _timelineAt, ...timeline } = incident.timeline;
      return {
        ...rest,
        state: incident.handler === null ? 'dispatched' : 'accepted',
        assignees: incident.handler === null ? incident.assignees : [incident.handler],
        reworks: incident.reworks + 1,
        returned: { userId: actor.userId, at: isoTime(context.now), note: input.note },
        ...due(incident, 'resolve', context.now, context),
        timeline,
      };
    },
  },
  escalate: {
    from: open,
    roles: [...supervisors, 'system'],
    relation: 'anyone',
    apply: (incident, _actor, _input, context) => {
      const parent = context.parentOf(incident.responsibleNodeId);
      if (parent === undefined) return { kind: 'illegal', reason: 'already at the top of the jurisdiction' };
      // A case nobody has taken becomes the higher centre's to dispatch; a case in hand keeps its handler and
      // state, and the higher centre supervises the stage that ran late.
      const inHand = incident.state === 'accepted' || incident.state === 'on_site';
      return {
        ...incident,
        state: inHand ? incident.state : 'escalated',
        responsibleNodeId: parent,
        escalations: incident.escalations + 1,
        ...due(incident, inHand ? (incident.dueStage ?? 'resolve') : 'accept', context.now, context),
      };
    },
  },
  false_alarm: {
    from: open,
    roles: everyone,
    relation: 'handler_or_supervisor',
    // It ends the case with nothing done: the note says why, for the audit trail and whoever checks the device.
    apply: (incident, actor, input, context) =>
      input.note
        ? {
            ...incident,
            state: 'false_alarm',
            ...noDeadline,
            closedBy: actor.userId,
            timeline: { ...incident.timeline, closedAt: isoTime(context.now) },
          }
        : { kind: 'invalid', reason: 'a false alarm needs a note saying why' },
  },
  cancel: {
    from: [...open, 'resolved'],
    roles: supervisors,
    relation: 'anyone',
    apply: (incident, actor, _input, context) => ({
      ...incident,
      state: 'cancelled',
      ...noDeadline,
      closedBy: actor.userId,
      timeline: { ...incident.timeline, closedAt: isoTime(context.now) },
    }),
  },
  note: {
    // A note may be added in any state, ended cases included.
    from: incidentStates,
    roles: everyone,
    relation: 'anyone',
    apply: (incident, _actor, input) =>
      input.note ? { ...incident } : { kind: 'invalid', reason: 'a note needs its text' },
  },
  /**
   * 督办: a higher centre presses for a case still open, with an instruction (the note). No change of state; kept
   * in `supervisions` for the supervising officer's centre (as acknowledge finds it), for the assessment to count.
   */
  supervise: {
    from: open,
    roles: supervisors,
    relation: 'anyone',
    offered: (incident, actor) => centreOf(incident, actor) !== undefined,
    apply: (incident, actor, input, context) => {
      const centre = centreOf(incident, actor);
      if (centre === undefined)
        return {
          kind: 'forbidden',
          reason: 'only a centre whose jurisdiction covers the incident may supervise it',
        };
      if (!input.note) return { kind: 'invalid', reason: 'supervision needs a note with the instruction' };
      return {
        ...incident,
        supervisions: [
          ...(incident.supervisions ?? []),
          { nodeId: centre.id, userId: actor.userId, at: isoTime(context.now), note: input.note },
        ],
      };
    },
  },
  /** The device reported its condition cleared (a rule's `clearedBy`): resolved by the hub. */
  clear: {
    from: open,
    roles: ['system'],
    relation: 'anyone',
    // The hub's own: never offered, even to the hub acting as an actor.
    offered: () => false,
    apply: (incident, _actor, input, context) => ({
      ...incident,
      state: 'resolved',
      ...noDeadline,
      resolvedAt: isoTime(context.now),
      resolvedBy: 'system',
      resolution: input.note ?? 'cleared by the device',
      timeline: { ...incident.timeline, resolvedAt: isoTime(context.now) },
    }),
  },
};

function relationHolds(relation: Relation, incident: Incident, actor: Actor): boolean {
  switch (relation) {
    case 'anyone':
      return true;
    case 'assignee':
      return incident.assignees.includes(actor.userId);
    case 'handler':
      return incident.handler === actor.userId;
    case 'not_handler':
      // Verification is done by someone other than the handler (GB/T 30428).
      return incident.handler !== actor.userId && incident.resolvedBy !== actor.userId;
    case 'handler_or_supervisor':
      return incident.handler === actor.userId || supervisors.includes(actor.role);
  }
}

const relationReasons: Record<Relation, string> = {
  anyone: '',
  assignee: 'only a user the task is dispatched to may accept it',
  handler: 'only the handler who accepted the task may do this',
  not_handler: 'verification is done by someone other than the handler',
  handler_or_supervisor: 'only the handler or a duty officer may do this',
};

/** How refusals name actions and states, so a reason reads as a sentence. */
const actionPhrases: Record<IncidentAction, string> = {
  acknowledge: 'acknowledge',
  dispatch: 'dispatch',
  accept: 'accept',
  arrive: 'arrive at',
  resolve: 'resolve',
  verify: 'verify',
  reject: 'reject the resolution of',
  escalate: 'escalate',
  false_alarm: 'mark as a false alarm',
  cancel: 'cancel',
  note: 'add a note to',
  supervise: 'supervise',
  clear: 'clear',
};
const statePhrases: Record<IncidentState, string> = {
  new: 'new',
  dispatched: 'dispatched',
  accepted: 'accepted',
  on_site: 'on site',
  escalated: 'escalated',
  resolved: 'resolved',
  closed: 'closed',
  false_alarm: 'a false alarm',
  cancelled: 'cancelled',
};

/** Applies an action: the incident after it, or why it is refused. `updatedAt` is stamped here. */
export function applyAction(
  incident: Incident,
  action: IncidentAction,
  actor: Actor,
  input: ActionInput,
  context: LifecycleContext,
): Incident | Refusal {
  const rule = rules[action];
  if (!rule.from.includes(incident.state)) {
    return {
      kind: 'illegal',
      reason: `cannot ${actionPhrases[action]} an incident that is ${statePhrases[incident.state]}`,
    };
  }
  if (!rule.roles.includes(actor.role)) {
    return {
      kind: 'forbidden',
      reason: `a ${actor.role.replace('_', ' ')} may not ${actionPhrases[action]} an incident`,
    };
  }
  if (!relationHolds(rule.relation, incident, actor))
    return { kind: 'forbidden', reason: relationReasons[rule.relation] };
  const after = rule.apply(incident, actor, input, context);
  if ('kind' in after) return after;
  return { ...after, updatedAt: isoTime(context.now) };
}

/**
 * The actions this actor may take on the incident as it stands, in the table's order: each whose state, role and
 * relation allow it and that it offers (see {@link ActionRule.offered}). What an action's input or the jurisdiction
 * decide (a note, assignees, a level to escalate to) is not judged here: the action may still be refused for it.
 */
export function availableActions(incident: Incident, actor: Actor): IncidentAction[] {
  return incidentActions.filter((action) => {
    const rule = rules[action];
    return (
      rule.from.includes(incident.state) &&
      rule.roles.includes(actor.role) &&
      relationHolds(rule.relation, incident, actor) &&
      (rule.offered?.(incident, actor) ?? true)
    );
  });
}

export function isRefusal(result: Incident | Refusal): result is Refusal {
  return 'kind' in result && 'reason' in result;
}
