import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessAlertJson, cameraAlertXml, type DeviceIdentity } from '../../simulators/hikvision/alerts.ts';
import { HikvisionSimulator } from '../../simulators/hikvision/hikvision-device.ts';
import { DigestGuard } from '../../simulators/shared/http-digest.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import { readAlert } from '../../src/ingest/isapi-alert.ts';
import { realPayloads } from '../devices/hikvision-isapi.payloads.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  projectRoot,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * Proof by others, for Hikvision ISAPI:
 * - an independent client, npm `node-hikvision-api` (0.0.2, Ryan Hunt, GPL-3.0), reads the simulator's alert stream;
 * - the real payloads of test/devices/hikvision-isapi.payloads.ts, published by others from real devices, are
 *   replayed to the hub over real HTTP, pushed to its listener and served as an alert stream it follows;
 * - the simulator writes alerts of the same shape as those real payloads.
 */

const replaySecret = 'hik-replay-secret-01';
const streamPassword = 'replay-admin-pass';

/** The real payloads as one alert stream, written as the DS-K1T342MWX capture is: LF line ends, Content-Length. */
function replayStream(): string {
  return realPayloads
    .map(
      (payload) =>
        `--MIME_boundary\nContent-Type: ${payload.contentType}\nContent-Length: ${Buffer.byteLength(payload.body)}\n\n${payload.body}\n`,
    )
    .join('');
}

let hub: TestHub;
let replayServer: Server;
const events: DeviceEvent[] = [];

beforeAll(async () => {
  // A device that serves the real payloads on its alert stream, behind Digest as real firmware.
  const digest = new DigestGuard('DS-K1T342MWX');
  replayServer = createServer((request, response) => {
    const verdict = digest.verify(
      request.headers.authorization,
      request.method ?? 'GET',
      request.url ?? '/',
      {
        username: 'admin',
        password: streamPassword,
      },
    );
    if (verdict !== 'ok') {
      response.writeHead(401, { 'www-authenticate': digest.challenge(verdict === 'stale') }).end();
      return;
    }
    if (request.url !== '/ISAPI/Event/notification/alertStream') {
      response.writeHead(404).end();
      return;
    }
    response.useChunkedEncodingByDefault = false;
    response.writeHead(200, {
      'content-type': 'multipart/mixed; boundary=MIME_boundary',
      connection: 'close',
    });
    response.write(replayStream());
    // Held open, as a device holds its stream.
  });
  await new Promise<void>((resolve) => replayServer.listen(0, '127.0.0.1', () => resolve()));
  const config = demoConfig() as unknown as { devices: unknown[]; receivers: unknown };
  config.receivers = { http: { port: 0 } };
  config.devices = [
    ...config.devices,
    {
      id: 'hik-replay-push',
      name: 'Replayed pushes',
      adapter: 'hikvision-isapi',
      grid: 'grid-xijiao-01',
      secret: replaySecret,
    },
    {
      id: 'hik-replay-stream',
      name: 'Replayed stream',
      adapter: 'hikvision-isapi',
      grid: 'grid-xijiao-01',
      http: {
        url: `http://127.0.0.1:${(replayServer.address() as AddressInfo).port}`,
        username: 'admin',
        password: streamPassword,
      },
    },
  ];
  // The stream is held open: the hub must not take its silence for a stall while the test runs.
  hub = await startTestHub({ deployment: deploymentOf(config), hikvisionTiming: { stallMs: 60_000 } });
  hub.hub.bus.on('device:event', (event) => events.push(event));
});

afterAll(async () => {
  await hub?.stop();
  replayServer?.closeAllConnections();
  await new Promise<void>((resolve) => replayServer?.close(() => resolve()));
});

const expectedTypes = realPayloads.flatMap((payload) => payload.expectedTypes);

describe('the real payloads, replayed to the hub over HTTP', () => {
  it('become the expected events when a device streams them', async () => {
    await eventually(
      () => events.filter((event) => event.deviceId === 'hik-replay-stream').length >= expectedTypes.length,
    );
    const streamed = events.filter((event) => event.deviceId === 'hik-replay-stream');
    expect(streamed.map((event) => event.type)).toEqual(expectedTypes);
    expect(JSON.stringify(streamed)).not.toContain('REDACTED_NAME');
  });

  it.each(realPayloads)('become the expected events when a device pushes them: $name', async (payload) => {
    const before = events.filter((event) => event.deviceId === 'hik-replay-push').length;
    const response = await fetch(`http://127.0.0.1:${hub.hub.deviceHttpPort}/hikvision/alarm`, {
      method: 'POST',
      headers: {
        'content-type': payload.contentType,
        authorization: `Basic ${Buffer.from(`hik-replay-push:${replaySecret}`).toString('base64')}`,
      },
      body: payload.body,
    });
    expect(response.status).toBe(200);
    // Answered once committed: the events are there by now.
    const pushed = events.filter((event) => event.deviceId === 'hik-replay-push').slice(before);
    expect(pushed.map((event) => event.type)).toEqual(payload.expectedTypes);
    if (payload.expectedAttributes !== undefined)
      expect(pushed[0]?.attributes).toMatchObject(payload.expectedAttributes);
  });
});

