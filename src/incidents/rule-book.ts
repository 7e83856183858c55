import { type Severity, severities } from '../core/incident.ts';
import type { CorrelationDescription, RuleDescription, SuppressionDescription } from '../core/rule.ts';
import { localClock, localTime, shiftCovers } from './router.ts';

/** A correlation as the hot path reads it: its events as a set, its window in ms. */
export interface Correlation {
  readonly id: string;
  readonly events: ReadonlySet<string>;
  readonly windowMs: number;
  readonly severity: Severity;
  readonly title: string | undefined;
}

/** Why an event raised no incident; the `reason` label of `gridhub_events_suppressed_total`. */
export type SuppressionReason = 'maintenance' | 'schedule';
export const suppressionReasons: readonly SuppressionReason[] = ['maintenance', 'schedule'];

export interface RuleBookOptions {
  readonly correlations?: readonly CorrelationDescription[];
  readonly suppressions?: readonly SuppressionDescription[];
  /** The time zone suppression schedules are written in. */
  readonly timezone?: string;
}

/** The graver of two severities (info < warning < major < critical: the order of `severities`). */
export function maxSeverity(a: Severity, b: Severity): Severity {
  return severities.indexOf(a) >= severities.indexOf(b) ? a : b;
}

/** Appends to a bounded list, keeping the newest `limit` items. */
export function appendNewest<T>(items: readonly T[], item: T, limit: number): T[] {
  return items.length < limit ? [...items, item] : [...items.slice(items.length - limit + 1), item];
}

/**
 * How many things happened in the last `windowMs`, up to `capacity`: a ring of the newest `capacity` times.
 * `full` answers "were there already `capacity` within the window?" in O(1): only the oldest of the newest
 * `capacity` matters, so nothing older is kept and nothing is scanned.
 */
export class SlidingWindow {
  readonly #times: number[];
  readonly #windowMs: number;
  #next = 0;
  #count = 0;

  constructor(capacity: number, windowMs: number) {
    this.#times = new Array<number>(capacity).fill(0);
    this.#windowMs = windowMs;
  }

  add(now: number): void {
    if (this.#times.length === 0) return;
    this.#times[this.#next] = now;
    this.#next = (this.#next + 1) % this.#times.length;
    this.#count = Math.min(this.#count + 1, this.#times.length);
  }

  /** True when `capacity` things happened within the window before `now` (never for capacity 0). */
  full(now: number): boolean {
    if (this.#count < this.#times.length || this.#times.length === 0) return false;
    // Once full, the slot to be overwritten next holds the oldest of the newest `capacity` times.
    return now - (this.#times[this.#next] as number) < this.#windowMs;
  }
}

/** True when the schedule covers the event: its type, its rule's category, its grid and the local time. */
export function scheduleMatches(
  schedule: SuppressionDescription,
  eventType: string,
  category: string,
  gridId: string,
  local: { day: number; minute: number },
): boolean {
  return (
    (schedule.events?.includes(eventType) ?? true) &&
    (schedule.categories?.includes(category) ?? true) &&
    (schedule.grids?.includes(gridId) ?? true) &&
    // A schedule's window has a roster shift's semantics; shiftCovers only reads its days, from and to.
    shiftCovers({ ...schedule, users: [] }, local.day, local.minute)
  );
}

const none: readonly never[] = [];

/**
 * Which device events become incidents, and as what: lookup tables keyed by normalized event type, so the ingest
 * path pays a Map read per question (rule, clearing, correlations, schedules) and nothing for events no
 * correlation or schedule mentions.
 */
export class RuleBook {
  readonly #byEvent: ReadonlyMap<string, RuleDescription>;
  /** clearing event type → the rules whose open incidents it resolves. */
  readonly #clearing: ReadonlyMap<string, readonly RuleDescription[]>;
  /** event type → the correlations it takes part in. */
  readonly #correlations: ReadonlyMap<string, readonly Correlation[]>;
  /** event type → the schedules that may suppress it (its type and its rule's category pass their filters). */
  readonly #schedules: ReadonlyMap<string, readonly SuppressionDescription[]>;
  readonly #clock: Intl.DateTimeFormat;
  /** localTime is the costly part (Intl); the local minute only changes at the next UTC minute. */
  #local = { day: 0, minute: 0 };
  #localUntil = 0;

  constructor(rules: readonly RuleDescription[], options: RuleBookOptions = {}) {
    const { correlations = [], suppressions = [], timezone = 'Asia/Shanghai' } = options;
    this.#byEvent = new Map(rules.map((rule) => [rule.event, rule]));
    this.#clearing = groupBy(
      rules.filter((rule) => rule.clearedBy !== undefined),
      (rule) => [rule.clearedBy as string],
    );
    this.#correlations = groupBy(
      correlations.map((correlation) => ({
        id: correlation.id,
        events: new Set(correlation.events),
        windowMs: correlation.windowSeconds * 1000,
        severity: correlation.severity,
        title: correlation.title,
      })),
      (correlation) => [...correlation.events],
    );
    this.#schedules = groupBy(suppressions, (schedule) =>
      rules
        .filter(
          (rule) =>
            (schedule.events?.includes(rule.event) ?? true) &&
            (schedule.categories?.includes(rule.category) ?? true),
        )
        .map((rule) => rule.event),
    );
    this.#clock = localClock(timezone);
  }

  /** The rule for this event type, or undefined when the event is recorded but raises no incident. */
  ruleFor(eventType: string): RuleDescription | undefined {
    return this.#byEvent.get(eventType);
  }

  /** The rules whose open incidents an event of this type resolves (none for most events). */
  clearedBy(eventType: string): readonly RuleDescription[] | undefined {
    return this.#clearing.get(eventType);
  }

  /** The correlations an event of this type may join an incident by (none for most events). */
  correlationsOf(eventType: string): readonly Correlation[] {
    return this.#correlations.get(eventType) ?? none;
  }

  /** The schedule that suppresses this event of this grid now, if any. */
  scheduledSuppression(
    rule: RuleDescription,
    gridId: string,
    now: number,
  ): SuppressionDescription | undefined {
    const schedules = this.#schedules.get(rule.event);
    if (schedules === undefined) return undefined;
    const local = this.#localTime(now);
    return schedules.find((schedule) => scheduleMatches(schedule, rule.event, rule.category, gridId, local));
  }

  #localTime(now: number): { day: number; minute: number } {
    if (now >= this.#localUntil || now < this.#localUntil - 60_000) {
      // Every time zone in use is a whole number of minutes off UTC: the local minute turns with the UTC one.
      this.#local = localTime(now, this.#clock);
      this.#localUntil = now - (now % 60_000) + 60_000;
    }
    return this.#local;
  }
}

function groupBy<T>(items: readonly T[], keysOf: (item: T) => readonly string[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    for (const key of keysOf(item)) groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}
