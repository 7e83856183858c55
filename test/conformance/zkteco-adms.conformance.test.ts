import { randomBytes } from 'node:crypto';
import { zktecoAdms } from '../../devices/zkteco-adms/index.ts';
import { type HttpAnswer, ZktecoTerminal } from '../../simulators/zkteco/zkteco-terminal.ts';
import { type RecordPayload, records } from '../devices/zkteco-adms-payloads.ts';
import { demoConfig, deploymentOf, type TestHub } from '../helpers/hub.ts';
import {
  type ConnectorScenario,
  type ConnectorSimulator,
  describeConnectorConformance,
} from './connector-kit.ts';

/**
 * The ZKTeco ADMS family on its own wire: the simulated terminals push to the hub's device HTTP listener at
 * /iclock/ (receivers.http), register, poll for commands every 0.1 s (the poll is their heartbeat) and upload their
 * records: rtlog for access events, OPERLOG for alarms, rtstate for the door state (a heartbeat, no event), ATTLOG
 * for punches. Bad uploads are refused on the same listener, and so is a serial no device has.
 */

/** The demo's access terminal (config/demo.yaml), in grid-xijiao-02. */
const deviceId = 'zk-xijiao-02-east';
const gateSerial = 'CGXH221260001';
/** An attendance terminal beside it: it runs AC_UNLOCK, which an access terminal does not. */
const clockId = 'zk-xijiao-02-clock-conformance';
const clockSerial = 'AAML174460003';

function acknowledged(answer: HttpAnswer): HttpAnswer {
  if (answer.status !== 200)
    throw new Error(`the hub answered ${answer.status} ${answer.body.trim()}, not 200`);
  return answer;
}

/**
 * The two terminals as the kit drives them, made once the hub listens. Silent is the access terminal no longer
 * polling (its records would still be heard); resumed, it polls again.
 */
class ConformanceTerminals implements ConnectorSimulator {
  #url: string | undefined;
  #gate: ZktecoTerminal | undefined;
  #clock: ZktecoTerminal | undefined;

