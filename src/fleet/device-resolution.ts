import type { DeviceAdapter, DeviceTransport } from '../core/adapter.ts';
import type { DeviceDescription, ResolvedDevice } from '../core/device.ts';
import type { GridEntry } from '../core/jurisdiction.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';

/** Devices the hub dials: how each transport's device must say where it is, or the hub could never reach it. */
const dialledBy: Partial<
  Record<DeviceTransport, { readonly field: keyof DeviceDescription; readonly why: string }>
> = {
  'dahua-cgi': {
    field: 'http',
    why: 'its http url, username and password: the hub attaches to its event stream',
  },
};

/**
 * Resolves one device description: its adapter, its grid (by id, or the polygon containing its location), its
 * offline threshold and watchdogs. Used for the config file's devices and for devices provisioned over the API.
 */
export function resolveDevice(
  device: DeviceDescription,
  digest: string,
  jurisdiction: Jurisdiction,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  at: string,
): { device: ResolvedDevice } | { problems: string[] } {
  const problems: string[] = [];
  const adapter = adapters.get(device.adapter);
  if (adapter === undefined) {
    problems.push(
      `${at}.adapter: no adapter "${device.adapter}" (known: ${[...adapters.keys()].join(', ')})`,
    );
  }
  const dialled = adapter?.transport === undefined ? undefined : dialledBy[adapter.transport];
  if (dialled !== undefined && device[dialled.field] === undefined) {
    problems.push(`${at}.${dialled.field}: a ${adapter?.id} device needs ${dialled.why}`);
  }
  let grid: GridEntry | undefined;
  if ((device.grid === undefined) === (device.location === undefined)) {
    problems.push(`${at}: give exactly one of grid and location`);
  } else if (device.grid !== undefined) {
    grid = jurisdiction.grid(device.grid);
    if (grid === undefined) problems.push(`${at}.grid: no grid "${device.grid}"`);
  } else if (device.location !== undefined) {
    const [lon, lat] = device.location;
    grid = jurisdiction.locate(lon, lat);
    if (grid === undefined) problems.push(`${at}.location: [${lon}, ${lat}] lies in no grid`);
  }
  // An alarm panel is known by the account its DC-09 messages name: it has one, and only it has one.
  if (adapter !== undefined && (adapter.transport === 'sia-dc09') !== (device.sia !== undefined)) {
    problems.push(
      device.sia === undefined
        ? `${at}.sia: an alarm panel reporting over SIA DC-09 needs its account`
        : `${at}.sia: only devices of a SIA DC-09 adapter have an account (${adapter.id} is not one)`,
    );
  }
  const gbProblem = adapter === undefined ? undefined : gbIdentityProblem(device, adapter.transport);
  if (gbProblem !== undefined) problems.push(`${at}.gb28181: ${gbProblem}`);
  const overrides = device.watchdogs ?? {};
  for (const raised of Object.keys(overrides)) {
    if (adapter !== undefined && !adapter.watchdogs?.some((watchdog) => watchdog.raises === raised)) {
      problems.push(`${at}.watchdogs.${raised}: the ${adapter.id} adapter has no watchdog raising it`);
    }
  }
  if (adapter === undefined || grid === undefined || problems.length > 0) return { problems };
  const watchdogs = (adapter.watchdogs ?? []).map((watchdog) => ({
    resetBy: watchdog.resetBy,
    raises: watchdog.raises,
    afterMs: (overrides[watchdog.raises] ?? watchdog.defaultSeconds) * 1000,
  }));
  return {
    device: {
      id: device.id,
      name: device.name,
      adapter,
      grid,
      ...(device.location === undefined ? {} : { location: device.location }),
      ...(device.address === undefined ? {} : { address: device.address }),
      secretDigest: digest,
      offlineAfterMs: (device.offlineAfterSeconds ?? adapter.liveness.offlineAfterSeconds) * 1000,
      watchdogs,
      ...(device.onvif === undefined ? {} : { onvif: device.onvif }),
      ...(device.sia === undefined ? {} : { sia: device.sia }),
      ...(device.gb28181 === undefined ? {} : { gb28181: device.gb28181 }),
      ...(device.http === undefined ? {} : { http: device.http }),
      ...(device.serial === undefined ? {} : { serial: device.serial }),
      ...(device.pushFrom === undefined ? {} : { pushFrom: device.pushFrom }),
      ...(device.watches === undefined
        ? {}
        : {
            watches: device.watches.map((deviceId) => ({
              deviceId,
              ...(device.presets?.[deviceId] === undefined ? {} : { preset: device.presets[deviceId] }),
            })),
          }),
    },
  };
}

/**
 * What a device's GB/T 28181 identity must be: a device of a gb28181 adapter registers (its code and password) or is
 * a channel of one (its code and parent, no password); any other device carries at most its code, for the cascade.
 */
function gbIdentityProblem(
  device: DeviceDescription,
  transport: DeviceTransport | undefined,
): string | undefined {
  const gb = device.gb28181;
  if (transport === 'gb28181') {
    if (gb === undefined)
      return 'a GB/T 28181 device needs its national code (id) and password, or its parent';
    if ((gb.password === undefined) === (gb.parent === undefined)) {
      return 'give a password (a device that registers) or a parent (a channel of one), not both';
    }
    return gb.parent === device.id ? 'a channel cannot be its own parent' : undefined;
  }
  if (gb === undefined) return undefined;
  const extra = (['password', 'parent', 'rtsp', 'snapshot', 'guard'] as const).filter(
    (key) => gb[key] !== undefined,
  );
  return extra.length === 0
    ? undefined
    : `${extra.join(', ')}: only for devices of a GB/T 28181 adapter (this one carries its national code alone)`;
}
