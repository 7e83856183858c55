import { afterAll, describe, expect, it } from 'vitest';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import type { Incident } from '../../src/core/incident.ts';
import { freePort, HubProcess } from '../helpers/cluster.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSentry,
  eventually,
  getJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, redisUrl, testKeyPrefix } from '../helpers/redis.ts';

const gateId = 'gate-luming-04-north';
const sentryId = 'sentry-luming-03';

/** Incidents of one device and event type, as the shared store holds them (both instances' included). */
async function incidentsOf(hub: TestHub, deviceId: string, type: string): Promise<Incident[]> {
  const all = await hub.testHandle.store.listIncidents({ limit: 500 });
  return all.filter((incident) => incident.device.id === deviceId && incident.event.type === type);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('device liveness across two instances sharing Redis', () => {
  const keyPrefix = testKeyPrefix('shared-liveness');
  const deployment = redisDeployment(keyPrefix, (config) => {
    for (const device of config.devices as {
      id: string;
      offlineAfterSeconds?: number;
      watchdogs?: unknown;
    }[]) {
      // The devices under test go offline after 3 s of silence; the rest of the demo never connects here. Ten
      // times the heartbeat and check-in period: what reaches the sibling through Redis (batched) must not be
      // overtaken by a stall of this busy test machine.
      device.offlineAfterSeconds = device.id === gateId || device.id === sentryId ? 3 : 3600;
      if (device.id === sentryId) device.watchdogs = { 'guard.check_in_missed': 3 };
    }
  });
  const hubs: TestHub[] = [];
  const devices: { stop(): Promise<void> }[] = [];

  afterAll(async () => {
    for (const device of devices) await device.stop().catch(() => undefined);
    for (const hub of hubs) await hub.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('never finds a device silent that talks to a sibling, and raises offline, online and watchdogs once', async () => {
    const east = await startTestHub({ deployment, livenessSweepMs: 100 });
    const west = await startTestHub({ deployment, livenessSweepMs: 100 });
    hubs.push(east, west);
    const gate = demoGate(east.mqttUrl, gateId, { heartbeatSeconds: 0.3 });
    const sentry = demoSentry(east.mqttUrl, sentryId, { heartbeatSeconds: 0.3 });
    devices.push(gate, sentry);
    await gate.start();
    await sentry.start();
    const checkIns = setInterval(() => void sentry.checkIn().catch(() => undefined), 300);
    try {
      // Twice the threshold: west hears nothing itself, but learns through Redis that both are alive.
      await sleep(6_500);
      expect(await incidentsOf(west, gateId, 'device.offline')).toEqual([]);
      expect(await incidentsOf(west, sentryId, 'guard.check_in_missed')).toEqual([]);
      const seenFromWest = await getJson(`${west.httpUrl}/api/devices/${gateId}`, 'demo-officer-luming');
      expect((seenFromWest.body as { status: DeviceStatus }).status.online).toBe(true);
    } finally {
      clearInterval(checkIns);
    }

    // The guard stops checking in: the watchdog fires once across both instances.
    await eventually(
      async () => (await incidentsOf(east, sentryId, 'guard.check_in_missed')).length > 0,
      8_000,
    );
    // The gate goes silent: one device.offline across both instances, though both sweep it.
    gate.goSilent();
    await eventually(async () => (await incidentsOf(east, gateId, 'device.offline')).length > 0, 8_000);
    await sleep(1_000);
    expect(await incidentsOf(east, gateId, 'device.offline')).toHaveLength(1);
    expect(await incidentsOf(east, sentryId, 'guard.check_in_missed')).toHaveLength(1);

    // It comes back through the other instance: that one raises device.online, which resolves the incident.
    await gate.stop();
    const back = demoGate(west.mqttUrl, gateId);
    devices.push(back);
    await back.start();
    const [offline] = await incidentsOf(east, gateId, 'device.offline');
    await eventually(
      async () => (await east.testHandle.store.getIncident(offline?.id ?? ''))?.state === 'resolved',
      8_000,
    );
    await sleep(500);
    const resolved = await east.testHandle.store.getIncident(offline?.id ?? '');
    const audit = await east.testHandle.store.listAudit({ limit: 50, targetId: offline?.id ?? '' });
    expect(resolved?.state).toBe('resolved');
    // Resolved once: one device.online, not one per instance.
    expect(audit.filter((entry) => entry.action === 'incident.clear')).toHaveLength(1);
    // Its own waits add up to 33 s at most (6.5 s of talk, three 8 s bounds, 1.5 s of settling), two hubs' starts
    // besides: the default 20 s cut it short on a slow run before any of its bounds was reached.
  }, 60_000);
});

describe('cameras partitioned among instances by leases in Redis', () => {
  const keyPrefix = testKeyPrefix('camera-leases');
  const cameras: OnvifCameraSimulator[] = [];
  const processes: HubProcess[] = [];
  const cameraIds = ['cam-luming-01-gate', 'cam-luming-02-yard', 'cam-luming-03-lane'];

  afterAll(async () => {
    for (const hub of processes) await hub.remove();
    for (const camera of cameras) await camera.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('runs each camera on exactly one instance and moves a killed instance’s cameras within the lease bound', async () => {
    for (const [index] of cameraIds.entries()) {
      const camera = new OnvifCameraSimulator({
        username: 'admin',
        password: `camera-password-${index}`,
        name: `camera ${index}`,
        manufacturer: 'Gridhub Sim',
        model: 'SIM-1',
        serialNumber: `SIM-LEASE-${index}`,
        discoveryPort: false,
      });
      await camera.start();
      cameras.push(camera);
    }
    const leaseSeconds = 2;
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.store = { kind: 'redis', url: redisUrl, keyPrefix };
    config.cluster = { leaseSeconds };
    // The demo's Hikvision devices are dialled and leased too: left out, so that the leases here are the cameras'.
    config.devices = config.devices.filter((device) => device.adapter !== 'hikvision-isapi');
    for (const device of config.devices) device.offlineAfterSeconds = 3600;
    cameraIds.forEach((id, index) => {
      config.devices.push({
        id,
        name: `Luming camera ${index + 1}`,
        adapter: 'onvif-camera',
        grid: `grid-luming-0${index + 1}`,
        onvif: {
          xaddr: cameras[index]?.xaddr,
          username: 'admin',
          password: `camera-password-${index}`,
        },
        offlineAfterSeconds: 3600,
      });
    });
    const instance = async (name: string) =>
      new HubProcess({ name, config, httpPort: await freePort(), mqttPort: await freePort() });
    const east = await instance('east');
    const west = await instance('west');
    processes.push(east, west);
    await east.start();
    await west.start();

    type Health = { components: { cameras: { leased: number } } };
    const leased = async (hub: HubProcess) =>
      ((await getJson(`${hub.httpUrl}/healthz`)).body as Health).components.cameras.leased;
    // Fair shares: 2 and 1. Each camera has exactly one subscription: exactly one instance runs its session.
    await eventually(
      async () => (await leased(east)) + (await leased(west)) === 3 && (await leased(west)) > 0,
      15_000,
    );
    await eventually(() => cameras.every((camera) => camera.subscriptionCount === 1), 15_000);
    expect([await leased(east), await leased(west)].sort()).toEqual([1, 2]);

    // Each instance shows the others' cameras as run elsewhere, named by instance.
    type Listing = { cameras: { id: string; session: { state: string; instance?: string } | null }[] };
    const listing = (await getJson(`${east.httpUrl}/api/cameras`, 'demo-admin')).body as Listing;
    const states = listing.cameras
      .filter((camera) => cameraIds.includes(camera.id))
      .map((c) => c.session?.state);
    expect(states.filter((state) => state === 'remote')).toHaveLength(await leased(west));

    // West dies without a word: its leases lapse and east takes its cameras within about 4/3 of a lease.
    const westCameras = listing.cameras
      .filter((camera) => camera.session?.state === 'remote')
      .map((camera) => camera.id);
    const officer = await connectClient(east.httpUrl, 'demo-officer-luming');
    try {
      const killedAt = Date.now();
      await west.kill();
      await eventually(async () => (await leased(east)) === 3, 15_000);
      const movedAfterMs = Date.now() - killedAt;
      // The bound: the lease lapses (leaseSeconds) and the next round comes within a third of it; 2 s of slack.
      expect(movedAfterMs).toBeLessThan(((leaseSeconds * 4) / 3) * 1000 + 2_000);

      // A camera west ran now raises its events through east.
      const moved = westCameras[0] as string;
      const camera = cameras[cameraIds.indexOf(moved)] as OnvifCameraSimulator;
      await eventually(() => camera.subscriptionCount >= 1, 10_000);
      await eventually(async () => {
        await camera.intrusion(true);
        await sleep(300);
        return officer.of('incident:new').some((incident) => (incident as Incident).device.id === moved);
      }, 15_000);
    } finally {
      officer.close();
    }
  });
});
