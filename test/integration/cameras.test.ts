import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  projectRoot,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

const run = promisify(execFile);
const cameraId = 'cam-luming-02-yard';

describe('ONVIF cameras: sessions, events, liveness, faults — against the camera simulator', () => {
  let camera: OnvifCameraSimulator;
  let hub: TestHub;
  let officer: RecordingClient;

  beforeAll(async () => {
    camera = new OnvifCameraSimulator({
      username: 'admin',
      password: 'camera-password-1',
      name: 'Luming 2 yard',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-1',
      serialNumber: 'SIM-0001',
      discoveryPort: false,
    });
    await camera.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: cameraId,
      name: '鹿鸣2网格院内摄像机 Luming Grid 2 yard camera',
      adapter: 'onvif-camera',
      grid: 'grid-luming-02',
      onvif: { xaddr: camera.xaddr, username: 'admin', password: 'camera-password-1' },
      offlineAfterSeconds: 1,
    });
    hub = await startTestHub({
      deployment: deploymentOf(config),
      onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 3_000 },
    });
    officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
  });

  afterAll(async () => {
    officer?.close();
    await hub?.stop();
    await camera?.stop();
  });

  const incidentOf = async (type: string, after = 0): Promise<Incident> => {
    for (let n = after + 1; ; n++) {
      const incident = (await officer.nth('incident:new', n)) as Incident;
      if (incident.device.id === cameraId && incident.event.type === type) return incident;
    }
  };
  const status = async () =>
    (
      (await getJson(`${hub.httpUrl}/api/devices/${cameraId}`, 'demo-officer-luming')).body as {
        status: DeviceStatus;
      }
    ).status;

  it('connects, subscribes and shows the camera online', async () => {
    await eventually(async () => (await status()).online === true);
    expect(camera.subscriptionCount).toBe(1);
    expect(hub.hub.health().components.cameras).toEqual({ state: 'up', sessions: { subscribed: 1 } });
    const listed = await getJson(`${hub.httpUrl}/api/cameras`, 'demo-officer-luming');
    expect(listed.body).toEqual({
      cameras: [
        {
          id: cameraId,
          name: '鹿鸣2网格院内摄像机 Luming Grid 2 yard camera',
          gridId: 'grid-luming-02',
          disabled: false,
          watches: [],
          session: {
            state: 'subscribed',
            information: {
              manufacturer: 'Gridhub Sim',
              model: 'SIM-1',
              firmwareVersion: expect.any(String),
              serialNumber: 'SIM-0001',
              hardwareId: expect.any(String),
            },
            streamUri: expect.stringMatching(/^rtsp:\/\//),
            snapshotUri: camera.snapshotUrl,
            link: {
              events: 'pull-point',
              authentication: 'ws-username-token',
              clockOffsetMs: expect.any(Number),
              profileToken: 'Profile_1',
            },
          },
        },
      ],
    });
    expect(
      ((await getJson(`${hub.httpUrl}/api/cameras`, 'demo-officer-xijiao')).body as { cameras: unknown[] })
        .cameras,
    ).toEqual([]);
    expect((await getJson(`${hub.httpUrl}/api/cameras`, 'demo-worker-luming-02')).status).toBe(403);
    expect(hub.testHandle.cameras.media(cameraId)).toMatchObject({
      cameraId,
      streamUri: expect.stringMatching(/^rtsp:\/\//),
      snapshotUri: camera.snapshotUrl,
      username: 'admin',
    });
  });

  it('turns every event kind into its normalized event and incident', async () => {
    const before = officer.of('incident:new').length;
    await camera.intrusion(true);
    const intrusion = await incidentOf('camera.intrusion', before);
    expect(intrusion).toMatchObject({
      category: 'intrusion',
      severity: 'critical',
      gridId: 'grid-luming-02',
    });
    await camera.lineCross(42);
    const crossed = await incidentOf('camera.line_crossed', before);
    expect(crossed.event.attributes).toMatchObject({ objectId: '42' });
    await camera.motion(true);
    const motion = await incidentOf('camera.motion', before);
    expect(motion.severity).toBe('info');
    await camera.tamper(true);
    const tamper = await incidentOf('camera.tamper', before);
    expect(tamper).toMatchObject({ category: 'device_tamper', assignees: ['integrator-qinghe'] });
    await camera.tamper(false);
    for (let n = 1; ; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id === tamper.id && change.after.state === 'resolved') {
        expect(change.after.resolution).toBe('cleared by camera.tamper_ended');
        break;
      }
    }
    expect(await metricValue(hub.httpUrl, 'gridhub_events_decoded_total')).toBeGreaterThanOrEqual(6);
  });

  it("decodes the camera's alarm input (a door contact wired to it), and goes on", async () => {
    const seen: string[] = [];
    const stop = hub.hub.bus.on('device:event', (event) => {
      if (event.deviceId === cameraId) seen.push(event.type);
    });
    try {
      await camera.digitalInput(true);
      await eventually(() => seen.includes('alarm.input'));
      expect(
        await metricValue(hub.httpUrl, `gridhub_camera_unknown_topics_total{camera="${cameraId}"}`),
      ).toBe(0);
    } finally {
      stop();
    }
    const before = officer.of('incident:new').length;
    await camera.intrusion(true);
    await incidentOf('camera.intrusion', before);
  });

  it('answers slowly and still delivers', async () => {
    camera.slowAnswers(400);
    const before = officer.of('incident:new').length;
    const startedAt = Date.now();
    await camera.intrusion(true);
    const intrusion = await incidentOf('camera.intrusion', before);
    expect(Date.parse(intrusion.createdAt) - startedAt).toBeGreaterThanOrEqual(400);
    camera.slowAnswers(0);
  });

  it('goes offline when the camera reboots, comes back by itself, and events flow again', async () => {
    const failuresBefore = await metricValue(
      hub.httpUrl,
      `gridhub_camera_session_failures_total{camera="${cameraId}"}`,
    );
    const reboot = camera.reboot(1_500);
    await eventually(async () => (await status()).online === false);
    await reboot;
    await eventually(async () => (await status()).online === true && camera.subscriptionCount === 1, 8_000);
    expect(
      await metricValue(hub.httpUrl, `gridhub_camera_session_failures_total{camera="${cameraId}"}`),
    ).toBeGreaterThan(failuresBefore);
    const before = officer.of('incident:new').length;
    await camera.intrusion(true);
    await incidentOf('camera.intrusion', before);
  });

  it('raises device.offline for a camera that refuses the hub (a changed password), and recovers when it is fixed', async () => {
    const before = officer.of('incident:new').length;
    camera.setPassword('someone-changed-it');
    camera.dropSubscriptions();
    const offline = await incidentOf('device.offline', before);
    expect(offline).toMatchObject({ category: 'device_offline', device: { id: cameraId } });
    camera.setPassword('camera-password-1');
    for (let n = 1; ; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id === offline.id && change.after.state === 'resolved') break;
    }
    expect((await status()).online).toBe(true);
    expect(hub.logs.text).not.toContain('camera-password-1');
  });
});

