import { expect } from 'vitest';
import { dahuaCgi } from '../../devices/dahua-cgi/index.ts';
import { DahuaSimulator, eventPart, heartbeatPart } from '../../simulators/dahua/dahua-simulator.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import { demoConfig, deploymentOf, eventually, metricValue, type TestHub } from '../helpers/hub.ts';
import {
  type ConnectorScenario,
  type ConnectorSimulator,
  describeConnectorConformance,
} from './connector-kit.ts';

/**
 * The Dahua family on its own wire: the hub attaches to the simulated device's eventManager stream (HTTP Digest, a
 * multipart body that never ends, a Heartbeat part every second) and checks the device's serial number on every
 * connection. The simulator never imports the adapter. The stream is where the hub takes input from this device,
 * so it is what this profile refuses bad input on: parts that are not Dahua's grammar or not the adapter's schema,
 * a part over the hub's limit, and a device at the address that is not the one provisioned.
 */

const deviceId = 'dahua-luming-03-conformance';
const username = 'admin';
const password = 'dahua-conformance-1';
const serialNumber = 'SIM-DH-C0001';
/** A door station with two doors: openDoor on a third is refused by the device. */
const doors = 2;
const card = '6222020012345678';
const user = 'room-1201';

/**
 * The simulated device as the kit drives it. Silent is powered off (connections refused): no stream, no heartbeat,
 * device.offline past the threshold; powered on again on the same port, the hub attaches again and hears it.
 */
class ConformanceDahua implements ConnectorSimulator {
  readonly device: DahuaSimulator;
  /** Power cycles and swaps in the order asked, each after the last has finished. */
  #power: Promise<void> = Promise.resolve();
  #powerFailure: Error | undefined;
  #hub: TestHub | undefined;

  constructor(device: DahuaSimulator) {
    this.device = device;
  }

  /** The hub has attached to the stream and confirmed the serial number: each act then reaches it. */
  async attach(hub: TestHub): Promise<void> {
    this.#hub = hub;
    await this.#heardAgain(0);
    expect(hub.testHandle.dahua.stream(deviceId)?.state).toBe('open');
  }

  goSilent(): void {
    this.#powerCycle(() => this.device.stop());
  }

  resume(): void {
    this.#powerCycle(() => this.device.start());
  }

  async stop(): Promise<void> {
    await this.#power;
    await this.device.stop();
    if (this.#powerFailure !== undefined) throw this.#powerFailure;
  }

  /** Runs an act with every part written a byte at a time (slow reads, parts cut anywhere). */
  async trickled(act: (device: DahuaSimulator) => Promise<void>): Promise<void> {
    this.device.trickle = true;
    try {
      await act(this.device);
    } finally {
      this.device.trickle = false;
    }
  }

  /** Runs an act with the device's clock a day and two hours ahead in its event data. */
  async skewed(act: (device: DahuaSimulator) => Promise<void>): Promise<void> {
    this.device.clockSkewMs = 26 * 3600_000;
    try {
      await act(this.device);
    } finally {
      this.device.clockSkewMs = 0;
    }
  }

  /** A part over the hub's limit: the stream is dropped; resolves once the hub hears the device again. */
  async oversizedPart(): Promise<void> {
    const attaches = this.device.attaches;
    await this.device.oversizedPart(50 * 1024 * 1024);
    await this.#heardAgain(attaches);
  }

  /**
   * Another Dahua device at the address, with the same login but another serial number (a camera swapped, or
   * someone else's on a reused address): the hub attaches, asks its serial number, and refuses it. Then the
   * provisioned device is back; resolves once the hub has attached to it again.
   */
  async impostor(): Promise<void> {
    const hub = this.#hub;
    if (hub === undefined) throw new Error('the device was not attached to a hub');
    let refused = false;
    const unsubscribe = hub.hub.bus.on('message:refused', (deadLetter: DeadLetter) => {
      if (deadLetter.deviceId === deviceId && deadLetter.reason === 'unauthenticated') refused = true;
    });
    const stranger = new DahuaSimulator({
      username,
      password,
      serialNumber: 'SIM-DH-STRANGER',
      port: this.device.port,
    });
    try {
      await this.device.stop();
      await stranger.start();
      await eventually(() => refused, 10_000);
    } finally {
      unsubscribe();
      await stranger.stop();
    }
    const attaches = this.device.attaches;
    await this.device.start();
    await this.#heardAgain(attaches);
  }

  /**
   * The hub has attached again (after `attaches`) and handles the device's parts: the hub checks the serial number
   * of each new connection before it handles a part, so a Heartbeat handled means the check passed. Until then a
   * test that took the device away would be refused for a check cut short, not for what it tests.
   */
  async #heardAgain(attaches: number): Promise<void> {
    const hub = this.#hub;
    if (hub === undefined) throw new Error('the device was not attached to a hub');
    await eventually(() => this.device.attaches > attaches && this.device.attached > 0, 10_000);
    const heartbeats = () =>
      metricValue(hub.httpUrl, 'gridhub_dahua_parts_total{kind="heartbeat"}', 'demo-admin');
    const before = await heartbeats();
    await this.device.sendPart(heartbeatPart);
    await eventually(async () => (await heartbeats()) > before, 10_000);
  }

