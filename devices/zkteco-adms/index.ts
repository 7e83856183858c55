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
import {
  commandReturns,
  type OperlogMeaning,
  operlogAlarmOperation,
  operlogAlarmReasons,
  operlogOperations,
  punchStates,
  type RtlogMeaning,
  rtlogEvents,
  verifyModes,
} from './event-codes.ts';

/**
 * ZKTeco access and attendance terminals that speak ADMS, the vendor's HTTP push protocol (`/iclock/…`, "PUSH
 * SDK"). The hub's ADMS receiver (src/ingest/zkteco-adms.ts) turns each record line a terminal uploads into one JSON
 * frame, given here: `rtlog` (access terminals' real-time events), `ATTLOG` (attendance punches) and `OPERLOG`
 * alarms on `events`; `rtstate` (door and alarm state) on `heartbeat`; answers to commands (`devicecmd`) on
 * `replies`. See README.md beside this file for the wire format, the codes and where real payloads came from.
 */

const time = z.iso
  .datetime({ offset: true })
  .max(maxEnvelopeTimeLength)
  .describe("The terminal's clock, read in hub.timezone (the zone the hub gives the terminal), ISO 8601.");
const code = z.number().int().min(-1).max(65_535);
const door = z.number().int().min(0).max(255).describe('eventaddr: the door (or input) the event is on.');
const userPin = z
  .string()
  .min(1)
  .max(24)
  .optional()
  .describe("The user's number on the terminal: a resident's identifier, minimised on decode.");
const cardNumber = z
  .string()
  .min(1)
  .max(32)
  .optional()
  .describe("The card number read: a resident's identifier, minimised on decode.");
const verify = z.number().int().min(0).max(255).describe('The verify mode (event-codes.ts verifyModes).');

const rtlogFrame = z.strictObject({
  table: z.literal('rtlog'),
  seq: z
    .number()
    .int()
    .nonnegative()
    .max(0xffff_ffff)
    .optional()
    .describe("rtlog `index`: the terminal's record counter; with time it names the event."),
  time,
  event: code.describe('rtlog `event` (event-codes.ts rtlogEvents).'),
  door,
  inOut: z.number().int().min(0).max(3).describe('inoutstatus: 0 in, 1 or 3 out, 2 none.'),
  verify,
  pin: userPin,
  card: cardNumber,
});
const attlogFrame = z.strictObject({
  table: z.literal('ATTLOG'),
  time,
  pin: z.string().min(1).max(24).describe("The user's number: a resident's identifier, minimised on decode."),
  status: z.number().int().min(0).max(255).describe('The punch state (event-codes.ts punchStates).'),
  verify,
});
const operlogFrame = z.strictObject({
  table: z.literal('OPERLOG'),
  time,
  op: code.describe('OPLOG operation code (event-codes.ts operlogOperations).'),
  reason: code.optional().describe('For alarms (operation 3): the alarm reason (operlogAlarmReasons).'),
});
const eventFrame = z.discriminatedUnion('table', [rtlogFrame, attlogFrame, operlogFrame]);

const hexState = z.string().regex(/^[0-9A-Fa-f]{0,64}$/);
/** The terminal's door and alarm state, sent when it changes: it proves the terminal alive, and raises nothing. */
const rtstateFrame = z.strictObject({
  table: z.literal('rtstate'),
  time,
  sensor: hexState.describe('Door sensors, two hex digits a door.'),
  relay: hexState.describe('Lock relays.'),
  alarm: hexState.describe('Alarm flags.'),
  door: hexState.optional().describe('Door states.'),
});

const replyFrame = z.strictObject({
  requestId: z.string().min(1).max(64),
  return: z.number().int().min(-100_000).max(100_000).describe('devicecmd `Return`: 0 is success.'),
  cmd: z.string().max(64).describe('devicecmd `CMD`: the command as the terminal names it.'),
});

type RtlogFrame = z.infer<typeof rtlogFrame>;
type AttlogFrame = z.infer<typeof attlogFrame>;
type OperlogFrame = z.infer<typeof operlogFrame>;
type EventFrame = z.infer<typeof eventFrame>;

const directions: Readonly<Record<number, 'in' | 'out'>> = { 0: 'in', 1: 'out', 3: 'out' };

/** The credential presented, minimised: the card when one was read, else the user's number; nothing for none. */
function credential(
  frame: { pin?: string; card?: string },
  context: DecodeContext,
): Record<string, AttributeValue> {
  const value = frame.card ?? frame.pin;
  const minimised = value === undefined ? undefined : context.identifiers.minimise(value);
  return minimised === undefined ? {} : { credential: minimised };
}

function credentialAttributes(frame: RtlogFrame, context: DecodeContext): Record<string, AttributeValue> {
  const direction = directions[frame.inOut];
  return {
    door: frame.door,
    ...(direction === undefined ? {} : { direction }),
    credentialType: verifyModes[frame.verify] ?? 'other',
    ...credential(frame, context),
  };
}

