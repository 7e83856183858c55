import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { HikvisionSimulator } from '../../simulators/hikvision/hikvision-device.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { Incident } from '../../src/core/incident.ts';
import { freePort, HubProcess } from '../helpers/cluster.ts';
import { demoConfig, eventually, getJson, startTestHub, type TestHub } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, redisUrl, testKeyPrefix } from '../helpers/redis.ts';

/**
 * A Hikvision device's alert stream among hub instances sharing Redis: followed by the holder of the device's lease
 * only, so each streamed alert is decoded once; when the holder stops or dies, the other instance follows the stream
 * and the device's alerts raise incidents there.
 */

const deviceId = 'hik-shared-1';
const pushOnlyId = 'hik-push-only-1';
const password = 'hik-shared-pass-1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function incidentsOf(hub: TestHub, eventType: string): Promise<Incident[]> {
  return hub.testHandle.store.listIncidents({
    limit: 100,
    filter: (incident) => incident.device.id === deviceId && incident.event.type === eventType,
  });
}

describe('a Hikvision device among instances sharing Redis', () => {
  const keyPrefix = testKeyPrefix('hikvision-leases');
  const hubs: TestHub[] = [];
  let sim: HikvisionSimulator | undefined;

  afterAll(async () => {
    for (const hub of hubs) await hub.stop();
    await sim?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('has its alert stream followed by one instance only, and taken over with its incidents when that one stops', async () => {
    sim = new HikvisionSimulator({ kind: 'camera', username: 'admin', password, keepaliveMs: 150 });
    await sim.start();
    const device = sim;
    const deployment = redisDeployment(keyPrefix, (config) => {
      config.cluster = { leaseSeconds: 2 };
      const devices = config.devices as Record<string, unknown>[];
      for (const other of devices) other.offlineAfterSeconds = 3600;
      devices.push({
        id: deviceId,
        name: 'A Hikvision camera two instances share',
        adapter: 'hikvision-isapi',
        grid: 'grid-luming-01',
        http: { url: device.url, username: 'admin', password },
      });
      // One that only pushes: the hub never dials it, so it takes no lease.
      devices.push({
        id: pushOnlyId,
        name: 'A Hikvision access controller that only pushes',
        adapter: 'hikvision-isapi',
        grid: 'grid-luming-01',
        serial: '44-19-b6-00-00-09',
        secret: 'hik-push-only-secret',
      });
    });
    const hikvisionTiming = { requestTimeoutMs: 2_000, stallMs: 2_000, retryMinMs: 100, retryMaxMs: 400 };
    const east = await startTestHub({ deployment, hikvisionTiming });
    const west = await startTestHub({ deployment, hikvisionTiming });
    hubs.push(east, west);
    const decoded: { hub: TestHub; event: DeviceEvent }[] = [];
    for (const hub of [east, west]) {
      hub.hub.bus.on('device:event', (event) => {
        if (event.deviceId === deviceId) decoded.push({ hub, event });
      });
    }
    const following = () =>
      [east, west].filter((hub) => hub.testHandle.hikvision.stream(deviceId) !== undefined);

    await eventually(() => device.openStreams === 1, 10_000);
    // Both instances ran lease rounds meanwhile: still one stream, followed by one instance.
    await sleep(1_500);
    expect(device.openStreams).toBe(1);
    expect(following()).toHaveLength(1);
    const redis = new Redis(redisUrl);
    try {
      const leaseOf = (id: string) => redis.get(`${keyPrefix}cluster:lease:camera:${id}`);
      expect(await leaseOf(deviceId)).not.toBeNull();
      expect(await leaseOf(pushOnlyId)).toBeNull();
    } finally {
      await redis.quit();
    }
    await device.lineCross();
    await eventually(() => decoded.some(({ event }) => event.type === 'camera.line_crossed'));
    await sleep(300);
    expect(decoded.filter(({ event }) => event.type === 'camera.line_crossed')).toHaveLength(1);

    // The holder stops (its lease given back): the other follows the stream, alone.
    const holder = following()[0] as TestHub;
    const other = holder === east ? west : east;
    await holder.stop();
    hubs.splice(hubs.indexOf(holder), 1);
    await eventually(() => other.testHandle.hikvision.stream(deviceId)?.state === 'open', 10_000);
    await eventually(() => device.openStreams === 1, 5_000);

    // The device's alerts now raise incidents on the instance that took it over.
    await device.intrusion(true);
    await eventually(() =>
      decoded.some(({ hub, event }) => hub === other && event.type === 'camera.intrusion'),
    );
    await eventually(async () => (await incidentsOf(other, 'camera.intrusion')).length === 1);
    await sleep(300);
    expect(decoded.filter(({ event }) => event.type === 'camera.intrusion')).toHaveLength(1);
  });
});

describe('a Hikvision device whose stream holder dies', () => {
  const keyPrefix = testKeyPrefix('hikvision-leases-killed');
  const processes: HubProcess[] = [];
  let sim: HikvisionSimulator | undefined;

  afterAll(async () => {
    for (const hub of processes) await hub.remove();
    await sim?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('is followed by the survivor once the dead instance’s lease lapses, its alerts raising incidents there', async () => {
    sim = new HikvisionSimulator({ kind: 'camera', username: 'admin', password, keepaliveMs: 150 });
    await sim.start();
    const device = sim;
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.store = { kind: 'redis', url: redisUrl, keyPrefix };
    config.cluster = { leaseSeconds: 2 };
    // The demo's Hikvision devices (nothing answers at their addresses) left out: the one stream here is the sim's.
    config.devices = config.devices.filter((other) => other.adapter !== 'hikvision-isapi');
    for (const other of config.devices) other.offlineAfterSeconds = 3600;
    config.devices.push({
      id: deviceId,
      name: 'A Hikvision camera two instances share',
      adapter: 'hikvision-isapi',
      grid: 'grid-luming-01',
      http: { url: device.url, username: 'admin', password },
    });
    const instance = async (name: string) =>
      new HubProcess({ name, config, httpPort: await freePort(), mqttPort: await freePort() });
    const east = await instance('east');
    const west = await instance('west');
    processes.push(east, west);
    await east.start();
    await west.start();

    type Health = { components: { hikvision: { streams: Record<string, number> } } };
    const openStreams = async (hub: HubProcess) =>
      ((await getJson(`${hub.httpUrl}/healthz`)).body as Health).components.hikvision.streams.open ?? 0;
    await eventually(async () => (await openStreams(east)) + (await openStreams(west)) === 1, 15_000);
    expect(device.openStreams).toBe(1);

    // The holder dies without a word: its lease lapses and the survivor follows the stream.
    const holder = (await openStreams(east)) === 1 ? east : west;
    const survivor = holder === east ? west : east;
    await holder.kill();
    await eventually(async () => (await openStreams(survivor)) === 1, 15_000);
    await eventually(() => device.openStreams === 1, 5_000);

    await device.intrusion(true);
    type Listing = { incidents: { device: { id: string }; event: { type: string } }[] };
    await eventually(async () => {
      const { body } = await getJson(`${survivor.httpUrl}/api/incidents?limit=50`, 'demo-admin');
      return (body as Listing).incidents.some(
        (incident) => incident.device.id === deviceId && incident.event.type === 'camera.intrusion',
      );
    }, 10_000);
  });
});
