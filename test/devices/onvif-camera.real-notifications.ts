/**
 * Real cameras' ONVIF notifications, each with its provenance: the adapter's second fixture table (what the
 * simulator does not send). test/devices/onvif-camera.fixtures.test.ts decodes each through the session's reader;
 * the conformance profile (test/conformance/onvif-camera.conformance.test.ts) replays them over Basic Notification.
 */

export const namespaces =
  'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing" ' +
  'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics" ' +
  'xmlns:tnshik="http://www.hikvision.com/2011/event/topics"';

/**
 * A wsnt:NotificationMessage as cameras write it (ONVIF Core 9.2.1, tt:Message): the topic as given, the
 * message's UtcTime and PropertyOperation, its Source and Data SimpleItems.
 */
export function notificationMessage(message: {
  readonly topic: string;
  readonly utcTime: string;
  readonly operation?: string;
  readonly source: Record<string, string>;
  readonly data: Record<string, string>;
}): string {
  const items = (record: Record<string, string>) =>
    Object.entries(record)
      .map(([name, value]) => `<tt:SimpleItem Name="${name}" Value="${value}"/>`)
      .join('');
  const operation = message.operation === undefined ? '' : ` PropertyOperation="${message.operation}"`;
  return (
    `<wsnt:NotificationMessage ${namespaces}>` +
    `<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${message.topic}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${message.utcTime}"${operation}>` +
    `<tt:Source>${items(message.source)}</tt:Source><tt:Data>${items(message.data)}</tt:Data>` +
    '</tt:Message></wsnt:Message></wsnt:NotificationMessage>'
  );
}

export interface RealNotification {
  readonly name: string;
  /**
   * Where the message comes from. Home Assistant's and onvif-parsers' tests keep each camera's message as the
   * python dict zeep parsed it into, copied from their "No registered handler for event" logs; it is written back
   * here as the XML it was parsed from, its topic, times, operation, items and values unchanged.
   */
  readonly provenance: string;
  readonly xml: string;
  readonly expected: unknown;
}

const homeAssistantTests =
  'github.com/home-assistant/core tests/components/onvif/test_parsers.py (commit 0929e6eb5003c5de2c9165b7928b5e250ddbf064)';
const onvifParsersTests = (file: string) =>
  `github.com/openvideolibs/onvif-parsers tests/${file} (commit 39a4dafe8349955ee1eca2257060ea016e3c58cb)`;
const homeAssistantParsers =
  'github.com/home-assistant/core homeassistant/components/onvif/parsers.py: the topic and the items its parser reads';

