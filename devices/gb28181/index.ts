import { z } from 'zod';
import {
  commandDefinition,
  type DeviceAdapter,
  type EventDescription,
  frameDecoder,
  replyDecoder,
} from '../../src/core/adapter.ts';
import {
  type AttributeValue,
  maxEnvelopeTimeLength,
  type NormalizedEvent,
} from '../../src/core/device-event.ts';
import { alarmEventTypesDecoded, meaningOfAlarm } from './alarm-codes.ts';

/**
 * GB/T 28181 devices (国标设备): NVRs, DVRs, IP cameras and alarm hosts that register to the hub's SIP server, send
 * Keepalive every minute and raise Alarm notifies. The hub's connector (src/ingest/gb28181/) reads each MANSCDP
 * body and hands this adapter a JSON frame on the device the message concerns (a channel's device when the hub
 * has one, else the registering device): alarms on `events`, keepalives, device status and a channel's catalog
 * status on `heartbeat`. Commands are DeviceControl bodies as data; the connector wraps them in a SIP MESSAGE and
 * hands back the device's Response as a reply. See README.md beside this file.
 */

const nationalCode = z.string().regex(/^\d{20}$/);

const envelope = {
  seq: z.number().int().min(0).max(0x7fff_ffff).describe('The MANSCDP SN of the message.'),
  time: z.iso
    .datetime({ offset: true, local: false })
    .max(maxEnvelopeTimeLength)
    .describe("The device's AlarmTime with its offset (+08:00 by default), else the hub's receipt time."),
};

const eventsSchema = z.strictObject({
  ...envelope,
  cmdType: z.literal('Alarm'),
  deviceId: nationalCode.describe('Who raised it: the device or its channel (a camera, an alarm input).'),
  priority: z.number().int().min(1).max(4).describe('AlarmPriority: 1 一级警情 (most urgent) … 4 四级警情.'),
  method: z
    .number()
    .int()
    .min(1)
    .max(99)
    .describe(
      'AlarmMethod: 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other; later editions may add.',
    ),
  alarmType: z
    .number()
    .int()
    .min(0)
    .max(9999)
    .optional()
    .describe('<Info><AlarmType>: its meaning depends on the method.'),
  eventType: z
    .number()
    .int()
    .min(0)
    .max(9999)
    .optional()
    .describe('<AlarmTypeParam><EventType>: 1 entered, 2 left (intrusion).'),
  description: z.string().max(256).optional().describe("AlarmDescription, the device's words."),
  longitude: z.number().min(-180).max(180).optional(),
  latitude: z.number().min(-90).max(90).optional(),
  edition: z.enum(['2016', '2022']).describe('The edition the device registered with.'),
});

const heartbeatSchema = z.discriminatedUnion('cmdType', [
  z.strictObject({
    ...envelope,
    cmdType: z.literal('Keepalive'),
    status: z.enum(['OK', 'ERROR']),
    faults: z.array(nationalCode).max(64).optional().describe('Channels the device reports faulty.'),
  }),
  z.strictObject({
    ...envelope,
    cmdType: z.literal('DeviceStatus'),
    online: z.boolean(),
    status: z.enum(['OK', 'ERROR']),
    record: z.boolean().optional(),
    encode: z.boolean().optional(),
    alarmStatus: z
      .array(z.strictObject({ deviceId: nationalCode, status: z.enum(['ONDUTY', 'OFFDUTY', 'ALARM']) }))
      .max(256)
      .optional(),
  }),
  z.strictObject({
    ...envelope,
    cmdType: z.literal('ChannelStatus'),
    status: z.enum(['ON', 'OFF']).describe("The channel's Status in its recorder's catalog."),
  }),
]);

/** What the connector hands back for a command: the device's Response, or the hub's words when none came. */
const replySchema = z.strictObject({
  requestId: z.string().min(1).max(64),
  cmdType: z.string().regex(/^[A-Za-z]{1,32}$/),
  result: z.enum(['OK', 'ERROR']),
  reason: z.string().max(256).optional().describe("The Response's Reason, or why there was no Response."),
});

type AlarmFrame = z.infer<typeof eventsSchema>;
type HeartbeatFrame = z.infer<typeof heartbeatSchema>;

function alarmAttributes(
  frame: AlarmFrame,
  meaning: Readonly<Record<string, string>>,
): Record<string, AttributeValue> {
  return {
    source: frame.deviceId,
    priority: frame.priority,
    method: frame.method,
    ...(frame.alarmType === undefined ? {} : { alarmType: frame.alarmType }),
    ...(frame.eventType === undefined ? {} : { eventType: frame.eventType }),
    ...(frame.description === undefined || frame.description.trim() === ''
      ? {}
      : { description: frame.description.trim() }),
    ...(frame.longitude === undefined || frame.latitude === undefined
      ? {}
      : { longitude: frame.longitude, latitude: frame.latitude }),
    edition: frame.edition,
    ...meaning,
  };
}

function decodeAlarm(frame: AlarmFrame): NormalizedEvent[] {
  const meaning = meaningOfAlarm(frame.method, frame.alarmType, frame.eventType);
  return [
    {
      type: meaning.event,
      occurredAt: Date.parse(frame.time),
      attributes: { ...alarmAttributes(frame, meaning.attributes), code: meaning.name },
    },
  ];
}

/**
 * Keepalive, DeviceStatus and a channel's catalog status prove the device (or channel) alive and raise nothing: the
 * hub's liveness watch turns their absence into device.offline. A channel its recorder lists OFF is not alive: the
 * connector sends ChannelStatus for it, and the hub counts the frame, but liveness is the connector's call (it hands
 * the hub a channel's status only while the channel is ON; see README.md).
 */
function decodeHeartbeat(_frame: HeartbeatFrame): NormalizedEvent[] {
  return [];
}

