import type { DeviceAdapter, OnvifNotification, OnvifTopicDecoder } from '../../src/core/adapter.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';

/**
 * ONVIF IP cameras (Profile S/T), the main technical-defence hardware of a grid. The hub connects to the camera
 * (WS-Security UsernameToken), subscribes to its events with a PullPoint and turns the analytics it reports into
 * normalized events. See README.md beside this file.
 */

/** ONVIF booleans arrive as the strings "true"/"false". */
const isTrue = (value: string | undefined): boolean => value === 'true' || value === '1';

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

/** A state topic: an event when it turns active, another when it goes back to idle (which clears it). */
function stateTopic(active: string, cleared: string, item: string): OnvifTopicDecoder {
  return (notification) =>
    isTrue(notification.data[item])
      ? event(active, notification, origin(notification))
      : notification.operation === 'Initialized'
        ? undefined
        : event(cleared, notification, origin(notification));
}

export const onvifCamera: DeviceAdapter = {
  id: 'onvif-camera',
  transport: 'onvif',
  vendor: 'Any ONVIF Profile S/T camera',
  models: ['ONVIF Profile S', 'ONVIF Profile T'],
  description: 'IP cameras: motion, tamper (global scene change), line crossing and field intrusion.',
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
  },
  channels: {},
  commands: {},
  // A healthy session hears from the camera at least every few seconds (see src/cameras/sessions/onvif-session.ts).
  liveness: { heartbeatSeconds: 5, offlineAfterSeconds: 90 },
  onvifTopics: {
    'VideoSource/MotionAlarm': stateTopic('camera.motion', 'camera.motion_ended', 'State'),
    'RuleEngine/CellMotionDetector/Motion': stateTopic('camera.motion', 'camera.motion_ended', 'IsMotion'),
    'VideoSource/GlobalSceneChange/ImagingService': stateTopic(
      'camera.tamper',
      'camera.tamper_ended',
      'State',
    ),
    'RuleEngine/TamperDetector/Tamper': stateTopic('camera.tamper', 'camera.tamper_ended', 'IsTamper'),
    'RuleEngine/FieldDetector/ObjectsInside': stateTopic(
      'camera.intrusion',
      'camera.intrusion_ended',
      'IsInside',
    ),
    'RuleEngine/LineDetector/Crossed': (notification) =>
      event('camera.line_crossed', notification, {
        ...origin(notification),
        ...(notification.data.ObjectId === undefined ? {} : { objectId: notification.data.ObjectId }),
      }),
  },
};
