import { describe, expect, it } from 'vitest';
import { onvifCamera } from '../../devices/onvif-camera/index.ts';
import { toNotification } from '../../src/cameras/sessions/onvif-session.ts';
import type { OnvifNotification } from '../../src/core/adapter.ts';

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

describe("reading the onvif client's notification messages", () => {
  it('takes the topic without its prefix, the UtcTime, the operation and the simple items', () => {
    const raw = {
      topic: {
        _: 'tns1:RuleEngine/FieldDetector/ObjectsInside',
        $: { Dialect: 'http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet' },
      },
      message: {
        message: {
          $: { UtcTime: '2026-11-22T08:00:00Z', PropertyOperation: 'Changed' },
          source: {
            simpleItem: [
              { $: { Name: 'VideoSourceConfigurationToken', Value: 'vsc-1' } },
              { $: { Name: 'Rule', Value: 'yard' } },
            ],
          },
          data: { simpleItem: { $: { Name: 'IsInside', Value: true } } },
        },
      },
    };
    expect(toNotification(raw, 0)).toEqual({
      topic: 'RuleEngine/FieldDetector/ObjectsInside',
      time,
      operation: 'Changed',
      source: { VideoSourceConfigurationToken: 'vsc-1', Rule: 'yard' },
      data: { IsInside: 'true' },
    });
  });

  it('falls back to the hub’s time without a UtcTime, and refuses a message without a topic', () => {
    expect(toNotification({ topic: { _: 'tns1:VideoSource/MotionAlarm' }, message: {} }, 42)).toEqual({
      topic: 'VideoSource/MotionAlarm',
      time: 42,
      operation: 'Changed',
      source: {},
      data: {},
    });
    expect(toNotification({ message: {} }, 42)).toBeUndefined();
    expect(toNotification(null as unknown, 42)).toBeUndefined();
  });
});