const alarmCommon = [
  'source',
  'priority',
  'method',
  'alarmType',
  'eventType',
  'description',
  'longitude',
  'latitude',
  'edition',
  'code',
];

const descriptions: Readonly<Record<string, string>> = {
  'alarm.panic': 'A call for help reported by phone (电话报警, method 1) or SMS (短信报警, method 3).',
  'alarm.input': 'A device alarm (设备报警, method 2 without a type): an alarm input wired to the device.',
  'alarm.general':
    'A GPS alarm, a video alarm raised by an operator (人工视频报警), another alarm (其他报警) or an unknown method.',
  'camera.video_lost': 'A channel lost its video (视频丢失报警).',
  'device.tamper': 'The device was opened or removed (设备防拆报警).',
  'storage.failure': 'A disk is full (存储设备磁盘满报警, reason full) or failed (磁盘故障, reason error).',
  'camera.hardware_failure':
    'The device overheats or is too cold (part temperature), its fan failed (part fan), or another fault.',
  'camera.motion': 'Motion detection (运动目标检测报警).',
  'camera.object_left': 'An object was left behind (遗留物检测报警).',
  'camera.object_removed': 'An object was taken away (物体移除检测报警).',
  'camera.line_crossed': 'A tripwire was crossed (绊线检测报警).',
  'camera.intrusion': 'Intrusion into a guarded region (入侵检测报警).',
  'camera.region_entered': 'Intrusion detection: an object entered the region (EventType 1).',
  'camera.region_exited': 'Intrusion detection: an object left the region (EventType 2).',
  'camera.wrong_direction': 'Movement against the allowed direction (逆行检测报警).',
  'camera.loitering': 'Someone lingered too long (徘徊检测报警).',
  'camera.crowd_flow': 'The counted flow of people passed its threshold (流量统计报警).',
  'camera.crowd_density': 'The crowd is too dense (密度检测报警).',
  'camera.video_abnormal': 'The image is abnormal: blurred, colour cast, frozen (视频异常检测报警).',
  'camera.fast_moving': 'Something moved fast (快速移动报警).',
  'camera.tamper': 'The image is covered (图像遮挡报警, 2022).',
};

/** Every event an Alarm can decode to, from the tables. */
const gbEvents: Record<string, EventDescription> = (() => {
  const events: Record<string, EventDescription> = {};
  for (const [type, extra] of alarmEventTypesDecoded()) {
    events[type] = {
      description: descriptions[type] ?? `A GB/T 28181 alarm decoded to ${type}.`,
      attributes: [...alarmCommon, ...extra],
    };
  }
  return events;
})();

export const gb28181: DeviceAdapter = {
  id: 'gb28181',
  transport: 'gb28181',
  vendor: 'Generic (GB/T 28181-2016, GB/T 28181-2022)',
  models: [
    'NVRs, DVRs and IP cameras registering over GB/T 28181 (Hikvision, Dahua, Uniview and others)',
    'Alarm hosts and alarm inputs with a national code (type 134)',
  ],
  description:
    'GB/T 28181 devices registered to the hub: device, video and fault alarms (video loss, tamper, disk full or ' +
    'failed, temperature, motion, tripwire, intrusion, left and removed objects, loitering, crowding…) by the ' +
    "standard's AlarmMethod and AlarmType; a channel's catalog status; keepalives; arming, alarm reset and reboot.",
  events: gbEvents,
  channels: {
    events: frameDecoder({ schema: eventsSchema, decode: decodeAlarm }),
    heartbeat: frameDecoder({
      schema: heartbeatSchema,
      decode: decodeHeartbeat,
    }),
  },
  commands: {
    guard: commandDefinition({
      description: 'Arms (SetGuard) or disarms (ResetGuard) the device or channel: DeviceControl GuardCmd.',
      params: z.strictObject({ on: z.boolean().describe('true arms, false disarms.') }),
      encode: (params, requestId) => ({
        requestId,
        cmdType: 'DeviceControl',
        fields: { GuardCmd: params.on ? 'SetGuard' : 'ResetGuard' },
      }),
    }),
    resetAlarm: commandDefinition({
      description:
        'Resets the alarm (DeviceControl AlarmCmd ResetAlarm); in 2022, only the given AlarmMethod and AlarmType.',
      params: z.strictObject({
        method: z.number().int().min(1).max(99).optional().describe('2022: the AlarmMethod to reset.'),
        alarmType: z.number().int().min(0).max(9999).optional().describe('2022: the AlarmType to reset.'),
      }),
      encode: (params, requestId) => ({
        requestId,
        cmdType: 'DeviceControl',
        fields: {
          AlarmCmd: 'ResetAlarm',
          ...(params.method === undefined
            ? {}
            : {
                Info: {
                  AlarmMethod: params.method,
                  ...(params.alarmType === undefined ? {} : { AlarmType: params.alarmType }),
                },
              }),
        },
      }),
    }),
    reboot: commandDefinition({
      description: 'Reboots the device (DeviceControl TeleBoot Boot).',
      params: z.strictObject({}),
      encode: (_params, requestId) => ({ requestId, cmdType: 'DeviceControl', fields: { TeleBoot: 'Boot' } }),
    }),
  },
  replies: replyDecoder({
    schema: replySchema,
    decode: (raw) => ({
      requestId: raw.requestId,
      ok: raw.result === 'OK',
      ...(raw.result === 'OK' ? {} : { error: raw.reason ?? `${raw.cmdType} answered ERROR` }),
      result: { cmdType: raw.cmdType },
    }),
  }),
  // Keepalive every 60 s by default (2016 §9.6); offline after three missed and a margin.
  liveness: { heartbeatSeconds: 60, offlineAfterSeconds: 200 },
};
