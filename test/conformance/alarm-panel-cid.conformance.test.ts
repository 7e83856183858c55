import { alarmPanelCid } from '../../devices/alarm-panel-cid/index.ts';
import { AlarmPanelSimulator } from '../../simulators/alarm-panel/alarm-panel.ts';
import { demoConfig, deploymentOf } from '../helpers/hub.ts';
import { type ConnectorScenario, describeConnectorConformance } from './connector-kit.ts';

/**
 * The alarm panel family on its own wire: the simulator reports over SIA DC-09 on TCP, every message AES-128
 * encrypted, to the hub's receiver (the demo's, at its defaults: the standard's +20 s / -40 s window); NULL
 * supervision every 0.3 s keeps it heard. Its clock runs: a DC-09 timestamp is to the second, so each event's
 * occurredAt is within a second and a half of when the act ran.
 */

const deviceId = 'panel-luming-03';
const account = 'B1303';
const key = Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex');

function deployment() {
  const config = demoConfig();
  config.devices = config.devices.map((device) =>
    device.id === deviceId ? { ...device, offlineAfterSeconds: 2 } : device,
  );
  return deploymentOf(config);
}

type Scenario = ConnectorScenario<AlarmPanelSimulator>;
const cid = (data: string) => (sim: AlarmPanelSimulator) => sim.send({ token: 'ADM-CID', data });
const dcs = (data: string) => (sim: AlarmPanelSimulator) => sim.send({ token: 'SIA-DCS', data });
/** Every event carries its code and the panel's partition (the simulator's: 1). */
const expect = (type: string, code: string, more: Record<string, unknown> = {}) => ({
  type,
  attributes: { code, partition: 1, ...more },
});

const scenarios: readonly Scenario[] = [
  {
    name: 'burglary in zone 3',
    act: (sim) => sim.alarm(3),
    expect: expect('alarm.intrusion', '130', { zone: 3 }),
  },
  {
    name: 'zone 3 restored',
    act: (sim) => sim.restore(3),
    expect: expect('alarm.intrusion_restored', '130', { zone: 3 }),
  },
  {
    name: 'the pillar’s panic button',
    act: (sim) => sim.alarm(1, 'panic'),
    expect: expect('alarm.panic', '120', { zone: 1, duress: false }),
  },
  {
    name: 'the panic restored',
    act: (sim) => sim.restore(1, 'panic'),
    expect: expect('alarm.panic_restored', '120', { zone: 1 }),
  },
  {
    name: 'a duress code',
    act: (sim) => sim.alarm(1, 'duress'),
    expect: expect('alarm.panic', '121', { zone: 1, duress: true }),
  },
  {
    name: 'fire in zone 9',
    act: (sim) => sim.alarm(9, 'fire'),
    expect: expect('alarm.fire', '110', { zone: 9 }),
  },
  {
    name: 'the fire restored',
    act: (sim) => sim.restore(9, 'fire'),
    expect: expect('alarm.fire_restored', '110', { zone: 9 }),
  },
  {
    name: 'a medical alarm',
    act: (sim) => sim.alarm(2, 'medical'),
    expect: expect('alarm.medical', '100', { zone: 2 }),
  },
  {
    name: 'the medical alarm restored',
    act: (sim) => sim.restore(2, 'medical'),
    expect: expect('alarm.medical_restored', '100', { zone: 2 }),
  },
  {
    name: 'the enclosure tampered with',
    act: (sim) => sim.alarm(0, 'tamper'),
    expect: expect('device.tamper', '137'),
  },
  {
    name: 'the tamper switch closed',
    act: (sim) => sim.restore(0, 'tamper'),
    expect: expect('device.tamper_restored', '137'),
  },
  { name: 'mains lost', act: (sim) => sim.alarm(0, 'mains'), expect: expect('power.mains_lost', '301') },
  {
    name: 'mains restored',
    act: (sim) => sim.restore(0, 'mains'),
    expect: expect('power.mains_restored', '301'),
  },
  {
    name: 'a low battery',
    act: (sim) => sim.alarm(0, 'battery'),
    expect: expect('power.battery_low', '302'),
  },
  {
    name: 'the battery recovered',
    act: (sim) => sim.restore(0, 'battery'),
    expect: expect('power.battery_ok', '302'),
  },
  { name: 'a general alarm', act: cid('1140 01 004'), expect: expect('alarm.general', '140', { zone: 4 }) },
  {
    name: 'the general alarm restored',
    act: cid('3140 01 004'),
    expect: expect('alarm.general_restored', '140', { zone: 4 }),
  },
  {
    name: 'gas detected',
    act: cid('1151 01 005'),
    expect: expect('alarm.environmental', '151', { zone: 5 }),
  },
  {
    name: 'a water alarm restored, in SIA DCS',
    act: dcs('Nri1/WH005'),
    expect: expect('alarm.environmental_restored', 'WH', { zone: 5 }),
  },
  {
    name: 'a fire supervisory',
    act: cid('1200 01 007'),
    expect: expect('panel.supervisory', '200', { zone: 7 }),
  },
  {
    name: 'the supervisory restored',
    act: cid('3200 01 007'),
    expect: expect('panel.supervisory_restored', '200', { zone: 7 }),
  },
  {
    name: 'a communication trouble, in SIA DCS',
    act: dcs('Nri1/YS000'),
    expect: expect('panel.trouble', 'YS'),
  },
  {
    name: 'the communication restored, in SIA DCS',
    act: dcs('Nri1/YK000'),
    expect: expect('panel.trouble_restored', 'YK'),
  },
  { name: 'zone 10 bypassed', act: cid('1570 01 010'), expect: expect('zone.bypassed', '570', { zone: 10 }) },
  {
    name: 'zone 10 unbypassed',
    act: cid('3570 01 010'),
    expect: expect('zone.unbypassed', '570', { zone: 10 }),
  },
  {
    name: 'disarmed by user 7',
    act: (sim) => sim.open(7),
    expect: expect('panel.disarmed', '401', { user: 7 }),
  },
  { name: 'armed by user 7', act: (sim) => sim.close(7), expect: expect('panel.armed', '401', { user: 7 }) },
  { name: 'a wrong code entered', act: cid('1461 01 000'), expect: expect('panel.exception', '461') },
  { name: 'the periodic test report', act: (sim) => sim.testReport(), expect: expect('panel.test', '602') },
  {
    name: 'a code no table holds',
    act: cid('1999 01 001'),
    expect: expect('panel.report', '999', { zone: 1 }),
  },
  { name: 'a NULL supervision message', act: (sim) => sim.supervise(), expect: null },
];

