import { hikvisionIsapi } from '../../devices/hikvision-isapi/index.ts';
import { accessAlertJson, cameraAlertXml, type DeviceIdentity } from '../../simulators/hikvision/alerts.ts';
import { HikvisionSimulator } from '../../simulators/hikvision/hikvision-device.ts';
import { demoConfig, deploymentOf, eventually, type TestHub } from '../helpers/hub.ts';
import {
  type ConnectorMalformed,
  type ConnectorScenario,
  type ConnectorSimulator,
  describeConnectorConformance,
} from './connector-kit.ts';

/**
 * The Hikvision ISAPI family on its own wire, both ways a device reaches the hub, each through the whole kit: the
 * demo's lobby access controller (a face terminal, which also runs a camera's analytics) followed by the hub on its
 * alert stream, and the same controller with only its listening host, pushing every alert to the hub's device
 * HTTP listener as multipart/form-data with a picture, HTTP Basic with its id and its 16-character secret. The
 * simulator writes its camera alerts as XML and its access alerts as JSON, as firmware does.
 */

const deviceId = 'hik-door-xijiao-02-lobby';
/** The demo's serial for the controller: its MAC address. */
const mac = '44:19:b6:00:20:02';
const devicePassword = 'conformance-hik-admin';
/** The demo's: the listening host's password, 16 characters at most on Hikvision firmware. */
const pushSecret = 'demo-hik-door-01';
const card = '3302789145';
const maskedCard = '****9145';

/** A simulated device as the scenarios drive it, whichever way it reaches the hub. */
interface Driven extends ConnectorSimulator {
  readonly device: HikvisionSimulator;
}

/**
 * The demo config with the controller reaching the hub one way and offline after 2 s; without the demo's other
 * Hikvision device, a camera at an address of the demo's own simulators, so this hub dials no address the test did
 * not start.
 */
function deploymentWith(controller: Record<string, unknown>) {
  const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
  config.devices = config.devices
    .filter((device) => device.adapter !== 'hikvision-isapi' || device.id === deviceId)
    .map((device) => {
      if (device.id !== deviceId) return device;
      const { http: _http, secret: _secret, ...rest } = device;
      return { ...rest, ...controller, offlineAfterSeconds: 2 };
    });
  return deploymentOf(config);
}

function controller(): HikvisionSimulator {
  return new HikvisionSimulator({
    kind: 'access',
    username: 'admin',
    password: devicePassword,
    mac,
    doors: 2,
    keepaliveMs: 200,
  });
}

/** Another device's identity: its alerts are not this controller's, however they arrive. */
const stranger: DeviceIdentity = {
  ipAddress: '127.0.0.1',
  port: 80,
  mac: '44:19:b6:99:99:99',
  serial: 'DS-2CD2346G2-ISU20230101AACHF99999999',
  model: 'DS-2CD2346G2-ISU/SL',
  name: 'Camera 99',
};
const strangersMotion = () =>
  cameraAlertXml(
    stranger,
    {
      eventType: 'VMD',
      eventState: 'active',
      description: 'Motion alarm',
      channel: 1,
      activePostCount: 1,
    },
    '2026-12-07T20:00:00+08:00',
  );

const place = (channel: number, more: Record<string, unknown> = {}) => ({ channel, ...more });
const region = (target: string) => place(1, { region: 1, target });
const code = (name: string, more: Record<string, unknown> = {}) => ({ code: name, ...more });

/**
 * Every event the adapter declares, from the simulator's scripted alerts. Video loss is on channel 2: channel 1's
 * `videoloss` inactive is the device's keepalive.
 */
