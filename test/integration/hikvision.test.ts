import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HikvisionSimulator } from '../../simulators/hikvision/hikvision-device.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
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
 * Hikvision ISAPI against a real hub: the hub follows the simulated devices' alert streams over Digest, takes their
 * pushes on the device HTTP listener, and opens doors with ISAPI RemoteControl; every bad input is refused, counted
 * and dead-lettered, and nothing stops the hub.
 */

const cameraPassword = 'cam-admin-pass-01';
const doorPassword = 'door-admin-pass-01';
const doorSecret = 'hik-door-01-secret-0001';
const pushSecret = 'hik-door-02-secret';
const card = '3302789145';

let hub: TestHub;
let camera: HikvisionSimulator;
let door: HikvisionSimulator;
let pusher: HikvisionSimulator;
const events: DeviceEvent[] = [];

const typesOf = (deviceId: string): string[] =>
  events.filter((event) => event.deviceId === deviceId).map((event) => event.type);
const heard = (deviceId: string, type: string) => eventually(() => typesOf(deviceId).includes(type));
const metric = (sample: string) => metricValue(hub.httpUrl, sample);

beforeAll(async () => {
  camera = new HikvisionSimulator({
    kind: 'camera',
    username: 'admin',
    password: cameraPassword,
    keepaliveMs: 150,
  });
  door = new HikvisionSimulator({
    kind: 'access',
    username: 'admin',
    password: doorPassword,
    keepaliveMs: 150,
    mac: '44:19:b6:00:00:02',
    doors: 2,
  });
  await Promise.all([camera.start(), door.start()]);
  const config = demoConfig() as unknown as { devices: unknown[]; receivers: unknown };
  config.receivers = { http: { port: 0, maxBodyBytes: 64 * 1024 } };
  config.devices = [
    ...config.devices,
    {
      id: 'hik-cam-01',
      name: 'Hikvision camera',
      adapter: 'hikvision-isapi',
      grid: 'grid-xijiao-01',
      serial: 'F12345678',
      http: { url: camera.url, username: 'admin', password: cameraPassword },
    },
    {
      id: 'hik-door-01',
      name: 'Hikvision access controller',
      adapter: 'hikvision-isapi',
      grid: 'grid-xijiao-01',
      serial: '44-19-b6-00-00-02',
      secret: doorSecret,
      http: { url: door.url, username: 'admin', password: doorPassword },
    },
    {
      id: 'hik-door-02',
      name: 'Hikvision access controller that only pushes',
      adapter: 'hikvision-isapi',
      grid: 'grid-xijiao-01',
      serial: '44-19-b6-00-00-03',
      secret: pushSecret,
    },
  ];
  hub = await startTestHub({
    deployment: deploymentOf(config),
    hikvisionTiming: { stallMs: 1_000, retryMinMs: 50, retryMaxMs: 200, requestTimeoutMs: 2_000 },
  });
  hub.hub.bus.on('device:event', (event) => events.push(event));
  pusher = new HikvisionSimulator({
    kind: 'access',
    username: 'admin',
    password: 'unused-password',
    mac: '44:19:b6:00:00:03',
    listeningHost: {
      url: `http://127.0.0.1:${hub.hub.deviceHttpPort}/hikvision/alarm`,
      username: 'hik-door-02',
      password: pushSecret,
      format: 'json',
    },
  });
  await eventually(() => camera.openStreams === 1 && door.openStreams === 1);
});

afterAll(async () => {
  await hub?.stop();
  await Promise.all([camera?.stop(), door?.stop()]);
});

