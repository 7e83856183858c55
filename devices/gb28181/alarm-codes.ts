/**
 * GB/T 28181 alarm codes, both directions, as data.
 *
 * An Alarm notify (A.2.5.4 in 2016) carries AlarmPriority (1 一级警情 … 4 四级警情, 1 the most urgent), AlarmMethod
 * (1 电话报警 phone, 2 设备报警 device, 3 短信报警 SMS, 4 GPS报警, 5 视频报警 video, 6 设备故障报警 device fault,
 * 7 其他报警 other; 0 means "all" in queries only) and, inside <Info>, an AlarmType whose meaning depends on the method,
 * with an optional <AlarmTypeParam><EventType> (for intrusion: 1 entered the region, 2 left it).
 *
 * The tables were checked against several independent public copies of the standard's text (see
 * devices/gb28181/README.md, "Sources"): wvp-GB28181-pro's DeviceAlarm entity and reset_alarm API, Tencent Cloud's
 * ISS SDK alarm dictionary, and vendors' and platforms' published 2016/2022 tables. 2022 adds AlarmType 13 图像遮挡
 * (image occlusion) to the video method and lets AlarmCmd ResetAlarm name the method and type it resets.
 *
 * Inbound: (method, type, eventType) → the normalized event the hub's other camera and panel adapters already use.
 * Outbound: a normalized event type or an incident category → (method, type, priority) for the cascade.
 */

export type GbEdition = '2016' | '2022';

export interface GbAlarmMeaning {
  /** The normalized event type (the vocabulary of devices/*). */
  readonly event: string;
  /** Facts the code itself carries (a disk full or failed, which part overheats). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** The standard's words. */
  readonly name: string;
  /** The edition that introduced the code. */
  readonly since: GbEdition;
}

/** AlarmMethod: the standard's name and what an alarm of it means when it carries no AlarmType (or an unknown one). */
export const alarmMethods: Readonly<Record<number, GbAlarmMeaning>> = {
  // A resident's call or text to the alarm centre is a call for help.
  1: { event: 'alarm.panic', attributes: { via: 'phone' }, name: '电话报警', since: '2016' },
  // "报警方式为2时，不携带AlarmType为默认的报警设备报警": an alarm input wired to the device.
  2: { event: 'alarm.input', name: '设备报警', since: '2016' },
  3: { event: 'alarm.panic', attributes: { via: 'sms' }, name: '短信报警', since: '2016' },
  4: { event: 'alarm.general', attributes: { via: 'gps' }, name: 'GPS报警', since: '2016' },
  5: { event: 'alarm.general', attributes: { via: 'video' }, name: '视频报警', since: '2016' },
  6: { event: 'camera.hardware_failure', name: '设备故障报警', since: '2016' },
  7: { event: 'alarm.general', name: '其他报警', since: '2016' },
};

const storage = (reason: string) => ({ reason });

