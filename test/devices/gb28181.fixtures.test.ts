import { describe, expect, it } from 'vitest';
import { alarmTypes, meaningOfAlarm } from '../../devices/gb28181/alarm-codes.ts';
import { gb28181 } from '../../devices/gb28181/index.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import {
  manscdpTime,
  readAlarm,
  readCatalogResponse,
  readDeviceInfo,
  readDeviceStatus,
  readKeepalive,
  readManscdp,
  readResult,
  writeManscdp,
} from '../../src/ingest/gb28181/manscdp.ts';
import { checkAdapterFixtures, decodeOn, type FrameFixture } from './adapter-fixtures.ts';
import {
  broadcastResponse,
  cameraDeviceStatus,
  deviceControlResponse,
  gb2312CatalogNames,
  hikvisionCatalog,
  hikvisionDeviceAlarm,
  hikvisionNvrDeviceInfo,
  keepaliveWithFaults,
  reconstructedGb2312Catalog,
  setGuardControl,
  standardCatalogAsExtracted,
  videoMotionAlarm,
} from './gb28181.real-messages.ts';

/**
 * The gb28181 adapter's tables: Alarm frames as the connector writes them from a MANSCDP Alarm notify (the SN, the
 * AlarmTime with its offset, priority, method, Info/AlarmType and AlarmTypeParam/EventType) in, normalized events
 * out, one per code of the 2016 and 2022 tables; and real devices' bodies read by readManscdp and the typed readers.
 */

const time = '2026-12-07T09:30:00+08:00';
const occurredAt = Date.parse(time);
const source = '34020000001320000001';

const alarm = (
  method: number,
  alarmType?: number,
  eventType?: number,
  extra: Record<string, unknown> = {},
) => ({
  seq: 41,
  time,
  cmdType: 'Alarm',
  deviceId: source,
  priority: 2,
  method,
  ...(alarmType === undefined ? {} : { alarmType }),
  ...(eventType === undefined ? {} : { eventType }),
  edition: '2016',
  ...extra,
});

const event = (
  type: string,
  code: string,
  method: number,
  attributes: NormalizedEvent['attributes'] = {},
  alarmType?: number,
  eventType?: number,
): NormalizedEvent[] => [
  {
    type,
    occurredAt,
    attributes: {
      source,
      priority: 2,
      method,
      ...(alarmType === undefined ? {} : { alarmType }),
      ...(eventType === undefined ? {} : { eventType }),
      edition: '2016',
      ...attributes,
      code,
    },
  },
];

