import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * network.outbound as a production config would have it: loopback NOT allowed. The tests' servers are all on
 * loopback, so the one address that must be reachable (a camera, a webhook receiver) is 127.0.0.2, allowed by
 * name (`127.0.0.2/32`), while a trap on 127.0.0.1 records any connection the hub should never have made.
 */
const network = { outbound: { cameras: ['private', '127.0.0.2/32'], webhooks: ['public', '127.0.0.2/32'] } };
const cameraPassword = 'policy-camera-pass-1';

/** A TCP listener that counts every connection made to it, HTTP or not (ffmpeg's RTSP would be one too). */
class Trap {
  connections = 0;
  readonly server: Server = createServer((_request, response) => response.end('secret'));
  constructor() {
    this.server.on('connection', () => {
      this.connections++;
    });
  }
  async start(host: string): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const refusals = (hub: TestHub, purpose: string, reason: string) =>
  metricValue(hub.httpUrl, `gridhub_outbound_refusals_total{purpose="${purpose}",reason="${reason}"}`);

describe('outbound address policy: the hub connects only where network.outbound allows', () => {
  const trap = new Trap();
  const receiver = new Trap();
  const received: string[] = [];
  let trapPort: number;
  let camera: OnvifCameraSimulator;
  let hub: TestHub;
  let officer: RecordingClient;

  beforeAll(async () => {
    trapPort = await trap.start('127.0.0.1');
    receiver.server.on('request', (request) => received.push(String(request.headers['x-gridhub-event'])));
    const receiverPort = await receiver.start('127.0.0.2');
    camera = new OnvifCameraSimulator({
      host: '127.0.0.2',
      username: 'admin',
      password: cameraPassword,
      name: 'Policy camera',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-1',
      serialNumber: 'SIM-POLICY-1',
      discoveryPort: false,
    });
    // A camera reached at an allowed address that points the hub at its own loopback and at the metadata service.
    camera.handOutUris({
      snapshotUri: `http://127.0.0.1:${trapPort}/snapshot.jpg`,
      streamUri: 'rtsp://169.254.169.254:554/latest/meta-data',
    });
    await camera.start();
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.network = network;
    config.devices.push(
      {
        id: 'cam-policy-allowed',
        name: 'Camera at an allowed address',
        adapter: 'onvif-camera',
        grid: 'grid-luming-02',
        onvif: { xaddr: camera.xaddr, username: 'admin', password: cameraPassword },
      },
      {
        // A name passes config validation; what it resolves to is checked at each connect.
        id: 'cam-policy-localhost',
        name: 'Camera whose name resolves to loopback',
        adapter: 'onvif-camera',
        grid: 'grid-luming-02',
        onvif: {
          xaddr: `http://localhost:${trapPort}/onvif/device_service`,
          username: 'admin',
          password: cameraPassword,
        },
      },
    );
    config.outbound = {
      webhooks: [
        {
          id: 'to-localhost',
          url: `http://hook-user:hook-password-9@localhost:${trapPort}/hook`,
          secret: 'policy-webhook-secret-1',
          events: ['new'],
          maxAttempts: 3,
          backoffSeconds: 0.05,
        },
        {
          id: 'allowed',
          url: `http://127.0.0.2:${receiverPort}/hook`,
          secret: 'policy-webhook-secret-2',
          events: ['new'],
        },
      ],
    };
    config.media = { clipSeconds: 1, rtspTransport: 'udp' };
    hub = await startTestHub({
      deployment: deploymentOf(config),
      onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 2_000 },
    });
    officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
  });

  afterAll(async () => {
    officer?.close();
    await hub?.stop();
    await camera?.stop();
    await trap.stop();
    await receiver.stop();
  });

  it('refuses to provision a camera at the hub’s loopback, by address or by name, and never contacts it', async () => {
    const provision = (id: string, xaddr: string) =>
      postJson<{ error: { code: string; message: string; problems: string[] } }>(
        `${hub.httpUrl}/api/devices`,
        'demo-integrator-qinghe',
        {
          id,
          name: 'Provisioned camera',
          adapter: 'onvif-camera',
          grid: 'grid-luming-02',
          onvif: { xaddr, username: 'admin', password: 'provisioned-pw-1' },
        },
      );
    const before = await refusals(hub, 'onvif', 'loopback');
    const byAddress = await provision(
      'cam-rest-loopback',
      `http://127.0.0.1:${trapPort}/onvif/device_service`,
    );
    expect(byAddress).toEqual({
      status: 400,
      body: {
        error: {
          code: 'invalid_request',
          message: 'the camera address is refused',
          problems: [
            'body.onvif.xaddr: refused: 127.0.0.1 is a loopback address, not allowed by network.outbound.cameras',
          ],
        },
      },
    });
    const byName = await provision('cam-rest-localhost', `http://localhost:${trapPort}/onvif/device_service`);
    expect(byName.status).toBe(400);
    expect(byName.body.error.problems[0]).toMatch(
      /^body\.onvif\.xaddr: refused: localhost \((127\.0\.0\.1|::1)\) is a loopback address/,
    );
    const metadata = await provision('cam-rest-metadata', 'http://[::ffff:169.254.169.254]/');
    expect(metadata.body.error.problems).toEqual([
      'body.onvif.xaddr: refused: ::ffff:a9fe:a9fe is a cloud metadata address, not allowed by network.outbound.cameras',
    ]);
    // The configured camera whose name resolves to loopback is refused meanwhile too, at each retry.
    expect(await refusals(hub, 'onvif', 'loopback')).toBeGreaterThanOrEqual(before + 2);
    expect(await refusals(hub, 'onvif', 'metadata')).toBe(1);
    for (const id of ['cam-rest-loopback', 'cam-rest-localhost', 'cam-rest-metadata'])
      expect(hub.logs.text).toMatch(new RegExp(`"deviceId":"${id}".*outbound connection refused`));
    for (const id of ['cam-rest-loopback', 'cam-rest-localhost'])
      expect((await getJson(`${hub.httpUrl}/api/devices/${id}`, 'demo-integrator-qinghe')).status).toBe(404);
    // The refusal is logged with who asked and from where, and never with the camera's password.
    expect(hub.logs.text).toMatch(/"remote":"127\.0\.0\.1".*outbound connection refused/);
    expect(hub.logs.text).not.toContain('provisioned-pw-1');

    // An address the list allows is accepted (nothing listens on its port: its session just fails, on loopback;
    // the tests never send to a private network, so `private` itself is proven by the unit tests).
    const allowed = await provision('cam-rest-private', 'http://127.0.0.2:1/onvif/device_service');
    expect(allowed.status).toBe(201);
  });

  it('never connects a configured camera whose name resolves to loopback: its session is refused and counted', async () => {
    await eventually(async () => (await refusals(hub, 'onvif', 'loopback')) >= 3);
    expect(hub.testHandle.cameras.describe('cam-policy-localhost')?.state).not.toBe('subscribed');
    expect(hub.logs.text).toMatch(/"cameraId":"cam-policy-localhost".*outbound connection refused/);
  });

  it('connects a camera at an allowed address, but refuses the loopback snapshot URI and metadata stream it hands out', async () => {
    await eventually(() => hub.testHandle.cameras.describe('cam-policy-allowed')?.state === 'subscribed');
    expect(hub.logs.text).toContain('the camera hands out a snapshot URI that will be refused');
    await camera.intrusion(true);
    let incident: Incident | undefined;
    for (let n = 1; incident === undefined; n++) {
      const candidate = (await officer.nth('incident:new', n)) as Incident;
      if (candidate.device.id === 'cam-policy-allowed') incident = candidate;
    }
    const evidence = (kind: string) =>
      metricValue(hub.httpUrl, `gridhub_evidence_total{kind="${kind}",outcome="failed"}`);
    await eventually(async () => (await evidence('clip')) === 1, 10_000);
    expect(await evidence('snapshot')).toBe(1);
    expect(await refusals(hub, 'snapshot', 'loopback')).toBe(1);
    // The snapshot falls back to a frame of the stream, then the clip: both refused before ffmpeg starts.
    expect(await refusals(hub, 'stream', 'metadata')).toBe(2);
    expect(hub.logs.text).not.toContain(cameraPassword);
  });

  it('refuses a webhook whose name resolves to loopback at once, without retrying, and delivers the allowed one', async () => {
    await eventually(() => received.length >= 1);
    await eventually(
      async () => (await metricValue(hub.httpUrl, 'gridhub_webhook_deliveries_total{outcome="failed"}')) >= 1,
    );
    expect(await refusals(hub, 'webhook', 'loopback')).toBe(
      await metricValue(hub.httpUrl, 'gridhub_webhook_deliveries_total{outcome="failed"}'),
    );
    expect(await metricValue(hub.httpUrl, 'gridhub_webhook_deliveries_total{outcome="retried"}')).toBe(0);
    expect(received[0]).toBe('new');
    expect(hub.logs.text).toMatch(/"webhook":"to-localhost".*outbound connection refused/);
    expect(hub.logs.text).not.toContain('hook-password-9');
  });

  it('contacted nothing on loopback: not the trap, not by any path', () => {
    expect(trap.connections).toBe(0);
  });

  it('reports refused camera and webhook addresses in the config, every one at once', () => {
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.network = network;
    config.devices.push({
      id: 'cam-config-loopback',
      name: 'Camera on loopback',
      adapter: 'onvif-camera',
      grid: 'grid-luming-02',
      onvif: { xaddr: 'http://127.0.0.1:8000/onvif/device_service', username: 'admin', password: 'pw' },
    });
    config.outbound = {
      webhooks: [
        {
          id: 'metadata',
          url: 'http://169.254.169.254/latest/meta-data/',
          secret: 'policy-webhook-secret-3',
        },
        { id: 'private', url: 'http://10.0.0.8/hook', secret: 'policy-webhook-secret-4' },
      ],
    };
    const index = config.devices.length - 1;
    expect(() => deploymentOf(config)).toThrow(
      expect.objectContaining({
        problems: [
          `devices[${index}].onvif.xaddr: 127.0.0.1 is a loopback address, not allowed by network.outbound.cameras`,
          'outbound.webhooks[0].url: 169.254.169.254 is a cloud metadata address, not allowed by network.outbound.webhooks',
          'outbound.webhooks[1].url: 10.0.0.8 is outside the networks allowed by network.outbound.webhooks',
        ],
      }),
    );
  });
});
