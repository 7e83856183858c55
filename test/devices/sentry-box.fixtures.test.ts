import { describe, expect, it } from 'vitest';
import { sentryBox } from '../../devices/sentry-box/index.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import { identifierModes } from '../../src/core/privacy.ts';
import {
  type CommandFixture,
  type CommandMalformedFixture,
  channel,
  checkAdapterFixtures,
  contextFor,
  decodeOn,
  type FrameFixture,
  type MalformedFixture,
  type ReplyFixture,
} from './adapter-fixtures.ts';

/** An operator code typed at the keypad: a secret of the post, never decoded. */
const operatorCode = 'OP7731X';

/** 2024-05-01T08:00:00+08:00, the time of most fixtures. */
const eightAmBeijing = Date.UTC(2024, 4, 1, 0, 0, 0);

const envelope = { seq: 77, time: '2024-05-01T08:00:00+08:00' };

function at(type: string, attributes: NormalizedEvent['attributes']): NormalizedEvent[] {
  return [{ type, occurredAt: eightAmBeijing, attributes }];
}

const sentryBoxFixtures: readonly FrameFixture[] = [
  {
    name: 'PANIC from the button',
    raw: { ...envelope, event: 'PANIC', duress: false },
    expected: at('alarm.panic', { duress: false }),
  },
  {
    name: 'PANIC under duress, at a UTC time with milliseconds',
    raw: { seq: 0, time: '2024-05-01T00:00:01.250Z', event: 'PANIC', duress: true },
    expected: [
      { type: 'alarm.panic', occurredAt: Date.UTC(2024, 4, 1, 0, 0, 1, 250), attributes: { duress: true } },
    ],
  },
  {
    name: 'ZONE_ALARM of a PIR',
    raw: { ...envelope, event: 'ZONE_ALARM', zone: 3, zoneType: 'pir' },
    expected: at('alarm.intrusion', { zone: 3, zoneType: 'pir' }),
  },
  {
    name: 'ZONE_ALARM of the fence on zone 32',
    raw: { ...envelope, event: 'ZONE_ALARM', zone: 32, zoneType: 'fence' },
    expected: at('alarm.intrusion', { zone: 32, zoneType: 'fence' }),
  },
  {
    name: 'ZONE_ALARM of breaking glass on zone 1',
    raw: { ...envelope, event: 'ZONE_ALARM', zone: 1, zoneType: 'glass' },
    expected: at('alarm.intrusion', { zone: 1, zoneType: 'glass' }),
  },
  {
    name: 'ARMED at the keypad, without the operator code',
    raw: { ...envelope, event: 'ARMED', by: 'keypad', user: operatorCode },
    identifier: operatorCode,
    expected: at('panel.armed', { by: 'keypad' }),
  },
  {
    name: 'ARMED by schedule, with no operator',
    raw: { ...envelope, event: 'ARMED', by: 'schedule' },
    expected: at('panel.armed', { by: 'schedule' }),
  },
  {
    name: 'DISARMED at the keypad, without the operator code',
    raw: { ...envelope, event: 'DISARMED', by: 'keypad', user: operatorCode },
    identifier: operatorCode,
    expected: at('panel.disarmed', { by: 'keypad' }),
  },
  {
    name: 'DISARMED remotely',
    raw: { ...envelope, event: 'DISARMED', by: 'remote' },
    expected: at('panel.disarmed', { by: 'remote' }),
  },
  {
    name: 'TAMPER of the enclosure',
    raw: { ...envelope, event: 'TAMPER', source: 'enclosure' },
    expected: at('device.tamper', { source: 'enclosure' }),
  },
  {
    name: 'TAMPER of the siren',
    raw: { ...envelope, event: 'TAMPER', source: 'siren' },
    expected: at('device.tamper', { source: 'siren' }),
  },
  {
    name: 'TAMPER of a zone',
    raw: { ...envelope, event: 'TAMPER', source: 'zone' },
    expected: at('device.tamper', { source: 'zone' }),
  },
  {
    name: 'MAINS_LOST',
    raw: { ...envelope, event: 'MAINS_LOST' },
    expected: at('power.mains_lost', {}),
  },
  {
    name: 'MAINS_RESTORED',
    raw: { ...envelope, event: 'MAINS_RESTORED' },
    expected: at('power.mains_restored', {}),
  },
  {
    name: 'BATTERY_LOW at 15 percent',
    raw: { ...envelope, event: 'BATTERY_LOW', percent: 15 },
    expected: at('power.battery_low', { percent: 15 }),
  },
  {
    name: 'BATTERY_LOW at 0 percent',
    raw: { ...envelope, event: 'BATTERY_LOW', percent: 0 },
    expected: at('power.battery_low', { percent: 0 }),
  },
  {
    name: 'BATTERY_OK at 100 percent',
    raw: { ...envelope, event: 'BATTERY_OK', percent: 100 },
    expected: at('power.battery_ok', { percent: 100 }),
  },
  {
    name: 'CHECK_IN, keeping the guard’s staff badge id',
    raw: { ...envelope, event: 'CHECK_IN', guard: 'G-0107' },
    expected: at('guard.check_in', { guard: 'G-0107' }),
  },
];

