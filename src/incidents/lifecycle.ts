import { isoTime } from '../core/ids.ts';
import {
  type Arrival,
  type DeadlineStage,
  deadlineCategoryOf,
  type Extension,
  type FeedbackChannel,
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
  // #25: 退回, 延期, 挂账, coordination with departments, feedback to the reporter, the approval chain.
  'return',
  'request_extension',
  'approve_extension',
  'deny_extension',
  'suspend',
  'resume',
  'hand_off',
  'coordinate_done',
  'feedback',
  'approve',
  'deny',
  // 公示: an objection during the notice, and its end (the hub's, by the deadline sweep).
  'object_notice',
  'end_notice',
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
  /** For request_extension: the deadline asked for (ISO 8601). */
  readonly until?: string;
  /** For suspend: when to look at the case again (ISO 8601); the sweep resumes it then. */
  readonly reviewAt?: string;
  /** For hand_off: the department user who coordinates. */
  readonly coordinator?: string;
  /** For feedback: how the reporter was told. */
  readonly via?: FeedbackChannel;
}

/** The bounds of 延期 and 挂账 (config `lifecycle`). */
export interface LifecycleLimits {
  /** Extensions a case may have approved (a pending request counts). */
  readonly maxExtensions: number;
  /** How far past the current deadline one extension may ask, ms. */
  readonly maxExtensionMs: number;
  /** How far ahead a suspension's review date may be, ms. */
  readonly maxSuspensionMs: number;
  /** How long 公示 lasts after an approval chain's last approval, ms; 0: none, the case goes to dispatch at once. */
  readonly publicNoticeMs: number;
}

export const defaultLifecycleLimits: LifecycleLimits = {
  maxExtensions: 2,
  maxExtensionMs: 7 * 86_400_000,
  maxSuspensionMs: 90 * 86_400_000,
  publicNoticeMs: 5 * 86_400_000,
};

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
  /** The department (config `departments`) a user coordinates for; undefined for users of none. */
  readonly departmentOf?: (userId: string) => string | undefined;
  /** 延期 and 挂账 bounds; the defaults when absent. */
  readonly limits?: LifecycleLimits;
}

export type Refusal = { readonly kind: 'illegal' | 'forbidden' | 'invalid'; readonly reason: string };

type Relation =
  | 'anyone'
  | 'assignee'
  | 'handler'
  | 'not_handler'
  | 'handler_or_supervisor'
  | 'assignee_or_handler'
  | 'coordinator';

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
/** Open and suspended: what a supervision, a note of the centre or a cancellation may still reach. */
const openOrSuspended: readonly IncidentState[] = [...open, 'suspended'];
const supervisors: readonly Actor['role'][] = ['duty_officer', 'admin'];
const everyone: readonly Actor['role'][] = [
  'duty_officer',
  'admin',
  'grid_worker',
  'grid_chief',
  'integrator',
];
/** Everyone, and the department users a case is handed to: what they may do on it (coordinate_done, notes). */
const everyoneAndDepartments: readonly Actor['role'][] = [...everyone, 'department'];

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

/**
 * Whether an officer's jurisdiction covers the node now responsible for the case or one above it (延期 is decided
 * by the responsible centre or above, not by a centre below that the case has climbed past).
 */
function atOrAboveResponsible(incident: Incident, actor: Actor): boolean {
  const index = incident.chain.findIndex((node) => node.id === incident.responsibleNodeId);
  return incident.chain.slice(Math.max(0, index)).some((node) => actor.scopeNodeIds?.includes(node.id));
}

function pendingExtension(incident: Incident): Extension | undefined {
  const last = incident.extensions?.at(-1);
  return last !== undefined && last.approved === undefined ? last : undefined;
}

