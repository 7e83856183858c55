/**
 * The MQTT topic grammar, one place for every transport (after zigbee2mqtt's `<base>/<device>`):
 *
 *   <base>/devices/<deviceId>/<channel>
 *
 * A device publishes on its own channels; the hub publishes commands to it. `<base>` defaults to `gridhub`.
 * Device ids are lowercase letters, digits, `-`, `_` and `.`: never a topic separator or wildcard.
 */
export const deviceChannels = ['events', 'heartbeat', 'replies', 'status', 'commands'] as const;
export type DeviceChannel = (typeof deviceChannels)[number];

export const deviceIdPattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface DeviceTopic {
  readonly deviceId: string;
  readonly channel: string;
}

export class TopicGrammar {
  readonly base: string;
  readonly #devicePrefix: string;

  constructor(base: string) {
    this.base = base;
    this.#devicePrefix = `${base}/devices/`;
  }

  deviceTopic(deviceId: string, channel: DeviceChannel): string {
    return `${this.#devicePrefix}${deviceId}/${channel}`;
  }

  /** The subscription that covers every device channel. */
  get allDevices(): string {
    return `${this.#devicePrefix}+/+`;
  }

  /**
   * Parses a device topic, or returns undefined when the topic is not one.
   * Runs on every message: string slicing only, no regular expression, no allocation but the result.
   */
  parseDeviceTopic(topic: string): DeviceTopic | undefined {
    if (!topic.startsWith(this.#devicePrefix)) return undefined;
    const idStart = this.#devicePrefix.length;
    const slash = topic.indexOf('/', idStart);
    if (slash <= idStart || slash === topic.length - 1) return undefined;
    if (topic.indexOf('/', slash + 1) !== -1) return undefined;
    return { deviceId: topic.slice(idStart, slash), channel: topic.slice(slash + 1) };
  }
}
