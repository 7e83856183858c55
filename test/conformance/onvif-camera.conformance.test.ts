import { randomBytes } from 'node:crypto';
import { onvifCamera } from '../../devices/onvif-camera/index.ts';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import { realNotification } from '../devices/onvif-camera.real-notifications.ts';
import { demoConfig, deploymentOf, eventually, type TestHub } from '../helpers/hub.ts';
import type { ExpectedEvent } from './conformance-kit.ts';
import {
  type ConnectorScenario,
  type ConnectorSimulator,
  describeConnectorConformance,
} from './connector-kit.ts';

/**
 * The ONVIF camera on its own wire: the hub connects to the simulated camera, which, offering no PullPoint (as
 * many cameras do), posts its events to the hub's Basic Notification consumer endpoint. That endpoint is where a
 * hub that follows cameras takes input from the network, so it is what this profile refuses bad input on.
 */

const deviceId = 'cam-luming-03-conformance';
const password = 'camera-password-conformance';

/**
 * The simulated camera as the kit drives it. Silent is powered off (the hub's requests are refused): its session
 * fails at the next renewal, the camera is no longer heard, and device.offline rises past the threshold; powered
 * on again on the same address, it is subscribed again and heard.
 */
class ConformanceCamera implements ConnectorSimulator {
  readonly camera: OnvifCameraSimulator;
  /** Power cycles in the order asked, each after the last has finished. */
  #power: Promise<void> = Promise.resolve();
  #powerFailure: Error | undefined;
  #hubUrl: string | undefined;

  constructor(camera: OnvifCameraSimulator) {
    this.camera = camera;
  }

  /** Where the hub listens, and that it has subscribed: each act then reaches it. */
  async attach(hub: TestHub): Promise<void> {
    this.#hubUrl = hub.httpUrl;
    await eventually(() => this.camera.basicSubscriptionCount === 1, 10_000);
  }

  goSilent(): void {
    this.#powerCycle(() => this.camera.stop());
  }

  resume(): void {
    this.#powerCycle(() => this.camera.start());
  }

  async stop(): Promise<void> {
    await this.#power;
    await this.camera.stop();
    if (this.#powerFailure !== undefined) throw this.#powerFailure;
  }

  /** Posts real cameras' NotificationMessages as they are, in one Notify; resolves once the hub took them. */
  async replay(messages: readonly string[]): Promise<void> {
    const statuses = await this.camera.notifyRaw(messages);
    if (statuses.length !== 1 || statuses[0] !== 200)
      throw new Error(`the hub answered the Notify with ${JSON.stringify(statuses)}, not [200]`);
  }

  /**
   * A well-formed Notify to a consumer address the hub never handed out (a guessed or forged token): whoever sends
   * it, it is not one of the hub's cameras.
   */
  async notifyUnknownConsumer(): Promise<void> {
    if (this.#hubUrl === undefined) throw new Error('the camera was not attached to a hub');
    const forged = `${this.#hubUrl}/onvif/notify/${randomBytes(24).toString('base64url')}`;
    const answer = await fetch(forged, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml; charset=utf-8' },
      body:
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">' +
        `<s:Body><wsnt:Notify>${realNotification('TP-Link person (CellMotionDetector/People)').xml}</wsnt:Notify></s:Body></s:Envelope>`,
    });
    await answer.arrayBuffer();
  }

  #powerCycle(step: () => Promise<void>): void {
    this.#power = this.#power.then(step).catch((error: Error) => {
      this.#powerFailure ??= error;
    });
  }
}

/** A real camera's message (test/devices/onvif-camera.real-notifications.ts), replayed as it was logged. */
function replayed(name: string): ConnectorScenario<ConformanceCamera> {
  const { xml, expected } = realNotification(name);
  const decoded = expected as (ExpectedEvent & { occurredAt: number }) | undefined;
  return {
    name: `a real camera sends ${name}`,
    act: (sim) => sim.replay([xml]),
    expect: decoded === undefined ? null : { type: decoded.type, attributes: decoded.attributes },
    ...(decoded === undefined ? {} : { carriedTime: new Date(decoded.occurredAt).toISOString() }),
  };
}

/** What the simulator's scripted events carry (simulators/onvif-camera/events.ts). */
const videoSource = { source: 'VideoSource_1' };
const rule = (name: string) => ({ source: name });

