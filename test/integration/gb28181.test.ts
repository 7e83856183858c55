import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GbDevice, type GbDeviceOptions } from '../../simulators/gb28181/device.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * GB/T 28181 through a real hub: simulated NVRs and cameras (simulators/gb28181, their own SIP stack) register to the
 * hub's SIP server over UDP and TCP with digest, keep alive, answer the hub's DeviceInfo and Catalog queries (the
 * catalog's channels become cameras in the grids their positions lie in), raise alarms that open incidents on the
 * channel's camera and are acknowledged per the standard, and take the adapter's commands. Wrong passwords, broken
 * XML, unregistered senders and registration floods are refused, counted and dead-lettered.
 */

const serverId = '34020000002000000001';
const domain = '3402000000';
const nvr = { id: 'nvr-xijiao-01', code: '34020000001180000001', password: 'nvr-xijiao-01-secret' };
const ipc = { id: 'ipc-luming-01', code: '34020000001320000009', password: 'ipc-luming-01-secret' };
/** The NVR's first channel is configured with a grid of its own; the others are adopted from the catalog. */
const gateCamera = { id: 'cam-xijiao-gate', code: '34020000001310000001' };
/** Inside grid-xijiao-03's polygon (config/demo.yaml). */
const inXijiao03 = { longitude: 116.3133, latitude: 39.932 };

type GbSettings = NonNullable<ConfigFile['receivers']['gb28181']>;

function configWith(settings: Partial<GbSettings> = {}): ConfigFile {
  const config = demoConfig();
  config.receivers = {
    ...config.receivers,
    http: { port: 0 } as NonNullable<ConfigFile['receivers']['http']>,
    gb28181: { port: 0, serverId, domain, queryTimeoutSeconds: 5, ...settings } as GbSettings,
  };
  config.devices = [
    ...config.devices,
    {
      id: nvr.id,
      name: '西郊NVR',
      adapter: 'gb28181',
      grid: 'grid-xijiao-01',
      gb28181: { id: nvr.code, password: nvr.password, guard: true },
    },
    {
      id: gateCamera.id,
      name: '西郊东门摄像机',
      adapter: 'gb28181',
      grid: 'grid-xijiao-02',
      gb28181: { id: gateCamera.code, parent: nvr.id },
    },
    {
      id: ipc.id,
      name: '鹿鸣枪机',
      adapter: 'gb28181',
      grid: 'grid-luming-01',
      gb28181: { id: ipc.code, password: ipc.password, snapshot: true },
    },
  ] as ConfigFile['devices'];
  for (const device of config.devices) device.offlineAfterSeconds = 86_400;
  return config;
}

describe('GB/T 28181: devices register to the hub, report and are commanded', () => {
  let hub: TestHub;
  const events: DeviceEvent[] = [];
  const created: Incident[] = [];
  const sims: GbDevice[] = [];

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(configWith()) });
    hub.hub.bus.on('device:event', (event) => {
      events.push(event);
    });
    hub.hub.bus.on('incident:created', (incident) => {
      created.push(incident);
    });
  });

  afterAll(async () => {
    await Promise.all(sims.map((sim) => sim.stop().catch(() => undefined)));
    await hub?.stop();
  });

  function device(options: Partial<GbDeviceOptions> & Pick<GbDeviceOptions, 'id' | 'password'>): GbDevice {
    const sim = new GbDevice({
      server: { id: serverId, domain, host: '127.0.0.1', port: hub.hub.gb28181Port, transport: 'udp' },
      keepaliveSeconds: 0,
      timeoutMs: 4000,
      ...options,
    });
    sims.push(sim);
    return sim;
  }

  const deviceStatus = async (id: string) =>
    (await getJson(`${hub.httpUrl}/api/devices/${id}`, 'demo-admin')).body as {
      name: string;
      gridId: string;
      nationalCode?: string;
      parentId?: string;
      status: { online: boolean };
    };

  async function deadLetters(): Promise<DeadLetter[]> {
    const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=200`, 'demo-admin');
    return (body as { deadLetters: DeadLetter[] }).deadLetters;
  }

  const refused = (reason: string) =>
    metricValue(hub.httpUrl, `gridhub_messages_refused_total{reason="${reason}"}`);

  it('an NVR registers over UDP with digest; its catalog becomes cameras in their grids', async () => {
    const sim = device({
      id: nvr.code,
      password: nvr.password,
      kind: 'nvr',
      channels: [
        { id: gateCamera.code, name: '东门' },
        { id: '34020000001310000002', name: '停车场入口', ...inXijiao03 },
        { id: '34020000001310000003', name: '北门岗亭', status: 'OFF' },
      ],
      alarmInputs: [{ id: '34020000001340000001', name: '周界报警输入' }],
    });
    await sim.start();
    // The first REGISTER was challenged (401), the second carried the digest and was taken.
    expect(sim.challenges).toHaveLength(1);
    expect(sim.challenges[0]?.header).toMatch(/^Digest .*realm="3402000000"/);
    expect(sim.registrations.at(-1)?.status).toBe(200);
    await eventually(async () => (await deviceStatus(nvr.id)).status.online);
    // The hub asks for the device's info and its catalog (paged by the device, two items a message).
    await eventually(() => sim.received.some((query) => query.cmdType === 'Catalog'));
    expect(sim.received.map((query) => query.cmdType)).toEqual(
      expect.arrayContaining(['DeviceInfo', 'DeviceStatus', 'Catalog']),
    );
    // The NVR is configured to be armed at each registration (布防): DeviceControl SetGuard.
    await eventually(() => sim.guard === 'SetGuard');
    // Every frame the hub made of the device's answers (its status, its catalog) was one the adapter takes.
    expect(await refused('schema')).toBe(0);
    // The configured channel keeps its own id and grid; the others are adopted: by position, else the NVR's grid.
    await eventually(
      async () =>
        (await getJson(`${hub.httpUrl}/api/devices/gb-34020000001340000001`, 'demo-admin')).status === 200,
    );
    const parking = await deviceStatus('gb-34020000001310000002');
    expect(parking.name).toBe('停车场入口');
    expect(parking).toMatchObject({
      gridId: 'grid-xijiao-03',
      nationalCode: '34020000001310000002',
      parentId: nvr.id,
    });
    const north = await deviceStatus('gb-34020000001310000003');
    expect(north.gridId).toBe('grid-xijiao-01');
    expect((await getJson(`${hub.httpUrl}/api/devices/gb-${gateCamera.code}`, 'demo-admin')).status).toBe(
      404,
    );
    expect(await metricValue(hub.httpUrl, 'gridhub_gb28181_registered_devices')).toBeGreaterThanOrEqual(1);
  });

  it("a channel's alarm opens an incident on its camera, in its grid, and the hub acknowledges it per the standard", async () => {
    const sim = sims[0] as GbDevice;
    const before = created.length;
    const sent = await sim.alarm({
      deviceId: gateCamera.code,
      priority: 1,
      method: 2,
      type: 1,
      description: '视频丢失',
    });
    expect(sent.status).toBe(200);
    // The standard's acknowledgement: a Response Alarm with Result OK, after the 200.
    const ack = await sim.ackFor(sent.sn);
    expect(ack.result).toBe('OK');
    await eventually(() => created.length > before);
    const incident = created.at(-1) as Incident;
    expect(incident).toMatchObject({
      device: { id: gateCamera.id, adapter: 'gb28181' },
      event: { type: 'camera.video_lost', attributes: { source: gateCamera.code, priority: 1, method: 2 } },
      gridId: 'grid-xijiao-02',
    });
    // The device set its clock from the hub's Date on registering: its AlarmTime, in the hub's zone, is now.
    expect(Math.abs(Date.parse(incident.event.occurredAt) - Date.now())).toBeLessThan(60_000);
    expect((await hub.testHandle.store.getIncident(incident.id))?.state).toBeDefined();
  });

  it('keepalives keep the device and its channels online and raise nothing', async () => {
    const sim = sims[0] as GbDevice;
    const count = events.length;
    expect(await sim.keepalive()).toBe(200);
    expect(events.length).toBe(count);
    expect((await deviceStatus(nvr.id)).status.online).toBe(true);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_gb28181_messages_total{cmd="Keepalive"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it("the adapter's commands go out as DeviceControl and come back as the device's Result", async () => {
    const sim = sims[0] as GbDevice;
    const answer = await postJson(`${hub.httpUrl}/api/devices/${nvr.id}/commands/guard`, 'demo-admin', {
      params: { on: false },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ok: true });
    expect(sim.guard).toBe('ResetGuard');
  });

  it('an IPC registers over TCP (GB2312 bodies), its clock far off: the alarm keeps its own time beside the hub’s', async () => {
    const sim = device({
      id: ipc.code,
      password: ipc.password,
      server: { id: serverId, domain, host: '127.0.0.1', port: hub.hub.gb28181Port, transport: 'tcp' },
      charset: 'GB2312',
      edition: '2022',
      faults: { clockSkewSeconds: 3 * 24 * 3600 },
    });
    await sim.start();
    const before = created.length;
    const sent = await sim.alarm({
      deviceId: ipc.code,
      priority: 2,
      method: 5,
      type: 2,
      description: '移动侦测',
    });
    expect(sent.status).toBe(200);
    await eventually(() => created.slice(before).some((one) => one.device.id === ipc.id));
    const event = events
      .filter((one) => one.deviceId === ipc.id && one.type === 'camera.motion')
      .at(-1) as DeviceEvent;
    expect(event).toMatchObject({
      type: 'camera.motion',
      attributes: { edition: '2022', description: '移动侦测' },
    });
    // The device's time is three days ahead: the event is named by the hub's time, the device's kept beside it.
    expect(Math.abs(event.occurredAt - Date.now())).toBeLessThan(60_000);
    expect(typeof event.attributes.deviceTime).toBe('string');
    // A 2022 camera takes its snapshot on command (SnapShotConfig) and uploads it to the device HTTP listener.
    const incident = created.find((one) => one.device.id === ipc.id) as Incident;
    let snapshot: NonNullable<Incident['evidence']>[number] | undefined;
    // Read as a user reads it (the hub's view, active incidents first): the store shows a commit a moment before
    // the hub's thread has taken it in.
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-admin');
      snapshot = (body as Incident).evidence?.find((item) => item.kind === 'snapshot');
      return snapshot !== undefined;
    });
    expect(snapshot).toMatchObject({ cameraId: ipc.id, contentType: 'image/jpeg' });
    expect(sim.snapshots).toHaveLength(1);
    expect(sim.snapshots[0]?.statuses).toEqual([200]);
    const jpeg = Buffer.from(
      await (
        await fetch(`${hub.httpUrl}${snapshot?.url}`, { headers: { authorization: 'Bearer demo-admin' } })
      ).arrayBuffer(),
    );
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
  });

  it('a wrong password is refused 403, counted and dead-lettered; the device is not registered', async () => {
    const before = await refused('unauthenticated');
    const sim = device({
      id: ipc.code,
      password: ipc.password,
      faults: { wrongPassword: 'not-the-password' },
    });
    await expect(sim.start()).rejects.toThrow(/403/);
    expect(await refused('unauthenticated')).toBe(before + 1);
    const letters = await deadLetters();
    expect(
      letters.some((letter) => letter.reason === 'unauthenticated' && letter.topic.startsWith('gb28181/')),
    ).toBe(true);
  });

  it('broken XML is answered 400 and refused as malformed; the device stays registered', async () => {
    const sim = sims[0] as GbDevice;
    const before = await refused('malformed');
    sim.faults.malformedXml = true;
    expect(await sim.keepalive()).toBe(400);
    expect(await refused('malformed')).toBe(before + 1);
    expect(await sim.keepalive()).toBe(200);
  });

  it('a device that unregisters is offline', async () => {
    const sim = sims[0] as GbDevice;
    await sim.stop();
    await eventually(async () => !(await deviceStatus(nvr.id)).status.online);
  });

  it('registration floods from one address are answered 503 and counted (last: the loopback address stays limited a while)', async () => {
    const flood = device({ id: '34020000001320000077', password: 'whatever-it-is' });
    await flood.sip.start();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 14; attempt++)
      statuses.push(await flood.register(3600, 2000).catch(() => 0));
    expect(statuses).toContain(503);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_gb28181_limits_total{reason="register_rate"}'),
    ).toBeGreaterThan(0);
    await flood.sip.stop();
  });
});