const scenarios: readonly ConnectorScenario<Driven>[] = [
  {
    name: 'motion starts',
    act: (sim) => sim.device.motion(true),
    expect: { type: 'camera.motion', attributes: place(1) },
  },
  {
    name: 'motion stops',
    act: (sim) => sim.device.motion(false),
    expect: { type: 'camera.motion_ended', attributes: place(1) },
  },
  {
    name: 'a keepalive (videoloss inactive on a channel with video)',
    act: (sim) => sim.device.videoLoss(false, 1),
    expect: null,
  },
  {
    name: 'a person crosses the line',
    act: (sim) => sim.device.lineCross(1, 'human'),
    expect: { type: 'camera.line_crossed', attributes: region('human') },
  },
  {
    name: 'a person enters the guarded field',
    act: (sim) => sim.device.intrusion(true, 1, 'human'),
    expect: { type: 'camera.intrusion', attributes: region('human') },
  },
  {
    name: 'the guarded field is clear',
    act: (sim) => sim.device.intrusion(false, 1, 'human'),
    expect: { type: 'camera.intrusion_ended', attributes: region('human') },
  },
  {
    name: 'a vehicle enters the region',
    act: (sim) => sim.device.regionCross('entrance', 1, 'vehicle'),
    expect: { type: 'camera.region_entered', attributes: region('vehicle') },
  },
  {
    name: 'a vehicle leaves the region',
    act: (sim) => sim.device.regionCross('exiting', 1, 'vehicle'),
    expect: { type: 'camera.region_exited', attributes: region('vehicle') },
  },
  {
    name: 'the lens is covered',
    act: (sim) => sim.device.tamper(true),
    expect: { type: 'camera.tamper', attributes: place(1) },
  },
  {
    name: 'the lens is clear',
    act: (sim) => sim.device.tamper(false),
    expect: { type: 'camera.tamper_ended', attributes: place(1) },
  },
  {
    name: 'channel 2 loses its video',
    act: (sim) => sim.device.videoLoss(true, 2),
    expect: { type: 'camera.video_lost', attributes: place(2) },
  },
  {
    name: "channel 2's video is back (its videoloss inactive ends the loss)",
    act: (sim) => sim.device.videoLoss(false, 2),
    expect: { type: 'camera.video_restored', attributes: place(2) },
  },
  {
    name: 'alarm input 3 goes into alarm',
    act: (sim) => sim.device.alarmInput(true, 3),
    expect: { type: 'alarm.input', attributes: place(1, { input: 3 }) },
  },
  {
    name: 'alarm input 3 is back to normal',
    act: (sim) => sim.device.alarmInput(false, 3),
    expect: { type: 'alarm.input_ended', attributes: place(1, { input: 3 }) },
  },
  {
    name: 'the disk is full',
    act: (sim) => sim.device.storage('diskfull', true),
    expect: { type: 'storage.failure', attributes: place(0, { reason: 'full' }) },
  },
  {
    name: 'the disk has room again',
    act: (sim) => sim.device.storage('diskfull', false),
    expect: { type: 'storage.failure_ended', attributes: place(0, { reason: 'full' }) },
  },
  {
    name: "a resident's card opens door 1",
    act: (sim) => sim.device.cardSwipe({ card, granted: true }),
    expect: {
      type: 'access.granted',
      attributes: code('MINOR_LEGAL_CARD_PASS', {
        door: 1,
        reader: 1,
        credentialType: 'card',
        credential: maskedCard,
      }),
    },
    identifier: card,
  },
  {
    name: 'an unknown card is refused',
    act: (sim) => sim.device.cardSwipe({ card, granted: false }),
    expect: {
      type: 'access.denied',
      attributes: code('MINOR_INVALID_CARD', {
        door: 1,
        reader: 1,
        reason: 'unknown_card',
        credential: maskedCard,
      }),
    },
    identifier: card,
  },
  {
    name: 'a card used twice the same way',
    act: (sim) => sim.device.antiPassback(card),
    expect: {
      type: 'access.anti_passback',
      attributes: code('MINOR_ANTI_SNEAK_FAIL', { door: 1, reader: 1, credential: maskedCard }),
    },
    identifier: card,
  },
  {
    name: 'someone follows through',
    act: (sim) => sim.device.tailgate(1),
    expect: { type: 'access.tailgating', attributes: code('MINOR_TRAILING', { door: 1 }) },
  },
  {
    name: 'door 2 asked to open while its interlocked door is open',
    act: (sim) => sim.device.accessEvent({ major: 5, minor: 0x0b, door: 2 }),
    expect: { type: 'access.interlock', attributes: code('MINOR_INTERLOCK_DOOR_NOT_CLOSE', { door: 2 }) },
  },
  {
    name: 'a duress code',
    act: (sim) => sim.device.duress(1),
    expect: { type: 'alarm.duress', attributes: code('MINOR_STRESS_ALARM', { door: 1 }) },
  },
  {
    name: 'the emergency button',
    act: (sim) => sim.device.accessEvent({ major: 1, minor: 0x41c }),
    expect: { type: 'alarm.panic', attributes: code('MINOR_EMERGENCY_BUTTON_TRIGGER') },
  },
  {
    name: 'door 1 forced open',
    act: (sim) => sim.device.forceDoor(1),
    expect: { type: 'door.forced_open', attributes: code('MINOR_DOOR_OPEN_ABNORMAL', { door: 1 }) },
  },
  {
    name: 'door 1 held open',
    act: (sim) => sim.device.holdDoor(1),
    expect: { type: 'door.held_open', attributes: code('MINOR_DOOR_OPEN_TIMEOUT', { door: 1 }) },
  },
  {
    name: "door 1's contact opens",
    act: (sim) => sim.device.accessEvent({ major: 5, minor: 0x19, door: 1 }),
    expect: { type: 'door.opened', attributes: code('MINOR_DOOR_OPEN_NORMAL', { door: 1 }) },
  },
  {
    name: "door 1's contact closes",
    act: (sim) => sim.device.doorClosed(1),
    expect: { type: 'door.closed', attributes: code('MINOR_DOOR_CLOSE_NORMAL', { door: 1 }) },
  },
  {
    name: 'door 1 opened remotely',
    act: (sim) => sim.device.accessEvent({ major: 3, minor: 0x400, door: 1 }),
    expect: { type: 'door.remote_opened', attributes: code('MINOR_REMOTE_OPEN_DOOR', { door: 1 }) },
  },
  {
    name: 'the enclosure is pried open',
    act: (sim) => sim.device.accessEvent({ major: 1, minor: 0x404 }),
    expect: {
      type: 'device.tamper',
      attributes: code('MINOR_HOST_DESMANTLE_ALARM', { source: 'enclosure' }),
    },
  },
  {
    name: 'the enclosure is closed again',
    act: (sim) => sim.device.accessEvent({ major: 1, minor: 0x405 }),
    expect: {
      type: 'device.tamper_restored',
      attributes: code('MINOR_HOST_DESMANTLE_RESUME', { source: 'enclosure' }),
    },
  },
];

