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
 * Gate and door access controllers (门禁) and the vehicle lanes of a compound's entry-exit system: one controller
 * drives one or more doors, each with a card, PIN, QR or face reader, and optionally plate-reading vehicle lanes
 * with barriers. It publishes one JSON frame per event on `<base>/devices/<id>/events`, a state frame on
 * `.../heartbeat`, takes `UNLOCK` on `.../commands` and answers on `.../replies`.
 * See README.md beside this file for the wire format.
 */

const envelope = {
  seq: z.number().int().nonnegative().max(0xffff_ffff).describe("Controller's event counter; wraps at 2^32."),
  // Bounded: with seq it names the event, in a key the store keeps (any fraction of a second fits in 40).
  time: z.iso.datetime({ offset: true }).max(maxEnvelopeTimeLength).describe("Controller's clock, ISO 8601."),
};
const door = z.number().int().min(1).max(64).describe('Door number on this controller.');

const credential = z.strictObject({
  type: z.enum(['card', 'pin', 'qr', 'face']),
  number: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe("Card number: a resident's identifier, minimised on decode."),
});
const blacklistedCredential = z.strictObject({
  type: z.enum(['card', 'plate', 'face']),
  number: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe("Card number, plate or face-library id: a resident's identifier, minimised on decode."),
});
const direction = z.enum(['in', 'out']);
const lane = z.number().int().min(1).max(16).describe('Vehicle lane number on this controller.');
const plate = z
  .string()
  .min(1)
  .max(16)
  .describe("Licence plate as read by the lane camera: a resident's identifier, minimised on decode.");
const barrier = z
  .enum(['opened', 'held'])
  .describe(
    'opened: the barrier lifted for the vehicle; held: it stayed down (unregistered, awaiting a guard).',
  );

const frameSchema = z.discriminatedUnion('event', [
  z.strictObject({ ...envelope, event: z.literal('ACCESS_GRANTED'), door, direction, credential }),
  z.strictObject({
    ...envelope,
    event: z.literal('ACCESS_DENIED'),
    door,
    direction,
    credential,
    reason: z.enum(['UNKNOWN_CREDENTIAL', 'EXPIRED', 'OUT_OF_SCHEDULE', 'DISABLED']),
  }),
  z.strictObject({ ...envelope, event: z.literal('DOOR_FORCED_OPEN'), door }),
  z.strictObject({
    ...envelope,
    event: z.literal('DOOR_HELD_OPEN'),
    door,
    heldSeconds: z.number().int().nonnegative().max(86_400),
  }),
  z.strictObject({
    ...envelope,
    event: z.literal('TAMPER'),
    source: z.enum(['enclosure', 'reader', 'wiring']),
  }),
  z.strictObject({ ...envelope, event: z.literal('ANTI_PASSBACK'), door, direction, credential }),
  z.strictObject({
    ...envelope,
    event: z.literal('TAILGATING'),
    door,
    direction,
    followers: z.number().int().min(1).describe('People who passed behind the one credential.'),
  }),
  z.strictObject({
    ...envelope,
    event: z.literal('BLACKLIST_MATCH'),
    door,
    credential: blacklistedCredential,
  }),
  z.strictObject({ ...envelope, event: z.literal('VEHICLE_ENTRY'), lane, plate, barrier }),
  z.strictObject({ ...envelope, event: z.literal('VEHICLE_EXIT'), lane, plate, barrier }),
]);

/** The controller's periodic state: it proves the controller alive and carries nothing to act on. */
const heartbeatSchema = z.strictObject({
  ...envelope,
  uptimeSeconds: z.number().int().nonnegative().describe('Seconds since the controller booted.'),
  doors: z
    .array(z.strictObject({ door, closed: z.boolean(), locked: z.boolean() }))
    .max(64)
    .describe("Each door's contact and lock."),
});

const replySchema = z.strictObject({
  requestId: z.string().min(1).max(64),
  result: z.enum(['OK', 'ERROR']),
  message: z.string().max(200).optional().describe('Why the controller refused, in its own words.'),
});

type GateFrame = z.infer<typeof frameSchema>;
type FrameOf<Name extends GateFrame['event']> = Extract<GateFrame, { event: Name }>;

/** The minimised identifier, or nothing when the frame carries none or the policy drops it. */
function identifierAttribute(
  name: string,
  value: string | undefined,
  context: DecodeContext,
): Record<string, AttributeValue> {
  const minimised = value === undefined ? undefined : context.identifiers.minimise(value);
  return minimised === undefined ? {} : { [name]: minimised };
}

function credentialAttributes(
  frame: FrameOf<'ACCESS_GRANTED' | 'ACCESS_DENIED' | 'ANTI_PASSBACK'>,
  context: DecodeContext,
): Record<string, AttributeValue> {
  return {
    door: frame.door,
    direction: frame.direction,
    credentialType: frame.credential.type,
    ...identifierAttribute('credential', frame.credential.number, context),
  };
}

function vehicleAttributes(
  frame: FrameOf<'VEHICLE_ENTRY' | 'VEHICLE_EXIT'>,
  context: DecodeContext,
): Record<string, AttributeValue> {
  return { lane: frame.lane, ...identifierAttribute('plate', frame.plate, context), barrier: frame.barrier };
}