const event = (
  type: string,
  occurredAt: number,
  attributes: Record<string, AttributeValue>,
): NormalizedEvent => ({
  type,
  occurredAt,
  attributes,
});

/** One small decoder per meaning of an rtlog code. */
const rtlogDecoders: {
  [Kind in RtlogMeaning['kind']]: (
    frame: RtlogFrame,
    meaning: Extract<RtlogMeaning, { kind: Kind }>,
    context: DecodeContext,
    at: number,
  ) => NormalizedEvent[];
} = {
  granted: (frame, _meaning, context, at) => [
    event('access.granted', at, { ...credentialAttributes(frame, context), code: frame.event }),
  ],
  denied: (frame, meaning, context, at) => [
    event('access.denied', at, {
      ...credentialAttributes(frame, context),
      reason: meaning.reason,
      code: frame.event,
    }),
  ],
  anti_passback: (frame, _meaning, context, at) => [
    event('access.anti_passback', at, credentialAttributes(frame, context)),
  ],
  duress: (frame, meaning, _context, at) => [
    event('access.duress', at, { door: frame.door, method: meaning.method }),
  ],
  forced_open: (frame, _meaning, _context, at) => [event('door.forced_open', at, { door: frame.door })],
  held_open: (frame, _meaning, _context, at) => [event('door.held_open', at, { door: frame.door })],
  remote_opened: (frame, _meaning, _context, at) => [
    event('door.remote_opened', at, { door: frame.door, code: frame.event }),
  ],
  door_opened: (frame, _meaning, _context, at) => [event('door.opened', at, { door: frame.door })],
  door_closed: (frame, _meaning, _context, at) => [event('door.closed', at, { door: frame.door })],
  exit_button: (frame, _meaning, _context, at) => [event('door.exit_button', at, { door: frame.door })],
  device_started: (_frame, _meaning, _context, at) => [event('device.started', at, {})],
  aux_input: (frame, meaning, _context, at) => [
    event('alarm.input', at, { input: frame.door, state: meaning.state }),
  ],
  informational: () => [],
};

function decodeRtlog(frame: RtlogFrame, context: DecodeContext): NormalizedEvent[] {
  const at = Date.parse(frame.time);
  const known = rtlogEvents[frame.event];
  // A code the table does not know is kept, by its number, rather than dropped: a rule can still be written for it.
  if (known === undefined)
    return [event('access.unmapped_event', at, { code: frame.event, door: frame.door })];
  const decode = rtlogDecoders[known.meaning.kind] as (
    frame: RtlogFrame,
    meaning: RtlogMeaning,
    context: DecodeContext,
    at: number,
  ) => NormalizedEvent[];
  return decode(frame, known.meaning, context, at);
}

function decodeAttlog(frame: AttlogFrame, context: DecodeContext): NormalizedEvent[] {
  // An attendance record is a verification the terminal accepted (it drives its door lock on it, where wired).
  return [
    event('access.granted', Date.parse(frame.time), {
      credentialType: verifyModes[frame.verify] ?? 'other',
      ...credential(frame, context),
      punch: punchStates[frame.status] ?? 'other',
    }),
  ];
}

const operlogDecoders: {
  [Kind in OperlogMeaning['kind']]: (
    meaning: Extract<OperlogMeaning, { kind: Kind }>,
    at: number,
  ) => NormalizedEvent[];
} = {
  tamper: (_meaning, at) => [event('device.tamper', at, { source: 'enclosure' })],
  forced_open: (_meaning, at) => [event('door.forced_open', at, {})],
  duress: (_meaning, at) => [event('access.duress', at, {})],
  denied: (meaning, at) => [event('access.denied', at, { reason: meaning.reason })],
  door_opened: (_meaning, at) => [event('door.opened', at, {})],
  door_closed: (_meaning, at) => [event('door.closed', at, {})],
  exit_button: (_meaning, at) => [event('door.exit_button', at, {})],
  device_started: (_meaning, at) => [event('device.started', at, {})],
  informational: () => [],
};

function decodeOperlog(frame: OperlogFrame): NormalizedEvent[] {
  const known =
    frame.op === operlogAlarmOperation
      ? operlogAlarmReasons[frame.reason ?? -1]
      : operlogOperations[frame.op];
  // Operation logs are mostly administration (enrolments, menu use): what the tables do not name raises nothing.
  if (known === undefined) return [];
  const decode = operlogDecoders[known.meaning.kind] as (
    meaning: OperlogMeaning,
    at: number,
  ) => NormalizedEvent[];
  return decode(known.meaning, Date.parse(frame.time));
}

const tableDecoders: {
  [Table in EventFrame['table']]: (
    frame: Extract<EventFrame, { table: Table }>,
    context: DecodeContext,
  ) => NormalizedEvent[];
} = {
  rtlog: decodeRtlog,
  ATTLOG: decodeAttlog,
  OPERLOG: decodeOperlog,
};