/** Real cameras' notifications → normalized events (the second fixture table: what the simulator does not send). */
export const realNotifications: readonly RealNotification[] = [
  {
    name: 'a line detector reports ObjectId 0 as Initialized on every subscription: no line crossed',
    provenance: `${homeAssistantTests} test_line_detector_crossed`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/LineDetector/Crossed',
      utcTime: '2020-05-24T07:24:47Z',
      operation: 'Initialized',
      source: {
        VideoSourceConfigurationToken: 'video_source_config1',
        VideoAnalyticsConfigurationToken: 'analytics_video_source',
        Rule: 'MyLineDetectorRule',
      },
      data: { ObjectId: '0' },
    }),
    expected: undefined,
  },
  {
    name: 'TP-Link line crossing (CellMotionDetector/LineCross)',
    provenance: `${homeAssistantTests} test_tapo_line_crossed`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/CellMotionDetector/LineCross',
      utcTime: '2025-01-03T21:05:14Z',
      operation: 'Changed',
      source: {
        VideoSourceConfigurationToken: 'vsconf',
        VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken',
        Rule: 'MyLineCrossDetectorRule',
      },
      data: { IsLineCross: 'true' },
    }),
    expected: {
      type: 'camera.line_crossed',
      occurredAt: Date.parse('2025-01-03T21:05:14Z'),
      attributes: { source: 'MyLineCrossDetectorRule' },
    },
  },
  {
    name: 'TP-Link person (CellMotionDetector/People)',
    provenance: `${homeAssistantTests} test_tapo_cellmotiondetector_person`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/CellMotionDetector/People',
      utcTime: '2025-01-03T20:09:22Z',
      operation: 'Changed',
      source: {
        VideoSourceConfigurationToken: 'vsconf',
        VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken',
        Rule: 'MyPeopleDetectorRule',
      },
      data: { IsPeople: 'true' },
    }),
    expected: {
      type: 'camera.person',
      occurredAt: Date.parse('2025-01-03T20:09:22Z'),
      attributes: { source: 'MyPeopleDetectorRule' },
    },
  },
  {
    name: 'TP-Link person (PeopleDetector/People)',
    provenance: `${homeAssistantTests} test_tapo_tpsmartevent_person`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/PeopleDetector/People',
      utcTime: '2024-11-03T18:40:43Z',
      operation: 'Changed',
      source: {
        VideoSourceConfigurationToken: 'vsconf',
        VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken',
        Rule: 'MyPeopleDetectorRule',
      },
      data: { IsPeople: 'true' },
    }),
    expected: {
      type: 'camera.person',
      occurredAt: Date.parse('2024-11-03T18:40:43Z'),
      attributes: { source: 'MyPeopleDetectorRule' },
    },
  },
  {
    name: 'TP-Link tamper (CellMotionDetector/Tamper)',
    provenance: `${homeAssistantTests} test_tapo_tamper`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/CellMotionDetector/Tamper',
      utcTime: '2025-01-05T21:01:05Z',
      operation: 'Changed',
      source: {
        VideoSourceConfigurationToken: 'vsconf',
        VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken',
        Rule: 'MyTamperDetectorRule',
      },
      data: { IsTamper: 'true' },
    }),
    expected: {
      type: 'camera.tamper',
      occurredAt: Date.parse('2025-01-05T21:01:05Z'),
      attributes: { source: 'MyTamperDetectorRule' },
    },
  },
  {
    name: 'TP-Link intrusion (CellMotionDetector/Intrusion)',
    provenance: `${homeAssistantTests} test_tapo_intrusion`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/CellMotionDetector/Intrusion',
      utcTime: '2025-01-11T10:40:45Z',
      operation: 'Changed',
      source: {
        VideoSourceConfigurationToken: 'vsconf',
        VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken',
        Rule: 'MyIntrusionDetectorRule',
      },
      data: { IsIntrusion: 'true' },
    }),
    expected: {
      type: 'camera.intrusion',
      occurredAt: Date.parse('2025-01-11T10:40:45Z'),
      attributes: { source: 'MyIntrusionDetectorRule' },
    },
  },
  {
    name: 'Hikvision alarm input, active when the subscription starts (Initialized sets the state)',
    provenance: `${onvifParsersTests('test_hikvision.py')} test_hikvision_alarm`,
    xml: notificationMessage({
      topic: 'tns1:Device/Trigger/tnshik:AlarmIn',
      utcTime: '2025-03-13T22:57:26Z',
      operation: 'Initialized',
      source: { AlarmInToken: 'AlarmIn_1' },
      data: { State: 'true' },
    }),
    expected: {
      type: 'alarm.input',
      occurredAt: Date.parse('2025-03-13T22:57:26Z'),
      attributes: { input: 'AlarmIn_1' },
    },
  },
  {
    name: 'Reolink person (MyRuleDetector/PeopleDetect)',
    provenance: `topic: ${homeAssistantParsers} (async_parse_person_detector); message shape (Source "000", State) as Reolink's MyRuleDetector message in ${onvifParsersTests('test_reolink.py')}`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MyRuleDetector/PeopleDetect',
      utcTime: '2025-03-12T09:54:27Z',
      operation: 'Changed',
      source: { Source: '000' },
      data: { State: 'true' },
    }),
    expected: {
      type: 'camera.person',
      occurredAt: Date.parse('2025-03-12T09:54:27Z'),
      attributes: { source: '000' },
    },
  },
  {
    name: 'Reolink vehicle gone (MyRuleDetector/VehicleDetect)',
    provenance: `topic: ${homeAssistantParsers} (async_parse_vehicle_detector); message shape as ${onvifParsersTests('test_reolink.py')}`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MyRuleDetector/VehicleDetect',
      utcTime: '2025-03-12T09:54:27Z',
      operation: 'Changed',
      source: { Source: '000' },
      data: { State: 'false' },
    }),
    expected: {
      type: 'camera.vehicle_ended',
      occurredAt: Date.parse('2025-03-12T09:54:27Z'),
      attributes: { source: '000' },
    },
  },
  {
    name: 'Reolink doorbell pressed (MyRuleDetector/Visitor)',
    provenance: `topic: ${homeAssistantParsers} (async_parse_visitor_detector); message shape as ${onvifParsersTests('test_reolink.py')}`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MyRuleDetector/Visitor',
      utcTime: '2025-03-12T09:54:27Z',
      operation: 'Changed',
      source: { Source: '000' },
      data: { State: 'true' },
    }),
    expected: {
      type: 'camera.visitor',
      occurredAt: Date.parse('2025-03-12T09:54:27Z'),
      attributes: { source: '000' },
    },
  },
  {
    name: 'Reolink doorbell idle at subscription: nothing',
    provenance: `as above; ${onvifParsersTests('test_reolink.py')} sends its MyRuleDetector state as Initialized`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MyRuleDetector/Visitor',
      utcTime: '2025-03-12T09:54:27Z',
      operation: 'Initialized',
      source: { Source: '000' },
      data: { State: 'true' },
    }),
    expected: undefined,
  },
  {
    name: 'Dahua human shape (UserAlarm/IVA/HumanShapeDetect)',
    provenance: `topic and VideoSourceConfigurationToken: ${homeAssistantParsers} (async_parse_human_shape_detect, which reads its one data item)`,
    xml: notificationMessage({
      topic: 'tns1:UserAlarm/IVA/HumanShapeDetect',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: { VideoSourceConfigurationToken: 'VideoSourceMain' },
      data: { State: 'true' },
    }),
    expected: {
      type: 'camera.person',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { source: 'VideoSourceMain' },
    },
  },
  {
    name: 'motion region detector writes its boolean as 1',
    provenance: `${homeAssistantParsers} (async_parse_motion_region_detector accepts "1" and "true"); ONVIF Analytics Service Specification, MotionRegionDetector`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MotionRegionDetector/Motion',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: {
        VideoSourceConfigurationToken: 'VideoSourceToken',
        VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken',
        Rule: 'MyMotionRegionRule',
      },
      data: { State: '1' },
    }),
    expected: {
      type: 'camera.motion',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { source: 'MyMotionRegionRule' },
    },
  },
  {
    name: 'global scene change reported by the analytics service',
    provenance: `${homeAssistantParsers} (async_parse_scene_change: AnalyticsService, ImagingService, RecordingService)`,
    xml: notificationMessage({
      topic: 'tns1:VideoSource/GlobalSceneChange/AnalyticsService',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: { Source: 'VideoSource_1' },
      data: { State: 'true' },
    }),
    expected: {
      type: 'camera.tamper',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { source: 'VideoSource_1' },
    },
  },
  {
    name: 'global scene change cleared, reported by the recording service',
    provenance: `${homeAssistantParsers} (async_parse_scene_change)`,
    xml: notificationMessage({
      topic: 'tns1:VideoSource/GlobalSceneChange/RecordingService',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: { Source: 'VideoSource_1' },
      data: { State: 'false' },
    }),
    expected: {
      type: 'camera.tamper_ended',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { source: 'VideoSource_1' },
    },
  },
  {
    name: 'a door contact on the digital input opens',
    provenance:
      'ONVIF Core Specification 2.60, Device IO: tns1:Device/Trigger/DigitalInput, Source InputToken, Data LogicalState',
    xml: notificationMessage({
      topic: 'tns1:Device/Trigger/DigitalInput',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: { InputToken: 'DigitalInputToken_1' },
      data: { LogicalState: 'true' },
    }),
    expected: {
      type: 'alarm.input',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { input: 'DigitalInputToken_1' },
    },
  },
  {
    name: 'the SD card failed',
    provenance: `${homeAssistantParsers} (async_parse_storage_failure: Source token, its one data item); ONVIF Core Specification, tns1:Device/HardwareFailure/StorageFailure (Token, Failed)`,
    xml: notificationMessage({
      topic: 'tns1:Device/HardwareFailure/StorageFailure',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: { Token: 'SD_DISK_20200422_123456' },
      data: { Failed: 'true' },
    }),
    expected: {
      type: 'camera.hardware_failure',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { part: 'storage', source: 'SD_DISK_20200422_123456' },
    },
  },
  {
    name: 'a topic spelled with a trailing //. is the topic itself',
    provenance:
      'WS-Topics ConcreteSet: `//.` names a topic and its subtree; some firmware writes it in notifications',
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/CellMotionDetector/Motion//.',
      utcTime: '2025-06-01T02:03:04Z',
      operation: 'Changed',
      source: { Rule: 'MyMotionDetectorRule' },
      data: { IsMotion: 'true' },
    }),
    expected: {
      type: 'camera.motion',
      occurredAt: Date.parse('2025-06-01T02:03:04Z'),
      attributes: { source: 'MyMotionDetectorRule' },
    },
  },
  {
    name: 'Reolink person gone (MyRuleDetector/PeopleDetect)',
    provenance: `topic: ${homeAssistantParsers} (async_parse_person_detector); message shape (Source "000", State) as Reolink's MyRuleDetector message in ${onvifParsersTests('test_reolink.py')}`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MyRuleDetector/PeopleDetect',
      utcTime: '2025-03-12T09:54:27Z',
      operation: 'Changed',
      source: { Source: '000' },
      data: { State: 'false' },
    }),
    expected: {
      type: 'camera.person_ended',
      occurredAt: Date.parse('2025-03-12T09:54:27Z'),
      attributes: { source: '000' },
    },
  },
  {
    name: 'Reolink vehicle seen (MyRuleDetector/VehicleDetect)',
    provenance: `topic: ${homeAssistantParsers} (async_parse_vehicle_detector); message shape as ${onvifParsersTests('test_reolink.py')}`,
    xml: notificationMessage({
      topic: 'tns1:RuleEngine/MyRuleDetector/VehicleDetect',
      utcTime: '2025-03-12T09:54:27Z',
      operation: 'Changed',
      source: { Source: '000' },
      data: { State: 'true' },
    }),
    expected: {
      type: 'camera.vehicle',
      occurredAt: Date.parse('2025-03-12T09:54:27Z'),
      attributes: { source: '000' },
    },
  },
  {
    name: 'the SD card works again',
    provenance: `${homeAssistantParsers} (async_parse_storage_failure); ONVIF Core Specification, tns1:Device/HardwareFailure/StorageFailure (Token, Failed)`,
    xml: notificationMessage({
      topic: 'tns1:Device/HardwareFailure/StorageFailure',
      utcTime: '2025-06-01T02:05:10Z',
      operation: 'Changed',
      source: { Token: 'SD_DISK_20200422_123456' },
      data: { Failed: 'false' },
    }),
    expected: {
      type: 'camera.hardware_failure_ended',
      occurredAt: Date.parse('2025-06-01T02:05:10Z'),
      attributes: { part: 'storage', source: 'SD_DISK_20200422_123456' },
    },
  },
];

/** A real notification of the table, by its name. */
export function realNotification(name: string): RealNotification {
  const found = realNotifications.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no real notification named "${name}"`);
  return found;
}
