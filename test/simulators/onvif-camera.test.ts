import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { decode as decodeJpeg } from 'jpeg-js';
import nodeOnvif from 'node-onvif';
import onvif from 'onvif';
import { afterEach, describe, expect, it } from 'vitest';
import { findFfmpeg, isJpeg, packagedFfmpeg } from '../../simulators/onvif-camera/media.ts';
import { type OnvifCameraOptions, OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';

/**
 * The ONVIF camera simulator proven against two independent third-party clients, `onvif` (agsh) and
 * `node-onvif`, plus raw SOAP, raw WS-Discovery and ffmpeg, all over loopback. Nothing here is mocked.
 */

const USER = 'admin';
const PASSWORD = 'Grid#2025!';

const cameras: OnvifCameraSimulator[] = [];
const clients: Array<{ removeAllListeners(): unknown }> = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.removeAllListeners();
  await Promise.all(cameras.splice(0).map((cam) => cam.stop()));
});

async function startCamera(overrides: Partial<OnvifCameraOptions> = {}): Promise<OnvifCameraSimulator> {
  const cam = new OnvifCameraSimulator({
    username: USER,
    password: PASSWORD,
    name: 'EastGate-Cam-1',
    manufacturer: 'GridSim',
    model: 'GS-IPC-T2',
    serialNumber: 'GS20250001',
    firmwareVersion: 'V5.7.3 build 250101',
    presets: [
      { token: '1', name: 'Gate' },
      { token: '2', name: 'Parking' },
    ],
    discoveryPort: 0,
    ...overrides,
  });
  cameras.push(cam);
  await cam.start();
  return cam;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The onvif (agsh) client, callback API

type OnvifCam = InstanceType<typeof onvif.Cam>;

// biome-ignore lint/suspicious/noExplicitAny: onvif's answers are linerase'd XML of whatever shape the device sent.
type Any = any;

/** Runs one callback-style onvif call as a promise. */
function call<T = Any>(start: (callback: (error: Error | null, data?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, data) => (error ? reject(error) : resolve(data as T)));
  });
}

async function connectOnvif(cam: OnvifCameraSimulator, password = PASSWORD): Promise<OnvifCam> {
  const client = new onvif.Cam({
    hostname: cam.host,
    port: Number(new URL(cam.address).port),
    username: USER,
    password,
    autoconnect: false,
    timeout: 10_000,
  });
  clients.push(client);
  await call((cb) => client.connect(cb));
  return client;
}

/** One PullMessages; `messages` is always an array (onvif unwraps a single message). */
async function pull(client: OnvifCam, messageLimit = 10): Promise<{ response: Any; messages: Any[] }> {
  const response = await call((cb) => client.pullMessages({ messageLimit }, cb));
  const raw = response?.notificationMessage;
  return { response, messages: raw === undefined ? [] : Array.isArray(raw) ? raw : [raw] };
}

/** A notification as topic, operation and data, the way a hub would read it. */
function summarize(message: Any): { topic: string; operation?: string; data: Record<string, unknown> } {
  const body = message.message.message;
  const items = body.data.simpleItem;
  const data: Record<string, unknown> = {};
  for (const item of Array.isArray(items) ? items : [items]) data[item.$.Name] = item.$.Value;
  return { topic: message.topic._, operation: body.$.PropertyOperation, data };
}

