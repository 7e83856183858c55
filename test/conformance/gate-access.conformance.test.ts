import { gateAccess } from '../../devices/gate-access/index.ts';
import { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import { demoConfig, demoSecret, deploymentOf } from '../helpers/hub.ts';
import { describeConformance } from './conformance-kit.ts';

const deviceId = 'gate-luming-02-west';

const config = demoConfig();
config.devices = config.devices.map((device) =>
  device.id === deviceId ? { ...device, offlineAfterSeconds: 1 } : device,
);

/** A frame the controller could send, to break one field at a time. */
const forcedOpen = { seq: 1, time: '2026-11-22T09:30:00+08:00', event: 'DOOR_FORCED_OPEN', door: 1 };
const oversized = JSON.stringify({ ...forcedOpen, padding: 'x'.repeat(20_000) });

describeConformance({
  adapter: gateAccess,
  simulator: (options) => new GateSimulator(options),
  deviceId,
  secret: demoSecret(deviceId),
  deployment: deploymentOf(config),
  // Expected attributes as the adapter's README and test/devices/gate-access.fixtures.test.ts give them, with
  // the hub's default identifier policy (masked: the last four characters of an identifier longer than six).
  scenarios: [
    {
      name: 'a card opens door 1',
      act: (sim) => sim.grant({ card: '10000001' }),
      identifier: '10000001',
      expect: {
        type: 'access.granted',
        attributes: { door: 1, direction: 'in', credentialType: 'card', credential: '****0001' },
      },
    },
    {
      name: 'a face opens door 2 on the way out',
      act: (sim) => sim.grant({ type: 'face', door: 2, direction: 'out' }),
      expect: {
        type: 'access.granted',
        attributes: { door: 2, direction: 'out', credentialType: 'face' },
      },
    },
    {
      name: 'an expired card is refused',
      act: (sim) => sim.deny({ card: '31415926', reason: 'EXPIRED' }),
      identifier: '31415926',
      expect: {
        type: 'access.denied',
        attributes: {
          door: 1,
          direction: 'in',
          credentialType: 'card',
          credential: '****5926',
          reason: 'expired',
        },
      },
    },
    {
      name: 'a card is passed back',
      act: (sim) => sim.antiPassback({ card: '10000001' }),
      identifier: '10000001',
      expect: {
        type: 'access.anti_passback',
        attributes: { door: 1, direction: 'in', credentialType: 'card', credential: '****0001' },
      },
    },
    {
      name: 'two people follow one card through',
      act: (sim) => sim.tailgate({ followers: 2 }),
      expect: { type: 'access.tailgating', attributes: { door: 1, direction: 'in', followers: 2 } },
    },
    {
      name: 'a blacklisted plate is read',
      act: (sim) => sim.blacklisted({ type: 'plate', number: '京A66666' }),
      identifier: '京A66666',
      expect: {
        type: 'access.blacklisted',
        attributes: { door: 1, credentialType: 'plate', credential: '****6666' },
      },
    },
    {
      name: 'a blacklisted face is seen, without a library id',
      act: (sim) => sim.blacklisted({ type: 'face', door: 2 }),
      expect: { type: 'access.blacklisted', attributes: { door: 2, credentialType: 'face' } },
    },
    {
      name: 'a car comes in and the barrier opens',
      act: (sim) => sim.vehicleEntry({ plate: '京A12345' }),
      identifier: '京A12345',
      expect: { type: 'vehicle.entry', attributes: { lane: 1, plate: '****2345', barrier: 'opened' } },
    },
    {
      name: 'a car leaves by lane 2 and the barrier holds',
      act: (sim) => sim.vehicleExit({ lane: 2, plate: '京B54321', barrier: 'held' }),
      identifier: '京B54321',
      expect: { type: 'vehicle.exit', attributes: { lane: 2, plate: '****4321', barrier: 'held' } },
    },
    {
      name: 'door 2 is forced open',
      act: (sim) => sim.forceDoor(2),
      expect: { type: 'door.forced_open', attributes: { door: 2 } },
    },
    {
      name: 'door 1 is held open for 95 s',
      act: (sim) => sim.holdDoor(1, 95),
      expect: { type: 'door.held_open', attributes: { door: 1, heldSeconds: 95 } },
    },
    {
      name: 'a reader is tampered with',
      act: (sim) => sim.tamper('reader'),
      expect: { type: 'device.tamper', attributes: { source: 'reader' } },
    },
    {
      name: 'a heartbeat with the doors’ state',
      act: (sim) => sim.heartbeat(),
      expect: null,
    },
  ],
  malformed: [
    {
      name: 'a frame cut short',
      payload: '{"seq":1,"event":"DOOR_FORCED_OPEN", door 1',
      reason: 'not_json',
      problem: 'not valid JSON',
    },
    {
      name: 'a frame for door 65',
      payload: JSON.stringify({ ...forcedOpen, door: 65 }),
      reason: 'schema',
      problem: 'door: ',
    },
    {
      name: 'an event the controller does not have',
      payload: JSON.stringify({ ...forcedOpen, event: 'DOOR_EXPLODED' }),
      reason: 'schema',
      problem: 'event: ',
    },
    {
      name: 'a frame with an extra key',
      payload: JSON.stringify({ ...forcedOpen, battery: 87 }),
      reason: 'schema',
      problem: '(root): ',
    },
    {
      name: 'a heartbeat with a negative uptime',
      payload: JSON.stringify({ seq: 2, time: forcedOpen.time, uptimeSeconds: -1, doors: [] }),
      channel: 'heartbeat',
      reason: 'schema',
      problem: 'uptimeSeconds: ',
    },
    {
      name: 'a reply in the sentry box’s words',
      payload: JSON.stringify({ requestId: 'r1', status: 'done' }),
      channel: 'replies',
      reason: 'schema',
      problem: 'result: ',
    },
    {
      name: 'a frame over the size limit',
      payload: oversized,
      reason: 'oversized',
      problem: `${Buffer.byteLength(oversized)} bytes, the limit is 16384`,
    },
  ],
  commands: [
    { command: 'unlock', params: { door: 1 }, expectOk: true },
    { command: 'unlock', params: { door: 2, seconds: 60 }, expectOk: true },
    // The adapter allows doors 1-64; this controller drives two, and says so.
    { command: 'unlock', params: { door: 3 }, expectOk: false, expectError: 'no such door' },
  ],
  watchdogs: [],
});