/** The device's clock runs and its dateTime counts whole seconds. */
const deviceTime = { toleranceMs: 2_000 };

// ── the alert stream the hub follows ────────────────────────────────────────────────────────────────────────────

/**
 * The controller the hub follows. Silent is powered off (every connection dropped, none accepted): no keepalive
 * reaches the hub; powered on, the hub connects again and the keepalives flow.
 */
class StreamedController implements Driven {
  readonly device = controller();

  goSilent(): void {
    this.device.reboot(60 * 60_000);
  }

  resume(): void {
    this.device.reboot(0);
  }

  stop(): Promise<void> {
    return this.device.stop();
  }
}

/** A part on the open stream that is not this device's alert. */
const onStream = (
  name: string,
  body: string,
  problem: string,
  reason: ConnectorMalformed<Driven>['reason'] = 'malformed',
): ConnectorMalformed<Driven> => ({
  name,
  send: (sim) => sim.device.garbage(body),
  reason,
  problem,
});

describeConnectorConformance<StreamedController>({
  adapter: hikvisionIsapi,
  deviceId,
  way: 'the alert stream the hub follows',
  deviceTime,
  hubOptions: {
    hikvisionTiming: { stallMs: 1_000, retryMinMs: 50, retryMaxMs: 200, requestTimeoutMs: 2_000 },
  },
  prepare: async () => {
    const sim = new StreamedController();
    await sim.device.start();
    const deployment = deploymentWith({
      http: { url: sim.device.url, username: 'admin', password: devicePassword },
    });
    return { sim, deployment };
  },
  attach: async (sim) => {
    await eventually(() => sim.device.openStreams === 1, 10_000);
  },
  scenarios,
  malformed: [
    onStream(
      'a part of broken XML',
      '<EventNotificationAlert><eventType>VMD</eventType><eventState>act',
      'not well-formed XML',
    ),
    onStream('a part of broken JSON', '{"eventType": "AccessControllerEvent", "eventSt', 'not valid JSON'),
    onStream(
      'an XML part declaring entities',
      '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbb">]><EventNotificationAlert><eventType>&b;</eventType></EventNotificationAlert>',
      'the XML declares a DOCTYPE',
    ),
    onStream(
      'an XML part that is no alert',
      '<ResponseStatus><statusCode>1</statusCode></ResponseStatus>',
      'the XML is not an EventNotificationAlert',
    ),
    onStream('a part of garbage bytes', '\u0001\u0002garbage\u00ff', 'neither an XML nor a JSON document'),
    onStream(
      "another device's alert on this device's stream",
      strangersMotion(),
      "the alert's serial number or MAC address is not the device's",
      'unauthenticated',
    ),
  ],
  commands: [
    { command: 'open_door', params: { door: 1 }, expectOk: true },
    {
      command: 'open_door',
      params: { door: 9 },
      expectOk: false,
      expectError: 'Invalid Content: badParameters',
    },
  ],
});

