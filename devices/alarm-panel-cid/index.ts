import { z } from 'zod';
import { type DeviceAdapter, frameDecoder } from '../../src/core/adapter.ts';
import {
  type AttributeValue,
  maxEnvelopeTimeLength,
  type NormalizedEvent,
} from '../../src/core/device-event.ts';
import { contactIdMeaning, namesUser, readContactId } from './contact-id.ts';
import { alarmPanelEvents, type Meaning, meanings } from './meanings.ts';
import { readSiaDcs, siaDcsCodes, siaNamesUser } from './sia-dcs.ts';

/**
 * Alarm panels reporting over IP with SIA DC-09: sentry-box panels, one-key alarm pillars (一键报警柱), intrusion
 * and fire panels. The hub's SIA DC-09 receiver (src/ingest/sia-dc09/) checks each message's framing, CRC, account,
 * key and timestamp, and hands this adapter one JSON frame per message: Contact ID and SIA DCS messages on
 * `events`, NULL supervision on `heartbeat`. The payload codes are this adapter's knowledge; the framing is the
 * receiver's. See README.md beside this file.
 */

const hexId = (most: number) => z.string().regex(new RegExp(`^[0-9A-F]{1,${most}}$`));

/** What the receiver writes for every message: the DC-09 header, the time that names the message, the data. */
const envelope = {
  seq: z.number().int().min(0).max(9999).describe('The DC-09 sequence number (0001–9999, wrapping).'),
  time: z.iso
    .datetime({ offset: true })
    .max(maxEnvelopeTimeLength)
    .describe(
      "The message's timestamp, or the receiver's clock for one without; a retransmission keeps its first time.",
    ),
  encrypted: z.boolean(),
  account: z.string().regex(/^[0-9A-F]{3,16}$/),
  receiver: hexId(6).optional(),
  line: hexId(6),
  extended: z.array(z.string().max(256)).max(8).describe('x-data blocks, without brackets.'),
  panelTime: z.iso.datetime().optional().describe("The panel's timestamp, when it sent one."),
};

const eventsSchema = z.discriminatedUnion('protocol', [
  z.strictObject({
    ...envelope,
    protocol: z.literal('ADM-CID'),
    data: z
      .string()
      .max(32)
      .refine((data) => readContactId(data) !== undefined, 'not Contact ID: QEEE GG ZZZ'),
  }),
  z.strictObject({
    ...envelope,
    protocol: z.literal('SIA-DCS'),
    data: z
      .string()
      .min(1)
      .max(256)
      .refine((data) => readSiaDcs(data) !== undefined, 'not SIA DCS: N, modifiers, an event code'),
  }),
]);

const heartbeatSchema = z.strictObject({ ...envelope, protocol: z.literal('NULL'), data: z.literal('') });

type EventsFrame = z.infer<typeof eventsSchema>;

/** The event a meaning names for a start or a restoral, with the code's facts. */
function eventOf(
  meaning: Meaning,
  restoral: boolean,
  occurredAt: number,
  attributes: Record<string, AttributeValue>,
): NormalizedEvent {
  const type = restoral && meaning.restored !== undefined ? meaning.restored : meaning.type;
  const facts = restoral ? {} : (meaning.attributes ?? {});
  return { type, occurredAt, attributes: { ...attributes, ...facts } };
}

/** Fields that are present and meaningful: zone and user 0 name the panel itself. */
function present(name: string, value: number | undefined): Record<string, number> {
  return value === undefined || value === 0 ? {} : { [name]: value };
}

const decoders: {
  [P in EventsFrame['protocol']]: (frame: Extract<EventsFrame, { protocol: P }>) => NormalizedEvent[];
} = {
  'ADM-CID': (frame) => {
    const cid = readContactId(frame.data);
    if (cid === undefined) return [];
    let meaning = contactIdMeaning(cid.code);
    // An opening (1) disarms, a closing (3) arms: the qualifier of 4xx is not a restoral.
    if (meaning === meanings.disarmed && cid.qualifier === 3) meaning = meanings.armed;
    const user = namesUser(cid.code);
    const attributes = {
      code: String(cid.code).padStart(3, '0'),
      ...present('partition', cid.partition),
      ...present(user ? 'user' : 'zone', cid.zoneOrUser),
      ...(cid.qualifier === 6 ? { stillPresent: true } : {}),
    };
    return [eventOf(meaning, cid.qualifier === 3 && !user, Date.parse(frame.time), attributes)];
  },
  'SIA-DCS': (frame) =>
    (readSiaDcs(frame.data) ?? []).map((event) => {
      const known = siaDcsCodes[event.code];
      const user = siaNamesUser(event.code);
      const attributes = {
        code: event.code,
        ...present('partition', event.area),
        ...present(user ? 'user' : 'zone', event.address),
        ...(user ? {} : present('user', event.user)),
      };
      return eventOf(
        known?.meaning ?? meanings.report,
        known?.restoral === true,
        Date.parse(frame.time),
        attributes,
      );
    }),
};

export const alarmPanelCid: DeviceAdapter = {
  id: 'alarm-panel-cid',
  transport: 'sia-dc09',
  vendor: 'Generic (ANSI/SIA DC-09)',
  models: [
    'SIA DC-09 alarm panels: Contact ID (ADM-CID) and SIA DCS, plain or AES-128/192/256',
    'One-key alarm pillars (一键报警柱) and sentry-box panels reporting Contact ID over IP',
  ],
  description:
    'Alarm panels over IP (SIA DC-09, TCP or UDP): burglary, fire, panic and duress, medical, environmental and ' +
    'tamper alarms with their restorals, power and system troubles, arming and disarming, test reports; NULL ' +
    'supervision messages keep the panel alive.',
  events: alarmPanelEvents,
  channels: {
    events: frameDecoder({
      schema: eventsSchema,
      decode: (frame) => (decoders[frame.protocol] as (raw: EventsFrame) => NormalizedEvent[])(frame),
    }),
    heartbeat: frameDecoder({ schema: heartbeatSchema, decode: () => [] }),
  },
  commands: {},
  // Panels supervise their link with NULL messages, commonly every 60 s or more often; three missed is silence.
  liveness: { heartbeatSeconds: 60, offlineAfterSeconds: 180 },
};