const zoneAlarm = { ...envelope, event: 'ZONE_ALARM', zone: 3, zoneType: 'pir' };
const armed = { ...envelope, event: 'ARMED', by: 'keypad', user: operatorCode };
const checkIn = { ...envelope, event: 'CHECK_IN', guard: 'G-0107' };

const sentryBoxMalformed: readonly MalformedFixture[] = [
  { name: 'a frame without a time', raw: { seq: 1, event: 'MAINS_LOST' }, path: ['time'] },
  { name: 'a time without a time zone', raw: { ...zoneAlarm, time: '2024-05-01T08:00:00' }, path: ['time'] },
  { name: 'a negative seq', raw: { ...zoneAlarm, seq: -1 }, path: ['seq'] },
  { name: 'an unknown event', raw: { ...envelope, event: 'FIRE' }, path: ['event'] },
  { name: 'an event in lower case', raw: { ...envelope, event: 'mains_lost' }, path: ['event'] },
  { name: 'a frame without an event', raw: { ...envelope, duress: true }, path: ['event'] },
  { name: 'a panic without duress', raw: { ...envelope, event: 'PANIC' }, path: ['duress'] },
  {
    name: 'a panic with duress given as a string',
    raw: { ...envelope, event: 'PANIC', duress: 'no' },
    path: ['duress'],
  },
  { name: 'zone 0', raw: { ...zoneAlarm, zone: 0 }, path: ['zone'] },
  { name: 'zone 33', raw: { ...zoneAlarm, zone: 33 }, path: ['zone'] },
  { name: 'a fractional zone', raw: { ...zoneAlarm, zone: 2.5 }, path: ['zone'] },
  { name: 'an unknown zone type', raw: { ...zoneAlarm, zoneType: 'smoke' }, path: ['zoneType'] },
  {
    name: 'a zone alarm without a zone type',
    raw: { ...zoneAlarm, zoneType: undefined },
    path: ['zoneType'],
  },
  { name: 'arming by an unknown means', raw: { ...armed, by: 'app' }, path: ['by'] },
  { name: 'arming without saying by what', raw: { ...armed, by: undefined }, path: ['by'] },
  { name: 'an empty operator code', raw: { ...armed, user: '' }, path: ['user'] },
  { name: 'an operator code of 17 characters', raw: { ...armed, user: '1'.repeat(17) }, path: ['user'] },
  { name: 'an operator code given as a number', raw: { ...armed, user: 7731 }, path: ['user'] },
  {
    name: 'an unknown tamper source',
    raw: { ...envelope, event: 'TAMPER', source: 'reader' },
    path: ['source'],
  },
  { name: 'mains lost with a percent', raw: { ...envelope, event: 'MAINS_LOST', percent: 80 }, path: [] },
  { name: 'a battery low without a percent', raw: { ...envelope, event: 'BATTERY_LOW' }, path: ['percent'] },
  {
    name: 'a battery at 101 percent',
    raw: { ...envelope, event: 'BATTERY_OK', percent: 101 },
    path: ['percent'],
  },
  {
    name: 'a battery at -1 percent',
    raw: { ...envelope, event: 'BATTERY_LOW', percent: -1 },
    path: ['percent'],
  },
  {
    name: 'a battery at 12.5 percent',
    raw: { ...envelope, event: 'BATTERY_LOW', percent: 12.5 },
    path: ['percent'],
  },
  { name: 'a check-in without a guard', raw: { ...checkIn, guard: undefined }, path: ['guard'] },
  { name: 'a check-in by an empty badge', raw: { ...checkIn, guard: '' }, path: ['guard'] },
  { name: 'a badge of 33 characters', raw: { ...checkIn, guard: 'G'.repeat(33) }, path: ['guard'] },
  { name: 'an extra key', raw: { ...checkIn, location: 'north' }, path: [] },
  { name: 'a frame that is a string', raw: 'PANIC', path: [] },
  { name: 'a frame that is null', raw: null, path: [] },
];

