import { describe, expect, it } from 'vitest';
import { zktecoAdms } from '../../devices/zkteco-adms/index.ts';
import {
  attlogLine,
  oplogLine,
  rtlogLine,
  rtstateLine,
  terminalClock,
} from '../../simulators/zkteco/records.ts';
import { admsTable, readCommandResults, tableReaders, terminalTime } from '../../src/ingest/adms-lines.ts';
import {
  type AdapterFixtureTables,
  checkAdapterFixtures,
  decodeOn,
  type FrameFixture,
} from './adapter-fixtures.ts';
import { records } from './zkteco-adms-payloads.ts';

const at = '2026-02-23T14:13:48+08:00';
const when = Date.parse(at);

const rtlog = (event: number, extra: Record<string, unknown> = {}) => ({
  table: 'rtlog',
  seq: 7,
  time: at,
  event,
  door: 1,
  inOut: 0,
  verify: 4,
  ...extra,
});

const events: FrameFixture[] = [
  {
    name: 'rtlog 0: a card opens door 1 (card masked)',
    raw: rtlog(0, { pin: '1001', card: '31415926' }),
    identifier: '31415926',
    expected: [
      {
        type: 'access.granted',
        occurredAt: when,
        attributes: { door: 1, direction: 'in', credentialType: 'card', credential: '****5926', code: 0 },
      },
    ],
  },
  {
    name: 'ATTLOG: a fingerprint punch (the user number masked)',
    raw: { table: 'ATTLOG', time: at, pin: '78979877', status: 0, verify: 1 },
    identifier: '78979877',
    expected: [
      {
        type: 'access.granted',
        occurredAt: when,
        attributes: { credentialType: 'finger', credential: '****9877', punch: 'check_in' },
      },
    ],
  },
  {
    name: 'rtlog 27: an unregistered card, going out',
    raw: rtlog(27, { inOut: 1, card: '99887766' }),
    identifier: '99887766',
    expected: [
      {
        type: 'access.denied',
        occurredAt: when,
        attributes: {
          door: 1,
          direction: 'out',
          credentialType: 'card',
          credential: '****7766',
          reason: 'unknown_credential',
          code: 27,
        },
      },
    ],
  },
  {
    name: 'OPERLOG alarm 58: repeated invalid verifications',
    raw: { table: 'OPERLOG', time: at, op: 3, reason: 58 },
    expected: [
      { type: 'access.denied', occurredAt: when, attributes: { reason: 'repeated_invalid_verification' } },
    ],
  },
  {
    name: 'rtlog 24: anti-passback, no direction given',
    raw: rtlog(24, { inOut: 2, card: '12345678' }),
    identifier: '12345678',
    expected: [
      {
        type: 'access.anti_passback',
        occurredAt: when,
        attributes: { door: 1, credentialType: 'card', credential: '****5678' },
      },
    ],
  },
  {
    name: 'rtlog 101: a duress password opens door 2',
    raw: rtlog(101, { door: 2, verify: 3, pin: '1001' }),
    expected: [{ type: 'access.duress', occurredAt: when, attributes: { door: 2, method: 'password' } }],
  },
  {
    name: 'OPERLOG 32: a duress alarm',
    raw: { table: 'OPERLOG', time: at, op: 32 },
    expected: [{ type: 'access.duress', occurredAt: when, attributes: {} }],
  },
  {
    name: 'rtlog 102: door 1 opened accidentally (forced)',
    raw: rtlog(102, { verify: 200, inOut: 2 }),
    expected: [{ type: 'door.forced_open', occurredAt: when, attributes: { door: 1 } }],
  },
  {
    name: 'OPERLOG alarm 54: door broken accidentally',
    raw: { table: 'OPERLOG', time: at, op: 3, reason: 54 },
    expected: [{ type: 'door.forced_open', occurredAt: when, attributes: {} }],
  },
  {
    name: 'rtlog 28: opening timeout (held open)',
    raw: rtlog(28),
    expected: [{ type: 'door.held_open', occurredAt: when, attributes: { door: 1 } }],
  },
  {
    name: 'rtlog 8: remote opening',
    raw: rtlog(8, { verify: 200 }),
    expected: [{ type: 'door.remote_opened', occurredAt: when, attributes: { door: 1, code: 8 } }],
  },
  {
    name: 'rtlog 200: the door sensor opens',
    raw: rtlog(200),
    expected: [{ type: 'door.opened', occurredAt: when, attributes: { door: 1 } }],
  },
  {
    name: 'rtlog 201: the door sensor closes',
    raw: rtlog(201),
    expected: [{ type: 'door.closed', occurredAt: when, attributes: { door: 1 } }],
  },
  {
    name: 'rtlog 202: the exit button',
    raw: rtlog(202),
    expected: [{ type: 'door.exit_button', occurredAt: when, attributes: { door: 1 } }],
  },
  {
    name: 'rtlog 206: the terminal started',
    raw: rtlog(206),
    expected: [{ type: 'device.started', occurredAt: when, attributes: {} }],
  },
  {
    name: 'OPERLOG alarm 55: the machine was broken (tamper)',
    raw: { table: 'OPERLOG', time: at, op: 3, reason: 55 },
    expected: [{ type: 'device.tamper', occurredAt: when, attributes: { source: 'enclosure' } }],
  },
  {
    name: 'rtlog 221: auxiliary input 2 shorted',
    raw: rtlog(221, { door: 2 }),
    expected: [{ type: 'alarm.input', occurredAt: when, attributes: { input: 2, state: 'shorted' } }],
  },
  {
    name: 'rtlog 999: a code the table does not know, kept by number',
    raw: rtlog(999),
    expected: [{ type: 'access.unmapped_event', occurredAt: when, attributes: { code: 999, door: 1 } }],
  },
  {
    name: 'rtlog 255: the status record raises nothing',
    raw: rtlog(255),
    expected: [],
  },
  {
    name: 'OPERLOG 30: an enrolment raises nothing',
    raw: { table: 'OPERLOG', time: at, op: 30 },
    expected: [],
  },
];

