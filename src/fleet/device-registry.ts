import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceAdapter } from '../core/adapter.ts';
import { type DeviceDescription, type ResolvedDevice, secretDigest } from '../core/device.ts';
import { refused } from '../core/errors.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { DeviceRecord, Store } from '../store/store.ts';
import { resolveDevice } from './device-resolution.ts';

/** A device as the fleet knows it at run time. */
export interface RegisteredDevice extends ResolvedDevice {
  readonly disabled: boolean;
  /** ISO 8601 end of the device's maintenance, or null; a past time means it is no longer in maintenance. */
  readonly maintenanceUntil: string | null;
  /** `config` for devices of the configuration file, `api` for devices provisioned at run time. */
  readonly source: 'config' | 'api';
}

/** Why a device's MQTT connection is refused; labels of `gridhub_mqtt_refusals_total`. */
export type CredentialCheck = 'ok' | 'unknown_device' | 'bad_credentials' | 'disabled';

export interface DeviceRegistryOptions {
  readonly configDevices: readonly ResolvedDevice[];
  readonly jurisdiction: Jurisdiction;
  readonly adapters: ReadonlyMap<string, DeviceAdapter>;
  readonly store: Store;
}

/**
 * The ids users hold (the accounts). A device may not take one: users read the MQTT feed with their id as client id
 * and username, and a device of the same id would lock them out (ids are unique across devices and users).
 */
export interface UserIds {
  has(id: string): boolean;
}

/** 24 random bytes, base64url: 32 characters a device keeps as its MQTT password. Only its digest is stored. */
function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Every device the hub accepts: those of the config file, and those provisioned over the API or the command line.
 * Config devices take their description from the file on every start; what changes at run time (credentials,
 * disabled, provisioned devices) lives in the store, so it survives restarts.
 */
export class DeviceRegistry {
  readonly #options: DeviceRegistryOptions;
  readonly #devices = new Map<string, RegisteredDevice>();
  readonly #skipped: string[] = [];
  /** Devices by the serial number they give on their wire; rebuilt after a change, read by push receivers. */
  #bySerial: Map<string, RegisteredDevice> | undefined;
  /** Devices by their GB/T 28181 national code; rebuilt after a change, read by the SIP server. */
  #byNationalCode: Map<string, RegisteredDevice> | undefined;
  #userIds: UserIds | undefined;

  constructor(options: DeviceRegistryOptions) {
    this.#options = options;
  }

  /**
   * The accounts, which are built with this registry (an account may not take a device's id either): attached once
   * both exist, before `start`.
   */
  attach(userIds: UserIds): void {
    this.#userIds = userIds;
  }

  #users(): UserIds {
    if (this.#userIds === undefined)
      throw new Error('device registry used before the accounts were attached');
    return this.#userIds;
  }

  async start(): Promise<void> {
    this.#users(); // a hub that never attached its accounts fails here, not at the first provisioning
    this.#devices.clear();
    this.#bySerial = undefined;
    this.#byNationalCode = undefined;
    for (const device of this.#options.configDevices) {
      this.#devices.set(device.id, { ...device, disabled: false, maintenanceUntil: null, source: 'config' });
    }
    for (const record of await this.#options.store.listDeviceRecords()) {
      // A record of a config device since removed from the file, or of a provisioned device whose grid is gone,
      // no longer describes a device: it is skipped, not fatal. So is a provisioned device whose id a user of the
      // config has since taken: the user's MQTT feed goes first.
      if (this.#users().has(record.id) && !this.#devices.has(record.id)) {
        this.#skipped.push(record.id);
      } else if (record.description !== null || this.#devices.has(record.id)) {
        try {
          this.#apply(record);
        } catch {
          this.#skipped.push(record.id);
        }
      } else {
        this.#skipped.push(record.id);
      }
    }
  }

  /** Ids of stored device records that no longer resolve to a device (shown to operators by the hub's log). */
  get skipped(): readonly string[] {
    return this.#skipped;
  }

  /** The hot-path lookup: a Map read. */
  get(id: string): RegisteredDevice | undefined {
    return this.#devices.get(id);
  }

