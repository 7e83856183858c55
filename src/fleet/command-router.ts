import type { DeviceTransport } from '../core/adapter.ts';
import type { CommandChannel } from '../core/connector.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { CommandTransport } from './command-service.ts';

/**
 * The command service's one transport over several connectors: a command goes out on the channel of the device's
 * transport (a Dahua device's HTTP API, say), and on the broker for every device whose transport has none of its
 * own. The command round trip is the same whichever carries it: the reply comes back as a frame on the device's
 * replies channel.
 */
export class CommandRouter implements CommandTransport {
  readonly #fallback: CommandTransport;
  readonly #channels: Partial<Record<DeviceTransport, CommandChannel>>;
  readonly #topics: TopicGrammar;
  readonly #transportOf: (deviceId: string) => DeviceTransport | undefined;

  constructor(options: {
    /** The broker: devices that connect to the hub. */
    readonly fallback: CommandTransport;
    readonly channels: Partial<Record<DeviceTransport, CommandChannel>>;
    readonly topics: TopicGrammar;
    readonly transportOf: (deviceId: string) => DeviceTransport | undefined;
  }) {
    this.#fallback = options.fallback;
    this.#channels = options.channels;
    this.#topics = options.topics;
    this.#transportOf = options.transportOf;
  }

  #channel(deviceId: string): CommandTransport {
    const transport = this.#transportOf(deviceId);
    return (transport === undefined ? undefined : this.#channels[transport]) ?? this.#fallback;
  }

  publish(topic: string, payload: string): Promise<void> {
    const deviceId = this.#topics.parseDeviceTopic(topic)?.deviceId;
    return (deviceId === undefined ? this.#fallback : this.#channel(deviceId)).publish(topic, payload);
  }

  isConnected(deviceId: string): boolean | Promise<boolean> {
    return this.#channel(deviceId).isConnected(deviceId);
  }
}
