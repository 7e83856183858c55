import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FirmwareQuirks, OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * What real camera firmware does, driven from outside: one hub, one simulated camera per behaviour, each switched
 * on with the simulator's firmware quirks (simulators/onvif-camera/firmware-quirks.ts).
 */

const password = 'camera-password-fw';
const integrator = 'demo-integrator-qinghe';
const twoHours = 2 * 3_600_000;

interface CameraCase {
  readonly id: string;
  readonly grid: string;
  readonly quirks: FirmwareQuirks;
  readonly maxSubscriptionSeconds?: number;
  readonly password?: string;
}

const cases = {
  skewed: {
    id: 'cam-fw-skewed',
    grid: 'grid-luming-01',
    quirks: { refuseUnauthenticatedClock: true, clockSkewMs: twoHours, authentication: 'ws-username-token' },
  },
  noVideoSources: { id: 'cam-fw-no-video-sources', grid: 'grid-luming-02', quirks: { noVideoSources: true } },
  digest: { id: 'cam-fw-digest', grid: 'grid-luming-03', quirks: { authentication: 'http-digest' } },
  basic: {
    id: 'cam-fw-basic',
    grid: 'grid-luming-04',
    quirks: { events: 'basic-notification' },
    maxSubscriptionSeconds: 2,
  },
  initialized: {
    id: 'cam-fw-initialized',
    grid: 'grid-xijiao-01',
    quirks: { initializedLineCrossing: true },
  },
  refused: { id: 'cam-fw-refused', grid: 'grid-xijiao-02', quirks: {}, password: 'not-the-camera-password' },
} as const satisfies Record<string, CameraCase>;

type CaseName = keyof typeof cases;