  /**
   * The device that gives this serial number on its wire (a Hikvision or ZKTeco device pushing to the hub), if one
   * is provisioned with it. A Map read once built.
   */
  bySerial(serial: string): RegisteredDevice | undefined {
    if (this.#bySerial === undefined) {
      this.#bySerial = new Map();
      for (const device of this.#devices.values()) {
        if (device.serial !== undefined) this.#bySerial.set(device.serial, device);
      }
    }
    return this.#bySerial.get(serial);
  }

  /**
   * The device with this GB/T 28181 national code (a device registering to the SIP server, a channel of one, or any
   * device with its code for the cascade), if one is provisioned with it. A Map read once built.
   */
  byNationalCode(code: string): RegisteredDevice | undefined {
    if (this.#byNationalCode === undefined) {
      this.#byNationalCode = new Map();
      for (const device of this.#devices.values()) {
        if (device.gb28181 !== undefined) this.#byNationalCode.set(device.gb28181.id, device);
      }
    }
    return this.#byNationalCode.get(code);
  }

  /** True while the device is in maintenance: its events raise no incident. On the ingest path: a Map read. */
  inMaintenance(id: string, now: number = Date.now()): boolean {
    const until = this.#devices.get(id)?.maintenanceUntil;
    return until != null && Date.parse(until) > now;
  }

  /** The device family of this id, if the hub has it. */
  adapter(adapterId: string): DeviceAdapter | undefined {
    return this.#options.adapters.get(adapterId);
  }

  get all(): IterableIterator<RegisteredDevice> {
    return this.#devices.values();
  }

  get size(): number {
    return this.#devices.size;
  }

  /** Checks an MQTT CONNECT's password against the device's stored digest, in constant time. */
  checkCredentials(id: string, password: Buffer | undefined): CredentialCheck {
    const device = this.#devices.get(id);
    if (device === undefined) return 'unknown_device';
    if (password === undefined) return 'bad_credentials';
    const presented = Buffer.from(secretDigest(password.toString('utf8')), 'hex');
    const expected = Buffer.from(device.secretDigest, 'hex');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected))
      return 'bad_credentials';
    return device.disabled ? 'disabled' : 'ok';
  }

  /**
   * Adds a device; returns it with its new secret, which is shown once and never stored. `veto` sees the resolved
   * device before anything is kept and may refuse it with a reason (a grid outside the caller's scope).
   */
  async provision(
    description: DeviceDescription,
    veto: (device: ResolvedDevice) => string | undefined = () => undefined,
  ): Promise<{ device: RegisteredDevice; secret: string }> {
    if (this.#devices.has(description.id)) {
      throw refused('conflict', `device ${description.id} already exists`);
    }
    if (this.#users().has(description.id)) {
      throw refused('conflict', `${description.id} is a user's id: ids are unique across devices and users`);
    }
    // An alarm panel is found by its SIA account: two panels on one account would hear each other's alarms.
    const account = description.sia?.account;
    if (
      account !== undefined &&
      [...this.#devices.values()].some((device) => device.sia?.account === account)
    ) {
      throw refused('conflict', 'another panel already reports with this SIA account');
    }
    if (description.serial !== undefined && this.bySerial(description.serial) !== undefined) {
      throw refused('conflict', `another device gives serial ${description.serial}: serials are unique`);
    }
    const gb = description.gb28181;
    if (gb !== undefined && this.byNationalCode(gb.id) !== undefined) {
      throw refused('conflict', `another device has national code ${gb.id}: national codes are unique`);
    }
    if (gb?.parent !== undefined) {
      const parent = this.#devices.get(gb.parent);
      if (parent?.adapter.transport !== 'gb28181' || parent.gb28181?.password === undefined) {
        throw refused(
          'invalid',
          `gb28181.parent: "${gb.parent}" is no GB/T 28181 device that registers to the hub`,
        );
      }
    }
    const secret = newSecret();
    const { jurisdiction, adapters } = this.#options;
    const resolved = resolveDevice(description, secretDigest(secret), jurisdiction, adapters, 'device');
    if ('problems' in resolved) throw refused('invalid', 'invalid device', resolved.problems);
    const refusal = veto(resolved.device);
    if (refusal !== undefined) throw refused('forbidden', refusal);
    const record: DeviceRecord = {
      id: description.id,
      description,
      secretDigest: resolved.device.secretDigest,
      disabled: false,
      maintenanceUntil: null,
      updatedAt: new Date().toISOString(),
    };
    await this.#options.store.saveDeviceRecord(record);
    return { device: this.#apply(record), secret };
  }

  /** Gives the device a new secret; the old one stops working at once. */
  async rotate(id: string): Promise<{ device: RegisteredDevice; secret: string }> {
    const secret = newSecret();
    const device = await this.#update(id, { secretDigest: secretDigest(secret) });
    return { device, secret };
  }

  async setDisabled(id: string, disabled: boolean): Promise<RegisteredDevice> {
    return this.#update(id, { disabled });
  }

  /** Puts the device in maintenance until then (ISO 8601), or ends its maintenance (null). */
  async setMaintenance(id: string, until: string | null): Promise<RegisteredDevice> {
    return this.#update(id, { maintenanceUntil: until });
  }

  async #update(
    id: string,
    change: Partial<Pick<DeviceRecord, 'secretDigest' | 'disabled' | 'maintenanceUntil'>>,
  ): Promise<RegisteredDevice> {
    const device = this.#devices.get(id);
    if (device === undefined) throw refused('not_found', `no device ${id}`);
    const record: DeviceRecord = {
      id,
      description: device.source === 'api' ? describe(device) : null,
      secretDigest: change.secretDigest ?? device.secretDigest,
      disabled: change.disabled ?? device.disabled,
      maintenanceUntil:
        change.maintenanceUntil === undefined ? device.maintenanceUntil : change.maintenanceUntil,
      updatedAt: new Date().toISOString(),
    };
    await this.#options.store.saveDeviceRecord(record);
    return this.#apply(record);
  }

  /** Lays a stored record over the registry. A provisioned device whose grid no longer exists is skipped. */
  #apply(record: DeviceRecord): RegisteredDevice {
    const existing = this.#devices.get(record.id);
    let base: ResolvedDevice | undefined = existing;
    let source: RegisteredDevice['source'] = existing?.source ?? 'api';
    if (record.description !== null) {
      const { jurisdiction, adapters } = this.#options;
      const resolved = resolveDevice(
        record.description,
        record.secretDigest,
        jurisdiction,
        adapters,
        record.id,
      );
      if ('device' in resolved) {
        base = resolved.device;
        source = 'api';
      }
    }
    if (base === undefined) throw refused('not_found', `device ${record.id} cannot be resolved`);
    const device: RegisteredDevice = {
      ...base,
      secretDigest: record.secretDigest,
      disabled: record.disabled,
      // Records written before maintenance mode existed have no such field.
      maintenanceUntil: record.maintenanceUntil ?? null,
      source,
    };
    this.#devices.set(device.id, device);
    this.#bySerial = undefined;
    this.#byNationalCode = undefined;
    return device;
  }
}

