import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import { deadlineStages, type Incident, type IncidentChange } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoDeployment,
  demoGate,
  deploymentOf,
  getJson,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type ErrorBody = { error: { code: string; message: string } };

/** Today's ISO weekday in the hub's time zone, so a roster can leave today out. */
function todayInShanghai(): number {
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', weekday: 'short' }).format(
    Date.now(),
  );
  return ({ Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 } as Record<string, number>)[day] ?? 1;
}

/**
 * The demo where Xijiao grid 5's cases stay new: its worker is on duty every day but today, and the community has
 * no grid chief to fall back on, so the duty officer has to dispatch them.
 */
function undispatchedGrid5() {
  const config = demoConfig();
  config.users = config.users.filter((user) => user.id !== 'chief-xijiao');
  const today = todayInShanghai();
  config.rosters = [
    ...(config.rosters ?? []),
    {
      grid: 'grid-xijiao-05',
      shifts: [
        {
          users: ['worker-xijiao-05'],
          days: [1, 2, 3, 4, 5, 6, 7].filter((day) => day !== today),
          from: '00:00',
          to: '00:00',
        },
      ],
    },
  ];
  return deploymentOf(config);
}

const officerToken = 'demo-officer-xijiao';
const gridWorkerToken = 'demo-worker-xijiao-05';
const otherGridWorkerToken = 'demo-worker-xijiao-01';

