import { describe, expect, it } from 'vitest';
import { type Incident, incidentStates, isOpen } from '../../src/core/incident.ts';
import {
  type Actor,
  applyAction,
  availableActions,
  incidentActions,
  isRefusal,
  type LifecycleContext,
  systemActor,
} from '../../src/incidents/lifecycle.ts';

const now = Date.parse('2026-11-22T08:00:00Z');
const context: LifecycleContext = {
  now,
  deadlineMs: (_category, stage) => ({ accept: 5, arrive: 15, resolve: 60 })[stage] * 60_000,
  parentOf: (node) => ({ g1: 'c1', c1: 's1', s1: 'd1' })[node],
};
const officer: Actor = { userId: 'officer', role: 'duty_officer' };
const worker: Actor = { userId: 'worker', role: 'grid_worker' };
const otherWorker: Actor = { userId: 'other', role: 'grid_worker' };

function incident(overrides: Partial<Incident> = {}): Incident {
  const at = new Date(now - 60_000).toISOString();
  return {
    id: 'inc_1',
    state: 'dispatched',
    title: 'Door forced open',
    category: 'intrusion',
    severity: 'critical',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: at, attributes: {} },
    gridId: 'g1',
    chain: [
      { id: 'g1', name: 'G1', level: 'grid' },
      { id: 'c1', name: 'C1', level: 'community' },
      { id: 's1', name: 'S1', level: 'street' },
      { id: 'd1', name: 'D1', level: 'district' },
    ],
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: ['worker'],
    handler: null,
    responsibleNodeId: 'g1',
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: 0,
    timeline: {},
    ...overrides,
  };
}