/** The description a provisioned device was created from, to store it again with a changed credential. */
function describe(device: RegisteredDevice): DeviceDescription {
  return {
    id: device.id,
    name: device.name,
    adapter: device.adapter.id,
    ...(device.location === undefined
      ? { grid: device.grid.ref.id }
      : { location: [...device.location] as [number, number] }),
    ...(device.address === undefined ? {} : { address: device.address }),
    offlineAfterSeconds: device.offlineAfterMs / 1000,
    watchdogs: Object.fromEntries(
      device.watchdogs.map((watchdog) => [watchdog.raises, watchdog.afterMs / 1000]),
    ),
    // A camera keeps how it is reached and what it watches through a rotation, a disable or a maintenance.
    ...(device.onvif === undefined ? {} : { onvif: { ...device.onvif } }),
    ...(device.sia === undefined ? {} : { sia: { ...device.sia } }),
    ...(device.gb28181 === undefined ? {} : { gb28181: { ...device.gb28181 } }),
    ...(device.http === undefined ? {} : { http: { ...device.http } }),
    ...(device.serial === undefined ? {} : { serial: device.serial }),
    ...(device.pushFrom === undefined ? {} : { pushFrom: [...device.pushFrom] }),
    ...(device.watches === undefined
      ? {}
      : {
          watches: device.watches.map((watch) => watch.deviceId),
          presets: Object.fromEntries(
            device.watches.flatMap((watch) =>
              watch.preset === undefined ? [] : [[watch.deviceId, watch.preset]],
            ),
          ),
        }),
  };
}
