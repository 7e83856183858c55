import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import { TokenAuthenticator } from '../../src/auth/token-authenticator.ts';
import type { Incident } from '../../src/core/incident.ts';
import { registerErrorAnswers } from '../../src/http/http-app.ts';
import { assessmentRoutes } from '../../src/http/routes/assessment-routes.ts';
import { type Assessment, assessmentCsvColumns, type Figures } from '../../src/incidents/assessment.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type AssessmentAnswer = Assessment & { node: { id: string; name: string; level: string } };

/**
 * The routes on an app of their own with http-app.ts's auth hook and error shape, over the real hub's store,
 * visibility and jurisdiction: the incidents come from real devices through the real lifecycle.
 */
function assessmentApp(testHub: TestHub): FastifyInstance {
  const authenticator = new TokenAuthenticator({ users: testHub.hub.deployment.users, jwtTtlMinutes: 60 });
  const app = Fastify({ logger: false });
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) request.principal = await authenticator.authenticate(header.slice(7));
  });
  registerErrorAnswers(app);
  app.register(assessmentRoutes, {
    prefix: '/api/assessment',
    store: testHub.testHandle.store,
    visibility: testHub.testHandle.visibility,
    jurisdiction: testHub.hub.deployment.jurisdiction,
  });
  return app;
}

async function act(
  client: RecordingClient,
  incidentId: string,
  action: string,
  note?: string,
): Promise<Incident> {
  const answer = await client.socket.emitWithAck('incident:act', {
    incidentId,
    action,
    ...(note === undefined ? {} : { note }),
  });
  if (!answer.ok) throw new Error(`${action} of ${incidentId} refused: ${answer.error.message}`);
  return answer.incident;
}

/** Nearest rank of a few values, spelled out: the ⌈p/100 × n⌉-th smallest. */
function rank(values: number[], percent: number): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((percent * sorted.length) / 100) - 1];
}

const seconds = (from: string, to: string | undefined) =>
  (Date.parse(to as string) - Date.parse(from)) / 1000;