describe('the lifecycle table', () => {
  it('never leaves an ended incident by any action but a note', () => {
    for (const state of ['closed', 'false_alarm', 'cancelled'] as const) {
      for (const action of incidentActions.filter((name) => name !== 'note')) {
        const result = applyAction(
          incident({ state }),
          action,
          officer,
          { note: 'x', assignees: ['worker'] },
          context,
        );
        expect(isRefusal(result), `${action} from ${state}`).toBe(true);
      }
    }
  });

  it('lets only an assignee accept, and starts the arrival deadline', () => {
    expect(applyAction(incident(), 'accept', otherWorker, {}, context)).toEqual({
      kind: 'forbidden',
      reason: 'only a user the task is dispatched to may accept it',
    });
    const accepted = applyAction(incident(), 'accept', worker, {}, context) as Incident;
    expect(accepted).toMatchObject({
      state: 'accepted',
      handler: 'worker',
      assignees: ['worker'],
      dueStage: 'arrive',
      dueAt: new Date(now + 15 * 60_000).toISOString(),
      updatedAt: new Date(now).toISOString(),
      timeline: { acceptedAt: new Date(now).toISOString() },
    });
  });

  it('sets the acceptance and resolution deadlines at the first dispatch only', () => {
    const fresh = incident({ state: 'new', assignees: [] });
    const once = applyAction(fresh, 'dispatch', officer, { assignees: ['worker'] }, context) as Incident;
    expect(once.timeline).toEqual({
      dispatchedAt: new Date(now).toISOString(),
      acceptBy: new Date(now + 5 * 60_000).toISOString(),
      resolveBy: new Date(Date.parse(fresh.createdAt) + 60 * 60_000).toISOString(),
    });
    const later = applyAction(
      once,
      'dispatch',
      officer,
      { assignees: ['other'] },
      { ...context, now: now + 1000 },
    ) as Incident;
    expect(later.timeline).toEqual(once.timeline);
    expect(later.assignees).toEqual(['other']);
    expect(applyAction(fresh, 'dispatch', officer, {}, context)).toMatchObject({ kind: 'invalid' });
    expect(applyAction(fresh, 'dispatch', worker, { assignees: ['worker'] }, context)).toMatchObject({
      kind: 'forbidden',
    });
  });

  it('keeps verification from the handler and sends a rejection back as rework', () => {
    const resolved = incident({
      state: 'resolved',
      handler: 'officer',
      resolvedBy: 'officer',
      resolvedAt: 'x',
      resolution: 'done',
    });
    expect(applyAction(resolved, 'verify', officer, {}, context)).toMatchObject({ kind: 'forbidden' });
    const handled = incident({
      state: 'resolved',
      handler: 'worker',
      resolvedBy: 'worker',
      resolvedAt: 'x',
      resolution: 'done',
    });
    const rework = applyAction(handled, 'reject', officer, { note: 'again' }, context) as Incident;
    expect(rework).toMatchObject({
      state: 'accepted',
      reworks: 1,
      assignees: ['worker'],
      dueStage: 'resolve',
    });
    expect(rework.resolvedAt).toBeUndefined();
    expect(applyAction(handled, 'verify', officer, {}, context)).toMatchObject({
      state: 'closed',
      closedBy: 'officer',
    });
  });

  it('escalates one level at a time up to the district, keeping a case in hand with its handler', () => {
    let current = incident({ state: 'dispatched' });
    const levels: string[] = [];
    for (;;) {
      const next = applyAction(current, 'escalate', systemActor, {}, context);
      if (isRefusal(next)) {
        expect(next).toEqual({ kind: 'illegal', reason: 'already at the top of the jurisdiction' });
        break;
      }
      levels.push(next.responsibleNodeId);
      current = next;
    }
    expect(levels).toEqual(['c1', 's1', 'd1']);
    expect(current).toMatchObject({ state: 'escalated', escalations: 3, dueStage: 'accept' });
    const inHand = incident({ state: 'on_site', handler: 'worker', dueStage: 'resolve' });
    expect(applyAction(inHand, 'escalate', systemActor, {}, context)).toMatchObject({
      state: 'on_site',
      handler: 'worker',
      responsibleNodeId: 'c1',
      dueStage: 'resolve',
    });
  });

  it('answers every illegal jump with a sentence naming the action and the state', () => {
    for (const state of incidentStates) {
      const result = applyAction(incident({ state, handler: 'worker' }), 'arrive', worker, {}, context);
      if (state === 'accepted') expect(isRefusal(result)).toBe(false);
      else
        expect(result).toEqual({
          kind: 'illegal',
          reason: `cannot arrive at an incident that is ${state === 'on_site' ? 'on site' : state === 'false_alarm' ? 'a false alarm' : state}`,
        });
    }
  });

  it("records an acknowledgement for the officer's centre, changing no state, once per centre", () => {
    const centreOfficer: Actor = { userId: 'officer', role: 'duty_officer', scopeNodeIds: ['c1'] };
    const colleague: Actor = { userId: 'colleague', role: 'duty_officer', scopeNodeIds: ['c1'] };
    const streetOfficer: Actor = { userId: 'street', role: 'duty_officer', scopeNodeIds: ['s1'] };
    const before = incident();
    const acknowledged = applyAction(before, 'acknowledge', centreOfficer, {}, context) as Incident;
    const { acknowledgements, updatedAt, ...rest } = acknowledged;
    const { updatedAt: _before, ...unchanged } = before;
    expect(rest).toEqual(unchanged);
    expect(acknowledgements).toEqual([{ nodeId: 'c1', userId: 'officer', at: new Date(now).toISOString() }]);
    expect(updatedAt).toBe(new Date(now).toISOString());

    expect(applyAction(acknowledged, 'acknowledge', colleague, {}, context)).toEqual({
      kind: 'illegal',
      reason: `C1 has already acknowledged this incident (officer at ${new Date(now).toISOString()})`,
    });
    // Another centre (the street above) acknowledges for itself.
    const both = applyAction(
      acknowledged,
      'acknowledge',
      streetOfficer,
      {},
      { ...context, now: now + 1000 },
    ) as Incident;
    expect(both.acknowledgements?.map((entry) => [entry.nodeId, entry.userId])).toEqual([
      ['c1', 'officer'],
      ['s1', 'street'],
    ]);
  });

  it('lets duty officers, grid chiefs and admins acknowledge open incidents only, within their jurisdiction', () => {
    const chief: Actor = { userId: 'chief', role: 'grid_chief', scopeNodeIds: ['g9', 'g1'] };
    expect(applyAction(incident(), 'acknowledge', chief, {}, context)).toMatchObject({
      acknowledgements: [{ nodeId: 'g1', userId: 'chief' }],
    });
    const admin: Actor = { userId: 'root', role: 'admin', scopeNodeIds: ['d1'] };
    expect(applyAction(incident(), 'acknowledge', admin, {}, context)).toMatchObject({
      acknowledgements: [{ nodeId: 'd1' }],
    });
    expect(applyAction(incident(), 'acknowledge', { ...worker, scopeNodeIds: ['g1'] }, {}, context)).toEqual({
      kind: 'forbidden',
      reason: 'a grid worker may not acknowledge an incident',
    });
    expect(applyAction(incident(), 'acknowledge', systemActor, {}, context)).toMatchObject({
      kind: 'forbidden',
    });
    expect(
      applyAction(incident(), 'acknowledge', { ...officer, scopeNodeIds: ['elsewhere'] }, {}, context),
    ).toEqual({
      kind: 'forbidden',
      reason: 'only a centre whose jurisdiction covers the incident may acknowledge it',
    });
    expect(
      applyAction(
        incident({ state: 'resolved' }),
        'acknowledge',
        { ...officer, scopeNodeIds: ['c1'] },
        {},
        context,
      ),
    ).toEqual({ kind: 'illegal', reason: 'cannot acknowledge an incident that is resolved' });
  });

  it('lets only the hub clear an open incident', () => {
    expect(applyAction(incident(), 'clear', officer, {}, context)).toMatchObject({ kind: 'forbidden' });
    const cleared = applyAction(
      incident(),
      'clear',
      systemActor,
      { note: 'cleared by device.online' },
      context,
    ) as Incident;
    expect(cleared).toMatchObject({
      state: 'resolved',
      resolvedBy: 'system',
      resolution: 'cleared by device.online',
    });
    expect(isOpen(cleared.state)).toBe(false);
  });

  it('refuses a false alarm without a note saying why, and ends the case with one', () => {
    expect(applyAction(incident(), 'false_alarm', officer, {}, context)).toEqual({
      kind: 'invalid',
      reason: 'a false alarm needs a note saying why',
    });
    const handled = incident({ state: 'on_site', handler: 'worker' });
    expect(applyAction(handled, 'false_alarm', worker, {}, context)).toMatchObject({ kind: 'invalid' });
    expect(
      applyAction(handled, 'false_alarm', worker, { note: 'the wind opened the door' }, context),
    ).toMatchObject({
      state: 'false_alarm',
      closedBy: 'worker',
      dueAt: null,
      timeline: { closedAt: new Date(now).toISOString() },
    });
  });
});