/** AlarmType per AlarmMethod (2016 Table A.x in the Alarm notify's AlarmType description; 2022 additions marked). */
export const alarmTypes: Readonly<Record<number, Readonly<Record<number, GbAlarmMeaning>>>> = {
  2: {
    1: { event: 'camera.video_lost', name: '视频丢失报警', since: '2016' },
    2: { event: 'device.tamper', name: '设备防拆报警', since: '2016' },
    3: { event: 'storage.failure', attributes: storage('full'), name: '存储设备磁盘满报警', since: '2016' },
    4: {
      event: 'camera.hardware_failure',
      attributes: { part: 'temperature', reason: 'high' },
      name: '设备高温报警',
      since: '2016',
    },
    5: {
      event: 'camera.hardware_failure',
      attributes: { part: 'temperature', reason: 'low' },
      name: '设备低温报警',
      since: '2016',
    },
  },
  5: {
    // An operator raised it by hand while watching the video: a general alarm, not a detection.
    1: { event: 'alarm.general', attributes: { via: 'manual_video' }, name: '人工视频报警', since: '2016' },
    2: { event: 'camera.motion', name: '运动目标检测报警', since: '2016' },
    3: { event: 'camera.object_left', name: '遗留物检测报警', since: '2016' },
    4: { event: 'camera.object_removed', name: '物体移除检测报警', since: '2016' },
    5: { event: 'camera.line_crossed', name: '绊线检测报警', since: '2016' },
    6: { event: 'camera.intrusion', name: '入侵检测报警', since: '2016' },
    7: { event: 'camera.wrong_direction', name: '逆行检测报警', since: '2016' },
    8: { event: 'camera.loitering', name: '徘徊检测报警', since: '2016' },
    9: { event: 'camera.crowd_flow', name: '流量统计报警', since: '2016' },
    10: { event: 'camera.crowd_density', name: '密度检测报警', since: '2016' },
    11: { event: 'camera.video_abnormal', name: '视频异常检测报警', since: '2016' },
    12: { event: 'camera.fast_moving', name: '快速移动报警', since: '2016' },
    // 2022: the view is covered, what Hikvision calls shelteralarm and the other adapters camera.tamper.
    13: { event: 'camera.tamper', name: '图像遮挡报警', since: '2022' },
  },
  6: {
    1: {
      event: 'storage.failure',
      attributes: storage('error'),
      name: '存储设备磁盘故障报警',
      since: '2016',
    },
    2: {
      event: 'camera.hardware_failure',
      attributes: { part: 'fan' },
      name: '存储设备风扇故障报警',
      since: '2016',
    },
  },
};

/**
 * AlarmTypeParam/EventType refining an AlarmType: for intrusion detection (5/6) 1 进入区域 entered and 2 离开区域 left,
 * which the other camera adapters call camera.region_entered and camera.region_exited.
 */
export const alarmEventTypes: Readonly<Record<string, Readonly<Record<number, GbAlarmMeaning>>>> = {
  '5/6': {
    1: { event: 'camera.region_entered', name: '进入区域', since: '2016' },
    2: { event: 'camera.region_exited', name: '离开区域', since: '2016' },
  },
};

/** Every normalized event an Alarm can decode to, with the attributes the code adds. */
export function alarmEventTypesDecoded(): ReadonlyMap<string, ReadonlySet<string>> {
  const events = new Map<string, Set<string>>();
  const add = (meaning: GbAlarmMeaning) => {
    const set = events.get(meaning.event) ?? new Set<string>();
    for (const name of Object.keys(meaning.attributes ?? {})) set.add(name);
    events.set(meaning.event, set);
  };
  for (const meaning of Object.values(alarmMethods)) add(meaning);
  for (const types of Object.values(alarmTypes)) for (const meaning of Object.values(types)) add(meaning);
  for (const types of Object.values(alarmEventTypes))
    for (const meaning of Object.values(types)) add(meaning);
  return events;
}

export interface DecodedAlarm {
  readonly event: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The standard's words for the most specific code that matched. */
  readonly name: string;
  /** False when the method, type or event type was not in the tables (the most specific known meaning is used). */
  readonly known: boolean;
}

/**
 * What an alarm means: the event type refined by EventType, else by AlarmType, else the method's default. A method
 * outside the tables (a 2022 or vendor extension) reads as a general alarm, so nothing a device raises is lost.
 */
export function meaningOfAlarm(method: number, alarmType?: number, eventType?: number): DecodedAlarm {
  const byEvent =
    alarmType === undefined || eventType === undefined
      ? undefined
      : alarmEventTypes[`${method}/${alarmType}`]?.[eventType];
  const byType = alarmType === undefined ? undefined : alarmTypes[method]?.[alarmType];
  const byMethod = alarmMethods[method];
  const meaning = byEvent ?? byType ?? byMethod;
  if (meaning === undefined)
    return { event: 'alarm.general', attributes: {}, name: '未知报警方式', known: false };
  const known = byMethod !== undefined && (alarmType === undefined || byType !== undefined);
  return { event: meaning.event, attributes: meaning.attributes ?? {}, name: meaning.name, known };
}