const tables: AdapterFixtureTables = {
  events,
  eventsMalformed: [
    { name: 'an event code that is text', raw: rtlog(0, { event: 'abc' }), path: ['event'] },
    { name: 'a time without its offset', raw: rtlog(0, { time: '2026-02-23 14:13:48' }), path: ['time'] },
    { name: 'an unknown table', raw: { table: 'USERINFO', time: at }, path: ['table'] },
    { name: 'a key no record has', raw: rtlog(0, { name: 'Zhang San' }), path: [] },
    {
      name: 'an ATTLOG without its user',
      raw: { table: 'ATTLOG', time: at, status: 0, verify: 1 },
      path: ['pin'],
    },
  ],
  heartbeat: [
    {
      name: 'rtstate: door closed, no alarm',
      raw: { table: 'rtstate', time: at, sensor: '01', relay: '00', alarm: '0000000000000000', door: '01' },
      expected: [],
    },
  ],
  heartbeatMalformed: [
    {
      name: 'a sensor state that is not hex',
      raw: { table: 'rtstate', time: at, sensor: 'open', relay: '00', alarm: '00' },
      path: ['sensor'],
    },
  ],
  commands: [
    {
      name: 'open_door, door 1 for 5 seconds (defaults)',
      command: 'open_door',
      params: {},
      requestId: 'r1',
      expected: { requestId: 'r1', command: 'CONTROL DEVICE 01010105' },
    },
    {
      name: 'open_door, door 2 for 30 seconds (hex bytes)',
      command: 'open_door',
      params: { door: 2, seconds: 30 },
      requestId: 'r2',
      expected: { requestId: 'r2', command: 'CONTROL DEVICE 0102011E' },
    },
    {
      name: 'ac_unlock',
      command: 'ac_unlock',
      params: {},
      requestId: 'r3',
      expected: { requestId: 'r3', command: 'AC_UNLOCK' },
    },
    {
      name: 'cancel_alarm',
      command: 'cancel_alarm',
      params: {},
      requestId: 'r4',
      expected: { requestId: 'r4', command: 'CONTROL DEVICE 02000000' },
    },
  ],
  commandsMalformed: [
    { name: 'door 9', command: 'open_door', params: { door: 9 }, path: ['door'] },
    {
      name: '255 seconds (normally open is not a door open)',
      command: 'open_door',
      params: { seconds: 255 },
      path: ['seconds'],
    },
  ],
  replies: [
    {
      name: 'Return=0: done',
      raw: { requestId: 'r1', return: 0, cmd: 'CONTROL DEVICE' },
      expected: { requestId: 'r1', ok: true },
    },
    {
      name: 'Return=-1002: not supported',
      raw: { requestId: 'r2', return: -1002, cmd: 'AC_UNLOCK' },
      expected: {
        requestId: 'r2',
        ok: false,
        error: 'not supported by the device (Return=-1002, CMD=AC_UNLOCK)',
      },
    },
  ],
  repliesMalformed: [{ name: 'no Return', raw: { requestId: 'r1', cmd: 'DATA' }, path: ['return'] }],
};