/** A byte of a CONTROL DEVICE operand: two hex digits (255, normally open, is `FF`). */
const hexByte = (value: number): string => value.toString(16).toUpperCase().padStart(2, '0');

const accessAttributes = ['door', 'direction', 'credentialType', 'credential', 'code'];

export const zktecoAdms: DeviceAdapter = {
  id: 'zkteco-adms',
  transport: 'zkteco-adms',
  vendor: 'ZKTeco',
  models: [
    'Access terminals and panels with Security PUSH (SpeedFace, ProFace, inBio Pro, C3 Pro)',
    'Attendance terminals with Attendance PUSH / ADMS (SenseFace, MB, K, uFace, F22)',
  ],
  description:
    'ZKTeco terminals over ADMS (iclock HTTP push): access granted and denied with the reason, anti-passback, ' +
    'duress, door forced and held open, door sensor, exit button, tamper, auxiliary inputs; remote door open.',
  events: {
    'access.granted': {
      description: 'A credential opened a door (rtlog), or the terminal accepted a punch (ATTLOG).',
      attributes: [...accessAttributes, 'punch'],
    },
    'access.denied': {
      description:
        'A credential was refused, with the reason (unknown_credential, expired, out_of_schedule, …).',
      attributes: [...accessAttributes, 'reason'],
    },
    'access.anti_passback': {
      description: 'A credential was refused for passing back (used twice in one direction).',
      attributes: ['door', 'direction', 'credentialType', 'credential'],
    },
    'access.duress': {
      description: 'A door was opened with a duress password or finger: the person is under threat.',
      attributes: ['door', 'method'],
    },
    'access.unmapped_event': {
      description: 'An rtlog event code this adapter does not know, kept by its number.',
      attributes: ['code', 'door'],
    },
    'door.forced_open': {
      description: 'A door opened without a verification or exit request ("opened accidentally").',
      attributes: ['door'],
    },
    'door.held_open': { description: 'A door stayed open past its sensor delay.', attributes: ['door'] },
    'door.remote_opened': {
      description: 'A door was opened (or set normally open) by a remote command.',
      attributes: ['door', 'code'],
    },
    'door.opened': { description: "A door's sensor saw it open.", attributes: ['door'] },
    'door.closed': { description: "A door's sensor saw it close.", attributes: ['door'] },
    'door.exit_button': { description: 'The exit button released a door.', attributes: ['door'] },
    'device.started': { description: 'The terminal started (a power cycle or a reboot).', attributes: [] },
    'device.tamper': {
      description: "The terminal's enclosure was opened or torn off.",
      attributes: ['source'],
    },
    'alarm.input': {
      description: 'An auxiliary input (often a tamper loop or an alarm contact) opened or shorted.',
      attributes: ['input', 'state'],
    },
  },
  channels: {
    events: frameDecoder({
      schema: eventFrame,
      decode: (frame, context) =>
        (tableDecoders[frame.table] as (frame: EventFrame, context: DecodeContext) => NormalizedEvent[])(
          frame,
          context,
        ),
    }),
    heartbeat: frameDecoder({ schema: rtstateFrame, decode: () => [] }),
  },
  commands: {
    open_door: commandDefinition({
      description:
        'Opens a door of an access terminal or panel for a few seconds (CONTROL DEVICE 01 <door> 01 <seconds>), ' +
        "on the terminal's next poll.",
      params: z.strictObject({
        door: z.number().int().min(1).max(4).default(1),
        seconds: z.number().int().min(1).max(254).default(5).describe('How long the lock stays released.'),
      }),
      encode: (params, requestId) => ({
        requestId,
        command: `CONTROL DEVICE 01${hexByte(params.door)}01${hexByte(params.seconds)}`,
      }),
    }),
    ac_unlock: commandDefinition({
      description: "Releases an attendance terminal's door lock (AC_UNLOCK), on its next poll.",
      params: z.strictObject({}),
      encode: (_params, requestId) => ({ requestId, command: 'AC_UNLOCK' }),
    }),
    cancel_alarm: commandDefinition({
      description: "Cancels an access terminal's alarms (CONTROL DEVICE 02000000), on its next poll.",
      params: z.strictObject({}),
      encode: (_params, requestId) => ({ requestId, command: 'CONTROL DEVICE 02000000' }),
    }),
  },
  replies: replyDecoder({
    schema: replyFrame,
    decode: (raw) => ({
      requestId: raw.requestId,
      ok: raw.return === 0,
      ...(raw.return === 0
        ? {}
        : { error: `${commandReturns[raw.return] ?? 'failed'} (Return=${raw.return}, CMD=${raw.cmd})` }),
    }),
  }),
  // The terminal's getrequest poll (every Delay seconds, 2 as the hub configures it) proves it alive.
  liveness: { heartbeatSeconds: 2, offlineAfterSeconds: 30 },
};