  #powerCycle(step: () => Promise<void>): void {
    this.#power = this.#power.then(step).catch((error: Error) => {
      this.#powerFailure ??= error;
    });
  }
}

type Scenario = ConnectorScenario<ConformanceDahua>;

/** Expected attributes as devices/dahua-cgi/README.md gives them: channels, inputs and doors counted from 1. */
const scenarios: readonly Scenario[] = [
  {
    name: 'motion starts (VideoMotion Start)',
    act: (sim) => sim.device.motion(true),
    expect: { type: 'camera.motion', attributes: { channel: 1 } },
  },
  {
    name: 'motion stops',
    act: (sim) => sim.device.motion(false),
    expect: { type: 'camera.motion_ended', attributes: { channel: 1 } },
  },
  {
    name: 'the lens is covered (VideoBlind Start)',
    act: (sim) => sim.device.blind(true),
    expect: { type: 'camera.tamper', attributes: { channel: 1 } },
  },
  {
    name: 'the lens is clear',
    act: (sim) => sim.device.blind(false),
    expect: { type: 'camera.tamper_ended', attributes: { channel: 1 } },
  },
  {
    name: 'channel 4 of an NVR loses its video',
    act: (sim) => sim.device.videoLoss(true, 4),
    expect: { type: 'camera.video_lost', attributes: { channel: 4 } },
  },
  {
    name: 'channel 4 has video again',
    act: (sim) => sim.device.videoLoss(false, 4),
    expect: { type: 'camera.video_restored', attributes: { channel: 4 } },
  },
  {
    name: 'a person crosses the tripwire (Start, then a Stop that ends nothing)',
    act: (sim) => sim.device.crossLine({ rule: 'Gate line', direction: 'LeftToRight', objectType: 'Human' }),
    expect: {
      type: 'camera.line_crossed',
      attributes: { channel: 1, rule: 'Gate line', direction: 'LeftToRight', objectType: 'Human' },
    },
  },
  {
    name: 'a vehicle enters the guarded region, the part written a byte at a time',
    act: (sim) => sim.trickled((device) => device.crossRegion(true, { rule: 'Yard', objectType: 'Vehicle' })),
    expect: {
      type: 'camera.intrusion',
      attributes: { channel: 1, rule: 'Yard', direction: 'Enter', objectType: 'Vehicle' },
    },
  },
  {
    name: 'the region is clear',
    act: (sim) => sim.device.crossRegion(false, { rule: 'Yard' }),
    expect: { type: 'camera.intrusion_ended', attributes: { channel: 1, rule: 'Yard', direction: 'Enter' } },
  },
  {
    // The hub times a part when it reads it: a device clock a day off does not move the event.
    name: 'alarm input 3 goes active, from a device whose clock is a day ahead',
    act: (sim) => sim.skewed((device) => device.alarmInput(3, true)),
    expect: { type: 'alarm.input', attributes: { input: 3 } },
  },
  {
    name: 'alarm input 3 is back to normal',
    act: (sim) => sim.device.alarmInput(3, false),
    expect: { type: 'alarm.input_ended', attributes: { input: 3 } },
  },
  {
    name: 'a resident opens door 1 with a card',
    act: (sim) => sim.device.access({ granted: true, cardNo: card, userId: user, method: 1, type: 'Entry' }),
    expect: {
      type: 'access.granted',
      attributes: { door: 1, direction: 'in', method: 'card', credential: '****5678', user: '****1201' },
    },
    identifier: card,
  },
  {
    name: 'door 2 opened remotely (no card, no user)',
    act: (sim) => sim.device.access({ granted: true, method: 4, door: 2, type: 'Entry' }),
    expect: { type: 'access.granted', attributes: { door: 2, direction: 'in', method: 'remote' } },
  },
  {
    name: 'an unknown card is refused at door 2',
    act: (sim) =>
      sim.device.access({ granted: false, cardNo: card, method: 1, door: 2, type: 'Exit', errorCode: 16 }),
    expect: {
      type: 'access.denied',
      attributes: { door: 2, direction: 'out', method: 'card', credential: '****5678', errorCode: 16 },
    },
    identifier: card,
  },
  {
    name: 'the door opens (DoorStatus Open)',
    act: (sim) => sim.device.doorStatus(true),
    expect: { type: 'door.opened', attributes: { door: 1 } },
  },
  {
    name: 'the door closes',
    act: (sim) => sim.device.doorStatus(false),
    expect: { type: 'door.closed', attributes: { door: 1 } },
  },
  {
    name: 'the disk fails (StorageFailure Start)',
    act: (sim) => sim.device.storageFailure(true),
    expect: { type: 'storage.failure', attributes: { fault: 'failure' } },
  },
  {
    name: 'the disk is back',
    act: (sim) => sim.device.storageFailure(false),
    expect: { type: 'storage.failure_ended', attributes: { fault: 'failure' } },
  },
  {
    name: 'the recorder has no disk (StorageNotExist Start)',
    act: (sim) => sim.device.event('StorageNotExist', 'Start', 0),
    expect: { type: 'storage.failure', attributes: { fault: 'missing' } },
  },
  {
    name: 'a disk is fitted',
    act: (sim) => sim.device.event('StorageNotExist', 'Stop', 0),
    expect: { type: 'storage.failure_ended', attributes: { fault: 'missing' } },
  },
  {
    name: 'a code the hub does not act on (NTPAdjustTime)',
    act: (sim) => sim.device.event('NTPAdjustTime', 'Pulse', 0, { Address: 'pool.ntp.org', Result: true }),
    expect: null,
  },
  {
    name: 'a Heartbeat part',
    act: (sim) => sim.device.sendPart(heartbeatPart),
    expect: null,
  },
];

