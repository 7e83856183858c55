import { describe, expect, it } from 'vitest';
import { dahuaCgi } from '../../devices/dahua-cgi/index.ts';
import { eventPart, eventText, heartbeatPart } from '../../simulators/dahua/dahua-simulator.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import { parseDahuaPart } from '../../src/ingest/dahua-parts.ts';
import { type MultipartPart, MultipartReader } from '../../src/net/multipart-reader.ts';
import {
  type CommandFixture,
  type CommandMalformedFixture,
  channel,
  checkAdapterFixtures,
  decodeOn,
  type FrameFixture,
  type MalformedFixture,
  type ReplyFixture,
} from './adapter-fixtures.ts';
import { wireFixtures } from './dahua-cgi.wire-fixtures.ts';

/** When the hub read the part: the time every frame carries. */
const time = '2026-11-22T01:30:00.000Z';
const at = Date.parse(time);
const card = '6222020012345678';
const userId = '1011';

function frame(code: string, action: string, index = 0, data?: Record<string, unknown>) {
  return { time, code, action, index, ...(data === undefined ? {} : { data }) };
}
function events(type: string, attributes: NormalizedEvent['attributes']): NormalizedEvent[] {
  return [{ type, occurredAt: at, attributes }];
}
const times = { LocaleTime: '2026-11-22 09:30:00', UTC: 1795339800 };

const dahuaFixtures: readonly FrameFixture[] = [
  {
    name: 'VideoMotion Start',
    raw: frame('VideoMotion', 'Start'),
    expected: events('camera.motion', { channel: 1 }),
  },
  {
    name: 'VideoMotion Stop of channel 3 (an NVR)',
    raw: frame('VideoMotion', 'Stop', 2),
    expected: events('camera.motion_ended', { channel: 3 }),
  },
  {
    name: 'VideoBlind Start',
    raw: frame('VideoBlind', 'Start'),
    expected: events('camera.tamper', { channel: 1 }),
  },
  {
    name: 'VideoBlind Stop',
    raw: frame('VideoBlind', 'Stop'),
    expected: events('camera.tamper_ended', { channel: 1 }),
  },
  {
    name: 'VideoLoss Start',
    raw: frame('VideoLoss', 'Start', 5),
    expected: events('camera.video_lost', { channel: 6 }),
  },
  {
    name: 'VideoLoss Stop',
    raw: frame('VideoLoss', 'Stop', 5),
    expected: events('camera.video_restored', { channel: 6 }),
  },
  {
    name: 'CrossLineDetection Start with its rule, direction and object',
    raw: frame('CrossLineDetection', 'Start', 0, {
      Class: 'Normal',
      Direction: 'LeftToRight',
      EventSeq: 3,
      Name: 'Rule1',
      Object: { ObjectID: 20530, ObjectType: 'Human', Action: 'Appear' },
      RuleID: 4,
      ...times,
    }),
    expected: events('camera.line_crossed', {
      channel: 1,
      rule: 'Rule1',
      direction: 'LeftToRight',
      objectType: 'Human',
    }),
  },
  {
    name: 'CrossLineDetection Stop: the crossing was a moment, its Stop is nothing',
    raw: frame('CrossLineDetection', 'Stop', 0, { Name: 'Rule1', ...times }),
    expected: [],
  },
  {
    name: 'CrossLineDetection without data (older firmware)',
    raw: frame('CrossLineDetection', 'Start'),
    expected: events('camera.line_crossed', { channel: 1 }),
  },
  {
    name: 'CrossRegionDetection Start',
    raw: frame('CrossRegionDetection', 'Start', 0, { Name: 'Yard', Direction: 'Enter', ...times }),
    expected: events('camera.intrusion', { channel: 1, rule: 'Yard', direction: 'Enter' }),
  },
  {
    name: 'CrossRegionDetection Stop',
    raw: frame('CrossRegionDetection', 'Stop', 0, { Name: 'Yard', ...times }),
    expected: events('camera.intrusion_ended', { channel: 1, rule: 'Yard' }),
  },
  {
    name: 'AlarmLocal Start of input 2',
    raw: frame('AlarmLocal', 'Start', 1, times),
    expected: events('alarm.input', { input: 2 }),
  },
  {
    name: 'AlarmLocal Stop of input 2',
    raw: frame('AlarmLocal', 'Stop', 1, times),
    expected: events('alarm.input_ended', { input: 2 }),
  },
  {
    name: 'AccessControl granted to a card, the card and user minimised',
    raw: frame('AccessControl', 'Pulse', 0, {
      CardNo: card,
      Door: 0,
      Method: 1,
      Name: 'OpenDoor',
      Status: 1,
      Type: 'Entry',
      UserID: userId,
      ...times,
    }),
    identifier: card,
    expected: events('access.granted', {
      door: 1,
      direction: 'in',
      method: 'card',
      credential: '****5678',
      user: '****',
    }),
  },
  {
    name: 'AccessControl refused at the exit reader of door 2, with its error code',
    raw: frame('AccessControl', 'Pulse', 0, {
      CardNo: card,
      Door: 1,
      ErrorCode: 16,
      Method: 1,
      Status: 0,
      Type: 'Exit',
      ...times,
    }),
    identifier: card,
    expected: events('access.denied', {
      door: 2,
      direction: 'out',
      method: 'card',
      credential: '****5678',
      errorCode: 16,
    }),
  },
  {
    name: 'AccessControl by face, of a method not in the table',
    raw: frame('AccessControl', 'Pulse', 0, { Method: 15, Status: 1, UserID: userId }),
    expected: events('access.granted', { door: 1, method: 'face', user: '****' }),
  },
  {
    name: 'DoorStatus Open',
    raw: frame('DoorStatus', 'Pulse', 0, { Status: 'Open', ...times }),
    expected: events('door.opened', { door: 1 }),
  },
  {
    name: 'DoorStatus Close of door 2',
    raw: frame('DoorStatus', 'Pulse', 1, { Status: 'Close' }),
    expected: events('door.closed', { door: 2 }),
  },
  {
    name: 'StorageFailure Start',
    raw: frame('StorageFailure', 'Start'),
    expected: events('storage.failure', { fault: 'failure' }),
  },
  {
    name: 'StorageNotExist Stop',
    raw: frame('StorageNotExist', 'Stop'),
    expected: events('storage.failure_ended', { fault: 'missing' }),
  },
  {
    name: 'a code the adapter does not decode (NTPAdjustTime): nothing',
    raw: frame('NTPAdjustTime', 'Pulse', 0, { Address: 'time.windows.com', result: true }),
    expected: [],
  },
];

