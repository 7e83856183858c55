import type { ResolvedDevice } from '../config/load.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { IncidentService } from './incident-service.ts';
import type { RuleBook } from './rule-book.ts';

const settled = Promise.resolve();

/**
 * Device event → rules → incidents. Grid tagging costs nothing here: each device's grid and its chain up to the
 * district were resolved once and are shared, frozen, by its incidents. The event first clears what it clears
 * (a rule's `clearedBy`), then raises what its own rule raises. The returned promise settles when every change
 * it caused is committed, which is when the broker acknowledges the device's message.
 */
export class IncidentPipeline {
  readonly #rules: RuleBook;
  readonly #incidents: IncidentService;

  constructor(rules: RuleBook, incidents: IncidentService) {
    this.#rules = rules;
    this.#incidents = incidents;
  }

  process(event: DeviceEvent, device: ResolvedDevice, receivedAt: number): Promise<void> {
    const clears = this.#rules.clearedBy(event.type);
    const clearing = clears === undefined ? settled : this.#incidents.clear(event, clears);
    const rule = this.#rules.ruleFor(event.type);
    if (rule === undefined) return clearing;
    const raising = this.#incidents.raise(event, device, rule, receivedAt);
    return clears === undefined ? raising : Promise.all([clearing, raising]).then(() => undefined);
  }
}