/** The pending extension decided: recorded, and when approved the current stage's deadline moved to it. */
function decideExtension(incident: Incident, actor: Actor, approved: boolean, context: LifecycleContext) {
  const pending = pendingExtension(incident);
  if (pending === undefined) return { kind: 'illegal', reason: 'no extension is pending' } as const;
  const decided: Extension = {
    ...pending,
    decidedBy: actor.userId,
    decidedAt: isoTime(context.now),
    approved,
  };
  const extensions = [...(incident.extensions ?? []).slice(0, -1), decided];
  if (!approved) return { ...incident, extensions };
  return {
    ...incident,
    extensions,
    dueAt: pending.until,
    timeline:
      incident.dueStage === 'resolve' || incident.dueStage === null
        ? { ...incident.timeline, resolveBy: pending.until }
        : incident.timeline,
  };
}

/** Where the approval chain stands: the node whose officer decides now, undefined when none is pending. */
function approvalNode(incident: Incident): string | undefined {
  const approval = incident.approval;
  if (approval === undefined || approval.decisions.some((decision) => !decision.approved)) return undefined;
  return approval.chain[approval.at];
}

/** The approval step this officer decides now (the chain and its current node), or why they may not. */
function approvalStepFor(
  incident: Incident,
  actor: Actor,
): { approval: NonNullable<Incident['approval']>; nodeId: string } | Refusal {
  const approval = incident.approval;
  const nodeId = approvalNode(incident);
  if (approval === undefined || nodeId === undefined)
    return { kind: 'illegal', reason: 'the case awaits no approval' };
  if (!decidesApproval(incident, actor))
    return { kind: 'forbidden', reason: `only an officer of ${nodeId} may decide this step of the approval` };
  return { approval, nodeId };
}

function approvalPending(incident: Incident): boolean {
  return approvalNode(incident) !== undefined;
}

/** The 公示 running now (after the last approval, not yet ended), if any. */
export function noticeRunning(incident: Incident): NonNullable<Incident['approval']>['notice'] {
  const notice = incident.approval?.notice;
  return notice !== undefined && notice.endedAt === undefined && !approvalPending(incident)
    ? notice
    : undefined;
}

/** Dispatch waits for the approval chain and then for its 公示. */
function awaitingApproval(incident: Incident): string | undefined {
  if (approvalPending(incident)) return 'the case is awaiting approval and cannot be dispatched yet';
  const notice = noticeRunning(incident);
  return notice === undefined ? undefined : `the case is under public notice (公示) until ${notice.until}`;
}

function decidesApproval(incident: Incident, actor: Actor): boolean {
  const node = approvalNode(incident);
  return node !== undefined && (actor.scopeNodeIds?.includes(node) ?? false);
}

/** Whether the outcome is one to tell the reporter: done, or an application denied (not a case just cancelled). */
function answerable(incident: Incident): boolean {
  return (
    incident.state !== 'cancelled' ||
    (incident.approval?.decisions.some((decision) => !decision.approved) ?? false)
  );
}

