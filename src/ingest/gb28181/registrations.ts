import type { SipPeer } from '../../net/sip/sip-endpoint.ts';

/** A GB/T 28181 device registered to the hub's SIP server: where it is reached, and until when. */
export interface Registration {
  /** The gridhub device that registered. */
  readonly deviceId: string;
  /** Its national code: the user part of its From, To and Contact. */
  readonly code: string;
  /** Where its REGISTER came from: the hub's requests go back there (over its own connection, for TCP). */
  readonly peer: SipPeer;
  /** The Contact URI it gave, the Request-URI of the hub's requests to it. */
  readonly contact: string;
  /** The edition the device speaks: 2022 when its REGISTER says X-GB-Ver 3.x, else 2016. */
  readonly edition: '2016' | '2022';
  readonly registeredAt: number;
  expiresAt: number;
  /** The CSeq of the hub's next request in this registration's dialogs. */
  cseq: number;
}

/** What happened to a registration: the server turns each into the device's status frame and its follow-ups. */
export type RegistrationChange = 'registered' | 'refreshed' | 'unregistered' | 'expired' | 'replaced';

/**
 * The devices registered now, by gridhub device id, and their expiry. A registration past its expiry is dropped by
 * `sweep`, which the server calls every few seconds; a device that registers again from another address replaces
 * its registration (an NVR that rebooted onto a new address, or moved from UDP to TCP).
 */
export class Registrations {
  readonly #byDevice = new Map<string, Registration>();

  get size(): number {
    return this.#byDevice.size;
  }

  get(deviceId: string): Registration | undefined {
    return this.#byDevice.get(deviceId);
  }

  values(): IterableIterator<Registration> {
    return this.#byDevice.values();
  }

  /**
   * Records a registration for `expiresMs`. `refreshed` when the device was registered from the same peer (the hub
   * keeps its dialog state), `replaced` from another, `registered` when it was not.
   */
  register(
    entry: Omit<Registration, 'registeredAt' | 'expiresAt' | 'cseq'>,
    now: number,
    expiresMs: number,
  ): { registration: Registration; change: RegistrationChange } {
    const existing = this.#byDevice.get(entry.deviceId);
    if (
      existing !== undefined &&
      samePeer(existing.peer, entry.peer) &&
      existing.code === entry.code &&
      existing.edition === entry.edition
    ) {
      existing.expiresAt = now + expiresMs;
      return { registration: existing, change: 'refreshed' };
    }
    const registration: Registration = {
      ...entry,
      registeredAt: now,
      expiresAt: now + expiresMs,
      cseq: 1,
    };
    this.#byDevice.set(entry.deviceId, registration);
    return { registration, change: existing === undefined ? 'registered' : 'replaced' };
  }

  /** Ends a registration (the device sent Expires: 0, or it was disabled); false when it had none. */
  remove(deviceId: string): boolean {
    return this.#byDevice.delete(deviceId);
  }

  /** Drops the registrations past their expiry and returns them. */
  sweep(now: number): Registration[] {
    const expired: Registration[] = [];
    for (const registration of this.#byDevice.values()) {
      if (registration.expiresAt <= now) expired.push(registration);
    }
    for (const registration of expired) this.#byDevice.delete(registration.deviceId);
    return expired;
  }

  clear(): void {
    this.#byDevice.clear();
  }
}

export function samePeer(one: SipPeer, other: SipPeer): boolean {
  return one.transport === other.transport && one.address === other.address && one.port === other.port;
}