describe('the onvif (agsh) client', () => {
  it('connects with the right password and reads device information, profiles, stream and snapshot URIs', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);

    const info = await call((cb) => client.getDeviceInformation(cb));
    expect(info).toMatchObject({
      manufacturer: 'GridSim',
      model: 'GS-IPC-T2',
      serialNumber: 'GS20250001',
      firmwareVersion: 'V5.7.3 build 250101',
    });
    expect(client.uri?.media?.href).toBe(`${cam.address}/onvif/media_service`);
    expect(client.uri?.events?.href).toBe(`${cam.address}/onvif/events_service`);
    expect(client.uri?.ptz?.href).toBe(`${cam.address}/onvif/ptz_service`);
    expect(client.profiles).toHaveLength(1);
    expect(client.profiles?.[0]).toMatchObject({
      $: { token: 'Profile_1' },
      videoEncoderConfiguration: { encoding: 'H264', resolution: { width: 640, height: 360 } },
    });
    expect(client.activeSource).toMatchObject({ profileToken: 'Profile_1', sourceToken: 'VideoSource_1' });
    expect(client.activeSource?.ptz?.token).toBe('PTZConfig_1');

    const stream = await call((cb) => client.getStreamUri({ protocol: 'RTSP' }, cb));
    expect(stream.uri).toBe(cam.rtspUrl);
    const snapshot = await call((cb) => client.getSnapshotUri({}, cb));
    expect(snapshot.uri).toBe(cam.snapshotUrl);
    const scopes: Array<{ scopeItem: string }> = await call((cb) => client.getScopes(cb));
    expect(scopes.map((s) => s.scopeItem)).toContain('onvif://www.onvif.org/name/EastGate-Cam-1');
    const hostname = await call((cb) => client.getHostname(cb));
    expect(hostname).toMatchObject({ fromDHCP: false, name: 'EastGate-Cam-1' });
  });

  it('is refused with ter:NotAuthorized for a wrong password, and follows a password change', async () => {
    const cam = await startCamera();
    await expect(connectOnvif(cam, 'not-the-password')).rejects.toThrow(/Sender not Authorized/);

    cam.setPassword('changed-on-site');
    await expect(connectOnvif(cam, PASSWORD)).rejects.toThrow(/Sender not Authorized/);
    const client = await connectOnvif(cam, 'changed-on-site');
    expect(client.profiles).toHaveLength(1);
  });

  it('delivers the initial state, then motion, tamper, line crossing and intrusion through a PullPoint', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    const subscription = await call((cb) => client.createPullPointSubscription(cb));
    expect(subscription.subscriptionReference.address.href).toMatch(
      new RegExp(`^${cam.address}/onvif/subscription/[0-9a-f-]{36}$`),
    );
    expect(cam.subscriptionCount).toBe(1);

    const initial = await pull(client);
    expect(initial.messages.map(summarize)).toEqual([
      { topic: 'tns1:VideoSource/MotionAlarm', operation: 'Initialized', data: { State: false } },
      {
        topic: 'tns1:RuleEngine/CellMotionDetector/Motion',
        operation: 'Initialized',
        data: { IsMotion: false },
      },
      {
        topic: 'tns1:VideoSource/GlobalSceneChange/ImagingService',
        operation: 'Initialized',
        data: { State: false },
      },
      {
        topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside',
        operation: 'Initialized',
        data: { IsInside: false },
      },
      { topic: 'tns1:Device/Trigger/DigitalInput', operation: 'Initialized', data: { LogicalState: false } },
      { topic: 'tns1:RuleEngine/TamperDetector/Tamper', operation: 'Initialized', data: { IsTamper: false } },
    ]);

    const before = Date.now();
    expect(await cam.motion()).toBe(1);
    await cam.tamper();
    await cam.lineCross(7);
    await cam.intrusion();
    const { messages } = await pull(client);
    expect(messages.map(summarize)).toEqual([
      { topic: 'tns1:VideoSource/MotionAlarm', operation: 'Changed', data: { State: true } },
      { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', operation: 'Changed', data: { IsMotion: true } },
      {
        topic: 'tns1:VideoSource/GlobalSceneChange/ImagingService',
        operation: 'Changed',
        data: { State: true },
      },
      { topic: 'tns1:RuleEngine/LineDetector/Crossed', operation: undefined, data: { ObjectId: 7 } },
      {
        topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside',
        operation: 'Changed',
        data: { IsInside: true },
      },
    ]);
    const crossing = messages[3].message.message;
    expect(crossing.source.simpleItem.map((item: Any) => item.$.Name)).toEqual([
      'VideoSourceConfigurationToken',
      'VideoAnalyticsConfigurationToken',
      'Rule',
    ]);
    const utcTime: Date = crossing.$.UtcTime;
    expect(utcTime.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(utcTime.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('holds a PullMessages open until an event arrives', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    await call((cb) => client.createPullPointSubscription(cb));
    await pull(client); // the initial state

    const started = Date.now();
    const pulling = pull(client); // onvif asks for Timeout PT1M
    await waitFor(() => cam.pendingPulls === 1, 'the pull to be waiting');
    await cam.motion(false);
    const { messages } = await pulling;
    expect(messages.map(summarize).map((m) => [m.topic, m.data])).toEqual([
      ['tns1:VideoSource/MotionAlarm', { State: false }],
      ['tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: false }],
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('extends the termination time with Renew', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    const created = await call((cb) => client.createPullPointSubscription(cb));
    // onvif asks for PT2M on both.
    expect(created.terminationTime.getTime() - created.currentTime.getTime()).toBe(120_000);
    await waitFor(() => Date.now() > created.currentTime.getTime() + 20, 'the clock to move on');
    const renewed = await call((cb) => client.renew({}, cb));
    expect(renewed.terminationTime.getTime() - renewed.currentTime.getTime()).toBe(120_000);
    expect(renewed.terminationTime.getTime()).toBeGreaterThan(created.terminationTime.getTime());
  });

  it('loses its subscription in a reboot, and a new one works once the camera is back', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    await call((cb) => client.createPullPointSubscription(cb));
    const bootBefore = cam.bootTime?.getTime() ?? 0;

    const rebooting = cam.reboot(300);
    await expect(call((cb) => client.getSystemDateAndTime(cb))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await rebooting;
    expect(cam.running).toBe(true);
    expect(cam.bootTime?.getTime()).toBeGreaterThan(bootBefore);
    expect(cam.subscriptionCount).toBe(0);

    await expect(pull(client)).rejects.toThrow(/Subscription unknown or expired/);
    await call((cb) => client.createPullPointSubscription(cb));
    await pull(client); // the initial state
    await cam.tamper(true);
    const { messages } = await pull(client);
    expect(messages.map(summarize)).toEqual([
      {
        topic: 'tns1:VideoSource/GlobalSceneChange/ImagingService',
        operation: 'Changed',
        data: { State: true },
      },
    ]);
  });

  it('fails the next pull after the camera drops its subscriptions', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    await call((cb) => client.createPullPointSubscription(cb));
    cam.dropSubscriptions();
    expect(cam.subscriptionCount).toBe(0);
    await expect(pull(client)).rejects.toThrow(/Subscription unknown or expired/);
  });

  it('waits as long as slowAnswers says before every answer', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    cam.slowAnswers(600);
    let started = Date.now();
    await call((cb) => client.getDeviceInformation(cb));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    cam.slowAnswers(0);
    started = Date.now();
    await call((cb) => client.getDeviceInformation(cb));
    expect(Date.now() - started).toBeLessThan(600);
  });

  it('lists the PTZ presets and goes to one', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    const presets = await call((cb) => client.getPresets({}, cb));
    expect(Object.keys(presets)).toEqual(['Gate', 'Parking']);
    expect(presets.Parking.$.token).toBe(2); // onvif turns numeric text into numbers

    await call((cb) => client.gotoPreset({ preset: '2' }, cb));
    expect(cam.lastPreset).toBe('2');
    await expect(call((cb) => client.gotoPreset({ preset: '9' }, cb))).rejects.toThrow(
      /preset token 9 does not exist/,
    );
    expect(cam.lastPreset).toBe('2');
  });

  it('has no PTZ service on a camera without presets', async () => {
    const cam = await startCamera({ presets: [] });
    const client = await connectOnvif(cam);
    expect(client.uri?.ptz).toBeUndefined();
    expect(client.activeSource?.ptz).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// node-onvif

describe('the node-onvif client', () => {
  it('initialises with credentials: device information, profile, stream and snapshot URIs', async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: PASSWORD });
    const info = await device.init();
    expect(info).toMatchObject({ Manufacturer: 'GridSim', Model: 'GS-IPC-T2', SerialNumber: 'GS20250001' });
    const profile = device.getCurrentProfile();
    expect(profile).toMatchObject({
      token: 'Profile_1',
      name: 'mainStream',
      snapshot: cam.snapshotUrl,
      stream: { udp: cam.rtspUrl, rtsp: cam.rtspUrl },
      video: { encoder: { encoding: 'H264', resolution: { width: 640, height: 360 }, framerate: 10 } },
      ptz: { range: { x: { min: -1, max: 1 }, z: { min: 0, max: 1 } } },
    });
    expect(device.getUdpStreamUrl()).toBe(cam.rtspUrl);
  });

  it('is refused with a wrong password', async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: 'wrong' });
    await expect(device.init()).rejects.toThrow(/400 Bad Request - Sender not Authorized/);
  });

  it('fetches the snapshot through HTTP Digest and gets a valid 640×360 JPEG', async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: PASSWORD });
    await device.init();
    const { headers, body } = await device.fetchSnapshot();
    expect(headers['content-type']).toBe('image/jpeg');
    expect(body[0]).toBe(0xff);
    expect(body[1]).toBe(0xd8);
    expect(body.at(-2)).toBe(0xff);
    expect(body.at(-1)).toBe(0xd9);
    expect(body.equals(cam.snapshot ?? Buffer.alloc(0))).toBe(true);
    const picture = decodeJpeg(body);
    expect([picture.width, picture.height]).toEqual([640, 360]);
  });

  it('goes to a PTZ preset', async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: PASSWORD });
    await device.init();
    const ptz = device.services.ptz;
    if (ptz === null) throw new Error('node-onvif found no PTZ service');
    const presets = await ptz.getPresets({ ProfileToken: 'Profile_1' });
    const listed = presets.data.GetPresetsResponse.Preset;
    expect(listed.map((p: Any) => [p.$.token, p.Name])).toEqual([
      ['1', 'Gate'],
      ['2', 'Parking'],
    ]);
    await ptz.gotoPreset({ ProfileToken: 'Profile_1', PresetToken: '1' });
    expect(cam.lastPreset).toBe('1');
  });

  it('finds the camera with its WS-Discovery probes sent to the camera by unicast', async () => {
    const cam = await startCamera();
    const saved = {
      address: nodeOnvif._MULTICAST_ADDRESS,
      port: nodeOnvif._PORT,
      wait: nodeOnvif._DISCOVERY_WAIT,
      interval: nodeOnvif._DISCOVERY_INTERVAL,
    };
    // Its discovery only multicasts, out of the default route; aim it at the camera on loopback instead.
    nodeOnvif._MULTICAST_ADDRESS = '127.0.0.1';
    nodeOnvif._PORT = cam.discoveryPort ?? 0;
    nodeOnvif._DISCOVERY_INTERVAL = 20;
    nodeOnvif._DISCOVERY_WAIT = 1_000;
    try {
      const found = await nodeOnvif.startProbe();
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        urn: cam.endpointReference,
        xaddrs: [cam.xaddr],
        name: 'EastGate-Cam-1',
        hardware: 'GS-IPC-T2',
        types: ['dn:NetworkVideoTransmitter', 'tds:Device'],
      });
    } finally {
      nodeOnvif._MULTICAST_ADDRESS = saved.address;
      nodeOnvif._PORT = saved.port;
      nodeOnvif._DISCOVERY_WAIT = saved.wait;
      nodeOnvif._DISCOVERY_INTERVAL = saved.interval;
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Raw SOAP: the exact wire

const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const TOKEN_PROFILE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0';

function digestToken(
  password = PASSWORD,
  created = new Date().toISOString(),
  nonce: Buffer = randomBytes(16),
): string {
  const digest = createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(password)]))
    .digest('base64');
  return (
    `<wsse:Security xmlns:wsse="${WSSE}" xmlns:wsu="${WSU}"><wsse:UsernameToken>` +
    `<wsse:Username>${USER}</wsse:Username>` +
    `<wsse:Password Type="${TOKEN_PROFILE}#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created>` +
    '</wsse:UsernameToken></wsse:Security>'
  );
}

