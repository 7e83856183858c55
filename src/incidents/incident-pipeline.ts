import type { ResolvedDevice } from '../config/load.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { HubBusEvents } from '../core/events.ts';
import { timeOrderedId } from '../core/ids.ts';
import { type Incident, isOpen } from '../core/incident.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { Store } from '../store/store.ts';
import type { RuleBook } from './rule-book.ts';

export interface IncidentPipelineOptions {
  readonly rules: RuleBook;
  readonly store: Store;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: HubMetrics;
}

const settled = Promise.resolve();

/** Key of a condition that lasts: one device, one raising event type. */
function conditionKey(deviceId: string, eventType: string): string {
  return `${deviceId}\u0000${eventType}`;
}

/**
 * Device event → grid-tagged incident → store → bus. Grid tagging costs nothing here: each device's grid and
 * its chain up to the district were resolved once and are shared, frozen, by its incidents. An incident is
 * announced on the bus only after the store has it, so no client ever sees what a crash could take back.
 *
 * A rule with `clearedBy` describes a condition that lasts (a device offline, mains lost): while its incident is
 * open, the same condition of the same device raises nothing new, and the clearing event resolves it by itself.
 */
export class IncidentPipeline {
  readonly #options: IncidentPipelineOptions;
  /** Open incidents of lasting conditions, by device and raising event type. */
  readonly #openConditions = new Map<string, Incident>();

  constructor(options: IncidentPipelineOptions) {
    this.#options = options;
  }

  /** Rebuilds the open conditions from the store, so a restart neither repeats nor forgets them. */
  async start(): Promise<void> {
    this.#openConditions.clear();
    for (const incident of await this.#options.store.listOpenIncidents()) {
      if (this.#options.rules.ruleFor(incident.event.type)?.clearedBy !== undefined) {
        this.#openConditions.set(conditionKey(incident.device.id, incident.event.type), incident);
      }
    }
  }

  process(event: DeviceEvent, device: ResolvedDevice, receivedAt: number): Promise<void> {
    const { rules } = this.#options;
    const clears = rules.clearedBy(event.type);
    const clearing = clears === undefined ? settled : this.#clear(event, clears);
    const rule = rules.ruleFor(event.type);
    if (rule === undefined) return clearing;
    if (rule.clearedBy !== undefined && this.#openConditions.has(conditionKey(device.id, event.type))) {
      this.#options.metrics.eventsDeduplicated.inc();
      return clearing;
    }
    const now = new Date();
    const createdAt = now.toISOString();
    const incident: Incident = {
      id: timeOrderedId('inc', now.getTime()),
      state: 'new',
      title: rule.title,
      category: rule.category,
      severity: rule.severity,
      device: { id: device.id, name: device.name, adapter: device.adapter.id },
      event: {
        type: event.type,
        occurredAt: new Date(event.occurredAt).toISOString(),
        attributes: event.attributes,
      },
      gridId: device.grid.ref.id,
      chain: device.grid.chain,
      createdAt,
      updatedAt: createdAt,
    };
    if (rule.clearedBy !== undefined) this.#openConditions.set(conditionKey(device.id, event.type), incident);
    const { store, bus, metrics } = this.#options;
    const created = store.saveIncident(incident).then(() => {
      metrics.incidentsCreated.labels(incident.severity).inc();
      bus.emit('incident:created', incident, receivedAt);
    });
    return clears === undefined ? created : Promise.all([clearing, created]).then(() => undefined);
  }

  /** Resolves the open incidents that this event clears, as the system, with the reason in the resolution. */
  #clear(event: DeviceEvent, rules: readonly { event: string }[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const rule of rules) {
      const key = conditionKey(event.deviceId, rule.event);
      const before = this.#openConditions.get(key);
      if (before === undefined || !isOpen(before.state)) continue;
      this.#openConditions.delete(key);
      const at = new Date().toISOString();
      const after: Incident = {
        ...before,
        state: 'resolved',
        updatedAt: at,
        resolvedAt: at,
        resolvedBy: 'system',
        resolution: `cleared by ${event.type}`,
      };
      const { store, bus } = this.#options;
      pending.push(store.saveIncident(after).then(() => bus.emit('incident:updated', { before, after })));
    }
    return pending.length === 0 ? settled : Promise.all(pending).then(() => undefined);
  }
}