describe('a camera that grants short subscriptions and short pulls', () => {
  it('is renewed before its subscription expires, so events keep flowing on one subscription', async () => {
    const camera = new OnvifCameraSimulator({
      username: 'admin',
      password: 'camera-password-2',
      name: 'Short-lived',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-1',
      serialNumber: 'SIM-0002',
      discoveryPort: false,
      maxSubscriptionSeconds: 2,
      maxPullWaitMs: 300,
    });
    await camera.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: 'cam-luming-01-lane',
      name: 'Luming 1 lane camera',
      adapter: 'onvif-camera',
      grid: 'grid-luming-01',
      onvif: { xaddr: camera.xaddr, username: 'admin', password: 'camera-password-2' },
    });
    const hub = await startTestHub({
      deployment: deploymentOf(config),
      onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 3_000 },
    });
    const officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
    try {
      await eventually(() => camera.subscriptionCount === 1);
      // Outlive the 2 s subscription twice over: only renewals keep it.
      const subscribedAt = Date.now();
      await eventually(() => camera.renewals >= 3 && Date.now() - subscribedAt > 4_500, 15_000);
      expect(camera.subscriptionCount).toBe(1);
      expect(
        await metricValue(hub.httpUrl, 'gridhub_camera_session_failures_total{camera="cam-luming-01-lane"}'),
      ).toBe(0);
      await camera.intrusion(true);
      for (let n = 1; ; n++) {
        const incident = (await officer.nth('incident:new', n)) as Incident;
        if (incident.device.id === 'cam-luming-01-lane') break;
      }
    } finally {
      officer.close();
      await hub.stop();
      await camera.stop();
    }
  });
});