const heartbeat = { ...envelope, armed: true, mains: true, batteryPercent: 98, siren: false };

const sentryBoxHeartbeatFixtures: readonly FrameFixture[] = [
  { name: 'of an armed panel on mains', raw: heartbeat, expected: [] },
  {
    name: 'of a disarmed panel on an empty battery, siren sounding',
    raw: { ...envelope, armed: false, mains: false, batteryPercent: 0, siren: true },
    expected: [],
  },
];

const sentryBoxHeartbeatMalformed: readonly MalformedFixture[] = [
  { name: 'without the arming state', raw: { ...heartbeat, armed: undefined }, path: ['armed'] },
  { name: 'with mains given as a string', raw: { ...heartbeat, mains: 'on' }, path: ['mains'] },
  {
    name: 'with a battery at 101 percent',
    raw: { ...heartbeat, batteryPercent: 101 },
    path: ['batteryPercent'],
  },
  { name: 'without a siren state', raw: { ...heartbeat, siren: undefined }, path: ['siren'] },
  { name: 'without a seq', raw: { ...heartbeat, seq: undefined }, path: ['seq'] },
  { name: 'with an extra key', raw: { ...heartbeat, temperature: 30 }, path: [] },
  { name: 'that is an event frame', raw: checkIn, path: [] },
];

const sentryBoxCommandFixtures: readonly CommandFixture[] = [
  {
    name: 'arm',
    command: 'arm',
    params: {},
    requestId: 'req-0001',
    expected: { op: 'ARM', requestId: 'req-0001' },
  },
  {
    name: 'disarm',
    command: 'disarm',
    params: {},
    requestId: 'req-0002',
    expected: { op: 'DISARM', requestId: 'req-0002' },
  },
  {
    name: 'silence_siren',
    command: 'silence_siren',
    params: {},
    requestId: 'req-0003',
    expected: { op: 'SILENCE', requestId: 'req-0003' },
  },
];

const sentryBoxCommandMalformed: readonly CommandMalformedFixture[] = [
  { name: 'arm with a zone', command: 'arm', params: { zone: 1 }, path: [] },
  { name: 'disarm with an operator code', command: 'disarm', params: { user: operatorCode }, path: [] },
  { name: 'silence_siren with a duration', command: 'silence_siren', params: { seconds: 30 }, path: [] },
  { name: 'arm with no parameters object at all', command: 'arm', params: undefined, path: [] },
];

const sentryBoxReplyFixtures: readonly ReplyFixture[] = [
  {
    name: 'done',
    raw: { requestId: 'req-0001', status: 'done' },
    expected: { requestId: 'req-0001', ok: true },
  },
  {
    name: 'refused with a reason',
    raw: { requestId: 'req-0002', status: 'refused', reason: 'already disarmed' },
    expected: { requestId: 'req-0002', ok: false, error: 'already disarmed' },
  },
  {
    name: 'refused without a reason',
    raw: { requestId: 'req-0003', status: 'refused' },
    expected: { requestId: 'req-0003', ok: false },
  },
  {
    name: 'done with a reason, which is not an error',
    raw: { requestId: 'req-0004', status: 'done', reason: 'siren was already off' },
    expected: { requestId: 'req-0004', ok: true },
  },
];