/** GB alarm priority (1 most urgent … 4) for an incident severity. */
export const priorityForSeverity: Readonly<Record<'critical' | 'major' | 'warning' | 'info', 1 | 2 | 3 | 4>> =
  {
    critical: 1,
    major: 2,
    warning: 3,
    info: 4,
  };

export interface GbAlarmCode {
  readonly method: number;
  readonly alarmType?: number;
  readonly eventType?: number;
  /** The edition that introduced the code: a 2016 superior is not sent a 2022 code. */
  readonly since?: GbEdition;
}

/**
 * Outbound, by normalized event type: the code whose meaning is that event (the most specific, first listed). Built
 * from the inbound tables so both directions agree; the few events of other families with no GB code of their own
 * are added by hand below.
 */
export const alarmCodeForEvent: ReadonlyMap<string, GbAlarmCode> = (() => {
  const codes = new Map<string, GbAlarmCode>();
  const offer = (event: string, code: GbAlarmCode) => {
    if (!codes.has(event)) codes.set(event, code);
  };
  for (const [key, types] of Object.entries(alarmEventTypes)) {
    const [method, alarmType] = key.split('/').map(Number) as [number, number];
    for (const [eventType, meaning] of Object.entries(types))
      offer(meaning.event, { method, alarmType, eventType: Number(eventType), since: meaning.since });
  }
  for (const [method, types] of Object.entries(alarmTypes)) {
    for (const [alarmType, meaning] of Object.entries(types)) {
      // Codes that differ only by an attribute (disk full or failed) keep the first; the cascade names reason in text.
      offer(meaning.event, { method: Number(method), alarmType: Number(alarmType), since: meaning.since });
    }
  }
  for (const [method, meaning] of Object.entries(alarmMethods))
    offer(meaning.event, { method: Number(method) });
  // Other families' events with a GB home: a door forced, a panel's intrusion zone, a fire: device alarms.
  for (const event of [
    'door.forced_open',
    'alarm.intrusion',
    'alarm.fire',
    'alarm.environmental',
    'alarm.medical',
  ])
    offer(event, { method: 2 });
  offer('camera.person', { method: 5, alarmType: 2 });
  offer('camera.vehicle', { method: 5, alarmType: 2 });
  offer('access.duress', { method: 1 });
  offer('alarm.duress', { method: 1 });
  return codes;
})();

/** Outbound, by incident category (config rules' `category`): used when the event type has no code of its own. */
export const alarmCodeForCategory: Readonly<Record<string, GbAlarmCode>> = {
  emergency: { method: 1 },
  intrusion: { method: 5, alarmType: 6 },
  video: { method: 5 },
  camera: { method: 5 },
  tamper: { method: 2, alarmType: 2 },
  storage: { method: 6, alarmType: 1 },
  device: { method: 6 },
  power: { method: 6 },
  fire: { method: 2 },
  access: { method: 2 },
  // The categories of gridhub's own rules (config/demo.yaml), for incidents whose event type has no code: the
  // cascade sends them up as these (outbound.gb28181.categories overrides any of them).
  access_violation: { method: 2 },
  blacklist: { method: 2 },
  hazard: { method: 2 },
  motion: { method: 5, alarmType: 2 },
  device_tamper: { method: 2, alarmType: 2 },
  device_fault: { method: 6 },
  device_offline: { method: 6 },
  duty: { method: 7 },
  storm: { method: 7 },
};

/** What a 2016 superior is sent for an event whose own code is 2022's: a covered view is a video abnormality. */
const before2022: Readonly<Record<string, GbAlarmCode>> = {
  'camera.tamper': { method: 5, alarmType: 11, since: '2016' },
};

/** The GB code for an incident: by its event type, else its category, else 7 其他报警; fitting the superior's edition. */
export function alarmCodeFor(event: string, category?: string, edition: GbEdition = '2022'): GbAlarmCode {
  const own = alarmCodeForEvent.get(event);
  const fitting = own?.since === '2022' && edition === '2016' ? before2022[event] : own;
  return fitting ?? (category === undefined ? undefined : alarmCodeForCategory[category]) ?? { method: 7 };
}
