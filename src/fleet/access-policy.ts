import type { TopicGrammar } from '../core/topics.ts';
import type { Logger } from '../observability/logger.ts';
import { LogThrottle } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { DeviceRegistry } from './device-registry.ts';

/** Why the broker refused a client; labels of `gridhub_mqtt_refusals_total`. */
export const mqttRefusalReasons = [
  'unknown_device',
  'bad_credentials',
  'disabled',
  'client_id_mismatch',
  'publish_denied',
  'subscribe_denied',
] as const;
export type MqttRefusalReason = (typeof mqttRefusalReasons)[number];

/** The channels a device may publish on: its own, and only these. */
const publishableChannels: ReadonlySet<string> = new Set(['events', 'heartbeat', 'replies', 'status']);

export interface AccessDecision {
  readonly allowed: boolean;
  readonly reason?: MqttRefusalReason;
}

const allowed: AccessDecision = { allowed: true };

/**
 * Who may do what on the embedded broker. A device connects with client id = username = its id and its own secret;
 * it may publish only under its own topics, on its channels, and subscribe only to its own commands topic.
 * Every refusal is counted by reason and logged (throttled), with the device id and never the secret.
 */
export class DeviceAccessPolicy {
  readonly #registry: DeviceRegistry;
  readonly #topics: TopicGrammar;
  readonly #metrics: HubMetrics;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();

  constructor(registry: DeviceRegistry, topics: TopicGrammar, metrics: HubMetrics, logger: Logger) {
    this.#registry = registry;
    this.#topics = topics;
    this.#metrics = metrics;
    this.#log = logger.child({ ns: 'mqtt-access' });
  }

  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): AccessDecision {
    // [MQTT-3.1.3-8] the server may refuse a client id; here it must be the device's own id, as the username.
    if (username === undefined || username !== clientId) return this.#refuse('client_id_mismatch', clientId);
    const check = this.#registry.checkCredentials(username, password);
    return check === 'ok' ? allowed : this.#refuse(check, clientId);
  }

  mayPublish(clientId: string, topic: string): AccessDecision {
    const address = this.#topics.parseDeviceTopic(topic);
    if (address?.deviceId === clientId && publishableChannels.has(address.channel)) return allowed;
    return this.#refuse('publish_denied', clientId, topic);
  }

  maySubscribe(clientId: string, topic: string): AccessDecision {
    if (topic === this.#topics.deviceTopic(clientId, 'commands')) return allowed;
    return this.#refuse('subscribe_denied', clientId, topic);
  }

  #refuse(reason: MqttRefusalReason, clientId: string, topic?: string): AccessDecision {
    this.#metrics.mqttRefusals.labels(reason).inc();
    const suppressed = this.#throttle.admit(`${clientId}:${reason}`);
    if (suppressed >= 0) this.#log.warn({ clientId, reason, topic, suppressed }, 'mqtt client refused');
    return { allowed: false, reason };
  }
}