describe('supervision (督办)', () => {
  const centreOfficer: Actor = { userId: 'officer', role: 'duty_officer', scopeNodeIds: ['s1'] };

  it("records the instruction for the officer's centre, changing no state, as often as it is given", () => {
    const before = incident({ state: 'accepted', handler: 'worker' });
    const once = applyAction(
      before,
      'supervise',
      centreOfficer,
      { note: 'report by noon' },
      context,
    ) as Incident;
    const { supervisions, updatedAt, ...rest } = once;
    const { updatedAt: _before, ...unchanged } = before;
    expect(rest).toEqual(unchanged);
    expect(supervisions).toEqual([
      { nodeId: 's1', userId: 'officer', at: new Date(now).toISOString(), note: 'report by noon' },
    ]);
    const admin: Actor = { userId: 'root', role: 'admin', scopeNodeIds: ['d1'] };
    const twice = applyAction(
      once,
      'supervise',
      admin,
      { note: 'still waiting' },
      { ...context, now: now + 1000 },
    ) as Incident;
    expect(twice.supervisions?.map((entry) => [entry.nodeId, entry.userId, entry.note])).toEqual([
      ['s1', 'officer', 'report by noon'],
      ['d1', 'root', 'still waiting'],
    ]);
  });

  it('takes an instruction, an open case, a duty officer or admin, and a centre over the case', () => {
    expect(applyAction(incident(), 'supervise', centreOfficer, {}, context)).toEqual({
      kind: 'invalid',
      reason: 'supervision needs a note with the instruction',
    });
    expect(
      applyAction(incident({ state: 'resolved' }), 'supervise', centreOfficer, { note: 'x' }, context),
    ).toEqual({ kind: 'illegal', reason: 'cannot supervise an incident that is resolved' });
    expect(
      applyAction(incident(), 'supervise', { ...worker, scopeNodeIds: ['g1'] }, { note: 'x' }, context),
    ).toEqual({ kind: 'forbidden', reason: 'a grid worker may not supervise an incident' });
    const chief: Actor = { userId: 'chief', role: 'grid_chief', scopeNodeIds: ['g1'] };
    expect(applyAction(incident(), 'supervise', chief, { note: 'x' }, context)).toMatchObject({
      kind: 'forbidden',
    });
    expect(
      applyAction(
        incident(),
        'supervise',
        { ...officer, scopeNodeIds: ['elsewhere'] },
        { note: 'x' },
        context,
      ),
    ).toEqual({
      kind: 'forbidden',
      reason: 'only a centre whose jurisdiction covers the incident may supervise it',
    });
  });
});

