import { describe, expect, it } from 'vitest';
import { gb28181 } from '../../devices/gb28181/index.ts';
import {
  alarmCodeFor,
  alarmCodeForEvent,
  alarmMethods,
  alarmTypes,
  meaningOfAlarm,
  priorityForSeverity,
} from '../../src/ingest/gb28181/alarm-codes.ts';

/** The GB alarm tables both ways: the 2016 tables as the standard lists them, 2022's additions, and agreement. */

describe('the GB/T 28181 alarm tables', () => {
  it('list the seven methods and the 2016 types per method, plus 2022’s image occlusion', () => {
    expect(Object.keys(alarmMethods).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Object.keys(alarmTypes[2] ?? {}).map(Number)).toEqual([1, 2, 3, 4, 5]);
    expect(Object.keys(alarmTypes[5] ?? {}).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(Object.keys(alarmTypes[6] ?? {}).map(Number)).toEqual([1, 2]);
    const since2022 = Object.entries(alarmTypes).flatMap(([method, types]) =>
      Object.entries(types)
        .filter(([, meaning]) => meaning.since === '2022')
        .map(([type]) => `${method}/${type}`),
    );
    expect(since2022).toEqual(['5/13']);
  });

  it('read an unknown type as its method’s meaning, flagged unknown; an unknown method as a general alarm', () => {
    expect(meaningOfAlarm(2, 99)).toMatchObject({ event: 'alarm.input', known: false });
    expect(meaningOfAlarm(5, 2)).toMatchObject({ event: 'camera.motion', known: true });
    expect(meaningOfAlarm(42)).toMatchObject({ event: 'alarm.general', known: false });
  });

  it('map every outbound code back to the event it came from', () => {
    for (const [event, code] of alarmCodeForEvent) {
      if (!(event in gb28181.events)) continue; // other families' events, mapped by hand
      expect(meaningOfAlarm(code.method, code.alarmType, code.eventType).event, event).toBe(event);
    }
  });

  it('give other families’ events and categories a code, and 7 other for the rest', () => {
    expect(alarmCodeFor('camera.line_crossed')).toMatchObject({ method: 5, alarmType: 5 });
    expect(alarmCodeFor('camera.region_entered')).toMatchObject({ method: 5, alarmType: 6, eventType: 1 });
    expect(alarmCodeFor('door.forced_open')).toMatchObject({ method: 2 });
    expect(alarmCodeFor('guard.check_in_missed', 'duty')).toEqual({ method: 7 });
    expect(alarmCodeFor('unmapped.event', 'intrusion')).toEqual({ method: 5, alarmType: 6 });
  });

  it('send a 2016 superior no 2022 code', () => {
    expect(alarmCodeFor('camera.tamper')).toMatchObject({ method: 5, alarmType: 13 });
    expect(alarmCodeFor('camera.tamper', undefined, '2016')).toMatchObject({ method: 5, alarmType: 11 });
  });

  it('map severities to priorities, critical the most urgent', () => {
    expect(priorityForSeverity).toEqual({ critical: 1, major: 2, warning: 3, info: 4 });
  });
});
