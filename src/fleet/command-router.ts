import type { DeviceTransport } from '../core/adapter.ts';
import type { CommandChannel } from '../core/connector.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { CommandTransport } from './command-service.ts';
import type { DeviceRegistry } from './device-registry.ts';

export interface CommandRouterOptions {
  readonly registry: DeviceRegistry;
  readonly topics: TopicGrammar;
  /** The MQTT transport: devices whose transport has no channel of its own. */
  readonly mqtt: CommandTransport;
  /** The connectors that carry commands of their own protocol, by the transport their devices' adapters name. */
  readonly channels: ReadonlyMap<DeviceTransport, CommandChannel>;
}

/**
 * Sends each command the way its device is reached: over the connector of its adapter's transport when that
 * connector carries commands (a Hikvision door open is an ISAPI request), over MQTT otherwise.
 */
export class CommandRouter implements CommandTransport {
  readonly #options: CommandRouterOptions;

  constructor(options: CommandRouterOptions) {
    this.#options = options;
  }

  publish(topic: string, payload: string): Promise<void> {
    const deviceId = this.#options.topics.parseDeviceTopic(topic)?.deviceId;
    return this.#transportOf(deviceId).publish(topic, payload);
  }

  isConnected(deviceId: string): boolean | Promise<boolean> {
    return this.#transportOf(deviceId).isConnected(deviceId);
  }

  #transportOf(deviceId: string | undefined): CommandTransport {
    const transport =
      deviceId === undefined ? undefined : this.#options.registry.get(deviceId)?.adapter.transport;
    return (
      (transport === undefined ? undefined : this.#options.channels.get(transport)) ?? this.#options.mqtt
    );
  }
}