describe('the actions a user may take now', () => {
  const centreOfficer: Actor = { userId: 'officer', role: 'duty_officer', scopeNodeIds: ['c1'] };
  const chief: Actor = { userId: 'chief', role: 'grid_chief', scopeNodeIds: ['g1'] };
  const integrator: Actor = { userId: 'integrator', role: 'integrator', scopeNodeIds: ['s1'] };
  const admin: Actor = { userId: 'root', role: 'admin', scopeNodeIds: ['d1'] };

  it("offers a centre's officer every supervisor's action on a new incident, in the table's order", () => {
    const fresh = incident({ state: 'new', assignees: [] });
    expect(availableActions(fresh, centreOfficer)).toEqual([
      'acknowledge',
      'dispatch',
      'escalate',
      'false_alarm',
      'cancel',
      'note',
      'supervise',
      'suspend',
    ]);
    // Acknowledged by a colleague of the centre: not again.
    const acknowledged = incident({
      state: 'new',
      assignees: [],
      acknowledgements: [{ nodeId: 'c1', userId: 'colleague', at: fresh.createdAt }],
    });
    expect(availableActions(acknowledged, centreOfficer)).not.toContain('acknowledge');
    // An officer whose scope is not on the chain: no centre to acknowledge or supervise for.
    expect(availableActions(fresh, officer)).toEqual([
      'dispatch',
      'escalate',
      'false_alarm',
      'cancel',
      'note',
    ]);
  });

  it('offers a worker what their part in the case allows', () => {
    expect(availableActions(incident({ state: 'dispatched' }), worker)).toEqual(['accept', 'note', 'return']);
    expect(availableActions(incident({ state: 'dispatched' }), otherWorker)).toEqual(['note']);
    const inHand = incident({ state: 'accepted', handler: 'worker', assignees: ['worker'] });
    expect(availableActions(inHand, worker)).toEqual([
      'arrive',
      'resolve',
      'false_alarm',
      'note',
      'return',
      'request_extension',
      'hand_off',
    ]);
    expect(availableActions(incident({ state: 'closed' }), worker)).toEqual(['note']);
  });

  it('never offers clear, and offers the hub only what it does itself', () => {
    for (const state of incidentStates) {
      for (const actor of [centreOfficer, worker, chief, integrator, admin, systemActor]) {
        expect(availableActions(incident({ state }), actor)).not.toContain('clear');
      }
    }
    expect(availableActions(incident({ state: 'new' }), systemActor)).toEqual(['dispatch', 'escalate']);
  });

  it('offers exactly the actions the table would take, given every input an action may need', () => {
    const input = {
      note: 'x',
      assignees: ['worker'],
      until: new Date(now + 3_600_000).toISOString(),
      reviewAt: new Date(now + 86_400_000).toISOString(),
      coordinator: 'dept-user',
      via: 'phone' as const,
    };
    const withDepartments = {
      ...context,
      departmentOf: (id: string) => (id === 'dept-user' ? 'chengguan' : undefined),
    };
    const cases = incidentStates.flatMap((state) => [
      incident({ state }),
      incident({ state, handler: 'worker', assignees: ['worker'] }),
      incident({ state, acknowledgements: [{ nodeId: 'c1', userId: 'colleague', at: 'x' }] }),
      // #25: a pending extension, a suspension, a coordinator, a reporter, an approval chain.
      incident({
        state,
        handler: 'worker',
        assignees: ['worker'],
        extensions: [
          { requestedBy: 'worker', at: 'x', reason: 'r', until: new Date(now + 60_000).toISOString() },
        ],
        coordinators: [{ userId: 'worker', departmentId: 'chengguan', at: 'x', note: 'n' }],
        ...({ origin: { kind: 'hotline_12345' } } as object),
      }),
      incident({
        state,
        suspension: {
          userId: 'o',
          at: 'x',
          reason: 'r',
          reviewAt: 'x',
          fromState: 'accepted',
          remaining: null,
        },
        approval: { chain: ['c1', 's1'], at: 0, decisions: [] },
      }),
    ]);
    for (const current of cases) {
      for (const actor of [centreOfficer, officer, worker, otherWorker, chief, integrator, admin]) {
        const offered = availableActions(current, actor);
        for (const action of incidentActions) {
          const taken = !isRefusal(applyAction(current, action, actor, input, withDepartments));
          expect(offered.includes(action), `${action} by ${actor.userId} from ${current.state}`).toBe(taken);
        }
      }
    }
  });
});