describe('zkteco-adms adapter fixtures', () => {
  checkAdapterFixtures(zktecoAdms, tables);
});

describe('the ADMS line readers on real payloads', () => {
  const zone = 'Asia/Shanghai';
  const frameOf = (record: { table: string; line: string }) => {
    const table = admsTable(record.table);
    if (table === undefined) throw new Error(record.table);
    const reading = tableReaders[table](record.line, zone);
    if (reading.kind !== 'frame') throw new Error(`${record.table}: ${reading.kind}`);
    return reading;
  };

  it('reads the terminal’s wall clock in the hub’s zone, across zones and a daylight-saving change', () => {
    expect(terminalTime('2026-02-23 14:13:48', 'Asia/Shanghai')).toBe('2026-02-23T14:13:48+08:00');
    expect(terminalTime('2026-07-01 09:00:00', 'Europe/Berlin')).toBe('2026-07-01T09:00:00+02:00');
    expect(terminalTime('2026-01-01 09:00:00', 'Europe/Berlin')).toBe('2026-01-01T09:00:00+01:00');
    expect(terminalTime('2026-01-01 09:00:00', 'Asia/Kolkata')).toBe('2026-01-01T09:00:00+05:30');
    expect(terminalTime('yesterday', zone)).toBe('yesterday');
  });

  it('reads an unregistered credential of a face terminal and decodes it as a denial, the user number masked', () => {
    const reading = frameOf(records.rtlogUnregisteredCard);
    expect(reading).toEqual({
      kind: 'frame',
      channel: 'events',
      frame: {
        table: 'rtlog',
        seq: 21,
        time: '2024-03-15T08:30:00+08:00',
        event: 27,
        door: 1,
        inOut: 1,
        verify: 15,
        pin: '1001',
      },
    });
    expect(decodeOn(zktecoAdms, 'events', reading.frame)).toEqual([
      {
        type: 'access.denied',
        occurredAt: Date.parse('2024-03-15T00:30:00Z'),
        attributes: {
          door: 1,
          direction: 'out',
          credentialType: 'face',
          credential: '****',
          reason: 'unknown_credential',
          code: 27,
        },
      },
    ]);
  });

  it('reads the newer rtlog with its extra fields (ignored) as a granted opening', () => {
    const reading = frameOf(records.rtlogMultiCardOpen);
    expect(decodeOn(zktecoAdms, 'events', reading.frame)).toEqual([
      {
        type: 'access.granted',
        occurredAt: Date.parse('2026-02-23T06:13:48Z'),
        attributes: { door: 1, direction: 'in', credentialType: 'face', credential: '****', code: 3 },
      },
    ]);
  });

  it('reads rtstate on the heartbeat channel, which raises nothing', () => {
    const reading = frameOf(records.rtstate);
    expect(reading.channel).toBe('heartbeat');
    expect(decodeOn(zktecoAdms, 'heartbeat', reading.frame)).toEqual([]);
  });

  it.each([records.attlogShort, records.attlogWithWorkcode])(
    'reads the ATTLOG $name as a punch',
    (record) => {
      const reading = frameOf(record);
      const [event] = decodeOn(zktecoAdms, 'events', reading.frame);
      expect(event?.type).toBe('access.granted');
      expect(event?.attributes).toMatchObject({ credentialType: 'finger', punch: 'check_in' });
      expect(JSON.stringify(event)).not.toContain(record.line.split('\t')[0]);
    },
  );

  it('reads an OPLOG alarm line, and skips the enrolment lines of OPERLOG without reading them', () => {
    const line = oplogLine({
      op: 3,
      operator: '0',
      time: '2026-02-23 14:20:00',
      objects: ['0', '55', '0', '0'],
    });
    expect(tableReaders.OPERLOG(line, zone)).toEqual({
      kind: 'frame',
      channel: 'events',
      frame: { table: 'OPERLOG', time: '2026-02-23T14:20:00+08:00', op: 3, reason: 55 },
    });
    expect(tableReaders.OPERLOG('USER PIN=1\tName=Zhang San\tPri=0\tPasswd=\tCard=[15CD5B07]', zone)).toEqual(
      {
        kind: 'skipped',
      },
    );
  });

  it('refuses garbage by its shape, never its values', () => {
    const reading = tableReaders.rtlog('pin=1001\tcardno=31415926', zone);
    expect(reading).toMatchObject({ kind: 'malformed', shape: { pin: 'string', cardno: 'string' } });
    expect(JSON.stringify(reading)).not.toContain('31415926');
    expect(tableReaders.ATTLOG('\u0000\u0001 not a record', zone)).toMatchObject({ kind: 'malformed' });
  });

  it('reads devicecmd results, and counts the lines without ID or Return', () => {
    expect(readCommandResults('ID=17&Return=0&CMD=CONTROL DEVICE\nnonsense\n')).toEqual({
      results: [{ id: '17', returned: 0, cmd: 'CONTROL DEVICE' }],
      malformed: 1,
    });
  });
});

