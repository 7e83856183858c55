import { z } from 'zod';
import {
  commandDefinition,
  type DecodeContext,
  type DeviceAdapter,
  frameDecoder,
  replyDecoder,
} from '../../src/core/adapter.ts';
import {
  type AttributeValue,
  maxEnvelopeTimeLength,
  type NormalizedEvent,
} from '../../src/core/device-event.ts';
import { type AccessCode, accessCodes } from './access-codes.ts';

/**
 * Hikvision cameras, NVRs and access controllers over ISAPI. The hub follows each device's event stream
 * (`/ISAPI/Event/notification/alertStream`) and takes the alarms the device pushes to its listening host; its
 * connector (src/ingest/hikvision-isapi.ts) turns each EventNotificationAlert, XML or JSON, into the JSON frame
 * below, so what this adapter decodes is plain data. See README.md beside this file for the wire format.
 */

const time = z.iso
  .datetime({ offset: true })
  .max(maxEnvelopeTimeLength)
  .describe("The alert's dateTime, or the hub's receipt time when the device gave none with an offset.");
const channel = z.number().int().min(0).max(1024).describe('Video channel (an NVR has many) or 0.');

/** An alert the connector made a frame of: the fields the hub reads, named as ISAPI names them where it can. */
const frameSchema = z.strictObject({
  via: z.enum(['stream', 'push']).describe('The alert stream the hub follows, or a push to its listener.'),
  time,
  seq: z
    .number()
    .int()
    .nonnegative()
    .max(0xffff_ffff)
    .optional()
    .describe("An access controller's event serial number (serialNo): names the event on redelivery."),
  eventType: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,64}$/)
    .describe('ISAPI eventType as sent: VMD, linedetection, fielddetection, AccessControllerEvent…'),
  eventState: z.enum(['active', 'inactive']).describe('active raises a condition, inactive clears it.'),
  channel: channel.optional(),
  inputPort: z
    .number()
    .int()
    .min(0)
    .max(1024)
    .optional()
    .describe('Alarm input (inputIOPortID) of an IO alarm.'),
  target: z
    .string()
    .regex(/^[A-Za-z]{1,32}$/)
    .optional()
    .describe('What the analytics saw (detectionTarget, targetType): human, vehicle.'),
  region: z.number().int().min(0).max(64).optional().describe('The detection region (regionID).'),
  access: z
    .strictObject({
      major: z.number().int().min(0).max(0xffff).describe('majorEventType'),
      minor: z.number().int().min(0).max(0xffff).describe('subEventType'),
      door: z.number().int().min(0).max(256).optional().describe('doorNo'),
      reader: z.number().int().min(0).max(256).optional().describe('cardReaderNo'),
      card: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe("cardNo: a resident's identifier, minimised on decode."),
      person: z.string().min(1).max(128).optional().describe("name: a resident's name, minimised on decode."),
      employee: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe("employeeNoString: a resident's identifier, minimised on decode."),
    })
    .optional()
    .describe('AccessControllerEvent: the event code and who was at which door.'),
  pictures: z.number().int().min(0).max(64).optional().describe('Pictures that came with the alert.'),
});

/** The stream's keepalive (Hikvision sends `videoloss` inactive every few seconds, newer firmware `heartBeat`). */
const heartbeatSchema = z.strictObject({
  via: z.enum(['stream', 'push']),
  time,
  eventType: z.enum(['videoloss', 'heartBeat']),
  channel: channel.optional(),
});

/**
 * The device's answer to a command, as the hub's HTTP command channel hands it back: its HTTP status and the start
 * of its body, an ISAPI ResponseStatus (XML or JSON), or the hub's words when there was no answer.
 */
const replySchema = z.strictObject({
  requestId: z.string().min(1).max(64),
  status: z
    .number()
    .int()
    .min(0)
    .max(599)
    .describe(
      "The device's HTTP status; 0: not sent (no http access), 599: the device could not be reached.",
    ),
  body: z.string().max(1024).describe("The ResponseStatus, or why there was none, in the hub's words."),
});