describe('the monthly assessment over incidents handled through the real lifecycle', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let worker1: RecordingClient;
  let worker2: RecordingClient;
  let officer: RecordingClient;
  let northGate: GateSimulator;
  let eastGate: GateSimulator;
  /** The story's incidents as they stand at the end, by letter. */
  const final: Record<'a' | 'b' | 'c' | 'd', Incident> = {} as never;
  const period = { from: '', to: '' };

  const get = (url: string, token?: string) =>
    app.inject({
      method: 'GET',
      url,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    });
  const query = (extra = '') =>
    `/api/assessment?from=${encodeURIComponent(period.from)}&to=${encodeURIComponent(period.to)}${extra}`;

  beforeAll(async () => {
    // Access violations get deadlines short enough to miss while the test watches (300 ms to accept, 600 ms to
    // resolve); forced doors keep the defaults (10 minutes to accept, 4 hours to resolve).
    const config = demoConfig() as unknown as Record<string, unknown>;
    config.deadlines = {
      categories: { access_violation: { acceptMinutes: 0.005, arriveMinutes: 0.005, resolveMinutes: 0.01 } },
    };
    hub = await startTestHub({ deployment: deploymentOf(config) });
    app = assessmentApp(hub);
    period.from = new Date(Date.now() - 60_000).toISOString();
    worker1 = await connectClient(hub.httpUrl, 'demo-worker-xijiao-01');
    worker2 = await connectClient(hub.httpUrl, 'demo-worker-xijiao-02');
    officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    northGate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    eastGate = demoGate(hub.mqttUrl, 'gate-xijiao-02-east');
    await northGate.start();
    await eastGate.start();

    // Grid 1: (a) a forced door taken, handled and verified in time; (b) a door held open, taken and resolved
    // late, supervised by the officer meanwhile, sent back by the officer, resolved again.
    await northGate.forceDoor();
    const a = (await worker1.nth('incident:new', 1)) as Incident;
    await northGate.holdDoor(1, 300);
    const b = (await worker1.nth('incident:new', 2)) as Incident;
    // Grid 2: (c) a forced door taken and resolved in time; (d) a denied access nobody takes, supervised twice.
    await eastGate.forceDoor();
    const c = (await worker2.nth('incident:new', 1)) as Incident;
    await eastGate.deny();
    const d = (await worker2.nth('incident:new', 2)) as Incident;
    expect([a.category, b.category, c.category, d.category]).toEqual([
      'intrusion',
      'access_violation',
      'intrusion',
      'access_violation',
    ]);

    await act(worker1, a.id, 'accept');
    await act(worker1, a.id, 'arrive');
    await act(worker1, a.id, 'resolve', 'door closed and checked, nobody inside');
    final.a = await act(officer, a.id, 'verify');

    await act(worker2, c.id, 'accept');
    final.c = await act(worker2, c.id, 'resolve', 'door latch repaired');

    await eventually(() => Date.now() > Date.parse(b.timeline.resolveBy as string));
    await act(worker1, b.id, 'accept');
    await act(officer, b.id, 'supervise', 'have the door closer checked today');
    await act(worker1, b.id, 'resolve', 'door closed');
    await act(officer, b.id, 'reject', 'the closer is still broken: have it fixed');
    final.b = await act(worker1, b.id, 'resolve', 'closer replaced');

    await eventually(() => Date.now() > Date.parse(d.timeline.resolveBy as string));
    await act(officer, d.id, 'supervise', 'send someone to the east gate');
    await act(officer, d.id, 'supervise', 'still nobody: call the grid chief');
    final.d = (await hub.testHandle.store.getIncident(d.id)) as Incident;
    period.to = new Date(Date.now() + 60_000).toISOString();
  });

  afterAll(async () => {
    for (const client of [worker1, worker2, officer]) client?.close();
    await northGate?.stop();
    await eastGate?.stop();
    await app?.close();
    await hub?.stop();
  });

  it('played the story through the lifecycle as intended', () => {
    const { a, b, c, d } = final;
    expect([a, b, c].map((incident) => [incident.gridId, incident.state, incident.handler])).toEqual([
      ['grid-xijiao-01', 'closed', 'worker-xijiao-01'],
      ['grid-xijiao-01', 'resolved', 'worker-xijiao-01'],
      ['grid-xijiao-02', 'resolved', 'worker-xijiao-02'],
    ]);
    expect(b.reworks).toBe(1);
    expect(Date.parse(b.timeline.acceptedAt as string)).toBeGreaterThan(
      Date.parse(b.timeline.acceptBy as string),
    );
    // Nobody took d: still waiting, or climbed to a higher centre by the deadline sweep.
    expect(d.gridId).toBe('grid-xijiao-02');
    expect(['dispatched', 'escalated']).toContain(d.state);
    expect(d.timeline.acceptedAt).toBeUndefined();
    expect([a, b, c, d].map((incident) => incident.supervisions?.length ?? 0)).toEqual([0, 1, 0, 2]);
    expect(d.supervisions?.[1]).toMatchObject({
      nodeId: 'community-xijiao',
      userId: 'officer-xijiao',
      note: 'still nobody: call the grid chief',
    });
  });

  it("assesses the community: counts, rates, nearest-rank times, reworks, every grid and each handler's row", async () => {
    const response = await get(query('&node=community-xijiao'), 'demo-officer-xijiao');
    expect(response.statusCode).toBe(200);
    const answer = response.json() as AssessmentAnswer;
    expect(answer.node).toEqual({
      id: 'community-xijiao',
      name: '西郊社区 Xijiao Community',
      level: 'community',
    });
    expect(answer.period).toEqual(period);

    const { a, b, c } = final;
    const response3 = [a, b, c].map((incident) => seconds(incident.createdAt, incident.timeline.acceptedAt));
    const closure3 = [a, b, c].map((incident) => seconds(incident.createdAt, incident.timeline.resolvedAt));
    expect(answer.overall).toEqual<Figures>({
      incidents: 4,
      accepted: 3,
      closed: 1,
      resolved: 3,
      falseAlarms: 0,
      cancelled: 0,
      // a and c taken in time; b taken after its deadline; d never taken and its deadline long gone.
      onTimeAcceptanceRate: 0.5,
      // a and c resolved in time; b resolved (twice) after its deadline; d never resolved, overdue.
      onTimeClosureRate: 0.5,
      closureRate: 0.75,
      responseSeconds: { p50: rank(response3, 50) as number, p90: rank(response3, 90) as number },
      closureSeconds: { p50: rank(closure3, 50) as number, p90: rank(closure3, 90) as number },
      reworks: 1,
      // b once, d twice.
      supervised: 2,
      supervisions: 3,
    });
    // b's closure time is its last resolution's, after the rework: the slowest of the three.
    expect(answer.overall.closureSeconds.p90).toBe(seconds(b.createdAt, b.timeline.resolvedAt));

    expect(answer.grids.map((grid) => [grid.gridId, grid.figures.incidents])).toEqual([
      ['grid-xijiao-01', 2],
      ['grid-xijiao-02', 2],
      ['grid-xijiao-03', 0],
      ['grid-xijiao-04', 0],
      ['grid-xijiao-05', 0],
    ]);
    const [grid1, grid2, grid3] = answer.grids;
    expect(grid1?.gridName).toBe('西郊第1网格 Xijiao Grid 1');
    expect(grid1?.figures).toMatchObject({
      accepted: 2,
      closed: 1,
      resolved: 2,
      onTimeAcceptanceRate: 0.5,
      onTimeClosureRate: 0.5,
      closureRate: 1,
      reworks: 1,
      supervised: 1,
      supervisions: 1,
    });
    expect(grid2?.figures).toMatchObject({
      accepted: 1,
      closed: 0,
      resolved: 1,
      onTimeAcceptanceRate: 0.5,
      onTimeClosureRate: 0.5,
      closureRate: 0.5,
      reworks: 0,
      supervised: 1,
      supervisions: 2,
    });
    expect(grid3?.figures).toMatchObject({ supervised: 0, supervisions: 0 });
    expect(grid3?.figures).toMatchObject({ closureRate: null, responseSeconds: { p50: null, p90: null } });

    expect(answer.workers.map((worker) => worker.userId)).toEqual(['worker-xijiao-01', 'worker-xijiao-02']);
    const [zhao, huang] = answer.workers;
    expect(zhao?.figures).toMatchObject({
      incidents: 2,
      accepted: 2,
      closed: 1,
      resolved: 2,
      onTimeAcceptanceRate: 0.5,
      onTimeClosureRate: 0.5,
      closureRate: 1,
      reworks: 1,
      supervised: 1,
      supervisions: 1,
    });
    expect(huang?.figures).toEqual<Figures>({
      incidents: 1,
      accepted: 1,
      closed: 0,
      resolved: 1,
      falseAlarms: 0,
      cancelled: 0,
      onTimeAcceptanceRate: 1,
      onTimeClosureRate: 1,
      closureRate: 1,
      responseSeconds: {
        p50: seconds(c.createdAt, c.timeline.acceptedAt),
        p90: seconds(c.createdAt, c.timeline.acceptedAt),
      },
      closureSeconds: {
        p50: seconds(c.createdAt, c.timeline.resolvedAt),
        p90: seconds(c.createdAt, c.timeline.resolvedAt),
      },
      reworks: 0,
      supervised: 0,
      supervisions: 0,
    });
  });

  it("defaults the node to the caller's scope and narrows to a grid on request", async () => {
    const street = (await get(query(), 'demo-officer-liushuwan')).json() as AssessmentAnswer;
    expect(street.node.id).toBe('street-liushuwan');
    expect(street.grids).toHaveLength(9);
    expect(street.overall).toMatchObject({ incidents: 4, closed: 1, reworks: 1 });
    const grid = await get(query('&node=grid-xijiao-02'), 'demo-admin');
    expect(grid.statusCode).toBe(200);
    const answer = grid.json() as AssessmentAnswer;
    expect(answer.grids.map((row) => row.gridId)).toEqual(['grid-xijiao-02']);
    expect(answer.overall).toMatchObject({ incidents: 2, accepted: 1 });
    expect(answer.workers.map((row) => row.userId)).toEqual(['worker-xijiao-02']);
  });

  it('leaves out incidents created outside the period', async () => {
    const monthBefore = new Date(Date.parse(period.from) - 30 * 24 * 3600_000).toISOString();
    const before = (
      await get(
        `/api/assessment?from=${encodeURIComponent(monthBefore)}&to=${encodeURIComponent(period.from)}`,
        'demo-officer-xijiao',
      )
    ).json() as AssessmentAnswer;
    expect(before.overall.incidents).toBe(0);
    expect(before.workers).toEqual([]);
  });

  it('answers 401 without a token, 403 to a grid worker, 404 for a node outside the caller’s scope', async () => {
    expect((await get(query('&node=community-xijiao'))).statusCode).toBe(401);
    const worker = await get(query('&node=grid-xijiao-01'), 'demo-worker-xijiao-01');
    expect(worker.statusCode).toBe(403);
    expect(worker.json()).toMatchObject({ error: { code: 'forbidden' } });
    const otherStreet = await get(query('&node=community-xijiao'), 'demo-officer-tianmushan');
    expect(otherStreet.statusCode).toBe(404);
    expect(otherStreet.json()).toEqual({
      error: { code: 'not_found', message: 'no node community-xijiao' },
    });
    const upward = await get(query('&node=street-liushuwan'), 'demo-officer-xijiao');
    expect(upward.statusCode).toBe(404);
    expect((await get(query('&node=nowhere'), 'demo-admin')).statusCode).toBe(404);
  });

  it('answers 400 with every problem for bad dates and unknown parameters', async () => {
    const officerToken = 'demo-officer-xijiao';
    const notDates = await get('/api/assessment?from=last-month&to=2026-13-01T00:00:00Z', officerToken);
    expect(notDates.statusCode).toBe(400);
    const notDatesBody = notDates.json() as { error: { code: string; problems: string[] } };
    expect(notDatesBody.error.code).toBe('invalid_request');
    expect(notDatesBody.error.problems).toHaveLength(2);
    expect(notDatesBody.error.problems[0]).toMatch(/^query\.from: /);
    expect(notDatesBody.error.problems[1]).toMatch(/^query\.to: /);

    const backwards = await get(
      '/api/assessment?from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z',
      officerToken,
    );
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json()).toMatchObject({ error: { problems: ['query.to: must be later than from'] } });

    const tooLong = await get(
      '/api/assessment?from=2025-01-01T00:00:00%2B08:00&to=2026-01-02T00:00:01%2B08:00',
      officerToken,
    );
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json()).toMatchObject({
      error: { problems: ['query.to: must be at most 366 days after from'] },
    });
    const leapYear = await get(
      '/api/assessment?from=2024-01-01T00:00:00%2B08:00&to=2025-01-01T00:00:00%2B08:00',
      officerToken,
    );
    expect(leapYear.statusCode).toBe(200);

    const localTime = await get(
      '/api/assessment?from=2026-11-01T00:00:00&to=2026-12-01T00:00:00Z',
      officerToken,
    );
    expect(localTime.statusCode).toBe(400);
    const unknown = await get(query('&month=11'), officerToken);
    expect(unknown.statusCode).toBe(400);
    expect((unknown.json() as { error: { problems: string[] } }).error.problems).toEqual([
      expect.stringMatching(/^query: .*month/),
    ]);
    const missing = await get('/api/assessment', officerToken);
    expect((missing.json() as { error: { problems: string[] } }).error.problems).toHaveLength(2);
  });

  it('downloads the grids and workers tables as CSV: one header row, a row per grid, a row per worker', async () => {
    const response = await get(query('&node=community-xijiao&format=csv'), 'demo-officer-xijiao');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(
      /^attachment; filename="assessment-community-xijiao-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    expect(response.body.startsWith('\uFEFF')).toBe(true);
    const lines = response.body.slice(1).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'kind,id,name,incidents,accepted,closed,resolved,falseAlarms,cancelled,onTimeAcceptanceRate,' +
        'onTimeClosureRate,closureRate,responseP50Seconds,responseP90Seconds,closureP50Seconds,' +
        'closureP90Seconds,reworks,supervised,supervisions',
    );
    expect(lines[0]).toBe(assessmentCsvColumns.join(','));
    expect(lines.slice(1).map((line) => line.split(',').slice(0, 2).join(','))).toEqual([
      'grid,grid-xijiao-01',
      'grid,grid-xijiao-02',
      'grid,grid-xijiao-03',
      'grid,grid-xijiao-04',
      'grid,grid-xijiao-05',
      'worker,worker-xijiao-01',
      'worker,worker-xijiao-02',
    ]);
    expect(lines[1]).toMatch(
      /^grid,grid-xijiao-01,西郊第1网格 Xijiao Grid 1,2,2,1,2,0,0,0\.5,0\.5,1,[\d.]+,/,
    );
    // reworks 1 (b), supervised 1 (b), supervisions 1.
    expect(lines[1]?.endsWith(',1,1,1')).toBe(true);
    expect(lines[2]?.endsWith(',0,1,2')).toBe(true);
    expect(lines[3]).toBe('grid,grid-xijiao-03,西郊第3网格 Xijiao Grid 3,0,0,0,0,0,0,,,,,,,,0,0,0');
  });
});