describe('#25: return, extension, suspension, coordination, feedback, approval', () => {
  const centreOfficer: Actor = { userId: 'officer', role: 'duty_officer', scopeNodeIds: ['c1'] };
  const streetOfficer: Actor = { userId: 'street', role: 'duty_officer', scopeNodeIds: ['s1'] };
  const gridOfficer: Actor = { userId: 'gridofficer', role: 'duty_officer', scopeNodeIds: ['g1'] };
  const deptUser: Actor = { userId: 'cg1', role: 'department', scopeNodeIds: ['s1'] };
  const withDepartments: LifecycleContext = {
    ...context,
    departmentOf: (id) => (id === 'cg1' ? 'chengguan' : undefined),
    limits: {
      maxExtensions: 1,
      maxExtensionMs: 2 * 3_600_000,
      maxSuspensionMs: 10 * 86_400_000,
      publicNoticeMs: 0,
    },
  };
  const inHand = (overrides: Partial<Incident> = {}) =>
    incident({
      state: 'on_site',
      handler: 'worker',
      assignees: ['worker'],
      dueStage: 'resolve',
      dueAt: new Date(now + 30 * 60_000).toISOString(),
      timeline: { resolveBy: new Date(now + 30 * 60_000).toISOString() },
      ...overrides,
    });

  it('returns a case to the centre with its reason, nobody on it, and dispatch offered again', () => {
    expect(applyAction(inHand(), 'return', worker, {}, context)).toEqual({
      kind: 'invalid',
      reason: 'returning a case needs the reason',
    });
    expect(applyAction(inHand(), 'return', otherWorker, { note: 'x' }, context)).toMatchObject({
      kind: 'forbidden',
    });
    const back = applyAction(inHand(), 'return', worker, { note: '不属本网格' }, context) as Incident;
    expect(back).toMatchObject({
      state: 'new',
      assignees: [],
      handler: null,
      dueStage: 'accept',
      returns: [{ userId: 'worker', at: new Date(now).toISOString(), reason: '不属本网格' }],
    });
    expect(availableActions(back, centreOfficer)).toContain('dispatch');
    // An assignee who has not accepted may return it too; a climbed case goes back as escalated.
    const climbed = applyAction(
      incident({ state: 'escalated', escalations: 1, responsibleNodeId: 'c1' }),
      'return',
      worker,
      { note: '非本人职责' },
      context,
    ) as Incident;
    expect(climbed).toMatchObject({ state: 'escalated', responsibleNodeId: 'c1', assignees: [] });
  });

  it('asks for an extension within bounds, and moves the deadline only when the responsible centre approves', () => {
    const until = new Date(now + 90 * 60_000).toISOString();
    expect(applyAction(inHand(), 'request_extension', worker, { note: 'r' }, withDepartments)).toMatchObject({
      kind: 'invalid',
    });
    expect(
      applyAction(
        inHand(),
        'request_extension',
        worker,
        { note: 'r', until: new Date(now + 3 * 3_600_000).toISOString() },
        withDepartments,
      ),
    ).toEqual({ kind: 'invalid', reason: 'an extension may add at most 2 h' });
    expect(
      applyAction(
        inHand(),
        'request_extension',
        worker,
        { note: 'r', until: new Date(now).toISOString() },
        withDepartments,
      ),
    ).toMatchObject({ kind: 'invalid' });
    const asked = applyAction(
      inHand(),
      'request_extension',
      worker,
      { note: '等配件', until },
      withDepartments,
    ) as Incident;
    expect(asked.extensions).toEqual([
      { requestedBy: 'worker', at: new Date(now).toISOString(), reason: '等配件', until },
    ]);
    expect(asked.dueAt).toBe(inHand().dueAt);
    expect(availableActions(asked, worker)).not.toContain('request_extension');
    // The grid's officer is below the responsible community centre once the case climbed; the street is above.
    const climbed = { ...asked, responsibleNodeId: 'c1' };
    expect(availableActions(climbed, gridOfficer)).not.toContain('approve_extension');
    expect(applyAction(climbed, 'approve_extension', gridOfficer, {}, withDepartments)).toMatchObject({
      kind: 'forbidden',
    });
    expect(availableActions(climbed, streetOfficer)).toEqual(
      expect.arrayContaining(['approve_extension', 'deny_extension']),
    );
    const approved = applyAction(
      climbed,
      'approve_extension',
      streetOfficer,
      {},
      withDepartments,
    ) as Incident;
    expect(approved).toMatchObject({ dueAt: until, timeline: { resolveBy: until } });
    expect(approved.extensions?.[0]).toMatchObject({ approved: true, decidedBy: 'street' });
    // Bounded in number (config maxExtensions: 1).
    expect(
      applyAction(
        approved,
        'request_extension',
        worker,
        { note: 'again', until: new Date(now + 100 * 60_000).toISOString() },
        withDepartments,
      ),
    ).toEqual({ kind: 'illegal', reason: 'the case has had its 1 extensions' });
    // Denied: recorded, deadline unchanged, and a denial needs its reason.
    expect(applyAction(asked, 'deny_extension', centreOfficer, {}, withDepartments)).toMatchObject({
      kind: 'invalid',
    });
    const denied = applyAction(
      asked,
      'deny_extension',
      centreOfficer,
      { note: 'no' },
      withDepartments,
    ) as Incident;
    expect(denied.dueAt).toBe(inHand().dueAt);
    expect(denied.extensions?.[0]).toMatchObject({ approved: false, decidedBy: 'officer' });
  });

  it('suspends with a reason and a review date, stops the deadline, and restarts it with the time left', () => {
    const reviewAt = new Date(now + 86_400_000).toISOString();
    expect(
      applyAction(inHand(), 'suspend', centreOfficer, { note: '待法院裁定' }, withDepartments),
    ).toMatchObject({
      kind: 'invalid',
    });
    expect(
      applyAction(
        inHand(),
        'suspend',
        centreOfficer,
        { note: 'r', reviewAt: new Date(now + 11 * 86_400_000).toISOString() },
        withDepartments,
      ),
    ).toMatchObject({ kind: 'invalid' });
    expect(applyAction(inHand(), 'suspend', worker, { note: 'r', reviewAt }, withDepartments)).toMatchObject({
      kind: 'forbidden',
    });
    const parked = applyAction(
      inHand(),
      'suspend',
      centreOfficer,
      { note: '待法院裁定', reviewAt },
      withDepartments,
    ) as Incident;
    expect(parked).toMatchObject({
      state: 'suspended',
      dueAt: null,
      dueStage: null,
      suspension: {
        reason: '待法院裁定',
        reviewAt,
        fromState: 'on_site',
        remaining: { stage: 'resolve', ms: 30 * 60_000 },
      },
    });
    expect(isOpen(parked.state)).toBe(true);
    // Nothing escalates it, a worker cannot resolve it, the centre may still supervise or cancel it.
    expect(isRefusal(applyAction(parked, 'escalate', systemActor, {}, context))).toBe(true);
    expect(isRefusal(applyAction(parked, 'resolve', worker, {}, context))).toBe(true);
    expect(availableActions(parked, centreOfficer)).toEqual(['cancel', 'note', 'supervise', 'resume']);
    const later = { ...withDepartments, now: now + 5 * 3_600_000 };
    const resumed = applyAction(parked, 'resume', centreOfficer, {}, later) as Incident;
    expect(resumed).toMatchObject({
      state: 'on_site',
      dueStage: 'resolve',
      dueAt: new Date(now + 5 * 3_600_000 + 30 * 60_000).toISOString(),
      timeline: { resolveBy: new Date(now + 5 * 3_600_000 + 30 * 60_000).toISOString() },
    });
    expect(resumed.suspension).toBeUndefined();
    // The hub resumes it at the review date and hands it back to the centres as unacknowledged.
    const seen = { ...parked, acknowledgements: [{ nodeId: 'c1', userId: 'officer', at: 'x' }] };
    const byHub = applyAction(seen, 'resume', systemActor, {}, later) as Incident;
    expect(byHub.state).toBe('on_site');
    expect(byHub.acknowledgements).toBeUndefined();
  });

  it('keeps supervision apart from command: it never changes the state, the assignees or the deadline', () => {
    const before = inHand();
    const supervised = applyAction(
      before,
      'supervise',
      centreOfficer,
      { note: '今日办结' },
      context,
    ) as Incident;
    const { supervisions, updatedAt: _u, ...rest } = supervised;
    const { updatedAt: _b, ...was } = before;
    expect(rest).toEqual(was);
    expect(supervisions).toEqual([
      { nodeId: 'c1', userId: 'officer', at: new Date(now).toISOString(), note: '今日办结' },
    ]);
  });

  it("hands off to a department's user, who coordinates their part while the handler stays", () => {
    expect(
      applyAction(inHand(), 'hand_off', worker, { note: 'x', coordinator: 'worker' }, withDepartments),
    ).toEqual({
      kind: 'invalid',
      reason: "worker is not a department's user",
    });
    const handed = applyAction(
      inHand(),
      'hand_off',
      worker,
      { note: '占道经营', coordinator: 'cg1' },
      withDepartments,
    ) as Incident;
    expect(handed).toMatchObject({
      state: 'on_site',
      handler: 'worker',
      assignees: ['worker'],
      coordinators: [{ userId: 'cg1', departmentId: 'chengguan', note: '占道经营' }],
    });
    expect(
      isRefusal(applyAction(handed, 'hand_off', worker, { note: 'y', coordinator: 'cg1' }, withDepartments)),
    ).toBe(true);
    expect(availableActions(handed, deptUser)).toEqual(['note', 'coordinate_done']);
    expect(availableActions(handed, otherWorker)).not.toContain('coordinate_done');
    const done = applyAction(
      handed,
      'coordinate_done',
      deptUser,
      { note: '已清理' },
      withDepartments,
    ) as Incident;
    expect(done.coordinators?.[0]).toMatchObject({ doneNote: '已清理', doneAt: new Date(now).toISOString() });
    expect(done.state).toBe('on_site');
    expect(
      isRefusal(applyAction(done, 'coordinate_done', deptUser, { note: 'again' }, withDepartments)),
    ).toBe(true);
  });

  it("records feedback to the reporter once, on people's cases only", () => {
    const closed = incident({ state: 'closed', handler: 'worker' });
    expect(availableActions(closed, centreOfficer)).not.toContain('feedback');
    const reported = { ...closed, origin: { kind: 'hotline_12345' } } as Incident;
    expect(availableActions(reported, centreOfficer)).toContain('feedback');
    expect(applyAction(reported, 'feedback', centreOfficer, { note: '已告知' }, context)).toMatchObject({
      kind: 'invalid',
    });
    const told = applyAction(
      reported,
      'feedback',
      centreOfficer,
      { note: '已电话告知处理结果', via: 'phone' },
      context,
    ) as Incident;
    expect(told.feedback).toEqual({
      userId: 'officer',
      at: new Date(now).toISOString(),
      note: '已电话告知处理结果',
      via: 'phone',
    });
    expect(told.state).toBe('closed');
    expect(availableActions(told, centreOfficer)).not.toContain('feedback');
  });

  it('climbs the approval chain node by node; without 公示 the last approval opens dispatch, a denial ends the case', () => {
    const waiting = incident({
      state: 'new',
      assignees: [],
      approval: { chain: ['c1', 's1', 'd1'], at: 0, decisions: [] },
    });
    expect(availableActions(waiting, centreOfficer)).toEqual(expect.arrayContaining(['approve', 'deny']));
    expect(availableActions(waiting, centreOfficer)).not.toContain('dispatch');
    expect(
      applyAction(waiting, 'dispatch', centreOfficer, { assignees: ['worker'] }, withDepartments),
    ).toMatchObject({
      kind: 'illegal',
    });
    expect(availableActions(waiting, streetOfficer)).not.toContain('approve');
    expect(applyAction(waiting, 'approve', streetOfficer, {}, withDepartments)).toMatchObject({
      kind: 'forbidden',
    });
    const community = applyAction(
      waiting,
      'approve',
      centreOfficer,
      { note: '受理界定' },
      withDepartments,
    ) as Incident;
    expect(community.approval).toMatchObject({
      at: 1,
      decisions: [{ nodeId: 'c1', userId: 'officer', approved: true }],
    });
    const street = applyAction(community, 'approve', streetOfficer, {}, withDepartments) as Incident;
    const district: Actor = { userId: 'district', role: 'duty_officer', scopeNodeIds: ['d1'] };
    const approved = applyAction(street, 'approve', district, {}, withDepartments) as Incident;
    expect(approved.approval?.at).toBe(3);
    expect(approved.state).toBe('new');
    expect(availableActions(approved, district)).not.toContain('approve');
    expect(availableActions(approved, centreOfficer)).toContain('dispatch');
    expect(applyAction(community, 'deny', streetOfficer, {}, withDepartments)).toMatchObject({
      kind: 'invalid',
    });
    const denied = applyAction(
      community,
      'deny',
      streetOfficer,
      { note: '不符合条件' },
      withDepartments,
    ) as Incident;
    expect(denied).toMatchObject({ state: 'cancelled', closedBy: 'street' });
    expect(denied.approval?.decisions.at(-1)).toMatchObject({
      nodeId: 's1',
      approved: false,
      note: '不符合条件',
    });
  });

  it('after the last approval shows the case in 公示 until the period ends; an objection sends it back to the approver', () => {
    const district: Actor = { userId: 'district', role: 'duty_officer', scopeNodeIds: ['d1'] };
    const lastStep = incident({
      state: 'new',
      assignees: [],
      origin: { kind: 'field_report' },
      approval: {
        chain: ['c1', 's1', 'd1'],
        at: 2,
        decisions: [
          { nodeId: 'c1', userId: 'officer', at: new Date(now).toISOString(), approved: true },
          { nodeId: 's1', userId: 'street', at: new Date(now).toISOString(), approved: true },
        ],
      },
    });
    const shown = applyAction(lastStep, 'approve', district, { note: '批准' }, context) as Incident;
    expect(shown.approval?.notice).toEqual({
      from: new Date(now).toISOString(),
      until: new Date(now + 5 * 86_400_000).toISOString(),
    });
    expect(shown).toMatchObject({ state: 'new', dueAt: null, dueStage: null });
    expect(availableActions(shown, centreOfficer)).not.toContain('dispatch');
    expect(availableActions(shown, centreOfficer)).toContain('object_notice');
    expect(applyAction(shown, 'dispatch', centreOfficer, { assignees: ['worker'] }, context)).toMatchObject({
      kind: 'illegal',
      reason: expect.stringContaining('公示'),
    });
    // The hub ends it: the case is dispatchable, with an accept deadline from then.
    const later = { ...context, now: now + 5 * 86_400_000 + 1000 };
    expect(applyAction(shown, 'end_notice', centreOfficer, {}, later)).toMatchObject({ kind: 'forbidden' });
    const ended = applyAction(shown, 'end_notice', systemActor, {}, later) as Incident;
    expect(ended.approval?.notice?.endedAt).toBe(new Date(later.now).toISOString());
    expect(ended).toMatchObject({ dueStage: 'accept' });
    expect(Date.parse(ended.dueAt as string)).toBeGreaterThan(later.now);
    expect(availableActions(ended, centreOfficer)).toContain('dispatch');
    expect(availableActions(ended, centreOfficer)).not.toContain('object_notice');
    expect(applyAction(ended, 'end_notice', systemActor, {}, later)).toMatchObject({ kind: 'illegal' });
    // An objection needs its reason, ends the notice and puts the decision back to the district.
    expect(applyAction(shown, 'object_notice', centreOfficer, {}, context)).toMatchObject({
      kind: 'invalid',
    });
    const outsider: Actor = { userId: 'far', role: 'duty_officer', scopeNodeIds: ['elsewhere'] };
    expect(availableActions(shown, outsider)).not.toContain('object_notice');
    expect(applyAction(shown, 'object_notice', outsider, { note: 'x' }, context)).toMatchObject({
      kind: 'forbidden',
    });
    const objected = applyAction(
      shown,
      'object_notice',
      centreOfficer,
      { note: '邻居反映占用公共通道' },
      context,
    ) as Incident;
    expect(objected.approval).toMatchObject({
      at: 2,
      notice: {
        endedAt: expect.any(String),
        objection: { userId: 'officer', reason: '邻居反映占用公共通道' },
      },
    });
    expect(availableActions(objected, centreOfficer)).not.toContain('dispatch');
    expect(availableActions(objected, district)).toEqual(expect.arrayContaining(['approve', 'deny']));
    // The district decides again in a step's time: the case has a deadline, so it escalates if nobody does.
    expect(objected).toMatchObject({ dueStage: 'accept' });
    expect(Date.parse(objected.dueAt as string)).toBeGreaterThan(now);
    // Approved again having heard it: no second notice, dispatch at once.
    const reapproved = applyAction(
      objected,
      'approve',
      district,
      { note: '异议不成立' },
      context,
    ) as Incident;
    expect(reapproved.approval?.notice?.objection).toBeDefined();
    expect(availableActions(reapproved, centreOfficer)).toContain('dispatch');
    // Awaiting dispatch, with the accept deadline from the decision.
    const decidedLater = { ...context, now: now + 3_600_000 };
    const reapprovedLater = applyAction(objected, 'approve', district, {}, decidedLater) as Incident;
    expect(reapprovedLater).toMatchObject({ dueStage: 'accept' });
    expect(Date.parse(reapprovedLater.dueAt as string)).toBeGreaterThan(decidedLater.now);
    // Or denied: the case ends cancelled, and the applicant is answered (feedback), unlike a plain cancellation.
    const denied = applyAction(objected, 'deny', district, { note: '异议成立' }, context) as Incident;
    expect(denied.state).toBe('cancelled');
    expect(availableActions(denied, centreOfficer)).toContain('feedback');
    const answered = applyAction(
      denied,
      'feedback',
      centreOfficer,
      { note: '已告知不予批准及理由', via: 'phone' },
      context,
    ) as Incident;
    expect(answered.feedback?.note).toBe('已告知不予批准及理由');
    const cancelled = applyAction(shown, 'cancel', centreOfficer, {}, context) as Incident;
    expect(availableActions(cancelled, centreOfficer)).not.toContain('feedback');
    expect(
      applyAction(cancelled, 'feedback', centreOfficer, { note: 'x', via: 'phone' }, context),
    ).toMatchObject({ kind: 'illegal' });
  });
});