/** Feedback is for people's cases: those another part (INTAKE) gives an `origin`, of whatever shape. */
function hasOrigin(incident: Incident): boolean {
  return (incident as { readonly origin?: unknown }).origin != null;
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
    // A case on its approval chain (需要审批) is dispatched once the chain has approved it, not before.
    offered: (incident) => awaitingApproval(incident) === undefined,
    apply: (incident, _actor, input, context) => {
      const waiting = awaitingApproval(incident);
      if (waiting !== undefined) return { kind: 'illegal', reason: waiting };
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
    from: [...openOrSuspended, 'resolved'],
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
    roles: everyoneAndDepartments,
    relation: 'anyone',
    apply: (incident, _actor, input) =>
      input.note ? { ...incident } : { kind: 'invalid', reason: 'a note needs its text' },
  },
  /**
   * 督办: a higher centre presses for a case still open, with an instruction (the note). No change of state; kept
   * in `supervisions` for the supervising officer's centre (as acknowledge finds it), for the assessment to count.
   */
  supervise: {
    from: openOrSuspended,
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
  /**
   * 退回: the handler or an assignee cannot take the case (not their grid, not their competence) and sends it back
   * to the centre that dispatched it, with the reason. Back to be dispatched, with nobody on it: 'new' at the grid,
   * 'escalated' when it had climbed. Unlike `reject`, which sends a resolution back to its handler.
   */
  return: {
    from: ['dispatched', 'accepted', 'on_site', 'escalated'],
    roles: everyone,
    relation: 'assignee_or_handler',
    apply: (incident, actor, input, context) => {
      if (!input.note) return { kind: 'invalid', reason: 'returning a case needs the reason' };
      return {
        ...incident,
        state: incident.escalations > 0 ? 'escalated' : 'new',
        assignees: [],
        handler: null,
        ...due(incident, 'accept', context.now, context),
        returns: [
          ...(incident.returns ?? []),
          { userId: actor.userId, at: isoTime(context.now), reason: input.note },
        ],
      };
    },
  },
  /** 延期: the handler asks for a later deadline for the stage running, bounded in count and in length. */
  request_extension: {
    from: ['accepted', 'on_site'],
    roles: everyone,
    relation: 'handler',
    offered: (incident) => pendingExtension(incident) === undefined,
    apply: (incident, actor, input, context) => {
      const limits = context.limits ?? defaultLifecycleLimits;
      if (!input.note) return { kind: 'invalid', reason: 'an extension needs the reason' };
      if (input.until === undefined)
        return { kind: 'invalid', reason: 'an extension needs the new deadline' };
      if (pendingExtension(incident) !== undefined)
        return { kind: 'illegal', reason: 'an extension is already awaiting a decision' };
      const granted = (incident.extensions ?? []).filter((extension) => extension.approved).length;
      if (granted >= limits.maxExtensions)
        return { kind: 'illegal', reason: `the case has had its ${limits.maxExtensions} extensions` };
      const until = Date.parse(input.until);
      const current = incident.dueAt === null ? context.now : Date.parse(incident.dueAt);
      if (!(until > Math.max(current, context.now)))
        return { kind: 'invalid', reason: 'the new deadline must be later than the current one' };
      if (until > current + limits.maxExtensionMs)
        return {
          kind: 'invalid',
          reason: `an extension may add at most ${Math.round(limits.maxExtensionMs / 3_600_000)} h`,
        };
      return {
        ...incident,
        extensions: [
          ...(incident.extensions ?? []),
          { requestedBy: actor.userId, at: isoTime(context.now), reason: input.note, until: isoTime(until) },
        ],
      };
    },
  },
  approve_extension: {
    from: ['accepted', 'on_site'],
    roles: supervisors,
    relation: 'not_handler',
    offered: (incident, actor) =>
      pendingExtension(incident) !== undefined && atOrAboveResponsible(incident, actor),
    apply: (incident, actor, _input, context) =>
      atOrAboveResponsible(incident, actor)
        ? decideExtension(incident, actor, true, context)
        : { kind: 'forbidden', reason: 'only the responsible centre or one above it decides an extension' },
  },
  deny_extension: {
    from: ['accepted', 'on_site'],
    roles: supervisors,
    relation: 'not_handler',
    offered: (incident, actor) =>
      pendingExtension(incident) !== undefined && atOrAboveResponsible(incident, actor),
    apply: (incident, actor, input, context) => {
      if (!atOrAboveResponsible(incident, actor))
        return {
          kind: 'forbidden',
          reason: 'only the responsible centre or one above it decides an extension',
        };
      if (!input.note) return { kind: 'invalid', reason: 'denying an extension needs the reason' };
      return decideExtension(incident, actor, false, context);
    },
  },
  /**
   * 挂账: a centre parks a case that cannot go on now (waiting on a court, a season, an owner abroad) with the reason
   * and a review date. Its deadline stops: what was left is kept and restarts on resume; nothing escalates meanwhile.
   */
  suspend: {
    from: open,
    roles: supervisors,
    relation: 'anyone',
    offered: (incident, actor) => centreOf(incident, actor) !== undefined,
    apply: (incident, actor, input, context) => {
      const limits = context.limits ?? defaultLifecycleLimits;
      if (centreOf(incident, actor) === undefined)
        return {
          kind: 'forbidden',
          reason: 'only a centre whose jurisdiction covers the incident may suspend it',
        };
      if (!input.note) return { kind: 'invalid', reason: 'suspending a case needs the reason' };
      if (input.reviewAt === undefined)
        return { kind: 'invalid', reason: 'suspending a case needs a review date' };
      const reviewAt = Date.parse(input.reviewAt);
      if (!(reviewAt > context.now) || reviewAt > context.now + limits.maxSuspensionMs)
        return {
          kind: 'invalid',
          reason: `the review date must be in the next ${Math.round(limits.maxSuspensionMs / 86_400_000)} days`,
        };
      const remaining =
        incident.dueStage === null || incident.dueAt === null
          ? null
          : { stage: incident.dueStage, ms: Math.max(0, Date.parse(incident.dueAt) - context.now) };
      return {
        ...incident,
        state: 'suspended',
        ...noDeadline,
        suspension: {
          userId: actor.userId,
          at: isoTime(context.now),
          reason: input.note,
          reviewAt: isoTime(reviewAt),
          fromState: incident.state,
          remaining,
        },
      };
    },
  },
  /**
   * The case goes on from where it was suspended, with the time that was left; the resolve-by the assessment judges
   * moves by the time it lay suspended. The hub resumes it at the review date (the deadline sweep).
   */
  resume: {
    from: ['suspended'],
    roles: [...supervisors, 'system'],
    relation: 'anyone',
    offered: (incident, actor) =>
      incident.suspension !== undefined && centreOf(incident, actor) !== undefined,
    apply: (incident, actor, _input, context) => {
      const suspension = incident.suspension;
      if (actor.role !== 'system' && centreOf(incident, actor) === undefined)
        return {
          kind: 'forbidden',
          reason: 'only a centre whose jurisdiction covers the incident may resume it',
        };
      if (suspension === undefined)
        return { kind: 'illegal', reason: 'the case holds no suspension to resume' };
      // Resumed by the hub at the review date: its acknowledgements go, so the centres see it as a case to look at.
      const { suspension: _suspension, ...kept } = incident;
      const { acknowledgements: _seen, ...unseen } = kept;
      const rest = actor.role === 'system' ? unseen : kept;
      const lay = Math.max(0, context.now - Date.parse(suspension.at));
      const { resolveBy } = incident.timeline;
      return {
        ...rest,
        state: suspension.fromState,
        ...(suspension.remaining === null
          ? noDeadline
          : { dueStage: suspension.remaining.stage, dueAt: isoTime(context.now + suspension.remaining.ms) }),
        timeline:
          resolveBy === undefined
            ? incident.timeline
            : { ...incident.timeline, resolveBy: isoTime(Date.parse(resolveBy) + lay) },
      };
    },
  },
  /**
   * Hand-off for coordination (协同): a department's user (config `departments`) becomes a co-handler of their part
   * with the note; the handler stays responsible and the state does not change.
   */
  hand_off: {
    from: ['accepted', 'on_site'],
    roles: everyone,
    relation: 'handler_or_supervisor',
    apply: (incident, _actor, input, context) => {
      if (!input.note)
        return { kind: 'invalid', reason: 'a hand-off needs a note saying what to coordinate' };
      if (input.coordinator === undefined)
        return { kind: 'invalid', reason: 'a hand-off needs a department user' };
      const departmentId = context.departmentOf?.(input.coordinator);
      if (departmentId === undefined)
        return { kind: 'invalid', reason: `${input.coordinator} is not a department's user` };
      if (
        incident.coordinators?.some(
          (entry) => entry.userId === input.coordinator && entry.doneAt === undefined,
        )
      )
        return { kind: 'illegal', reason: `${input.coordinator} is already coordinating this case` };
      return {
        ...incident,
        coordinators: [
          ...(incident.coordinators ?? []),
          { userId: input.coordinator, departmentId, at: isoTime(context.now), note: input.note },
        ],
      };
    },
  },
  /** A coordinating department user reports their part done (the handler then resolves the case). */
  coordinate_done: {
    from: openOrSuspended,
    roles: everyoneAndDepartments,
    relation: 'coordinator',
    apply: (incident, actor, input, context) => {
      if (!input.note) return { kind: 'invalid', reason: 'say what your department did' };
      const coordinators = incident.coordinators ?? [];
      const index = coordinators.findLastIndex(
        (entry) => entry.userId === actor.userId && entry.doneAt === undefined,
      );
      const entry = coordinators[index];
      if (entry === undefined) return { kind: 'illegal', reason: 'your part of this case is already done' };
      return {
        ...incident,
        coordinators: coordinators.with(index, {
          ...entry,
          doneAt: isoTime(context.now),
          doneNote: input.note,
        }),
      };
    },
  },
  /** 回访/反馈: after the case is done, what the reporter was told and how; people's cases only. */
  feedback: {
    // A denied application (审批不同意) ends cancelled and is answered too: the applicant is told why.
    from: ['resolved', 'closed', 'cancelled'],
    roles: everyone,
    relation: 'handler_or_supervisor',
    offered: (incident) => hasOrigin(incident) && incident.feedback === undefined && answerable(incident),
    apply: (incident, actor, input, context) => {
      if (!hasOrigin(incident))
        return { kind: 'illegal', reason: 'only a case reported by people has a reporter to tell' };
      if (!answerable(incident))
        return { kind: 'illegal', reason: 'a cancelled case is answered only when its approval was denied' };
      if (incident.feedback !== undefined)
        return {
          kind: 'illegal',
          reason: `the reporter was told already (${incident.feedback.userId} at ${incident.feedback.at})`,
        };
      if (!input.note)
        return { kind: 'invalid', reason: 'feedback needs a note of what the reporter was told' };
      if (input.via === undefined)
        return { kind: 'invalid', reason: 'feedback needs how the reporter was told' };
      return {
        ...incident,
        feedback: { userId: actor.userId, at: isoTime(context.now), note: input.note, via: input.via },
      };
    },
  },
  /**
   * 需要审批 (方案4): the officer of the chain's current node approves; the last approval ends the chain and the case
   * goes to dispatch as an approved case ('new', or 'escalated' where it had climbed).
   */
  approve: {
    from: open,
    roles: supervisors,
    relation: 'anyone',
    offered: decidesApproval,
    apply: (incident, actor, input, context) => {
      const step = approvalStepFor(incident, actor);
      if ('kind' in step) return step;
      const { approval, nodeId } = step;
      const decisions = [
        ...approval.decisions,
        {
          nodeId,
          userId: actor.userId,
          at: isoTime(context.now),
          approved: true,
          ...(input.note ? { note: input.note } : {}),
        },
      ];
      const last = approval.at + 1 >= approval.chain.length;
      const noticeMs = (context.limits ?? defaultLifecycleLimits).publicNoticeMs;
      // The last approval opens 公示 (once: a decision again after an objection heard it, and goes to dispatch,
      // with the accept deadline from now: nothing else would start one, and a case without one never escalates).
      if (!last || noticeMs === 0 || approval.notice !== undefined)
        return {
          ...incident,
          ...(last && approval.notice !== undefined ? due(incident, 'accept', context.now, context) : {}),
          approval: { ...approval, at: approval.at + 1, decisions },
        };
      return {
        ...incident,
        // Nobody must act while it is shown: the accept deadline starts when it ends.
        ...noDeadline,
        approval: {
          ...approval,
          at: approval.at + 1,
          decisions,
          notice: { from: isoTime(context.now), until: isoTime(context.now + noticeMs) },
        },
      };
    },
  },
  /** The chain's current node refuses: the case ends (cancelled) with the decision and its reason recorded. */
  deny: {
    from: open,
    roles: supervisors,
    relation: 'anyone',
    offered: decidesApproval,
    apply: (incident, actor, input, context) => {
      const step = approvalStepFor(incident, actor);
      if ('kind' in step) return step;
      const { approval, nodeId } = step;
      if (!input.note) return { kind: 'invalid', reason: 'a denial needs the reason' };
      return {
        ...incident,
        state: 'cancelled',
        ...noDeadline,
        closedBy: actor.userId,
        approval: {
          ...approval,
          decisions: [
            ...approval.decisions,
            { nodeId, userId: actor.userId, at: isoTime(context.now), approved: false, note: input.note },
          ],
        },
        timeline: { ...incident.timeline, closedAt: isoTime(context.now) },
      };
    },
  },
  /**
   * 异议: an officer of a centre over the case (the town and community show the notice) objects during 公示 with the
   * reason. The notice ends and the case goes back to the chain's last node (the approving authority), which decides
   * again having heard it: approve (then dispatch, no second notice) or deny.
   */
  object_notice: {
    from: open,
    roles: supervisors,
    relation: 'anyone',
    offered: (incident, actor) =>
      noticeRunning(incident) !== undefined && centreOf(incident, actor) !== undefined,
    apply: (incident, actor, input, context) => {
      const notice = noticeRunning(incident);
      const approval = incident.approval;
      if (notice === undefined || approval === undefined)
        return { kind: 'illegal', reason: 'the case is not under public notice' };
      const centre = centreOf(incident, actor);
      if (centre === undefined)
        return { kind: 'forbidden', reason: 'only a centre whose jurisdiction covers the case may object' };
      if (!input.note) return { kind: 'invalid', reason: 'an objection needs the reason' };
      const at = isoTime(context.now);
      return {
        ...incident,
        // The approver decides again, in the time a step of the chain has (the accept deadline), as before 公示.
        ...due(incident, 'accept', context.now, context),
        approval: {
          ...approval,
          at: approval.chain.length - 1,
          notice: {
            ...notice,
            endedAt: at,
            objection: { userId: actor.userId, nodeId: centre.id, at, reason: input.note },
          },
        },
      };
    },
  },
  /**
   * 公示期满: the hub ends a notice whose period ran out without objection; the accept deadline starts now. When is
   * the deadline sweep's to judge (as a suspension's review date is), not the action's.
   */
  end_notice: {
    from: open,
    roles: ['system'],
    relation: 'anyone',
    offered: () => false,
    apply: (incident, _actor, _input, context) => {
      const notice = noticeRunning(incident);
      const approval = incident.approval;
      if (notice === undefined || approval === undefined)
        return { kind: 'illegal', reason: 'the case is not under public notice' };
      return {
        ...incident,
        ...due(incident, 'accept', context.now, context),
        approval: { ...approval, notice: { ...notice, endedAt: isoTime(context.now) } },
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
    case 'assignee_or_handler':
      return incident.handler === actor.userId || incident.assignees.includes(actor.userId);
    case 'coordinator':
      return incident.coordinators?.some((entry) => entry.userId === actor.userId) ?? false;
  }
}

const relationReasons: Record<Relation, string> = {
  anyone: '',
  assignee: 'only a user the task is dispatched to may accept it',
  handler: 'only the handler who accepted the task may do this',
  not_handler: 'verification is done by someone other than the handler',
  handler_or_supervisor: 'only the handler or a duty officer may do this',
  assignee_or_handler: 'only the handler or a user the case is dispatched to may do this',
  coordinator: 'only a department user the case was handed to may do this',
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
  return: 'return',
  request_extension: 'ask for an extension of',
  approve_extension: 'approve an extension of',
  deny_extension: 'deny an extension of',
  suspend: 'suspend',
  resume: 'resume',
  hand_off: 'hand off',
  coordinate_done: 'finish coordinating',
  feedback: 'record feedback on',
  approve: 'approve',
  deny: 'deny',
  object_notice: 'object to the public notice of',
  end_notice: 'end the public notice of',
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
  suspended: 'suspended',
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