describe('the simulator', () => {
  const device: DeviceIdentity = {
    ipAddress: '127.0.0.1',
    port: 80,
    mac: '44:19:b6:00:00:01',
    serial: 'DS-2CD2346G2-ISU20230101AACHF12345678',
    model: 'DS-2CD2346G2-ISU/SL',
    name: 'Camera 01',
  };
  const keysOf = (value: unknown): string[] =>
    typeof value === 'object' && value !== null ? Object.keys(value as Record<string, unknown>) : [];
  const realAlerts = realPayloads.map((payload) => readAlert(Buffer.from(payload.body)));

  it('writes camera alerts with only the fields real cameras write', () => {
    const realKeys = new Set(
      realAlerts.filter((alert) => alert.AccessControllerEvent === undefined).flatMap(keysOf),
    );
    const simulated = readAlert(
      Buffer.from(
        cameraAlertXml(
          device,
          {
            eventType: 'fielddetection',
            eventState: 'active',
            description: 'fielddetection alarm',
            channel: 1,
            activePostCount: 1,
            region: { id: 1, target: 'human' },
          },
          '2026-12-07T10:00:00+08:00',
        ),
      ),
    );
    expect(keysOf(simulated).filter((key) => !realKeys.has(key))).toEqual([]);
    const region = (simulated.DetectionRegionList as { DetectionRegionEntry: unknown }).DetectionRegionEntry;
    const realRegion = ((realAlerts[1]?.DetectionRegionList ?? {}) as { DetectionRegionEntry?: unknown })
      .DetectionRegionEntry;
    expect(keysOf(region).filter((key) => !keysOf(realRegion).includes(key))).toEqual([]);
  });

  it("writes access controllers' alerts with only the fields real terminals write", () => {
    const realAccess = realAlerts.filter((alert) => alert.AccessControllerEvent !== undefined);
    const realKeys = new Set(realAccess.flatMap(keysOf));
    // cardNo is in ISAPI's AccessControllerEvent, though no card was shown to the captured terminal.
    const realEventKeys = new Set([
      ...realAccess.flatMap((alert) => keysOf(alert.AccessControllerEvent)),
      'cardNo',
    ]);
    const simulated = readAlert(
      Buffer.from(
        accessAlertJson(
          device,
          {
            major: 5,
            minor: 9,
            door: 1,
            reader: 1,
            cardNo: '3302789145',
            name: 'Li Na',
            employeeNo: 'E1',
            serialNo: 7,
            verifyMode: 'card',
          },
          '2026-12-07T10:00:00+08:00',
        ),
      ),
    );
    expect(keysOf(simulated).filter((key) => !realKeys.has(key))).toEqual([]);
    expect(keysOf(simulated.AccessControllerEvent).filter((key) => !realEventKeys.has(key))).toEqual([]);
  });
});

describe('an independent client: node-hikvision-api', () => {
  let camera: HikvisionSimulator;
  let client: ChildProcess | undefined;

  beforeAll(async () => {
    // node-hikvision-api logs in with Basic, as cameras set to "digest/basic" allow.
    camera = new HikvisionSimulator({
      kind: 'camera',
      username: 'admin',
      password: 'client-pass-123',
      acceptBasic: true,
      keepaliveMs: 300,
    });
    await camera.start();
  });

  afterAll(async () => {
    client?.kill();
    await camera?.stop();
  });

  it("reads the simulator's alert stream: motion starts, and the keepalive ends it", async () => {
    // In a process of its own: the module replaces String.prototype.startsWith, and its alarm handler refers to a
    // global `self` (a browser global in Node's place) that must be the client.
    const script = `
      const { hikvision } = require('node-hikvision-api');
      const camera = new hikvision({ host: '127.0.0.1', port: ${camera.port}, user: 'admin', pass: 'client-pass-123', log: false });
      globalThis.self = camera;
      camera.on('alarm', (code, action, index) => console.log(JSON.stringify({ code, action, index })));
      camera.on('error', (error) => console.log(JSON.stringify({ error: String(error) })));
    `;
    client = spawn(process.execPath, ['-e', script], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const alarms: unknown[] = [];
    createInterface({ input: client.stdout as NodeJS.ReadableStream }).on('line', (line) =>
      alarms.push(JSON.parse(line)),
    );
    await eventually(() => camera.openStreams === 1);
    await camera.motion(true, 1);
    await eventually(() => alarms.length >= 2, 5_000);
    expect(alarms.slice(0, 2)).toEqual([
      { code: 'VideoMotion', action: 'Start', index: 1 },
      { code: 'VideoMotion', action: 'Stop', index: 1 },
    ]);
  });
});
