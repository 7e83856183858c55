import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import type { DeviceView } from '../../src/fleet/fleet.ts';
import { localTime } from '../../src/incidents/router.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSentry,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/** The demo with every device quiet (never offline during a test) unless it is given its own threshold. */
function quietDemo(offlineAfterSeconds: Record<string, number> = {}) {
  const config = demoConfig();
  for (const device of config.devices) device.offlineAfterSeconds = offlineAfterSeconds[device.id] ?? 3600;
  return config;
}

function gate(
  hub: TestHub,
  deviceId: string,
  options: { clock?: () => Date; heartbeatSeconds?: number } = {},
) {
  return demoGate(hub.mqttUrl, deviceId, options);
}

function sentry(hub: TestHub, deviceId: string) {
  return demoSentry(hub.mqttUrl, deviceId);
}

/** Watches one client's pushes and hands out each incident:new once, by device (or any other test). */
function pushesOf(client: () => RecordingClient) {
  const taken = new Set<string>();
  return {
    async created(test: (incident: Incident) => boolean): Promise<Incident> {
      for (let n = 1; ; n++) {
        const incident = (await client().nth('incident:new', n)) as Incident;
        if (test(incident) && !taken.has(incident.id)) {
          taken.add(incident.id);
          return incident;
        }
      }
    },
    async updated(incidentId: string, test: (change: IncidentChange) => boolean = () => true) {
      for (let n = 1; ; n++) {
        const change = (await client().nth('incident:update', n)) as IncidentChange;
        if (change.after.id === incidentId && test(change)) return change;
      }
    },
    createdBy(deviceId: string): Incident[] {
      return (client().of('incident:new') as Incident[]).filter(
        (incident) => incident.device.id === deviceId,
      );
    },
    updatesOf(incidentId: string): IncidentChange[] {
      return (client().of('incident:update') as IncidentChange[]).filter(
        (change) => change.after.id === incidentId,
      );
    },
  };
}

const isoTime = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