/** One small named decoder per controller event, as zigbee-herdsman-converters' fromZigbee converters. */
const decoders: {
  [Name in GateFrame['event']]: (frame: FrameOf<Name>, context: DecodeContext) => NormalizedEvent;
} = {
  ACCESS_GRANTED: (frame, context) => ({
    type: 'access.granted',
    occurredAt: Date.parse(frame.time),
    attributes: credentialAttributes(frame, context),
  }),
  ACCESS_DENIED: (frame, context) => ({
    type: 'access.denied',
    occurredAt: Date.parse(frame.time),
    attributes: { ...credentialAttributes(frame, context), reason: frame.reason.toLowerCase() },
  }),
  DOOR_FORCED_OPEN: (frame) => ({
    type: 'door.forced_open',
    occurredAt: Date.parse(frame.time),
    attributes: { door: frame.door },
  }),
  DOOR_HELD_OPEN: (frame) => ({
    type: 'door.held_open',
    occurredAt: Date.parse(frame.time),
    attributes: { door: frame.door, heldSeconds: frame.heldSeconds },
  }),
  TAMPER: (frame) => ({
    type: 'device.tamper',
    occurredAt: Date.parse(frame.time),
    attributes: { source: frame.source },
  }),
  ANTI_PASSBACK: (frame, context) => ({
    type: 'access.anti_passback',
    occurredAt: Date.parse(frame.time),
    attributes: credentialAttributes(frame, context),
  }),
  TAILGATING: (frame) => ({
    type: 'access.tailgating',
    occurredAt: Date.parse(frame.time),
    attributes: { door: frame.door, direction: frame.direction, followers: frame.followers },
  }),
  BLACKLIST_MATCH: (frame, context) => ({
    type: 'access.blacklisted',
    occurredAt: Date.parse(frame.time),
    attributes: {
      door: frame.door,
      credentialType: frame.credential.type,
      ...identifierAttribute('credential', frame.credential.number, context),
    },
  }),
  VEHICLE_ENTRY: (frame, context) => ({
    type: 'vehicle.entry',
    occurredAt: Date.parse(frame.time),
    attributes: vehicleAttributes(frame, context),
  }),
  VEHICLE_EXIT: (frame, context) => ({
    type: 'vehicle.exit',
    occurredAt: Date.parse(frame.time),
    attributes: vehicleAttributes(frame, context),
  }),
};

export const gateAccess: DeviceAdapter = {
  id: 'gate-access',
  vendor: 'Generic',
  models: ['ACS-JSON v1 door controller'],
  description:
    'Gate and door access controllers with vehicle lanes: access granted, denied, anti-passback, tailgating and ' +
    'blacklist matches, door forced or held open, vehicles in and out, tamper; remote unlock.',
  events: {
    'access.granted': {
      description: 'A credential opened a door.',
      attributes: ['door', 'direction', 'credentialType', 'credential'],
    },
    'access.denied': {
      description: 'A credential was refused.',
      attributes: ['door', 'direction', 'credentialType', 'credential', 'reason'],
    },
    'access.anti_passback': {
      description:
        'A credential was used twice in one direction without passing the other way (passed back).',
      attributes: ['door', 'direction', 'credentialType', 'credential'],
    },
    'access.tailgating': {
      description: 'More people passed a door than the one credential let through.',
      attributes: ['door', 'direction', 'followers'],
    },
    'access.blacklisted': {
      description: 'A blacklisted card, plate or face was presented.',
      attributes: ['door', 'credentialType', 'credential'],
    },
    'vehicle.entry': {
      description: 'A vehicle came in through a lane.',
      attributes: ['lane', 'plate', 'barrier'],
    },
    'vehicle.exit': {
      description: 'A vehicle went out through a lane.',
      attributes: ['lane', 'plate', 'barrier'],
    },
    'door.forced_open': {
      description: 'A door opened without a valid credential or exit request.',
      attributes: ['door'],
    },
    'door.held_open': {
      description: 'A door stayed open past its limit.',
      attributes: ['door', 'heldSeconds'],
    },
    'device.tamper': {
      description: "The controller's enclosure, reader or wiring was tampered with.",
      attributes: ['source'],
    },
  },
  channels: {
    events: frameDecoder({
      schema: frameSchema,
      decode: (frame, context) => [
        (decoders[frame.event] as (f: GateFrame, c: DecodeContext) => NormalizedEvent)(frame, context),
      ],
    }),
    heartbeat: frameDecoder({ schema: heartbeatSchema, decode: () => [] }),
  },
  commands: {
    unlock: commandDefinition({
      description: 'Unlocks a door for a few seconds, as a guard pressing the release button would.',
      params: z.strictObject({
        door,
        seconds: z.number().int().min(1).max(60).default(5).describe('How long the door stays unlocked.'),
      }),
      encode: (params, requestId) => ({
        cmd: 'UNLOCK',
        requestId,
        door: params.door,
        seconds: params.seconds,
      }),
    }),
  },
  replies: replyDecoder({
    schema: replySchema,
    decode: (raw) => ({
      requestId: raw.requestId,
      ok: raw.result === 'OK',
      ...(raw.result === 'ERROR' && raw.message !== undefined ? { error: raw.message } : {}),
    }),
  }),
  liveness: { heartbeatSeconds: 30, offlineAfterSeconds: 90 },
};
