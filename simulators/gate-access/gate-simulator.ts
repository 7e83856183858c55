import { connect, type IClientOptions, type MqttClient } from 'mqtt';

/**
 * A simulated gate / door access controller speaking MQTT exactly as a real one would: one JSON frame per event
 * on `<base>/devices/<id>/events`, QoS 1, with its own event counter and clock.
 *
 * It never imports the adapter (devices/gate-access): it writes the controller's wire format itself, so the
 * adapter is proven against an independent description of the device, not against its own code.
 */
export interface GateSimulatorOptions {
  /** e.g. mqtt://127.0.0.1:1883 or ws://127.0.0.1:8080/mqtt */
  readonly url: string;
  readonly deviceId: string;
  readonly topicBase?: string;
  readonly username?: string;
  readonly password?: string;
  readonly qos?: 0 | 1;
  /** The controller's clock; tests pin it. */
  readonly clock?: () => Date;
}

export type Direction = 'in' | 'out';
export type CredentialType = 'card' | 'pin' | 'qr' | 'face';
export type DenyReason = 'UNKNOWN_CREDENTIAL' | 'EXPIRED' | 'OUT_OF_SCHEDULE' | 'DISABLED';
export type TamperSource = 'enclosure' | 'reader' | 'wiring';

/** A frame as the controller puts it on the wire. */
export type GateFrame = Record<string, unknown> & { seq: number; time: string; event: string };

export class GateSimulator {
  readonly options: GateSimulatorOptions;
  #client: MqttClient | undefined;
  #seq = 0;

  constructor(options: GateSimulatorOptions) {
    this.options = options;
  }

  get topic(): string {
    return `${this.options.topicBase ?? 'gridhub'}/devices/${this.options.deviceId}/events`;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  async start(): Promise<void> {
    const { url, deviceId, username, password } = this.options;
    const options: IClientOptions = {
      clientId: deviceId,
      clean: true,
      reconnectPeriod: 500,
      connectTimeout: 5_000,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    };
    const client = connect(url, options);
    this.#client = client;
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
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await client.endAsync();
  }

  /** A credential opened a door. */
  grant(
    options: { door?: number; direction?: Direction; type?: CredentialType; card?: string } = {},
  ): Promise<GateFrame> {
    return this.#send({
      event: 'ACCESS_GRANTED',
      door: options.door ?? 1,
      direction: options.direction ?? 'in',
      credential: credential(options.type ?? 'card', options.card ?? '10000001'),
    });
  }

  /** A credential was refused. */
  deny(
    options: {
      door?: number;
      direction?: Direction;
      type?: CredentialType;
      card?: string;
      reason?: DenyReason;
    } = {},
  ): Promise<GateFrame> {
    return this.#send({
      event: 'ACCESS_DENIED',
      door: options.door ?? 1,
      direction: options.direction ?? 'in',
      credential: credential(options.type ?? 'card', options.card ?? '99999999'),
      reason: options.reason ?? 'UNKNOWN_CREDENTIAL',
    });
  }

  /** The door contact opened with no valid credential or exit request. */
  forceDoor(door = 1): Promise<GateFrame> {
    return this.#send({ event: 'DOOR_FORCED_OPEN', door });
  }

  /** The door stayed open past its limit. */
  holdDoor(door = 1, heldSeconds = 120): Promise<GateFrame> {
    return this.#send({ event: 'DOOR_HELD_OPEN', door, heldSeconds });
  }

  /** The controller's enclosure, a reader or its wiring was tampered with. */
  tamper(source: TamperSource = 'enclosure'): Promise<GateFrame> {
    return this.#send({ event: 'TAMPER', source });
  }

  /** Fault knob: publishes arbitrary bytes (garbage, half frames, huge payloads) on any of its channels. */
  async sendRaw(payload: string | Buffer, channel = 'events'): Promise<void> {
    const topic = `${this.options.topicBase ?? 'gridhub'}/devices/${this.options.deviceId}/${channel}`;
    await this.#connectedClient().publishAsync(topic, payload, { qos: this.options.qos ?? 1 });
  }

  async #send(fields: Record<string, unknown>): Promise<GateFrame> {
    const clock = this.options.clock ?? (() => new Date());
    this.#seq = (this.#seq + 1) % 2 ** 32;
    const frame = { seq: this.#seq, time: clock().toISOString(), ...fields } as GateFrame;
    await this.#connectedClient().publishAsync(this.topic, JSON.stringify(frame), {
      qos: this.options.qos ?? 1,
    });
    return frame;
  }

  #connectedClient(): MqttClient {
    if (this.#client === undefined) throw new Error(`simulator ${this.options.deviceId} is not started`);
    return this.#client;
  }
}

function credential(type: CredentialType, number: string): Record<string, string> {
  // PINs, QR codes and faces are checked by the reader; only cards carry a number to the controller.
  return type === 'card' ? { type, number } : { type };
}