describe('ONVIF sessions survive what real camera firmware does', () => {
  const cameras = {} as Record<CaseName, OnvifCameraSimulator>;
  const events: DeviceEvent[] = [];
  let hub: TestHub;
  let stopListening: () => void;

  beforeAll(async () => {
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    for (const [name, spec] of Object.entries(cases) as [CaseName, CameraCase][]) {
      const camera = new OnvifCameraSimulator({
        username: 'admin',
        password,
        name: spec.id,
        manufacturer: 'Gridhub Sim',
        model: 'SIM-FW',
        serialNumber: `SIM-${spec.id}`,
        discoveryPort: false,
        snapshot: 'builtin',
        quirks: spec.quirks,
        ...(spec.maxSubscriptionSeconds === undefined
          ? {}
          : { maxSubscriptionSeconds: spec.maxSubscriptionSeconds }),
      });
      await camera.start();
      cameras[name] = camera;
      config.devices.push({
        id: spec.id,
        name: spec.id,
        adapter: 'onvif-camera',
        grid: spec.grid,
        onvif: { xaddr: camera.xaddr, username: 'admin', password: spec.password ?? password },
      });
    }
    hub = await startTestHub({
      deployment: deploymentOf(config),
      onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 3_000 },
    });
    stopListening = hub.hub.bus.on('device:event', (event) => {
      events.push(event);
    });
  });

  afterAll(async () => {
    stopListening?.();
    await hub?.stop();
    for (const camera of Object.values(cameras)) await camera.stop();
  });

  const sessionOf = async (cameraId: string) => {
    const { body } = await getJson(`${hub.httpUrl}/api/cameras`, integrator);
    const camera = (
      body as { cameras: { id: string; session: Record<string, unknown> | null }[] }
    ).cameras.find((candidate) => candidate.id === cameraId);
    return camera?.session ?? null;
  };
  const subscribed = (cameraId: string) =>
    eventually(async () => (await sessionOf(cameraId))?.state === 'subscribed', 8_000);
  const eventOf = (cameraId: string, type: string, after = 0) =>
    eventually(() =>
      events.slice(after).some((event) => event.deviceId === cameraId && event.type === type),
    ).then(
      () =>
        events
          .slice(after)
          .find((event) => event.deviceId === cameraId && event.type === type) as DeviceEvent,
    );

  it('reads the clock of a camera that refuses an unauthenticated GetSystemDateAndTime and runs two hours fast', async () => {
    const { id } = cases.skewed;
    await subscribed(id);
    const session = await sessionOf(id);
    expect(session?.link).toMatchObject({ authentication: 'ws-username-token', events: 'pull-point' });
    const offset = (session?.link as { clockOffsetMs: number } | undefined)?.clockOffsetMs ?? 0;
    expect(Math.abs(offset - twoHours)).toBeLessThan(5_000);
    // Its events are dated on the hub's clock, not two hours ahead.
    const before = events.length;
    await cameras.skewed.intrusion(true);
    const intrusion = await eventOf(id, 'camera.intrusion', before);
    expect(Math.abs(intrusion.occurredAt - Date.now())).toBeLessThan(5_000);
  });

  it('never asks a camera without GetVideoSources for it, and asks its stream by profile token', async () => {
    const { id } = cases.noVideoSources;
    await subscribed(id);
    const session = await sessionOf(id);
    expect(session).toMatchObject({
      streamUri: expect.stringMatching(/^rtsp:\/\//),
      snapshotUri: cameras.noVideoSources.snapshotUrl,
      link: { profileToken: 'Profile_1' },
    });
    const before = events.length;
    await cameras.noVideoSources.tamper(true);
    await eventOf(id, 'camera.tamper', before);
  });

  it('logs in with HTTP Digest where the camera takes no WS-UsernameToken', async () => {
    const { id } = cases.digest;
    await subscribed(id);
    expect((await sessionOf(id))?.link).toMatchObject({
      authentication: 'http-digest',
      events: 'pull-point',
    });
    const before = events.length;
    await cameras.digest.motion(true);
    await eventOf(id, 'camera.motion', before);
  });

  it('subscribes with Basic Notification where there is no PullPoint: the camera posts to the hub, which renews', async () => {
    const { id } = cases.basic;
    const camera = cameras.basic;
    await subscribed(id);
    expect((await sessionOf(id))?.link).toMatchObject({ events: 'basic-notification' });
    expect(camera.basicSubscriptionCount).toBe(1);
    expect(camera.basicConsumers[0]).toMatch(new RegExp(`^${hub.httpUrl}/onvif/notify/[\\w-]{32}$`));
    const before = events.length;
    await camera.intrusion(true);
    await eventOf(id, 'camera.intrusion', before);
    // The camera grants 2 s: only renewals keep the one subscription alive.
    const renewalsBefore = camera.renewals;
    await eventually(() => camera.renewals >= renewalsBefore + 3, 10_000);
    expect(camera.basicSubscriptionCount).toBe(1);
    expect(camera.notifyStatuses.every((status) => status === 200)).toBe(true);
  });

  it('replays real cameras’ notifications over Basic Notification, and counts a topic it does not decode', async () => {
    const { id } = cases.basic;
    await subscribed(id);
    const before = events.length;
    // Home Assistant's test data: a TP-Link camera's person detection (test_tapo_cellmotiondetector_person), and
    // a CPU usage report (parsers.py tns1:Monitoring/ProcessorUsage), a topic the adapter leaves undecoded.
    const statuses = await cameras.basic.notifyRaw([
      '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/People</wsnt:Topic>' +
        '<wsnt:Message><tt:Message UtcTime="2025-01-03T20:09:22Z" PropertyOperation="Changed">' +
        '<tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vsconf"/><tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="VideoAnalyticsToken"/><tt:SimpleItem Name="Rule" Value="MyPeopleDetectorRule"/></tt:Source>' +
        '<tt:Data><tt:SimpleItem Name="IsPeople" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>',
      '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:Monitoring/ProcessorUsage</wsnt:Topic>' +
        '<wsnt:Message><tt:Message UtcTime="2025-01-03T20:09:22Z" PropertyOperation="Changed">' +
        '<tt:Source/><tt:Data><tt:SimpleItem Name="Value" Value="0.21"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>',
    ]);
    expect(statuses).toEqual([200]);
    const person = await eventOf(id, 'camera.person', before);
    expect(person.attributes).toEqual({ source: 'MyPeopleDetectorRule' });
    expect(await metricValue(hub.httpUrl, `gridhub_camera_unknown_topics_total{camera="${id}"}`)).toBe(1);
    expect(hub.logs.text).toContain('"topic":"Monitoring/ProcessorUsage"');
  });

  it('refuses and counts a Notify to an unknown consumer address, garbage, and one too large', async () => {
    const refused = (reason: string) =>
      metricValue(hub.httpUrl, `gridhub_messages_refused_total{reason="${reason}"}`);
    const [unauthenticated, malformed, oversized] = [
      await refused('unauthenticated'),
      await refused('malformed'),
      await refused('oversized'),
    ];
    const post = (url: string, body: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/soap+xml' }, body });
    const guessed = await post(`${hub.httpUrl}/onvif/notify/guessed-token`, '<s:Envelope/>');
    expect(guessed.status).toBe(404);
    const consumer = cameras.basic.basicConsumers[0] as string;
    const garbage = await post(
      consumer,
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>',
    );
    expect(garbage.status).toBe(400);
    const huge = await post(consumer, `<x>${'a'.repeat(300 * 1024)}</x>`);
    expect(huge.status).toBe(413);
    expect(await refused('unauthenticated')).toBe(unauthenticated + 1);
    expect(await refused('malformed')).toBe(malformed + 1);
    expect(await refused('oversized')).toBe(oversized + 1);
    // Kept as dead letters by shape, without what was sent.
    const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=10`, 'demo-admin');
    const letters = (body as { deadLetters: { topic: string; reason: string; deviceId: string | null }[] })
      .deadLetters;
    expect(
      letters.filter((letter) => letter.topic === 'onvif/notify').map((letter) => letter.reason),
    ).toEqual(expect.arrayContaining(['unauthenticated', 'malformed', 'oversized']));
    expect(letters.find((letter) => letter.reason === 'malformed')?.deviceId).toBe(cases.basic.id);
    expect(JSON.stringify(letters)).not.toContain('guessed-token');
    // Its session goes on.
    expect((await sessionOf(cases.basic.id))?.state).toBe('subscribed');
  });

  it('takes a property’s Initialized message as a state, never as a line crossed, on every (re)subscription', async () => {
    const { id } = cases.initialized;
    const camera = cameras.initialized;
    await subscribed(id);
    const crossed = () =>
      events.filter((event) => event.deviceId === id && event.type === 'camera.line_crossed');
    // Resubscribed after the camera forgot its subscriptions: Initialized messages again.
    const renewalsBefore = await metricValue(
      hub.httpUrl,
      `gridhub_camera_session_failures_total{camera="${id}"}`,
    );
    camera.dropSubscriptions();
    await eventually(
      async () =>
        (await metricValue(hub.httpUrl, `gridhub_camera_session_failures_total{camera="${id}"}`)) >
          renewalsBefore && camera.subscriptionCount === 1,
      8_000,
    );
    await subscribed(id);
    // The motion it raises after the resubscription comes after its Initialized messages: by then they are decoded.
    const before = events.length;
    await camera.motion(true);
    await eventOf(id, 'camera.motion', before);
    expect(crossed()).toEqual([]);
    await camera.lineCross(5);
    await eventually(() => crossed().length === 1);
    expect(crossed()[0]?.attributes).toMatchObject({ objectId: '5' });
  });

  it('names the ONVIF operation that failed and the camera’s answer: in the API, the health and the log', async () => {
    const { id } = cases.refused;
    await eventually(async () => (await sessionOf(id))?.failure !== undefined, 8_000);
    const session = await sessionOf(id);
    expect(session?.state).not.toBe('subscribed');
    expect(session?.failure).toEqual({
      operation: 'GetCapabilities',
      answer: expect.stringContaining('ter:NotAuthorized'),
      at: expect.any(String),
    });
    const health = hub.hub.health().components.cameras as { failures?: Record<string, string> };
    expect(health.failures?.[id]).toMatch(/^GetCapabilities: HTTP 400, fault s:Sender\/ter:NotAuthorized/);
    expect(hub.logs.text).toMatch(
      /"operation":"GetCapabilities","answer":"HTTP 400, fault s:Sender\/ter:NotAuthorized/,
    );
    expect(hub.logs.text).not.toContain('not-the-camera-password');
  });
});

describe('camera sessions start after the broker', () => {
  it("publishes a camera incident raised at once on the incident feed, with no 'broker is not started'", async () => {
    const camera = new OnvifCameraSimulator({
      username: 'admin',
      password,
      name: 'Tampered at start',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-FW',
      serialNumber: 'SIM-FW-ORDER',
      discoveryPort: false,
      snapshot: 'builtin',
    });
    await camera.start();
    // Covered before the hub starts: the subscription's Initialized message raises camera.tamper at once.
    await camera.tamper(true);
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: 'cam-fw-order',
      name: 'cam-fw-order',
      adapter: 'onvif-camera',
      grid: 'grid-luming-01',
      onvif: { xaddr: camera.xaddr, username: 'admin', password },
    });
    const hub = await startTestHub({
      deployment: deploymentOf(config),
      onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 3_000 },
    });
    try {
      await eventually(
        async () =>
          (
            (await getJson(`${hub.httpUrl}/api/incidents`, 'demo-admin')).body as {
              incidents?: { device: { id: string } }[];
            }
          ).incidents?.some((incident) => incident.device.id === 'cam-fw-order') === true,
        8_000,
      );
      // Give the feed's publish its turn.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(hub.logs.text).not.toContain('incident feed publish failed');
      expect(hub.logs.text).not.toContain('the broker is not started');
    } finally {
      await hub.stop();
      await camera.stop();
    }
  });
});

describe('cameras.notifyUrl', () => {
  it('is the address Basic Notification subscriptions give cameras, instead of the HTTP listener', async () => {
    const camera = new OnvifCameraSimulator({
      username: 'admin',
      password,
      name: 'Behind NAT',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-FW',
      serialNumber: 'SIM-FW-NAT',
      discoveryPort: false,
      snapshot: 'builtin',
      quirks: { events: 'basic-notification' },
    });
    await camera.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[]; cameras?: unknown };
    // A loopback address where nothing listens: the hub as the cameras' network would reach it.
    config.cameras = { notifyUrl: 'http://127.0.0.2:9/gridhub/' };
    config.devices.push({
      id: 'cam-fw-nat',
      name: 'cam-fw-nat',
      adapter: 'onvif-camera',
      grid: 'grid-luming-01',
      onvif: { xaddr: camera.xaddr, username: 'admin', password },
    });
    const hub = await startTestHub({
      deployment: deploymentOf(config),
      onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 3_000 },
    });
    try {
      await eventually(() => camera.basicSubscriptionCount === 1, 8_000);
      expect(camera.basicConsumers[0]).toMatch(
        /^http:\/\/127\.0\.0\.2:9\/gridhub\/onvif\/notify\/[\w-]{32}$/,
      );
    } finally {
      await hub.stop();
      await camera.stop();
    }
  });
});
