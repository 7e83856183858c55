import { beforeEach, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/config/schema.ts';
import type { ResolvedDevice } from '../../src/core/device.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { Incident } from '../../src/core/incident.ts';
import { fixedPeople } from '../../src/core/user.ts';
import { ActiveIncidents } from '../../src/incidents/active-incidents.ts';
import { lifecycleContextOf } from '../../src/incidents/incident-actions.ts';
import { incidentMetrics } from '../../src/incidents/incident-metrics.ts';
import type { IncidentWriter, RaisingWriter } from '../../src/incidents/incident-writer.ts';
import { IncidentRaising } from '../../src/incidents/raising-steps.ts';
import { Router } from '../../src/incidents/router.ts';
import { RuleBook } from '../../src/incidents/rule-book.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { demoDeployment } from '../helpers/hub.ts';

const settled = Promise.resolve();

/**
 * A writer that writes nothing: it records which kind of change each step asked for, and keeps what it is asked to
 * keep in the active view as the real ones do. The steps' decisions, without a store.
 */
class RecordingWriter implements RaisingWriter {
  readonly writes: string[] = [];
  readonly committed = new Set<string>();
  readonly #active: ActiveIncidents;

  constructor(active: ActiveIncidents) {
    this.#active = active;
  }

  readonly redelivered: IncidentWriter['redelivered'] = {
    name: 'redelivered',
    handle: (raising, next) => {
      const key = raising.event.key;
      if (key !== undefined && this.committed.has(key)) {
        this.writes.push(`redelivered ${key}`);
        return settled;
      }
      return next(raising);
    },
  };

  raise: IncidentWriter['raise'] = (raising, steps) => {
    raising.now = Date.now();
    raising.open = this.#active.openOf(raising.device.id, raising.event.type);
    return steps(raising);
  };

  repeat: IncidentWriter['repeat'] = (_raising, open) => {
    this.writes.push(`repeat ${open.id}`);
    return settled;
  };

  join: IncidentWriter['join'] = (incidentId, join) => {
    const before = this.#active.get(incidentId) as Incident;
    const after = join.change(before);
    this.#active.remember(after);
    this.writes.push(`join ${incidentId} ${after.severity} ${after.title}`);
    return settled;
  };

  group: IncidentWriter['group'] = (storm, grouped) => {
    this.writes.push(`group ${storm.id} ${grouped.deviceId}`);
    return settled;
  };

  create: IncidentWriter['create'] = (incident, _raising, adopt) => {
    this.writes.push(`create ${incident.category} ${incident.state}`);
    adopt(incident);
    return settled;
  };

  createStorm: IncidentWriter['createStorm'] = (storm) => {
    this.#active.remember(storm);
    this.writes.push(`storm ${storm.gridId} ${storm.related.map((event) => event.deviceId).join(',')}`);
    return settled;
  };
}

describe('IncidentRaising', () => {
  const deployment = demoDeployment();
  const book = new RuleBook(deployment.rules, { correlations: deployment.correlations });
  const device = (id: string) =>
    deployment.devices.find((candidate) => candidate.id === id) as ResolvedDevice;
  const north = device('gate-xijiao-01-north');
  const south = device('gate-xijiao-01-south');
  let active: ActiveIncidents;
  let writer: RecordingWriter;
  let raising: IncidentRaising;
  let seq = 0;

  const event = (deviceId: string, type: string, key?: string): DeviceEvent => ({
    deviceId,
    type,
    occurredAt: Date.now(),
    attributes: { seq: seq++ },
    ...(key === undefined ? {} : { key }),
  });
  const raise = (
    at: ResolvedDevice,
    type: string,
    rule: RuleConfig = book.ruleFor(type) as RuleConfig,
    key?: string,
  ) => raising.raise(event(at.id, type, key), at, rule, performance.now(), book.correlationsOf(type));

  beforeEach(() => {
    active = new ActiveIncidents(() => undefined);
    writer = new RecordingWriter(active);
    raising = new IncidentRaising({
      writer,
      active,
      router: new Router(
        fixedPeople(deployment.users),
        deployment.rosters,
        deployment.routing,
        deployment.settings.timezone,
      ),
      metrics: incidentMetrics(new MetricsRegistry()),
      deadlineMs: lifecycleContextOf(deployment.deadlines, deployment.jurisdiction).deadlineMs,
      flood: deployment.flood,
    });
  });

  it('goes through its steps in order: redelivered, repeat, correlated join, storm, create and route', () => {
    expect(raising.steps.map((step) => step.name)).toEqual([
      'redelivered',
      'repeat',
      'correlated join',
      'storm',
      'create and route',
    ]);
  });

  it('creates and routes a first event, folds its repeat, and lets a redelivered event change nothing', async () => {
    await raise(north, 'door.held_open', undefined, 'north/1');
    const [created] = [...active.values()];
    await raise(north, 'door.held_open');
    writer.committed.add('north/1');
    await raise(north, 'door.held_open', undefined, 'north/1');
    expect(writer.writes).toEqual([
      `create access_violation ${created?.state}`,
      `repeat ${created?.id}`,
      'redelivered north/1',
    ]);
  });

  it('joins another device’s correlated event to the first device’s incident, raising its severity', async () => {
    await raise(north, 'door.forced_open');
    const [breach] = [...active.values()];
    await raise(south, 'access.tailgating');
    expect(writer.writes).toEqual([
      `create intrusion ${breach?.state}`,
      `join ${breach?.id} critical Perimeter breach`,
    ]);
  });

  it('groups a flooded grid’s events into one storm incident, but never an emergency', async () => {
    const flood = deployment.flood?.maxIncidents ?? 0;
    expect(flood).toBeGreaterThan(0);
    // No dedupe window: every event of the rule is a new incident until the grid floods.
    const held = { ...(book.ruleFor('door.held_open') as RuleConfig), dedupeSeconds: 0 };
    for (let count = 0; count < flood; count++) await raise(north, 'door.held_open', held);
    await raise(south, 'door.held_open', held);
    const storm = [...active.values()].find((incident) => incident.category === 'storm');
    await raise(north, 'door.held_open', held);
    await raise(north, 'alarm.panic');
    expect(writer.writes.slice(flood)).toEqual([
      `storm ${north.grid.ref.id} ${south.id}`,
      `group ${storm?.id} ${north.id}`,
      expect.stringMatching(/^create emergency /),
    ]);
  });
});