const dahuaMalformed: readonly MalformedFixture[] = [
  {
    name: 'without the time the hub stamps',
    raw: { code: 'VideoMotion', action: 'Start', index: 0 },
    path: ['time'],
  },
  {
    name: 'AccessControl without its Status',
    raw: frame('AccessControl', 'Pulse', 0, { CardNo: card }),
    path: ['data', 'Status'],
  },
  {
    name: 'DoorStatus with a state that is neither Open nor Close',
    raw: frame('DoorStatus', 'Pulse', 0, { Status: 'Ajar' }),
    path: ['data', 'Status'],
  },
  { name: 'a code that is not a word', raw: frame('Video Motion; rm', 'Start'), path: ['code'] },
  { name: 'an index past the device', raw: frame('VideoMotion', 'Start', 9999), path: ['index'] },
  { name: 'VideoMotion with an action of its own', raw: frame('VideoMotion', 'Begin'), path: ['action'] },
];

const dahuaCommands: readonly CommandFixture[] = [
  {
    name: 'openDoor of door 1 by default',
    command: 'openDoor',
    params: {},
    requestId: 'cmd_1',
    expected: {
      requestId: 'cmd_1',
      method: 'GET',
      path: '/cgi-bin/accessControl.cgi?action=openDoor&channel=1',
    },
  },
  {
    name: 'openDoor of door 2',
    command: 'openDoor',
    params: { door: 2 },
    requestId: 'cmd_2',
    expected: {
      requestId: 'cmd_2',
      method: 'GET',
      path: '/cgi-bin/accessControl.cgi?action=openDoor&channel=2',
    },
  },
];

