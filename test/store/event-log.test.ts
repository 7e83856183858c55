import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import { type EventLog, LmdbEventLog, RedisStreamEventLog } from '../../src/store/event-log.ts';
import { demoGate, eventually, getJson, startTestHub, temporaryDirectory } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, redisUrl, testKeyPrefix } from '../helpers/redis.ts';

const keyPrefix = testKeyPrefix('event-log');
const directories: { remove(): void }[] = [];

const logs: Record<string, () => EventLog> = {
  'embedded (LMDB)': () => {
    const directory = temporaryDirectory();
    directories.push(directory);
    return new LmdbEventLog({ dataDir: directory.path, perDevice: 10, flushMs: 50 });
  },
  'Redis Streams': () => new RedisStreamEventLog({ url: redisUrl, keyPrefix, perDevice: 10, flushMs: 50 }),
};

afterAll(async () => {
  for (const directory of directories) directory.remove();
  await deleteRedisKeys(keyPrefix);
});

function event(deviceId: string, n: number): DeviceEvent {
  return { deviceId, type: 'access.granted', occurredAt: 1_780_000_000_000 + n, attributes: { n, door: 1 } };
}

for (const [name, make] of Object.entries(logs)) {
  describe(`event log contract: ${name}`, () => {
    it('keeps each device’s newest events, newest first, in pages', async () => {
      const log = make();
      await log.start();
      try {
        // Two devices whose ids share a prefix: one's events never show in the other's log.
        for (let n = 1; n <= 25; n++) log.append(event('gate-ev-1', n));
        log.append(event('gate-ev-10', 100));
        await log.flush();
        const first = await log.list('gate-ev-1', { limit: 4 });
        expect(first.map((entry) => entry.attributes.n)).toEqual([25, 24, 23, 22]);
        expect(first[0]).toMatchObject({
          deviceId: 'gate-ev-1',
          type: 'access.granted',
          occurredAt: new Date(1_780_000_000_025).toISOString(),
        });
        const next = await log.list('gate-ev-1', { limit: 4, before: first.at(-1)?.id as string });
        expect(next.map((entry) => entry.attributes.n)).toEqual([21, 20, 19, 18]);
        // Trimmed to the newest 10.
        const all = await log.list('gate-ev-1', { limit: 100 });
        expect(all.map((entry) => entry.attributes.n)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
        expect((await log.list('gate-ev-10', { limit: 100 })).map((entry) => entry.attributes.n)).toEqual([
          100,
        ]);
        expect(await log.list('gate-never-heard', { limit: 10 })).toEqual([]);
      } finally {
        await log.stop();
      }
    });

    it('writes what is buffered when it stops, and keeps it across a restart', async () => {
      const log = make();
      await log.start();
      log.append(event('gate-ev-2', 1));
      await log.stop();
      // The LMDB log reopens its own file; Redis keeps the stream.
      if (log instanceof LmdbEventLog) {
        await log.start();
        expect((await log.list('gate-ev-2', { limit: 10 })).map((entry) => entry.attributes.n)).toEqual([1]);
        await log.stop();
      } else {
        const again = make();
        await again.start();
        expect((await again.list('gate-ev-2', { limit: 10 })).map((entry) => entry.attributes.n)).toEqual([
          1,
        ]);
        await again.stop();
      }
    });
  });
}

describe('the LMDB event log trims devices that publish in step a few at a time', () => {
  it('removes about as many events per batch as the batch wrote, and catches up on every device', async () => {
    const directory = temporaryDirectory();
    directories.push(directory);
    // perDevice 100: a device comes due for a trim every 10 events.
    const log = new LmdbEventLog({ dataDir: directory.path, perDevice: 100, flushMs: 60_000 });
    const devices = Array.from({ length: 20 }, (_, n) => `gate-step-${n}`);
    const kept = async (deviceId: string) => (await log.list(deviceId, { limit: 1000 })).length;
    await log.start();
    try {
      for (const deviceId of devices) for (let n = 0; n < 100; n++) log.append(event(deviceId, n));
      await log.flush();
      // Ten batches of one event per device: all twenty come due in the tenth, 10 events over each.
      for (let round = 100; round < 110; round++) {
        for (const deviceId of devices) log.append(event(deviceId, round));
        await log.flush();
      }
      const after = await Promise.all(devices.map(kept));
      // That batch wrote 20 events, so it removed about 20: two devices' worth, not all 200.
      expect(after.filter((count) => count === 100)).toHaveLength(2);
      expect(after.filter((count) => count === 110)).toHaveLength(18);
      // The next batches go on from the front of the queue until every device is back to its newest 100.
      for (let round = 110; round < 119; round++) {
        for (const deviceId of devices) log.append(event(deviceId, round));
        await log.flush();
      }
      const settled = await Promise.all(devices.map(kept));
      expect(Math.max(...settled)).toBeLessThanOrEqual(109);
      for (let round = 119; round < 140; round++) {
        for (const deviceId of devices) log.append(event(deviceId, round));
        await log.flush();
      }
      for (const count of await Promise.all(devices.map(kept))) expect(count).toBeLessThanOrEqual(110);
      // What is kept is the newest.
      const newest = await log.list('gate-step-0', { limit: 1 });
      expect(newest[0]?.attributes.n).toBe(139);
    } finally {
      await log.stop();
    }
  });
});

describe('GET /api/devices/:id/events', () => {
  const prefix = testKeyPrefix('event-log-api');
  afterAll(() => deleteRedisKeys(prefix));

  for (const [name, deployment] of [
    ['embedded store', undefined],
    ['Redis store', redisDeployment(prefix)],
  ] as const) {
    it(`shows a device's decoded events to its scope only, card numbers masked (${name})`, async () => {
      const hub = await startTestHub(deployment === undefined ? {} : { deployment });
      const gate = demoGate(hub.mqttUrl, 'gate-luming-01-south');
      try {
        await gate.start();
        await gate.grant({ card: '12345678' });
        await gate.deny({ card: '87654321' });
        const url = `${hub.httpUrl}/api/devices/gate-luming-01-south/events?limit=10`;
        type Events = { events: { type: string; attributes: Record<string, unknown> }[] };
        await eventually(
          async () => ((await getJson(url, 'demo-officer-luming')).body as Events).events.length >= 2,
        );
        const { events } = (await getJson(url, 'demo-officer-luming')).body as Events;
        expect(events.slice(0, 2).map((entry) => entry.type)).toEqual(['access.denied', 'access.granted']);
        const text = JSON.stringify(events);
        expect(text).not.toContain('12345678');
        expect(text).not.toContain('87654321');
        // Another community's officer does not see this device at all.
        expect((await getJson(url, 'demo-officer-xijiao')).status).toBe(404);
        expect((await getJson(`${url}&before=nonsense`, 'demo-officer-luming')).status).toBe(400);
      } finally {
        await gate.stop();
        await hub.stop();
      }
    });
  }
});
