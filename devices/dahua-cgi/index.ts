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

/**
 * Dahua cameras, NVRs and door stations (VTO) over their HTTP CGI API. The hub attaches to the device's event stream
 * (`/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=N`, multipart, Digest) and its connector
 * (src/ingest/dahua-event-streams.ts) turns each text part, `Code=VideoMotion;action=Start;index=0;data={…}`, into
 * one JSON frame on `<base>/devices/<id>/events` (a `Heartbeat` part into one on `.../heartbeat`). This adapter is
 * what the hub knows of those frames: their schema, a pure decoder, the door-open command as an HTTP request written
 * as data, and where the snapshot and the stream are. See README.md beside this file for the wire and the sources.
 */

/** When the hub read the part: Dahua's own `UTC` field is local time on many firmwares, and its clock may be off. */
const time = z.iso
  .datetime({ offset: true })
  .max(maxEnvelopeTimeLength)
  .describe('When the hub read the part, ISO 8601.');
/** `index` of the part: the video channel, alarm input or door, counted from 0 as the device counts them. */
const index = z.number().int().min(0).max(255).describe('Channel, alarm input or door, from 0.');
const action = z
  .enum(['Start', 'Stop', 'Pulse'])
  .describe('Start/Stop: a condition begins/ends; Pulse: a moment.');
const text = (max: number) => z.string().max(max);

/**
 * The `data` JSON the device adds to a part. Firmware adds fields freely (LocaleTime, UTC, PTS, EventSeq…), so only
 * the fields decoded are checked and the rest pass: refusing a part for a field nobody reads would lose the event.
 */
const anyData = z.looseObject({}).optional();
const ruleData = z
  .looseObject({
    Name: text(128).optional().describe("The IVS rule's name, as set on the device."),
    Direction: text(32).optional().describe('LeftToRight, RightToLeft, Enter, Leave…'),
    Object: z.looseObject({ ObjectType: text(32).optional() }).optional(),
  })
  .optional();
const accessData = z.looseObject({
  Status: z
    .union([z.literal(0), z.literal(1)])
    .describe('1: the door opened for the credential; 0: refused.'),
  Method: z.number().int().min(0).max(255).optional().describe('How the person identified (see methods).'),
  CardNo: text(64).optional().describe("Card number: a resident's identifier, minimised on decode."),
  UserID: text(64).optional().describe("The device's user (or room) id: an identifier, minimised on decode."),
  Type: text(16).optional().describe('Entry or Exit.'),
  Door: z.number().int().min(0).max(63).optional().describe('Door, from 0.'),
  ErrorCode: z.number().int().min(0).max(0xffff).optional().describe('Why a credential was refused.'),
});
const doorData = z.looseObject({
  Status: z.enum(['Open', 'Close']).describe("The door contact's new state."),
});

/** A frame of a code this adapter decodes; `data` as each code carries it. */
const known = <Code extends string, Data extends z.ZodType>(code: Code, data: Data) =>
  z.strictObject({ time, code: z.literal(code), action, index, data });

const knownFrames = [
  known('VideoMotion', anyData),
  known('VideoBlind', anyData),
  known('VideoLoss', anyData),
  known('AlarmLocal', anyData),
  known('CrossLineDetection', ruleData),
  known('CrossRegionDetection', ruleData),
  known('AccessControl', accessData),
  known('DoorStatus', doorData),
  known('StorageFailure', anyData),
  known('StorageNotExist', anyData),
] as const;
type KnownFrame = z.infer<(typeof knownFrames)[number]>;
type Code = KnownFrame['code'];
const knownCodes: ReadonlyMap<string, (typeof knownFrames)[number]> = new Map(
  knownFrames.map((frame) => [frame.shape.code.value, frame]),
);

/**
 * Every other code the device reports under `codes=[All]` (NTPAdjustTime, TimeChange, VideoAnalyseRule changes…):
 * accepted and decoded to nothing, so that an ordinary device does not fill the dead letters.
 */
const otherFrame = z.strictObject({
  time,
  code: z.string().regex(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/, 'a Dahua event code'),
  action: text(32),
  index,
  data: anyData,
});

/**
 * Each frame checked by the schema of its code (other codes by `otherFrame`), so that a refusal names what is wrong
 * where it is (`data.Status: …`): a union of them all would only say that none matched.
 */
const frameSchema = z.unknown().transform((raw, context): KnownFrame | z.infer<typeof otherFrame> => {
  const code = typeof raw === 'object' && raw !== null ? (raw as { code?: unknown }).code : undefined;
  const schema: z.ZodType<KnownFrame | z.infer<typeof otherFrame>> =
    (typeof code === 'string' ? knownCodes.get(code) : undefined) ?? otherFrame;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) context.addIssue({ ...issue });
  return z.NEVER;
});
type DahuaFrame = z.output<typeof frameSchema>;

