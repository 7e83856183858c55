import type { Incident, Severity } from '../core/incident.ts';
import type { Role } from '../core/principal.ts';
import { zoneOffsetMinutes } from '../core/wall-clock.ts';
import { type AskReason, type Fact, type FactAsk, type FactCase, holds, untilFacts } from './ask-reasons.ts';
import type { Milestone, PolicyConfig, PolicyStep, QuietHours } from './policy-schema.ts';

/**
 * The policy decisions, pure: which policy a person follows, which of its steps is due next and when. The
 * notification service (notification-service.ts) keeps the asks (pending-asks.ts) and the timer; everything it
 * decides is here, so it is tested on a fake clock (test/unit/notify-policy.test.ts).
 */

/** A policy as it is followed: the config's, or the built-in default. */
export interface Policy {
  readonly id: string;
  readonly steps: readonly PolicyStep[];
  readonly quietHours?: QuietHours;
  readonly bundle?: PolicyConfig['bundle'];
}

/** The id of the built-in policy, followed by whoever no configured policy applies to. */
export const defaultPolicyId = 'default';

/** What the decisions read of a case. */
export type CaseView = FactCase & Pick<Incident, 'severity'>;

/** One person asked to act on one case, as the decisions read it. */
export interface AskView extends FactAsk {
  readonly reason: AskReason;
  /** Epoch ms: when they were asked (dispatched to, escalated to, sent back to, handed the case). */
  readonly askedAt: number;
  /** The facts that held when they were asked (factsOf): those do not end this ask. */
  readonly baseline: readonly Fact[];
}

/**
 * Whether the case got to the milestone since the ask, as the ask's reason reads it (ask-reasons.ts): one of its
 * facts holds that did not when the person was asked. A case that ended since ends every step.
 */
export function milestoneReached(milestone: Milestone, incident: CaseView, ask: AskView): boolean {
  return untilFacts[ask.reason][milestone].some(
    (fact) => !ask.baseline.includes(fact) && holds(fact, incident, ask),
  );
}

/**
 * Which policy each person follows: their own (a policy naming their user id) over their role's, the first in the
 * config's order of each; the built-in default (the first channel, at once, until accepted) when none applies.
 */
export class PolicyBook {
  readonly #byUser = new Map<string, Policy>();
  readonly #byRole = new Map<Role, Policy>();
  readonly #fallback: Policy | undefined;

  constructor(policies: readonly PolicyConfig[], firstChannelId: string | undefined) {
    for (const policy of policies) {
      for (const userId of policy.users ?? [])
        if (!this.#byUser.has(userId)) this.#byUser.set(userId, policy);
      for (const role of policy.roles ?? []) if (!this.#byRole.has(role)) this.#byRole.set(role, policy);
    }
    this.#fallback =
      firstChannelId === undefined
        ? undefined
        : { id: defaultPolicyId, steps: [{ channel: firstChannelId, afterSeconds: 0, until: 'accepted' }] };
  }

  /** Undefined only when there is no channel at all. */
  policyFor(userId: string, role: Role): Policy | undefined {
    return this.#byUser.get(userId) ?? this.#byRole.get(role) ?? this.#fallback;
  }

  /** By id, to go on with a kept ask after a restart (undefined when the config no longer has it). */
  byId(id: string): Policy | undefined {
    if (id === defaultPolicyId) return this.#fallback;
    for (const policy of [...this.#byUser.values(), ...this.#byRole.values()])
      if (policy.id === id) return policy;
    return undefined;
  }
}

const minuteMs = 60_000;
const dayMinutes = 24 * 60;

function minutesOf(clockTime: string): number {
  const [hours, minutes] = clockTime.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}

/**
 * When a step due `at` may leave under quiet hours: `at` itself outside them (or for an excepted severity), else the
 * moment they end. Quiet hours are local times of `timeZone`; `to` earlier than `from` spans midnight; equal: none.
 */
export function afterQuietHours(
  at: number,
  severity: Severity,
  quiet: QuietHours | undefined,
  timeZone: string,
): number {
  if (quiet === undefined || quiet.exceptSeverities.includes(severity)) return at;
  const from = minutesOf(quiet.from);
  const to = minutesOf(quiet.to);
  if (from === to) return at;
  const local = at + zoneOffsetMinutes(timeZone, at) * minuteMs;
  const minuteOfDay = Math.floor(local / minuteMs) % dayMinutes;
  const within =
    from < to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
  if (!within) return at;
  const minutesLeft = (to - minuteOfDay + dayMinutes) % dayMinutes;
  return at - (local % minuteMs) + minutesLeft * minuteMs;
}

export interface DueStep {
  readonly index: number;
  /** Epoch ms. */
  readonly dueAt: number;
}

export interface StepContext {
  /** Ms one policy second lasts: 1000, shorter in tests. */
  readonly secondMs: number;
  readonly timeZone: string;
}

/**
 * The next step of `policy` to take from step `from` on: the first that applies to the case's severity and whose
 * `until` the case has not reached, due `afterSeconds` after the ask but not before `notBefore` (or, `atOnce`, at
 * `notBefore` itself: a step taking the place of a failed one), and moved past quiet hours. Undefined: nothing more
 * to send.
 */
export function nextStep(
  policy: Policy,
  ask: AskView,
  incident: CaseView,
  from: number,
  notBefore: number,
  context: StepContext,
  atOnce = false,
): DueStep | undefined {
  for (let index = from; index < policy.steps.length; index++) {
    const step = policy.steps[index] as PolicyStep;
    if (step.severities !== undefined && !step.severities.includes(incident.severity)) continue;
    if (milestoneReached(step.until, incident, ask)) continue;
    const scheduled = atOnce
      ? notBefore
      : Math.max(ask.askedAt + step.afterSeconds * context.secondMs, notBefore);
    return {
      index,
      dueAt: afterQuietHours(scheduled, incident.severity, policy.quietHours, context.timeZone),
    };
  }
  return undefined;
}

/** True when no step from `from` on could still be sent: the ask is over (its remaining steps are cancelled). */
export function askOver(policy: Policy, ask: AskView, incident: CaseView, from: number): boolean {
  return nextStep(policy, ask, incident, from, 0, { secondMs: 0, timeZone: 'UTC' }) === undefined;
}

/**
 * Bundling during storms, per person and channel: the times of the messages that left within the window. A message
 * may leave alone while fewer than `maxMessages` did; past that it waits in a bundle that leaves as one message when
 * the window since the bundle opened has passed.
 */
export class BundleWindow {
  readonly #sent: number[] = [];

  constructor(
    readonly maxMessages: number,
    readonly windowMs: number,
  ) {}

  /** Whether one more message may leave alone at `now`. */
  admits(now: number): boolean {
    while (this.#sent.length > 0 && (this.#sent[0] as number) <= now - this.windowMs) this.#sent.shift();
    return this.#sent.length < this.maxMessages;
  }

  left(now: number): void {
    this.#sent.push(now);
  }

  /** True when nothing left within the window: the window may be forgotten. */
  idle(now: number): boolean {
    return this.#sent.every((at) => at <= now - this.windowMs);
  }
}