/**
 * Runs a fault for one report, then puts the panel right. Its supervision (every 0.3 s) is paused meanwhile, and one
 * clean supervision sent first drains any already waiting its turn: else a NULL message would go out with the fault
 * too, and be refused a second time.
 */
async function withFault(sim: AlarmPanelSimulator, fault: () => void): Promise<void> {
  sim.goSilent();
  await sim.supervise();
  fault();
  try {
    await sim.testReport();
  } finally {
    sim.faults.badCrc = false;
    sim.faults.wrongKey = undefined;
    sim.faults.clockSkewMs = 0;
    sim.resume();
  }
}

describeConnectorConformance<AlarmPanelSimulator>({
  adapter: alarmPanelCid,
  deviceId,
  deviceTime: { toleranceMs: 1_500 },
  prepare: async () => {
    const sim = new AlarmPanelSimulator({
      host: '127.0.0.1',
      port: 1,
      transport: 'tcp',
      account,
      key,
      answerTimeoutMs: 3_000,
      retries: 0,
    });
    return { sim, deployment: deployment() };
  },
  attach: async (sim, hub) => {
    sim.reportTo('127.0.0.1', hub.hub.siaPort);
    await sim.supervise();
    sim.startSupervision(0.3);
  },
  scenarios,
  malformed: [
    {
      name: 'a message with a bad CRC',
      send: (sim) => withFault(sim, () => (sim.faults.badCrc = true)),
      reason: 'malformed',
      problem: 'the CRC does not match the message',
    },
    {
      name: 'a message in a wrong key',
      send: (sim) => withFault(sim, () => (sim.faults.wrongKey = Buffer.alloc(16, 0x5a))),
      reason: 'unauthenticated',
      problem: "the message does not decrypt with the account's key",
    },
    {
      name: 'a message stamped two hours ago',
      send: (sim) => withFault(sim, () => (sim.faults.clockSkewMs = -2 * 3600_000)),
      reason: 'stale',
      problem: 'the timestamp is behind by more than 40 seconds',
    },
    {
      // One line of garbage, ended as a frame is (CR): exactly one refusal. (The simulator's default garbage is two
      // pieces, the second refused when the next bytes arrive, so it is counted twice, and not always at once.)
      name: 'garbage on the line',
      send: (sim) => sim.garbage('GARBAGE, not a DC-09 message\r'),
      reason: 'malformed',
      problem: 'bytes outside a message',
    },
    {
      name: 'an account no panel has',
      send: async (sim) => {
        const { key: _key, ...clear } = sim.options;
        const stranger = new AlarmPanelSimulator({ ...clear, ...sim.receiverAddress, account: 'FFF1' });
        try {
          await stranger.alarm(1);
        } finally {
          await stranger.stop();
        }
      },
      reason: 'unknown_device',
      problem: 'no panel has this account',
    },
  ],
  commands: [],
});
