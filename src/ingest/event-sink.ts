import type { TypedBus } from '../core/bus.ts';
import type { ResolvedDevice } from '../core/device.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { IncidentPipeline } from '../incidents/incident-pipeline.ts';

/**
 * Where every device event goes once decoded, whichever connector brought it (MQTT, the hub's own liveness
 * events): announced on the bus first (the event log, the live views), then raised through the incident
 * pipeline. `accept` resolves once what the event produced is durable: the connector acknowledges the frame then.
 */
export class EventSink {
  readonly #bus: TypedBus<HubBusEvents>;
  readonly #pipeline: IncidentPipeline;

  constructor(bus: TypedBus<HubBusEvents>, pipeline: IncidentPipeline) {
    this.#bus = bus;
    this.#pipeline = pipeline;
  }

  accept(event: DeviceEvent, device: ResolvedDevice, receivedAt: number): Promise<void> {
    this.#bus.emit('device:event', event);
    return this.#pipeline.process(event, device, receivedAt);
  }
}
