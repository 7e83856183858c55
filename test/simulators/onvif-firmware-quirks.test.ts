import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import onvif from 'onvif';
import { afterEach, describe, expect, it } from 'vitest';
import { type FirmwareQuirks, OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';

/**
 * The simulator's firmware quirks (firmware-quirks.ts) proven against a client this project did not write, the
 * `onvif` npm package (agsh): its HTTP Digest, and its Basic Notification Subscribe with a consumer of our own.
 */

const USER = 'admin';
const PASSWORD = 'quirks-password-1';
const cameras: OnvifCameraSimulator[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const camera of cameras.splice(0)) await camera.stop();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function startCamera(quirks: FirmwareQuirks): Promise<OnvifCameraSimulator> {
  const camera = new OnvifCameraSimulator({
    username: USER,
    password: PASSWORD,
    name: 'Quirks',
    manufacturer: 'Gridhub Sim',
    model: 'SIM-Q',
    serialNumber: `SIM-Q-${cameras.length}`,
    discoveryPort: false,
    snapshot: 'builtin',
    quirks,
  });
  await camera.start();
  cameras.push(camera);
  return camera;
}

// biome-ignore lint/suspicious/noExplicitAny: onvif's answers are linerase'd XML of whatever shape the device sent.
type Any = any;

function call<T = Any>(start: (callback: (error: Error | null, data?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, data) => (error ? reject(error) : resolve(data as T)));
  });
}

async function connect(camera: OnvifCameraSimulator, options: Record<string, unknown> = {}) {
  const client = new onvif.Cam({
    hostname: camera.host,
    port: Number(new URL(camera.address).port),
    username: USER,
    password: PASSWORD,
    autoconnect: false,
    timeout: 5_000,
    ...options,
  });
  await call((callback) => client.connect(callback));
  return client;
}

describe('firmware quirks, read by the onvif (agsh) client', () => {
  it('HTTP Digest only: the client answers the 401 challenge and reads the camera', async () => {
    const camera = await startCamera({ authentication: 'http-digest' });
    const client = await connect(camera, { useWSSecurity: false });
    const information = await call((callback) => client.getDeviceInformation(callback));
    expect(information).toMatchObject({ serialNumber: 'SIM-Q-0' });
  });

  it('HTTP Digest only: a request without it is answered 401 with a Digest challenge', async () => {
    const camera = await startCamera({ authentication: 'http-digest' });
    const answer = await fetch(`${camera.address}/onvif/device_service`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body:
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>' +
        '<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>',
    });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Digest realm="IP Camera", qop="auth", nonce=/);
  });

  it('Basic Notification only: the client subscribes with our consumer, which receives Initialized, then events', async () => {
    const posts: string[] = [];
    const consumer = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        posts.push(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200).end();
      });
    });
    servers.push(consumer);
    await new Promise<void>((resolve) => consumer.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(consumer.address() as AddressInfo).port}/notify`;
    const camera = await startCamera({ events: 'basic-notification' });
    const client = await connect(camera);
    await expect(call((callback) => client.createPullPointSubscription(callback))).rejects.toThrow(
      /Optional Action Not Implemented|ActionNotSupported/,
    );
    const subscription = await call((callback) => client.subscribe({ url }, callback));
    expect(subscription.subscriptionReference.address.href).toContain('/onvif/subscription/');
    expect(camera.basicConsumers).toEqual([url]);
    const waitFor = async (condition: () => boolean) => {
      for (let tries = 0; tries < 100 && !condition(); tries++) await new Promise((r) => setTimeout(r, 20));
      expect(condition()).toBe(true);
    };
    await waitFor(() => posts.some((post) => post.includes('PropertyOperation="Initialized"')));
    expect(posts[0]).toContain('<wsnt:Notify>');
    await camera.intrusion(true);
    await waitFor(() =>
      posts.some(
        (post) =>
          post.includes('tns1:RuleEngine/FieldDetector/ObjectsInside') &&
          post.includes('PropertyOperation="Changed"'),
      ),
    );
    expect(camera.notifyStatuses.every((status) => status === 200)).toBe(true);
  });
});