const heartbeatSchema = z.strictObject({ time });

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
  body: z
    .string()
    .max(1024)
    .describe(
      "The device's answer: `OK`, or `Error` and a reason (the hub's words when there was no answer).",
    ),
});

/** How a person identified at the door (Dahua's `Method`); others are `other`. */
const methods: Readonly<Record<number, string>> = {
  0: 'password',
  1: 'card',
  4: 'remote',
  5: 'button',
  6: 'fingerprint',
  15: 'face',
};

const occurred = (frame: { time: string }): number => Date.parse(frame.time);
const channel = (frame: { index: number }) => ({ channel: frame.index + 1 });

/** The minimised identifier, or nothing when the device sent none (`""` on remote opens) or the policy drops it. */
function identifier(name: string, value: string | undefined, context: DecodeContext) {
  const minimised = value === undefined || value === '' ? undefined : context.identifiers.minimise(value);
  return minimised === undefined ? {} : { [name]: minimised };
}

type FrameOf<Name extends Code> = Extract<KnownFrame, { code: Name }>;
type Decoder<Name extends Code> = (frame: FrameOf<Name>, context: DecodeContext) => NormalizedEvent[];

function event(type: string, frame: { time: string }, attributes: Record<string, AttributeValue>) {
  return [{ type, occurredAt: occurred(frame), attributes }];
}

/** A condition with a beginning and an end: Start (or a Pulse) raises it, Stop is the event that clears it. */
function lasting<Name extends Code>(
  active: string,
  ended: string,
  attributes: (frame: FrameOf<Name>) => Record<string, AttributeValue> = channel,
): Decoder<Name> {
  return (frame) => event(frame.action === 'Stop' ? ended : active, frame, attributes(frame));
}

/** A moment: Start or Pulse is the event; the Stop that some firmware sends after it ends nothing. */
function momentary<Name extends Code>(
  type: string,
  attributes: (frame: FrameOf<Name>) => Record<string, AttributeValue>,
): Decoder<Name> {
  return (frame) => (frame.action === 'Stop' ? [] : event(type, frame, attributes(frame)));
}

function ruleAttributes(frame: FrameOf<'CrossLineDetection' | 'CrossRegionDetection'>) {
  const data = frame.data;
  return {
    ...channel(frame),
    ...(data?.Name === undefined ? {} : { rule: data.Name }),
    ...(data?.Direction === undefined ? {} : { direction: data.Direction }),
    ...(data?.Object?.ObjectType === undefined ? {} : { objectType: data.Object.ObjectType }),
  };
}

/** One small decoder per code, as the gate-access adapter's per event. */
const decoders: { [Name in Code]: Decoder<Name> } = {
  VideoMotion: lasting('camera.motion', 'camera.motion_ended'),
  VideoBlind: lasting('camera.tamper', 'camera.tamper_ended'),
  VideoLoss: lasting('camera.video_lost', 'camera.video_restored'),
  AlarmLocal: lasting('alarm.input', 'alarm.input_ended', (frame) => ({ input: frame.index + 1 })),
  CrossLineDetection: momentary<'CrossLineDetection'>('camera.line_crossed', ruleAttributes),
  CrossRegionDetection: lasting<'CrossRegionDetection'>(
    'camera.intrusion',
    'camera.intrusion_ended',
    ruleAttributes,
  ),
  AccessControl: (frame, context) => {
    const data = frame.data;
    const door = (data.Door ?? frame.index) + 1;
    const direction = data.Type === 'Entry' ? 'in' : data.Type === 'Exit' ? 'out' : undefined;
    return event(data.Status === 1 ? 'access.granted' : 'access.denied', frame, {
      door,
      ...(direction === undefined ? {} : { direction }),
      method: data.Method === undefined ? 'other' : (methods[data.Method] ?? 'other'),
      ...identifier('credential', data.CardNo, context),
      ...identifier('user', data.UserID, context),
      ...(data.Status === 0 && data.ErrorCode !== undefined ? { errorCode: data.ErrorCode } : {}),
    });
  },
  DoorStatus: (frame) =>
    event(frame.data.Status === 'Open' ? 'door.opened' : 'door.closed', frame, { door: frame.index + 1 }),
  StorageFailure: lasting('storage.failure', 'storage.failure_ended', () => ({ fault: 'failure' })),
  StorageNotExist: lasting('storage.failure', 'storage.failure_ended', () => ({ fault: 'missing' })),
};

function decodeFrame(frame: DahuaFrame, context: DecodeContext): readonly NormalizedEvent[] {
  if (!knownCodes.has(frame.code)) return [];
  const decoder = decoders[frame.code as Code] as (f: KnownFrame, c: DecodeContext) => NormalizedEvent[];
  return decoder(frame as KnownFrame, context);
}

