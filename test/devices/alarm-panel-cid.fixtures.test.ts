import { describe, expect, it } from 'vitest';
import { alarmPanelCid } from '../../devices/alarm-panel-cid/index.ts';
import { publicMessages } from '../../devices/alarm-panel-cid/public-messages.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import { channel, decodeOn, type FrameFixture, type MalformedFixture } from './adapter-fixtures.ts';

/**
 * The alarm-panel-cid adapter's tables: frames as the hub's SIA DC-09 receiver writes them (the DC-09 header, the
 * time that names the message, the data), Contact ID and SIA DCS codes in, normalized events out. The codes are
 * those of SIA DC-05 (Contact ID) and SIA DC-03 (SIA DCS); devices/alarm-panel-cid/README.md lists them. The
 * payloads of real panels are in public-messages.ts, replayed here and, over the wire, in
 * test/integration/sia-dc09.test.ts.
 */

const time = '2026-11-22T01:30:00.000Z';
const occurredAt = Date.parse(time);
const envelope = { seq: 17, time, encrypted: false, account: '1234', line: '0', extended: [] };

const cid = (data: string) => ({ ...envelope, protocol: 'ADM-CID', data });
const dcs = (data: string) => ({ ...envelope, protocol: 'SIA-DCS', data });
const at = (type: string, attributes: NormalizedEvent['attributes']): NormalizedEvent[] => [
  { type, occurredAt, attributes },
];

