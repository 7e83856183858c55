import { createHash } from 'node:crypto';
import type { DeviceAdapter } from './adapter.ts';
import type { GridEntry } from './jurisdiction.ts';

/**
 * A device as an operator describes it, in the config file or through the provisioning API, less its MQTT secret.
 * The config schema's device is this, field for field (config/schema.ts checks it at compile time).
 */
export interface DeviceDescription {
  readonly id: string;
  readonly name: string;
  /** Id of the adapter under devices/ that decodes this device. */
  readonly adapter: string;
  /** The grid the device stands in; or its location, not both. */
  readonly grid?: string;
  /** [lon, lat]: the hub places the device in the grid that contains it. */
  readonly location?: [number, number];
  /** Where a worker finds the device (street, building, floor): shown on its incidents' task cards. */
  readonly address?: string;
  readonly offlineAfterSeconds?: number;
  /** ONVIF cameras: where the hub reaches the camera, and its credentials. */
  readonly onvif?: { readonly xaddr: string; readonly username: string; readonly password: string };
  /** Alarm panels reporting over SIA DC-09: the account they report as, and their AES key if they encrypt. */
  readonly sia?: SiaAccount;
  /** Devices whose HTTP API the hub calls (Hikvision ISAPI, Dahua CGI): where, and the hub's login on the device. */
  readonly http?: DeviceHttpAccess;
  /** GB/T 28181: the device's national code, its SIP password, its parent when it is a channel, its media. */
  readonly gb28181?: GbIdentity;
  /** The identity the device gives on its wire (a serial number): how a device pushing to the hub is known. */
  readonly serial?: string;
  /**
   * Devices that push over HTTP with no credential of their own (ZKTeco ADMS): the networks their requests may come
   * from (CIDRs, single addresses, `private`); a request from elsewhere is refused. Absent: any address.
   */
  readonly pushFrom?: readonly string[];
  /** Cameras: the devices this camera looks at. */
  readonly watches?: string[];
  /** PTZ cameras: the preset token to turn to when a watched device alarms, by device id. */
  readonly presets?: Record<string, string>;
  /** Overrides of the adapter's watchdogs (seconds), by the event they raise. */
  readonly watchdogs?: Record<string, number>;
}

/** Where the hub reaches a device's HTTP API, and the account it logs in with there. */
export interface DeviceHttpAccess {
  /** The device's base URL, e.g. http://10.0.0.31 (the protocol's paths are added to it). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

/** A device as the hub runs it: its adapter found, its grid resolved (by id or by location), its timings set. */
export interface ResolvedDevice {
  readonly id: string;
  readonly name: string;
  readonly adapter: DeviceAdapter;
  readonly grid: GridEntry;
  /** Where the device was placed from: its `location` when it had one. */
  readonly location?: readonly [number, number];
  /** Where a worker finds it (see DeviceDescription). */
  readonly address?: string;
  /** SHA-256 (hex) of the device's MQTT password. */
  readonly secretDigest: string;
  readonly offlineAfterMs: number;
  readonly watchdogs: readonly ResolvedWatchdog[];
  /** ONVIF cameras: how to reach the camera. */
  readonly onvif?: { readonly xaddr: string; readonly username: string; readonly password: string };
  /** Devices whose HTTP API the hub calls: how to reach it. */
  readonly http?: DeviceHttpAccess;
  /** GB/T 28181: the device's national code and how it registers (see GbIdentity). */
  readonly gb28181?: GbIdentity;
  /** The identity the device gives on its wire (a serial number). */
  readonly serial?: string;
  /** Devices that push without a credential: the networks they may push from (see DeviceDescription). */
  readonly pushFrom?: readonly string[];
  /** Cameras: the devices they look at, each with the PTZ preset pointing at it, if any. */
  readonly watches?: readonly { readonly deviceId: string; readonly preset?: string }[];
  /** Alarm panels reporting over SIA DC-09: their account and key. */
  readonly sia?: SiaAccount;
}

/**
 * An alarm panel's SIA DC-09 identity: the account (3 to 16 hexadecimal digits) its messages name, and the AES key
 * (128, 192 or 256 bits) of its encrypted messages, when it encrypts: in hexadecimal (the standard's form) or as the
 * text a panel's menu takes (`keyEncoding: text`, its bytes are the key). A panel with a key must encrypt.
 */
export interface SiaAccount {
  readonly account: string;
  readonly key?: string;
  readonly keyEncoding?: 'hex' | 'text';
}

/**
 * A device's GB/T 28181 identity. A device of the gb28181 adapter registers to the hub's SIP server as `id` with
 * `password`; a channel of one (a camera or alarm input of an NVR) names its `parent` and has no password. Any other
 * device may carry `id` alone: its national code towards a superior platform.
 */
export interface GbIdentity {
  readonly id: string;
  readonly password?: string;
  readonly parent?: string;
  /** Live view and clips through the device's RTSP stream. */
  readonly rtsp?: { readonly url: string; readonly username?: string; readonly password?: string };
  /** Whether the device takes GB/T 28181-2022's snapshot command. */
  readonly snapshot?: boolean;
  /** Arm the device (布防) each time it registers: some report alarms only when armed. */
  readonly guard?: boolean;
}

export interface ResolvedWatchdog {
  readonly resetBy: string;
  readonly raises: string;
  readonly afterMs: number;
}

/** An ONVIF camera has no MQTT secret (the hub logs in to it): an empty digest that no password matches. */
export const noMqttSecret = '';

export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
