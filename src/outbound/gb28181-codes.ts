import { createHash } from 'node:crypto';

/**
 * National codes (国标编码, GB/T 28181 Appendix D) for gridhub's devices as the superior platform sees them.
 *
 * A code is 20 digits: the 8-digit centre code and 2-digit industry code (together `codePrefix`), a 3-digit type code,
 * then a 7-digit serial whose first digit (the code's 14th) is the network identifier.
 *
 * The rule, so an operator can predict and keep them:
 * 1. A device that carries an explicit code (`gb28181.id`) keeps it, whatever it is.
 * 2. Every other device gets `codePrefix + type + network + six digits`, where type comes from its adapter
 *    (deviceTypeCodes: 131 camera for camera adapters, 134 alarm input for panels, sentry boxes and gates, 134 for an
 *    adapter not listed: every gridhub device raises alarms) and the six digits are the first 8 bytes of
 *    SHA-256("gridhub-gb28181:" + device id) as an unsigned integer, modulo 1 000 000.
 * 3. Collisions: explicit codes are taken first; then the devices without one, in ascending order of their id, each
 *    takes its hashed serial or, when taken, the next one up (wrapping past 999999). A device's code thus only
 *    changes when a collision involves it (about one pair in a million): give such devices an explicit code.
 */

/** GB/T 28181 type codes (digits 11-13) gridhub uses for what it reports. */
export const gbTypeCodes = {
  camera: 131,
  ipc: 132,
  alarmInput: 134,
  alarmOutput: 135,
  platform: 200,
} as const;

/** Type code by adapter id: what kind of device the superior is told each is. Data; an adapter not listed: 134. */
export const deviceTypeCodes: Readonly<Record<string, number>> = {
  'onvif-camera': gbTypeCodes.camera,
  'hikvision-isapi': gbTypeCodes.camera,
  'dahua-cgi': gbTypeCodes.camera,
  gb28181: gbTypeCodes.camera,
  'alarm-panel-cid': gbTypeCodes.alarmInput,
  'sentry-box': gbTypeCodes.alarmInput,
  'gate-access': gbTypeCodes.alarmInput,
  'zkteco-adms': gbTypeCodes.alarmInput,
};

const defaultTypeCode = gbTypeCodes.alarmInput;
const serialSpace = 1_000_000;

export interface CodedDevice {
  readonly id: string;
  readonly adapterId: string;
  /** The device's own national code (`gb28181.id`), when it has one. */
  readonly explicitCode?: string;
}

export interface CodeSettings {
  /** 10 digits: centre code (8) and industry code (2). */
  readonly codePrefix: string;
  /** 0..9: the network identifier, digit 14. */
  readonly networkDigit: number;
}

export function typeCodeOf(adapterId: string): number {
  return deviceTypeCodes[adapterId] ?? defaultTypeCode;
}

/** The serial a device's id hashes to, before collisions: 0..999999. */
export function hashedSerial(deviceId: string): number {
  const digest = createHash('sha256').update(`gridhub-gb28181:${deviceId}`).digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(serialSpace));
}

function generated(settings: CodeSettings, typeCode: number, serial: number): string {
  return `${settings.codePrefix}${String(typeCode).padStart(3, '0')}${settings.networkDigit}${String(serial).padStart(6, '0')}`;
}

/**
 * Every device's national code by device id, by the rule above. Also reserves `reserved` (gridhub's own id), which no
 * generated code takes. Pure: the same devices and settings give the same codes.
 */
export function assignNationalCodes(
  devices: Iterable<CodedDevice>,
  settings: CodeSettings,
  reserved: readonly string[] = [],
): Map<string, string> {
  const codes = new Map<string, string>();
  const taken = new Set<string>(reserved);
  const rest: CodedDevice[] = [];
  for (const device of devices) {
    if (device.explicitCode !== undefined) {
      codes.set(device.id, device.explicitCode);
      taken.add(device.explicitCode);
    } else rest.push(device);
  }
  rest.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const device of rest) {
    const typeCode = typeCodeOf(device.adapterId);
    let serial = hashedSerial(device.id);
    let code = generated(settings, typeCode, serial);
    // Bounded: at most serialSpace codes of one type and prefix exist; more devices than that cannot be coded.
    for (let probes = 0; taken.has(code); probes++) {
      if (probes >= serialSpace) throw new Error(`no free national code left for device ${device.id}`);
      serial = (serial + 1) % serialSpace;
      code = generated(settings, typeCode, serial);
    }
    codes.set(device.id, code);
    taken.add(code);
  }
  return codes;
}