const events: readonly FrameFixture[] = [
  {
    name: 'CID 1130: burglary, zone 3',
    raw: cid('1130 01 003'),
    expected: at('alarm.intrusion', { code: '130', partition: 1, zone: 3 }),
  },
  {
    name: 'CID 3130: burglary restored',
    raw: cid('3130 01 003'),
    expected: at('alarm.intrusion_restored', { code: '130', partition: 1, zone: 3 }),
  },
  {
    name: 'CID 6130: burglary still present (status)',
    raw: cid('6130 01 003'),
    expected: at('alarm.intrusion', { code: '130', partition: 1, zone: 3, stillPresent: true }),
  },
  {
    name: 'CID 1120: panic of a one-key alarm pillar, zone 1',
    raw: cid('1120 00 001'),
    expected: at('alarm.panic', { code: '120', zone: 1, duress: false }),
  },
  {
    name: 'CID 1121: duress',
    raw: cid('1121 01 000'),
    expected: at('alarm.panic', { code: '121', partition: 1, duress: true }),
  },
  {
    name: 'CID 3120: panic restored',
    raw: cid('3120 00 001'),
    expected: at('alarm.panic_restored', { code: '120', zone: 1 }),
  },
  {
    name: 'CID 1110: fire',
    raw: cid('1110 01 009'),
    expected: at('alarm.fire', { code: '110', partition: 1, zone: 9 }),
  },
  {
    name: 'CID 3111: smoke restored',
    raw: cid('3111 01 009'),
    expected: at('alarm.fire_restored', { code: '111', partition: 1, zone: 9 }),
  },
  {
    name: 'CID 1100: medical',
    raw: cid('1100 01 002'),
    expected: at('alarm.medical', { code: '100', partition: 1, zone: 2 }),
  },
  {
    name: 'CID 3100: medical restored',
    raw: cid('3100 01 002'),
    expected: at('alarm.medical_restored', { code: '100', partition: 1, zone: 2 }),
  },
  {
    name: 'CID 1140: general alarm',
    raw: cid('1140 01 004'),
    expected: at('alarm.general', { code: '140', partition: 1, zone: 4 }),
  },
  {
    name: 'CID 3140: general alarm restored',
    raw: cid('3140 01 004'),
    expected: at('alarm.general_restored', { code: '140', partition: 1, zone: 4 }),
  },
  {
    name: 'CID 1151: gas',
    raw: cid('1151 01 005'),
    expected: at('alarm.environmental', { code: '151', partition: 1, zone: 5 }),
  },
  {
    name: 'CID 3154: water leakage restored',
    raw: cid('3154 01 006'),
    expected: at('alarm.environmental_restored', { code: '154', partition: 1, zone: 6 }),
  },
  {
    name: 'CID 1137: tamper',
    raw: cid('1137 01 000'),
    expected: at('device.tamper', { code: '137', partition: 1 }),
  },
  {
    name: 'CID 3383: sensor tamper restored',
    raw: cid('3383 01 012'),
    expected: at('device.tamper_restored', { code: '383', partition: 1, zone: 12 }),
  },
  {
    name: 'CID 1200: fire supervisory',
    raw: cid('1200 01 007'),
    expected: at('panel.supervisory', { code: '200', partition: 1, zone: 7 }),
  },
  {
    name: 'CID 3200: fire supervisory restored',
    raw: cid('3200 01 007'),
    expected: at('panel.supervisory_restored', { code: '200', partition: 1, zone: 7 }),
  },
  { name: 'CID 1301: AC loss', raw: cid('1301 00 000'), expected: at('power.mains_lost', { code: '301' }) },
  {
    name: 'CID 3301: AC restored',
    raw: cid('3301 00 000'),
    expected: at('power.mains_restored', { code: '301' }),
  },
  {
    name: 'CID 1302: low system battery',
    raw: cid('1302 00 000'),
    expected: at('power.battery_low', { code: '302' }),
  },
  {
    name: 'CID 3384: RF low battery restored',
    raw: cid('3384 01 014'),
    expected: at('power.battery_ok', { code: '384', partition: 1, zone: 14 }),
  },
  {
    name: 'CID 1350: communication trouble',
    raw: cid('1350 00 000'),
    expected: at('panel.trouble', { code: '350' }),
  },
  {
    name: 'CID 3350: communication trouble restored',
    raw: cid('3350 00 000'),
    expected: at('panel.trouble_restored', { code: '350' }),
  },
  {
    name: 'CID 1570: zone bypass',
    raw: cid('1570 01 010'),
    expected: at('zone.bypassed', { code: '570', partition: 1, zone: 10 }),
  },
  {
    name: 'CID 3570: zone unbypassed',
    raw: cid('3570 01 010'),
    expected: at('zone.unbypassed', { code: '570', partition: 1, zone: 10 }),
  },
  {
    name: 'CID 1401: opening (disarm) by user 7',
    raw: cid('1401 01 007'),
    expected: at('panel.disarmed', { code: '401', partition: 1, user: 7 }),
  },
  {
    name: 'CID 3401: closing (arm) by user 7',
    raw: cid('3401 01 007'),
    expected: at('panel.armed', { code: '401', partition: 1, user: 7 }),
  },
  {
    name: 'CID 3441: armed STAY',
    raw: cid('3441 02 003'),
    expected: at('panel.armed', { code: '441', partition: 2, user: 3 }),
  },
  {
    name: 'CID 1461: wrong code entry',
    raw: cid('1461 01 000'),
    expected: at('panel.exception', { code: '461', partition: 1 }),
  },
  {
    name: 'CID 1602: periodic test report',
    raw: cid('1602 00 000'),
    expected: at('panel.test', { code: '602' }),
  },
  {
    name: 'CID 1999: a code no range holds',
    raw: cid('1999 01 001'),
    expected: at('panel.report', { code: '999', partition: 1, zone: 1 }),
  },
  {
    name: 'CID without spaces, as some panels write it',
    raw: cid('113001031'),
    expected: at('alarm.intrusion', { code: '130', partition: 1, zone: 31 }),
  },
  {
    name: 'DCS BA: burglary, area 1 zone 3',
    raw: dcs('Nri1/BA003'),
    expected: at('alarm.intrusion', { code: 'BA', partition: 1, zone: 3 }),
  },
  {
    name: 'DCS BR: burglary restoral',
    raw: dcs('Nri1/BR003'),
    expected: at('alarm.intrusion_restored', { code: 'BR', partition: 1, zone: 3 }),
  },
  {
    name: 'DCS HA: hold-up (duress)',
    raw: dcs('NHA001'),
    expected: at('alarm.panic', { code: 'HA', zone: 1, duress: true }),
  },
  {
    name: 'DCS CL: closing by user 501, its label never decoded',
    raw: dcs('Nri1CL501^VX FRONTE ^'),
    expected: at('panel.armed', { code: 'CL', partition: 1, user: 501 }),
  },
  {
    name: 'DCS OP with an id modifier',
    raw: dcs('Nid12/ri2/OP012'),
    expected: at('panel.disarmed', { code: 'OP', partition: 2, user: 12 }),
  },
  {
    name: 'DCS KR: heat restoral (pysiaalarm issue 42)',
    raw: dcs('Nri0KR1^TAST. 001 ^'),
    expected: at('alarm.environmental_restored', { code: 'KR', zone: 1 }),
  },
  { name: 'DCS RP: automatic test', raw: dcs('Nri0/RP000'), expected: at('panel.test', { code: 'RP' }) },
  {
    name: 'DCS ZX: a code the adapter does not map',
    raw: dcs('Nri1/ZX001'),
    expected: at('panel.report', { code: 'ZX', partition: 1, zone: 1 }),
  },
  {
    name: 'DCS with two events: fire and trouble in area 2',
    raw: dcs('Nri2/FA004/FT005'),
    expected: [
      { type: 'alarm.fire', occurredAt, attributes: { code: 'FA', partition: 2, zone: 4 } },
      { type: 'panel.trouble', occurredAt, attributes: { code: 'FT', partition: 2, zone: 5 } },
    ],
  },
];

