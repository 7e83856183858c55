import type { RuleConfig } from '../config/schema.ts';

/** Which device events become incidents, and as what: lookup tables keyed by normalized event type. */
export class RuleBook {
  readonly #byEvent: ReadonlyMap<string, RuleConfig>;
  /** clearing event type → the rules whose open incidents it resolves. */
  readonly #clearing: ReadonlyMap<string, readonly RuleConfig[]>;

  constructor(rules: readonly RuleConfig[]) {
    this.#byEvent = new Map(rules.map((rule) => [rule.event, rule]));
    const clearing = new Map<string, RuleConfig[]>();
    for (const rule of rules) {
      if (rule.clearedBy === undefined) continue;
      clearing.set(rule.clearedBy, [...(clearing.get(rule.clearedBy) ?? []), rule]);
    }
    this.#clearing = clearing;
  }

  /** The rule for this event type, or undefined when the event is recorded but raises no incident. */
  ruleFor(eventType: string): RuleConfig | undefined {
    return this.#byEvent.get(eventType);
  }

  /** The rules whose open incidents an event of this type resolves (none for most events). */
  clearedBy(eventType: string): readonly RuleConfig[] | undefined {
    return this.#clearing.get(eventType);
  }
}