describe('the simulator writes the public payloads byte for byte', () => {
  it('rtlog, as a face terminal writes it', () => {
    expect(
      rtlogLine({
        time: '2024-03-15 08:30:00',
        pin: '1001',
        card: '0',
        door: 1,
        event: 27,
        inOut: 1,
        verify: 15,
        index: 21,
      }),
    ).toBe(records.rtlogUnregisteredCard.line);
  });

  it('rtlog with the newer fields', () => {
    expect(
      rtlogLine({
        time: '2026-02-23 14:13:48',
        pin: '2',
        card: '0',
        door: 1,
        event: 3,
        inOut: 0,
        verify: 15,
        index: 140,
        extended: true,
      }),
    ).toBe(records.rtlogMultiCardOpen.line);
  });

  it('rtstate', () => {
    expect(
      rtstateLine({
        time: '2026-02-23 14:13:48',
        sensor: '01',
        relay: '00',
        alarm: '0000000000000000',
        door: '01',
      }),
    ).toBe(records.rtstate.line);
  });

  it('ATTLOG, short and with a work code', () => {
    expect(attlogLine({ pin: '9999', time: '2026-08-12 08:53:23', status: 0, verify: 1 })).toBe(
      records.attlogShort.line,
    );
    expect(
      attlogLine({ pin: '78979877', time: '2026-07-11 10:15:00', status: 0, verify: 1, workcode: '0' }),
    ).toBe(records.attlogWithWorkcode.line);
  });

  it('its clock in the zone it was given', () => {
    expect(terminalClock(Date.parse('2026-02-23T06:13:48Z'), 480)).toBe('2026-02-23 14:13:48');
  });
});