  get gate(): ZktecoTerminal {
    if (this.#gate === undefined) throw new Error('the terminals were not attached to a hub');
    return this.#gate;
  }

  async attach(hub: TestHub): Promise<void> {
    this.#url = `http://127.0.0.1:${hub.hub.deviceHttpPort}`;
    this.#gate = new ZktecoTerminal({ url: this.#url, serial: gateSerial, pollMs: 100 });
    this.#clock = new ZktecoTerminal({
      url: this.#url,
      serial: clockSerial,
      mode: 'attendance',
      pollMs: 100,
    });
    await this.#gate.start();
    await this.#clock.start();
  }

  goSilent(): void {
    this.gate.stopPolling();
  }

  resume(): void {
    this.gate.resumePolling();
  }

  async stop(): Promise<void> {
    await this.#gate?.stop();
    await this.#clock?.stop();
  }

  /** A terminal whose serial no device is provisioned with, registering: refused (403), it backs off. */
  async stranger(): Promise<void> {
    if (this.#url === undefined) throw new Error('the terminals were not attached to a hub');
    const serial = `STRANGER${randomBytes(4).toString('hex').toUpperCase()}`;
    const stranger = new ZktecoTerminal({ url: this.#url, serial });
    const answer = await stranger.register();
    if (answer.status !== 403) throw new Error(`a stranger was answered ${answer.status}, not 403`);
  }

  /** A real terminal's record line (test/devices/zkteco-adms-payloads.ts), uploaded as it was logged. */
  async replay(record: RecordPayload): Promise<void> {
    acknowledged(await this.gate.upload(record.table, [record.line]));
  }
}

type Scenario = ConnectorScenario<ConformanceTerminals>;
const door = 1;

const rtlogScenarios: readonly Scenario[] = [
  {
    name: 'a registered card opens the door (rtlog event 0)',
    act: async (sim) => acknowledged(await sim.gate.swipe('31415926')),
    identifier: '31415926',
    expect: {
      type: 'access.granted',
      attributes: { door, direction: 'in', credentialType: 'card', credential: '****5926', code: 0 },
    },
  },
  {
    name: 'an unregistered card is refused (rtlog event 27)',
    act: async (sim) => acknowledged(await sim.gate.swipe('27182818', false)),
    identifier: '27182818',
    expect: {
      type: 'access.denied',
      attributes: {
        door,
        direction: 'in',
        credentialType: 'card',
        credential: '****2818',
        reason: 'unknown_credential',
        code: 27,
      },
    },
  },
  {
    name: 'a card passes back (rtlog event 24)',
    act: async (sim) => acknowledged(await sim.gate.antiPassback('16180339')),
    identifier: '16180339',
    expect: {
      type: 'access.anti_passback',
      attributes: { door, direction: 'in', credentialType: 'card', credential: '****0339' },
    },
  },
  {
    name: 'the door is opened with the duress password (rtlog event 101)',
    act: async (sim) => acknowledged(await sim.gate.duress()),
    expect: { type: 'access.duress', attributes: { door, method: 'password' } },
  },
  {
    name: 'the door is forced (rtlog event 102)',
    act: async (sim) => acknowledged(await sim.gate.forceDoor()),
    expect: { type: 'door.forced_open', attributes: { door } },
  },
  {
    name: 'the door is held open (rtlog event 28)',
    act: async (sim) => acknowledged(await sim.gate.holdDoor()),
    expect: { type: 'door.held_open', attributes: { door } },
  },
  {
    name: 'the door is opened remotely (rtlog event 8)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(8)),
    expect: { type: 'door.remote_opened', attributes: { door, code: 8 } },
  },
  {
    name: 'the door sensor sees the door open (rtlog event 200)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(200)),
    expect: { type: 'door.opened', attributes: { door } },
  },
  {
    name: 'the door sensor sees the door close (rtlog event 201)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(201)),
    expect: { type: 'door.closed', attributes: { door } },
  },
  {
    name: 'the exit button releases door 2 (rtlog event 202)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(202, 2)),
    expect: { type: 'door.exit_button', attributes: { door: 2 } },
  },
  {
    name: 'auxiliary input 1 opens (rtlog event 220)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(220)),
    expect: { type: 'alarm.input', attributes: { input: 1, state: 'open' } },
  },
  {
    name: 'auxiliary input 2 is shorted (rtlog event 221)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(221, 2)),
    expect: { type: 'alarm.input', attributes: { input: 2, state: 'shorted' } },
  },
  {
    name: 'the terminal reboots: it registers again and logs its start (rtlog event 206)',
    act: (sim) => sim.gate.reboot(),
    expect: { type: 'device.started', attributes: {} },
  },
  {
    name: 'a code the adapter does not know (rtlog event 48)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(48)),
    expect: { type: 'access.unmapped_event', attributes: { code: 48, door } },
  },
  {
    name: 'an alarm cancelled (rtlog event 7, bookkeeping)',
    act: async (sim) => acknowledged(await sim.gate.logEvent(7)),
    expect: null,
  },
];

const otherTableScenarios: readonly Scenario[] = [
  {
    name: 'the enclosure is opened (OPERLOG alarm reason 55)',
    act: async (sim) => acknowledged(await sim.gate.tamper()),
    expect: { type: 'device.tamper', attributes: { source: 'enclosure' } },
  },
  {
    name: 'the door open is detected (OPERLOG alarm reason 51)',
    act: async (sim) => acknowledged(await sim.gate.alarm(51)),
    expect: { type: 'door.opened', attributes: {} },
  },
  {
    name: 'the door close is detected (OPERLOG alarm reason 50)',
    act: async (sim) => acknowledged(await sim.gate.alarm(50)),
    expect: { type: 'door.closed', attributes: {} },
  },
  {
    name: 'the door is broken open (OPERLOG alarm reason 54)',
    act: async (sim) => acknowledged(await sim.gate.alarm(54)),
    expect: { type: 'door.forced_open', attributes: {} },
  },
  {
    name: 'repeated invalid verifications (OPERLOG alarm reason 58)',
    act: async (sim) => acknowledged(await sim.gate.alarm(58)),
    expect: { type: 'access.denied', attributes: { reason: 'repeated_invalid_verification' } },
  },
  {
    name: 'a duress alarm (OPERLOG operation 32)',
    act: async (sim) => acknowledged(await sim.gate.operation(32)),
    expect: { type: 'access.duress', attributes: {} },
  },
  {
    name: 'the terminal starts (OPERLOG operation 0)',
    act: async (sim) => acknowledged(await sim.gate.operation(0)),
    expect: { type: 'device.started', attributes: {} },
  },
  {
    name: 'the alarm is cancelled (OPERLOG alarm reason 65535)',
    act: async (sim) => acknowledged(await sim.gate.alarm(65_535)),
    expect: null,
  },
  {
    name: 'a user is enrolled (an OPERLOG USER line, never read)',
    act: async (sim) =>
      acknowledged(
        await sim.gate.upload('OPERLOG', [
          'USER PIN=982\tName=Zhang Wei\tPri=0\tPasswd=\tCard=13375401\tGrp=1\tTZ=0000000000000000\tVerify=0',
        ]),
      ),
    identifier: '13375401',
    expect: null,
  },
  {
    name: 'the door sensor opens (rtstate, a heartbeat)',
    act: async (sim) => acknowledged(await sim.gate.doorState(true)),
    expect: null,
  },
  {
    name: 'the door sensor closes (rtstate, a heartbeat)',
    act: async (sim) => acknowledged(await sim.gate.doorState(false)),
    expect: null,
  },
  {
    name: 'a finger punch (ATTLOG)',
    act: async (sim) => acknowledged(await sim.gate.punch('78979877')),
    identifier: '78979877',
    expect: {
      type: 'access.granted',
      attributes: { credentialType: 'finger', credential: '****9877', punch: 'check_in' },
    },
  },
];

/** Real terminals' record lines, replayed as they were logged (read in the demo's hub.timezone, +08:00). */
const replayedScenarios: readonly Scenario[] = [
  {
    name: `a real terminal's ${records.rtlogUnregisteredCard.name}`,
    act: (sim) => sim.replay(records.rtlogUnregisteredCard),
    carriedTime: '2024-03-15T08:30:00+08:00',
    expect: {
      type: 'access.denied',
      attributes: {
        door,
        direction: 'out',
        credentialType: 'face',
        credential: '****',
        reason: 'unknown_credential',
        code: 27,
      },
    },
  },
  {
    name: `a real terminal's ${records.rtlogMultiCardOpen.name}`,
    act: (sim) => sim.replay(records.rtlogMultiCardOpen),
    carriedTime: '2026-02-23T14:13:48+08:00',
    expect: {
      type: 'access.granted',
      attributes: { door, direction: 'in', credentialType: 'face', credential: '****', code: 3 },
    },
  },
  {
    name: `a real terminal's ${records.rtstate.name}`,
    act: (sim) => sim.replay(records.rtstate),
    expect: null,
  },
  {
    name: `a real terminal's ${records.attlogWithWorkcode.name}`,
    act: (sim) => sim.replay(records.attlogWithWorkcode),
    carriedTime: '2026-07-11T10:15:00+08:00',
    identifier: '78979877',
    expect: {
      type: 'access.granted',
      attributes: { credentialType: 'finger', credential: '****9877', punch: 'check_in' },
    },
  },
];

/** A record line as an access terminal writes it, with its event code given as text. */
const textualEventCode =
  'time=2026-11-22 09:30:00\tpin=0\tcardno=44445555\teventaddr=1\tevent=open\tinoutstatus=0\tverifytype=4\tindex=9';

describeConnectorConformance<ConformanceTerminals>({
  adapter: zktecoAdms,
  deviceId,
  officerToken: 'demo-officer-xijiao',
  // The terminal's clock runs, written to the second: each event is within a second and a half of its act.
  deviceTime: { toleranceMs: 1_500 },
  prepare: async () => {
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices = config.devices.map((device) =>
      device.id === deviceId ? { ...device, offlineAfterSeconds: 2 } : device,
    );
    config.devices.push({
      id: clockId,
      name: '西郊2网格考勤机 Xijiao Grid 2 time clock (ZKTeco, conformance)',
      adapter: 'zkteco-adms',
      serial: clockSerial,
      grid: 'grid-xijiao-02',
    });
    return { sim: new ConformanceTerminals(), deployment: deploymentOf(config) };
  },
  attach: (sim, hub) => sim.attach(hub),
  scenarios: [...rtlogScenarios, ...otherTableScenarios, ...replayedScenarios],
  malformed: [
    {
      name: 'a garbage line in an rtlog upload',
      send: (sim) => sim.gate.sendGarbage('rtlog', ['this is not a record']),
      reason: 'malformed',
      problem: 'not an rtlog record (key=value fields with event)',
    },
    {
      name: 'binary garbage in an ATTLOG upload',
      send: (sim) => sim.gate.sendGarbage('ATTLOG', ['\u0000\u0001garbage']),
      reason: 'malformed',
      problem: 'not an ATTLOG record',
    },
    {
      name: 'a garbage line in an rtstate upload',
      send: (sim) => sim.gate.sendGarbage('rtstate', ['door open']),
      reason: 'malformed',
      problem: 'not an rtstate record',
    },
    {
      name: 'a garbage line in an OPERLOG upload',
      send: (sim) => sim.gate.sendGarbage('OPERLOG', ['?? not an operation']),
      reason: 'malformed',
      problem: 'not an OPERLOG record',
    },
    {
      name: 'an rtlog record whose event code is text',
      send: (sim) => sim.gate.sendGarbage('rtlog', [textualEventCode]),
      reason: 'schema',
      problem: 'event',
    },
    {
      name: 'an upload of a table the hub does not read',
      send: (sim) => sim.gate.sendGarbage('SECRETS', ['x=1']),
      reason: 'unknown_channel',
      problem: 'an upload of a table the hub does not read',
    },
    {
      name: 'a serial number no device is provisioned with',
      send: (sim) => sim.stranger(),
      reason: 'unknown_device',
      problem: 'no device is provisioned with the serial number (SN) the terminal gave',
    },
    {
      name: 'a record line longer than 2048 bytes',
      send: (sim) => sim.gate.sendGarbage('rtlog', [`${textualEventCode}\tpadding=${'x'.repeat(2_100)}`]),
      reason: 'oversized',
      problem: 'a record line longer than the limit (2048 bytes)',
    },
    {
      name: 'an upload of more than 1000 record lines',
      send: (sim) =>
        sim.gate.sendGarbage(
          'ATTLOG',
          Array.from({ length: 1_001 }, (_, index) => `${index + 1}\t2026-11-22 09:30:00\t0\t1`),
        ),
      reason: 'oversized',
      problem: '1001 record lines in one upload, the limit is 1000',
    },
  ],
  // Queued for the terminal's next poll (every 0.1 s here), run, and answered on /iclock/devicecmd.
  commands: [
    { command: 'open_door', params: { door: 1, seconds: 5 }, expectOk: true },
    { command: 'open_door', params: {}, expectOk: true },
    { command: 'cancel_alarm', params: {}, expectOk: true },
    {
      command: 'ac_unlock',
      params: {},
      expectOk: false,
      expectError: 'not supported by the device (Return=-1002, CMD=AC_UNLOCK)',
    },
    { command: 'ac_unlock', params: {}, deviceId: clockId, expectOk: true },
  ],
});