describe('what a user may do now, supervision and false alarms, through the REST API', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  let gate: GateSimulator;
  const seen = new Set<string>();

  beforeAll(async () => {
    hub = await startTestHub({ deployment: undispatchedGrid5() });
    officer = await connectClient(hub.httpUrl, officerToken);
    gate = demoGate(hub.mqttUrl, 'gate-xijiao-05-west');
    await gate.start();
  });

  afterAll(async () => {
    officer?.close();
    await gate?.stop();
    await hub?.stop();
  });

  /** A new forced-door incident of grid 5's west gate, as the officer is told of it. */
  async function forcedDoor(): Promise<Incident> {
    await gate.forceDoor();
    for (let n = 1; ; n++) {
      const incident = (await officer.nth('incident:new', n)) as Incident;
      if (!seen.has(incident.id)) {
        seen.add(incident.id);
        return incident;
      }
    }
  }

  const actionsOf = (id: string, token: string) =>
    getJson(`${hub.httpUrl}/api/incidents/${id}/actions`, token) as Promise<{
      status: number;
      body: { actions: string[] } & ErrorBody;
    }>;
  const act = (id: string, action: string, token: string, body?: unknown) =>
    postJson<Incident & ErrorBody>(`${hub.httpUrl}/api/incidents/${id}/actions/${action}`, token, body);

  it("lists the actions the caller may take, following the case, scoped as the incident's own URL", async () => {
    const incident = await forcedDoor();
    expect(incident).toMatchObject({ state: 'new', assignees: [], gridId: 'grid-xijiao-05' });

    const forOfficer = await actionsOf(incident.id, officerToken);
    expect(forOfficer.status).toBe(200);
    expect(forOfficer.body).toEqual({
      actions: [
        'acknowledge',
        'dispatch',
        'escalate',
        'false_alarm',
        'cancel',
        'note',
        'supervise',
        'suspend',
      ],
    });
    // The grid's worker sees the case, but nothing is dispatched to them yet: nothing to accept.
    expect((await actionsOf(incident.id, gridWorkerToken)).body).toEqual({ actions: ['note'] });
    // Another grid's worker cannot see it: not found, exactly as GET /api/incidents/:id answers.
    const outsider = await actionsOf(incident.id, otherGridWorkerToken);
    expect(outsider.status).toBe(404);
    expect((await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, otherGridWorkerToken)).status).toBe(
      404,
    );
    expect((await actionsOf('inc_0000000000000000', officerToken)).status).toBe(404);
    expect((await getJson(`${hub.httpUrl}/api/incidents/${incident.id}/actions`)).status).toBe(401);

    expect(
      (await act(incident.id, 'dispatch', officerToken, { assignees: ['worker-xijiao-05'] })).status,
    ).toBe(200);
    expect((await actionsOf(incident.id, gridWorkerToken)).body).toEqual({
      actions: ['accept', 'note', 'return'],
    });
    expect((await act(incident.id, 'acknowledge', officerToken)).status).toBe(200);
    expect((await actionsOf(incident.id, officerToken)).body).toEqual({
      actions: ['dispatch', 'escalate', 'false_alarm', 'cancel', 'note', 'supervise', 'suspend'],
    });
  });

  it('records a supervision with its instruction, audited and pushed, for duty officers only', async () => {
    const incident = await forcedDoor();
    const supervised = await act(incident.id, 'supervise', officerToken, {
      note: '十分钟内到场 on site in 10 min',
    });
    expect(supervised.status).toBe(200);
    expect(supervised.body.state).toBe('new');
    expect(supervised.body.supervisions).toEqual([
      {
        nodeId: 'community-xijiao',
        userId: 'officer-xijiao',
        at: expect.any(String),
        note: '十分钟内到场 on site in 10 min',
      },
    ]);
    const stored = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, officerToken);
    expect((stored.body as Incident).supervisions).toEqual(supervised.body.supervisions);

    // Pushed as any other change, to those who may see the incident.
    for (let n = 1; ; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id !== incident.id) continue;
      expect(change.before.supervisions).toBeUndefined();
      expect(change.after.supervisions).toEqual(supervised.body.supervisions);
      break;
    }

    const byWorker = await act(incident.id, 'supervise', gridWorkerToken, { note: 'hurry' });
    expect(byWorker.status).toBe(403);
    expect(byWorker.body.error.message).toBe('a grid worker may not supervise an incident');
    const withoutNote = await act(incident.id, 'supervise', officerToken);
    expect(withoutNote.status).toBe(400);
    expect(withoutNote.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'supervision needs a note with the instruction',
    });

    const audit = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}/audit`, officerToken);
    const entries = (audit.body as { entries: AuditEntry[] }).entries.filter(
      (entry) => entry.action === 'incident.supervise',
    );
    expect(entries.map((entry) => [entry.actor.userId, entry.outcome, entry.message])).toEqual([
      ['officer-xijiao', 'ok', '十分钟内到场 on site in 10 min'],
      ['worker-xijiao-05', 'refused', 'a grid worker may not supervise an incident'],
      ['officer-xijiao', 'refused', 'supervision needs a note with the instruction'],
    ]);
  });

  it('refuses a false alarm without a note saying why, and takes it with one', async () => {
    const incident = await forcedDoor();
    const bare = await act(incident.id, 'false_alarm', officerToken);
    expect(bare.status).toBe(400);
    expect(bare.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'a false alarm needs a note saying why',
    });
    const explained = await act(incident.id, 'false_alarm', officerToken, {
      note: 'the wind blew the gate open',
    });
    expect(explained.status).toBe(200);
    expect(explained.body).toMatchObject({ state: 'false_alarm', closedBy: 'officer-xijiao' });
    expect((await actionsOf(incident.id, officerToken)).body).toEqual({ actions: ['note'] });
  });
});

describe('the console settings', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it("answers any signed-in user the hub's time zone, the categories its rules raise and their deadlines", async () => {
    const demo = demoDeployment();
    const answer = await getJson(`${hub.httpUrl}/api/console`, gridWorkerToken);
    expect(answer.status).toBe(200);
    const body = answer.body as {
      timeZone: string;
      categories: string[];
      deadlinesMs: Record<string, Record<string, number>>;
    };
    expect(body.timeZone).toBe('Asia/Shanghai');
    // Every category a demo rule raises, the storm's (flood control is on), and nothing else.
    const raised = new Set(demo.rules.map((rule) => rule.category));
    expect(raised.has('intrusion')).toBe(true);
    expect(body.categories).toEqual([...raised, 'storm'].sort());
    expect(Object.keys(body.deadlinesMs).sort()).toEqual(body.categories);
    const minutes = (value: number) => value * 60_000;
    // Emergencies have deadlines of their own; a hazard and a storm take the default.
    expect(body.deadlinesMs.emergency).toEqual({
      accept: minutes(2),
      arrive: minutes(10),
      resolve: minutes(60),
    });
    expect(body.deadlinesMs.hazard).toEqual({
      accept: minutes(10),
      arrive: minutes(30),
      resolve: minutes(240),
    });
    expect(body.deadlinesMs.storm).toEqual(body.deadlinesMs.hazard);
    expect(Object.keys(body.deadlinesMs.intrusion ?? {})).toEqual([...deadlineStages]);

    expect((await getJson(`${hub.httpUrl}/api/console`)).status).toBe(401);
  });
});
