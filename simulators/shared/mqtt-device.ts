import { connect, type IClientOptions, type MqttClient } from 'mqtt';

/**
 * What every simulated MQTT device does the way a real one does, whatever its family:
 *
 * - connects with its own credentials (client id = username = device id, password = its secret);
 * - announces `{"state":"online"}` on `<base>/devices/<id>/status`, retained, and leaves `{"state":"offline"}`
 *   there as its MQTT last will, so the broker says it when the link dies;
 * - sends a heartbeat frame every `heartbeatSeconds` on `.../heartbeat`;
 * - listens on `.../commands` and answers on `.../replies`.
 *
 * Fault knobs, after Node-RED's fake broker: drop the link (the broker publishes the will), go silent (connected
 * but saying nothing), send garbage, reboot (drop, stay away, come back with a fresh counter), mute replies.
 *
 * A family's simulator extends this and writes its own wire format. Simulators never import adapter code.
 */
export interface MqttDeviceOptions {
  /** e.g. mqtt://127.0.0.1:1883 or ws://127.0.0.1:8080/mqtt */
  readonly url: string;
  readonly deviceId: string;
  /** The device's MQTT password. Omit to connect without credentials (the hub refuses that). */
  readonly secret?: string;
  readonly topicBase?: string;
  /** 0 sends no heartbeats. */
  readonly heartbeatSeconds?: number;
  readonly qos?: 0 | 1;
  /** The device's clock; tests pin it. */
  readonly clock?: () => Date;
  /** Delay before reconnecting after the link drops. */
  readonly reconnectMs?: number;
}

export abstract class MqttDevice {
  readonly options: MqttDeviceOptions;
  #client: MqttClient | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #silent = false;
  #repliesMuted = false;
  protected seq = 0;

  constructor(options: MqttDeviceOptions) {
    this.options = options;
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  topic(channel: string): string {
    return `${this.options.topicBase ?? 'gridhub'}/devices/${this.options.deviceId}/${channel}`;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Connects and resolves once the broker accepted the connection; rejects with the broker's refusal. */
  async start(): Promise<void> {
    const { url, deviceId, secret } = this.options;
    const options: IClientOptions = {
      clientId: deviceId,
      clean: true,
      reconnectPeriod: this.options.reconnectMs ?? 500,
      connectTimeout: 5_000,
      ...(secret === undefined ? {} : { username: deviceId, password: secret }),
      will: {
        topic: this.topic('status'),
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    };
    const client = connect(url, options);
    this.#client = client;
    client.on('connect', () => {
      client.publish(this.topic('status'), '{"state":"online"}', { qos: 1, retain: true });
    });
    client.on('message', (topic, payload) => {
      if (topic === this.topic('commands')) this.#onCommand(payload);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        client.off('connect', onConnect);
        client.end(true);
        reject(error);
      };
      const onConnect = (): void => {
        client.off('error', onError);
        resolve();
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
    await client.subscribeAsync(this.topic('commands'), { qos: 1 });
    this.#startHeartbeat();
  }

  /** A clean shutdown: says offline itself, then disconnects (the will is not used). */
  async stop(): Promise<void> {
    this.#stopHeartbeat();
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    if (client.connected) {
      await client.publishAsync(this.topic('status'), '{"state":"offline"}', { qos: 1, retain: true });
      await client.endAsync();
    } else {
      // Not connected: nobody to say goodbye to; drop whatever is still queued.
      await client.endAsync(true);
    }
  }

  /** Sends one heartbeat now. */
  async heartbeat(): Promise<void> {
    await this.publishFrame('heartbeat', {
      seq: this.nextSeq(),
      time: this.now(),
      ...this.heartbeatFields(),
    });
  }

  /** Fault: the link dies without a DISCONNECT, so the broker publishes the will. The client reconnects itself. */
  dropLink(): void {
    this.#client?.stream.destroy();
  }

  /** Fault: stays connected but sends nothing, heartbeats included, until resume(). */
  goSilent(): void {
    this.#silent = true;
  }

  resume(): void {
    this.#silent = false;
  }

  /** Fault: the device stops answering commands (they time out at the hub). */
  muteReplies(muted = true): void {
    this.#repliesMuted = muted;
  }

  /** Fault: arbitrary bytes on any channel. */
  async sendRaw(payload: string | Buffer, channel = 'events'): Promise<void> {
    await this.#connectedClient().publishAsync(this.topic(channel), payload, { qos: this.options.qos ?? 1 });
  }

  /** Fault: power cycle. Drops the link, stays away `downMs`, comes back with its counters reset. */
  async reboot(downMs = 200): Promise<void> {
    const client = this.#connectedClient();
    this.#stopHeartbeat();
    client.options.reconnectPeriod = 0;
    client.stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await client.endAsync(true);
    this.#client = undefined;
    this.seq = 0;
    await this.start();
  }

  protected now(): string {
    return (this.options.clock ?? (() => new Date()))().toISOString();
  }

  protected nextSeq(): number {
    this.seq = (this.seq + 1) % 2 ** 32;
    return this.seq;
  }

  /** Publishes a frame on a channel; silently skipped while the device is silent. */
  protected async publishFrame(channel: string, frame: Record<string, unknown>): Promise<void> {
    if (this.#silent) return;
    await this.#connectedClient().publishAsync(this.topic(channel), JSON.stringify(frame), {
      qos: this.options.qos ?? 1,
    });
  }

  /** Family-specific heartbeat content, after seq and time. */
  protected abstract heartbeatFields(): Record<string, unknown>;

  /** Family-specific command handling: the reply frame to publish, or undefined to stay quiet. */
  protected abstract handleCommand(command: unknown): Record<string, unknown> | undefined;

  #onCommand(payload: Buffer): void {
    if (this.#repliesMuted) return;
    let command: unknown;
    try {
      command = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const reply = this.handleCommand(command);
    if (reply !== undefined) void this.publishFrame('replies', reply).catch(() => undefined);
  }

  #startHeartbeat(): void {
    const seconds = this.options.heartbeatSeconds ?? 0;
    if (seconds <= 0) return;
    this.#heartbeat = setInterval(() => {
      if (this.connected) void this.heartbeat().catch(() => undefined);
    }, seconds * 1000);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #connectedClient(): MqttClient {
    if (this.#client === undefined) throw new Error(`simulator ${this.options.deviceId} is not started`);
    return this.#client;
  }
}
