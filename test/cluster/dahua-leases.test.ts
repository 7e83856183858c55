import { afterAll, describe, expect, it } from 'vitest';
import { DahuaSimulator } from '../../simulators/dahua/dahua-simulator.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import { eventually, startTestHub, type TestHub } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

const deviceId = 'dahua-shared-1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a Dahua device among instances sharing Redis', () => {
  const keyPrefix = testKeyPrefix('dahua-leases');
  const hubs: TestHub[] = [];
  let sim: DahuaSimulator | undefined;

  afterAll(async () => {
    for (const hub of hubs) await hub.stop();
    await sim?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('is attached by one instance only, its events decoded once, and taken over when that instance stops', async () => {
    sim = new DahuaSimulator({ username: 'admin', password: 'shared-1', serialNumber: 'SIM-DH-S1' });
    await sim.start();
    const device = sim;
    const deployment = redisDeployment(keyPrefix, (config) => {
      config.cluster = { leaseSeconds: 2 };
      const devices = config.devices as Record<string, unknown>[];
      for (const other of devices) other.offlineAfterSeconds = 3600;
      devices.push({
        id: deviceId,
        name: 'A Dahua camera two instances share',
        adapter: 'dahua-cgi',
        grid: 'grid-luming-01',
        http: { url: device.url, username: 'admin', password: 'shared-1' },
      });
    });
    const timing = {
      heartbeatSeconds: 1,
      connectTimeoutMs: 2_000,
      retryMinMs: 100,
      retryMaxMs: 400,
      commandTimeoutMs: 2_000,
    };
    const east = await startTestHub({ deployment, dahuaTiming: timing });
    const west = await startTestHub({ deployment, dahuaTiming: timing });
    hubs.push(east, west);
    const decoded: { hub: TestHub; event: DeviceEvent }[] = [];
    for (const hub of [east, west]) {
      hub.hub.bus.on('device:event', (event) => {
        if (event.deviceId === deviceId) decoded.push({ hub, event });
      });
    }
    await device.waitForAttach();
    // Both instances ran lease rounds meanwhile: still one stream.
    await sleep(1_500);
    expect(device.attached).toBe(1);
    await device.motion(true);
    await eventually(() => decoded.some(({ event }) => event.type === 'camera.motion'));
    await sleep(300);
    expect(decoded.filter(({ event }) => event.type === 'camera.motion')).toHaveLength(1);

    // The holder stops (its lease given back): the other attaches.
    const holder = east.testHandle.dahua.stream(deviceId) === undefined ? west : east;
    const other = holder === east ? west : east;
    await holder.stop();
    hubs.splice(hubs.indexOf(holder), 1);
    await eventually(() => other.testHandle.dahua.stream(deviceId)?.state === 'open', 10_000);
    expect(device.attached).toBe(1);
  });
});
