import { describe, expect, it } from 'vitest';
import type { RuleDescription } from '../../src/core/rule.ts';
import { consoleSettingsOf } from '../../src/incidents/console-settings.ts';
import { deadlineMsOf } from '../../src/incidents/incident-actions.ts';

function rule(event: string, category: string): RuleDescription {
  return { event, category, severity: 'major', title: event, dedupeSeconds: 60 };
}

const rules = [
  rule('door.forced_open', 'intrusion'),
  rule('alarm.intrusion', 'intrusion'),
  rule('device.offline', 'device_offline'),
];
const deadlines = {
  default: { acceptMinutes: 10, arriveMinutes: 30, resolveMinutes: 240 },
  // A category no rule raises: its deadlines are configured, but no incident can have it.
  categories: {
    intrusion: { acceptMinutes: 5, arriveMinutes: 15, resolveMinutes: 120 },
    noise: { acceptMinutes: 1, arriveMinutes: 1, resolveMinutes: 1 },
  },
};

describe('the console settings', () => {
  it('lists each category the rules raise once, sorted, with the deadlines the lifecycle applies to it', () => {
    const settings = consoleSettingsOf({
      timeZone: 'Asia/Urumqi',
      rules,
      flood: { maxIncidents: 0, windowSeconds: 60 },
      deadlineMs: deadlineMsOf(deadlines),
    });
    expect(settings).toEqual({
      timeZone: 'Asia/Urumqi',
      categories: ['device_offline', 'intrusion'],
      deadlinesMs: {
        device_offline: { accept: 600_000, arrive: 1_800_000, resolve: 14_400_000 },
        intrusion: { accept: 300_000, arrive: 900_000, resolve: 7_200_000 },
      },
    });
  });

  it('adds the storm category only while flood control is on', () => {
    const flooded = consoleSettingsOf({
      timeZone: 'Asia/Shanghai',
      rules,
      flood: { maxIncidents: 20, windowSeconds: 60 },
      deadlineMs: deadlineMsOf(deadlines),
    });
    expect(flooded.categories).toEqual(['device_offline', 'intrusion', 'storm']);
    expect(flooded.deadlinesMs.storm).toEqual({ accept: 600_000, arrive: 1_800_000, resolve: 14_400_000 });
  });
});