/** What of a ResponseStatus a reply reports (its statusCode: 1 OK; 2 busy; 3 device error; 4 invalid operation; …). */
interface ResponseStatus {
  readonly statusCode?: number;
  readonly statusString?: string;
  readonly subStatusCode?: string;
}

/** A device's words, kept to what a reply reports. */
const words = z
  .string()
  .transform((text) => text.trim().slice(0, 64))
  .optional()
  .catch(undefined);

/** The JSON ResponseStatus: its other fields (requestURL, errorCode…) say nothing the reply reports. */
const responseStatusJson = z.looseObject({
  statusCode: z.number().int().min(0).max(99).optional().catch(undefined),
  statusString: words,
  subStatusCode: words,
});

/**
 * The ResponseStatus in a device's answer: `<ResponseStatus>…<statusCode>4</statusCode>…` or its JSON form
 * `{"statusCode": 4, …}`. The body is short and already bounded, and only three plain fields are read, so a few
 * patterns do; anything else (an HTML error page, nothing) is no ResponseStatus.
 */
function readResponseStatus(body: string): ResponseStatus {
  const text = body.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return {};
    }
    const status = responseStatusJson.safeParse(parsed);
    if (!status.success) return {};
    const { statusCode, statusString, subStatusCode } = status.data;
    return {
      ...(statusCode === undefined ? {} : { statusCode }),
      ...(statusString === undefined ? {} : { statusString }),
      ...(subStatusCode === undefined ? {} : { subStatusCode }),
    };
  }
  if (!/<ResponseStatus[\s>]/.test(text)) return {};
  const field = (name: string) =>
    new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1]?.trim().slice(0, 64) || undefined;
  const code = field('statusCode');
  const statusString = field('statusString');
  const subStatusCode = field('subStatusCode');
  return {
    ...(code !== undefined && /^\d{1,2}$/.test(code) ? { statusCode: Number(code) } : {}),
    ...(statusString === undefined ? {} : { statusString }),
    ...(subStatusCode === undefined ? {} : { subStatusCode }),
  };
}

type Frame = z.infer<typeof frameSchema>;