const events: readonly FrameFixture[] = [
  { name: '1 phone', raw: alarm(1), expected: event('alarm.panic', '电话报警', 1, { via: 'phone' }) },
  { name: '2 device, no type', raw: alarm(2), expected: event('alarm.input', '设备报警', 2) },
  { name: '3 SMS', raw: alarm(3), expected: event('alarm.panic', '短信报警', 3, { via: 'sms' }) },
  { name: '4 GPS', raw: alarm(4), expected: event('alarm.general', 'GPS报警', 4, { via: 'gps' }) },
  { name: '7 other', raw: alarm(7), expected: event('alarm.general', '其他报警', 7) },
  {
    name: '2/1 video lost',
    raw: alarm(2, 1),
    expected: event('camera.video_lost', '视频丢失报警', 2, {}, 1),
  },
  { name: '2/2 tamper', raw: alarm(2, 2), expected: event('device.tamper', '设备防拆报警', 2, {}, 2) },
  {
    name: '2/3 disk full',
    raw: alarm(2, 3),
    expected: event('storage.failure', '存储设备磁盘满报警', 2, { reason: 'full' }, 3),
  },
  {
    name: '2/4 high temperature',
    raw: alarm(2, 4),
    expected: event('camera.hardware_failure', '设备高温报警', 2, { part: 'temperature', reason: 'high' }, 4),
  },
  {
    name: '5/1 manual video alarm',
    raw: alarm(5, 1),
    expected: event('alarm.general', '人工视频报警', 5, { via: 'manual_video' }, 1),
  },
  { name: '5/2 motion', raw: alarm(5, 2), expected: event('camera.motion', '运动目标检测报警', 5, {}, 2) },
  {
    name: '5/3 left object',
    raw: alarm(5, 3),
    expected: event('camera.object_left', '遗留物检测报警', 5, {}, 3),
  },
  {
    name: '5/4 removed object',
    raw: alarm(5, 4),
    expected: event('camera.object_removed', '物体移除检测报警', 5, {}, 4),
  },
  {
    name: '5/5 tripwire',
    raw: alarm(5, 5),
    expected: event('camera.line_crossed', '绊线检测报警', 5, {}, 5),
  },
  { name: '5/6 intrusion', raw: alarm(5, 6), expected: event('camera.intrusion', '入侵检测报警', 5, {}, 6) },
  {
    name: '5/6 intrusion, EventType 1 entered',
    raw: alarm(5, 6, 1),
    expected: event('camera.region_entered', '进入区域', 5, {}, 6, 1),
  },
  {
    name: '5/6 intrusion, EventType 2 left',
    raw: alarm(5, 6, 2),
    expected: event('camera.region_exited', '离开区域', 5, {}, 6, 2),
  },
  {
    name: '5/7 retrograde',
    raw: alarm(5, 7),
    expected: event('camera.wrong_direction', '逆行检测报警', 5, {}, 7),
  },
  { name: '5/8 loitering', raw: alarm(5, 8), expected: event('camera.loitering', '徘徊检测报警', 5, {}, 8) },
  {
    name: '5/9 flow count',
    raw: alarm(5, 9),
    expected: event('camera.crowd_flow', '流量统计报警', 5, {}, 9),
  },
  {
    name: '5/10 density',
    raw: alarm(5, 10),
    expected: event('camera.crowd_density', '密度检测报警', 5, {}, 10),
  },
  {
    name: '5/11 video abnormal',
    raw: alarm(5, 11),
    expected: event('camera.video_abnormal', '视频异常检测报警', 5, {}, 11),
  },
  {
    name: '5/12 fast moving',
    raw: alarm(5, 12),
    expected: event('camera.fast_moving', '快速移动报警', 5, {}, 12),
  },
  {
    name: '5/13 image occlusion (2022)',
    raw: { ...alarm(5, 13), edition: '2022' },
    expected: [
      {
        type: 'camera.tamper',
        occurredAt,
        attributes: { source, priority: 2, method: 5, alarmType: 13, edition: '2022', code: '图像遮挡报警' },
      },
    ],
  },
  {
    name: '6/1 disk fault',
    raw: alarm(6, 1),
    expected: event('storage.failure', '存储设备磁盘故障报警', 6, { reason: 'error' }, 1),
  },
  {
    name: '6/2 fan fault',
    raw: alarm(6, 2),
    expected: event('camera.hardware_failure', '存储设备风扇故障报警', 6, { part: 'fan' }, 2),
  },
  {
    name: 'a video alarm with description and position',
    raw: alarm(5, 2, undefined, { description: ' 视频动检 ', longitude: 117.2272, latitude: 31.8206 }),
    expected: event(
      'camera.motion',
      '运动目标检测报警',
      5,
      { description: '视频动检', longitude: 117.2272, latitude: 31.8206 },
      2,
    ),
  },
  {
    name: 'an unknown method (a vendor extension) is a general alarm',
    raw: alarm(9),
    expected: event('alarm.general', '未知报警方式', 9),
  },
];

const keepalive = { seq: 2034, time, cmdType: 'Keepalive', status: 'OK' };

