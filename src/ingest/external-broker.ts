import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { ComponentState } from '../core/component.ts';
import type { CommandChannel, FrameHandler } from '../core/connector.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { Logger } from '../observability/logger.ts';
import type { BrokerMetrics } from './aedes-broker.ts';
import type { MqttHealth, MqttTransport } from './mqtt-transport.ts';

export interface ExternalBrokerOptions {
  /** e.g. mqtt://10.0.0.7:1883 */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** mqtts:// or wss://: PEM file of the CA that signs the broker's certificate, when Node does not trust it already. */
  readonly ca?: string | undefined;
  /** Stable across restarts, different for every instance: the broker keeps this instance's session under it. */
  readonly clientId: string;
  readonly shareGroup: string;
  readonly protocolVersion: 4 | 5;
  readonly sessionExpirySeconds: number;
  readonly topics: TopicGrammar;
  readonly onMessage: FrameHandler;
  /** Whether a device is online, as its heartbeats and status messages say (the hub sees no connections here). */
  readonly isOnline: (deviceId: string) => boolean;
  readonly metrics: Pick<BrokerMetrics, 'storeFailures'>;
  readonly logger: Logger;
  /** First wait before handling a message again after its effects could not be stored (ms). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

/**
 * The hub as a client of an external broker (Mosquitto, EMQX), which authenticates the devices.
 *
 * - Device events come through a shared subscription, `$share/<group>/<base>/devices/+/events`: the broker gives
 *   each event to exactly one instance of the group.
 * - Heartbeats, status (the devices' birth messages and last wills) and command replies come through ordinary
 *   subscriptions, to every instance: each keeps the whole fleet's liveness, and the instance that sent a command
 *   gets its reply. They raise no incidents, so hearing them on every instance duplicates nothing.
 * - A QoS 1 message is acknowledged only once its effects are stored (mqtt.js `customHandleAcks` answers first,
 *   then `handleMessage` runs, and the PUBACK goes out after it calls back). When the store fails, the message is
 *   held and handled again with backoff; the broker keeps it meanwhile. If the instance dies holding it, the
 *   broker still has it in this instance's session, unacknowledged.
 * - The session is persistent (clean start off, a long session expiry) under a stable client id: when the
 *   instance is down, the broker keeps what it had in flight and what it goes on queueing for this instance's share
 *   of the group, and sends it all again when the instance comes back with the same client id
 *   ([MQTT-4.4.0-1]: unacknowledged PUBLISH packets are re-sent when the session resumes).
 */
export class ExternalBrokerClient implements MqttTransport {
  readonly name = 'mqtt';
  readonly kind = 'mqtt external client';
  readonly mode = 'external';
  readonly #options: ExternalBrokerOptions;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #state: ComponentState = 'down';
  #stopping = false;
  /** Settle start() once the first connection is subscribed. */
  #subscribed: (() => void) | undefined;
  #subscribeFailed: ((error: Error) => void) | undefined;
  /** Messages whose handling is under way or waiting to be retried. */
  #holding = 0;

