import type { ResolvedDevice } from '../core/device.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { RuleDescription } from '../core/rule.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import { type IncidentMetrics, incidentMetrics } from './incident-metrics.ts';
import type { IncidentService } from './incident-service.ts';
import type { RuleBook, SuppressionReason } from './rule-book.ts';

const settled = Promise.resolve();

export interface IncidentPipelineOptions {
  readonly metrics?: MetricsRegistry;
  /** True while the device is in maintenance mode: its events raise nothing (a Map read in the registry). */
  readonly inMaintenance?: (deviceId: string, now: number) => boolean;
}

/**
 * Device event → rules → incidents. Grid tagging costs nothing here: each device's grid and its chain up to the
 * district were resolved once and are shared, frozen, by its incidents. The event first clears what it clears
 * (a rule's `clearedBy`), then raises what its own rule raises, unless its device is in maintenance or a
 * schedule suppresses it. Clearing is never suppressed: a device coming back must still resolve its incident.
 * The returned promise settles when every change it caused is committed, which is when the broker acknowledges
 * the device's message.
 */
export class IncidentPipeline {
  readonly #rules: RuleBook;
  readonly #incidents: IncidentService;
  readonly #options: IncidentPipelineOptions;
  readonly #metrics: IncidentMetrics | undefined;

  constructor(rules: RuleBook, incidents: IncidentService, options: IncidentPipelineOptions = {}) {
    this.#rules = rules;
    this.#incidents = incidents;
    this.#options = options;
    this.#metrics = options.metrics === undefined ? undefined : incidentMetrics(options.metrics);
  }

  process(event: DeviceEvent, device: ResolvedDevice, receivedAt: number): Promise<void> {
    const clears = this.#rules.clearedBy(event.type);
    const clearing = clears === undefined ? settled : this.#incidents.clear(event, clears);
    const rule = this.#rules.ruleFor(event.type);
    if (rule === undefined) return clearing;
    const suppressed = this.#suppression(rule, device, Date.now());
    if (suppressed !== undefined) {
      this.#metrics?.eventsSuppressed.labels(suppressed).inc();
      return clearing;
    }
    const raising = this.#incidents.raise(
      event,
      device,
      rule,
      receivedAt,
      this.#rules.correlationsOf(event.type),
    );
    return clears === undefined ? raising : Promise.all([clearing, raising]).then(() => undefined);
  }

  /** Why the event raises nothing now, if it does not: its device is in maintenance, or a schedule says so. */
  #suppression(rule: RuleDescription, device: ResolvedDevice, now: number): SuppressionReason | undefined {
    if (this.#options.inMaintenance?.(device.id, now)) return 'maintenance';
    if (this.#rules.scheduledSuppression(rule, device.grid.ref.id, now) !== undefined) return 'schedule';
    return undefined;
  }
}