async function deleteJson(url: string, token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

/** ISO weekday (1 = Monday) in the hub's time zone, today and tomorrow. */
function todayAndTomorrowInShanghai(): number[] {
  const clock = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const { day } = localTime(Date.now(), clock);
  return [day, (day % 7) + 1];
}

describe('correlation: events of different devices in one grid join one incident and raise its severity', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  const pushes = pushesOf(() => officer);
  const sims: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    const config = quietDemo();
    config.correlations = [
      {
        id: 'coordinated-entry',
        events: ['access.tailgating', 'door.forced_open'],
        windowSeconds: 60,
        severity: 'critical',
        title: 'Coordinated entry',
      },
      {
        id: 'breach',
        events: ['door.forced_open', 'alarm.intrusion'],
        windowSeconds: 60,
        severity: 'critical',
      },
      {
        id: 'propped',
        events: ['door.held_open', 'access.anti_passback'],
        windowSeconds: 0.5,
        severity: 'major',
      },
    ];
    hub = await startTestHub({ deployment: deploymentOf(config) });
    officer = await connectClient(hub.httpUrl, 'demo-officer-qinghe');
  });

  afterAll(async () => {
    officer?.close();
    for (const sim of sims) await sim.stop();
    await hub?.stop();
  });

  async function started<T extends { start(): Promise<void>; stop(): Promise<void> }>(sim: T): Promise<T> {
    await sim.start();
    sims.push(sim);
    return sim;
  }

  const correlated = () => metricValue(hub.httpUrl, 'gridhub_events_correlated_total');

  it("joins the south gate's forced door to the north gate's tailgating: one incident, raised to critical, audited", async () => {
    const north = await started(
      gate(hub, 'gate-xijiao-01-north', { clock: () => new Date('2026-11-22T08:00:00.000Z') }),
    );
    const south = await started(
      gate(hub, 'gate-xijiao-01-south', { clock: () => new Date('2026-11-22T08:00:20.000Z') }),
    );
    await north.tailgate({ followers: 2 });
    const tailgating = await pushes.created((incident) => incident.device.id === 'gate-xijiao-01-north');
    expect(tailgating).toMatchObject({ severity: 'warning', title: 'Tailgating', related: [] });

    await south.forceDoor(2);
    const change = await pushes.updated(tailgating.id);
    expect(change.before).toEqual(tailgating);
    expect(change.after).toEqual({
      ...tailgating,
      severity: 'critical',
      title: 'Coordinated entry',
      related: [
        {
          deviceId: 'gate-xijiao-01-south',
          type: 'door.forced_open',
          occurredAt: '2026-11-22T08:00:20.000Z',
        },
      ],
      updatedAt: isoTime,
    });
    expect(await correlated()).toBe(1);

    const stored = await getJson(`${hub.httpUrl}/api/incidents/${tailgating.id}`, 'demo-officer-qinghe');
    expect(stored.body).toEqual(change.after);
    const audit = await getJson(`${hub.httpUrl}/api/incidents/${tailgating.id}/audit`, 'demo-officer-qinghe');
    const entries = (audit.body as { entries: AuditEntry[] }).entries;
    expect(entries.map((entry) => entry.action)).toEqual(['incident.create', 'incident.correlate']);
    expect(entries[1]).toMatchObject({
      actor: { userId: 'system', role: 'system' },
      outcome: 'ok',
      detail: {
        correlation: 'coordinated-entry',
        deviceId: 'gate-xijiao-01-south',
        eventType: 'door.forced_open',
        severity: 'critical',
      },
    });

    // A barrier: a later incident of the grid arrives after any incident the forced door would have made.
    await north.holdDoor(1, 300);
    await pushes.created((incident) => incident.event.type === 'door.held_open');
    expect(pushes.createdBy('gate-xijiao-01-south')).toEqual([]);
  });

  it("joins a gate's forced door to the sentry box's intrusion alarm in the same grid", async () => {
    const box = await started(sentry(hub, 'sentry-zhenxing-02'));
    const door = await started(gate(hub, 'gate-zhenxing-02-north'));
    const before = await correlated();
    await box.zoneAlarm(3, 'fence');
    const intrusion = await pushes.created((incident) => incident.device.id === 'sentry-zhenxing-02');
    expect(intrusion).toMatchObject({
      category: 'intrusion',
      severity: 'critical',
      gridId: 'grid-zhenxing-02',
    });

    const sent = await door.forceDoor(1);
    const change = await pushes.updated(intrusion.id);
    expect(change.after.related).toEqual([
      { deviceId: 'gate-zhenxing-02-north', type: 'door.forced_open', occurredAt: sent.time },
    ]);
    // Already critical: the severity stays, and the breach correlation has no title to give.
    expect(change.after).toMatchObject({
      severity: 'critical',
      title: 'Intrusion zone alarm',
      occurrences: 1,
    });
    expect(await correlated()).toBe(before + 1);
  });

  it('never joins events of different grids, nor a device to its own incident', async () => {
    const grid2 = await started(gate(hub, 'gate-xijiao-02-east'));
    const grid3 = await started(gate(hub, 'gate-xijiao-03-north'));
    const before = await correlated();
    await grid2.tailgate();
    const tailgating = await pushes.created((incident) => incident.device.id === 'gate-xijiao-02-east');
    await grid3.forceDoor();
    const forced = await pushes.created((incident) => incident.device.id === 'gate-xijiao-03-north');
    expect([tailgating.gridId, forced.gridId]).toEqual(['grid-xijiao-02', 'grid-xijiao-03']);

    // The same device's next event is its own incident (or dedupe's business), never a correlation.
    await grid2.forceDoor();
    const own = await pushes.created((incident) => incident.device.id === 'gate-xijiao-02-east');
    expect(own).toMatchObject({ event: { type: 'door.forced_open' }, related: [] });
    expect(pushes.updatesOf(tailgating.id)).toEqual([]);
    expect(await correlated()).toBe(before);
  });

  it('joins within the window from the last join, and not once the window has passed', async () => {
    const south = await started(gate(hub, 'gate-luming-01-south'));
    const west = await started(gate(hub, 'gate-luming-01-west'));
    await south.holdDoor(1, 200);
    const held = await pushes.created((incident) => incident.device.id === 'gate-luming-01-south');
    await west.antiPassback();
    const joined = await pushes.updated(held.id);
    expect(joined.after).toMatchObject({ severity: 'major', related: [{ deviceId: 'gate-luming-01-west' }] });

    // The 0.5 s window runs from the join: once it has passed, the next event raises an incident of its own.
    await eventually(() => Date.now() - Date.parse(joined.after.updatedAt) > 600);
    await west.antiPassback();
    const own = await pushes.created((incident) => incident.device.id === 'gate-luming-01-west');
    expect(own).toMatchObject({ event: { type: 'access.anti_passback' }, severity: 'warning', related: [] });
    expect(pushes.updatesOf(held.id)).toHaveLength(1);
  });
});

