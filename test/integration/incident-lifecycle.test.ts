import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type {
  ActionAcknowledgement,
  ClientToServerEvents,
  IncidentActionRequest,
  ServerToClientEvents,
} from '../../src/core/events.ts';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSentry,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  movableClock,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

type ErrorBody = { error: { code: string; message: string; problems?: string[] } };

/** Today's ISO weekday in the hub's time zone, so rosters can be written around now. */
function todayInShanghai(): number {
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', weekday: 'short' }).format(
    Date.now(),
  );
  return ({ Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 } as Record<string, number>)[day] ?? 1;
}

async function gate(hub: TestHub, deviceId: string): Promise<GateSimulator> {
  const sim = demoGate(hub.mqttUrl, deviceId);
  await sim.start();
  return sim;
}

/** The first incident:new of this device that the client has not seen through `taken` yet. */
async function incidentOf(
  client: RecordingClient,
  deviceId: string,
  taken = new Set<string>(),
): Promise<Incident> {
  for (let n = 1; ; n++) {
    const incident = (await client.nth('incident:new', n)) as Incident;
    if (incident.device.id === deviceId && !taken.has(incident.id)) {
      taken.add(incident.id);
      return incident;
    }
  }
}

describe('the case workflow: routing, lifecycle, verification, scope', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  const sims: GateSimulator[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
  });

  afterAll(async () => {
    officer?.close();
    for (const sim of sims) await sim.stop();
    await hub?.stop();
  });

  const action = (token: string, id: string, name: string, body?: unknown) =>
    postJson<Incident & ErrorBody>(`${hub.httpUrl}/api/incidents/${id}/actions/${name}`, token, body);

  it('dispatches to the worker on duty by the roster, not to the one off duty', async () => {
    const roster = await fetch(`${hub.httpUrl}/api/rosters/grid-xijiao-04`, {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: JSON.stringify({ shifts: [{ users: ['worker-xijiao-relief'], from: '00:00', to: '00:00' }] }),
    });
    expect(roster.status).toBe(200);
    expect(await roster.json()).toMatchObject({ onDutyNow: ['worker-xijiao-relief'] });
    const onDuty = await connectClient(hub.httpUrl, 'demo-worker-xijiao-relief');
    const offDuty = await connectClient(hub.httpUrl, 'demo-worker-xijiao-04');
    sims.push(await gate(hub, 'gate-xijiao-04-south'));
    await sims.at(-1)?.forceDoor();
    const incident = (await onDuty.nth('incident:new', 1)) as Incident;
    expect(incident).toMatchObject({
      state: 'dispatched',
      assignees: ['worker-xijiao-relief'],
      gridId: 'grid-xijiao-04',
    });
    // The officer's copy arrives on the same push; by then the off-duty worker would have had theirs.
    await incidentOf(officer, 'gate-xijiao-04-south');
    expect(offDuty.of('incident:new')).toEqual([]);
    onDuty.close();
    offDuty.close();
  });

  it('goes to the grid chief when nobody is on duty', async () => {
    const otherDay = (todayInShanghai() % 7) + 1;
    const roster = await fetch(`${hub.httpUrl}/api/rosters/grid-xijiao-04`, {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: JSON.stringify({
        shifts: [{ users: ['worker-xijiao-04'], days: [otherDay], from: '00:00', to: '00:00' }],
      }),
    });
    expect(await roster.json()).toMatchObject({ onDutyNow: [] });
    const seen = new Set(officer.of('incident:new').map((incident) => (incident as Incident).id));
    await sims.at(-1)?.holdDoor(1, 400);
    const held = await incidentOf(officer, 'gate-xijiao-04-south', seen);
    expect(held).toMatchObject({ category: 'access_violation', assignees: ['chief-xijiao'] });
  });

  it('refuses a roster naming someone who is not a worker of the grid, with every problem', async () => {
    const response = await fetch(`${hub.httpUrl}/api/rosters/grid-xijiao-04`, {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: JSON.stringify({ shifts: [{ users: ['worker-luming-01'], from: '25:00', to: '08:00' }] }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).error.problems).toEqual([
      expect.stringMatching(/^body\.shifts\[0\]\.from: /),
    ]);
    const worker = await fetch(`${hub.httpUrl}/api/rosters/grid-xijiao-04`, {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-worker-xijiao-04', 'content-type': 'application/json' },
      body: JSON.stringify({ shifts: [{ users: ['worker-xijiao-04'], from: '00:00', to: '00:00' }] }),
    });
    expect(worker.status).toBe(403);
  });

  it("keeps a centre's roster of its duty officers, shown to whoever sees the centre", async () => {
    const put = (token: string, users: string[]) =>
      fetch(`${hub.httpUrl}/api/rosters/community-xijiao`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ shifts: [{ users, from: '00:00', to: '00:00' }] }),
      });
    // Without a roster, every officer of the centre is on duty.
    const before = await getJson(`${hub.httpUrl}/api/rosters/community-xijiao`, 'demo-officer-xijiao');
    expect(before.body).toMatchObject({
      grid: 'community-xijiao',
      shifts: null,
      onDutyNow: ['officer-xijiao'],
    });
    // A centre's roster names its duty officers: a grid worker is refused, with the reason.
    const refused = await put('demo-officer-xijiao', ['worker-xijiao-01']);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as ErrorBody).error.problems).toEqual([
      'body.shifts[0].users: "worker-xijiao-01" is not a duty officer of community-xijiao',
    ]);
    const kept = await put('demo-officer-xijiao', ['officer-xijiao']);
    expect(kept.status).toBe(200);
    expect(await kept.json()).toMatchObject({ onDutyNow: ['officer-xijiao'] });
    // The street above sees it; a community beside it does not.
    expect(
      (await getJson(`${hub.httpUrl}/api/rosters/community-xijiao`, 'demo-officer-liushuwan')).status,
    ).toBe(200);
    expect((await getJson(`${hub.httpUrl}/api/rosters/community-xijiao`, 'demo-officer-luming')).status).toBe(
      404,
    );
  });

  it('sends an emergency to the worker and to the community and street centres, and device health to the integrator', async () => {
    const sentry = demoSentry(hub.mqttUrl, 'sentry-xijiao-01');
    await sentry.start();
    await sentry.panic(true);
    const panic = await incidentOf(officer, 'sentry-xijiao-01');
    expect(panic).toMatchObject({ category: 'emergency', severity: 'critical' });
    expect(panic.assignees).toEqual(['worker-xijiao-01', 'officer-xijiao', 'officer-liushuwan']);
    await sentry.tamper('siren');
    const tamper = await incidentOf(officer, 'sentry-xijiao-01', new Set([panic.id]));
    expect(tamper.assignees).toEqual(['integrator-qinghe']);
    await sentry.stop();
  });

  it('runs a case from dispatch to closure: accept over Socket.IO with an ack, arrive, resolve, verify by another', async () => {
    const worker = await connectClient(hub.httpUrl, 'demo-worker-xijiao-01');
    const otherWorker = await connectClient(hub.httpUrl, 'demo-worker-xijiao-02');
    const backlog = () => metricValue(hub.httpUrl, 'gridhub_incidents_active');
    const backlogBefore = await backlog();
    sims.push(await gate(hub, 'gate-xijiao-01-north'));
    await sims.at(-1)?.forceDoor();
    const task = (await worker.nth('incident:new', 1)) as Incident;
    expect(task.assignees).toEqual(['worker-xijiao-01']);
    expect(await backlog()).toBe(backlogBefore + 1);

    const act = (client: RecordingClient, request: IncidentActionRequest) =>
      client.socket.emitWithAck('incident:act', request) as Promise<ActionAcknowledgement>;
    expect(await act(otherWorker, { incidentId: task.id, action: 'accept' })).toEqual({
      ok: false,
      error: { code: 'not_found', message: `no incident ${task.id}` },
    });
    expect(await act(worker, { incidentId: task.id, action: 'verify' })).toMatchObject({
      ok: false,
      error: { code: 'illegal_transition', message: 'cannot verify an incident that is dispatched' },
    });
    expect(await act(worker, { incidentId: task.id, action: 'fly' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
    const accepted = await act(worker, { incidentId: task.id, action: 'accept' });
    expect(accepted).toMatchObject({
      ok: true,
      incident: { state: 'accepted', handler: 'worker-xijiao-01', dueStage: 'arrive' },
    });

    const update = (await officer.nth(
      'incident:update',
      officer.of('incident:update').length,
    )) as IncidentChange;
    expect(update.before.state).toBe('dispatched');
    expect(update.after.state).toBe('accepted');

    expect((await action('demo-worker-xijiao-01', task.id, 'arrive')).body.state).toBe('on_site');
    const resolved = await action('demo-worker-xijiao-01', task.id, 'resolve', {
      note: 'door was kicked in; repaired',
    });
    expect(resolved.body).toMatchObject({
      state: 'resolved',
      resolvedBy: 'worker-xijiao-01',
      resolution: 'door was kicked in; repaired',
    });
    const byWorker = await action('demo-worker-xijiao-01', task.id, 'verify');
    expect(byWorker.status).toBe(403);
    const closed = await action('demo-officer-xijiao', task.id, 'verify');
    expect(closed.body).toMatchObject({ state: 'closed', closedBy: 'officer-xijiao' });
    expect(await backlog()).toBe(backlogBefore);
    expect(closed.body.timeline).toMatchObject({
      dispatchedAt: expect.any(String),
      acceptedAt: expect.any(String),
      arrivedAt: expect.any(String),
      resolvedAt: expect.any(String),
      closedAt: expect.any(String),
    });
    const again = await action('demo-officer-xijiao', task.id, 'resolve');
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({
      code: 'illegal_transition',
      message: 'cannot resolve an incident that is closed',
    });
    worker.close();
    otherWorker.close();
  });

  it('keeps verification from the handler even when the handler is an officer', async () => {
    const sentry = demoSentry(hub.mqttUrl, 'sentry-xijiao-01');
    await sentry.start();
    await sentry.panic();
    const panic = await incidentOf(
      officer,
      'sentry-xijiao-01',
      new Set(
        officer
          .of('incident:new')
          .map((i) => (i as Incident).id)
          .slice(0, -1),
      ),
    );
    await sentry.stop();
    expect((await action('demo-officer-xijiao', panic.id, 'accept')).body.handler).toBe('officer-xijiao');
    await action('demo-officer-xijiao', panic.id, 'resolve', { note: 'false trigger by a child' });
    const own = await action('demo-officer-xijiao', panic.id, 'verify');
    expect(own.status).toBe(403);
    expect(own.body.error.message).toBe('verification is done by someone other than the handler');
    expect((await action('demo-officer-liushuwan', panic.id, 'verify')).body.state).toBe('closed');
  });

  it('sends a rejected verification back to the handler as rework, and audits every step with its note', async () => {
    await sims.at(-1)?.forceDoor(2);
    const task = await incidentOf(
      officer,
      'gate-xijiao-01-north',
      new Set(
        officer
          .of('incident:new')
          .map((i) => (i as Incident).id)
          .slice(0, -1),
      ),
    );
    await action('demo-worker-xijiao-01', task.id, 'accept');
    await action('demo-worker-xijiao-01', task.id, 'resolve', { note: 'checked' });
    const noNote = await action('demo-officer-xijiao', task.id, 'reject');
    expect(noNote.status).toBe(400);
    const rejected = await action('demo-officer-xijiao', task.id, 'reject', {
      note: 'no photo of the repaired lock',
    });
    expect(rejected.body).toMatchObject({
      state: 'accepted',
      reworks: 1,
      assignees: ['worker-xijiao-01'],
      dueStage: 'resolve',
    });
    expect(rejected.body.resolvedAt).toBeUndefined();
    await action('demo-worker-xijiao-01', task.id, 'resolve', { note: 'photo attached' });
    await action('demo-officer-xijiao', task.id, 'verify');
    expect(await metricValue(hub.httpUrl, 'gridhub_reworks_total')).toBe(1);

    const { body } = await getJson(`${hub.httpUrl}/api/incidents/${task.id}/audit`, 'demo-worker-xijiao-01');
    const trail = (body as { entries: AuditEntry[] }).entries.map((entry) => [
      entry.action,
      entry.actor.userId,
      entry.outcome,
      entry.message ?? '',
    ]);
    expect(trail).toEqual([
      ['incident.create', 'system', 'ok', ''],
      ['incident.accept', 'worker-xijiao-01', 'ok', ''],
      ['incident.resolve', 'worker-xijiao-01', 'ok', 'checked'],
      [
        'incident.reject',
        'officer-xijiao',
        'refused',
        'a rejected verification needs a note saying what to redo',
      ],
      ['incident.reject', 'officer-xijiao', 'ok', 'no photo of the repaired lock'],
      ['incident.resolve', 'worker-xijiao-01', 'ok', 'photo attached'],
      ['incident.verify', 'officer-xijiao', 'ok', ''],
    ]);
  });

  it("keeps each grid's and street's cases to itself: read, act and receive", async () => {
    const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=100`, 'demo-officer-xijiao');
    const xijiao = (body as { incidents: Incident[] }).incidents;
    const someone = xijiao.find((incident) => incident.gridId === 'grid-xijiao-01') as Incident;
    expect(
      (await getJson(`${hub.httpUrl}/api/incidents/${someone.id}`, 'demo-worker-xijiao-02')).status,
    ).toBe(404);
    expect((await action('demo-worker-xijiao-02', someone.id, 'note', { note: 'mine?' })).status).toBe(404);
    const otherStreet = await getJson(`${hub.httpUrl}/api/incidents?limit=100`, 'demo-officer-tianmushan');
    expect((otherStreet.body as { incidents: Incident[] }).incidents).toEqual([]);
    expect(
      (await getJson(`${hub.httpUrl}/api/incidents?node=community-xijiao`, 'demo-officer-tianmushan')).status,
    ).toBe(404);
    const integrator = await getJson(`${hub.httpUrl}/api/incidents?limit=100`, 'demo-integrator-qinghe');
    const categories = new Set(
      (integrator.body as { incidents: Incident[] }).incidents.map((incident) => incident.category),
    );
    expect([...categories]).toEqual(['device_tamper']);
  });

  it('filters incidents by state, severity, category, node and time, and refuses bad filters with every problem', async () => {
    const base = `${hub.httpUrl}/api/incidents?limit=100`;
    const closed = await getJson(`${base}&state=closed`, 'demo-officer-xijiao');
    const states = (closed.body as { incidents: Incident[] }).incidents.map((incident) => incident.state);
    expect(states.length).toBeGreaterThanOrEqual(3);
    expect(new Set(states)).toEqual(new Set(['closed']));
    const critical = await getJson(`${base}&severity=critical&node=grid-xijiao-01`, 'demo-officer-xijiao');
    for (const incident of (critical.body as { incidents: Incident[] }).incidents) {
      expect(incident).toMatchObject({ severity: 'critical', gridId: 'grid-xijiao-01' });
    }
    const future = await getJson(
      `${base}&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      'demo-officer-xijiao',
    );
    expect((future.body as { incidents: Incident[] }).incidents).toEqual([]);
    const bad = await getJson(`${base}&state=open,shut&severity=loud&from=yesterday`, 'demo-officer-xijiao');
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).error.problems).toEqual([
      expect.stringMatching(/^query\.state\[0\]: /),
      expect.stringMatching(/^query\.state\[1\]: /),
      expect.stringMatching(/^query\.severity\[0\]: /),
      expect.stringMatching(/^query\.from: /),
    ]);
  });
});