describe('finding cameras with WS-Discovery: the API call and the command line', () => {
  it('lists a camera on the network with its xaddr, and says which configured device uses it', async () => {
    // Multicast on loopback: the probe goes out of lo, where the simulated camera joined the group.
    const serialNumber = `SIM-DISCOVERY-${process.pid}`;
    const camera = new OnvifCameraSimulator({
      username: 'admin',
      password: 'camera-password-3',
      name: 'Discovered-Cam',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-1',
      serialNumber,
      discoveryPort: 3702,
    });
    await camera.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: 'cam-zhenxing-01-gate',
      name: 'Zhenxing 1 gate camera',
      adapter: 'onvif-camera',
      grid: 'grid-zhenxing-01',
      onvif: { xaddr: camera.xaddr, username: 'admin', password: 'camera-password-3' },
    });
    const hub = await startTestHub({ deployment: deploymentOf(config) });
    try {
      const answer = await postJson<{
        cameras: { endpointReference: string; xaddrs: string[]; deviceId: string | null }[];
      }>(`${hub.httpUrl}/api/cameras/discover`, 'demo-integrator-qinghe', {
        interface: 'lo',
        timeoutMs: 1_500,
      });
      expect(answer.status).toBe(200);
      const found = answer.body.cameras.find(
        (candidate) => candidate.endpointReference === camera.endpointReference,
      );
      expect(found).toEqual({
        endpointReference: camera.endpointReference,
        xaddrs: [camera.xaddr],
        scopes: expect.arrayContaining([expect.stringContaining('/name/Discovered-Cam')]),
        deviceId: 'cam-zhenxing-01-gate',
      });
      expect((await postJson(`${hub.httpUrl}/api/cameras/discover`, 'demo-officer-qinghe')).status).toBe(403);

      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/cameras-cli.ts', 'discover', '--interface', 'lo', '--timeout', '1500'],
        {
          cwd: projectRoot,
        },
      );
      expect(stdout).toContain(`${camera.xaddr}  Discovered-Cam  ${camera.endpointReference}`);
    } finally {
      await hub.stop();
      await camera.stop();
    }
  });
});

describe('a camera provisioned through the API', () => {
  it('is connected at once, raises incidents, and is let go when disabled', async () => {
    const camera = new OnvifCameraSimulator({
      username: 'admin',
      password: 'camera-password-4',
      name: 'Provisioned',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-1',
      serialNumber: 'SIM-0004',
      discoveryPort: false,
    });
    await camera.start();
    const hub = await startTestHub({ onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400 } });
    const officer = await connectClient(hub.httpUrl, 'demo-officer-zhenxing');
    try {
      const created = await postJson(`${hub.httpUrl}/api/devices`, 'demo-integrator-qinghe', {
        id: 'cam-zhenxing-03-lane',
        name: 'Zhenxing 3 lane camera',
        adapter: 'onvif-camera',
        grid: 'grid-zhenxing-03',
        onvif: { xaddr: camera.xaddr, username: 'admin', password: 'camera-password-4' },
      });
      expect(created.status).toBe(201);
      await eventually(() => camera.subscriptionCount === 1);
      await camera.intrusion(true);
      for (let n = 1; ; n++) {
        const incident = (await officer.nth('incident:new', n)) as Incident;
        if (incident.device.id === 'cam-zhenxing-03-lane') break;
      }
      await postJson(`${hub.httpUrl}/api/devices/cam-zhenxing-03-lane/disable`, 'demo-integrator-qinghe');
      expect(hub.hub.health().components.cameras?.sessions).toEqual({});
    } finally {
      officer.close();
      await hub.stop();
      await camera.stop();
    }
  });
});
