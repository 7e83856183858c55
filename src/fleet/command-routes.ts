import type { DeviceTransport } from '../core/adapter.ts';
import type { ResolvedDevice } from '../core/device.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { CommandTransport } from './command-service.ts';

/**
 * Commands out by the transport of the device's adapter: a connector that carries commands for its devices (the
 * ADMS receiver's queue for ZKTeco terminals; an HTTP client for devices the hub calls) is listed by its transport,
 * and every other device is reached through `fallback`, the MQTT broker. The CommandService sees one transport.
 */
export class CommandRoutes implements CommandTransport {
  readonly #fallback: CommandTransport;
  readonly #byTransport: ReadonlyMap<DeviceTransport, CommandTransport>;
  readonly #devices: { get(id: string): ResolvedDevice | undefined };
  readonly #topics: TopicGrammar;

  constructor(options: {
    fallback: CommandTransport;
    byTransport: ReadonlyMap<DeviceTransport, CommandTransport>;
    devices: { get(id: string): ResolvedDevice | undefined };
    topics: TopicGrammar;
  }) {
    this.#fallback = options.fallback;
    this.#byTransport = options.byTransport;
    this.#devices = options.devices;
    this.#topics = options.topics;
  }

  #for(deviceId: string | undefined): CommandTransport {
    const transport = deviceId === undefined ? undefined : this.#devices.get(deviceId)?.adapter.transport;
    return (transport === undefined ? undefined : this.#byTransport.get(transport)) ?? this.#fallback;
  }

  publish(topic: string, payload: string, timeoutMs?: number): Promise<void> {
    return this.#for(this.#topics.parseDeviceTopic(topic)?.deviceId).publish(topic, payload, timeoutMs);
  }

  isConnected(deviceId: string): boolean | Promise<boolean> {
    return this.#for(deviceId).isConnected(deviceId);
  }
}
