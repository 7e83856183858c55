import { describe, expect, it } from 'vitest';
import {
  maxEventsPerPart,
  type ParsedPart,
  parseDahuaPart,
  serialNumberOf,
} from '../../src/ingest/dahua-parts.ts';

const text = (body: string, headers: Record<string, string> = { 'content-type': 'text/plain' }) =>
  parseDahuaPart({ headers, body: Buffer.from(body, 'utf8') });

const cases: readonly { name: string; body: string; expected: ParsedPart }[] = [
  { name: 'a heartbeat', body: 'Heartbeat', expected: { kind: 'heartbeat' } },
  {
    name: 'a heartbeat with the line breaks counted in',
    body: 'Heartbeat\r\n\r\n',
    expected: { kind: 'heartbeat' },
  },
  {
    name: 'an event without data, its CRLF counted in',
    body: 'Code=VideoMotion;action=Start;index=0\r\n',
    expected: { kind: 'events', events: [{ code: 'VideoMotion', action: 'Start', index: 0 }] },
  },
  {
    name: 'data over several lines, with ; and = inside its strings',
    body: 'Code=CrossLineDetection;action=Start;index=1;data={\n   "Name" : "a=b; c",\n   "UTC" : 7\n}\r\n',
    expected: {
      kind: 'events',
      events: [{ code: 'CrossLineDetection', action: 'Start', index: 1, data: { Name: 'a=b; c', UTC: 7 } }],
    },
  },
  {
    name: 'data with CRLF line breaks inside',
    body: 'Code=DoorStatus;action=Pulse;index=0;data={\r\n "Status" : "Open"\r\n}',
    expected: {
      kind: 'events',
      events: [{ code: 'DoorStatus', action: 'Pulse', index: 0, data: { Status: 'Open' } }],
    },
  },
  {
    name: 'two events in one part',
    body: 'Code=DoorStatus;action=Pulse;index=0;data={ "Status" : "Open" }\r\nCode=VideoMotion;action=Stop;index=2',
    expected: {
      kind: 'events',
      events: [
        { code: 'DoorStatus', action: 'Pulse', index: 0, data: { Status: 'Open' } },
        { code: 'VideoMotion', action: 'Stop', index: 2 },
      ],
    },
  },
  {
    name: 'fields in another order',
    body: 'Code=AlarmLocal;index=3;action=Stop',
    expected: { kind: 'events', events: [{ code: 'AlarmLocal', action: 'Stop', index: 3 }] },
  },
  { name: 'an empty part', body: '\r\n', expected: { kind: 'malformed', problems: ['an empty part'] } },
  {
    name: 'garbage',
    body: '\u0000\u0001 not an event ;;=;',
    expected: { kind: 'malformed', problems: ['a part that is neither a Heartbeat nor an event (Code=…)'] },
  },
  {
    name: 'no action',
    body: 'Code=VideoMotion;index=0',
    expected: { kind: 'malformed', problems: ['action: missing or not a word'] },
  },
  {
    name: 'an index that is not a number',
    body: 'Code=VideoMotion;action=Start;index=zero',
    expected: { kind: 'malformed', problems: ['index: missing or not a number'] },
  },
  {
    name: 'a code with spaces',
    body: 'Code=Video Motion;action=Start;index=0',
    expected: { kind: 'malformed', problems: ['Code: not an event code'] },
  },
  {
    name: 'data cut short, without its value in the problem',
    body: 'Code=AccessControl;action=Pulse;index=0;data={"CardNo":"6222020012345678",',
    expected: { kind: 'malformed', problems: ['data: not valid JSON'] },
  },
  {
    name: 'data that is a list',
    body: 'Code=AccessControl;action=Pulse;index=0;data=[1,2]',
    expected: { kind: 'malformed', problems: ['data: not a JSON object'] },
  },
  {
    name: 'a field without a value',
    body: 'Code=VideoMotion;action=Start;index=0;junk',
    expected: { kind: 'malformed', problems: ['a field without a name and a value'] },
  },
];

describe('the Dahua part parser', () => {
  it.each(cases)('reads $name', ({ body, expected }) => {
    expect(text(body)).toEqual(expected);
  });

  it('names the event of several that is wrong', () => {
    expect(text('Code=VideoMotion;action=Start;index=0\nCode=VideoMotion;action=;index=0')).toEqual({
      kind: 'malformed',
      problems: ['event 2: action: missing or not a word'],
    });
  });

  it('skips a part that is not text (a picture some firmware interleaves)', () => {
    expect(text('\u00ff\u00d8', { 'content-type': 'image/jpeg' })).toEqual({
      kind: 'other',
      contentType: 'image/jpeg',
    });
  });

  it('reads a part without a Content-Type as text', () => {
    expect(text('Heartbeat', {})).toEqual({ kind: 'heartbeat' });
  });

  it('refuses a part with more events than a device reports at once', () => {
    const many = Array.from(
      { length: maxEventsPerPart + 1 },
      () => 'Code=VideoMotion;action=Start;index=0',
    ).join('\n');
    expect(text(many)).toEqual({
      kind: 'malformed',
      problems: [`${maxEventsPerPart + 1} events in one part, the limit is ${maxEventsPerPart}`],
    });
  });

  it('never puts what the device sent into a problem', () => {
    const parsed = text('Code=AccessControl;action=Pulse;index=0;data={"CardNo":"6222020012345678"');
    expect(JSON.stringify(parsed)).not.toContain('6222');
  });
});

describe("a Dahua device's serial number", () => {
  it('is read from magicBox getSystemInfo', () => {
    expect(
      serialNumberOf(
        'deviceType=IPC-HFW2431S-S-S2\r\nhardwareVersion=1.00\r\nserialNumber=6G0A1B2PAZ12345\r\n',
      ),
    ).toBe('6G0A1B2PAZ12345');
  });

  it('is undefined when the answer has none, or an empty one', () => {
    expect(serialNumberOf('Error\r\nBad Request!\r\n')).toBeUndefined();
    expect(serialNumberOf('serialNumber=\r\n')).toBeUndefined();
  });
});
