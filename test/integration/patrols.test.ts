import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import {
  getJson,
  type MovableClock,
  metricValue,
  movableClock,
  postJson,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';
import { moveTo, shanghai } from '../helpers/local-clock.ts';

type ErrorBody = { error: { code: string; message: string } };
type Day = {
  gridId: string;
  required: number;
  visited: string[];
  completed: boolean;
  points: { id: string; visitedAt: string | null; visitedBy: string | null }[];
  checkins: { pointId: string; method: string; userId: string }[];
  zeroReport: { userId: string } | null;
};
type BoardRow = {
  gridId: string;
  name: string;
  visited: number;
  required: number;
  patrol: string;
  zeroReportState: string;
  zeroReport: { name: string; userId: string } | null;
  workers: { userId: string; name: string; checkins: number }[];
  cases: { patrol?: string; zero_report?: string };
};
type Board = { date: string; grids: BoardRow[] };
type CheckinAnswer = { checkin: { pointId: string; method: string; gridId: string }; day: Day };

/** The demo's points (config/demo.yaml patrols), WGS-84 as the demo's map. */
const square = { lon: 116.3043, lat: 39.932 };
const refusals = (reason: string) => `gridhub_patrol_refusals_total{reason="${reason}"}`;

describe('patrols, zero reports, missed duty and the work log', () => {
  const directory = temporaryDirectory('gridhub-patrols-');
  let hub: TestHub;
  let clock: MovableClock;
  let date: string;

  beforeAll(async () => {
    clock = movableClock();
    moveTo(clock, 9 * 60);
    date = shanghai(clock.now()).date;
    hub = await startTestHub({ clock: clock.now, dataDir: directory.path });
  });

  afterAll(async () => {
    await hub?.stop();
    directory.remove();
  });

  const url = (path: string) => `${hub.httpUrl}${path}`;
  const checkIn = (token: string, body: unknown) =>
    postJson<CheckinAnswer & ErrorBody>(url('/api/patrols/checkins'), token, body);

  it('checks a worker in by the geofence, and refuses a position too far away, counted', async () => {
    const checked = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-square',
      method: 'geofence',
      position: { lon: square.lon + 0.0003, lat: square.lat, accuracyM: 10 },
    });
    expect(checked.status).toBe(201);
    expect(checked.body.checkin).toMatchObject({
      pointId: 'xj01-square',
      method: 'geofence',
      gridId: 'grid-xijiao-01',
    });
    expect(checked.body.day).toMatchObject({ required: 3, visited: ['xj01-square'], completed: false });

    const before = await metricValue(hub.httpUrl, refusals('too_far'));
    // About 200 m north of the south lane point, the fix ±20 m: outside 50 + 20 m.
    const far = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-south-lane',
      method: 'geofence',
      position: { lon: 116.3045, lat: 39.9321, accuracyM: 20 },
    });
    expect(far.status).toBe(422);
    expect(far.body.error.code).toBe('patrol_too_far');
    expect(await metricValue(hub.httpUrl, refusals('too_far'))).toBe(before + 1);
  });

  it('refuses a duplicate, another grid’s point and an unknown point, each counted', async () => {
    const counts = async () => ({
      duplicate: await metricValue(hub.httpUrl, refusals('duplicate')),
      notYours: await metricValue(hub.httpUrl, refusals('not_your_grid')),
      unknown: await metricValue(hub.httpUrl, refusals('unknown_point')),
    });
    const before = await counts();
    const again = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-square',
      method: 'geofence',
      position: { ...square, accuracyM: 10 },
    });
    expect([again.status, again.body.error.code]).toEqual([409, 'patrol_duplicate']);
    const other = await checkIn('demo-worker-xijiao-02', {
      pointId: 'xj01-square',
      method: 'geofence',
      position: { ...square, accuracyM: 10 },
    });
    expect([other.status, other.body.error.code]).toEqual([403, 'patrol_not_your_grid']);
    const unknown = await checkIn('demo-worker-xijiao-01', { pointId: 'nowhere', method: 'qr', code: 'x' });
    expect(unknown.status).toBe(404);
    expect(await counts()).toEqual({
      duplicate: before.duplicate + 1,
      notYours: before.notYours + 1,
      unknown: before.unknown + 1,
    });
  });

  it('hands the QR code to chiefs only, and checks in by it; a wrong code is refused and counted', async () => {
    const denied = await getJson(url('/api/patrols/points/xj01-north-gate/qr'), 'demo-worker-xijiao-01');
    expect(denied.status).toBe(403);
    const outOfScope = await getJson(url('/api/patrols/points/xj01-north-gate/qr'), 'demo-officer-luming');
    expect(outOfScope.status).toBe(403);
    const qr = (await getJson(url('/api/patrols/points/xj01-north-gate/qr'), 'demo-chief-xijiao')).body as {
      token: string;
      url: string;
    };
    expect(qr.token).toMatch(/^xj01-north-gate\.[A-Za-z0-9_-]{22}$/);
    expect(qr.url).toBe(`/dashboard/worker.html?patrolCode=${encodeURIComponent(qr.token)}`);

    const before = await metricValue(hub.httpUrl, refusals('bad_code'));
    const forged = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-north-gate',
      method: 'qr',
      code: `${qr.token.slice(0, -1)}${qr.token.endsWith('A') ? 'B' : 'A'}`,
    });
    expect([forged.status, forged.body.error.code]).toEqual([422, 'patrol_bad_code']);
    // Another point's genuine code is not this point's.
    const south = (await getJson(url('/api/patrols/points/xj01-south-lane/qr'), 'demo-chief-xijiao'))
      .body as {
      token: string;
    };
    const swapped = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-north-gate',
      method: 'qr',
      code: south.token,
    });
    expect(swapped.body.error.code).toBe('patrol_bad_code');
    expect(await metricValue(hub.httpUrl, refusals('bad_code'))).toBe(before + 2);

    const checked = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-north-gate',
      method: 'qr',
      code: qr.token,
    });
    expect(checked.status).toBe(201);
    expect(checked.body.day.completed).toBe(false);
    const last = await checkIn('demo-worker-xijiao-01', {
      pointId: 'xj01-south-lane',
      method: 'qr',
      code: south.token,
    });
    expect(last.status).toBe(201);
    expect(last.body.day).toMatchObject({ completed: true, userIds: ['worker-xijiao-01'] });
    expect(
      (await hub.testHandle.store.getRecord('patrol-days', `grid-xijiao-01/${date}`)) as unknown,
    ).toMatchObject({
      gridId: 'grid-xijiao-01',
      date,
      required: 3,
      completed: true,
    });
    expect(await metricValue(hub.httpUrl, 'gridhub_patrol_checkins_total{method="qr"}')).toBe(2);
  });

  it('shows the day to the grid’s chief and its officers, not to another community’s', async () => {
    // The worker shares their position while on duty: it is the day's track.
    const sharing = await fetch(url('/api/me/position-sharing'), {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-worker-xijiao-01', 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true }),
    });
    expect(sharing.status).toBe(200);
    const sentAt = new Date(clock.now()).toISOString();
    const sent = await postJson(url('/api/me/position'), 'demo-worker-xijiao-01', {
      ...square,
      accuracyM: 12,
      at: sentAt,
    });
    expect(sent.status).toBe(201);
    const day = await getJson(url(`/api/patrols/days/grid-xijiao-01/${date}`), 'demo-chief-xijiao');
    expect(day.status).toBe(200);
    const body = day.body as Day;
    expect(body.completed).toBe(true);
    expect(body.points.every((point) => point.visitedBy === 'worker-xijiao-01')).toBe(true);
    expect(body.checkins.map((checkin) => checkin.method)).toEqual(['geofence', 'qr', 'qr']);
    expect((day.body as { tracks: unknown }).tracks).toEqual([
      {
        userId: 'worker-xijiao-01',
        points: [{ ...square, accuracyM: 12, at: sentAt }],
      },
    ]);
    expect(
      (await getJson(url(`/api/patrols/days/grid-xijiao-01/${date}`), 'demo-officer-xijiao')).status,
    ).toBe(200);
    expect(
      (await getJson(url(`/api/patrols/days/grid-xijiao-01/${date}`), 'demo-officer-luming')).status,
    ).toBe(403);
    expect(
      (await getJson(url(`/api/patrols/days/grid-xijiao-01/${date}`), 'demo-worker-xijiao-02')).status,
    ).toBe(403);
  });

  it('takes one zero report per grid and day, and refuses it off duty', async () => {
    const first = await postJson<ErrorBody>(url('/api/patrols/zero-report'), 'demo-worker-xijiao-01', {
      gridId: 'grid-xijiao-01',
      note: '今日巡查未发现问题',
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ gridId: 'grid-xijiao-01', date, userId: 'worker-xijiao-01' });
    const before = await metricValue(hub.httpUrl, refusals('already_reported'));
    const second = await postJson<ErrorBody>(url('/api/patrols/zero-report'), 'demo-worker-xijiao-01', {
      gridId: 'grid-xijiao-01',
    });
    expect([second.status, second.body.error.code]).toEqual([409, 'zero_report_done']);
    expect(await metricValue(hub.httpUrl, refusals('already_reported'))).toBe(before + 1);
    // grid-xijiao-04's roster has the relief worker on 20:00–08:00 only: at 09:00 they are off duty there.
    const offDuty = await postJson<ErrorBody>(url('/api/patrols/zero-report'), 'demo-worker-xijiao-relief', {
      gridId: 'grid-xijiao-04',
    });
    expect([offDuty.status, offDuty.body.error.code]).toEqual([409, 'patrol_off_duty']);
  });

  const dutyCases = async (store = hub.testHandle.store) =>
    (await store.listActiveIncidents()).filter((incident: Incident) => incident.category === 'duty_missed');

  it('raises nothing before the deadlines', async () => {
    await hub.testHandle.dutySweep.sweep(clock.now());
    expect(await dutyCases()).toEqual([]);
  });

  it("shows the centre's board of the day before the deadlines: states, names, scope, most urgent first", async () => {
    const answer = await getJson(url(`/api/patrols/board/${date}`), 'demo-officer-xijiao');
    expect(answer.status).toBe(200);
    const board = answer.body as Board;
    // The community's two patrol grids, not grid-luming-01 (another community's).
    expect(board.grids.map((row) => row.gridId)).toEqual(['grid-xijiao-02', 'grid-xijiao-01']);
    const [second, first] = board.grids as [BoardRow, BoardRow];
    expect(second).toMatchObject({
      name: '西郊第2网格 Xijiao Grid 2',
      visited: 0,
      required: 2,
      patrol: 'pending',
      zeroReportState: 'pending',
      zeroReport: null,
      cases: {},
    });
    expect(first.zeroReportState).toBe('done');
    expect(first.zeroReport).toMatchObject({ userId: 'worker-xijiao-01', name: '赵磊 Zhao Lei' });
    expect(first.workers.find((worker) => worker.userId === 'worker-xijiao-01')).toMatchObject({
      name: '赵磊 Zhao Lei',
    });
    expect(first.workers.find((worker) => worker.userId === 'worker-xijiao-01')?.checkins).toBeGreaterThan(0);
    // Workers patrol from their own page; a bad date is refused.
    expect((await getJson(url(`/api/patrols/board/${date}`), 'demo-worker-xijiao-01')).status).toBe(403);
    expect((await getJson(url('/api/patrols/board/2026-1-01'), 'demo-officer-xijiao')).status).toBe(400);
  });

  it('after the deadlines raises one case per missed grid and kind to the chief, and records the miss', async () => {
    moveTo(clock, 20 * 60 + 30);
    expect(shanghai(clock.now()).date).toBe(date);
    // A worker of grid-luming-01 reported a case today (as a field report is audited: a user's incident.report):
    // the grid found something, so it owes no zero report.
    const at = new Date(clock.now() - 3600_000).toISOString();
    const chain = hub.hub.deployment.jurisdiction.grid('grid-luming-01')?.chain ?? [];
    const reportedCase: Incident = {
      id: 'inc_reported_by_worker',
      state: 'accepted',
      title: '井盖缺失',
      category: 'hazard',
      severity: 'warning',
      device: { id: 'case-source:field', name: '随手拍', adapter: 'people' },
      event: { type: 'field.report', occurredAt: at, attributes: {} },
      gridId: 'grid-luming-01',
      chain,
      createdAt: at,
      updatedAt: at,
      occurrences: 1,
      lastOccurredAt: at,
      related: [],
      assignees: ['worker-luming-01'],
      handler: 'worker-luming-01',
      responsibleNodeId: 'grid-luming-01',
      escalations: 0,
      dueAt: null,
      dueStage: null,
      reworks: 0,
      timeline: {},
    };
    await hub.testHandle.store.saveIncident(reportedCase, {
      id: 'aud_reported_by_worker',
      at,
      actor: { userId: 'worker-luming-01', role: 'grid_worker' },
      action: 'incident.report',
      target: { kind: 'incident', id: reportedCase.id },
      outcome: 'ok',
      detail: {},
    });
    // A second chief of grid-luming-01, made through the API: the sweep's chiefs are the hub's people, not the config's.
    const chief = await postJson(url('/api/accounts'), 'demo-admin', {
      id: 'chief-luming-api',
      name: '新网格长 New Chief',
      role: 'grid_chief',
      grids: ['grid-luming-01'],
      password: 'a first password',
    });
    expect(chief.status).toBe(201);
    await hub.testHandle.dutySweep.sweep(clock.now());
    await hub.testHandle.dutySweep.sweep(clock.now());
    const cases = await dutyCases();
    const keys = cases.map((incident) => `${incident.gridId}/${incident.event.attributes.kind}`).sort();
    // grid-xijiao-01 patrolled and reported zero; grid-xijiao-02 did neither; grid-luming-01 did not patrol, and
    // reported a case instead of zero.
    expect(keys).toEqual(['grid-luming-01/patrol', 'grid-xijiao-02/patrol', 'grid-xijiao-02/zero_report']);
    const patrolCase = cases.find(
      (incident) => incident.gridId === 'grid-xijiao-02' && incident.event.attributes.kind === 'patrol',
    ) as Incident;
    expect(patrolCase).toMatchObject({
      state: 'dispatched',
      assignees: ['chief-xijiao'],
      device: { id: 'case-source:patrol', name: '巡查考勤', adapter: 'people' },
    });
    expect(patrolCase.title).toContain('巡查未完成');
    const lumingCase = cases.find((incident) => incident.gridId === 'grid-luming-01') as Incident;
    expect([...lumingCase.assignees].sort()).toEqual(['chief-luming', 'chief-luming-api']);
    const miss = await hub.testHandle.store.getRecord('duty-misses', `grid-xijiao-02/${date}/patrol`);
    expect(miss).toEqual({
      gridId: 'grid-xijiao-02',
      date,
      kind: 'patrol',
      userIds: ['worker-xijiao-02'],
      incidentId: patrolCase.id,
    });
    expect(await metricValue(hub.httpUrl, 'gridhub_duty_misses_total{kind="zero_report"}')).toBe(1);
    // The chief sees the case in their list.
    const listed = await getJson(url('/api/incidents?state=dispatched'), 'demo-chief-xijiao');
    expect(JSON.stringify(listed.body)).toContain(patrolCase.id);
    // And acts on it as on any case: it is accepted through the lifecycle.
    const accepted = await postJson<Incident>(
      url(`/api/incidents/${patrolCase.id}/actions/accept`),
      'demo-chief-xijiao',
      {},
    );
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ state: 'accepted', handler: 'chief-xijiao' });
  });

  it('shows the misses on the board after the sweep, with their cases; a zero report not owed is overdue, not missed', async () => {
    const patrolCase = (await dutyCases()).find(
      (incident) => incident.gridId === 'grid-xijiao-02' && incident.event.attributes.kind === 'patrol',
    ) as Incident;
    const board = (await getJson(url(`/api/patrols/board/${date}`), 'demo-officer-xijiao')).body as Board;
    expect(board.grids[0]).toMatchObject({
      gridId: 'grid-xijiao-02',
      patrol: 'missed',
      zeroReportState: 'missed',
      cases: { patrol: patrolCase.id },
    });
    const luming = (await getJson(url(`/api/patrols/board/${date}`), 'demo-officer-luming')).body as Board;
    expect(luming.grids.map((row) => [row.gridId, row.patrol, row.zeroReportState])).toEqual([
      ['grid-luming-01', 'missed', 'overdue'],
    ]);
  });

  it('lists the day in the worker’s work log, as JSON, text and CSV, to them and their chief only', async () => {
    const log = await getJson(url(`/api/worklogs/worker-xijiao-01/${date}`), 'demo-worker-xijiao-01');
    expect(log.status).toBe(200);
    expect(log.body).toMatchObject({
      userId: 'worker-xijiao-01',
      date,
      checkins: 3,
      positionsShared: 1,
      grids: [{ gridId: 'grid-xijiao-01', completed: true, zeroReport: true }],
    });
    const kinds = (log.body as { entries: { kind: string }[] }).entries.map((entry) => entry.kind);
    expect(kinds).toEqual(['checkin', 'checkin', 'checkin', 'zero_report']);
    const text = await fetch(url(`/api/worklogs/worker-xijiao-01/${date}?format=text`), {
      headers: { authorization: 'Bearer demo-chief-xijiao' },
    });
    expect(text.headers.get('content-type')).toContain('text/plain');
    const printed = await text.text();
    expect(printed).toContain('网格员工作日志');
    expect(printed).toContain('巡查签到(扫码):北门岗亭');
    expect(printed).toContain('巡查 3/3 点,已完成');
    const csv = await fetch(url(`/api/worklogs/worker-xijiao-01/${date}?format=csv`), {
      headers: { authorization: 'Bearer demo-officer-xijiao' },
    });
    const bytes = Buffer.from(await csv.arrayBuffer());
    // A BOM first, so that spreadsheet programs read it as UTF-8 (fetch's text() would drop it).
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.subarray(3).toString('utf8').split('\r\n')[0]).toBe('时间,类别,内容,对象');
    expect(
      (await getJson(url(`/api/worklogs/worker-xijiao-01/${date}`), 'demo-worker-xijiao-02')).status,
    ).toBe(403);
    expect((await getJson(url(`/api/worklogs/worker-xijiao-01/${date}`), 'demo-officer-luming')).status).toBe(
      403,
    );
  });

  it('raises no miss again after a restart', async () => {
    const before = (await dutyCases()).map((incident) => incident.id).sort();
    await hub.stop();
    hub = await startTestHub({ clock: clock.now, dataDir: directory.path });
    await hub.testHandle.dutySweep.sweep(clock.now());
    expect((await dutyCases()).map((incident) => incident.id).sort()).toEqual(before);
  });
});