describe('the alert stream', () => {
  it('brings motion and video loss as lasting conditions, and keepalives as liveness only', async () => {
    await camera.motion();
    await heard('hik-cam-01', 'camera.motion');
    expect(events.find((event) => event.type === 'camera.motion')?.attributes).toEqual({ channel: 1 });
    await camera.videoLoss(true);
    await heard('hik-cam-01', 'camera.video_lost');
    await camera.videoLoss(false);
    await heard('hik-cam-01', 'camera.video_restored');
    const keepalives = await metric('gridhub_hikvision_alerts_total{via="stream",kind="keepalive"}');
    await eventually(
      async () =>
        (await metric('gridhub_hikvision_alerts_total{via="stream",kind="keepalive"}')) >= keepalives + 4,
    );
    // The keepalive is `videoloss` inactive too: only the one after a real loss ended it.
    expect(typesOf('hik-cam-01').filter((type) => type === 'camera.video_restored')).toHaveLength(1);
    const status = await getJson(`${hub.httpUrl}/api/devices/hik-cam-01`, 'demo-officer-qinghe');
    expect(status.body).toMatchObject({ status: { online: true } });
  });

  it("brings an access controller's door and card events, the card number masked", async () => {
    await door.forceDoor(1);
    await heard('hik-door-01', 'door.forced_open');
    await door.cardSwipe({ card, granted: false, name: 'Li Na' });
    await heard('hik-door-01', 'access.denied');
    const denied = events.find((event) => event.type === 'access.denied');
    expect(denied?.attributes).toMatchObject({ reason: 'unknown_card', credential: '****9145', door: 1 });
    expect(JSON.stringify(events)).not.toContain(card);
    // The controller's event serial number names the event, so a redelivery is known as one.
    expect(denied?.key).toMatch(/^hik-door-01\/\d+\//);
  });

  it('refuses a garbage part, counts and dead-letters it, and reads the stream on', async () => {
    const before = await metric('gridhub_messages_refused_total{reason="malformed"}');
    await camera.garbage();
    await eventually(
      async () => (await metric('gridhub_messages_refused_total{reason="malformed"}')) === before + 1,
    );
    // The count moves as the refusal is announced; its dead letter is stored a moment later.
    let letter: DeadLetter | undefined;
    await eventually(async () => {
      const letters = await getJson(`${hub.httpUrl}/api/dead-letters?limit=100`, 'demo-admin');
      letter = (letters.body as { deadLetters: DeadLetter[] }).deadLetters.find(
        (candidate) => candidate.topic === 'hikvision-isapi/stream' && candidate.reason === 'malformed',
      );
      return letter !== undefined;
    });
    expect(letter).toMatchObject({
      topic: 'hikvision-isapi/stream',
      deviceId: 'hik-cam-01',
      reason: 'malformed',
    });
    const motions = typesOf('hik-cam-01').filter((type) => type === 'camera.motion').length;
    await camera.motion();
    await eventually(
      () => typesOf('hik-cam-01').filter((type) => type === 'camera.motion').length === motions + 1,
    );
  });

  it('notices a stalled stream and connects again after a jittered delay', async () => {
    const accepted = camera.streamsAccepted;
    camera.stall();
    await eventually(
      async () => (await metric('gridhub_hikvision_stream_drops_total{reason="stalled"}')) >= 1,
      5_000,
    );
    await eventually(() => camera.streamsAccepted > accepted && camera.openStreams === 1);
  });

  it('connects again after a dropped stream, a reboot and refused credentials', async () => {
    let accepted = camera.streamsAccepted;
    camera.dropStreams();
    await eventually(() => camera.streamsAccepted > accepted && camera.openStreams === 1);
    accepted = camera.streamsAccepted;
    camera.reboot(300);
    await eventually(() => camera.streamsAccepted > accepted && camera.openStreams === 1, 5_000);
    camera.badDigest = true;
    camera.dropStreams();
    await eventually(
      async () => (await metric('gridhub_hikvision_stream_drops_total{reason="unauthorized"}')) >= 1,
    );
    camera.badDigest = false;
    await eventually(() => camera.openStreams === 1, 5_000);
    // A device slower to answer than the hub waits: a timeout, then a stream again once it answers in time.
    camera.answerDelayMs = 2_500;
    camera.dropStreams();
    await eventually(
      async () => (await metric('gridhub_hikvision_stream_drops_total{reason="timeout"}')) >= 1,
      5_000,
    );
    camera.answerDelayMs = 0;
    await eventually(() => camera.openStreams === 1, 5_000);
    await camera.lineCross();
    await heard('hik-cam-01', 'camera.line_crossed');
  });
});

describe('evidence', () => {
  it("gives the camera's incident its snapshot, fetched from the ISAPI picture endpoint with Digest", async () => {
    await camera.lineCross();
    let jpeg = Buffer.alloc(0);
    let expectedBytes = -1;
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=50`, 'demo-officer-qinghe');
      const { incidents } = body as {
        incidents: { device: { id: string }; evidence?: { kind: string; url: string; bytes: number }[] }[];
      };
      const snapshot = incidents
        .filter((incident) => incident.device.id === 'hik-cam-01')
        .flatMap((incident) => incident.evidence ?? [])
        .find((item) => item.kind === 'snapshot');
      if (snapshot === undefined) return false;
      const response = await fetch(`${hub.httpUrl}${snapshot.url}`, {
        headers: { authorization: 'Bearer demo-officer-qinghe' },
      });
      jpeg = Buffer.from(await response.arrayBuffer());
      expectedBytes = snapshot.bytes;
      return response.status === 200;
    }, 10_000);
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(jpeg.length).toBe(expectedBytes);
  });
});

describe('pushes to the device HTTP listener', () => {
  it('takes JSON, XML and multipart with a picture, from a device proving itself with its secret', async () => {
    await pusher.duress(1);
    await heard('hik-door-02', 'alarm.duress');
    await pusher.motion();
    await heard('hik-door-02', 'camera.motion');
    pusher.listeningHost = {
      ...(pusher.listeningHost as NonNullable<typeof pusher.listeningHost>),
      format: 'multipart',
    };
    await pusher.tailgate(1);
    await heard('hik-door-02', 'access.tailgating');
    expect(pusher.pushes.map((push) => push.status)).toEqual([200, 200, 200]);
    expect(await metric('gridhub_hikvision_alerts_total{via="push",kind="picture"}')).toBeGreaterThanOrEqual(
      1,
    );
    // The serial number (here the MAC address it was given as) names the device as well as its id.
    const bySerial = { username: '44-19-b6-00-00-03', password: pushSecret };
    const xml = Buffer.from(
      '<EventNotificationAlert><macAddress>44:19:b6:00:00:03</macAddress><eventType>IO</eventType><eventState>active</eventState><inputIOPortID>2</inputIOPortID></EventNotificationAlert>',
    );
    expect(await pusher.postRaw(xml, 'application/xml', bySerial)).toBe(200);
    await heard('hik-door-02', 'alarm.input');
  });

  it('refuses the unproven, the unknown, garbage, another device’s identity and oversized bodies', async () => {
    const count = (reason: string) => metric(`gridhub_messages_refused_total{reason="${reason}"}`);
    const before = {
      unauthenticated: await count('unauthenticated'),
      unknown: await count('unknown_device'),
      malformed: await count('malformed'),
      oversized: await count('oversized'),
    };
    const alert = Buffer.from('<EventNotificationAlert><eventType>VMD</eventType></EventNotificationAlert>');
    expect(await pusher.postRaw(alert, 'application/xml', null)).toBe(401);
    expect(
      await pusher.postRaw(alert, 'application/xml', {
        username: 'hik-door-02',
        password: 'wrong-secret-000',
      }),
    ).toBe(401);
    // A camera with no secret of its own cannot push: no password matches it.
    expect(await pusher.postRaw(alert, 'application/xml', { username: 'hik-cam-01', password: '' })).toBe(
      401,
    );
    const spoofed = Buffer.from(
      '<EventNotificationAlert><macAddress>44:19:b6:00:00:02</macAddress><eventType>VMD</eventType></EventNotificationAlert>',
    );
    expect(await pusher.postRaw(spoofed, 'application/xml')).toBe(403);
    expect(await pusher.postRaw(alert, 'application/xml', { username: 'nobody', password: pushSecret })).toBe(
      401,
    );
    expect(
      await pusher.postRaw(Buffer.from('<EventNotificationAlert><eventType>VMD'), 'application/xml'),
    ).toBe(400);
    expect(await pusher.postRaw(Buffer.from('\x00\xff\x13garbage'), 'application/octet-stream')).toBe(400);
    expect(
      await pusher.postRaw(Buffer.from(`--x\r\n\r\n${'y'.repeat(100)}`), 'multipart/form-data; boundary=x'),
    ).toBe(400);
    expect(await pusher.postRaw(Buffer.alloc(100 * 1024, 0x41), 'application/xml')).toBe(413);
    await eventually(async () => (await count('oversized')) === before.oversized + 1);
    expect(await count('unauthenticated')).toBe(before.unauthenticated + 4);
    expect(await count('unknown_device')).toBe(before.unknown + 1);
    expect(await count('malformed')).toBe(before.malformed + 3);
    const letters = await getJson(`${hub.httpUrl}/api/dead-letters?limit=8`, 'demo-admin');
    const kept = (letters.body as { deadLetters: DeadLetter[] }).deadLetters;
    expect(
      kept.filter((letter) => letter.topic === 'hikvision-isapi/push').map((letter) => letter.reason),
    ).toEqual(expect.arrayContaining(['malformed', 'unknown_device', 'unauthenticated']));
    expect(JSON.stringify(kept)).not.toContain('wrong-secret');
    // And the hub goes on taking what is sound.
    await pusher.forceDoor(2);
    await heard('hik-door-02', 'door.forced_open');
    // A device that only pushes has no http access: not a camera the evidence could fetch from.
    expect(hub.logs.text).not.toMatch(/"cameraId":"hik-door-02"/);
  });
});

describe('commands', () => {
  it("opens a door with ISAPI RemoteControl, the device's ResponseStatus as the answer", async () => {
    const opened = await postJson(
      `${hub.httpUrl}/api/devices/hik-door-01/commands/open_door`,
      'demo-officer-qinghe',
      {
        params: { door: 2 },
      },
    );
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ ok: true, result: { statusCode: 1 } });
    expect(door.doorOpens).toEqual([2]);
    const refused = await postJson(
      `${hub.httpUrl}/api/devices/hik-door-01/commands/open_door`,
      'demo-officer-qinghe',
      {
        params: { door: 7 },
      },
    );
    expect(refused.body).toMatchObject({ ok: false, error: 'Invalid Content: badParameters' });
    const camera = await postJson(
      `${hub.httpUrl}/api/devices/hik-cam-01/commands/open_door`,
      'demo-officer-qinghe',
      {},
    );
    expect(camera.body).toMatchObject({ ok: false, error: 'Invalid Operation: notSupport' });
  });
});

describe('the registry', () => {
  it("refuses the events of a stream whose device names itself otherwise than the device's serial", async () => {
    const before = await metric('gridhub_messages_refused_total{reason="unauthenticated"}');
    const created = await postJson(`${hub.httpUrl}/api/devices`, 'demo-integrator-qinghe', {
      id: 'hik-cam-03',
      name: 'A camera provisioned at another camera’s address',
      adapter: 'hikvision-isapi',
      grid: 'grid-xijiao-02',
      serial: '44-19-b6-99-99-99',
      http: { url: camera.url, username: 'admin', password: cameraPassword },
    });
    expect(created.status).toBe(201);
    await eventually(() => camera.openStreams === 2);
    await camera.tamper(true);
    await heard('hik-cam-01', 'camera.tamper');
    await eventually(
      async () => (await metric('gridhub_messages_refused_total{reason="unauthenticated"}')) === before + 1,
    );
    expect(typesOf('hik-cam-03')).toEqual([]);
    const letters = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
    expect((letters.body as { deadLetters: DeadLetter[] }).deadLetters[0]).toMatchObject({
      topic: 'hikvision-isapi/stream',
      deviceId: 'hik-cam-03',
      reason: 'unauthenticated',
    });
    expect(
      (await postJson(`${hub.httpUrl}/api/devices/hik-cam-03/disable`, 'demo-integrator-qinghe')).status,
    ).toBe(200);
    await eventually(() => camera.openStreams === 1);
  });

  it('follows a camera provisioned over the API, and lets it go when disabled', async () => {
    const second = new HikvisionSimulator({
      kind: 'camera',
      username: 'admin',
      password: cameraPassword,
      keepaliveMs: 150,
    });
    await second.start();
    try {
      const created = await postJson(`${hub.httpUrl}/api/devices`, 'demo-integrator-qinghe', {
        id: 'hik-cam-02',
        name: 'Hikvision camera provisioned',
        adapter: 'hikvision-isapi',
        grid: 'grid-xijiao-02',
        http: { url: second.url, username: 'admin', password: cameraPassword },
      });
      expect(created.status).toBe(201);
      await eventually(() => second.openStreams === 1);
      await second.intrusion(true);
      await heard('hik-cam-02', 'camera.intrusion');
      const disabled = await postJson(
        `${hub.httpUrl}/api/devices/hik-cam-02/disable`,
        'demo-integrator-qinghe',
      );
      expect(disabled.status).toBe(200);
      await eventually(() => second.openStreams === 0);
    } finally {
      await second.stop();
    }
  });
});

describe('guessing', () => {
  // Last: it locks this test's address out of pushing for the lockout's length.
  it("locks out an address that keeps guessing a device's secret, before checking its credentials", async () => {
    const alert = Buffer.from('<EventNotificationAlert><eventType>VMD</eventType></EventNotificationAlert>');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 32; attempt++) {
      statuses.push(
        await pusher.postRaw(alert, 'application/xml', {
          username: 'hik-door-02',
          password: `guess-${attempt}-0000000`,
        }),
      );
    }
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect(statuses.at(-1)).toBe(429);
    expect(
      await metric('gridhub_auth_throttled_total{transport="device_http",reason="address"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(await metric('gridhub_auth_failures_total{transport="device_http"}')).toBeGreaterThanOrEqual(30);
    // The right secret from a locked-out address waits too: the lockout is not a way to find it.
    expect(await pusher.postRaw(alert, 'application/xml')).toBe(429);
  });
});