const dahuaCommandsMalformed: readonly CommandMalformedFixture[] = [
  { name: 'openDoor of door 0', command: 'openDoor', params: { door: 0 }, path: ['door'] },
  { name: 'openDoor with a path', command: 'openDoor', params: { path: '/cgi-bin/x' }, path: [] },
];

const dahuaReplies: readonly ReplyFixture[] = [
  {
    name: 'OK',
    raw: { requestId: 'cmd_1', status: 200, body: 'OK\r\n' },
    expected: { requestId: 'cmd_1', ok: true },
  },
  {
    name: "the device's refusal, on one line",
    raw: { requestId: 'cmd_2', status: 400, body: 'Error\r\nBad Request!\r\n' },
    expected: { requestId: 'cmd_2', ok: false, error: 'Error Bad Request!' },
  },
  {
    name: 'a 200 that is not OK',
    raw: { requestId: 'cmd_3', status: 200, body: 'Error\r\nNo Authority\r\n' },
    expected: { requestId: 'cmd_3', ok: false, error: 'Error No Authority' },
  },
];

describe('dahua-cgi adapter fixtures', () => {
  checkAdapterFixtures(dahuaCgi, {
    events: dahuaFixtures,
    eventsMalformed: dahuaMalformed,
    heartbeat: [{ name: 'a heartbeat', raw: { time }, expected: [] }],
    heartbeatMalformed: [{ name: 'a heartbeat with more', raw: { time, beat: 1 }, path: [] }],
    commands: dahuaCommands,
    commandsMalformed: dahuaCommandsMalformed,
    replies: dahuaReplies,
    repliesMalformed: [
      { name: 'a reply without status', raw: { requestId: 'x', body: 'OK' }, path: ['status'] },
    ],
  });
});

/** The parts of a byte string, as the connector's multipart reader hands them on. */
function partsOf(boundary: string, bytes: Buffer): MultipartPart[] {
  const parts: MultipartPart[] = [];
  const reader = new MultipartReader(boundary, { maxHeaderBytes: 1024, maxPartBytes: 64 * 1024 }, (part) =>
    parts.push(part),
  );
  // A closing delimiter ends the last part where the source shows none.
  reader.push(Buffer.concat([bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]));
  return parts;
}

describe.each(wireFixtures)('the real part: $name', (fixture) => {
  it(`(from ${fixture.provenance.slice(0, 60)}…) becomes the expected frames and events`, () => {
    const parts = partsOf(fixture.boundary, Buffer.from(fixture.part, 'latin1'));
    expect(parts).toHaveLength(1);
    const parsed = parseDahuaPart(parts[0] as MultipartPart);
    if (fixture.frames === 'heartbeat') {
      expect(parsed).toEqual({ kind: 'heartbeat' });
      return;
    }
    expect(parsed).toEqual({ kind: 'events', events: fixture.frames });
    const decoded = fixture.frames.flatMap((raw) => decodeOn(dahuaCgi, 'events', { time, ...raw }));
    expect(decoded.map(({ type, attributes }) => ({ type, attributes }))).toEqual(fixture.events);
  });
});

describe.each(wireFixtures.filter((fixture) => fixture.simulatorWrites))(
  "the real part in the API document's layout: $name",
  (fixture) => {
    it('is written byte for byte by the simulator for the same event', () => {
      if (fixture.frames === 'heartbeat') {
        expect(heartbeatPart.toString('latin1')).toBe(fixture.part);
        return;
      }
      const [event] = fixture.frames as readonly {
        code: string;
        action: 'Start' | 'Stop' | 'Pulse';
        index: number;
        data?: Record<string, unknown>;
      }[];
      if (event === undefined) throw new Error('a fixture without an event');
      expect(eventPart(eventText(event.code, event.action, event.index, event.data)).toString('latin1')).toBe(
        fixture.part,
      );
    });
  },
);

it('has fixtures from the vendor document and from independent projects', () => {
  expect(wireFixtures.some((fixture) => fixture.provenance.includes('Dahua HTTP API'))).toBe(true);
  expect(wireFixtures.filter((fixture) => fixture.provenance.includes('github.com')).length).toBeGreaterThan(
    2,
  );
  expect(
    channel(dahuaCgi, 'events').schema.safeParse({ time, code: 'VideoMotion', action: 'Start', index: 0 })
      .success,
  ).toBe(true);
});
