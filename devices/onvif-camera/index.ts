import type { DeviceAdapter, OnvifNotification, OnvifTopicDecoder } from '../../src/core/adapter.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';

/**
 * ONVIF IP cameras (Profile S/T), the main technical-defence hardware of a grid. The hub connects to the camera,
 * subscribes to its events (PullPoint, or Basic Notification posted to the hub) and turns what it reports into
 * normalized events. The topic table covers what real firmware sends, not only the ONVIF topic set: Hikvision,
 * Dahua, Reolink and TP-Link spellings, each with its source in README.md beside this file.
 *
 * Topics arrive normalized (src/cameras/sessions/onvif-session.ts normalizeTopic): namespace prefixes dropped from
 * every step, so Hikvision's `tns1:Device/Trigger/tnshik:AlarmIn` is `Device/Trigger/AlarmIn` here.
 */

/** ONVIF booleans arrive as "true"/"false"; some firmware writes "1"/"0" (MotionRegionDetector). */
const isTrue = (value: string | undefined): boolean => value === 'true' || value === '1';

/**
 * The state item, by its name; firmware that names it otherwise but sends only one data item is read by that one
 * (Home Assistant's parsers read the first item of several of these topics for the same reason).
 */
function stateOf(notification: OnvifNotification, item: string): string | undefined {
  const named = notification.data[item];
  if (named !== undefined) return named;
  const values = Object.values(notification.data);
  return values.length === 1 ? values[0] : undefined;
}

/** A property's current state sent when a subscription starts: it sets a state, never a momentary alarm. */
const initialized = (notification: OnvifNotification): boolean => notification.operation === 'Initialized';

function event(
  type: string,
  notification: OnvifNotification,
  attributes: NormalizedEvent['attributes'],
): NormalizedEvent {
  return { type, occurredAt: notification.time, attributes };
}

/** The rule or video source that reported it, when the camera says: which analytics rule, which sensor. */
function origin(notification: OnvifNotification): Record<string, string> {
  const { Rule, VideoSourceConfigurationToken, VideoSourceToken, Source } = notification.source;
  const where = Rule ?? VideoSourceConfigurationToken ?? VideoSourceToken ?? Source;
  return where === undefined ? {} : { source: where };
}

/**
 * A state topic: an event when it turns active, another when it goes back to idle (which clears it). The idle
 * state a subscription starts with says nothing; an active one sets the state as any change would.
 */
function stateTopic(
  active: string,
  cleared: string,
  item: string,
  attributes: (notification: OnvifNotification) => Record<string, string> = origin,
): OnvifTopicDecoder {
  return (notification) =>
    isTrue(stateOf(notification, item))
      ? event(active, notification, attributes(notification))
      : initialized(notification)
        ? undefined
        : event(cleared, notification, attributes(notification));
}

/**
 * A momentary alarm (a line crossed, a doorbell pressed), whether the camera sends it as a plain event or as a
 * property whose true is the moment: raised on the moment only, never by a subscription's Initialized message
 * (cameras report `LineDetector/Crossed` with `ObjectId 0` as Initialized on every subscription).
 */
function momentTopic(
  type: string,
  attributes: (notification: OnvifNotification) => Record<string, string>,
  item?: string,
): OnvifTopicDecoder {
  return (notification) =>
    initialized(notification) || (item !== undefined && !isTrue(stateOf(notification, item)))
      ? undefined
      : event(type, notification, attributes(notification));
}

/** An alarm input (a door contact, a PIR wired to the camera): which input, by the token the camera gives it. */
function input(notification: OnvifNotification): Record<string, string> {
  const { InputToken, AlarmInToken, Source } = notification.source;
  const which = InputToken ?? AlarmInToken ?? Source;
  return which === undefined ? {} : { input: which };
}

/** A failed hardware part: what kind (storage, fan…), and which one by its token when the camera says. */
function part(kind: string) {
  return (notification: OnvifNotification): Record<string, string> => {
    const { Token, StorageToken, Source } = notification.source;
    const which = Token ?? StorageToken ?? Source;
    return { part: kind, ...(which === undefined ? {} : { source: which }) };
  };
}

const motion = (item: string) => stateTopic('camera.motion', 'camera.motion_ended', item);
const tamper = (item: string) => stateTopic('camera.tamper', 'camera.tamper_ended', item);
const intrusion = (item: string) => stateTopic('camera.intrusion', 'camera.intrusion_ended', item);
const person = (item: string) => stateTopic('camera.person', 'camera.person_ended', item);
const vehicle = (item: string) => stateTopic('camera.vehicle', 'camera.vehicle_ended', item);
const alarmInput = (item: string) => stateTopic('alarm.input', 'alarm.input_ended', item, input);
const hardwareFailure = (kind: string, item: string) =>
  stateTopic('camera.hardware_failure', 'camera.hardware_failure_ended', item, part(kind));
const lineCrossed = momentTopic('camera.line_crossed', (notification) => ({
  ...origin(notification),
  ...(notification.data.ObjectId === undefined ? {} : { objectId: notification.data.ObjectId }),
}));