const eventsMalformed: readonly MalformedFixture[] = [
  { name: 'CID with a qualifier that is not 1, 3 or 6', raw: cid('2130 01 003'), path: ['data'] },
  { name: 'CID too short', raw: cid('1130 01'), path: ['data'] },
  { name: 'CID with a letter in its zone', raw: cid('1130 01 01F'), path: ['data'] },
  { name: 'DCS without an event code', raw: dcs('Nri1/'), path: ['data'] },
  {
    name: 'a protocol the adapter does not decode',
    raw: { ...cid('1130 01 003'), protocol: 'XYZ' },
    path: ['protocol'],
  },
  { name: 'a sequence number past 9999', raw: { ...cid('1130 01 003'), seq: 10_000 }, path: ['seq'] },
  { name: 'an account in lowercase', raw: { ...cid('1130 01 003'), account: 'abc' }, path: ['account'] },
  { name: 'a field the receiver never writes', raw: { ...cid('1130 01 003'), extra: 1 }, path: [] },
];

describe('the alarm-panel-cid adapter', () => {
  describe.each(events)('decodes $name', ({ raw, expected }) => {
    it('into exactly the expected normalized events', () => {
      expect(decodeOn(alarmPanelCid, 'events', raw)).toEqual(expected);
    });
  });

  describe.each(eventsMalformed)('refuses $name', ({ raw, path }) => {
    it(`with an issue at [${path.join(', ')}]`, () => {
      const result = channel(alarmPanelCid, 'events').schema.safeParse(raw);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((issue) => issue.path)).toContainEqual(path);
    });
  });

  it('decodes NULL supervision on its heartbeat channel to no event, and refuses data there', () => {
    const nullFrame = { ...envelope, protocol: 'NULL', data: '' };
    expect(decodeOn(alarmPanelCid, 'heartbeat', nullFrame)).toEqual([]);
    expect(
      channel(alarmPanelCid, 'heartbeat').schema.safeParse({ ...nullFrame, data: '1130 01 003' }).success,
    ).toBe(false);
  });

  it('decodes what real panels sent as the published messages say', () => {
    for (const message of publicMessages.filter((candidate) => candidate.says.token !== 'NULL')) {
      const frame = {
        ...envelope,
        account: message.account,
        protocol: message.says.token,
        data: message.says.data,
      };
      const decoded = decodeOn(alarmPanelCid, 'events', frame).map(({ type, attributes }) => ({
        type,
        attributes,
      }));
      expect(decoded, message.name).toEqual(message.events);
    }
  });

  it('covers every event it declares with a fixture', () => {
    const produced = new Set(events.flatMap((fixture) => fixture.expected.map((event) => event.type)));
    expect([...produced].sort()).toEqual(Object.keys(alarmPanelCid.events).sort());
  });

  it('produces only event types and attributes it declares', () => {
    for (const fixture of events) {
      for (const event of decodeOn(alarmPanelCid, 'events', fixture.raw)) {
        const declared = alarmPanelCid.events[event.type];
        expect(declared, `${fixture.name}: ${event.type}`).toBeDefined();
        for (const attribute of Object.keys(event.attributes))
          expect(declared?.attributes).toContain(attribute);
      }
    }
  });

  it('reports over SIA DC-09, takes no commands, and leaves room for missed supervision', () => {
    expect(alarmPanelCid.transport).toBe('sia-dc09');
    expect(alarmPanelCid.commands).toEqual({});
    expect(alarmPanelCid.liveness.offlineAfterSeconds).toBeGreaterThanOrEqual(
      2 * alarmPanelCid.liveness.heartbeatSeconds,
    );
  });
});
