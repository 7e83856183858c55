import { MqttDevice, type MqttDeviceOptions } from '../shared/mqtt-device.ts';
import type { WireFrame } from '../shared/scenario.ts';

/**
 * A simulated gate / door access controller with vehicle lanes, speaking MQTT exactly as a real one would: one
 * JSON frame per event on `<base>/devices/<id>/events`, a state frame on `.../heartbeat`, `UNLOCK` commands on
 * `.../commands` answered on `.../replies`, each with its own event counter and clock.
 *
 * It never imports the adapter (devices/gate-access): it writes the controller's wire format itself, so the
 * adapter is proven against an independent description of the device, not against its own code.
 */
export interface GateSimulatorOptions extends MqttDeviceOptions {
  /** How many doors the controller drives (1–64, default 2); UNLOCK of any other door is refused. */
  readonly doors?: number;
}

export type Direction = 'in' | 'out';
export type CredentialType = 'card' | 'pin' | 'qr' | 'face';
export type BlacklistType = 'card' | 'plate' | 'face';
export type DenyReason = 'UNKNOWN_CREDENTIAL' | 'EXPIRED' | 'OUT_OF_SCHEDULE' | 'DISABLED';
export type TamperSource = 'enclosure' | 'reader' | 'wiring';
export type Barrier = 'opened' | 'held';

/** A frame as the controller puts it on the wire. */
export type GateFrame = WireFrame;

/** One door as the heartbeat reports it. */
export interface DoorState {
  readonly door: number;
  readonly closed: boolean;
  readonly locked: boolean;
}

export interface GateReply extends Record<string, unknown> {
  readonly requestId: string;
  readonly result: 'OK' | 'ERROR';
  readonly message?: string;
}

export class GateSimulator extends MqttDevice {
  declare readonly options: GateSimulatorOptions;
  #doors = closedAndLocked(this.doorCount);
  #relock = new Map<number, NodeJS.Timeout>();
  #bootedAt = this.#clock().getTime();

  /** Narrows the options to the controller's own (its door count). */
  constructor(options: GateSimulatorOptions) {
    super(options);
  }

  get doorCount(): number {
    return this.options.doors ?? 2;
  }

  /** The doors' contacts and locks, as the next heartbeat will report them. */
  doorStates(): DoorState[] {
    return [...this.#doors].map(([door, state]) => ({ door, ...state }));
  }

  /** Boots the controller (every door closed and locked, uptime from now) and connects. */
  override async start(): Promise<void> {
    this.#clearRelocks();
    this.#doors = closedAndLocked(this.doorCount);
    this.#bootedAt = this.#clock().getTime();
    await super.start();
  }

  override async stop(): Promise<void> {
    this.#clearRelocks();
    await super.stop();
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

  /** A credential was used again in the direction it last passed (lent out through the fence, say). */
  antiPassback(
    options: { door?: number; direction?: Direction; type?: CredentialType; card?: string } = {},
  ): Promise<GateFrame> {
    return this.#send({
      event: 'ANTI_PASSBACK',
      door: options.door ?? 1,
      direction: options.direction ?? 'in',
      credential: credential(options.type ?? 'card', options.card ?? '10000001'),
    });
  }

  /** More people passed than the credential let through. */
  tailgate(options: { door?: number; direction?: Direction; followers?: number } = {}): Promise<GateFrame> {
    return this.#send({
      event: 'TAILGATING',
      door: options.door ?? 1,
      direction: options.direction ?? 'in',
      followers: options.followers ?? 1,
    });
  }

  /** A blacklisted card, plate or face was presented. */
  blacklisted(options: { door?: number; type?: BlacklistType; number?: string } = {}): Promise<GateFrame> {
    const type = options.type ?? 'card';
    const number = options.number ?? blacklistDefaults[type];
    return this.#send({
      event: 'BLACKLIST_MATCH',
      door: options.door ?? 1,
      credential: number === undefined ? { type } : { type, number },
    });
  }

  /** A vehicle came in through a lane. */
  vehicleEntry(options: { lane?: number; plate?: string; barrier?: Barrier } = {}): Promise<GateFrame> {
    return this.#send({ event: 'VEHICLE_ENTRY', ...vehicle(options) });
  }

  /** A vehicle went out through a lane. */
  vehicleExit(options: { lane?: number; plate?: string; barrier?: Barrier } = {}): Promise<GateFrame> {
    return this.#send({ event: 'VEHICLE_EXIT', ...vehicle(options) });
  }

  protected override heartbeatFields(): Record<string, unknown> {
    return {
      uptimeSeconds: Math.max(0, Math.floor((this.#clock().getTime() - this.#bootedAt) / 1000)),
      doors: this.doorStates(),
    };
  }

  /** `{cmd: 'UNLOCK', requestId, door, seconds}`; anything else with a requestId gets an ERROR. */
  protected override handleCommand(command: unknown): GateReply | undefined {
    if (typeof command !== 'object' || command === null) return undefined;
    const { cmd, requestId } = command as Record<string, unknown>;
    if (typeof requestId !== 'string') return undefined;
    const handler = typeof cmd === 'string' ? this.#commands[cmd] : undefined;
    if (handler === undefined) return { requestId, result: 'ERROR', message: 'unknown command' };
    return handler(command as Record<string, unknown>, requestId);
  }

  readonly #commands: Record<string, (command: Record<string, unknown>, requestId: string) => GateReply> = {
    UNLOCK: ({ door, seconds = 5 }, requestId) => {
      if (typeof door !== 'number' || !this.#doors.has(door)) {
        return { requestId, result: 'ERROR', message: 'no such door' };
      }
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 60) {
        return { requestId, result: 'ERROR', message: 'seconds must be 1-60' };
      }
      this.#unlock(door, seconds);
      return { requestId, result: 'OK' };
    },
  };

  #unlock(door: number, seconds: number): void {
    const state = this.#doors.get(door);
    if (state === undefined) return;
    clearTimeout(this.#relock.get(door));
    state.locked = false;
    const timer = setTimeout(() => {
      state.locked = true;
      this.#relock.delete(door);
    }, seconds * 1000);
    timer.unref();
    this.#relock.set(door, timer);
  }

  #clearRelocks(): void {
    for (const timer of this.#relock.values()) clearTimeout(timer);
    this.#relock.clear();
  }

  #clock(): Date {
    return (this.options.clock ?? (() => new Date()))();
  }

  async #send(fields: Record<string, unknown>): Promise<GateFrame> {
    const frame = { seq: this.nextSeq(), time: this.now(), ...fields } as GateFrame;
    await this.publishFrame('events', frame);
    return frame;
  }
}

function closedAndLocked(doors: number): Map<number, { closed: boolean; locked: boolean }> {
  return new Map(Array.from({ length: doors }, (_, index) => [index + 1, { closed: true, locked: true }]));
}

function credential(type: CredentialType, number: string): Record<string, string> {
  // PINs, QR codes and faces are checked by the reader; only cards carry a number to the controller.
  return type === 'card' ? { type, number } : { type };
}

/** What the blacklist matched: a card number, a plate, or (faces) nothing unless given a library id. */
const blacklistDefaults: Record<BlacklistType, string | undefined> = {
  card: '66666666',
  plate: '京A66666',
  face: undefined,
};

function vehicle(options: { lane?: number; plate?: string; barrier?: Barrier }): Record<string, unknown> {
  return {
    lane: options.lane ?? 1,
    plate: options.plate ?? '京A12345',
    barrier: options.barrier ?? 'opened',
  };
}
