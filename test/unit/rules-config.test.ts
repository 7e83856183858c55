import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/schema.ts';
import { GridhubError } from '../../src/core/errors.ts';
import { demoConfig, demoDeployment, deploymentOf } from '../helpers/hub.ts';

/** The problems a configuration is refused with (none when it resolves). */
function problemsOf(change: (config: ConfigFile) => void): string[] {
  const config = demoConfig();
  change(config);
  try {
    deploymentOf(config);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(GridhubError);
    return [...(error as GridhubError).problems];
  }
}

describe('the incident rules in the configuration', () => {
  it('ships a demo correlation, a suppression schedule and flood control, passed through the deployment', () => {
    const deployment = demoDeployment();
    expect(deployment.correlations).toEqual([
      {
        id: 'perimeter-breach',
        events: ['door.forced_open', 'alarm.intrusion', 'access.tailgating'],
        windowSeconds: 120,
        severity: 'critical',
        title: 'Perimeter breach',
      },
    ]);
    expect(deployment.suppressions.map((suppression) => suppression.id)).toEqual([
      'zhenxing-04-morning-deliveries',
    ]);
    expect(deployment.flood).toEqual({ maxIncidents: 20, windowSeconds: 60 });
    // The demo's sentry box shares Xijiao grid 1 with two gates: a breach there correlates across families.
    const inGrid = deployment.devices.filter((device) => device.grid.ref.id === 'grid-xijiao-01');
    expect(inGrid.map((device) => [device.id, device.adapter.id])).toEqual([
      ['gate-xijiao-01-north', 'gate-access'],
      ['gate-xijiao-01-south', 'gate-access'],
      ['sentry-xijiao-01', 'sentry-box'],
    ]);
  });

  it('defaults to no correlations, no schedules and flood control at 20 incidents a minute', () => {
    const config = demoConfig() as Partial<ConfigFile>;
    delete config.correlations;
    delete config.suppressions;
    delete config.flood;
    const deployment = deploymentOf(config);
    expect(deployment.correlations).toEqual([]);
    expect(deployment.suppressions).toEqual([]);
    expect(deployment.flood).toEqual({ maxIncidents: 20, windowSeconds: 60 });
  });

  it('reports every problem of the correlations at once, each with its path', () => {
    const problems = problemsOf((config) => {
      config.correlations = [
        {
          id: 'twice',
          events: ['door.forced_open', 'door.forced_open'],
          windowSeconds: 60,
          severity: 'major',
        },
        { id: 'twice', events: ['door.exploded', 'access.granted'], windowSeconds: 60, severity: 'major' },
      ];
    });
    expect(problems).toEqual([
      'correlations: id "twice" is used more than once',
      'correlations[0].events: "door.forced_open" is listed more than once',
      'correlations[1].events[0]: no adapter emits "door.exploded"',
      'correlations[1].events[1]: no rule raises "access.granted", so it can join nothing',
    ]);
  });

  it('refuses a correlation of one event, a window of zero and an unknown severity', () => {
    const problems = problemsOf((config) => {
      config.correlations = [
        { id: 'alone', events: ['door.forced_open'], windowSeconds: 0, severity: 'urgent' as 'major' },
      ];
    });
    expect(problems).toEqual([
      expect.stringMatching(/^correlations\[0\]\.events: a correlation joins at least two event types/),
      expect.stringMatching(/^correlations\[0\]\.windowSeconds: /),
      expect.stringMatching(/^correlations\[0\]\.severity: /),
    ]);
  });

  it('reports every problem of the suppression schedules at once, each with its path', () => {
    const problems = problemsOf((config) => {
      config.suppressions = [
        {
          id: 'quiet',
          events: ['door.exploded', 'access.granted'],
          categories: ['gossip'],
          grids: ['grid-atlantis'],
          from: '22:00',
          to: '06:00',
        },
        { id: 'quiet', from: '00:00', to: '00:00' },
      ];
    });
    expect(problems).toEqual([
      'suppressions: id "quiet" is used more than once',
      'suppressions[0].events[0]: no adapter emits "door.exploded"',
      'suppressions[0].events[1]: no rule raises "access.granted", so there is nothing to suppress',
      'suppressions[0].categories[0]: no rule has category "gossip"',
      'suppressions[0].grids[0]: no grid "grid-atlantis"',
    ]);
  });

  it('refuses clock times that are not HH:MM and weekdays outside 1–7', () => {
    const problems = problemsOf((config) => {
      config.suppressions = [{ id: 'late', days: [0, 8], from: '24:00', to: '7:00' }];
    });
    expect(problems).toEqual([
      expect.stringMatching(/^suppressions\[0\]\.days\[0\]: /),
      expect.stringMatching(/^suppressions\[0\]\.days\[1\]: /),
      'suppressions[0].from: must be HH:MM, 00:00 to 23:59',
      'suppressions[0].to: must be HH:MM, 00:00 to 23:59',
    ]);
  });

  it('refuses a negative flood limit and keeps the storm category for flood control', () => {
    const problems = problemsOf((config) => {
      config.flood = { maxIncidents: -1, windowSeconds: 60 };
    });
    expect(problems).toEqual([expect.stringMatching(/^flood\.maxIncidents: /)]);
    const storm = problemsOf((config) => {
      const rule = config.rules.find((candidate) => candidate.event === 'door.held_open');
      if (rule !== undefined) rule.category = 'storm';
    });
    expect(storm).toEqual([
      expect.stringMatching(/^rules\[\d+\]\.category: "storm" is kept for alarm storms/),
    ]);
  });

  it('accepts flood control switched off', () => {
    expect(problemsOf((config) => (config.flood = { maxIncidents: 0, windowSeconds: 60 }))).toEqual([]);
  });
});
