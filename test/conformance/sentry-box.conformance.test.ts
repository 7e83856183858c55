import { sentryBox } from '../../devices/sentry-box/index.ts';
import { SentrySimulator } from '../../simulators/sentry-box/sentry-simulator.ts';
import { demoConfig, demoSecret, deploymentOf } from '../helpers/hub.ts';
import { describeConformance } from './conformance-kit.ts';

const deviceId = 'sentry-luming-03';

const config = demoConfig();
config.devices = config.devices.map((device) =>
  device.id === deviceId
    ? { ...device, offlineAfterSeconds: 1, watchdogs: { 'guard.check_in_missed': 1 } }
    : device,
);

/** An operator code typed at the keypad: a secret of the post, which never leaves the decoder. */
const operatorCode = 'OP7731X';

const zoneAlarm = {
  seq: 1,
  time: '2026-11-22T02:14:09+08:00',
  event: 'ZONE_ALARM',
  zone: 3,
  zoneType: 'pir',
};
const oversized = JSON.stringify({ ...zoneAlarm, padding: 'x'.repeat(20_000) });

describeConformance({
  adapter: sentryBox,
  simulator: (options) => new SentrySimulator(options),
  deviceId,
  secret: demoSecret(deviceId),
  deployment: deploymentOf(config),
  // Expected attributes as the adapter's README and test/devices/sentry-box.fixtures.test.ts give them.
  scenarios: [
    {
      name: 'the panic button is pressed',
      act: (sim) => sim.panic(),
      expect: { type: 'alarm.panic', attributes: { duress: false } },
    },
    {
      name: 'the duress code is entered',
      act: (sim) => sim.panic(true),
      expect: { type: 'alarm.panic', attributes: { duress: true } },
    },
    {
      name: 'the fence of zone 3 goes into alarm',
      act: (sim) => sim.zoneAlarm(3, 'fence'),
      expect: { type: 'alarm.intrusion', attributes: { zone: 3, zoneType: 'fence' } },
    },
    {
      name: 'the guard arms the panel at the keypad with an operator code',
      act: (sim) => sim.arm('keypad', operatorCode),
      identifier: operatorCode,
      expect: { type: 'panel.armed', attributes: { by: 'keypad' } },
    },
    {
      name: 'the guard disarms the panel at the keypad with an operator code',
      act: (sim) => sim.disarm('keypad', operatorCode),
      identifier: operatorCode,
      expect: { type: 'panel.disarmed', attributes: { by: 'keypad' } },
    },
    {
      name: 'the siren is tampered with',
      act: (sim) => sim.tamper('siren'),
      expect: { type: 'device.tamper', attributes: { source: 'siren' } },
    },
    {
      name: 'mains power fails',
      act: (sim) => sim.mainsLost(),
      expect: { type: 'power.mains_lost', attributes: {} },
    },
    {
      name: 'mains power comes back',
      act: (sim) => sim.mainsRestored(),
      expect: { type: 'power.mains_restored', attributes: {} },
    },
    {
      name: 'the battery runs low',
      act: (sim) => sim.batteryLow(15),
      expect: { type: 'power.battery_low', attributes: { percent: 15 } },
    },
    {
      name: 'the battery recovers',
      act: (sim) => sim.batteryOk(95),
      expect: { type: 'power.battery_ok', attributes: { percent: 95 } },
    },
    {
      name: 'the guard checks in',
      act: (sim) => sim.checkIn('G-0107'),
      expect: { type: 'guard.check_in', attributes: { guard: 'G-0107' } },
    },
    {
      name: 'a heartbeat with the panel’s state',
      act: (sim) => sim.heartbeat(),
      expect: null,
    },
  ],
  malformed: [
    {
      name: 'a frame cut short',
      payload: '{"seq":1,"event":"PANIC","duress":tru',
      reason: 'not_json',
      problem: 'not valid JSON',
    },
    {
      name: 'an alarm of zone 33',
      payload: JSON.stringify({ ...zoneAlarm, zone: 33 }),
      reason: 'schema',
      problem: 'zone: ',
    },
    {
      name: 'an arming with the operator code given as a number',
      payload: JSON.stringify({ seq: 2, time: zoneAlarm.time, event: 'ARMED', by: 'keypad', user: 7731 }),
      reason: 'schema',
      problem: 'user: ',
    },
    {
      name: 'a heartbeat with a battery at 101 percent',
      payload: JSON.stringify({
        seq: 3,
        time: zoneAlarm.time,
        armed: false,
        mains: true,
        batteryPercent: 101,
        siren: false,
      }),
      channel: 'heartbeat',
      reason: 'schema',
      problem: 'batteryPercent: ',
    },
    {
      name: 'a reply in the gate controller’s words',
      payload: JSON.stringify({ requestId: 'r1', result: 'OK' }),
      channel: 'replies',
      reason: 'schema',
      problem: 'status: ',
    },
    {
      name: 'a frame over the size limit',
      payload: oversized,
      reason: 'oversized',
      problem: `${Buffer.byteLength(oversized)} bytes, the limit is 16384`,
    },
  ],
  // The scenarios leave the panel disarmed; each answer follows from the one before.
  commands: [
    { command: 'arm', params: {}, expectOk: true },
    { command: 'arm', params: {}, expectOk: false, expectError: 'already armed' },
    { command: 'silence_siren', params: {}, expectOk: true },
    { command: 'disarm', params: {}, expectOk: true },
    { command: 'disarm', params: {}, expectOk: false, expectError: 'already disarmed' },
  ],
  watchdogs: ['guard.check_in_missed'],
});