describeConnectorConformance<ConformanceCamera>({
  adapter: onvifCamera,
  deviceId,
  // The camera's clock runs; the hub moves its times onto its own by the offset GetSystemDateAndTime gave, which
  // counts whole seconds.
  deviceTime: { toleranceMs: 2_000 },
  hubOptions: {
    onvifTiming: { aliveEveryMs: 200, retryMinMs: 100, retryMaxMs: 400, requestTimeoutMs: 3_000 },
  },
  prepare: async () => {
    const camera = new OnvifCameraSimulator({
      username: 'admin',
      password,
      name: 'Luming 3 conformance',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-CONFORMANCE',
      serialNumber: 'SIM-CONF-0001',
      discoveryPort: false,
      snapshot: 'builtin',
      quirks: { events: 'basic-notification' },
      // Renewed every 2 s: a camera powered off is noticed within that.
      maxSubscriptionSeconds: 4,
    });
    await camera.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: deviceId,
      name: '鹿鸣3网格一致性摄像机 Luming Grid 3 conformance camera',
      adapter: 'onvif-camera',
      grid: 'grid-luming-03',
      onvif: { xaddr: camera.xaddr, username: 'admin', password },
      offlineAfterSeconds: 2,
    });
    return { sim: new ConformanceCamera(camera), deployment: deploymentOf(config) };
  },
  attach: (sim, hub) => sim.attach(hub),
  // Expected attributes as devices/onvif-camera/README.md gives them; a property's active state and its idle one
  // follow each other, so a resubscription's Initialized messages never find one active.
  scenarios: [
    {
      name: 'motion starts, reported as VideoSource/MotionAlarm and CellMotionDetector/Motion',
      act: (sim) => sim.camera.motion(true),
      expect: [
        { type: 'camera.motion', attributes: videoSource },
        { type: 'camera.motion', attributes: rule('MyMotionDetectorRule') },
      ],
    },
    {
      name: 'motion stops',
      act: (sim) => sim.camera.motion(false),
      expect: [
        { type: 'camera.motion_ended', attributes: videoSource },
        { type: 'camera.motion_ended', attributes: rule('MyMotionDetectorRule') },
      ],
    },
    {
      name: 'the view is covered (GlobalSceneChange/ImagingService)',
      act: (sim) => sim.camera.tamper(true),
      expect: { type: 'camera.tamper', attributes: videoSource },
    },
    {
      name: 'the view is back to normal',
      act: (sim) => sim.camera.tamper(false),
      expect: { type: 'camera.tamper_ended', attributes: videoSource },
    },
    {
      name: 'the tamper detector fires (TamperDetector/Tamper)',
      act: (sim) => sim.camera.tamperDetector(true),
      expect: { type: 'camera.tamper', attributes: rule('MyTamperDetectorRule') },
    },
    {
      name: 'the tamper detector is quiet again',
      act: (sim) => sim.camera.tamperDetector(false),
      expect: { type: 'camera.tamper_ended', attributes: rule('MyTamperDetectorRule') },
    },
    {
      name: 'someone enters the guarded field',
      act: (sim) => sim.camera.intrusion(true),
      expect: { type: 'camera.intrusion', attributes: rule('MyFieldDetectorRule') },
    },
    {
      name: 'the guarded field is clear',
      act: (sim) => sim.camera.intrusion(false),
      expect: { type: 'camera.intrusion_ended', attributes: rule('MyFieldDetectorRule') },
    },
    {
      name: 'object 7 crosses the virtual line',
      act: (sim) => sim.camera.lineCross(7),
      expect: {
        type: 'camera.line_crossed',
        attributes: { ...rule('MyLineDetectorRule'), objectId: '7' },
      },
    },
    {
      name: 'the door contact on the digital input opens',
      act: (sim) => sim.camera.digitalInput(true),
      expect: { type: 'alarm.input', attributes: { input: 'DI_0' } },
    },
    {
      name: 'the door contact closes',
      act: (sim) => sim.camera.digitalInput(false),
      expect: { type: 'alarm.input_ended', attributes: { input: 'DI_0' } },
    },
    // What the simulator does not send: real cameras' messages from public test data, as they were logged.
    replayed('TP-Link person (CellMotionDetector/People)'),
    replayed('Reolink person gone (MyRuleDetector/PeopleDetect)'),
    replayed('Reolink vehicle seen (MyRuleDetector/VehicleDetect)'),
    replayed('Reolink vehicle gone (MyRuleDetector/VehicleDetect)'),
    replayed('Reolink doorbell pressed (MyRuleDetector/Visitor)'),
    replayed('the SD card failed'),
    replayed('the SD card works again'),
    replayed('Hikvision alarm input, active when the subscription starts (Initialized sets the state)'),
    replayed('a line detector reports ObjectId 0 as Initialized on every subscription: no line crossed'),
  ],
  malformed: [
    {
      name: 'a Notify cut off inside its NotificationMessage',
      send: (sim) =>
        sim.camera.notifyRaw([
          '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:VideoSource/MotionAlarm</wsnt:Topic>',
        ]),
      reason: 'malformed',
      problem: 'unexpected end tag',
    },
    {
      name: 'a Notify to a consumer address the hub never handed out',
      send: (sim) => sim.notifyUnknownConsumer(),
      reason: 'unauthenticated',
      problem: 'no Basic Notification subscription of this hub has this consumer address',
    },
    {
      name: 'a backlog flushed as one Notify larger than cameras.notifyMaxBytes',
      send: (sim) =>
        sim.camera.notifyRaw(
          Array.from(
            { length: 1_000 },
            () => realNotification('TP-Link person (CellMotionDetector/People)').xml,
          ),
        ),
      reason: 'oversized',
      problem: 'the Notify is larger than cameras.notifyMaxBytes',
    },
  ],
  // The adapter declares no commands (PTZ presets are turned by the hub's incident rules, not by a command).
  commands: [],
});