describe('suppression: maintenance mode per device, and schedules', () => {
  const dataDir = temporaryDirectory();
  let hub: TestHub;
  let officer: RecordingClient;
  const pushes = pushesOf(() => officer);
  const sims: { stop(): Promise<void> }[] = [];
  const deployment = () => {
    const config = quietDemo();
    config.suppressions = [
      {
        id: 'luming-03-doors-today',
        grids: ['grid-luming-03'],
        events: ['door.forced_open'],
        days: todayAndTomorrowInShanghai(),
        from: '00:00',
        to: '00:00',
      },
    ];
    return deploymentOf(config);
  };
  const device = (id: string) => `${hub.httpUrl}/api/devices/${id}`;
  const suppressed = (reason: string) =>
    metricValue(hub.httpUrl, `gridhub_events_suppressed_total{reason="${reason}"}`);

  async function started<T extends { start(): Promise<void>; stop(): Promise<void> }>(sim: T): Promise<T> {
    await sim.start();
    sims.push(sim);
    return sim;
  }

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deployment(), dataDir: dataDir.path, livenessSweepMs: 50 });
    officer = await connectClient(hub.httpUrl, 'demo-officer-qinghe');
  });

  afterAll(async () => {
    officer?.close();
    for (const sim of sims) await sim.stop();
    await hub?.stop();
    dataDir.remove();
  });

  it('lets integrators and admins in scope set maintenance, in minutes or until a time, and refuses the rest', async () => {
    const url = `${device('gate-luming-02-west')}/maintenance`;
    expect((await postJson(url, 'demo-worker-luming-02', { minutes: 30 })).status).toBe(403);
    expect((await postJson(url, 'demo-officer-qinghe', { minutes: 30 })).status).toBe(403);
    const neither = await postJson<{ error: { problems: string[] } }>(url, 'demo-integrator-qinghe', {});
    expect(neither.status).toBe(400);
    expect(neither.body.error.problems).toEqual(['body: give exactly one of minutes and until']);
    const both = await postJson(url, 'demo-integrator-qinghe', { minutes: 5, until: '2030-01-01T00:00:00Z' });
    expect(both.status).toBe(400);
    expect((await postJson(url, 'demo-integrator-qinghe', { minutes: 0 })).status).toBe(400);
    expect((await postJson(url, 'demo-integrator-qinghe', { minutes: 10_081 })).status).toBe(400);
    const past = await postJson<{ error: { problems: string[] } }>(url, 'demo-admin', {
      until: '2020-01-01T00:00:00Z',
    });
    expect(past.status).toBe(400);
    expect(past.body.error.problems).toEqual(['until must lie in the next 10080 minutes']);
    expect(
      (await postJson(`${device('gate-nowhere')}/maintenance`, 'demo-admin', { minutes: 5 })).status,
    ).toBe(404);

    const until = new Date(Date.now() + 3_600_000).toISOString();
    const set = await postJson<DeviceView>(url, 'demo-admin', { until });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ id: 'gate-luming-02-west', maintenanceUntil: until });
    const view = await getJson(device('gate-luming-02-west'), 'demo-officer-qinghe');
    expect((view.body as DeviceView).maintenanceUntil).toBe(until);
    const ended = await deleteJson(url, 'demo-integrator-qinghe');
    expect(ended).toMatchObject({ status: 200, body: { maintenanceUntil: null } });
    expect((await deleteJson(url, 'demo-worker-luming-02')).status).toBe(403);

    const audit = await getJson(`${hub.httpUrl}/api/audit?target=gate-luming-02-west`, 'demo-admin');
    const entries = (audit.body as { entries: AuditEntry[] }).entries.reverse();
    expect(entries.map((entry) => `${entry.actor.userId} ${entry.action} ${entry.outcome}`)).toEqual([
      'admin device.maintenance refused',
      'admin device.maintenance ok',
      'integrator-qinghe device.maintenance ok',
    ]);
    expect(entries.map((entry) => entry.detail)).toEqual([{}, { until }, { until: null }]);
  });

  it('raises nothing for a device in maintenance, still hears it, keeps it across a restart, and raises again once it ends', async () => {
    let west = await started(gate(hub, 'gate-luming-02-west'));
    const url = () => `${device('gate-luming-02-west')}/maintenance`;
    const set = await postJson<DeviceView>(url(), 'demo-integrator-qinghe', { minutes: 30 });
    expect(Date.parse(set.body.maintenanceUntil as string) - Date.now()).toBeGreaterThan(29 * 60_000);
    const sentAt = Date.now();
    await west.forceDoor();
    expect(await suppressed('maintenance')).toBe(1);
    const view = (await getJson(device('gate-luming-02-west'), 'demo-integrator-qinghe')).body as DeviceView;
    expect(view.status.online).toBe(true);
    expect(Date.parse(view.status.lastSeenAt as string)).toBeGreaterThanOrEqual(sentAt);

    // Still in maintenance after a restart.
    await west.stop();
    officer.close();
    await hub.stop();
    hub = await startTestHub({ deployment: deployment(), dataDir: dataDir.path, livenessSweepMs: 50 });
    officer = await connectClient(hub.httpUrl, 'demo-officer-qinghe');
    west = await started(gate(hub, 'gate-luming-02-west'));
    const kept = (await getJson(device('gate-luming-02-west'), 'demo-integrator-qinghe')).body as DeviceView;
    expect(kept.maintenanceUntil).toBe(set.body.maintenanceUntil);
    await west.forceDoor();
    await west.tailgate();
    // The restarted hub counts afresh.
    expect(await suppressed('maintenance')).toBe(2);

    await deleteJson(url(), 'demo-integrator-qinghe');
    await west.forceDoor(2);
    const raised = await pushes.created((incident) => incident.device.id === 'gate-luming-02-west');
    expect(raised.event).toMatchObject({ type: 'door.forced_open', attributes: { door: 2 } });
    expect(pushes.createdBy('gate-luming-02-west')).toHaveLength(1);
    expect(await suppressed('maintenance')).toBe(2);
  });

  it('never suppresses the event that clears an open incident: a device in maintenance still resolves it', async () => {
    const before = await suppressed('maintenance');
    const box = await started(sentry(hub, 'sentry-luming-03'));
    await box.mainsLost();
    const mains = await pushes.created((incident) => incident.device.id === 'sentry-luming-03');
    await postJson(`${device('sentry-luming-03')}/maintenance`, 'demo-integrator-qinghe', { minutes: 60 });
    await box.mainsRestored();
    const cleared = await pushes.updated(mains.id, (change) => change.after.state === 'resolved');
    expect(cleared.after.resolution).toBe('cleared by power.mains_restored');
    await box.mainsLost();
    expect(await suppressed('maintenance')).toBe(before + 1);
    await deleteJson(`${device('sentry-luming-03')}/maintenance`, 'demo-integrator-qinghe');
    await box.mainsLost();
    const again = await pushes.created((incident) => incident.device.id === 'sentry-luming-03');
    expect(again).toMatchObject({ event: { type: 'power.mains_lost' }, state: 'dispatched' });
  });

  it('suppresses by schedule only the events, grids and days it names', async () => {
    const east = await started(gate(hub, 'gate-luming-03-east'));
    const other = await started(gate(hub, 'gate-luming-04-north'));
    await east.forceDoor();
    expect(await suppressed('schedule')).toBe(1);
    // Another event type of the same gate, and the same event in another grid, still raise incidents.
    await east.tailgate();
    const tailgating = await pushes.created((incident) => incident.device.id === 'gate-luming-03-east');
    expect(tailgating.event.type).toBe('access.tailgating');
    await other.forceDoor();
    const elsewhere = await pushes.created((incident) => incident.device.id === 'gate-luming-04-north');
    expect(elsewhere.event.type).toBe('door.forced_open');
    expect(pushes.createdBy('gate-luming-03-east')).toHaveLength(1);
    expect(await suppressed('schedule')).toBe(1);
  });
});

