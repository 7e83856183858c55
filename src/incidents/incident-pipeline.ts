import type { ResolvedDevice } from '../config/load.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { HubBusEvents } from '../core/events.ts';
import { timeOrderedId } from '../core/ids.ts';
import type { Incident } from '../core/incident.ts';
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

/**
 * Device event → grid-tagged incident → store → bus. Grid tagging costs nothing here: each device's grid and
 * its chain up to the district were resolved once at start-up and are shared, frozen, by its incidents.
 * The incident is announced on the bus only after the store has it, so no client ever sees an incident that
 * a crash could take back.
 */
export class IncidentPipeline {
  readonly #options: IncidentPipelineOptions;

  constructor(options: IncidentPipelineOptions) {
    this.#options = options;
  }

  process(event: DeviceEvent, device: ResolvedDevice, receivedAt: number): Promise<void> {
    const rule = this.#options.rules.ruleFor(event.type);
    if (rule === undefined) return settled;
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
    const { store, bus, metrics } = this.#options;
    return store.saveIncident(incident).then(() => {
      metrics.incidentsCreated.labels(incident.severity).inc();
      bus.emit('incident:created', incident, receivedAt);
    });
  }
}