const door = z.number().int().min(1).max(64).describe('Door (the CGI channel), from 1.');

export const dahuaCgi: DeviceAdapter = {
  id: 'dahua-cgi',
  transport: 'dahua-cgi',
  vendor: 'Dahua (and rebrands: Amcrest, Lorex, IMOU Pro)',
  models: ['IPC cameras', 'NVR/XVR recorders', 'VTO door stations', 'ASI access controllers'],
  description:
    'Dahua devices over the HTTP CGI API: motion, tripwire and intrusion (IVS), video blind and loss, alarm ' +
    'inputs, access and door contact events, storage faults; snapshot and RTSP stream; remote door open.',
  events: {
    'camera.motion': { description: 'Motion was detected (VideoMotion Start).', attributes: ['channel'] },
    'camera.motion_ended': { description: 'Motion stopped (VideoMotion Stop).', attributes: ['channel'] },
    'camera.tamper': { description: 'The view is covered (VideoBlind Start).', attributes: ['channel'] },
    'camera.tamper_ended': {
      description: 'The view is clear again (VideoBlind Stop).',
      attributes: ['channel'],
    },
    'camera.video_lost': {
      description: 'A channel lost its video (VideoLoss Start).',
      attributes: ['channel'],
    },
    'camera.video_restored': {
      description: 'The channel has video again (VideoLoss Stop).',
      attributes: ['channel'],
    },
    'camera.line_crossed': {
      description: 'An object crossed a tripwire rule (CrossLineDetection).',
      attributes: ['channel', 'rule', 'direction', 'objectType'],
    },
    'camera.intrusion': {
      description: 'An object entered a guarded region (CrossRegionDetection Start).',
      attributes: ['channel', 'rule', 'direction', 'objectType'],
    },
    'camera.intrusion_ended': {
      description: 'The region is clear again (CrossRegionDetection Stop).',
      attributes: ['channel', 'rule', 'direction', 'objectType'],
    },
    'alarm.input': {
      description: 'An alarm input wired to the device went active (AlarmLocal Start).',
      attributes: ['input'],
    },
    'alarm.input_ended': {
      description: 'The alarm input is back to normal (AlarmLocal Stop).',
      attributes: ['input'],
    },
    'access.granted': {
      description: 'A door station or controller opened its door for someone (AccessControl, Status 1).',
      attributes: ['door', 'direction', 'method', 'credential', 'user'],
    },
    'access.denied': {
      description: 'A door station or controller refused a credential (AccessControl, Status 0).',
      attributes: ['door', 'direction', 'method', 'credential', 'user', 'errorCode'],
    },
    'door.opened': { description: 'The door contact opened (DoorStatus Open).', attributes: ['door'] },
    'door.closed': { description: 'The door contact closed (DoorStatus Close).', attributes: ['door'] },
    'storage.failure': {
      description:
        'The recorder lost its storage: a disk failed or is missing (StorageFailure, StorageNotExist).',
      attributes: ['fault'],
    },
    'storage.failure_ended': { description: 'The storage is back.', attributes: ['fault'] },
  },
  channels: {
    events: frameDecoder({ schema: frameSchema, decode: decodeFrame }),
    // A Heartbeat part proves the stream and the device alive; it carries nothing to act on.
    heartbeat: frameDecoder({ schema: heartbeatSchema, decode: () => [] }),
  },
  commands: {
    openDoor: commandDefinition({
      description: 'Opens a door of a door station or access controller, as its release button would.',
      params: z.strictObject({ door: door.default(1) }),
      // The command is the HTTP request itself, as data: the connector sends it with the device's login.
      encode: (params, requestId) => ({
        requestId,
        method: 'GET',
        path: `/cgi-bin/accessControl.cgi?action=openDoor&channel=${params.door}`,
      }),
    }),
  },
  replies: replyDecoder({
    schema: replySchema,
    decode: (raw) => {
      const answer = raw.body.trim();
      const ok = raw.status === 200 && answer === 'OK';
      // `Error\r\nBad Request!` and the like: the device's reason, on one line.
      const reason = answer.replace(/\s+/g, ' ').slice(0, 200) || `HTTP ${raw.status}`;
      return { requestId: raw.requestId, ok, ...(ok ? {} : { error: reason }) };
    },
  }),
  httpMedia: {
    snapshotPath: '/cgi-bin/snapshot.cgi?channel=1',
    stream: { port: 554, path: '/cam/realmonitor?channel=1&subtype=0' },
  },
  // The hub asks for a Heartbeat part every 5 s (heartbeat=5); three missed in a row and more is an outage.
  liveness: { heartbeatSeconds: 5, offlineAfterSeconds: 60 },
};