export const onvifCamera: DeviceAdapter = {
  id: 'onvif-camera',
  transport: 'onvif',
  vendor: 'Any ONVIF Profile S/T camera (Hikvision, Dahua, Uniview, Reolink, TP-Link and others)',
  models: ['ONVIF Profile S', 'ONVIF Profile T'],
  description:
    'IP cameras: motion, tamper, line crossing, field intrusion, people and vehicles, alarm inputs, storage failure.',
  events: {
    'camera.motion': { description: 'Motion was detected.', attributes: ['source'] },
    'camera.motion_ended': { description: 'Motion stopped.', attributes: ['source'] },
    'camera.tamper': {
      description: 'The view was covered, moved or defocused (global scene change).',
      attributes: ['source'],
    },
    'camera.tamper_ended': { description: 'The view is back to normal.', attributes: ['source'] },
    'camera.line_crossed': {
      description: 'An object crossed a virtual line.',
      attributes: ['source', 'objectId'],
    },
    'camera.intrusion': { description: 'An object entered a guarded field.', attributes: ['source'] },
    'camera.intrusion_ended': { description: 'The guarded field is clear again.', attributes: ['source'] },
    'camera.person': { description: 'The camera sees a person (human shape).', attributes: ['source'] },
    'camera.person_ended': { description: 'No person in view any more.', attributes: ['source'] },
    'camera.vehicle': { description: 'The camera sees a vehicle.', attributes: ['source'] },
    'camera.vehicle_ended': { description: 'No vehicle in view any more.', attributes: ['source'] },
    'camera.visitor': {
      description: "Someone pressed the doorbell camera's button.",
      attributes: ['source'],
    },
    'alarm.input': {
      description:
        'An alarm input wired to the camera is active (a door contact opened, a detector tripped).',
      attributes: ['input'],
    },
    'alarm.input_ended': { description: 'The alarm input is back to normal.', attributes: ['input'] },
    'camera.hardware_failure': {
      description:
        'A part of the camera failed: its storage (SD card, disk: recordings are not kept), a fan, the power supply, or it overheats.',
      attributes: ['part', 'source'],
    },
    'camera.hardware_failure_ended': { description: 'The part works again.', attributes: ['part', 'source'] },
  },
  channels: {},
  commands: {},
  // A healthy session hears from the camera at least every few seconds (see src/cameras/sessions/onvif-session.ts).
  liveness: { heartbeatSeconds: 5, offlineAfterSeconds: 90 },
  onvifTopics: {
    // ONVIF's own topic set (ONVIF Core Specification, Annex; Analytics Service Specification)
    'VideoSource/MotionAlarm': motion('State'),
    'RuleEngine/CellMotionDetector/Motion': motion('IsMotion'),
    'RuleEngine/MotionRegionDetector/Motion': motion('State'),
    'VideoSource/GlobalSceneChange/ImagingService': tamper('State'),
    'VideoSource/GlobalSceneChange/AnalyticsService': tamper('State'),
    'VideoSource/GlobalSceneChange/RecordingService': tamper('State'),
    'RuleEngine/TamperDetector/Tamper': tamper('IsTamper'),
    'RuleEngine/FieldDetector/ObjectsInside': intrusion('IsInside'),
    'RuleEngine/LineDetector/Crossed': lineCrossed,
    'Device/Trigger/DigitalInput': alarmInput('LogicalState'),
    'Device/HardwareFailure/StorageFailure': hardwareFailure('storage', 'Failed'),
    'Device/HardwareFailure/FanFailure': hardwareFailure('fan', 'Failed'),
    'Device/HardwareFailure/PowerSupplyFailure': hardwareFailure('power_supply', 'Failed'),
    'Device/HardwareFailure/TemperatureCritical': hardwareFailure('temperature', 'Critical'),
    // Hikvision: its alarm inputs as tns1:Device/Trigger/tnshik:AlarmIn
    'Device/Trigger/AlarmIn': alarmInput('State'),
    // Dahua (and its OEMs): human detection
    'UserAlarm/IVA/HumanShapeDetect': person('State'),
    // Reolink: AI detections and the doorbell
    'RuleEngine/MyRuleDetector/PeopleDetect': person('State'),
    'RuleEngine/MyRuleDetector/VehicleDetect': vehicle('State'),
    'RuleEngine/MyRuleDetector/Visitor': momentTopic('camera.visitor', origin, 'State'),
    // TP-Link (Tapo, VIGI): smart detections under CellMotionDetector, each with its own data item
    'RuleEngine/CellMotionDetector/People': person('IsPeople'),
    'RuleEngine/PeopleDetector/People': person('IsPeople'),
    'RuleEngine/CellMotionDetector/Tamper': tamper('IsTamper'),
    'RuleEngine/CellMotionDetector/Intrusion': intrusion('IsIntrusion'),
    'RuleEngine/CellMotionDetector/LineCross': momentTopic(
      'camera.line_crossed',
      (notification) => origin(notification),
      'IsLineCross',
    ),
  },
};