/** A camera or NVR alert: the event when it turns active and, for a lasting condition, the one that clears it. */
interface CameraAlert {
  readonly active: string;
  readonly inactive?: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

const tamper: CameraAlert = { active: 'camera.tamper', inactive: 'camera.tamper_ended' };

/** By eventType in lower case: Hikvision firmware spells some in camelCase, some not. */
const cameraAlerts: Readonly<Record<string, CameraAlert>> = {
  vmd: { active: 'camera.motion', inactive: 'camera.motion_ended' },
  linedetection: { active: 'camera.line_crossed' },
  fielddetection: { active: 'camera.intrusion', inactive: 'camera.intrusion_ended' },
  regionentrance: { active: 'camera.region_entered' },
  regionexiting: { active: 'camera.region_exited' },
  shelteralarm: tamper,
  tamperdetection: tamper,
  videoloss: { active: 'camera.video_lost', inactive: 'camera.video_restored' },
  io: { active: 'alarm.input', inactive: 'alarm.input_ended' },
  diskfull: { active: 'storage.failure', inactive: 'storage.failure_ended', attributes: { reason: 'full' } },
  hdfull: { active: 'storage.failure', inactive: 'storage.failure_ended', attributes: { reason: 'full' } },
  diskerror: {
    active: 'storage.failure',
    inactive: 'storage.failure_ended',
    attributes: { reason: 'error' },
  },
  hderror: { active: 'storage.failure', inactive: 'storage.failure_ended', attributes: { reason: 'error' } },
};

/** Access controllers name their alerts one of these. */
const accessEventTypes = new Set(['accesscontrollerevent', 'acs']);

/** The minimised identifier, or nothing when the frame carries none or the policy drops it. */
function identifierAttribute(
  name: string,
  value: string | undefined,
  context: DecodeContext,
): Record<string, AttributeValue> {
  const minimised = value === undefined ? undefined : context.identifiers.minimise(value);
  return minimised === undefined ? {} : { [name]: minimised };
}

/** Where on the device it happened, as far as the frame says. */
function placeAttributes(frame: Frame): Record<string, AttributeValue> {
  return {
    ...(frame.channel === undefined ? {} : { channel: frame.channel }),
    ...(frame.inputPort === undefined ? {} : { input: frame.inputPort }),
    ...(frame.region === undefined ? {} : { region: frame.region }),
    ...(frame.target === undefined ? {} : { target: frame.target.toLowerCase() }),
  };
}

function decodeCameraAlert(frame: Frame, alert: CameraAlert): NormalizedEvent[] {
  const type = frame.eventState === 'active' ? alert.active : alert.inactive;
  if (type === undefined) return [];
  return [
    {
      type,
      occurredAt: Date.parse(frame.time),
      attributes: { ...placeAttributes(frame), ...alert.attributes },
    },
  ];
}

function decodeAccessEvent(frame: Frame, context: DecodeContext): NormalizedEvent[] {
  const access = frame.access;
  if (access === undefined) return [];
  const code: AccessCode | undefined = accessCodes[`${access.major}:${access.minor}`];
  if (code === undefined) return [];
  return [
    {
      type: code.type,
      occurredAt: Date.parse(frame.time),
      attributes: {
        code: code.name,
        ...(access.door === undefined ? {} : { door: access.door }),
        ...(access.reader === undefined ? {} : { reader: access.reader }),
        ...code.attributes,
        ...identifierAttribute('credential', access.card, context),
        ...identifierAttribute('person', access.person, context),
        ...identifierAttribute('employee', access.employee, context),
      },
    },
  ];
}

function decodeAlert(frame: Frame, context: DecodeContext): NormalizedEvent[] {
  const eventType = frame.eventType.toLowerCase();
  if (accessEventTypes.has(eventType)) return decodeAccessEvent(frame, context);
  const alert = cameraAlerts[eventType];
  // An eventType the table does not name (face capture, ANPR…) carries nothing the hub acts on yet.
  return alert === undefined ? [] : decodeCameraAlert(frame, alert);
}

const place = ['channel', 'input', 'region', 'target'];
const person = ['credential', 'person', 'employee'];
const door = ['code', 'door', 'reader'];

/** ISAPI's namespace for the bodies it takes. */
const isapiNamespace = 'http://www.isapi.org/ver20/XMLSchema';

export const hikvisionIsapi: DeviceAdapter = {
  id: 'hikvision-isapi',
  transport: 'hikvision-isapi',
  vendor: 'Hikvision',
  models: [
    'IP cameras (DS-2CD…)',
    'NVRs (DS-76…, DS-77…)',
    'access controllers and face terminals (DS-K26…, DS-K1T…)',
  ],
  description:
    'Hikvision over ISAPI: motion, line crossing, intrusion, region entrance and exit, tamper, video loss, alarm ' +
    'inputs and storage failure from cameras and NVRs; door, card, anti-passback, tailgating, duress and tamper ' +
    'events from access controllers; snapshots; remote door open.',
  events: {
    'camera.motion': { description: 'Motion was detected (VMD).', attributes: place },
    'camera.motion_ended': { description: 'Motion stopped.', attributes: place },
    'camera.line_crossed': {
      description: 'An object crossed a virtual line (linedetection).',
      attributes: place,
    },
    'camera.intrusion': {
      description: 'An object entered a guarded field (fielddetection).',
      attributes: place,
    },
    'camera.intrusion_ended': { description: 'The guarded field is clear again.', attributes: place },
    'camera.region_entered': {
      description: 'An object entered a region (regionEntrance).',
      attributes: place,
    },
    'camera.region_exited': { description: 'An object left a region (regionExiting).', attributes: place },
    'camera.tamper': {
      description: 'The view was covered or the camera tampered with (shelteralarm, tamperdetection).',
      attributes: place,
    },
    'camera.tamper_ended': { description: 'The view is back to normal.', attributes: place },
    'camera.video_lost': { description: 'A channel lost its video (videoloss).', attributes: place },
    'camera.video_restored': { description: "The channel's video is back.", attributes: place },
    'alarm.input': {
      description: 'An alarm input (a door contact, a detector wired to the device) went into alarm.',
      attributes: [...place, ...door],
    },
    'alarm.input_ended': {
      description: 'The alarm input is back to normal.',
      attributes: [...place, ...door],
    },
    'storage.failure': {
      description: 'The recording storage is full or failed.',
      attributes: [...place, 'reason'],
    },
    'storage.failure_ended': { description: 'The storage works again.', attributes: [...place, 'reason'] },
    'access.granted': {
      description: 'A card, face or fingerprint opened a door.',
      attributes: [...door, 'credentialType', ...person],
    },
    'access.denied': {
      description:
        'A credential was refused (unknown card, no right, expired, out of schedule, too many tries).',
      attributes: [...door, 'reason', ...person],
    },
    'access.anti_passback': {
      description: 'A credential was used twice in one direction (anti-passback).',
      attributes: [...door, ...person],
    },
    'access.tailgating': {
      description: 'Someone followed through behind a credential.',
      attributes: [...door, ...person],
    },
    'access.interlock': {
      description: 'A door of an interlock was asked to open while the other was still open.',
      attributes: [...door, ...person],
    },
    'alarm.duress': { description: 'A duress code or finger was used.', attributes: [...door, ...person] },
    'alarm.panic': { description: "The controller's emergency button was pressed.", attributes: door },
    'door.forced_open': { description: 'A door opened without a valid credential.', attributes: door },
    'door.held_open': { description: 'A door stayed open past its limit.', attributes: door },
    'door.opened': { description: 'A door opened (its contact).', attributes: door },
    'door.closed': { description: 'A door closed (its contact).', attributes: door },
    'door.remote_opened': {
      description: 'A door was opened remotely (by the hub or a client).',
      attributes: door,
    },
    'device.tamper': {
      description: "The controller's enclosure or a reader was pried open.",
      attributes: [...door, 'source'],
    },
    'device.tamper_restored': {
      description: 'The enclosure or reader is closed again.',
      attributes: [...door, 'source'],
    },
  },
  channels: {
    events: frameDecoder({ schema: frameSchema, decode: decodeAlert }),
    heartbeat: frameDecoder({ schema: heartbeatSchema, decode: () => [] }),
  },
  commands: {
    open_door: commandDefinition({
      description: 'Opens a door of an access controller for its configured open time (ISAPI RemoteControl).',
      params: z.strictObject({
        door: z.number().int().min(1).max(64).default(1).describe('Door number on the controller.'),
      }),
      // The command is the ISAPI request itself, as data: the hub's HTTP command channel sends it as it stands.
      encode: (params, requestId) => ({
        requestId,
        method: 'PUT',
        path: `/ISAPI/AccessControl/RemoteControl/door/${params.door}`,
        body: `<RemoteControlDoor version="2.0" xmlns="${isapiNamespace}"><cmd>open</cmd></RemoteControlDoor>`,
        headers: { 'content-type': 'application/xml' },
      }),
    }),
  },
  replies: replyDecoder({
    schema: replySchema,
    decode: (raw) => {
      const status = readResponseStatus(raw.body);
      // A 2xx answer without a ResponseStatus body is taken as done; with one, its statusCode 1 says so.
      const ok = raw.status >= 200 && raw.status < 300 && (status.statusCode ?? 1) === 1;
      const detail = [status.statusString, status.subStatusCode]
        .filter((part) => part !== undefined)
        .join(': ');
      // Without a ResponseStatus the body is the device's own words (or the hub's, when there was no answer).
      const error = detail || raw.body.trim().slice(0, 200) || `HTTP ${raw.status}`;
      return {
        requestId: raw.requestId,
        ok,
        ...(ok ? {} : { error }),
        ...(status.statusCode === undefined ? {} : { result: { statusCode: status.statusCode } }),
      };
    },
  }),
  httpMedia: {
    snapshotPath: '/ISAPI/Streaming/channels/101/picture',
    stream: { port: 554, path: '/Streaming/Channels/101' },
  },
  // The alert stream's keepalive comes every 10 s or so; pushes only when something happens (hence the margin).
  liveness: { heartbeatSeconds: 10, offlineAfterSeconds: 90 },
};
