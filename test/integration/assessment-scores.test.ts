import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import { monthOf, type Score, scoresCsvHeader } from '../../src/assessment/scores.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

interface ScoresAnswer {
  month: string;
  level: 'grid' | 'worker';
  node: { id: string };
  baseScore: number;
  ranked: number;
  scores: Score[];
}

/**
 * The 千分制 scores over a real hub: incidents raised by real devices and driven through the HTTP API (accepted late,
 * supervised, sent back), the patrols' records written into the hub's store, then the scores as each role sees them.
 */
describe('the monthly scores (千分制) over the HTTP API', () => {
  let hub: TestHub;
  let worker1: RecordingClient;
  let northGate: GateSimulator;
  let month = '';
  const final: Record<'a' | 'b', Incident> = {} as never;

  const act = async (token: string, incidentId: string, action: string, note?: string) => {
    const answer = await postJson<Incident>(
      `${hub.httpUrl}/api/incidents/${incidentId}/actions/${action}`,
      token,
      note === undefined ? {} : { note },
    );
    if (answer.status !== 200) throw new Error(`${action} refused: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const scores = async (token: string, query: string) => {
    const answer = await getJson(`${hub.httpUrl}/api/assessment/scores?${query}`, token);
    return answer as { status: number; body: ScoresAnswer };
  };
  const byId = (answer: ScoresAnswer, id: string) => answer.scores.find((entry) => entry.id === id) as Score;
  const rule = (entry: Score, name: string) => entry.items.find((item) => item.rule === name);

  beforeAll(async () => {
    // Access violations: 300 ms to accept and 600 ms to resolve, so the test sees them missed; arriving gets 10 minutes.
    const config = demoConfig() as unknown as Record<string, unknown>;
    config.deadlines = {
      categories: { access_violation: { acceptMinutes: 0.005, arriveMinutes: 10, resolveMinutes: 0.01 } },
    };
    hub = await startTestHub({ deployment: deploymentOf(config) });
    month = monthOf(Date.now(), hub.hub.deployment.settings.timezone);
    worker1 = await connectClient(hub.httpUrl, 'demo-worker-xijiao-01');
    northGate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await northGate.start();

    // (a) a forced door taken, handled and verified in time.
    await northGate.forceDoor();
    const a = (await worker1.nth('incident:new', 1)) as Incident;
    await act('demo-worker-xijiao-01', a.id, 'accept');
    await act('demo-worker-xijiao-01', a.id, 'arrive');
    await act('demo-worker-xijiao-01', a.id, 'resolve', 'door closed and checked');
    final.a = await act('demo-officer-xijiao', a.id, 'verify');

    // (b) a door held open: taken after both deadlines, supervised, sent back once, resolved again.
    await northGate.holdDoor(1, 300);
    const b = (await worker1.nth('incident:new', 2)) as Incident;
    await eventually(() => Date.now() > Date.parse(b.timeline.resolveBy as string));
    await act('demo-worker-xijiao-01', b.id, 'accept');
    await act('demo-officer-xijiao', b.id, 'supervise', 'have the door closer checked today');
    await act('demo-worker-xijiao-01', b.id, 'resolve', 'door closed');
    await act('demo-officer-xijiao', b.id, 'reject', 'the closer is still broken');
    final.b = await act('demo-worker-xijiao-01', b.id, 'resolve', 'closer replaced');

    // What the patrols write (their contract): two completed patrol days of grid 1, a missed zero report in grid 2.
    const store = hub.testHandle.store;
    for (const day of ['01', '02']) {
      await store.putRecord('patrol-days', `grid-xijiao-01/${month}-${day}`, {
        gridId: 'grid-xijiao-01',
        date: `${month}-${day}`,
        required: 2,
        visited: ['point-1', 'point-2'],
        completed: true,
        userIds: ['worker-xijiao-01'],
      });
    }
    await store.putRecord('duty-misses', `grid-xijiao-02/${month}-01/zero_report`, {
      gridId: 'grid-xijiao-02',
      date: `${month}-01`,
      kind: 'zero_report',
      userIds: ['worker-xijiao-02'],
      incidentId: 'inc_missed',
    });
    // One the scores cannot read: left out, counted.
    await store.putRecord('duty-misses', `grid-xijiao-03/${month}-01/patrol`, {
      gridId: 'grid-xijiao-03',
      kind: 'patrol',
    });
  });

  afterAll(async () => {
    worker1?.close();
    await northGate?.stop();
    await hub?.stop();
  });

  it("ranks the community's grids with their line items", async () => {
    const { status, body } = await scores('demo-officer-xijiao', `month=${month}&level=grid`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      month,
      level: 'grid',
      node: { id: 'community-xijiao' },
      baseScore: 1000,
      ranked: 5,
    });
    const { a, b } = final;
    expect(b.reworks).toBe(1);
    const grid1 = byId(body, 'grid-xijiao-01');
    expect(rule(grid1, 'onTimeClosure')).toMatchObject({ count: 1, points: 2, refs: [a.id] });
    expect(rule(grid1, 'patrolCompleted')).toMatchObject({
      count: 2,
      points: 2,
      refs: [`${month}-01`, `${month}-02`],
    });
    expect(rule(grid1, 'overdueStage')).toMatchObject({
      count: 2,
      points: -10,
      refs: [`${b.id}:accept`, `${b.id}:resolve`],
    });
    expect(rule(grid1, 'rework')).toMatchObject({ count: 1, points: -10, refs: [b.id] });
    expect(rule(grid1, 'supervision')).toMatchObject({ count: 1, points: -10, refs: [b.id] });
    // The deadline sweep may have escalated b while nobody had taken it: each escalation costs 5.
    expect(rule(grid1, 'escalation')?.count ?? 0).toBe(b.escalations);
    expect(grid1.score).toBe(1000 + 2 + 2 - 10 - 10 - 10 - 5 * b.escalations);
    expect(byId(body, 'grid-xijiao-02')).toMatchObject({ score: 995, deducted: 5 });
    expect(byId(body, 'grid-xijiao-03')).toMatchObject({ score: 1000, items: [] });
    expect(await metricValue(hub.httpUrl, 'gridhub_assessment_records_skipped_total')).toBeGreaterThanOrEqual(
      1,
    );
    expect(body.scores.map((entry) => [entry.id, entry.rank])).toEqual([
      ['grid-xijiao-03', 1],
      ['grid-xijiao-04', 2],
      ['grid-xijiao-05', 3],
      ['grid-xijiao-02', 4],
      ['grid-xijiao-01', 5],
    ]);
  });

  it('ranks the workers; a worker sees only their own row and rank', async () => {
    const officer = (await scores('demo-officer-xijiao', `month=${month}&level=worker`)).body;
    const worker1Row = byId(officer, 'worker-xijiao-01');
    expect(worker1Row.score).toBe(
      byId((await scores('demo-officer-xijiao', `month=${month}`)).body, 'grid-xijiao-01').score,
    );
    expect(byId(officer, 'worker-xijiao-02').score).toBe(995);
    expect(officer.scores.at(-1)?.id).toBe('worker-xijiao-01');

    const own = await scores('demo-worker-xijiao-01', `month=${month}&level=worker`);
    expect(own.status).toBe(200);
    expect(own.body.ranked).toBe(officer.ranked);
    expect(own.body.scores).toEqual([worker1Row]);
    // Asking for another node changes nothing for a worker: always their own community, their own row.
    const elsewhere = await scores(
      'demo-worker-xijiao-01',
      `month=${month}&level=worker&node=community-luming`,
    );
    expect(elsewhere.body.scores.map((entry) => entry.id)).toEqual(['worker-xijiao-01']);
  });

  it('scopes officers and chiefs to their places and refuses integrators', async () => {
    expect((await scores('demo-officer-xijiao', `month=${month}&node=community-zhenxing`)).status).toBe(404);
    const zhenxing = (await scores('demo-officer-zhenxing', `month=${month}`)).body;
    expect(zhenxing.scores.map((entry) => entry.id)).toEqual([
      'grid-zhenxing-01',
      'grid-zhenxing-02',
      'grid-zhenxing-03',
      'grid-zhenxing-04',
    ]);
    expect(zhenxing.scores.every((entry) => entry.score === 1000)).toBe(true);
    const chief = (await scores('demo-chief-xijiao', `month=${month}`)).body;
    expect(chief.scores.map((entry) => entry.id).sort()).toEqual([
      'grid-xijiao-01',
      'grid-xijiao-02',
      'grid-xijiao-03',
      'grid-xijiao-04',
      'grid-xijiao-05',
    ]);
    expect((await scores('demo-integrator-qinghe', `month=${month}`)).status).toBe(403);
    expect((await scores('demo-officer-xijiao', 'month=2026-13')).status).toBe(400);
  });

  it('answers a month with nothing in it at the base score', async () => {
    const { body } = await scores('demo-officer-xijiao', 'month=2020-01');
    expect(body.scores.every((entry) => entry.score === 1000 && entry.items.length === 0)).toBe(true);
  });

  it('downloads the ranking as CSV with a BOM and Chinese headers', async () => {
    const response = await fetch(
      `${hub.httpUrl}/api/assessment/scores?month=${month}&level=grid&format=csv`,
      {
        headers: { authorization: 'Bearer demo-officer-xijiao' },
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="scores-grid-community-xijiao-${month}.csv"`,
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = new TextDecoder('utf-8', { ignoreBOM: true })
      .decode(bytes)
      .slice(1)
      .trimEnd()
      .split('\r\n');
    expect(lines[0]).toBe(scoresCsvHeader.join(','));
    expect(lines).toHaveLength(6);
    expect(lines[5]?.startsWith('5,网格,grid-xijiao-01,')).toBe(true);
  });
});