checkAdapterFixtures(gb28181, {
  events,
  eventsMalformed: [
    { name: 'with a short device id', raw: { ...alarm(2), deviceId: '3402000000132' }, path: ['deviceId'] },
    { name: 'with priority 5', raw: { ...alarm(2), priority: 5 }, path: ['priority'] },
    { name: 'with a time without offset', raw: { ...alarm(2), time: '2017-07-19T10:19:14' }, path: ['time'] },
    {
      name: 'with a long description',
      raw: { ...alarm(2), description: 'x'.repeat(257) },
      path: ['description'],
    },
    { name: 'with an unknown field', raw: { ...alarm(2), channel: 3 }, path: [] },
    { name: 'with an SN past 2^31', raw: { ...alarm(2), seq: 2 ** 31 }, path: ['seq'] },
  ],
  heartbeat: [
    { name: 'Keepalive OK', raw: keepalive, expected: [] },
    {
      name: 'Keepalive ERROR with faulty channels',
      raw: { ...keepalive, status: 'ERROR', faults: ['34020000001320000002'] },
      expected: [],
    },
    {
      name: 'DeviceStatus',
      raw: {
        seq: 3,
        time,
        cmdType: 'DeviceStatus',
        online: true,
        status: 'OK',
        record: true,
        encode: true,
        alarmStatus: [{ deviceId: '34020000001340000001', status: 'ONDUTY' }],
      },
      expected: [],
    },
    { name: 'ChannelStatus ON', raw: { seq: 4, time, cmdType: 'ChannelStatus', status: 'ON' }, expected: [] },
  ],
  heartbeatMalformed: [
    { name: 'Keepalive with status ON', raw: { ...keepalive, status: 'ON' }, path: ['status'] },
    { name: 'unknown cmdType', raw: { ...keepalive, cmdType: 'MediaStatus' }, path: ['cmdType'] },
    {
      name: 'Keepalive with 65 faults',
      raw: { ...keepalive, faults: Array.from({ length: 65 }, () => source) },
      path: ['faults'],
    },
  ],
  commands: [
    {
      name: 'guard on',
      command: 'guard',
      params: { on: true },
      requestId: 'r1',
      expected: { requestId: 'r1', cmdType: 'DeviceControl', fields: { GuardCmd: 'SetGuard' } },
    },
    {
      name: 'guard off',
      command: 'guard',
      params: { on: false },
      requestId: 'r2',
      expected: { requestId: 'r2', cmdType: 'DeviceControl', fields: { GuardCmd: 'ResetGuard' } },
    },
    {
      name: 'resetAlarm',
      command: 'resetAlarm',
      params: {},
      requestId: 'r3',
      expected: { requestId: 'r3', cmdType: 'DeviceControl', fields: { AlarmCmd: 'ResetAlarm' } },
    },
    {
      name: 'resetAlarm of one method and type (2022)',
      command: 'resetAlarm',
      params: { method: 5, alarmType: 2 },
      requestId: 'r4',
      expected: {
        requestId: 'r4',
        cmdType: 'DeviceControl',
        fields: { AlarmCmd: 'ResetAlarm', Info: { AlarmMethod: 5, AlarmType: 2 } },
      },
    },
    {
      name: 'reboot',
      command: 'reboot',
      params: {},
      requestId: 'r5',
      expected: { requestId: 'r5', cmdType: 'DeviceControl', fields: { TeleBoot: 'Boot' } },
    },
  ],
  commandsMalformed: [
    { name: 'guard without on', command: 'guard', params: {}, path: ['on'] },
    { name: 'reboot with a parameter', command: 'reboot', params: { delay: 3 }, path: [] },
  ],
  replies: [
    {
      name: 'Result OK',
      raw: { requestId: 'r1', cmdType: 'DeviceControl', result: 'OK' },
      expected: { requestId: 'r1', ok: true, result: { cmdType: 'DeviceControl' } },
    },
    {
      name: 'Result ERROR with a reason',
      raw: { requestId: 'r2', cmdType: 'DeviceControl', result: 'ERROR', reason: 'not supported' },
      expected: { requestId: 'r2', ok: false, error: 'not supported', result: { cmdType: 'DeviceControl' } },
    },
  ],
  repliesMalformed: [
    {
      name: 'Result maybe',
      raw: { requestId: 'r1', cmdType: 'DeviceControl', result: 'MAYBE' },
      path: ['result'],
    },
  ],
});

