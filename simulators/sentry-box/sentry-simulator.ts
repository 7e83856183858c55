import { MqttDevice, type MqttDeviceOptions } from '../shared/mqtt-device.ts';
import type { WireFrame } from '../shared/scenario.ts';

/**
 * A simulated sentry box alarm panel (治安岗亭), speaking MQTT as a real one would: one JSON frame per event on
 * `<base>/devices/<id>/events`, its state on `.../heartbeat`, `ARM` / `DISARM` / `SILENCE` on `.../commands`
 * answered on `.../replies`.
 *
 * It keeps the panel's state (armed, mains, battery, siren), reports it in every heartbeat, and changes it the
 * way a panel does: an alarm while armed sounds the siren (a duress alarm is silent), disarming stops it.
 *
 * It never imports the adapter (devices/sentry-box): it writes the panel's wire format itself.
 */
export type SentrySimulatorOptions = MqttDeviceOptions;

export type ArmedBy = 'keypad' | 'remote' | 'schedule';
export type ZoneType = 'door' | 'window' | 'pir' | 'fence' | 'glass';
export type SentryTamperSource = 'enclosure' | 'siren' | 'zone';

/** A frame as the panel puts it on the wire. */
export type SentryFrame = WireFrame;

export interface PanelState {
  readonly armed: boolean;
  readonly mains: boolean;
  readonly batteryPercent: number;
  readonly siren: boolean;
}

export interface SentryReply extends Record<string, unknown> {
  readonly requestId: string;
  readonly status: 'done' | 'refused';
  readonly reason?: string;
}

export class SentrySimulator extends MqttDevice {
  #state = { armed: false, mains: true, batteryPercent: 100, siren: false };

  /** The panel's state, as the next heartbeat will report it. */
  get state(): PanelState {
    return { ...this.#state };
  }

  /** The panic button, or (duress) the duress code: a silent alarm that must not alert whoever forced it. */
  panic(duress = false): Promise<SentryFrame> {
    if (!duress) this.#alarm();
    return this.#send({ event: 'PANIC', duress });
  }

  /** An intrusion zone went into alarm; it sounds the siren while the panel is armed. */
  zoneAlarm(zone = 1, zoneType: ZoneType = 'pir'): Promise<SentryFrame> {
    this.#alarm();
    return this.#send({ event: 'ZONE_ALARM', zone, zoneType });
  }

  /** Arms the panel; `user` is the operator code typed at the keypad. */
  arm(by: ArmedBy = 'keypad', user?: string): Promise<SentryFrame> {
    this.#state.armed = true;
    return this.#send({ event: 'ARMED', by, ...(user === undefined ? {} : { user }) });
  }

  /** Disarms the panel, which also stops the siren. */
  disarm(by: ArmedBy = 'keypad', user?: string): Promise<SentryFrame> {
    this.#state.armed = false;
    this.#state.siren = false;
    return this.#send({ event: 'DISARMED', by, ...(user === undefined ? {} : { user }) });
  }

  tamper(source: SentryTamperSource = 'enclosure'): Promise<SentryFrame> {
    return this.#send({ event: 'TAMPER', source });
  }

  mainsLost(): Promise<SentryFrame> {
    this.#state.mains = false;
    return this.#send({ event: 'MAINS_LOST' });
  }

  mainsRestored(): Promise<SentryFrame> {
    this.#state.mains = true;
    return this.#send({ event: 'MAINS_RESTORED' });
  }

  batteryLow(percent = 15): Promise<SentryFrame> {
    this.#state.batteryPercent = percent;
    return this.#send({ event: 'BATTERY_LOW', percent });
  }

  batteryOk(percent = 95): Promise<SentryFrame> {
    this.#state.batteryPercent = percent;
    return this.#send({ event: 'BATTERY_OK', percent });
  }

  /** The guard's duty check-in, by staff badge id. */
  checkIn(guard = 'G-0107'): Promise<SentryFrame> {
    return this.#send({ event: 'CHECK_IN', guard });
  }

  protected override heartbeatFields(): Record<string, unknown> {
    return { ...this.#state };
  }

  /** `{op: 'ARM' | 'DISARM' | 'SILENCE', requestId}`; anything else with a requestId is refused. */
  protected override handleCommand(command: unknown): SentryReply | undefined {
    if (typeof command !== 'object' || command === null) return undefined;
    const { op, requestId } = command as Record<string, unknown>;
    if (typeof requestId !== 'string') return undefined;
    const handler = typeof op === 'string' ? this.#commands[op] : undefined;
    if (handler === undefined) return { requestId, status: 'refused', reason: 'unknown op' };
    return handler(requestId);
  }

  /**
   * A remote arm or disarm is reported as an event too, as a panel reports every change of its arming state;
   * the event is published before the reply.
   */
  readonly #commands: Record<string, (requestId: string) => SentryReply> = {
    ARM: (requestId) => {
      if (this.#state.armed) return { requestId, status: 'refused', reason: 'already armed' };
      void this.arm('remote').catch(() => undefined);
      return { requestId, status: 'done' };
    },
    DISARM: (requestId) => {
      if (!this.#state.armed) return { requestId, status: 'refused', reason: 'already disarmed' };
      void this.disarm('remote').catch(() => undefined);
      return { requestId, status: 'done' };
    },
    SILENCE: (requestId) => {
      this.#state.siren = false;
      return { requestId, status: 'done' };
    },
  };

  #alarm(): void {
    if (this.#state.armed) this.#state.siren = true;
  }

  async #send(fields: Record<string, unknown>): Promise<SentryFrame> {
    const frame = { seq: this.nextSeq(), time: this.now(), ...fields } as SentryFrame;
    await this.publishFrame('events', frame);
    return frame;
  }
}