// ── the alerts the device pushes to its listening host ──────────────────────────────────────────────────────────

/**
 * The controller with only its listening host: every alert POSTed to the hub as multipart/form-data with a
 * picture. Between events it pushes the keepalive its stream would carry (`videoloss` inactive on channel 1) every
 * 300 ms; silent, it pushes nothing at all.
 */
class PushingController implements Driven {
  readonly device = controller();
  #keepalive: NodeJS.Timeout | undefined;
  #hubUrl: string | undefined;

  attach(hub: TestHub): void {
    this.#hubUrl = `http://127.0.0.1:${hub.hub.deviceHttpPort}/hikvision/alarm`;
    this.device.listeningHost = {
      url: this.#hubUrl,
      username: deviceId,
      password: pushSecret,
      format: 'multipart',
    };
    this.resume();
  }

  goSilent(): void {
    clearInterval(this.#keepalive);
    this.#keepalive = undefined;
  }

  resume(): void {
    this.goSilent();
    this.#keepalive = setInterval(() => {
      this.device.videoLoss(false, 1).catch(() => undefined);
    }, 300);
  }

  async stop(): Promise<void> {
    this.goSilent();
    await this.device.stop();
  }

  /** POSTs a body to the listening host as the device would, or with other credentials; the hub's status. */
  post(
    body: string | Buffer,
    contentType: string,
    credentials?: { username: string; password: string } | null,
  ): Promise<number> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    return credentials === undefined
      ? this.device.postRaw(bytes, contentType)
      : this.device.postRaw(bytes, contentType, credentials);
  }
}

const xml = 'application/xml; charset="UTF-8"';
const json = 'application/json; charset="UTF-8"';
const formBoundary = '---------------------------conformance';
const form = `multipart/form-data; boundary=${formBoundary}`;
/** A form body of the given parts (name, content type, content). */
const formOf = (parts: readonly (readonly [string, string, string])[], closed = true) =>
  parts
    .map(
      ([name, type, content]) =>
        `--${formBoundary}\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: ${type}\r\n\r\n${content}\r\n`,
    )
    .join('') + (closed ? `--${formBoundary}--\r\n` : '');