describeConnectorConformance<ConformanceDahua>({
  adapter: dahuaCgi,
  deviceId,
  // The hub times each event when it reads the part (Dahua's own UTC is local time on many firmwares).
  deviceTime: { toleranceMs: 2_000 },
  hubOptions: {
    // A Heartbeat part every second, a stream silent for 3 s dropped; attached again within 0.4 s.
    dahuaTiming: {
      heartbeatSeconds: 1,
      connectTimeoutMs: 2_000,
      retryMinMs: 100,
      retryMaxMs: 400,
      commandTimeoutMs: 3_000,
    },
  },
  prepare: async () => {
    const device = new DahuaSimulator({ username, password, serialNumber, doors });
    await device.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: deviceId,
      name: '鹿鸣3网格大华门口机 Luming Grid 3 Dahua door station (conformance)',
      adapter: 'dahua-cgi',
      grid: 'grid-luming-03',
      http: { url: device.url, username, password },
      serial: serialNumber,
      // Heartbeats every second: three without one is an outage.
      offlineAfterSeconds: 3,
    });
    return { sim: new ConformanceDahua(device), deployment: deploymentOf(config) };
  },
  attach: (sim, hub) => sim.attach(hub),
  scenarios,
  malformed: [
    {
      name: 'a part that is not Dahua’s grammar',
      send: (sim) => sim.device.garbage(),
      reason: 'malformed',
      problem: 'a part that is neither a Heartbeat nor an event (Code=…)',
    },
    {
      name: 'an event part whose data is cut off',
      send: (sim) =>
        sim.device.sendPart(eventPart('Code=VideoMotion;action=Start;index=0;data={\n   "UTC" : 17')),
      reason: 'malformed',
      problem: 'data: not valid JSON',
    },
    {
      name: 'a DoorStatus part with a state no door has',
      send: (sim) => sim.device.event('DoorStatus', 'Pulse', 0, { Status: 'Ajar' }),
      reason: 'schema',
      problem: 'data.Status',
    },
    {
      name: 'a part declaring 50 MiB, over hub.maxPayloadBytes (the stream is dropped and attached again)',
      send: (sim) => sim.oversizedPart(),
      reason: 'oversized',
      // Dead letters mask the digits: the problem is `a part declares <8 digits> bytes, over <N digits>`.
      problem: 'a part declares <8 digits> bytes, over',
    },
    {
      name: 'another device at the address, with another serial number',
      send: (sim) => sim.impostor(),
      reason: 'unauthenticated',
      problem: 'the device gave another serial number than the one provisioned',
    },
  ],
  commands: [
    { command: 'openDoor', params: { door: 2 }, expectOk: true },
    { command: 'openDoor', params: {}, expectOk: true },
    // A door station with two doors has no door 3: Dahua answers 400 `Error\r\nBad Request!`, and the reply
    // carries the device's own words, on one line.
    {
      command: 'openDoor',
      params: { door: 3 },
      expectOk: false,
      expectError: 'Error Bad Request!',
    },
  ],
});
