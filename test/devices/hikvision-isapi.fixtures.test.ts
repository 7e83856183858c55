import { describe, expect, it } from 'vitest';
import { accessCodes } from '../../devices/hikvision-isapi/access-codes.ts';
import { hikvisionIsapi } from '../../devices/hikvision-isapi/index.ts';
import {
  AlertUnreadable,
  alertFrame,
  alertIdentity,
  identityMatches,
  isKeepalive,
  readAlert,
  readPushedBody,
} from '../../src/ingest/isapi-alert.ts';
import { checkAdapterFixtures, contextFor, decodeOn, masked } from './adapter-fixtures.ts';
import { realPayloads } from './hikvision-isapi.payloads.ts';

const time = '2026-11-22T16:00:00+08:00';
const at = Date.parse(time);
const frame = (fields: Record<string, unknown>) => ({ via: 'stream', time, eventState: 'active', ...fields });
const access = (major: number, minor: number, fields: Record<string, unknown> = {}) =>
  frame({
    via: 'push',
    seq: 42,
    eventType: 'AccessControllerEvent',
    access: { major, minor, door: 1, ...fields },
  });

checkAdapterFixtures(hikvisionIsapi, {
  events: [
    {
      name: 'motion on channel 1',
      raw: frame({ eventType: 'VMD', channel: 1 }),
      expected: [{ type: 'camera.motion', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'motion inactive ends it',
      raw: frame({ eventType: 'VMD', eventState: 'inactive', channel: 1 }),
      expected: [{ type: 'camera.motion_ended', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'line crossed by a vehicle',
      raw: frame({ eventType: 'linedetection', channel: 2, region: 1, target: 'vehicle' }),
      expected: [
        {
          type: 'camera.line_crossed',
          occurredAt: at,
          attributes: { channel: 2, region: 1, target: 'vehicle' },
        },
      ],
    },
    {
      name: 'a line crossing has no end: inactive says nothing',
      raw: frame({ eventType: 'linedetection', eventState: 'inactive', channel: 2 }),
      expected: [],
    },
    {
      name: 'intrusion',
      raw: frame({ eventType: 'fielddetection', channel: 1, region: 3, target: 'human' }),
      expected: [
        { type: 'camera.intrusion', occurredAt: at, attributes: { channel: 1, region: 3, target: 'human' } },
      ],
    },
    {
      name: 'intrusion ended',
      raw: frame({ eventType: 'fielddetection', eventState: 'inactive', channel: 1 }),
      expected: [{ type: 'camera.intrusion_ended', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'region entrance',
      raw: frame({ eventType: 'regionEntrance', channel: 1 }),
      expected: [{ type: 'camera.region_entered', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'region exiting',
      raw: frame({ eventType: 'regionExiting', channel: 1 }),
      expected: [{ type: 'camera.region_exited', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'shelter alarm is tamper',
      raw: frame({ eventType: 'shelteralarm', channel: 1 }),
      expected: [{ type: 'camera.tamper', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'tamper detection inactive ends it',
      raw: frame({ eventType: 'tamperdetection', eventState: 'inactive', channel: 1 }),
      expected: [{ type: 'camera.tamper_ended', occurredAt: at, attributes: { channel: 1 } }],
    },
    {
      name: 'video loss on an NVR channel',
      raw: frame({ eventType: 'videoloss', channel: 5 }),
      expected: [{ type: 'camera.video_lost', occurredAt: at, attributes: { channel: 5 } }],
    },
    {
      name: 'video back',
      raw: frame({ eventType: 'videoloss', eventState: 'inactive', channel: 5 }),
      expected: [{ type: 'camera.video_restored', occurredAt: at, attributes: { channel: 5 } }],
    },
    {
      name: 'alarm input',
      raw: frame({ eventType: 'IO', channel: 1, inputPort: 2 }),
      expected: [{ type: 'alarm.input', occurredAt: at, attributes: { channel: 1, input: 2 } }],
    },
    {
      name: 'alarm input restored',
      raw: frame({ eventType: 'IO', eventState: 'inactive', inputPort: 2 }),
      expected: [{ type: 'alarm.input_ended', occurredAt: at, attributes: { input: 2 } }],
    },
    {
      name: 'storage full',
      raw: frame({ eventType: 'diskfull' }),
      expected: [{ type: 'storage.failure', occurredAt: at, attributes: { reason: 'full' } }],
    },
    {
      name: 'storage error ended',
      raw: frame({ eventType: 'diskerror', eventState: 'inactive' }),
      expected: [{ type: 'storage.failure_ended', occurredAt: at, attributes: { reason: 'error' } }],
    },
    {
      name: 'an eventType the hub does not act on',
      raw: frame({ eventType: 'faceSnap', channel: 1 }),
      expected: [],
    },
    {
      name: 'door forced open',
      raw: access(5, 0x1b),
      expected: [
        {
          type: 'door.forced_open',
          occurredAt: at,
          attributes: { code: 'MINOR_DOOR_OPEN_ABNORMAL', door: 1 },
        },
      ],
    },
    {
      name: 'door held open',
      raw: access(5, 0x1c),
      expected: [
        { type: 'door.held_open', occurredAt: at, attributes: { code: 'MINOR_DOOR_OPEN_TIMEOUT', door: 1 } },
      ],
    },
    {
      name: 'door opened and closed (its contact)',
      raw: access(5, 0x19),
      expected: [
        { type: 'door.opened', occurredAt: at, attributes: { code: 'MINOR_DOOR_OPEN_NORMAL', door: 1 } },
      ],
    },
    {
      name: 'door closed',
      raw: access(5, 0x1a),
      expected: [
        { type: 'door.closed', occurredAt: at, attributes: { code: 'MINOR_DOOR_CLOSE_NORMAL', door: 1 } },
      ],
    },
    {
      name: 'door opened remotely',
      raw: access(3, 0x400),
      expected: [
        {
          type: 'door.remote_opened',
          occurredAt: at,
          attributes: { code: 'MINOR_REMOTE_OPEN_DOOR', door: 1 },
        },
      ],
    },
    {
      name: 'invalid card, its number masked',
      raw: access(5, 0x09, { reader: 1, card: '3302789145' }),
      identifier: '3302789145',
      expected: [
        {
          type: 'access.denied',
          occurredAt: at,
          attributes: {
            code: 'MINOR_INVALID_CARD',
            door: 1,
            reader: 1,
            reason: 'unknown_card',
            credential: '****9145',
          },
        },
      ],
    },
    {
      name: 'card granted, name and employee number masked',
      raw: access(5, 0x01, { card: '3302789145', person: 'Zhang Wei', employee: 'E0012345' }),
      identifier: '3302789145',
      expected: [
        {
          type: 'access.granted',
          occurredAt: at,
          attributes: {
            code: 'MINOR_LEGAL_CARD_PASS',
            door: 1,
            credentialType: 'card',
            credential: '****9145',
            person: '**** Wei',
            employee: '****2345',
          },
        },
      ],
    },
    {
      name: 'anti-passback',
      raw: access(5, 0x0a, { card: '3302789145' }),
      identifier: '3302789145',
      expected: [
        {
          type: 'access.anti_passback',
          occurredAt: at,
          attributes: { code: 'MINOR_ANTI_SNEAK_FAIL', door: 1, credential: '****9145' },
        },
      ],
    },
    {
      name: 'tailgating (trailing)',
      raw: access(5, 0x85),
      expected: [
        { type: 'access.tailgating', occurredAt: at, attributes: { code: 'MINOR_TRAILING', door: 1 } },
      ],
    },
    {
      name: 'interlock',
      raw: access(5, 0x0b),
      expected: [
        {
          type: 'access.interlock',
          occurredAt: at,
          attributes: { code: 'MINOR_INTERLOCK_DOOR_NOT_CLOSE', door: 1 },
        },
      ],
    },
    {
      name: 'duress',
      raw: access(1, 0x40a),
      expected: [
        { type: 'alarm.duress', occurredAt: at, attributes: { code: 'MINOR_STRESS_ALARM', door: 1 } },
      ],
    },
    {
      name: 'emergency button',
      raw: access(1, 0x41c),
      expected: [
        {
          type: 'alarm.panic',
          occurredAt: at,
          attributes: { code: 'MINOR_EMERGENCY_BUTTON_TRIGGER', door: 1 },
        },
      ],
    },
    {
      name: 'controller tamper',
      raw: access(1, 0x404),
      expected: [
        {
          type: 'device.tamper',
          occurredAt: at,
          attributes: { code: 'MINOR_HOST_DESMANTLE_ALARM', door: 1, source: 'enclosure' },
        },
      ],
    },
    {
      name: 'reader tamper resumed',
      raw: access(1, 0x407),
      expected: [
        {
          type: 'device.tamper_restored',
          occurredAt: at,
          attributes: { code: 'MINOR_CARD_READER_DESMANTLE_RESUME', door: 1, source: 'reader' },
        },
      ],
    },
    {
      name: 'zone input short circuit',
      raw: access(1, 0x400),
      expected: [
        { type: 'alarm.input', occurredAt: at, attributes: { code: 'MINOR_ALARMIN_SHORT_CIRCUIT', door: 1 } },
      ],
    },
    {
      name: 'zone input resumed',
      raw: access(1, 0x403),
      expected: [
        {
          type: 'alarm.input_ended',
          occurredAt: at,
          attributes: { code: 'MINOR_ALARMIN_RESUME', door: 1 },
        },
      ],
    },
    {
      name: 'an access code the hub does not act on (remote login)',
      raw: access(3, 0x70),
      expected: [],
    },
  ],
  eventsMalformed: [
    { name: 'without eventType', raw: { via: 'stream', time, eventState: 'active' }, path: ['eventType'] },
    {
      name: 'with an unknown eventState',
      raw: frame({ eventType: 'VMD', eventState: 'on' }),
      path: ['eventState'],
    },
    {
      name: 'with a channel that is not a number',
      raw: frame({ eventType: 'VMD', channel: 'one' }),
      path: ['channel'],
    },
    {
      name: 'with a time without offset',
      raw: frame({ eventType: 'VMD', time: '2026-11-22T16:00:00' }),
      path: ['time'],
    },
    { name: 'with a field it does not know', raw: frame({ eventType: 'VMD', extra: 1 }), path: [] },
    {
      name: 'with a card number too long',
      raw: access(5, 1, { card: 'x'.repeat(65) }),
      path: ['access', 'card'],
    },
    {
      name: 'with a major code that is not a number',
      raw: access(5, 1, { major: '5' }),
      path: ['access', 'major'],
    },
  ],
  heartbeat: [
    {
      name: 'the videoloss keepalive',
      raw: { via: 'stream', time, eventType: 'videoloss', channel: 1 },
      expected: [],
    },
    { name: 'heartBeat', raw: { via: 'stream', time, eventType: 'heartBeat' }, expected: [] },
  ],
  heartbeatMalformed: [
    { name: 'of another eventType', raw: { via: 'stream', time, eventType: 'VMD' }, path: ['eventType'] },
  ],
  commands: [
    {
      name: 'open door 2',
      command: 'open_door',
      params: { door: 2 },
      requestId: 'cmd-1',
      expected: {
        requestId: 'cmd-1',
        method: 'PUT',
        path: '/ISAPI/AccessControl/RemoteControl/door/2',
        body: '<RemoteControlDoor version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><cmd>open</cmd></RemoteControlDoor>',
        headers: { 'content-type': 'application/xml' },
      },
    },
  ],
  commandsMalformed: [
    { name: 'door 0', command: 'open_door', params: { door: 0 }, path: ['door'] },
    { name: 'an unknown parameter', command: 'open_door', params: { door: 1, seconds: 5 }, path: [] },
  ],
  replies: [
    {
      name: 'ResponseStatus OK',
      raw: {
        requestId: 'cmd-1',
        status: 200,
        body: '<ResponseStatus version="2.0"><statusCode>1</statusCode><statusString>OK</statusString><subStatusCode>ok</subStatusCode></ResponseStatus>',
      },
      expected: { requestId: 'cmd-1', ok: true, result: { statusCode: 1 } },
    },
    {
      name: 'a camera that cannot open doors',
      raw: {
        requestId: 'cmd-2',
        status: 403,
        body: '{"statusCode":4,"statusString":"Invalid Operation","subStatusCode":"notSupport"}',
      },
      expected: {
        requestId: 'cmd-2',
        ok: false,
        error: 'Invalid Operation: notSupport',
        result: { statusCode: 4 },
      },
    },
    {
      name: 'a 2xx answer without a ResponseStatus',
      raw: { requestId: 'cmd-3', status: 200, body: '' },
      expected: { requestId: 'cmd-3', ok: true },
    },
    {
      name: "a refusal that is no ResponseStatus: the device's words",
      raw: { requestId: 'cmd-4', status: 404, body: '<html><body>Not found</body></html>' },
      expected: { requestId: 'cmd-4', ok: false, error: '<html><body>Not found</body></html>' },
    },
    {
      name: 'a refusal without a body',
      raw: { requestId: 'cmd-5', status: 500, body: '' },
      expected: { requestId: 'cmd-5', ok: false, error: 'HTTP 500' },
    },
    {
      name: 'a device out of reach',
      raw: { requestId: 'cmd-6', status: 599, body: 'the device could not be reached' },
      expected: { requestId: 'cmd-6', ok: false, error: 'the device could not be reached' },
    },
  ],
  repliesMalformed: [
    { name: 'without requestId', raw: { status: 200, body: '' }, path: ['requestId'] },
    { name: 'the former shape', raw: { requestId: 'r', httpStatus: 200 }, path: [] },
  ],
});

describe('the access code table', () => {
  it('names every code once and maps each to an event the adapter declares', () => {
    const names = Object.values(accessCodes).map((code) => code.name);
    expect(new Set(names).size).toBe(names.length);
    for (const code of Object.values(accessCodes))
      expect(hikvisionIsapi.events[code.type], code.name).toBeDefined();
  });

  it('drops identifiers when the policy says none', () => {
    const [event] = decodeOn(
      hikvisionIsapi,
      'events',
      access(5, 0x09, { card: '3302789145' }),
      contextFor('none'),
    );
    expect(event?.attributes).not.toHaveProperty('credential');
  });
});

describe.each(realPayloads)('the real payload: $name', (payload) => {
  const alert = readAlert(Buffer.from(payload.body));
  const events = decodeOn(hikvisionIsapi, 'events', alertFrame(alert, 'push', Date.now()), masked);

  it('decodes to the expected events', () => {
    expect(events.map((event) => event.type)).toEqual(payload.expectedTypes);
    if (payload.expectedAttributes !== undefined)
      expect(events[0]?.attributes).toMatchObject(payload.expectedAttributes);
  });

  it("keeps the device's own clock when it gives an offset", () => {
    const written = /"?dateTime"?[>:]\s*"?([^"<]+)/.exec(payload.body)?.[1] as string;
    if (events[0] !== undefined) expect(events[0].occurredAt).toBe(Date.parse(written));
  });

  it('lets no identifier through', () => {
    if (payload.identifier !== undefined) expect(JSON.stringify(events)).not.toContain(payload.identifier);
  });
});

describe('reading alerts', () => {
  it('takes the serial number of old firmware and the MAC address as identity', () => {
    const nvr = readAlert(Buffer.from(realPayloads[3]?.body as string));
    expect(alertIdentity(nvr)).toEqual({ serial: 'DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU' });
    expect(identityMatches(alertIdentity(nvr), 'J00000000WCVU')).toBe(true);
    expect(identityMatches(alertIdentity(nvr), 'F99999999')).toBe(false);
    const camera = readAlert(Buffer.from(realPayloads[0]?.body as string));
    expect(identityMatches(alertIdentity(camera), 'a6-63-9e-f8-01-09')).toBe(true);
    expect(identityMatches(alertIdentity(camera), '44-19-b6-00-00-01')).toBe(false);
    // A serial that is not a MAC cannot be checked against a MAC: the credential proved the device.
    expect(identityMatches(alertIdentity(camera), 'F12345678')).toBe(true);
  });

  it('decodes predefined entities and expands nothing else', () => {
    const nvr = readAlert(Buffer.from(realPayloads[3]?.body as string));
    expect(
      ((nvr.Extensions as Record<string, unknown>).eventPush as string).startsWith('fielddetection&&DS-'),
    ).toBe(true);
    expect(() =>
      readAlert(
        Buffer.from(
          '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><EventNotificationAlert><eventType>&b;</eventType></EventNotificationAlert>',
        ),
      ),
    ).toThrow(/DOCTYPE/);
  });

  it('refuses what is not an alert, naming why', () => {
    expect(() => readAlert(Buffer.from('<EventNotificationAlert><eventType>VMD</event'))).toThrow(
      AlertUnreadable,
    );
    expect(() =>
      readAlert(Buffer.from('<ResponseStatus><statusCode>1</statusCode></ResponseStatus>')),
    ).toThrow(/not an EventNotificationAlert/);
    expect(() => readAlert(Buffer.from('{"hello":1}'))).toThrow(/no eventType/);
    expect(() => readAlert(Buffer.from('\x00\x01garbage'))).toThrow(/neither an XML nor a JSON/);
    const deep = `${'<a>'.repeat(40)}x${'</a>'.repeat(40)}`;
    expect(() => readAlert(Buffer.from(`<EventNotificationAlert>${deep}</EventNotificationAlert>`))).toThrow(
      AlertUnreadable,
    );
  });

  it('finds the alert and counts the pictures of a multipart push', () => {
    const json = realPayloads[4]?.body as string;
    const body = Buffer.from(
      `--b\r\nContent-Disposition: form-data; name="event_log"\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}\r\n` +
        '--b\r\nContent-Disposition: form-data; name="Picture"; filename="1.jpg"\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xd9\r\n--b--\r\n',
      'latin1',
    );
    const pushed = readPushedBody(body, 'multipart/form-data; boundary=b', {
      maxHeaderBytes: 4096,
      maxPartBytes: 1 << 20,
    });
    expect(pushed.pictures).toBe(1);
    expect(pushed.alert.eventType).toBe('AccessControllerEvent');
  });

  it('tells the keepalive from the end of a real video loss', () => {
    const keepalive = { eventType: 'videoloss', eventState: 'inactive' };
    expect(isKeepalive(keepalive, false)).toBe(true);
    expect(isKeepalive(keepalive, true)).toBe(false);
    expect(isKeepalive({ eventType: 'heartBeat', eventState: 'active' }, false)).toBe(true);
    expect(isKeepalive({ eventType: 'VMD', eventState: 'inactive' }, false)).toBe(false);
  });

  it("gives the hub's receipt time to firmware whose dateTime has no usable offset", () => {
    const alert = readAlert(
      Buffer.from(
        '<EventNotificationAlert><dateTime>2016-12-24T18:59:49-8:00</dateTime><eventType>VMD</eventType><eventState>active</eventState></EventNotificationAlert>',
      ),
    );
    expect(alertFrame(alert, 'stream', at).time).toBe(new Date(at).toISOString());
  });
});

describe("reading a device's ResponseStatus", () => {
  it('reads a real one (a camera that failed to take a picture)', () => {
    // https://github.com/maciej-or/hikvision_next/blob/4cf479180674e030ea99df0edc66019771ebb2e9/tests/fixtures/ISAPI/Streaming.channels.x0y.picture/deviceError.xml
    const real = `<?xml version="1.0" encoding="UTF-8" ?>
<ResponseStatus version="2.0"
  xmlns="http://www.isapi.org/ver20/XMLSchema">
  <statusCode>3</statusCode>
  <statusString>Device Error</statusString>
  <subStatusCode>deviceError</subStatusCode>
</ResponseStatus>
`;
    // A refused picture: an error status, the ResponseStatus in its body, as the command channel hands it over.
    const reply = hikvisionIsapi.replies?.decode({ requestId: 'r', status: 500, body: real });
    expect(reply).toEqual({
      requestId: 'r',
      ok: false,
      error: 'Device Error: deviceError',
      result: { statusCode: 3 },
    });
    // A 2xx answer whose ResponseStatus says otherwise is not done either.
    expect(hikvisionIsapi.replies?.decode({ requestId: 'r', status: 200, body: real })).toMatchObject({
      ok: false,
      error: 'Device Error: deviceError',
    });
  });

  it('reads the JSON form, and nothing from what is not one', () => {
    const decode = (body: string) => hikvisionIsapi.replies?.decode({ requestId: 'r', status: 400, body });
    expect(decode('{"statusCode":1,"statusString":"OK","subStatusCode":"ok"}')).toEqual({
      requestId: 'r',
      ok: false,
      error: 'OK: ok',
      result: { statusCode: 1 },
    });
    expect(decode('<html><body>Not found</body></html>')).toEqual({
      requestId: 'r',
      ok: false,
      error: '<html><body>Not found</body></html>',
    });
    // Cut short: no statusCode to read, so the device's words as they are.
    expect(decode('<ResponseStatus><statusCode>1</status')).toEqual({
      requestId: 'r',
      ok: false,
      error: '<ResponseStatus><statusCode>1</status',
    });
    expect(decode('')).toEqual({ requestId: 'r', ok: false, error: 'HTTP 400' });
    expect(decode(`{"statusString":"${'x'.repeat(300)}"}`)?.error).toHaveLength(64);
    expect(
      decode(`<ResponseStatus><statusString>${'x'.repeat(300)}</statusString></ResponseStatus>`)?.error,
    ).toHaveLength(64);
  });
});