describe('the gb28181 adapter on real devices’ messages', () => {
  it('registers to the hub (not dialled) and allows three missed keepalives', () => {
    expect(gb28181.transport).toBe('gb28181');
    expect(gb28181.liveness).toEqual({ heartbeatSeconds: 60, offlineAfterSeconds: 200 });
  });

  it('reads the DVR keepalive with its faulty channels, declared gb2312 but ASCII', () => {
    const message = readManscdp(keepaliveWithFaults.body, 'Application/MANSCDP+xml');
    expect(message).toMatchObject({ root: 'Notify', cmdType: 'Keepalive', sn: 2034, charset: 'GB18030' });
    const keepalive = readKeepalive(message);
    expect(keepalive.status).toBe('OK');
    expect(keepalive.faults).toHaveLength(6);
    expect(keepalive.faults[0]).toBe('34020000001320000002');
  });

  it("reads Hikvision's device alarm (lower-case cmdType, broken declaration) and decodes it as an alarm input", () => {
    const message = readManscdp(hikvisionDeviceAlarm.body);
    expect(message.cmdType).toBe('Alarm');
    const notify = readAlarm(message);
    // 0.000/0.000 is no position.
    expect(notify).toEqual({
      deviceId: '31010000001340000001',
      sn: 51,
      priority: 4,
      method: 2,
      time: '2017-07-19T10:19:14',
    });
    const frame = {
      seq: notify.sn,
      time: manscdpTime(notify.time as string),
      cmdType: 'Alarm',
      deviceId: notify.deviceId,
      priority: notify.priority,
      method: notify.method,
      edition: '2016',
    };
    expect(decodeOn(gb28181, 'events', frame)).toEqual([
      {
        type: 'alarm.input',
        occurredAt: Date.parse('2017-07-19T02:19:14Z'),
        attributes: {
          source: '31010000001340000001',
          priority: 4,
          method: 2,
          edition: '2016',
          code: '设备报警',
        },
      },
    ]);
  });

  it('reads the video alarm with Info/AlarmType and AlarmTypeParam, and decodes motion', () => {
    const notify = readAlarm(readManscdp(videoMotionAlarm.body));
    expect(notify).toMatchObject({
      priority: 1,
      method: 5,
      alarmType: 2,
      eventType: 1,
      description: '视频动检',
    });
    const meaning = meaningOfAlarm(notify.method, notify.alarmType, notify.eventType);
    // EventType refines intrusion only: motion with an EventType stays motion.
    expect(meaning).toMatchObject({ event: 'camera.motion', known: true });
  });

  it('encodes guard on as the DeviceControl SetGuard the EasyCVR article shows', () => {
    const payload = gb28181.commands.guard?.encode({ on: true }, 'r9') as { fields: Record<string, string> };
    const written = writeManscdp(
      'Control',
      { CmdType: 'DeviceControl', SN: 0, DeviceID: '31010000001340000090', ...payload.fields },
      'UTF-8',
    );
    const ours = readManscdp(written);
    const theirs = readManscdp(setGuardControl.body);
    expect({ ...ours, body: undefined, charset: undefined }).toEqual({
      ...theirs,
      body: undefined,
      charset: undefined,
    });
    expect(ours.body.children.map((element) => [element.name, element.text])).toEqual(
      theirs.body.children.map((element) => [element.name, element.text]),
    );
  });

  it("reads Hikvision's IPC catalog: vendor extras ignored, PTZType from Info, 0.000 position left out", () => {
    const catalog = readCatalogResponse(readManscdp(hikvisionCatalog.body));
    expect(catalog.sumNum).toBe(2);
    expect(catalog.items).toEqual([
      {
        deviceId: '10000100001320000002',
        name: 'IPdome',
        manufacturer: 'Manufacturer',
        model: 'Camera',
        owner: 'Owner',
        civilCode: 'CivilCode',
        address: '192.168.31.143',
        parental: false,
        parentId: '10000100001111111111',
        status: 'ON',
        ptzType: 2,
      },
    ]);
  });

  it('reads the GB2312 catalog page: Chinese names, positions, an OFF alarm input', () => {
    const message = readManscdp(reconstructedGb2312Catalog.body, reconstructedGb2312Catalog.contentType);
    expect(message.charset).toBe('GB18030');
    const catalog = readCatalogResponse(message);
    expect(catalog.sumNum).toBe(4);
    expect(catalog.items.map((item) => item.name)).toEqual([...gb2312CatalogNames]);
    expect(catalog.items[0]).toMatchObject({ longitude: 117.2272, latitude: 31.8206, status: 'ON' });
    expect(catalog.items[1]).toMatchObject({ deviceId: '34020000001340000001', status: 'OFF' });
    expect(catalog.items[1]?.longitude).toBeUndefined();
  });

  it("reads the standard's PDF-extracted example as the devices' lenient parsers do", () => {
    const catalog = readCatalogResponse(readManscdp(standardCatalogAsExtracted.body));
    expect(catalog).toMatchObject({ deviceId: '64010000001110000001', sn: 17430, sumNum: 100 });
    expect(catalog.items).toEqual([{ deviceId: '64010000001330000001', name: 'Camera1' }]);
  });

  it("reads the Hikvision NVR's DeviceInfo", () => {
    expect(readDeviceInfo(readManscdp(hikvisionNvrDeviceInfo.body))).toEqual({
      deviceId: '34020000001110000005',
      sn: 1676965736,
      result: 'OK',
      deviceName: 'Network Video Recorder',
      deviceType: 'DVR',
      manufacturer: 'HIKVISION',
      model: 'DS-7916N-R4',
      firmware: 'V4.72.107',
      maxCamera: 16,
      maxAlarm: 16,
    });
  });

  it("reads the camera's DeviceStatus", () => {
    expect(readDeviceStatus(readManscdp(cameraDeviceStatus.body))).toEqual({
      deviceId: '34020000001320000041',
      sn: 1676968400,
      result: 'OK',
      online: true,
      status: 'OK',
      encode: true,
      record: true,
      alarmStatus: [],
    });
  });

  it('reads Result-only responses: DeviceControl and a standalone GB2312 Broadcast', () => {
    expect(readResult(readManscdp(deviceControlResponse.body))).toEqual({
      deviceId: '34020000001340000001',
      sn: 11,
      cmdType: 'DeviceControl',
      result: 'OK',
    });
    expect(readResult(readManscdp(broadcastResponse.body))).toMatchObject({
      cmdType: 'Broadcast',
      result: 'OK',
    });
  });

  it('has a normalized event for every AlarmType of the 2016 and 2022 tables', () => {
    for (const [method, types] of Object.entries(alarmTypes)) {
      for (const alarmType of Object.keys(types)) {
        const meaning = meaningOfAlarm(Number(method), Number(alarmType));
        expect(gb28181.events[meaning.event], `${method}/${alarmType}`).toBeDefined();
      }
    }
  });
});
