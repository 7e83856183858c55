import type { GbChannel } from './device.ts';

/**
 * The GB/T 28181 devices of a gridhub config file, as the simulator needs them: each registering device (one with
 * `gb28181: { id, password }`) with the configured channels whose `gb28181.parent` names it, and the SIP server the
 * file's `receivers.gb28181` describes. Read loosely from the parsed YAML, as the other simulators' --config are:
 * the simulators import nothing from src/, and the hub validates the file itself.
 */

export interface ConfigGbDevice {
  /** The gridhub device id. */
  readonly deviceId: string;
  /** Its 20-digit national code, the SIP user it registers as. */
  readonly code: string;
  readonly password: string;
  readonly name: string;
  readonly kind: 'ipc' | 'nvr';
  readonly channels: readonly GbChannel[];
}

export interface ConfigGbServer {
  readonly serverId: string;
  readonly domain: string;
  /** The configured port; 0 when the hub picks one (the caller must then be told it). */
  readonly port: number;
}

export interface ConfigGb {
  readonly server: ConfigGbServer | undefined;
  readonly devices: readonly ConfigGbDevice[];
}

const gbId = /^\d{20}$/;
/** Recorders (type 111 DVR, 118 NVR) register with channels; anything else registers as a camera of its own. */
const recorderTypes = new Set(['111', '118']);

interface LooseDevice {
  readonly id?: unknown;
  readonly name?: unknown;
  readonly adapter?: unknown;
  readonly gb28181?: { readonly id?: unknown; readonly password?: unknown; readonly parent?: unknown };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export function gbDevicesOfConfig(config: unknown): ConfigGb {
  const file = (config ?? {}) as { devices?: unknown; receivers?: { gb28181?: Record<string, unknown> } };
  const devices: LooseDevice[] = Array.isArray(file.devices) ? (file.devices as LooseDevice[]) : [];
  const ofAdapter = devices.filter(
    (device) =>
      device.adapter === 'gb28181' && typeof device.id === 'string' && gbId.test(String(device.gb28181?.id)),
  );
  const channelsOf = (parent: string): GbChannel[] =>
    ofAdapter
      .filter((device) => device.gb28181?.parent === parent)
      .map((device) => ({ id: String(device.gb28181?.id), name: text(device.name) ?? String(device.id) }));
  const registering = ofAdapter.flatMap((device): ConfigGbDevice[] => {
    // A password given as {env} or {file} is not read here; such a device is left out.
    const password = text(device.gb28181?.password);
    if (password === undefined || device.gb28181?.parent !== undefined) return [];
    const code = String(device.gb28181?.id);
    const deviceId = String(device.id);
    const kind = recorderTypes.has(code.slice(10, 13)) ? 'nvr' : 'ipc';
    const configured = channelsOf(deviceId);
    const name = text(device.name) ?? deviceId;
    // An IPC no channel names lists itself as its one channel, as most do: its alarms are then its own.
    const channels = kind === 'ipc' && configured.length === 0 ? [{ id: code, name }] : configured;
    return [
      {
        deviceId,
        code,
        password,
        name,
        kind,
        channels,
      },
    ];
  });
  const receiver = file.receivers?.gb28181;
  const serverId = text(receiver?.serverId);
  const server =
    serverId === undefined || !gbId.test(serverId)
      ? undefined
      : {
          serverId,
          domain: text(receiver?.domain) ?? serverId.slice(0, 10),
          port: typeof receiver?.port === 'number' ? receiver.port : 0,
        };
  return { server, devices: registering };
}