function textToken(password = PASSWORD): string {
  return (
    `<wsse:Security xmlns:wsse="${WSSE}"><wsse:UsernameToken><wsse:Username>${USER}</wsse:Username>` +
    `<wsse:Password Type="${TOKEN_PROFILE}#PasswordText">${password}</wsse:Password>` +
    '</wsse:UsernameToken></wsse:Security>'
  );
}

async function soap(
  url: string,
  body: string,
  header = digestToken(),
): Promise<{ status: number; text: string }> {
  const envelope =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"' +
    ' xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"' +
    ' xmlns:trt="http://www.onvif.org/ver10/media/wsdl">' +
    `<s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/soap+xml; charset=utf-8' },
    body: envelope,
  });
  return { status: response.status, text: await response.text() };
}

const subcodes = (text: string): string[] =>
  [...text.matchAll(/<s:Value>([^<]+)<\/s:Value>/g)].map((m) => m[1] ?? '');

describe('the SOAP wire', () => {
  it('answers GetSystemDateAndTime without credentials and everything else only with them', async () => {
    const cam = await startCamera();
    const clock = await soap(cam.xaddr, '<tds:GetSystemDateAndTime/>', '');
    expect(clock.status).toBe(200);
    expect(clock.text).toContain(`<tt:Year>${new Date().getUTCFullYear()}</tt:Year>`);

    const anonymous = await soap(cam.xaddr, '<tds:GetDeviceInformation/>', '');
    expect(anonymous.status).toBe(400);
    expect(anonymous.text).toContain('<s:Fault>');
    expect(subcodes(anonymous.text)).toEqual(['s:Sender', 'ter:NotAuthorized']);

    const stale = new Date(Date.now() - 10 * 60_000).toISOString();
    expect((await soap(cam.xaddr, '<tds:GetDeviceInformation/>', digestToken(PASSWORD, stale))).status).toBe(
      400,
    );
    expect((await soap(cam.xaddr, '<tds:GetDeviceInformation/>', textToken())).status).toBe(200);
    expect((await soap(cam.xaddr, '<tds:GetDeviceInformation/>', textToken('guess'))).status).toBe(400);

    const replayed = digestToken();
    expect((await soap(cam.xaddr, '<tds:GetDeviceInformation/>', replayed)).status).toBe(200);
    expect((await soap(cam.xaddr, '<tds:GetDeviceInformation/>', replayed)).status).toBe(400);
  });

  it('answers an unknown operation with ter:ActionNotSupported, and garbage with ter:WellFormed', async () => {
    const cam = await startCamera();
    const unknown = await soap(cam.xaddr, '<tds:UpgradeSystemFirmware/>');
    expect(unknown.status).toBe(500);
    expect(subcodes(unknown.text)).toEqual(['s:Receiver', 'ter:ActionNotSupported']);

    const garbage = await fetch(cam.xaddr, { method: 'POST', body: '<s:Envelope><oops' });
    expect(garbage.status).toBe(400);
    expect(subcodes(await garbage.text())).toEqual(['s:Sender', 'ter:WellFormed']);
  });

  it('removes a subscription when it expires, and Renew keeps one alive past its first termination', async () => {
    const cam = await startCamera();
    const events = `${cam.address}/onvif/events_service`;
    const create = async (): Promise<{ address: string; termination: number }> => {
      const created = await soap(
        events,
        '<tev:CreatePullPointSubscription><tev:InitialTerminationTime>PT1S</tev:InitialTerminationTime></tev:CreatePullPointSubscription>',
      );
      expect(created.status).toBe(200);
      const address = /<wsa:Address>([^<]+)<\/wsa:Address>/.exec(created.text)?.[1] ?? '';
      const termination = Date.parse(/<wsnt:TerminationTime>([^<]+)</.exec(created.text)?.[1] ?? '');
      return { address, termination };
    };
    const expiring = await create();
    const renewed = await create();
    const renewal = await soap(
      renewed.address,
      '<wsnt:Renew><wsnt:TerminationTime>PT1M</wsnt:TerminationTime></wsnt:Renew>',
    );
    expect(renewal.status).toBe(200);
    const newTermination = Date.parse(/<wsnt:TerminationTime>([^<]+)</.exec(renewal.text)?.[1] ?? '');
    expect(newTermination - renewed.termination).toBeGreaterThan(55_000);
    expect(cam.subscriptionCount).toBe(2);

    await waitFor(() => Date.now() > Math.max(expiring.termination, renewed.termination) + 20, '1 s to pass');
    const pullBody =
      '<tev:PullMessages><tev:Timeout>PT0S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit></tev:PullMessages>';
    const late = await soap(expiring.address, pullBody);
    expect(late.status).toBe(400);
    expect(subcodes(late.text)).toEqual(['s:Sender', 'wsrf-r:ResourceUnknownFault']);
    expect(cam.subscriptionCount).toBe(1);

    const alive = await soap(renewed.address, pullBody);
    expect(alive.status).toBe(200);
    expect(alive.text.match(/<wsnt:NotificationMessage>/g)).toHaveLength(6);
  });

  it('sends only the topics a subscription filtered for', async () => {
    const cam = await startCamera();
    const created = await soap(
      `${cam.address}/onvif/events_service`,
      '<tev:CreatePullPointSubscription><tev:Filter>' +
        '<wsnt:TopicExpression Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/LineDetector//.</wsnt:TopicExpression>' +
        '</tev:Filter></tev:CreatePullPointSubscription>',
    );
    const address = /<wsa:Address>([^<]+)<\/wsa:Address>/.exec(created.text)?.[1] ?? '';
    await cam.motion(true);
    await cam.lineCross(3);
    const pulled = await soap(
      address,
      '<tev:PullMessages><tev:Timeout>PT0S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit></tev:PullMessages>',
    );
    expect([...pulled.text.matchAll(/<wsnt:Topic [^>]*>([^<]+)</g)].map((m) => m[1])).toEqual([
      'tns1:RuleEngine/LineDetector/Crossed',
    ]);
    expect(pulled.text).toContain('<tt:SimpleItem Name="ObjectId" Value="3"/>');
  });

  it('guards the snapshot with HTTP Digest: no credentials or Basic get a challenge', async () => {
    const cam = await startCamera();
    const none = await fetch(cam.snapshotUrl);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(
      /^Digest realm="IP Camera", qop="auth", nonce="[0-9a-f]+"/,
    );
    const basic = await fetch(cam.snapshotUrl, {
      headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
    });
    expect(basic.status).toBe(401);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// WS-Discovery

const PROBE_TYPES: Readonly<Record<string, string>> = {
  nvt: 'dn:NetworkVideoTransmitter',
  display: 'dn:NetworkVideoDisplay',
};

function probe(messageId: string, types: string): Buffer {
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>' +
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
      ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
      '<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>' +
      `<a:MessageID>${messageId}</a:MessageID>` +
      '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>' +
      `<s:Body><d:Probe><d:Types>${types}</d:Types></d:Probe></s:Body></s:Envelope>`,
  );
}

async function udpClient(): Promise<{ socket: Socket; next: () => Promise<string> }> {
  const socket = createSocket('udp4');
  const inbox: string[] = [];
  const waiting: Array<(message: string) => void> = [];
  socket.on('message', (message) => {
    const text = message.toString('utf8');
    const waiter = waiting.shift();
    if (waiter === undefined) inbox.push(text);
    else waiter(text);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const next = (): Promise<string> => {
    const queued = inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no WS-Discovery answer within 3 s')), 3_000);
      waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  };
  return { socket, next };
}

describe('WS-Discovery', () => {
  it('answers a unicast Probe with a ProbeMatch carrying its XAddr and a stable endpoint reference', async () => {
    const east = await startCamera();
    const west = await startCamera({ name: 'WestGate-Cam-2', serialNumber: 'GS20250002' });
    const { socket, next } = await udpClient();
    try {
      const send = (port: number | undefined, id: string, types: string): void => {
        socket.send(probe(id, types), port ?? 0, '127.0.0.1');
      };
      // A probe for a display is ignored; the NVT probe after it is the first to be answered.
      send(east.discoveryPort, 'urn:uuid:display-probe', PROBE_TYPES.display ?? '');
      send(east.discoveryPort, 'urn:uuid:east-probe', PROBE_TYPES.nvt ?? '');
      const eastMatch = await next();
      expect(eastMatch).toContain('<wsa:RelatesTo>urn:uuid:east-probe</wsa:RelatesTo>');
      expect(eastMatch).toContain(`<d:XAddrs>${east.xaddr}</d:XAddrs>`);
      expect(eastMatch).toContain(`<wsa:Address>${east.endpointReference}</wsa:Address>`);
      expect(east.endpointReference).toMatch(
        /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );

      send(west.discoveryPort, 'urn:uuid:west-probe', 'dn:NetworkVideoTransmitter');
      const westMatch = await next();
      expect(westMatch).toContain(`<d:XAddrs>${west.xaddr}</d:XAddrs>`);
      expect(west.endpointReference).not.toBe(east.endpointReference);
      // The same serial number gives the same reference on another run.
      expect(new OnvifCameraSimulator({ ...east.options }).endpointReference).toBe(east.endpointReference);
    } finally {
      socket.close();
    }
  });

  it("is found by onvif's multicast Discovery.probe on the loopback interface", async () => {
    // onvif always probes 239.255.255.250:3702. Bound to 'lo' its probe leaves through loopback only, where the
    // camera joined the group (the kernel routes a multicast from 127.0.0.1 out of lo).
    // A serial of its own: other processes' simulated cameras may share port 3702 and answer too.
    const cam = await startCamera({ discoveryPort: 3702, serialNumber: `GS-MCAST-${process.pid}` });
    expect(cam.discoveryMulticast).toBe(true);
    const errors: unknown[] = [];
    const onError = (error: unknown): void => {
      errors.push(error);
    };
    onvif.Discovery.on('error', onError);
    try {
      const found = await new Promise<Any[]>((resolve, reject) => {
        onvif.Discovery.probe({ device: 'lo', timeout: 1_500, resolve: false }, (error, devices) => {
          if (error !== null && !Array.isArray(error)) reject(error);
          else resolve(devices ?? []);
        });
      });
      const ours = found.filter(
        (d) => d.probeMatches.probeMatch.endpointReference.address === cam.endpointReference,
      );
      expect(ours).toHaveLength(1);
      expect(ours[0].probeMatches.probeMatch.XAddrs).toBe(cam.xaddr);
    } finally {
      onvif.Discovery.removeListener('error', onError);
    }
    expect(errors).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Pictures: the snapshot and the RTSP stream

/** rtsp://user:password@host… for a URL the camera handed out, as a viewer that knows the account writes it. */
function withCredentials(url: string, password = PASSWORD, user = USER): string {
  const target = new URL(url);
  target.username = encodeURIComponent(user);
  target.password = encodeURIComponent(password);
  return target.toString();
}

function readStream(
  ffmpeg: string,
  url: string,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      ffmpeg,
      // A short analysis: the SDP already carries the H.264 parameter sets.
      [
        '-hide_banner',
        '-analyzeduration',
        '500000',
        '-rtsp_transport',
        transport,
        '-i',
        url,
        '-frames:v',
        '5',
        '-f',
        'null',
        '-',
      ],
      { timeout: 20_000 },
      (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr });
      },
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('pictures', () => {
  it('has an ffmpeg after npm install alone (the packaged static build)', async () => {
    const packaged = await packagedFfmpeg();
    expect(packaged).toMatch(/@ffmpeg-installer/);
  });

  it('makes its snapshot with ffmpeg when there is one', async () => {
    const cam = await startCamera();
    expect(cam.snapshotSource).toBe('ffmpeg');
    const jpeg = cam.snapshot ?? Buffer.alloc(0);
    expect(isJpeg(jpeg)).toBe(true);
    expect(decodeJpeg(jpeg)).toMatchObject({ width: 640, height: 360 });
  });

  it('draws a test card with its built-in encoder when asked to (or when there is no ffmpeg)', async () => {
    const cam = await startCamera({ snapshot: 'builtin' });
    expect(cam.snapshotSource).toBe('builtin');
    const jpeg = cam.snapshot ?? Buffer.alloc(0);
    expect(isJpeg(jpeg)).toBe(true);
    const picture = decodeJpeg(jpeg);
    expect([picture.width, picture.height]).toEqual([640, 360]);
    const pixel = (x: number, y: number): number[] => [
      ...picture.data.subarray((y * 640 + x) * 4, (y * 640 + x) * 4 + 3),
    ];
    const [r, g, b] = pixel(20, 20); // the first colour bar, light grey
    expect(Math.min(r ?? 0, g ?? 0, b ?? 0)).toBeGreaterThan(160);
    const [blueR, , blueB] = pixel(620, 20); // the last, blue
    expect(blueB ?? 0).toBeGreaterThan(150);
    expect(blueR ?? 255).toBeLessThan(60);
    let lit = 0; // white text on the dark band below
    for (let y = 250; y < 340; y++) for (let x = 0; x < 640; x++) if ((pixel(x, y)[0] ?? 0) > 200) lit += 1;
    expect(lit).toBeGreaterThan(500);
  });

  it('streams H.264 over RTSP (RTP over UDP, Digest credentials) at the URI GetStreamUri gives, also after a reboot', async () => {
    const ffmpeg = await findFfmpeg();
    if (ffmpeg === undefined)
      throw new Error('no ffmpeg: neither the system one nor @ffmpeg-installer/ffmpeg');
    const cam = await startCamera({ rtsp: true });
    const client = await connectOnvif(cam);
    const stream = await call((cb) => client.getStreamUri({ protocol: 'RTSP' }, cb));
    expect(stream.uri).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/stream$/);

    const first = await readStream(ffmpeg, withCredentials(stream.uri));
    expect(first.stderr).toMatch(/Stream #0:0: Video: h264/);
    expect(first.code).toBe(0);

    const publisherBefore = cam.rtspPublisherPid ?? 0;
    await cam.reboot(100);
    expect(isAlive(publisherBefore)).toBe(false);
    expect(cam.rtspUrl).toBe(stream.uri);
    const again = await readStream(ffmpeg, withCredentials(cam.rtspUrl));
    expect(again.stderr).toMatch(/Video: h264/);

    const publisher = cam.rtspPublisherPid ?? 0;
    expect(isAlive(publisher)).toBe(true);
    await cam.stop();
    expect(isAlive(publisher)).toBe(false);
  }, 60_000);

  it('streams with the packaged static ffmpeg too (over TCP), for machines without a system one', async () => {
    const packaged = await packagedFfmpeg();
    if (packaged === undefined) throw new Error('@ffmpeg-installer/ffmpeg has no binary for this machine');
    const cam = await startCamera({ rtsp: true, snapshot: 'ffmpeg', ffmpegPath: packaged });
    expect(isJpeg(cam.snapshot ?? Buffer.alloc(0))).toBe(true);
    const read = await readStream(packaged, withCredentials(cam.rtspUrl), 'tcp');
    expect(read.stderr).toMatch(/Stream #0:0: Video: h264/);
    expect(read.code).toBe(0);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------------------------
// The command line

describe('the command line', () => {
  it('starts several cameras, prints their addresses, and stops them on Ctrl-C', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'simulators/onvif-camera/cli.ts',
        '--count',
        '2',
        '--base-port',
        '0',
        '--discovery-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes('camera(s) up'), 'the cameras to start', 15_000);
      const xaddrs = [...output.matchAll(/device (http:\/\/\S+)/g)].map((m) => m[1] ?? '');
      expect(xaddrs).toHaveLength(2);
      const device = new nodeOnvif.OnvifDevice({ xaddr: xaddrs[1] ?? '', user: 'admin', pass: 'admin12345' });
      expect(await device.init()).toMatchObject({ Model: 'GS-IPC-T2', SerialNumber: 'GS20250002' });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output).toContain('stopped');
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('the command line fault options', () => {
  it('refuses an unknown fault mode, and serves garbage when told to', async () => {
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'simulators/onvif-camera/cli.ts', '--bad-digest', 'sometimes'],
        (error, _stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number), stderr }),
      );
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--bad-digest must be one of stale, malformed, not sometimes');

    const child: ChildProcess = spawn(
      process.execPath,
      [
        ...['--import', 'tsx', 'simulators/onvif-camera/cli.ts', '--base-port', '0', '--no-discovery'],
        ...['--garbage', 'html', '--answer-delay-ms', '5'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    try {
      await waitFor(() => output.includes('camera(s) up'), 'the camera to start', 15_000);
      const xaddr = /device (http:\/\/\S+)/.exec(output)?.[1] ?? '';
      const answer = await soap(xaddr, '<tds:GetDeviceInformation/>', textToken('admin12345'));
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('<title>Document Error: Not Found</title>');
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------------------------
// What Profile S clients read on connect, through both third-party clients

describe('the reads Profile S clients make on connect', () => {
  it('answers the onvif (agsh) client: network interfaces, gateway, DNS, NTP, users, protocols, video sources and encoder configurations', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    const interfaces = await call((cb) => client.getNetworkInterfaces(cb));
    expect(interfaces).toHaveLength(1);
    expect(interfaces[0]).toMatchObject({
      enabled: true,
      info: { name: 'eth0', MTU: 1500 },
      IPv4: { enabled: true, config: { manual: { address: '127.0.0.1', prefixLength: 24 }, DHCP: false } },
    });
    // Home Assistant takes the camera's MAC from here.
    expect(interfaces[0].info.hwAddress).toMatch(/^44:19:b6(:[0-9a-f]{2}){3}$/);
    expect(await call((cb) => client.getNetworkDefaultGateway(cb))).toMatchObject({
      IPv4Address: '127.0.0.1',
    });
    const dns = await call((cb) => client.getDNS(cb));
    expect(dns.fromDHCP).toBe(false);
    expect(dns.DNSManual.map((entry: Any) => entry.IPv4Address)).toEqual(['223.5.5.5', '114.114.114.114']);
    expect(await call((cb) => client.getNTP(cb))).toMatchObject({
      fromDHCP: false,
      NTPManual: { type: 'DNS', DNSname: 'ntp.aliyun.com' },
    });
    expect(await call((cb) => client.getUsers(cb))).toEqual([{ username: USER, userLevel: 'Administrator' }]);
    const { networkProtocols: protocols } = await call((cb) => client.getNetworkProtocols(cb));
    const rtspPort = Number(new URL(cam.rtspUrl).port);
    expect(protocols).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'HTTP', enabled: true, port: Number(new URL(cam.address).port) }),
        expect.objectContaining({ name: 'RTSP', enabled: true, port: rtspPort }),
      ]),
    );

    const sources = await call((cb) => client.getVideoSources(cb));
    expect(sources).toMatchObject([
      { $: { token: 'VideoSource_1' }, resolution: { width: 640, height: 360 } },
    ]);
    const encoders = await call((cb) => client.getVideoEncoderConfigurations(cb));
    expect(encoders).toHaveLength(1);
    expect(encoders[0]).toMatchObject({
      $: { token: 'VideoEncoderConfig_1' },
      encoding: 'H264',
      resolution: { width: 640, height: 360 },
      rateControl: { frameRateLimit: 10, bitrateLimit: 1024 },
      H264: { govLength: 10, H264Profile: 'Baseline' },
    });
    const encoder = await call((cb) => client.getVideoEncoderConfiguration('VideoEncoderConfig_1', cb));
    expect(encoder).toMatchObject({ name: 'VideoEncoder_1', encoding: 'H264' });
    await expect(call((cb) => client.getVideoEncoderConfiguration('nope', cb))).rejects.toThrow(
      /ConfigurationToken nope does not exist/,
    );
  });

  it('answers node-onvif through its device and media service objects', async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: PASSWORD });
    await device.init();
    const { device: management, media } = device.services;
    const interfaces = (await management.getNetworkInterfaces()).data.GetNetworkInterfacesResponse;
    expect(interfaces.NetworkInterfaces.$.token).toBe('eth0');
    expect(interfaces.NetworkInterfaces.Info.HwAddress).toMatch(/^44:19:b6/);
    const dns = (await management.getDNS()).data.GetDNSResponse.DNSInformation;
    expect(dns.DNSManual[0].IPv4Address).toBe('223.5.5.5');
    const ntp = (await management.getNTP()).data.GetNTPResponse.NTPInformation;
    expect(ntp.NTPManual.DNSname).toBe('ntp.aliyun.com');
    expect((await management.getUsers()).data.GetUsersResponse.User).toEqual([
      { Username: USER, UserLevel: 'Administrator' },
    ]);
    expect((await management.getDiscoveryMode()).data.GetDiscoveryModeResponse.DiscoveryMode).toBe(
      'Discoverable',
    );

    const configurations = (await media.getVideoSourceConfigurations()).data
      .GetVideoSourceConfigurationsResponse.Configurations;
    expect(configurations.SourceToken).toBe('VideoSource_1');
    const options = (
      await media.getVideoEncoderConfigurationOptions({
        ConfigurationToken: 'VideoEncoderConfig_1',
        ProfileToken: 'Profile_1',
      })
    ).data.GetVideoEncoderConfigurationOptionsResponse.Options;
    expect(options.H264.ResolutionsAvailable).toEqual({ Width: '640', Height: '360' });
    expect(options.H264.H264ProfilesSupported).toEqual(['Baseline', 'Main']);
    expect(options.Extension.H264.BitrateRange).toEqual({ Min: '32', Max: '4096' });
    await expect(media.getVideoEncoderConfigurationOptions({ ProfileToken: 'Profile_9' })).rejects.toThrow(
      /profile token Profile_9 does not exist/,
    );
  });

  it('says in its capabilities that it streams RTP over RTSP/TCP and has one alarm input', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    const capabilities = await call((cb) => client.getCapabilities(cb));
    expect(capabilities.media.streamingCapabilities).toMatchObject({ RTP_RTSP_TCP: true });
    expect(capabilities.device.IO).toMatchObject({ inputConnectors: 1 });
    const media = await call((cb) => client.getMediaServiceCapabilities(cb));
    expect(media.streamingCapabilities.$).toMatchObject({ RTP_RTSP_TCP: true, RTP_TCP: false });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Faults as real cameras word them

/** The SOAP 1.2 Fault of an answer: code, subcodes, reason, and whether it has an s:Detail. */
function faultOf(text: string): { values: string[]; reason: string; detail: boolean } {
  return {
    values: subcodes(text),
    reason: /<s:Reason><s:Text xml:lang="en">([^<]*)<\/s:Text><\/s:Reason>/.exec(text)?.[1] ?? '',
    detail: text.includes('<s:Detail'),
  };
}

describe('faults worded as the ONVIF core specification words them', () => {
  it('answers an unsupported operation with env:Receiver / ter:ActionNotSupported, "Optional Action Not Implemented", no Detail', async () => {
    const cam = await startCamera();
    const unknown = await soap(cam.xaddr, '<tds:SetNetworkInterfaces/>');
    expect(unknown.status).toBe(500);
    expect(faultOf(unknown.text)).toEqual({
      values: ['s:Receiver', 'ter:ActionNotSupported'],
      reason: 'Optional Action Not Implemented',
      detail: false,
    });
    // Home Assistant's onvif integration treats a PTZ fault containing this text as "not supported".
    expect(faultOf(unknown.text).reason).toContain('Action Not Implemented');
    // The ter prefix of the subcode is declared on the envelope, so zeep and other QName readers can resolve it.
    expect(unknown.text).toContain('xmlns:ter="http://www.onvif.org/ver10/error"');
  });

  it('answers an authentication failure with env:Sender / ter:NotAuthorized, "Sender not Authorized", no Detail', async () => {
    const cam = await startCamera();
    const refused = await soap(cam.xaddr, '<tds:GetDeviceInformation/>', textToken('wrong'));
    expect(refused.status).toBe(400);
    expect(faultOf(refused.text)).toEqual({
      values: ['s:Sender', 'ter:NotAuthorized'],
      reason: 'Sender not Authorized',
      detail: false,
    });
    // Home Assistant's is_auth_error: a subcode containing NotAuthorized, or "auth" in the text.
    expect(faultOf(refused.text).values.some((value) => value.includes('NotAuthorized'))).toBe(true);
  });

  it('answers unknown tokens with nested ter:InvalidArgVal subcodes (NoProfile, NoConfig)', async () => {
    const cam = await startCamera();
    const profile = await soap(
      `${cam.address}/onvif/media_service`,
      '<trt:GetStreamUri><trt:ProfileToken>Profile_9</trt:ProfileToken></trt:GetStreamUri>',
    );
    expect(profile.status).toBe(400);
    expect(faultOf(profile.text).values).toEqual(['s:Sender', 'ter:InvalidArgVal', 'ter:NoProfile']);
    const config = await soap(
      `${cam.address}/onvif/media_service`,
      '<trt:GetVideoEncoderConfiguration><trt:ConfigurationToken>x</trt:ConfigurationToken></trt:GetVideoEncoderConfiguration>',
    );
    expect(faultOf(config.text).values).toEqual(['s:Sender', 'ter:InvalidArgVal', 'ter:NoConfig']);
  });

  it("lets node-onvif's initialisation name the fault's reason", async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: 'wrong' });
    await expect(device.init()).rejects.toThrow(/Sender not Authorized/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// TamperDetector and DigitalInput

describe('tamper detector and digital input events', () => {
  it('sends Changed messages, and Initialized ones with the current state on every new subscription', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    await call((cb) => client.createPullPointSubscription(cb));
    await pull(client); // the initial state

    await cam.digitalInput(true);
    await cam.tamperDetector(true);
    const changed = (await pull(client)).messages;
    expect(changed.map(summarize)).toEqual([
      { topic: 'tns1:Device/Trigger/DigitalInput', operation: 'Changed', data: { LogicalState: true } },
      { topic: 'tns1:RuleEngine/TamperDetector/Tamper', operation: 'Changed', data: { IsTamper: true } },
    ]);
    const input = changed[0].message.message.source.simpleItem;
    expect(input.$).toEqual({ Name: 'InputToken', Value: 'DI_0' });
    const tamper = changed[1].message.message.source.simpleItem;
    expect(tamper.map((item: Any) => [item.$.Name, item.$.Value])).toEqual([
      ['VideoSourceConfigurationToken', 'VideoSourceConfig_1'],
      ['VideoAnalyticsConfigurationToken', 'VideoAnalyticsConfig_1'],
      ['Rule', 'MyTamperDetectorRule'],
    ]);

    // A resubscription (after a reboot, say) learns the state it missed, marked Initialized, not Changed.
    await call((cb) => client.unsubscribe(cb));
    await call((cb) => client.createPullPointSubscription(cb));
    const initial = (await pull(client)).messages.map(summarize);
    expect(initial).toEqual(
      expect.arrayContaining([
        { topic: 'tns1:Device/Trigger/DigitalInput', operation: 'Initialized', data: { LogicalState: true } },
        {
          topic: 'tns1:RuleEngine/TamperDetector/Tamper',
          operation: 'Initialized',
          data: { IsTamper: true },
        },
      ]),
    );
    expect(initial.every((message) => message.operation === 'Initialized')).toBe(true);

    await cam.digitalInput(false);
    expect((await pull(client)).messages.map(summarize)).toEqual([
      { topic: 'tns1:Device/Trigger/DigitalInput', operation: 'Changed', data: { LogicalState: false } },
    ]);
  });

  it('describes both as properties in GetEventProperties', async () => {
    const cam = await startCamera();
    const { text } = await soap(`${cam.address}/onvif/events_service`, '<tev:GetEventProperties/>');
    expect(text).toMatch(
      /<Trigger><DigitalInput wstop:topic="true"><tt:MessageDescription IsProperty="true"><tt:Source><tt:SimpleItemDescription Name="InputToken" Type="tt:ReferenceToken"\/><\/tt:Source><tt:Data><tt:SimpleItemDescription Name="LogicalState" Type="xs:boolean"\/>/,
    );
    expect(text).toMatch(
      /<TamperDetector><Tamper wstop:topic="true"><tt:MessageDescription IsProperty="true">.*<tt:SimpleItemDescription Name="IsTamper" Type="xs:boolean"\/>/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// RTSP: TCP interleaved, UDP, Digest

/** One RTSP exchange on a raw socket: the status line and headers of the answer. */
function rtspExchange(url: string, request: string): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname, () => socket.write(request));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('error', reject);
  });
}

describe('RTSP', () => {
  it('plays over TCP (RTP interleaved on the RTSP connection) with Digest credentials, and refuses 401 without or with wrong ones', async () => {
    const ffmpeg = await findFfmpeg();
    if (ffmpeg === undefined) throw new Error('no ffmpeg');
    const cam = await startCamera({ rtsp: true });

    const played = await readStream(ffmpeg, withCredentials(cam.rtspUrl), 'tcp');
    expect(played.stderr).toMatch(/Stream #0:0: Video: h264 .*640x360/);
    expect(played.stderr).toMatch(/frame=\s*5/);
    expect(played.code).toBe(0);

    const anonymous = await readStream(ffmpeg, cam.rtspUrl, 'tcp');
    expect(anonymous.stderr).toMatch(/401 Unauthorized/);
    expect(anonymous.code).not.toBe(0);
    const wrong = await readStream(ffmpeg, withCredentials(cam.rtspUrl, 'guess'), 'tcp');
    expect(wrong.stderr).toMatch(/401 Unauthorized/);
    expect(wrong.code).not.toBe(0);
    expect(cam.rtspRefusals).toBeGreaterThanOrEqual(3);

    // The password follows a change, as on a camera.
    cam.setPassword('changed-1');
    expect((await readStream(ffmpeg, withCredentials(cam.rtspUrl), 'tcp')).code).not.toBe(0);
    expect((await readStream(ffmpeg, withCredentials(cam.rtspUrl, 'changed-1'), 'tcp')).code).toBe(0);
  }, 60_000);

  it('challenges the way camera RTSP servers do, and answers 461 to a transport it does not serve', async () => {
    const cam = await startCamera({ rtsp: true });
    const options = await rtspExchange(cam.rtspUrl, `OPTIONS ${cam.rtspUrl} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    expect(options).toMatch(/^RTSP\/1\.0 200 OK\r\n/);
    expect(options).toMatch(/Public: OPTIONS, DESCRIBE, SETUP, PLAY/);
    const describe = await rtspExchange(
      cam.rtspUrl,
      `DESCRIBE ${cam.rtspUrl} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n`,
    );
    expect(describe).toMatch(/^RTSP\/1\.0 401 Unauthorized\r\n/);
    expect(describe).toMatch(/\r\nCSeq: 2\r\n/);
    expect(describe).toMatch(
      /WWW-Authenticate: Digest realm="IP Camera", nonce="[0-9a-f]{32}", stale="FALSE"\r\n/,
    );

    cam.badDigest('malformed');
    const malformed = await rtspExchange(cam.rtspUrl, `DESCRIBE ${cam.rtspUrl} RTSP/1.0\r\nCSeq: 3\r\n\r\n`);
    expect(malformed).toMatch(/WWW-Authenticate: Digest realm="IP Camera"\r\n/);
    cam.badDigest(undefined);

    const open = await startCamera({ rtsp: true, rtspAuthentication: 'none', serialNumber: 'GS20250002' });
    const setup = await rtspExchange(
      open.rtspUrl,
      `SETUP ${open.rtspUrl}/streamid=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;multicast;port=5000-5001\r\n\r\n`,
    );
    expect(setup).toMatch(/^RTSP\/1\.0 461 Unsupported Transport\r\n/);
  }, 60_000);

  it("closes a connection that sends an endless head, a body too large or something not RTSP; 454 for an unknown session, 405 for ANNOUNCE on the viewers' path", async () => {
    const cam = await startCamera({ rtsp: true, rtspAuthentication: 'none' });
    const { hostname, port } = new URL(cam.rtspUrl);
    /** Writes bytes and resolves with what came back before the camera closed the connection. */
    const closedAfter = (bytes: string | Buffer): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => socket.write(bytes));
        let answer = '';
        socket.on('data', (chunk: Buffer) => {
          answer += chunk.toString('latin1');
        });
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
        socket.setTimeout(5_000, () => reject(new Error('the camera kept the connection open')));
      });
    expect(await closedAfter(`DESCRIBE ${cam.rtspUrl} RTSP/1.0\r\nX-Filler: ${'a'.repeat(9_000)}`)).toBe('');
    expect(
      await closedAfter(`ANNOUNCE ${cam.rtspUrl} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 70000\r\n\r\n`),
    ).toBe('');
    expect(await closedAfter('GET / HTTP/1.1\r\nHost: camera\r\n\r\n')).toBe('');

    const play = await rtspExchange(
      cam.rtspUrl,
      `PLAY ${cam.rtspUrl} RTSP/1.0\r\nCSeq: 5\r\nSession: 1234\r\n\r\n`,
    );
    expect(play).toMatch(/^RTSP\/1\.0 454 Session Not Found\r\n/);
    // Nobody but the publisher may announce a stream on the viewers' path.
    const announce = await rtspExchange(cam.rtspUrl, `ANNOUNCE ${cam.rtspUrl} RTSP/1.0\r\nCSeq: 6\r\n\r\n`);
    expect(announce).toMatch(/^RTSP\/1\.0 405 Method Not Allowed\r\n/);
    expect(cam.running).toBe(true);
  }, 30_000);

  it('plays without credentials when RTSP authentication is off, over UDP and TCP', async () => {
    const ffmpeg = await findFfmpeg();
    if (ffmpeg === undefined) throw new Error('no ffmpeg');
    const cam = await startCamera({ rtsp: true, rtspAuthentication: 'none' });
    for (const transport of ['udp', 'tcp'] as const) {
      const read = await readStream(ffmpeg, cam.rtspUrl, transport);
      expect(read.stderr).toMatch(/Video: h264/);
      expect(read.code).toBe(0);
    }
    expect(cam.rtspRefusals).toBe(0);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Fault knobs

describe('fault knobs', () => {
  it('garbage: an HTML page, a truncated answer or binary noise instead of SOAP, until it is turned off', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    cam.garbage('html');
    const html = await soap(cam.xaddr, '<tds:GetDeviceInformation/>');
    expect(html.status).toBe(200);
    expect(html.text).toMatch(/^<html>/);
    await expect(call((cb) => client.getDeviceInformation(cb))).rejects.toThrow();

    cam.garbage('truncated');
    await expect(soap(cam.xaddr, '<tds:GetDeviceInformation/>')).rejects.toThrow();

    cam.garbage('binary');
    const binary = await fetch(cam.xaddr, {
      method: 'POST',
      headers: { 'Content-Type': 'application/soap+xml' },
      body: `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>${textToken()}</s:Header><s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`,
    });
    expect(binary.headers.get('content-type')).toBe('application/octet-stream');
    expect((await binary.arrayBuffer()).byteLength).toBe(512);

    cam.garbage(undefined);
    expect(await call((cb) => client.getDeviceInformation(cb))).toMatchObject({ serialNumber: 'GS20250001' });
  });

  it('slow reads: an answer trickles out at the set rate and still arrives whole', async () => {
    const cam = await startCamera();
    cam.slowReads(4_000);
    const started = Date.now();
    const answer = await soap(cam.xaddr, '<tds:GetNetworkInterfaces/>');
    const took = Date.now() - started;
    expect(answer.status).toBe(200);
    expect(answer.text).toMatch(/<\/s:Envelope>$/);
    // About Buffer.byteLength / 4000 B/s; at least half of it, whatever the timer granularity.
    expect(took).toBeGreaterThan((Buffer.byteLength(answer.text) / 4_000) * 1000 * 0.5);
    cam.slowReads(0);
    const fast = Date.now();
    await soap(cam.xaddr, '<tds:GetNetworkInterfaces/>');
    expect(Date.now() - fast).toBeLessThan(took);
  });

  it('dropped event stream: a held PullMessages loses its connection, the subscription lives on', async () => {
    const cam = await startCamera();
    const client = await connectOnvif(cam);
    await call((cb) => client.createPullPointSubscription(cb));
    await pull(client);
    const held = pull(client); // onvif asks for Timeout PT1M
    await waitFor(() => cam.pendingPulls === 1, 'the pull to be held');
    expect(cam.dropEventStream()).toBe(1);
    await expect(held).rejects.toThrow();
    expect(cam.subscriptionCount).toBe(1);
    await cam.motion();
    expect((await pull(client)).messages.length).toBeGreaterThan(0);
  });

  it('bad digest: the snapshot (and RTSP) refuse every answer as stale, or challenge without a nonce', async () => {
    const cam = await startCamera();
    const device = new nodeOnvif.OnvifDevice({ xaddr: cam.xaddr, user: USER, pass: PASSWORD });
    await device.init();
    expect((await device.fetchSnapshot()).body.length).toBeGreaterThan(1000);

    cam.badDigest('stale');
    await expect(device.fetchSnapshot()).rejects.toThrow();
    const stale = await fetch(cam.snapshotUrl);
    expect(stale.headers.get('www-authenticate')).toMatch(/stale=TRUE/);

    cam.badDigest('malformed');
    const malformed = await fetch(cam.snapshotUrl);
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get('www-authenticate')).toBe('Digest realm="IP Camera"');
    await expect(device.fetchSnapshot()).rejects.toThrow();

    cam.badDigest(undefined);
    expect((await device.fetchSnapshot()).body.length).toBeGreaterThan(1000);
  });
});
