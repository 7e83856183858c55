import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dahuaCgi } from '../../devices/dahua-cgi/index.ts';
import { DahuaSimulator } from '../../simulators/dahua/dahua-simulator.ts';
import { livenessEvents } from '../../src/core/adapter.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import { demoConfig, deploymentOf, eventually, startTestHub, type TestHub } from '../helpers/hub.ts';
import type { ConformanceScenario } from './conformance-kit.ts';

/**
 * The conformance kit's scenario check for a device the hub dials rather than one that connects to its broker: every
 * event the dahua-cgi adapter declares, produced by the Dahua simulator (which never imports the adapter) over its
 * eventManager stream and decoded by a real hub, exactly, with no refusal, and no resident's identifier in an event
 * or a log line. The kit itself (conformance-kit.ts) drives MQTT devices: its liveness, malformed-payload and command
 * checks for this device are in test/integration/dahua.test.ts, over HTTP.
 */

const deviceId = 'dahua-conformance-1';
const card = '6222020012345678';
const user = 'room-1201';

const scenarios: readonly ConformanceScenario<DahuaSimulator>[] = [
  {
    name: 'motion starts',
    act: (sim) => sim.motion(true),
    expect: { type: 'camera.motion', attributes: { channel: 1 } },
  },
  {
    name: 'motion stops',
    act: (sim) => sim.motion(false),
    expect: { type: 'camera.motion_ended', attributes: { channel: 1 } },
  },
  {
    name: 'the lens is covered',
    act: (sim) => sim.blind(true),
    expect: { type: 'camera.tamper', attributes: { channel: 1 } },
  },
  {
    name: 'the lens is clear',
    act: (sim) => sim.blind(false),
    expect: { type: 'camera.tamper_ended', attributes: { channel: 1 } },
  },
  {
    name: 'channel 4 of an NVR loses its video',
    act: (sim) => sim.videoLoss(true, 4),
    expect: { type: 'camera.video_lost', attributes: { channel: 4 } },
  },
  {
    name: 'channel 4 has video again',
    act: (sim) => sim.videoLoss(false, 4),
    expect: { type: 'camera.video_restored', attributes: { channel: 4 } },
  },
  {
    name: 'a person crosses the tripwire (Start, then a Stop that ends nothing)',
    act: (sim) => sim.crossLine({ rule: 'Gate line', direction: 'LeftToRight', objectType: 'Human' }),
    expect: {
      type: 'camera.line_crossed',
      attributes: { channel: 1, rule: 'Gate line', direction: 'LeftToRight', objectType: 'Human' },
    },
  },
  {
    name: 'a vehicle enters the guarded region',
    act: (sim) => sim.crossRegion(true, { rule: 'Yard', objectType: 'Vehicle' }),
    expect: {
      type: 'camera.intrusion',
      attributes: { channel: 1, rule: 'Yard', direction: 'Enter', objectType: 'Vehicle' },
    },
  },
  {
    name: 'the region is clear',
    act: (sim) => sim.crossRegion(false, { rule: 'Yard' }),
    expect: { type: 'camera.intrusion_ended', attributes: { channel: 1, rule: 'Yard', direction: 'Enter' } },
  },
  {
    name: 'alarm input 3 goes active',
    act: (sim) => sim.alarmInput(3, true),
    expect: { type: 'alarm.input', attributes: { input: 3 } },
  },
  {
    name: 'alarm input 3 is back to normal',
    act: (sim) => sim.alarmInput(3, false),
    expect: { type: 'alarm.input_ended', attributes: { input: 3 } },
  },
  {
    name: 'a resident opens door 1 with a card',
    act: (sim) => sim.access({ granted: true, cardNo: card, userId: user, method: 1, type: 'Entry' }),
    expect: {
      type: 'access.granted',
      attributes: { door: 1, direction: 'in', method: 'card', credential: '****5678', user: '****1201' },
    },
    identifier: card,
  },
  {
    name: 'an unknown card is refused at door 2',
    act: (sim) =>
      sim.access({ granted: false, cardNo: card, method: 1, door: 2, type: 'Exit', errorCode: 16 }),
    expect: {
      type: 'access.denied',
      attributes: { door: 2, direction: 'out', method: 'card', credential: '****5678', errorCode: 16 },
    },
    identifier: card,
  },
  {
    name: 'the door opens',
    act: (sim) => sim.doorStatus(true),
    expect: { type: 'door.opened', attributes: { door: 1 } },
  },
  {
    name: 'the door closes',
    act: (sim) => sim.doorStatus(false),
    expect: { type: 'door.closed', attributes: { door: 1 } },
  },
  {
    name: 'the disk fails',
    act: (sim) => sim.storageFailure(true),
    expect: { type: 'storage.failure', attributes: { fault: 'failure' } },
  },
  {
    name: 'the disk is back',
    act: (sim) => sim.storageFailure(false),
    expect: { type: 'storage.failure_ended', attributes: { fault: 'failure' } },
  },
];

describe('dahua-cgi conforms: every event it declares, from the simulator through a real hub', () => {
  let sim: DahuaSimulator;
  let hub: TestHub;
  const events: DeviceEvent[] = [];
  const refusals: DeadLetter[] = [];

  beforeAll(async () => {
    sim = new DahuaSimulator({ username: 'admin', password: 'conformance-1', serialNumber: 'SIM-DH-C1' });
    await sim.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: deviceId,
      name: 'Dahua conformance camera',
      adapter: 'dahua-cgi',
      grid: 'grid-xijiao-01',
      http: { url: sim.url, username: 'admin', password: 'conformance-1' },
      serial: 'SIM-DH-C1',
    });
    hub = await startTestHub({
      deployment: deploymentOf(config),
      dahuaTiming: {
        heartbeatSeconds: 1,
        connectTimeoutMs: 2_000,
        retryMinMs: 100,
        retryMaxMs: 400,
        commandTimeoutMs: 2_000,
      },
    });
    hub.hub.bus.on('device:event', (event) => {
      if (event.deviceId === deviceId && !(event.type in livenessEvents)) events.push(event);
    });
    hub.hub.bus.on('message:refused', (deadLetter) => refusals.push(deadLetter));
    await sim.waitForAttach();
    await eventually(() => hub.testHandle.dahua.stream(deviceId)?.state === 'open');
  });

  afterAll(async () => {
    await hub?.stop();
    await sim?.stop();
  });

  it('has a scenario for every event the adapter declares', () => {
    const covered = new Set(scenarios.flatMap((scenario) => scenario.expect?.type ?? []));
    expect([...covered].sort()).toEqual(Object.keys(dahuaCgi.events).sort());
  });

  for (const scenario of scenarios) {
    it(`decodes "${scenario.name}" into ${scenario.expect?.type ?? 'no event'}`, async () => {
      const from = events.length;
      const fromRefusal = refusals.length;
      await scenario.act(sim);
      // A marker after the act (motion on channel 16): once its event is in, everything the act wrote is handled.
      await sim.motion(true, 16);
      await eventually(() => events.slice(from).some((event) => event.attributes.channel === 16));
      const decoded = events
        .slice(from)
        .filter((event) => event.attributes.channel !== 16)
        .map(({ type, attributes }) => ({ type, attributes }));
      expect(decoded).toEqual(scenario.expect === null ? [] : [scenario.expect]);
      expect(refusals.slice(fromRefusal)).toEqual([]);
      if (scenario.identifier !== undefined) {
        expect(JSON.stringify(events)).not.toContain(scenario.identifier);
        expect(hub.logs.text).not.toContain(scenario.identifier);
      }
    });
  }
});
