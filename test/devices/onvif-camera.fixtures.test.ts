import { describe, expect, it } from 'vitest';
import { onvifCamera } from '../../devices/onvif-camera/index.ts';
import { normalizeTopic, toNotification } from '../../src/cameras/sessions/onvif-session.ts';
import type { OnvifNotification } from '../../src/core/adapter.ts';
import { parseXml } from '../../src/net/xml.ts';
import { namespaces, notificationMessage, realNotifications } from './onvif-camera.real-notifications.ts';

const time = Date.parse('2026-11-22T08:00:00Z');
const note = (
  topic: string,
  data: Record<string, string>,
  extra: Partial<OnvifNotification> = {},
): OnvifNotification => ({
  topic,
  time,
  operation: 'Changed',
  source: { VideoSourceConfigurationToken: 'vsc-1' },
  data,
  ...extra,
});

/** Notification → normalized event, per topic of the adapter (the fixture table). */
const onvifCameraFixtures: { name: string; notification: OnvifNotification; expected: unknown }[] = [
  {
    name: 'motion alarm on',
    notification: note('VideoSource/MotionAlarm', { State: 'true' }),
    expected: { type: 'camera.motion', occurredAt: time, attributes: { source: 'vsc-1' } },
  },
  {
    name: 'motion alarm off',
    notification: note('VideoSource/MotionAlarm', { State: 'false' }),
    expected: { type: 'camera.motion_ended', occurredAt: time, attributes: { source: 'vsc-1' } },
  },
  {
    name: 'the initial idle state of a subscription says nothing',
    notification: note('VideoSource/MotionAlarm', { State: 'false' }, { operation: 'Initialized' }),
    expected: undefined,
  },
  {
    name: 'cell motion detector',
    notification: note(
      'RuleEngine/CellMotionDetector/Motion',
      { IsMotion: 'true' },
      { source: { Rule: 'MyMotionDetectorRule' } },
    ),
    expected: { type: 'camera.motion', occurredAt: time, attributes: { source: 'MyMotionDetectorRule' } },
  },
  {
    name: 'global scene change is tamper',
    notification: note('VideoSource/GlobalSceneChange/ImagingService', { State: 'true' }),
    expected: { type: 'camera.tamper', occurredAt: time, attributes: { source: 'vsc-1' } },
  },
  {
    name: 'line crossed with its object',
    notification: note(
      'RuleEngine/LineDetector/Crossed',
      { ObjectId: '7' },
      { source: { Rule: 'gate-line' } },
    ),
    expected: {
      type: 'camera.line_crossed',
      occurredAt: time,
      attributes: { source: 'gate-line', objectId: '7' },
    },
  },
  {
    name: 'field intrusion',
    notification: note(
      'RuleEngine/FieldDetector/ObjectsInside',
      { IsInside: 'true' },
      { source: { Rule: 'yard' } },
    ),
    expected: { type: 'camera.intrusion', occurredAt: time, attributes: { source: 'yard' } },
  },
  {
    name: 'field clear again',
    notification: note(
      'RuleEngine/FieldDetector/ObjectsInside',
      { IsInside: 'false' },
      { source: { Rule: 'yard' } },
    ),
    expected: { type: 'camera.intrusion_ended', occurredAt: time, attributes: { source: 'yard' } },
  },
];

describe('the onvif-camera adapter', () => {
  it.each(onvifCameraFixtures)('decodes $name', ({ notification, expected }) => {
    const decode = onvifCamera.onvifTopics?.[notification.topic];
    expect(decode).toBeTypeOf('function');
    expect(decode?.(notification)).toEqual(expected);
  });

  it('declares every event type its decoders produce', () => {
    for (const { notification, expected } of onvifCameraFixtures) {
      const type = (
        onvifCamera.onvifTopics?.[notification.topic]?.(notification) as { type: string } | undefined
      )?.type;
      if (expected !== undefined) expect(Object.keys(onvifCamera.events)).toContain(type);
    }
  });
});

describe("real cameras' notifications (public test data and specifications)", () => {
  it.each(realNotifications)('decodes $name', ({ xml, expected, provenance }) => {
    expect(provenance).not.toBe('');
    const notification = toNotification(parseXml(xml), 0);
    expect(notification).toBeDefined();
    const decode = onvifCamera.onvifTopics?.[notification?.topic ?? ''];
    expect(decode, `a decoder for ${notification?.topic}`).toBeTypeOf('function');
    expect(decode?.(notification as OnvifNotification)).toEqual(expected);
  });

  it('declares every event type the real notifications produce', () => {
    for (const { expected } of realNotifications) {
      if (expected === undefined) continue;
      expect(Object.keys(onvifCamera.events)).toContain((expected as { type: string }).type);
    }
  });
});

describe('reading notification messages', () => {
  it('takes the topic without its prefixes, the UtcTime, the operation and the simple items', () => {
    const message = parseXml(
      notificationMessage({
        topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside',
        utcTime: '2026-11-22T08:00:00Z',
        operation: 'Changed',
        source: { VideoSourceConfigurationToken: 'vsc-1', Rule: 'yard' },
        data: { IsInside: 'true' },
      }),
    );
    expect(toNotification(message, 0)).toEqual({
      topic: 'RuleEngine/FieldDetector/ObjectsInside',
      time,
      operation: 'Changed',
      source: { VideoSourceConfigurationToken: 'vsc-1', Rule: 'yard' },
      data: { IsInside: 'true' },
    });
  });

  it("moves the camera's UtcTime onto the hub's clock by the camera's clock offset", () => {
    const message = parseXml(
      notificationMessage({
        topic: 'tns1:VideoSource/MotionAlarm',
        utcTime: '2026-11-22T09:00:00Z',
        source: {},
        data: { State: 'true' },
      }),
    );
    // The camera runs an hour fast.
    expect(toNotification(message, 0, 3_600_000)?.time).toBe(time);
  });

  it('falls back to the hub’s time without a UtcTime, and refuses a message without a topic', () => {
    const bare = parseXml(
      `<wsnt:NotificationMessage ${namespaces}><wsnt:Topic>tns1:VideoSource/MotionAlarm</wsnt:Topic><wsnt:Message/></wsnt:NotificationMessage>`,
    );
    expect(toNotification(bare, 42)).toEqual({
      topic: 'VideoSource/MotionAlarm',
      time: 42,
      operation: 'Changed',
      source: {},
      data: {},
    });
    const topicless = parseXml(
      `<wsnt:NotificationMessage ${namespaces}><wsnt:Message/></wsnt:NotificationMessage>`,
    );
    expect(toNotification(topicless, 42)).toBeUndefined();
  });

  it.each([
    ['tns1:RuleEngine/CellMotionDetector/Motion', 'RuleEngine/CellMotionDetector/Motion'],
    ['tns1:RuleEngine/CellMotionDetector/Motion/', 'RuleEngine/CellMotionDetector/Motion'],
    ['tns1:RuleEngine/CellMotionDetector/Motion//.', 'RuleEngine/CellMotionDetector/Motion'],
    ['tns1:Device/Trigger/tnshik:AlarmIn', 'Device/Trigger/AlarmIn'],
    [' tns1:UserAlarm/tns1:IVA/HumanShapeDetect\n', 'UserAlarm/IVA/HumanShapeDetect'],
  ])('normalizes the topic %j to %j', (topic, expected) => {
    expect(normalizeTopic(topic)).toBe(expected);
  });
});
