import type { RuleConfig } from '../config/schema.ts';

/** Which device events become incidents, and as what: a lookup table keyed by normalized event type. */
export class RuleBook {
  readonly #byEvent: ReadonlyMap<string, RuleConfig>;

  constructor(rules: readonly RuleConfig[]) {
    this.#byEvent = new Map(rules.map((rule) => [rule.event, rule]));
  }

  /** The rule for this event type, or undefined when the event is recorded but raises no incident. */
  ruleFor(eventType: string): RuleConfig | undefined {
    return this.#byEvent.get(eventType);
  }
}