  constructor(options: ExternalBrokerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'mqtt-external' });
  }

  get state(): ComponentState {
    return this.#state;
  }

  get commands(): CommandChannel {
    return this;
  }

  /** The subscriptions: events shared in the group, the rest to every instance. */
  get subscriptions(): readonly string[] {
    const base = `${this.#options.topics.base}/devices/+`;
    return [
      `$share/${this.#options.shareGroup}/${base}/events`,
      `${base}/heartbeat`,
      `${base}/status`,
      `${base}/replies`,
    ];
  }

  /** Resolves once connected and subscribed; rejects when the broker refuses the hub's account. */
  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    this.#state = 'starting';
    this.#stopping = false;
    const { url, username, password, clientId, protocolVersion, sessionExpirySeconds } = this.#options;
    const options: IClientOptions = {
      clientId,
      username,
      password,
      protocolVersion,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: sessionExpirySeconds } } : {}),
      // Soon after a broker restart: until the instances subscribe again, the events devices send are dropped.
      reconnectPeriod: 250,
      connectTimeout: 10_000,
      // Subscribed on every connect instead (below): mqtt.js would skip it when the session is present.
      resubscribe: false,
      customHandleAcks: this.#handle,
      // The broker's certificate is checked (mqtt.js: rejectUnauthorized), against this CA where one is given.
      ...(this.#options.ca === undefined ? {} : { ca: readFileSync(this.#options.ca, 'utf8') }),
    };
    const client = connect(url, options);
    // QoS 0 messages never reach customHandleAcks; mqtt.js hands each to handleMessage, one at a time.
    client.handleMessage = this.#handleUnacknowledged;
    this.#client = client;
    client.on('connect', (connack) => {
      this.#log.info({ clientId, sessionPresent: connack.sessionPresent }, 'connected to the broker');
      this.#subscribe(client).then(
        () => {
          this.#state = 'up';
          this.#subscribed?.();
        },
        (error: unknown) => {
          this.#log.error({ clientId, error: (error as Error).message }, 'subscribing failed');
          this.#subscribeFailed?.(error as Error);
        },
      );
    });
    client.on('close', () => {
      if (this.#state === 'up') this.#log.warn({ clientId }, 'connection to the broker lost; reconnecting');
      if (!this.#stopping) this.#state = 'down';
    });
    client.on('error', (error) => {
      this.#log.warn({ clientId, error: error.message }, 'broker connection error');
    });
    // Start resolves once subscribed, however long the broker takes to answer: an instance is not ready without
    // its devices. Only a refused account (CONNACK 4, 5, 0x86, 0x87), which retrying does not cure, fails it.
    let onRefused: ((error: Error) => void) | undefined;
    await new Promise<void>((resolve, reject) => {
      onRefused = (error: Error): void => {
        const code = (error as Error & { code?: number }).code;
        if (code === undefined || ![4, 5, 134, 135].includes(code)) return;
        reject(new Error(`the broker refused the hub's account: ${error.message}`));
      };
      this.#subscribed = resolve;
      this.#subscribeFailed = reject;
      client.on('error', onRefused);
    })
      .catch(async (error: unknown) => {
        await this.stop();
        throw error;
      })
      .finally(() => {
        if (onRefused !== undefined) client.off('error', onRefused);
        this.#subscribed = undefined;
        this.#subscribeFailed = undefined;
      });
  }

  /**
   * Subscribes on every connect, session present or not: Mosquitto 2.0 keeps a persistent session's ordinary
   * subscriptions over its own restart but not its shared ones (measured on 2.0.11: the session comes back with
   * sessionPresent set and no `$share` subscription). Subscribing again to what exists is harmless;
   * retainHandling 1 sends retained status only for a subscription that is new.
   */
  async #subscribe(client: MqttClient): Promise<void> {
    const subscriptions = Object.fromEntries(
      this.subscriptions.map((topic) => [topic, { qos: 1 as const, rh: 1 }]),
    );
    const granted = await client.subscribeAsync(subscriptions);
    const refused = granted.filter((grant) => grant.qos > 2);
    if (refused.length > 0) {
      throw new Error(
        `the broker refused the subscriptions ${refused.map((grant) => grant.topic).join(', ')}: check the hub account's ACL`,
      );
    }
  }

  publish(topic: string, payload: string): Promise<void> {
    const client = this.#client;
    if (client === undefined) return Promise.reject(new Error('not connected to the broker'));
    return client.publishAsync(topic, payload, { qos: 1 }).then(() => undefined);
  }

  isConnected(deviceId: string): boolean {
    return this.#options.isOnline(deviceId);
  }

  disconnect(deviceId: string): void {
    // The broker holds the connections: a disabled device is refused there (remove it from the password file).
    // A device, or a user of the incident feed whose account was disabled: either's connection is the broker's.
    this.#log.info(
      { clientId: deviceId },
      'client connections are the external broker’s: not disconnected by the hub',
    );
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#stopping = true;
    this.#state = 'down';
    // The session stays on the broker (no session expiry of 0 on the way out): what this instance had not
    // acknowledged, and what is queued for it meanwhile, is delivered when it comes back.
    if (client !== undefined) await client.endAsync(true);
  }

  health(): MqttHealth {
    return {
      state: this.#state,
      mode: this.mode,
      clientId: this.#options.clientId,
      shareGroup: this.#options.shareGroup,
      holding: this.#holding,
    };
  }

  /**
   * mqtt.js asks here how to acknowledge a QoS 1 or 2 message before it emits it. The message's effects are made
   * durable first; only then is it answered (0: acknowledge). A message that is not the hub's is acknowledged.
   */
  readonly #handle = (
    topic: string,
    payload: Buffer,
    _packet: unknown,
    done: (error: Error | number, code?: number) => void,
  ): void => {
    this.#holding++;
    this.#handleUntilStored(topic, payload, performance.now()).then(
      () => {
        this.#holding--;
        done(0);
      },
      (error: unknown) => {
        // Stopping with the message unstored: no acknowledgement, the broker sends it again to this session.
        this.#holding--;
        this.#log.warn({ topic, error: (error as Error).message }, 'message left unacknowledged');
      },
    );
  };

  /**
   * Called by mqtt.js for every message after its acknowledgement is decided; only QoS 0 messages are new here (a
   * device that publishes at QoS 0 accepts that a message the hub fails to store is lost: there is no ack to hold).
   */
  readonly #handleUnacknowledged = (packet: IPublishPacket, callback: (error?: Error) => void): void => {
    if (packet.qos !== 0) {
      callback();
      return;
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const pending = this.#options.onMessage(packet.topic, payload, performance.now());
    if (pending === undefined) {
      callback();
      return;
    }
    pending.then(
      () => callback(),
      (error: unknown) => {
        this.#options.metrics.storeFailures.inc();
        this.#log.error(
          { topic: packet.topic, error: (error as Error).message },
          'QoS 0 message lost: store failed',
        );
        callback();
      },
    );
  };

  async #handleUntilStored(topic: string, payload: Buffer, receivedAt: number): Promise<void> {
    const { retryMinMs = 250, retryMaxMs = 5_000, metrics } = this.#options;
    let waitMs = retryMinMs;
    for (;;) {
      try {
        await this.#options.onMessage(topic, payload, receivedAt);
        return;
      } catch (error) {
        metrics.storeFailures.inc();
        this.#log.error(
          { topic, error: (error as Error).message, retryInMs: waitMs },
          'store write failed; message held unacknowledged',
        );
      }
      if (this.#stopping) throw new Error('stopping');
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (this.#stopping) throw new Error('stopping');
      waitMs = Math.min(waitMs * 2, retryMaxMs);
    }
  }
}
