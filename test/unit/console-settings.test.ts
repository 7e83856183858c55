import { describe, expect, it } from 'vitest';
import type { RuleDescription } from '../../src/core/rule.ts';
import { consoleSettingsOf, type MapSettings, tileOrigins } from '../../src/incidents/console-settings.ts';
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

const noTiles: MapSettings = { coordinates: 'WGS84', tiles: null };

describe('the console settings', () => {
  it('lists each category the rules raise once, sorted, with the deadlines the lifecycle applies to it', () => {
    const settings = consoleSettingsOf({
      timeZone: 'Asia/Urumqi',
      rules,
      flood: { maxIncidents: 0, windowSeconds: 60 },
      deadlineMs: deadlineMsOf(deadlines),
      map: noTiles,
    });
    expect(settings).toEqual({
      timeZone: 'Asia/Urumqi',
      categories: ['device_offline', 'intrusion'],
      deadlinesMs: {
        device_offline: { accept: 600_000, arrive: 1_800_000, resolve: 14_400_000 },
        intrusion: { accept: 300_000, arrive: 900_000, resolve: 7_200_000 },
      },
      map: noTiles,
    });
  });

  it('adds the storm category only while flood control is on', () => {
    const flooded = consoleSettingsOf({
      timeZone: 'Asia/Shanghai',
      rules,
      flood: { maxIncidents: 20, windowSeconds: 60 },
      deadlineMs: deadlineMsOf(deadlines),
      map: noTiles,
    });
    expect(flooded.categories).toEqual(['device_offline', 'intrusion', 'storm']);
    expect(flooded.deadlinesMs.storm).toEqual({ accept: 600_000, arrive: 1_800_000, resolve: 14_400_000 });
  });

  it("names the tile servers' origins for the pages' Content-Security-Policy, one per subdomain", () => {
    const tiles = (url: string, subdomains = '') => ({
      coordinates: 'WGS84' as const,
      tiles: { url, subdomains, coordinates: 'GCJ02' as const, attribution: '', maxZoom: 18 },
    });
    expect(tileOrigins(noTiles)).toEqual([]);
    expect(tileOrigins(tiles('https://tiles.example.org/{z}/{x}/{y}.png'))).toEqual([
      'https://tiles.example.org',
    ]);
    expect(
      tileOrigins(tiles('https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8', '1234')),
    ).toEqual([
      'https://webrd01.is.autonavi.com',
      'https://webrd02.is.autonavi.com',
      'https://webrd03.is.autonavi.com',
      'https://webrd04.is.autonavi.com',
    ]);
    expect(tileOrigins(tiles('http://10.0.0.5:8080/{z}/{x}/{y}.png'))).toEqual(['http://10.0.0.5:8080']);
  });
});