/** Expects the hub's status for a refused push: the device learns it was not taken. */
const refusedWith =
  (status: number, send: (sim: PushingController) => Promise<number>) => async (sim: PushingController) => {
    const answered = await send(sim);
    if (answered !== status) throw new Error(`the hub answered ${answered}, not ${status}`);
  };

const ownAccessAlert = (identity: DeviceIdentity) =>
  accessAlertJson(identity, { major: 5, minor: 0x1b, door: 1, serialNo: 900 }, '2026-12-07T20:00:00+08:00');

describeConnectorConformance<PushingController>({
  adapter: hikvisionIsapi,
  deviceId,
  way: 'alerts pushed to its listening host',
  deviceTime,
  prepare: async () => {
    const sim = new PushingController();
    await sim.device.start();
    return { sim, deployment: deploymentWith({ secret: pushSecret }) };
  },
  attach: async (sim, hub) => {
    sim.attach(hub);
    await eventually(() => sim.device.pushes.some((push) => push.status === 200), 10_000);
  },
  scenarios,
  malformed: [
    {
      name: 'a push of broken XML',
      send: refusedWith(400, (sim) =>
        sim.post('<EventNotificationAlert><eventType>VMD</eventType><eventState>act', xml),
      ),
      reason: 'malformed',
      problem: 'not well-formed XML',
    },
    {
      name: 'a form whose parts hold no alert, only garbage',
      send: refusedWith(400, (sim) =>
        sim.post(
          formOf([
            ['Picture', 'image/jpeg', 'not a picture either'],
            ['garbage', 'application/octet-stream', '\u0001\u0002\u0003'],
          ]),
          form,
        ),
      ),
      reason: 'malformed',
      problem: 'the multipart body has no alert part',
    },
    {
      name: 'a form cut off inside its alert part',
      send: refusedWith(400, (sim) => sim.post(formOf([['event_log', json, '{"eventType":']], false), form)),
      reason: 'malformed',
      problem: 'the multipart body has no alert part',
    },
    {
      name: 'a form whose part gives a Content-Length that is no number',
      send: refusedWith(400, (sim) =>
        sim.post(
          `--${formBoundary}\r\nContent-Disposition: form-data; name="event_log"\r\nContent-Type: ${json}\r\n` +
            `Content-Length: lots\r\n\r\n${ownAccessAlert(sim.device.identity)}\r\n--${formBoundary}--\r\n`,
          form,
        ),
      ),
      reason: 'malformed',
      problem: 'broken multipart body',
    },
    {
      name: 'a push with a wrong password',
      send: refusedWith(401, (sim) =>
        sim.post(ownAccessAlert(sim.device.identity), json, {
          username: deviceId,
          password: 'not-the-secret-0',
        }),
      ),
      reason: 'unauthenticated',
      problem: "the password is not the device's secret",
    },
    {
      name: 'a push without credentials',
      send: refusedWith(401, (sim) => sim.post(ownAccessAlert(sim.device.identity), json, null)),
      reason: 'unauthenticated',
      problem: 'no HTTP Basic credentials',
    },
    {
      name: 'a push from an unknown serial number',
      send: refusedWith(401, (sim) =>
        sim.post(ownAccessAlert(stranger), json, { username: stranger.serial, password: pushSecret }),
      ),
      reason: 'unknown_device',
      problem: 'the credentials name no Hikvision device',
    },
    {
      name: "another device's alert under this device's credentials",
      send: refusedWith(403, (sim) => sim.post(strangersMotion(), xml)),
      reason: 'unauthenticated',
      problem: "the alert's serial number or MAC address is not the device's",
    },
  ],
  // Commands go over the device's `http` login; a device that only pushes has none, and the hub says so.
  commands: [
    {
      command: 'open_door',
      params: { door: 1 },
      expectOk: false,
      expectError: 'the device has no http access configured',
    },
  ],
});