describe('maintenance suppresses device.offline too', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  let north: GateSimulator;
  let south: GateSimulator;
  const status = async (id: string) =>
    ((await getJson(`${hub.httpUrl}/api/devices/${id}`, 'demo-integrator-qinghe')).body as DeviceView).status;

  beforeAll(async () => {
    const config = quietDemo({ 'gate-luming-02-north': 1 });
    hub = await startTestHub({ deployment: deploymentOf(config), livenessSweepMs: 50 });
    // Heard at once and every 0.2 s: silent past its 1 s threshold only when the test says so.
    north = gate(hub, 'gate-luming-02-north', { heartbeatSeconds: 0.2 });
    await north.start();
    officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
    south = gate(hub, 'gate-luming-02-west');
    await south.start();
  });

  afterAll(async () => {
    officer?.close();
    await north?.stop();
    await south?.stop();
    await hub?.stop();
  });

  it('goes offline in silence but raises no device.offline, and comes back without an incident', async () => {
    const maintenance = `${hub.httpUrl}/api/devices/gate-luming-02-north/maintenance`;
    expect((await postJson(maintenance, 'demo-integrator-qinghe', { minutes: 60 })).status).toBe(200);
    north.goSilent();
    await eventually(
      async () =>
        (await metricValue(hub.httpUrl, 'gridhub_events_suppressed_total{reason="maintenance"}')) === 1,
    );
    expect((await status('gate-luming-02-north')).online).toBe(false);
    north.resume();
    await north.heartbeat();
    await eventually(async () => (await status('gate-luming-02-north')).online);
    // A barrier: the other gate's incident is pushed after anything the silent gate would have raised.
    await south.forceDoor();
    const barrier = (await officer.nth('incident:new', 1)) as Incident;
    expect(barrier.device.id).toBe('gate-luming-02-west');
    expect(officer.of('incident:new')).toHaveLength(1);
    expect(await metricValue(hub.httpUrl, 'gridhub_incidents_created_total{severity="major"}')).toBe(0);
  });
});

