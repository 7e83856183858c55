/**
 * Outbound: what a gridhub incident is called in a GB/T 28181 Notify Alarm to the superior platform. Data.
 *
 * GB/T 28181-2016 §A.2.5 / 9.4: AlarmMethod 1 telephone (电话报警), 2 device (设备报警), 3 SMS (短信报警), 4 GPS
 * (GPS报警), 5 video (视频报警), 6 device fault (设备故障报警), 7 other (其他报警). AlarmType (in <Info>) narrows
 * methods 2, 5 and 6:
 *   2 device:       1 video lost, 2 tamper (防拆), 3 disk full, 4 high temperature, 5 low temperature
 *   5 video:        1 manual, 2 motion, 3 left object, 4 object removed, 5 tripwire, 6 intrusion, 7 retrograde,
 *                   8 loitering, 9 flow count, 10 density, 11 video abnormal, 12 fast movement
 *   6 device fault: 1 disk failure, 2 fan failure
 * AlarmPriority: 1 一级警情 (most urgent) … 4 四级警情.
 *
 * The incident's event type is looked up first (it says most: a camera's intrusion is a video intrusion, a gate's
 * is a device alarm), then its category, then `other`. An operator's `outbound.gb28181.categories` entry wins over
 * both for its category.
 */

export interface OutboundAlarmCode {
  readonly method: number;
  readonly type?: number;
  /** Fixed priority; absent: from the incident's severity (priorityBySeverity). */
  readonly priority?: number;
}

export const alarmMethods = {
  telephone: 1,
  device: 2,
  sms: 3,
  gps: 4,
  video: 5,
  deviceFault: 6,
  other: 7,
} as const;

/** By incident category (the rules' `category`, config/demo.yaml's vocabulary). */
export const outboundAlarmByCategory: Readonly<Record<string, OutboundAlarmCode>> = {
  /** Intrusion by a gate, a panel's zone or a sentry box: a device's alarm input. */
  intrusion: { method: alarmMethods.device },
  /** Panic buttons, fire, medical, duress: raised by a device. */
  emergency: { method: alarmMethods.device },
  hazard: { method: alarmMethods.device },
  access_violation: { method: alarmMethods.device },
  blacklist: { method: alarmMethods.device },
  motion: { method: alarmMethods.video, type: 2 },
  device_tamper: { method: alarmMethods.device, type: 2 },
  device_fault: { method: alarmMethods.deviceFault },
  device_offline: { method: alarmMethods.deviceFault },
  power: { method: alarmMethods.deviceFault },
  /** A missed guard check-in: nothing in the standard's list fits. */
  duty: { method: alarmMethods.other },
  /** Flood control's grouping of an alarm storm. */
  storm: { method: alarmMethods.other },
};

/** By the incident's device event type, more precise than its category. */
export const outboundAlarmByEventType: Readonly<Record<string, OutboundAlarmCode>> = {
  'camera.video_lost': { method: alarmMethods.device, type: 1 },
  'camera.tamper': { method: alarmMethods.device, type: 2 },
  'device.tamper': { method: alarmMethods.device, type: 2 },
  'camera.motion': { method: alarmMethods.video, type: 2 },
  'camera.person': { method: alarmMethods.video, type: 2 },
  'camera.vehicle': { method: alarmMethods.video, type: 2 },
  'camera.line_crossed': { method: alarmMethods.video, type: 5 },
  'camera.intrusion': { method: alarmMethods.video, type: 6 },
  'camera.region_entered': { method: alarmMethods.video, type: 6 },
  'storage.failure': { method: alarmMethods.deviceFault, type: 1 },
  'storage.full': { method: alarmMethods.device, type: 3 },
};

/** What an incident of no listed type or category is sent as. */
export const fallbackOutboundAlarm: OutboundAlarmCode = { method: alarmMethods.other };

/** AlarmPriority by incident severity. */
export const priorityBySeverity: Readonly<Record<string, number>> = {
  critical: 1,
  major: 2,
  warning: 3,
  info: 4,
};

export interface AlarmSource {
  readonly category: string;
  readonly severity: string;
  readonly event: { readonly type: string };
}

/** The (method, type, priority) an incident goes up as; `overrides` are the config's, by category. */
export function outboundAlarmFor(
  incident: AlarmSource,
  overrides: Readonly<Record<string, OutboundAlarmCode>> = {},
): { readonly method: number; readonly type?: number; readonly priority: number } {
  const code =
    overrides[incident.category] ??
    outboundAlarmByEventType[incident.event.type] ??
    outboundAlarmByCategory[incident.category] ??
    fallbackOutboundAlarm;
  const priority = code.priority ?? priorityBySeverity[incident.severity] ?? 4;
  return code.type === undefined
    ? { method: code.method, priority }
    : { method: code.method, type: code.type, priority };
}
