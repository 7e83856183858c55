import { z } from 'zod';
import {
  commandDefinition,
  type DecodeContext,
  type DeviceAdapter,
  frameDecoder,
  replyDecoder,
} from '../../src/core/adapter.ts';
import { maxEnvelopeTimeLength, type NormalizedEvent } from '../../src/core/device-event.ts';

/**
 * Sentry box alarm panels (治安岗亭): the panel of a 24-hour guard post, with a panic button (and a duress code),
 * intrusion zones, arming, tamper switches, mains power with a backup battery, and a duty check-in the guard
 * performs periodically. It publishes one JSON frame per event on `<base>/devices/<id>/events`, its state on
 * `.../heartbeat`, takes ARM, DISARM and SILENCE on `.../commands` and answers on `.../replies`.
 * See README.md beside this file for the wire format.
 */

const envelope = {
  seq: z.number().int().nonnegative().max(0xffff_ffff).describe("Panel's event counter; wraps at 2^32."),
  // Bounded: with seq it names the event, in a key the store keeps (any fraction of a second fits in 40).
  time: z.iso.datetime({ offset: true }).max(maxEnvelopeTimeLength).describe("Panel's clock, ISO 8601."),
};
const percent = z.number().int().min(0).max(100).describe('Backup battery charge, in percent.');
const armedBy = {
  by: z.enum(['keypad', 'remote', 'schedule']),
  user: z
    .string()
    .min(1)
    .max(16)
    .optional()
    .describe('Operator code typed at the keypad: a secret, never decoded.'),
};

const frameSchema = z.discriminatedUnion('event', [
  z.strictObject({
    ...envelope,
    event: z.literal('PANIC'),
    duress: z.boolean().describe('True when raised by the duress code: a silent alarm.'),
  }),
  z.strictObject({
    ...envelope,
    event: z.literal('ZONE_ALARM'),
    zone: z.number().int().min(1).max(32).describe('Zone number on this panel.'),
    zoneType: z.enum(['door', 'window', 'pir', 'fence', 'glass']),
  }),
  z.strictObject({ ...envelope, event: z.literal('ARMED'), ...armedBy }),
  z.strictObject({ ...envelope, event: z.literal('DISARMED'), ...armedBy }),
  z.strictObject({ ...envelope, event: z.literal('TAMPER'), source: z.enum(['enclosure', 'siren', 'zone']) }),
  z.strictObject({ ...envelope, event: z.literal('MAINS_LOST') }),
  z.strictObject({ ...envelope, event: z.literal('MAINS_RESTORED') }),
  z.strictObject({ ...envelope, event: z.literal('BATTERY_LOW'), percent }),
  z.strictObject({ ...envelope, event: z.literal('BATTERY_OK'), percent }),
  z.strictObject({
    ...envelope,
    event: z.literal('CHECK_IN'),
    guard: z.string().min(1).max(32).describe("The guard's staff badge id (staff, not a resident)."),
  }),
]);

const heartbeatSchema = z.strictObject({
  ...envelope,
  armed: z.boolean(),
  mains: z.boolean().describe('True while on mains power.'),
  batteryPercent: percent,
  siren: z.boolean().describe('True while the siren sounds.'),
});

const replySchema = z.strictObject({
  requestId: z.string().min(1).max(64),
  status: z.enum(['done', 'refused']),
  reason: z.string().max(200).optional().describe('Why the panel refused, in its own words.'),
});

type SentryFrame = z.infer<typeof frameSchema>;
type FrameOf<Name extends SentryFrame['event']> = Extract<SentryFrame, { event: Name }>;

/** A panel command takes no parameters: the panel knows what arming means. */
const noParams = z.strictObject({});