describe('deadlines: escalation up the tree until someone acts, across a restart', () => {
  const dataDir = temporaryDirectory();
  // An intrusion must be accepted within a minute at each level: the hub's clock is moved past it.
  const config = demoConfig() as unknown as { deadlines: Record<string, unknown> };
  config.deadlines = {
    categories: { intrusion: { acceptMinutes: 1, arriveMinutes: 30, resolveMinutes: 240 } },
  };
  const deployment = deploymentOf(config);
  const pastAccept = 61_000;
  let hub: TestHub;

  afterAll(() => dataDir.remove());

  it('escalates to the community, the street and the district, with a push to each level, then stops', async () => {
    const clock = movableClock();
    hub = await startTestHub({ deployment, dataDir: dataDir.path, deadlineSweepMs: 50, clock: clock.now });
    const streetOfficer = await connectClient(hub.httpUrl, 'demo-officer-liushuwan');
    const sim = await gate(hub, 'gate-zhenxing-01-east');
    await sim.forceDoor();
    const incident = await incidentOf(streetOfficer, 'gate-zhenxing-01-east');
    // Past the deadline: each escalation sets the next by real time, which the moved clock is past too.
    clock.moveOn(pastAccept);
    const levels: string[] = [];
    for (let n = 1; levels.length < 3; n++) {
      const change = (await streetOfficer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id === incident.id) levels.push(change.after.responsibleNodeId);
    }
    expect(levels).toEqual(['community-zhenxing', 'street-liushuwan', 'district-qinghe']);
    const { body } = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-qinghe');
    expect(body).toMatchObject({ state: 'escalated', escalations: 3, responsibleNodeId: 'district-qinghe' });
    expect(await metricValue(hub.httpUrl, 'gridhub_escalations_total')).toBe(3);

    // Someone acts at last: the worker may still accept.
    const late = await postJson<Incident>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/accept`,
      'demo-worker-zhenxing-01',
    );
    expect(late.body).toMatchObject({ state: 'accepted', handler: 'worker-zhenxing-01', dueStage: 'arrive' });
    streetOfficer.close();
    await sim.stop();
    await hub.stop();
  });

  it('escalates after a restart what fell due while the hub was down', async () => {
    // A hub whose clock is not moved: nothing falls due while it runs.
    hub = await startTestHub({ deployment, dataDir: dataDir.path, deadlineSweepMs: 50 });
    const sim = await gate(hub, 'gate-zhenxing-02-south');
    const officer = await connectClient(hub.httpUrl, 'demo-officer-zhenxing');
    await sim.forceDoor();
    const incident = await incidentOf(officer, 'gate-zhenxing-02-south');
    officer.close();
    await sim.stop();
    await hub.stop();
    // The hub is down past the deadline: the restarted one's clock is moved past it.
    const clock = movableClock();
    clock.moveOn(pastAccept);
    expect(clock.now()).toBeGreaterThan(Date.parse(incident.dueAt as string));
    hub = await startTestHub({ deployment, dataDir: dataDir.path, deadlineSweepMs: 50, clock: clock.now });
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-qinghe');
      return (body as Incident).escalations >= 1;
    });
    await hub.stop();
  });
});

describe('live clients: catching up after a drop, session tokens, the API description', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('delivers what a client missed while its connection was down, once', async () => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(hub.httpUrl, {
      auth: { token: 'demo-officer-luming' },
      transports: ['websocket'],
      reconnectionDelay: 100,
    });
    const received: string[] = [];
    socket.on('incident:new', (incident) => received.push(incident.id));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const sim = await gate(hub, 'gate-luming-03-south');
    await sim.forceDoor(1);
    await eventually(() => received.length === 1);
    // The link drops without the client leaving: the server keeps its session for recovery.
    socket.io.engine.close();
    await eventually(() => !socket.connected);
    await sim.forceDoor(2);
    await sim.holdDoor(1, 700);
    await eventually(() => socket.connected);
    await eventually(() => received.length === 3);
    expect(socket.recovered).toBe(true);
    expect(new Set(received).size).toBe(3);
    await sim.stop();
    socket.close();
  });

  it('keeps nothing for a dropped client with hub.pushRecoverySeconds 0: it reconnects afresh', async () => {
    const config = demoConfig();
    config.hub = { ...config.hub, pushRecoverySeconds: 0 };
    const plain = await startTestHub({ deployment: deploymentOf(config) });
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(plain.httpUrl, {
      auth: { token: 'demo-officer-luming' },
      transports: ['websocket'],
      reconnection: false,
    });
    const received: string[] = [];
    socket.on('incident:new', (incident) => received.push(incident.id));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const sim = await gate(plain, 'gate-luming-03-south');
    socket.io.engine.close();
    await eventually(() => !socket.connected);
    // Raised while the client is away, and committed before it comes back.
    await sim.forceDoor(1);
    await eventually(async () => {
      const { body } = await getJson(`${plain.httpUrl}/api/incidents`, 'demo-officer-luming');
      return (body as { incidents: Incident[] }).incidents.length === 1;
    });
    socket.connect();
    await eventually(() => socket.connected);
    expect(socket.recovered ?? false).toBe(false);
    await sim.holdDoor(1, 700);
    await eventually(() => received.length === 1);
    // Only the incident raised after it came back: the one it missed is not replayed (pages reload the state).
    const { body } = await getJson(`${plain.httpUrl}/api/incidents`, 'demo-officer-luming');
    const listed = (body as { incidents: Incident[] }).incidents.map((incident) => incident.id);
    expect(listed).toHaveLength(2);
    expect(received).toEqual([listed[0]]);
    await sim.stop();
    socket.close();
    await plain.stop();
  });

  it('issues a session JWT for an API token, accepted by REST and Socket.IO, and refuses a forged one', async () => {
    const issued = await postJson<{ token: string; expiresAt: string; sessionExpiresAt: string }>(
      `${hub.httpUrl}/api/auth/token`,
      'demo-worker-luming-02',
    );
    expect(issued.status).toBe(200);
    expect(issued.body.token.split('.')).toHaveLength(3);
    // A short JWT, of a session that lasts a shift.
    expect(Date.parse(issued.body.expiresAt) - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    expect(Date.parse(issued.body.sessionExpiresAt) - Date.now()).toBeGreaterThan(11 * 3600_000);
    const me = await getJson(`${hub.httpUrl}/api/me`, issued.body.token);
    expect(me.body).toMatchObject({ userId: 'worker-luming-02', role: 'grid_worker' });
    const client = await connectClient(hub.httpUrl, issued.body.token);
    client.close();
    const [header, payload] = issued.body.token.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'admin' }),
    ).toString('base64url');
    expect(
      (
        await getJson(
          `${hub.httpUrl}/api/me`,
          `${header}.${forgedPayload}.${issued.body.token.split('.')[2]}`,
        )
      ).status,
    ).toBe(401);
    expect((await postJson(`${hub.httpUrl}/api/auth/token`, 'nobody')).status).toBe(401);
  });

  it('describes its REST API in OpenAPI at /docs', async () => {
    const { status, body } = await getJson(`${hub.httpUrl}/docs/json`);
    expect(status).toBe(200);
    const spec = body as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string }[] }>>;
    };
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/incidents',
      '/api/incidents/{id}/actions/{action}',
      '/api/rosters/{grid}',
      '/api/grids',
      '/api/auth/token',
      '/api/devices/{id}/commands/{command}',
      '/api/devices/{id}/maintenance',
      '/api/dead-letters',
    ]) {
      expect(Object.keys(spec.paths)).toContain(path);
    }
    const filters = spec.paths['/api/incidents']?.get?.parameters?.map((parameter) => parameter.name);
    expect(filters).toEqual(
      expect.arrayContaining(['state', 'node', 'category', 'severity', 'from', 'to', 'limit', 'before']),
    );
    const command = spec.paths['/api/devices/{id}/commands/{command}']?.post as
      | { requestBody?: unknown }
      | undefined;
    expect(command?.requestBody).toBeDefined();
    expect((await fetch(`${hub.httpUrl}/docs`)).status).toBe(200);
  });
});
