import type { ResolvedDevice } from '../core/device.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { Incident } from '../core/incident.ts';
import type { RuleDescription } from '../core/rule.ts';
import type { Correlation } from './rule-book.ts';

/** One device event on its way through the raising steps (raising-steps.ts), and what the steps learn of it. */
export interface Raising {
  readonly event: DeviceEvent;
  readonly device: ResolvedDevice;
  readonly rule: RuleDescription;
  /** performance.now() at ingest. */
  readonly receivedAt: number;
  /** The correlations the event's type takes part in. */
  readonly correlations: readonly Correlation[];
  /** When this turn of the steps began (Date.now()): dedupe, correlation and flood windows are measured to it. */
  now: number;
  /** The device condition's open incident, as the writer found it at the start of this turn. */
  open: Incident | undefined;
  /**
   * Set by a step whose write another instance sharing the store beat (it created the condition's incident first,
   * or ended the open one): the writer runs the steps again from a fresh read (SharedIncidentWriter.raise).
   */
  contested: boolean;
}

/** The rest of the steps, from a given one on: what a step calls to pass the event on. */
export type RaisingChain = (raising: Raising) => Promise<void>;

/**
 * One step of raising: it handles the event (its promise settles when the change it made is committed) or passes it
 * on to `next`. A step may also wrap the rest (the redelivery check tracks what the rest commits).
 */
export interface RaisingStep {
  readonly name: string;
  handle(raising: Raising, next: RaisingChain): Promise<void>;
}

/** The steps as one function, composed once: raising an event allocates no closure for the way through. */
export function chainOf(steps: readonly RaisingStep[]): RaisingChain {
  let next: RaisingChain = (raising) =>
    Promise.reject(new Error(`no raising step handled ${raising.event.type} of ${raising.device.id}`));
  for (let index = steps.length - 1; index >= 0; index--) {
    const step = steps[index] as RaisingStep;
    const rest = next;
    next = (raising) => step.handle(raising, rest);
  }
  return next;
}

/**
 * Whether an event of the rule folds into its condition's open incident: a lasting condition (clearedBy) folds every
 * repeat while open; others only within their dedupe window. A window of 0 folds nothing, though the device's clock
 * be at the hub's millisecond or ahead of it.
 */
export function foldsInto(open: Incident, rule: RuleDescription, now: number): boolean {
  return (
    rule.clearedBy !== undefined ||
    (rule.dedupeSeconds > 0 && now - Date.parse(open.lastOccurredAt) <= rule.dedupeSeconds * 1000)
  );
}