const sentryBoxReplyMalformed: readonly MalformedFixture[] = [
  { name: 'without a requestId', raw: { status: 'done' }, path: ['requestId'] },
  { name: 'with an empty requestId', raw: { requestId: '', status: 'done' }, path: ['requestId'] },
  { name: 'with an unknown status', raw: { requestId: 'req-1', status: 'failed' }, path: ['status'] },
  {
    name: 'with a reason of 201 characters',
    raw: { requestId: 'req-1', status: 'refused', reason: 'r'.repeat(201) },
    path: ['reason'],
  },
  { name: 'with an extra key', raw: { requestId: 'req-1', status: 'done', armed: true }, path: [] },
  { name: 'in the gate controller’s words', raw: { requestId: 'req-1', result: 'OK' }, path: ['status'] },
];

describe('the sentry-box adapter', () => {
  it('is the sentry-box adapter with an events and a heartbeat channel, three commands, replies and liveness', () => {
    expect(sentryBox.id).toBe('sentry-box');
    expect(Object.keys(sentryBox.channels)).toEqual(['events', 'heartbeat']);
    expect(Object.keys(sentryBox.commands).sort()).toEqual(['arm', 'disarm', 'silence_siren']);
    expect(sentryBox.replies).toBeDefined();
    expect(sentryBox.liveness).toEqual({ heartbeatSeconds: 30, offlineAfterSeconds: 90 });
  });

  it('has the hub watch the guard’s check-ins every half hour, and declares what that raises', () => {
    expect(sentryBox.watchdogs).toEqual([
      { resetBy: 'guard.check_in', raises: 'guard.check_in_missed', defaultSeconds: 1800 },
    ]);
    expect(sentryBox.events['guard.check_in_missed']).toEqual({
      description: 'The guard missed a duty check-in.',
      attributes: ['overdueSeconds'],
    });
  });

  it('never produces the watchdog’s event from a frame: only the hub raises it', () => {
    const produced = sentryBoxFixtures.flatMap((fixture) => decodeOn(sentryBox, 'events', fixture.raw));
    expect(produced.map((event) => event.type)).not.toContain('guard.check_in_missed');
  });

  checkAdapterFixtures(sentryBox, {
    events: sentryBoxFixtures,
    eventsMalformed: sentryBoxMalformed,
    heartbeat: sentryBoxHeartbeatFixtures,
    heartbeatMalformed: sentryBoxHeartbeatMalformed,
    commands: sentryBoxCommandFixtures,
    commandsMalformed: sentryBoxCommandMalformed,
    replies: sentryBoxReplyFixtures,
    repliesMalformed: sentryBoxReplyMalformed,
  });

  it('names the unknown key of a frame with an extra key', () => {
    const result = channel(sentryBox, 'events').schema.safeParse({ ...checkIn, location: 'north' });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['location'] }),
    ]);
  });

  describe.each([...identifierModes])('with identifiers %s', (mode) => {
    it('never lets the operator code of an arming or disarming out of the decoder', () => {
      for (const event of ['ARMED', 'DISARMED']) {
        const [decoded] = decodeOn(sentryBox, 'events', { ...armed, event }, contextFor(mode));
        expect(decoded?.attributes).toEqual({ by: 'keypad' });
        expect(JSON.stringify(decoded)).not.toContain(operatorCode);
      }
    });

    it('keeps the guard’s badge id whatever the identifier policy: staff, not residents', () => {
      const [decoded] = decodeOn(sentryBox, 'events', checkIn, contextFor(mode));
      expect(decoded?.attributes).toEqual({ guard: 'G-0107' });
    });
  });

  it('has fixtures that carry an operator code', () => {
    expect(sentryBoxFixtures.filter((fixture) => fixture.identifier === operatorCode).length).toBe(2);
  });
});
