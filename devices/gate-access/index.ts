import { z } from 'zod';
import { type DecodeContext, type DeviceAdapter, frameDecoder } from '../../src/core/adapter.ts';
import type { AttributeValue, NormalizedEvent } from '../../src/core/device-event.ts';

/**
 * Gate and door access controllers (门禁): one controller drives one or more doors, each with a card, PIN,
 * QR or face reader. The controller publishes one JSON frame per event on `<base>/devices/<id>/events`.
 * See README.md beside this file for the wire format.
 */

const envelope = {
  seq: z.number().int().nonnegative().describe("Controller's event counter; wraps at 2^32."),
  time: z.iso.datetime({ offset: true }).describe("Controller's clock, ISO 8601."),
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
const direction = z.enum(['in', 'out']);

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
]);

type GateFrame = z.infer<typeof frameSchema>;
type FrameOf<Name extends GateFrame['event']> = Extract<GateFrame, { event: Name }>;

function credentialAttributes(
  frame: FrameOf<'ACCESS_GRANTED' | 'ACCESS_DENIED'>,
  context: DecodeContext,
): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {
    door: frame.door,
    direction: frame.direction,
    credentialType: frame.credential.type,
  };
  const minimised =
    frame.credential.number === undefined ? undefined : context.identifiers.minimise(frame.credential.number);
  if (minimised !== undefined) attributes.credential = minimised;
  return attributes;
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
};

export const gateAccess: DeviceAdapter = {
  id: 'gate-access',
  vendor: 'Generic',
  models: ['ACS-JSON v1 door controller'],
  description:
    'Gate and door access controllers: access granted and denied, door forced or held open, tamper.',
  events: {
    'access.granted': {
      description: 'A credential opened a door.',
      attributes: ['door', 'direction', 'credentialType', 'credential'],
    },
    'access.denied': {
      description: 'A credential was refused.',
      attributes: ['door', 'direction', 'credentialType', 'credential', 'reason'],
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
  },
};
