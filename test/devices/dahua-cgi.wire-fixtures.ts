/**
 * Real Dahua event-stream parts from public sources, each with where it was found. `part` is the part on the wire
 * (delimiter, headers, body) as the source gives it, or, where a source gives only the event's JSON `data`, the
 * text part a device writes around it (said so in `provenance`). Used by test/devices/dahua-cgi.fixtures.test.ts
 * (parsed, decoded, and compared byte for byte with what the simulator writes for the same event) and by
 * test/integration/dahua-replay.test.ts (replayed as a multipart stream over real HTTP against a hub).
 */

export interface WireFixture {
  readonly name: string;
  /** The URL of the public source, and what was taken from it. */
  readonly provenance: string;
  readonly boundary: string;
  /** The part's bytes, from its delimiter line to the end of what the source shows. */
  readonly part: string;
  /** What the connector makes of it: the heartbeat, or each event as `{code, action, index, data?}`. */
  readonly frames: 'heartbeat' | readonly Record<string, unknown>[];
  /** The normalized events the adapter decodes from those frames (type and attributes). */
  readonly events: readonly { readonly type: string; readonly attributes: Record<string, unknown> }[];
  /** The part is in the Dahua HTTP API's own layout, which the simulator writes: it must write these bytes. */
  readonly simulatorWrites: boolean;
}

const dahuaHttpApi =
  'Dahua HTTP API for IPC, eventManager.cgi?action=attach, "Success Return" example (quoted at https://qna.habr.com/q/1338700)';
const vto2mqtt = 'https://github.com/elad-bar/DahuaVTO2MQTT/blob/master/MQTTEvents.MD';

/** A door station's text part around the `data` a source gives, indented as door stations write it. */
function vtoPart(head: string, data: string): string {
  const body = `${head};data=${data}\r\n`;
  return `--myboundary\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}\r\n`;
}

export const wireFixtures: readonly WireFixture[] = [
  {
    name: 'VideoMotion Start, as the Dahua HTTP API shows it (Content-Length counts the CRLF)',
    provenance: dahuaHttpApi,
    boundary: 'myboundary',
    part: '--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\nCode=VideoMotion;action=Start;index=0\r\n\r\n',
    frames: [{ code: 'VideoMotion', action: 'Start', index: 0 }],
    events: [{ type: 'camera.motion', attributes: { channel: 1 } }],
    simulatorWrites: true,
  },
  {
    name: 'VideoBlind Start, as the Dahua HTTP API shows it',
    provenance: dahuaHttpApi,
    boundary: 'myboundary',
    part: '--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\nCode=VideoBlind;action=Start;index=0\r\n\r\n',
    frames: [{ code: 'VideoBlind', action: 'Start', index: 0 }],
    events: [{ type: 'camera.tamper', attributes: { channel: 1 } }],
    simulatorWrites: true,
  },
  {
    name: 'Heartbeat, as the Dahua HTTP API shows it (Content-Length is the word alone)',
    provenance: dahuaHttpApi,
    boundary: 'myboundary',
    part: '--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n\r\n',
    frames: 'heartbeat',
    events: [],
    simulatorWrites: true,
  },
  {
    name: 'VideoMotion Start under a boundary the device declares, without a trailing CRLF',
    provenance:
      'https://github.com/rroller/dahua/blob/main/tests/dahua/test_event_stream.py (test_declared_boundary_delivers_by_content_length_too)',
    boundary: 'abc123',
    part: '--abc123\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\nCode=VideoMotion;action=Start;index=0',
    frames: [{ code: 'VideoMotion', action: 'Start', index: 0 }],
    events: [{ type: 'camera.motion', attributes: { channel: 1 } }],
    simulatorWrites: false,
  },
  {
    name: 'a doorbell press: a code the adapter does not decode, accepted and decoded to nothing',
    provenance:
      'https://github.com/rroller/dahua/blob/main/tests/dahua/test_event_stream.py (test_content_length_delivers_split_part_before_next_boundary)',
    boundary: 'myboundary',
    part: '--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 41\r\n\r\nCode=DoorbellPressed;action=Pulse;index=0',
    frames: [{ code: 'DoorbellPressed', action: 'Pulse', index: 0 }],
    events: [],
    simulatorWrites: false,
  },
  {
    name: "AccessControl of a door station's remote open (Method 4), empty card and user",
    provenance: `${vto2mqtt} ("AccessControl: Someone opened the door": its Data, without the page's comments)`,
    boundary: 'myboundary',
    part: vtoPart(
      'Code=AccessControl;action=Pulse;index=0',
      '{\n   "CardNo" : "",\n   "CardType" : null,\n   "LocaleTime" : "2020-03-02 20:24:08",\n   "Method" : 4,\n   "Name" : "OpenDoor",\n   "Password" : "",\n   "ReaderID" : "1",\n   "RecNo" : 691,\n   "SnapURL" : "",\n   "Status" : 1,\n   "Type" : "Entry",\n   "UTC" : 1583173448,\n   "UserID" : ""\n}',
    ),
    frames: [
      {
        code: 'AccessControl',
        action: 'Pulse',
        index: 0,
        data: {
          CardNo: '',
          CardType: null,
          LocaleTime: '2020-03-02 20:24:08',
          Method: 4,
          Name: 'OpenDoor',
          Password: '',
          ReaderID: '1',
          RecNo: 691,
          SnapURL: '',
          Status: 1,
          Type: 'Entry',
          UTC: 1583173448,
          UserID: '',
        },
      },
    ],
    events: [{ type: 'access.granted', attributes: { door: 1, direction: 'in', method: 'remote' } }],
    simulatorWrites: true,
  },
  {
    name: 'AlarmLocal Stop of a door station, with its times',
    provenance: `${vto2mqtt} ("AlarmLocal: Alarm triggered by the VTO unit": Action Stop and its Data)`,
    boundary: 'myboundary',
    part: vtoPart(
      'Code=AlarmLocal;action=Stop;index=0',
      '{\n   "LocaleTime" : "2020-03-02 20:11:16",\n   "UTC" : 1583172676\n}',
    ),
    frames: [
      {
        code: 'AlarmLocal',
        action: 'Stop',
        index: 0,
        data: { LocaleTime: '2020-03-02 20:11:16', UTC: 1583172676 },
      },
    ],
    events: [{ type: 'alarm.input_ended', attributes: { input: 1 } }],
    simulatorWrites: true,
  },
  {
    name: 'VideoMotion Start of a door station, with its times',
    provenance: `${vto2mqtt} ("VideoMotion: Video motion detected": Action Start and its Data)`,
    boundary: 'myboundary',
    part: vtoPart(
      'Code=VideoMotion;action=Start;index=0',
      '{\n   "LocaleTime" : "2020-03-02 20:44:28",\n   "UTC" : 1583174668\n}',
    ),
    frames: [
      {
        code: 'VideoMotion',
        action: 'Start',
        index: 0,
        data: { LocaleTime: '2020-03-02 20:44:28', UTC: 1583174668 },
      },
    ],
    events: [{ type: 'camera.motion', attributes: { channel: 1 } }],
    simulatorWrites: true,
  },
];
