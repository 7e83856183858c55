import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoGate,
  eventually,
  getJson,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type ErrorBody = { error: { code: string; message: string } };

/**
 * #25's lifecycle through the HTTP API of a real hub: 退回, 延期, 挂账 (resumed by the sweep at its review date),
 * supervision kept apart from command, hand-off to a department's user, feedback to the reporter, the approval chain.
 */
describe('the case lifecycle of people’s cases (#25)', () => {
  let hub: TestHub;
  let worker: RecordingClient;
  let sim: GateSimulator;
  let task: Incident;
  let departmentClient: RecordingClient | undefined;

  beforeAll(async () => {
    hub = await startTestHub();
    worker = await connectClient(hub.httpUrl, 'demo-worker-xijiao-01');
    sim = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await sim.start();
    await sim.forceDoor();
    task = (await worker.nth('incident:new', 1)) as Incident;
  });

  afterAll(async () => {
    worker?.close();
    departmentClient?.close();
    await sim?.stop();
    await hub?.stop();
  });

  const act = (token: string, id: string, name: string, body?: unknown) =>
    postJson<Incident & ErrorBody>(
      `${hub.httpUrl}/api/incidents/${id}/actions/${name}`,
      `demo-${token}`,
      body,
    );
  const offered = async (token: string, id: string) =>
    (
      (await getJson(`${hub.httpUrl}/api/incidents/${id}/actions`, `demo-${token}`)).body as {
        actions: string[];
      }
    ).actions;
  const audit = async (id: string) =>
    (
      (await getJson(`${hub.httpUrl}/api/incidents/${id}/audit`, 'demo-officer-xijiao')).body as {
        entries: AuditEntry[];
      }
    ).entries;

  it('returns a case to the centre with its reason; the centre dispatches it again', async () => {
    expect(task).toMatchObject({ state: 'dispatched', assignees: ['worker-xijiao-01'] });
    expect(await offered('worker-xijiao-01', task.id)).toEqual(['accept', 'note', 'return']);
    const bare = await act('worker-xijiao-01', task.id, 'return');
    expect(bare.status).toBe(400);
    expect(bare.body.error.message).toBe('returning a case needs the reason');
    const other = await act('worker-xijiao-02', task.id, 'return', { note: 'x' });
    expect(other.status).toBe(404);
    const back = await act('worker-xijiao-01', task.id, 'return', { note: '非本网格，应属西郊02' });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ state: 'new', assignees: [], handler: null });
    expect(back.body.returns).toEqual([
      { userId: 'worker-xijiao-01', at: expect.any(String), reason: '非本网格，应属西郊02' },
    ]);
    expect(await offered('officer-xijiao', task.id)).toContain('dispatch');
    expect(await offered('worker-xijiao-01', task.id)).not.toContain('return');
    const entries = await audit(task.id);
    expect(
      entries.find((entry) => entry.action === 'incident.return' && entry.outcome === 'ok'),
    ).toMatchObject({
      outcome: 'ok',
      message: '非本网格，应属西郊02',
      detail: { from: 'dispatched', to: 'new' },
    });
    expect(
      entries.filter((entry) => entry.action === 'incident.return' && entry.outcome === 'refused'),
    ).toHaveLength(1);
    const again = await act('officer-xijiao', task.id, 'dispatch', { assignees: ['worker-xijiao-01'] });
    expect(again.body).toMatchObject({ state: 'dispatched', assignees: ['worker-xijiao-01'] });
    expect((await act('worker-xijiao-01', task.id, 'accept')).body.state).toBe('accepted');
  });

  it('asks for an extension, bounded, and moves the deadline when the responsible centre approves', async () => {
    const current = (await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-officer-xijiao'))
      .body as Incident;
    const due = Date.parse(current.dueAt as string);
    const tooFar = await act('worker-xijiao-01', task.id, 'request_extension', {
      note: '等配件',
      until: new Date(due + 200 * 3_600_000).toISOString(),
    });
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.error.message).toBe('an extension may add at most 168 h');
    const until = new Date(due + 4 * 3_600_000).toISOString();
    const asked = await act('worker-xijiao-01', task.id, 'request_extension', { note: '等配件', until });
    expect(asked.status).toBe(200);
    expect(asked.body.dueAt).toBe(current.dueAt);
    expect(asked.body.extensions).toEqual([
      { requestedBy: 'worker-xijiao-01', at: expect.any(String), reason: '等配件', until },
    ]);
    expect(await offered('worker-xijiao-01', task.id)).not.toContain('request_extension');
    expect(await offered('officer-xijiao', task.id)).toEqual(
      expect.arrayContaining(['approve_extension', 'deny_extension']),
    );
    // A worker may not decide it.
    expect((await act('worker-xijiao-01', task.id, 'approve_extension')).status).toBe(403);
    const approved = await act('officer-xijiao', task.id, 'approve_extension');
    expect(approved.status).toBe(200);
    expect(approved.body.dueAt).toBe(new Date(until).toISOString());
    expect(approved.body.extensions?.[0]).toMatchObject({ approved: true, decidedBy: 'officer-xijiao' });
  });

  it('keeps supervision apart from command: the state, the handler and the deadline stay', async () => {
    const before = (await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-officer-xijiao'))
      .body as Incident;
    const supervised = await act('officer-liushuwan', task.id, 'supervise', { note: '今日内办结' });
    expect(supervised.status).toBe(200);
    expect(supervised.body).toMatchObject({
      state: before.state,
      handler: before.handler,
      assignees: before.assignees,
      dueAt: before.dueAt,
      supervisions: [{ nodeId: 'street-liushuwan', userId: 'officer-liushuwan', note: '今日内办结' }],
    });
    // The handler sees the instruction on the case.
    const seen = (await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-worker-xijiao-01'))
      .body as Incident;
    expect(seen.supervisions?.[0]?.note).toBe('今日内办结');
  });

  it("hands off to a department's user, who sees the case and reports their part done; the handler stays", async () => {
    expect((await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-dept-chengguan-01')).status).toBe(
      404,
    );
    // The picker's list: the departments and their users who serve the officer's part (the police serve Liushuwan).
    const departments = await getJson(`${hub.httpUrl}/api/departments`, 'demo-officer-xijiao');
    expect(departments.body).toEqual({
      departments: [
        {
          id: 'chengguan',
          name: '城管',
          users: [{ id: 'dept-chengguan-01', name: '城管 韩磊 Han Lei', scope: 'district-qinghe' }],
        },
        {
          id: 'scjg',
          name: '市场监管',
          users: [{ id: 'dept-scjg-01', name: '市场监管 宋佳 Song Jia', scope: 'district-qinghe' }],
        },
        {
          id: 'police',
          name: '派出所',
          users: [{ id: 'dept-police-01', name: '派出所 邓伟 Deng Wei', scope: 'street-liushuwan' }],
        },
      ],
    });
    const luming = (await getJson(`${hub.httpUrl}/api/departments`, 'demo-officer-luming')).body as {
      departments: { id: string }[];
    };
    expect(luming.departments.map((department) => department.id)).toEqual(['chengguan', 'scjg']);
    const department = await connectClient(hub.httpUrl, 'demo-dept-chengguan-01');
    departmentClient = department;
    const notDepartment = await act('worker-xijiao-01', task.id, 'hand_off', {
      note: '占道',
      coordinator: 'integrator-qinghe',
    });
    expect(notDepartment.status).toBe(400);
    expect(notDepartment.body.error.message).toBe("integrator-qinghe is not a department's user");
    // The police user's scope (street-liushuwan) reaches the case; a user out of its scope would be refused.
    const handed = await act('worker-xijiao-01', task.id, 'hand_off', {
      note: '占道经营，请城管协同',
      coordinator: 'dept-chengguan-01',
    });
    expect(handed.status).toBe(200);
    expect(handed.body).toMatchObject({
      handler: 'worker-xijiao-01',
      coordinators: [
        { userId: 'dept-chengguan-01', departmentId: 'chengguan', note: '占道经营，请城管协同' },
      ],
    });
    expect((await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-dept-chengguan-01')).status).toBe(
      200,
    );
    // Live: the hand-off reaches the department user's socket, which has had nothing else.
    const pushed = (await department.nth('incident:update', 1)) as { after: Incident };
    expect(pushed.after).toMatchObject({ id: task.id, coordinators: [{ userId: 'dept-chengguan-01' }] });
    expect(department.received.map((entry) => entry.event)).toEqual(['incident:update']);
    const listed = (await getJson(`${hub.httpUrl}/api/incidents`, 'demo-dept-chengguan-01')).body as {
      incidents: Incident[];
    };
    expect(listed.incidents.map((incident) => incident.id)).toEqual([task.id]);
    expect(await offered('dept-chengguan-01', task.id)).toEqual(['note', 'coordinate_done']);
    const done = await act('dept-chengguan-01', task.id, 'coordinate_done', { note: '摊位已清理' });
    expect(done.status).toBe(200);
    expect(done.body.coordinators?.[0]).toMatchObject({ doneNote: '摊位已清理' });
    expect(done.body.handler).toBe('worker-xijiao-01');
    const note = await act('dept-chengguan-01', task.id, 'note', { note: '已复查' });
    expect(note.status).toBe(200);
  });

  it('a department user reads nothing else: no other case, devices, places, people or scores', async () => {
    const raised = new Promise<Incident>((resolve) => {
      const stop = hub.hub.bus.on('incident:created', (incident) => {
        if (incident.device.id !== 'gate-xijiao-02-east') return;
        stop();
        resolve(incident);
      });
    });
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-02-east');
    await gate.start();
    await gate.forceDoor();
    const other = await raised;
    await gate.stop();
    for (const path of [`/api/incidents/${other.id}`, `/api/incidents/${other.id}/actions`])
      expect((await getJson(`${hub.httpUrl}${path}`, 'demo-dept-chengguan-01')).status).toBe(404);
    const noted = await act('dept-chengguan-01', other.id, 'note', { note: 'x' });
    expect(noted.status).toBe(404);
    expect(departmentClient?.received.some((entry) => (entry.payload as Incident).id === other.id)).toBe(
      false,
    );
    const refused = [
      '/api/devices',
      '/api/devices/gate-xijiao-01-north',
      '/api/devices/gate-xijiao-01-north/events',
      '/api/grids',
      '/api/jurisdiction',
      '/api/users',
      '/api/departments',
      '/api/rosters/grid-xijiao-01',
      '/api/assessment/scores',
      '/api/patrols/points',
      '/api/catalogue',
      '/api/dead-letters',
    ];
    for (const path of refused)
      expect([path, (await getJson(`${hub.httpUrl}${path}`, 'demo-dept-chengguan-01')).status]).toEqual([
        path,
        403,
      ]);
    expect(departmentClient?.received.some((entry) => entry.event === 'device:status')).toBe(false);
    // Department users come from the config, with their department; the API makes none.
    const made = await postJson<ErrorBody>(`${hub.httpUrl}/api/accounts`, 'demo-admin', {
      id: 'dept-new',
      name: 'x',
      role: 'department',
      scope: 'district-qinghe',
      password: 'a first password',
    });
    expect(made.status).toBe(400);
  });

  it('suspends a case, stops its deadline, and the sweep resumes it at the review date with the time left', async () => {
    const before = (await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-officer-xijiao'))
      .body as Incident;
    const reviewAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
    expect((await act('worker-xijiao-01', task.id, 'suspend', { note: 'x', reviewAt })).status).toBe(403);
    const parked = await act('officer-xijiao', task.id, 'suspend', { note: '待业主回国', reviewAt });
    expect(parked.status).toBe(200);
    expect(parked.body).toMatchObject({
      state: 'suspended',
      dueAt: null,
      suspension: { reviewAt, fromState: 'accepted' },
    });
    const left = parked.body.suspension?.remaining?.ms as number;
    expect(left).toBeGreaterThan(0);
    expect(Date.parse(before.dueAt as string) - Date.now()).toBeGreaterThanOrEqual(left - 1000);
    // Still an open case: listed as such, and not escalated while it lies.
    const listed = (await getJson(`${hub.httpUrl}/api/incidents?state=suspended`, 'demo-officer-xijiao'))
      .body as {
      incidents: Incident[];
    };
    expect(listed.incidents.map((incident) => incident.id)).toContain(task.id);
    // The sweep, asked as of a day later: nothing to do yet (the lifecycle stamps the hub's real time).
    hub.testHandle.incidents.sweep(Date.now() + 86_400_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(
      ((await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-officer-xijiao')).body as Incident)
        .state,
    ).toBe('suspended');
    hub.testHandle.incidents.sweep(Date.now() + 2 * 86_400_000 + 60_000);
    await eventually(
      async () =>
        ((await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-officer-xijiao')).body as Incident)
          .state === 'accepted',
    );
    const resumed = (await getJson(`${hub.httpUrl}/api/incidents/${task.id}`, 'demo-officer-xijiao'))
      .body as Incident;
    expect(resumed.suspension).toBeUndefined();
    expect(resumed.acknowledgements).toBeUndefined();
    expect(Date.parse(resumed.dueAt as string) - Date.now()).toBeLessThanOrEqual(left);
    expect(Date.parse(resumed.dueAt as string) - Date.now()).toBeGreaterThan(left - 5_000);
    const entries = await audit(task.id);
    expect(entries.find((entry) => entry.action === 'incident.resume')).toMatchObject({
      actor: { userId: 'system' },
      outcome: 'ok',
    });
  });

  it('takes a field report needing approval up its chain, shows it in 公示, then opens dispatch; a denial ends it', async () => {
    const { store } = hub.testHandle;
    const base = (await store.getIncident(task.id)) as Incident;
    const waiting: Incident = {
      ...base,
      id: `${base.id}-approval`,
      state: 'new',
      assignees: [],
      handler: null,
      approval: { chain: ['community-xijiao', 'street-liushuwan', 'district-qinghe'], at: 0, decisions: [] },
    };
    const { supervisions: _s, coordinators: _c, extensions: _e, returns: _r, ...plain } = waiting;
    await store.saveIncident(plain);
    await store.saveIncident({ ...plain, id: `${base.id}-denied` });
    expect(await offered('officer-xijiao', plain.id)).toEqual(expect.arrayContaining(['approve', 'deny']));
    expect(await offered('officer-xijiao', plain.id)).not.toContain('dispatch');
    expect(
      (await act('officer-xijiao', plain.id, 'dispatch', { assignees: ['worker-xijiao-01'] })).status,
    ).toBe(409);
    expect((await act('officer-liushuwan', plain.id, 'approve')).status).toBe(403);
    expect((await act('officer-xijiao', plain.id, 'approve', { note: '受理界定' })).body.approval?.at).toBe(
      1,
    );
    expect(
      (await act('officer-liushuwan', plain.id, 'approve', { note: '审核通过' })).body.approval?.at,
    ).toBe(2);
    const approved = await act('officer-qinghe', plain.id, 'approve', { note: '批准' });
    expect(approved.body).toMatchObject({ state: 'new', approval: { at: 3 }, dueAt: null });
    expect(approved.body.approval?.decisions.map((decision) => decision.nodeId)).toEqual([
      'community-xijiao',
      'street-liushuwan',
      'district-qinghe',
    ]);
    // 公示 (lifecycle.approval.publicNoticeDays, 5 by default): not dispatched while it is shown.
    const until = approved.body.approval?.notice?.until as string;
    expect(Date.parse(until) - Date.parse(approved.body.approval?.notice?.from as string)).toBe(
      5 * 86_400_000,
    );
    expect(await offered('officer-xijiao', plain.id)).not.toContain('dispatch');
    expect(await offered('officer-xijiao', plain.id)).toContain('object_notice');
    const board = await getJson(`${hub.httpUrl}/api/public-notices`, 'demo-officer-xijiao');
    expect(board.status).toBe(200);
    const notices = (board.body as { notices: Record<string, unknown>[] }).notices;
    expect(notices).toEqual([
      expect.objectContaining({ incidentId: plain.id, community: expect.any(String), until }),
    ]);
    expect(JSON.stringify(notices)).not.toMatch(/reportedBy|reporter|officer-|worker-/);
    expect(
      (
        (await getJson(`${hub.httpUrl}/api/public-notices`, 'demo-officer-luming')).body as {
          notices: unknown[];
        }
      ).notices,
    ).toEqual([]);
    expect((await getJson(`${hub.httpUrl}/api/public-notices`, 'demo-worker-xijiao-01')).status).toBe(403);
    expect((await getJson(`${hub.httpUrl}/api/public-notices`)).status).toBe(401);
    // The period runs out without objection: the deadline sweep ends it, and the case goes to dispatch.
    hub.testHandle.incidents.sweep(Date.parse(until) + 60_000);
    await eventually(async () => (await offered('officer-xijiao', plain.id)).includes('dispatch'));
    const ended = (await getJson(`${hub.httpUrl}/api/incidents/${plain.id}`, 'demo-officer-xijiao'))
      .body as Incident;
    expect(ended.approval?.notice?.endedAt).toEqual(expect.any(String));
    expect(ended.dueStage).toBe('accept');
    expect((await audit(plain.id)).find((entry) => entry.action === 'incident.end_notice')).toMatchObject({
      actor: { userId: 'system' },
      outcome: 'ok',
    });
    const denied = await act('officer-xijiao', `${base.id}-denied`, 'deny', { note: '不符合审批条件' });
    expect(denied.body).toMatchObject({ state: 'cancelled', closedBy: 'officer-xijiao' });
    expect(denied.body.approval?.decisions).toEqual([
      {
        nodeId: 'community-xijiao',
        userId: 'officer-xijiao',
        at: expect.any(String),
        approved: false,
        note: '不符合审批条件',
      },
    ]);
  });

  it('sends a case objected to during 公示 back to the approving district; a denial is answered to the reporter', async () => {
    const { store } = hub.testHandle;
    const base = (await store.getIncident(task.id)) as Incident;
    const { supervisions: _s, coordinators: _c, extensions: _e, returns: _r, feedback: _f, ...rest } = base;
    const decided = (nodeId: string, userId: string) => ({
      nodeId,
      userId,
      at: new Date().toISOString(),
      approved: true,
    });
    const lastStep: Incident = {
      ...rest,
      id: `${base.id}-objected`,
      state: 'new',
      assignees: [],
      handler: null,
      origin: { kind: 'field_report', reportedBy: 'worker-xijiao-01', path: 'approval' },
      approval: {
        chain: ['community-xijiao', 'street-liushuwan', 'district-qinghe'],
        at: 2,
        decisions: [
          decided('community-xijiao', 'officer-xijiao'),
          decided('street-liushuwan', 'officer-liushuwan'),
        ],
      },
    };
    await store.saveIncident(lastStep);
    expect((await act('officer-qinghe', lastStep.id, 'approve')).body.approval?.notice).toBeDefined();
    expect((await act('officer-xijiao', lastStep.id, 'object_notice')).status).toBe(400);
    expect((await act('officer-luming', lastStep.id, 'object_notice', { note: '异议' })).status).toBe(404);
    const objected = await act('officer-xijiao', lastStep.id, 'object_notice', { note: '邻居反映占用通道' });
    expect(objected.status).toBe(200);
    expect(objected.body.approval).toMatchObject({
      at: 2,
      notice: {
        objection: { userId: 'officer-xijiao', nodeId: 'community-xijiao', reason: '邻居反映占用通道' },
      },
    });
    expect(await offered('officer-xijiao', lastStep.id)).not.toContain('dispatch');
    expect(await offered('officer-qinghe', lastStep.id)).toEqual(expect.arrayContaining(['approve', 'deny']));
    const board = await getJson(`${hub.httpUrl}/api/public-notices`, 'demo-officer-xijiao');
    expect(JSON.stringify(board.body)).not.toContain(lastStep.id);
    const denied = await act('officer-qinghe', lastStep.id, 'deny', { note: '异议成立，不予批准' });
    expect(denied.body.state).toBe('cancelled');
    // Denied, the application is answered (回访) like a case done, unlike a case merely cancelled.
    expect(await offered('officer-xijiao', lastStep.id)).toContain('feedback');
    const told = await act('officer-xijiao', lastStep.id, 'feedback', {
      note: '已告知不予批准及理由',
      via: 'phone',
    });
    expect(told.body.feedback).toMatchObject({ userId: 'officer-xijiao', via: 'phone' });
  });

  it("records feedback to the reporter on a people's case after closure, once", async () => {
    const { store } = hub.testHandle;
    const base = (await store.getIncident(task.id)) as Incident;
    const closed = {
      ...base,
      id: `${base.id}-people`,
      state: 'closed',
      origin: { kind: 'hotline_12345' },
    } as Incident;
    await store.saveIncident(closed);
    expect(await offered('officer-xijiao', task.id)).not.toContain('feedback');
    expect(await offered('officer-xijiao', closed.id)).toContain('feedback');
    const noVia = await act('officer-xijiao', closed.id, 'feedback', { note: '已告知' });
    expect(noVia.status).toBe(400);
    const badVia = await act('officer-xijiao', closed.id, 'feedback', { note: '已告知', via: 'pigeon' });
    expect(badVia.status).toBe(400);
    const told = await act('officer-xijiao', closed.id, 'feedback', { note: '电话告知已处理', via: 'phone' });
    expect(told.status).toBe(200);
    expect(told.body.feedback).toEqual({
      userId: 'officer-xijiao',
      at: expect.any(String),
      note: '电话告知已处理',
      via: 'phone',
    });
    expect((await act('officer-xijiao', closed.id, 'feedback', { note: 'again', via: 'sms' })).status).toBe(
      409,
    );
  });
});