const decoders: {
  [Name in SentryFrame['event']]: (frame: FrameOf<Name>, context: DecodeContext) => NormalizedEvent;
} = {
  PANIC: (frame) => ({
    type: 'alarm.panic',
    occurredAt: Date.parse(frame.time),
    attributes: { duress: frame.duress },
  }),
  ZONE_ALARM: (frame) => ({
    type: 'alarm.intrusion',
    occurredAt: Date.parse(frame.time),
    attributes: { zone: frame.zone, zoneType: frame.zoneType },
  }),
  // The operator code is a secret of the post: it is validated and dropped, never an attribute.
  ARMED: (frame) => ({
    type: 'panel.armed',
    occurredAt: Date.parse(frame.time),
    attributes: { by: frame.by },
  }),
  DISARMED: (frame) => ({
    type: 'panel.disarmed',
    occurredAt: Date.parse(frame.time),
    attributes: { by: frame.by },
  }),
  TAMPER: (frame) => ({
    type: 'device.tamper',
    occurredAt: Date.parse(frame.time),
    attributes: { source: frame.source },
  }),
  MAINS_LOST: (frame) => ({ type: 'power.mains_lost', occurredAt: Date.parse(frame.time), attributes: {} }),
  MAINS_RESTORED: (frame) => ({
    type: 'power.mains_restored',
    occurredAt: Date.parse(frame.time),
    attributes: {},
  }),
  BATTERY_LOW: (frame) => ({
    type: 'power.battery_low',
    occurredAt: Date.parse(frame.time),
    attributes: { percent: frame.percent },
  }),
  BATTERY_OK: (frame) => ({
    type: 'power.battery_ok',
    occurredAt: Date.parse(frame.time),
    attributes: { percent: frame.percent },
  }),
  // A badge id names a member of staff on duty, not a resident: it is kept, so a missed round has a name.
  CHECK_IN: (frame) => ({
    type: 'guard.check_in',
    occurredAt: Date.parse(frame.time),
    attributes: { guard: frame.guard },
  }),
};

export const sentryBox: DeviceAdapter = {
  id: 'sentry-box',
  vendor: 'Generic',
  models: ['SBP-JSON v1 sentry box panel'],
  description:
    'Sentry box alarm panels (治安岗亭): panic and duress, intrusion zones, arming, tamper, mains and battery, ' +
    "the guard's duty check-in; remote arm, disarm and siren silence.",
  events: {
    'alarm.panic': {
      description: 'The panic button was pressed, or the duress code entered (duress: a silent alarm).',
      attributes: ['duress'],
    },
    'alarm.intrusion': {
      description: 'An intrusion zone went into alarm.',
      attributes: ['zone', 'zoneType'],
    },
    'panel.armed': { description: 'The panel was armed.', attributes: ['by'] },
    'panel.disarmed': { description: 'The panel was disarmed.', attributes: ['by'] },
    'device.tamper': {
      description: "The panel's enclosure, its siren or a zone's wiring was tampered with.",
      attributes: ['source'],
    },
    'power.mains_lost': { description: 'Mains power failed; the panel runs on its battery.', attributes: [] },
    'power.mains_restored': { description: 'Mains power came back.', attributes: [] },
    'power.battery_low': { description: 'The backup battery is low.', attributes: ['percent'] },
    'power.battery_ok': { description: 'The backup battery recovered.', attributes: ['percent'] },
    'guard.check_in': {
      description: 'The guard on duty checked in at the panel.',
      attributes: ['guard'],
    },
    'guard.check_in_missed': {
      description: 'The guard missed a duty check-in.',
      attributes: ['overdueSeconds'],
    },
  },
  channels: {
    events: frameDecoder({
      schema: frameSchema,
      decode: (frame, context) => [
        (decoders[frame.event] as (f: SentryFrame, c: DecodeContext) => NormalizedEvent)(frame, context),
      ],
    }),
    heartbeat: frameDecoder({ schema: heartbeatSchema, decode: () => [] }),
  },
  commands: {
    arm: commandDefinition({
      description: 'Arms the panel.',
      params: noParams,
      encode: (_params, requestId) => ({ op: 'ARM', requestId }),
    }),
    disarm: commandDefinition({
      description: 'Disarms the panel (and stops its siren).',
      params: noParams,
      encode: (_params, requestId) => ({ op: 'DISARM', requestId }),
    }),
    silence_siren: commandDefinition({
      description: 'Stops the siren without changing the arming state.',
      params: noParams,
      encode: (_params, requestId) => ({ op: 'SILENCE', requestId }),
    }),
  },
  replies: replyDecoder({
    schema: replySchema,
    decode: (raw) => ({
      requestId: raw.requestId,
      ok: raw.status === 'done',
      ...(raw.status === 'refused' && raw.reason !== undefined ? { error: raw.reason } : {}),
    }),
  }),
  liveness: { heartbeatSeconds: 30, offlineAfterSeconds: 90 },
  // A missed check-in is an alarm in itself: the hub raises it when no CHECK_IN came for half an hour.
  watchdogs: [{ resetBy: 'guard.check_in', raises: 'guard.check_in_missed', defaultSeconds: 1800 }],
};
