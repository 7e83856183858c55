import { HikvisionSimulator } from './hikvision-device.ts';

/**
 * The demo's Hikvision devices: one simulated device for every `hikvision-isapi` device of the config that has an
 * `http.url` on this machine, listening where that URL says. A device with a `secret` is an access controller
 * that also pushes its alarms to the hub's device HTTP listener (its HTTP listening host, told once the hub has
 * bound it); one without is a camera. Read loosely: only the fields the simulators need.
 */

interface ConfigDevice {
  readonly id: string;
  readonly adapter: string;
  readonly secret?: string;
  readonly serial?: string;
  readonly http?: { readonly url: string; readonly username: string; readonly password: string };
}

export interface DemoHikvision {
  readonly id: string;
  readonly sim: HikvisionSimulator;
}

export async function startDemoHikvision(devices: readonly unknown[]): Promise<DemoHikvision[]> {
  const ours = devices
    .map((device) => (device ?? {}) as ConfigDevice)
    .filter((device) => device.adapter === 'hikvision-isapi' && device.http !== undefined);
  return Promise.all(
    ours.map(async (device) => {
      const url = new URL(device.http?.url as string);
      const mac = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/i.test(device.serial ?? '')
        ? (device.serial as string).replace(/-/g, ':')
        : undefined;
      const sim = new HikvisionSimulator({
        kind: device.secret === undefined ? 'camera' : 'access',
        host: url.hostname,
        port: Number(url.port || 80),
        username: device.http?.username as string,
        password: device.http?.password as string,
        name: device.id,
        ...(mac === undefined ? {} : { mac }),
      });
      await sim.start();
      return { id: device.id, sim };
    }),
  );
}

/** Tells the access controllers where the hub listens, as setting their httpHosts would. */
export function pointAtHub(demo: readonly DemoHikvision[], devices: readonly unknown[], port: number): void {
  for (const { id, sim } of demo) {
    const device = devices.find((candidate) => (candidate as ConfigDevice).id === id) as
      | ConfigDevice
      | undefined;
    if (sim.options.kind !== 'access' || device?.secret === undefined || port === 0) continue;
    sim.listeningHost = {
      url: `http://127.0.0.1:${port}/hikvision/alarm`,
      username: id,
      password: device.secret,
      format: 'json',
    };
  }
}

/** One plausible event from one of the demo's Hikvision devices. */
export function demoHikvisionEvent(demo: readonly DemoHikvision[]): Promise<void> {
  const device = demo[Math.floor(Math.random() * demo.length)];
  if (device === undefined) return Promise.resolve();
  const roll = Math.random();
  const { sim } = device;
  if (sim.options.kind === 'camera') {
    return roll < 0.4 ? sim.motion() : roll < 0.8 ? sim.lineCross() : sim.intrusion();
  }
  const card = String(3_300_000_000 + Math.floor(Math.random() * 99_999_999));
  return roll < 0.6
    ? sim.cardSwipe({ card, granted: roll < 0.5 })
    : roll < 0.8
      ? sim.holdDoor()
      : roll < 0.95
        ? sim.forceDoor()
        : sim.duress();
}