describe('flood control: past the limit, a grid’s incidents group into one storm incident', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  const pushes = pushesOf(() => officer);
  let door: GateSimulator;
  let other: GateSimulator;
  /** The gate's clock: a second later for each frame, so every grouped event is told apart. */
  let tick = 0;

  beforeAll(async () => {
    const config = quietDemo();
    config.flood = { maxIncidents: 3, windowSeconds: 30 };
    // Forced doors of one grid would otherwise correlate into one incident.
    config.correlations = [];
    hub = await startTestHub({ deployment: deploymentOf(config) });
    officer = await connectClient(hub.httpUrl, 'demo-officer-qinghe');
    door = gate(hub, 'gate-luming-04-north', { clock: () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++)) });
    other = gate(hub, 'gate-luming-03-east');
    await door.start();
    await other.start();
  });

  afterAll(async () => {
    officer?.close();
    await door?.stop();
    await other?.stop();
    await hub?.stop();
  });

  const inGrid = () =>
    (officer.of('incident:new') as Incident[]).filter((incident) => incident.gridId === 'grid-luming-04');

  it('creates 3 incidents, then one storm that counts the other 7, pushed throttled with the final count last', async () => {
    const sent = [];
    for (let n = 0; n < 10; n++) sent.push(await door.forceDoor());
    const ordinary = [];
    for (let n = 0; n < 3; n++)
      ordinary.push(await pushes.created((incident) => incident.category === 'intrusion'));
    const storm = await pushes.created((incident) => incident.category === 'storm');
    expect(ordinary.map((incident) => incident.event.occurredAt)).toEqual(
      sent.slice(0, 3).map((frame) => frame.time),
    );
    expect(storm).toMatchObject({
      state: 'dispatched',
      title: 'Alarm storm in 鹿鸣第4网格 Luming Grid 4',
      category: 'storm',
      severity: 'major',
      device: { id: 'gate-luming-04-north' },
      event: { type: 'door.forced_open', occurredAt: sent[3]?.time },
      gridId: 'grid-luming-04',
      assignees: ['worker-luming-04'],
      occurrences: 1,
      related: [{ deviceId: 'gate-luming-04-north', type: 'door.forced_open', occurredAt: sent[3]?.time }],
    });

    await eventually(() => pushes.updatesOf(storm.id).at(-1)?.after.occurrences === 7);
    const updates = pushes.updatesOf(storm.id);
    expect(updates.length).toBeLessThanOrEqual(3);
    // Every push starts from the one before: clients never keep shadow state.
    expect(updates.map((change) => change.before)).toEqual([
      storm,
      ...updates.slice(0, -1).map((change) => change.after),
    ]);
    const last = updates.at(-1)?.after as Incident;
    expect(last.lastOccurredAt).toBe(sent[9]?.time);
    expect(last.related.map((event) => event.occurredAt)).toEqual(sent.slice(3).map((frame) => frame.time));

    const stored = await getJson(`${hub.httpUrl}/api/incidents/${storm.id}`, 'demo-officer-qinghe');
    expect(stored.body).toMatchObject({ occurrences: 7, lastOccurredAt: sent[9]?.time });
    expect(stored.body).toEqual(last);
    expect(await metricValue(hub.httpUrl, 'gridhub_incidents_grouped_total')).toBe(7);
    expect(await metricValue(hub.httpUrl, 'gridhub_incidents_created_total{severity="critical"}')).toBe(3);
    expect(await metricValue(hub.httpUrl, 'gridhub_incidents_created_total{severity="major"}')).toBe(1);
    expect(inGrid()).toHaveLength(4);
  });

  it('floods one grid at a time: a forced door next door is an ordinary incident', async () => {
    await other.forceDoor();
    const incident = await pushes.created((candidate) => candidate.device.id === 'gate-luming-03-east');
    expect(incident).toMatchObject({ category: 'intrusion', gridId: 'grid-luming-03' });
    expect(inGrid()).toHaveLength(4);
  });

  it('keeps the storm an ordinary incident: officers act on it, and once it ends a new storm may start', async () => {
    const [storm] = inGrid().filter((incident) => incident.category === 'storm');
    const cancelled = await postJson<Incident>(
      `${hub.httpUrl}/api/incidents/${storm?.id}/actions/cancel`,
      'demo-officer-qinghe',
      { note: 'the controller was being tested' },
    );
    expect(cancelled.body).toMatchObject({ state: 'cancelled', occurrences: 7 });
    const ended = await pushes.updated(storm?.id as string, (change) => change.after.state === 'cancelled');
    expect(ended.before.occurrences).toBe(7);

    await door.forceDoor();
    const next = await pushes.created((incident) => incident.category === 'storm');
    expect(next.id).not.toBe(storm?.id);
    expect(next).toMatchObject({ occurrences: 1, gridId: 'grid-luming-04', state: 'dispatched' });
    expect(await metricValue(hub.httpUrl, 'gridhub_incidents_grouped_total')).toBe(8);
  });
  it('never folds an emergency or a condition its device must clear into a storm', async () => {
    // Flood grid-luming-03 too: it has had one incident; three more fill its window, the next one storms.
    for (let n = 0; n < 4; n++) await other.forceDoor();
    await pushes.created((incident) => incident.category === 'storm' && incident.gridId === 'grid-luming-03');
    const sentry = demoSentry(hub.mqttUrl, 'sentry-luming-03');
    await sentry.start();
    await sentry.panic();
    await sentry.mainsLost();
    const panic = await pushes.created(
      (incident) => incident.device.id === 'sentry-luming-03' && incident.category === 'emergency',
    );
    const mains = await pushes.created(
      (incident) => incident.device.id === 'sentry-luming-03' && incident.category === 'power',
    );
    expect(panic).toMatchObject({ event: { type: 'alarm.panic' }, gridId: 'grid-luming-03' });
    expect(mains).toMatchObject({ event: { type: 'power.mains_lost' } });
    // The device can still clear its own condition.
    await sentry.mainsRestored();
    await eventually(() => pushes.updatesOf(mains.id).at(-1)?.after.state === 'resolved');
    await sentry.stop();
  });
});
