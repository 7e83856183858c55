import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import type {
  ChannelStatus,
  DeliveryResult,
  Notification,
  NotificationChannel,
  Recipient,
} from '../../src/notify/channel.ts';
import {
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  getJson,
  postJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/** A push channel that writes down whom it reached. */
class RecordingPush implements NotificationChannel {
  readonly id = 'push';
  readonly kind = 'web_push' as const;
  readonly reached: { userId: string; notification: Notification }[] = [];
  reaches(): boolean {
    return true;
  }
  async send(recipient: Recipient, notification: Notification): Promise<DeliveryResult> {
    this.reached.push({ userId: recipient.userId, notification });
    return { outcome: 'sent' };
  }
  status(): ChannelStatus {
    return { health: 'ok' };
  }
}

async function send(hub: TestHub, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${hub.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * One directory of people: an account an admin makes through the API is a grid worker like a configured one. The
 * duty roster may name them, a case of their grid is dispatched to them and they are notified, and the 千分制 scores
 * rank them among their community's workers.
 */
describe('accounts made through the API are people the hub routes, notifies and scores', () => {
  let hub: TestHub;
  const push = new RecordingPush();

  beforeAll(async () => {
    const config = demoConfig() as unknown as Record<string, unknown>;
    config.notify = {
      policies: [{ id: 'workers', roles: ['grid_worker'], steps: [{ channel: 'push', until: 'accepted' }] }],
    };
    hub = await startTestHub({ deployment: deploymentOf(config), notifyChannels: [push] });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('an API-made grid worker on the roster is dispatched to and notified, and ranked in the scores', async () => {
    const created = await send(hub, 'POST', '/api/accounts', 'demo-admin', {
      id: 'worker-xijiao-api',
      name: '新网格员 New Worker',
      role: 'grid_worker',
      grids: ['grid-xijiao-02'],
      password: 'a first password',
    });
    expect(created.status).toBe(201);
    // The roster of grid 2 names only the new worker, all day: the configured worker of grid 2 is off duty.
    const roster = await send(hub, 'PUT', '/api/rosters/grid-xijiao-02', 'demo-officer-xijiao', {
      shifts: [{ users: ['worker-xijiao-api'], from: '00:00', to: '00:00' }],
    });
    expect(roster.status).toBe(200);
    expect(roster.body.onDutyNow).toEqual(['worker-xijiao-api']);

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
    const incident = await raised;
    await gate.stop();
    expect(incident.assignees).toEqual(['worker-xijiao-api']);
    await eventually(() => push.reached.some((entry) => entry.userId === 'worker-xijiao-api'));
    expect(
      push.reached.find((entry) => entry.userId === 'worker-xijiao-api')?.notification.incidentIds,
    ).toEqual([incident.id]);

    // An officer may dispatch to them by hand as well: dispatch knows the API's accounts.
    const dispatched = await postJson<Incident>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/dispatch`,
      'demo-officer-xijiao',
      { assignees: ['worker-xijiao-api', 'worker-xijiao-02'] },
    );
    expect(dispatched.status).toBe(200);
    expect(dispatched.body.assignees).toEqual(['worker-xijiao-api', 'worker-xijiao-02']);

    const scores = await getJson(`${hub.httpUrl}/api/assessment/scores?level=worker`, 'demo-officer-xijiao');
    expect(scores.status).toBe(200);
    const ranked = (scores.body as { scores: { id: string; name: string }[] }).scores;
    expect(ranked.find((entry) => entry.id === 'worker-xijiao-api')?.name).toBe('新网格员 New Worker');
    expect(ranked.map((entry) => entry.id)).toContain('worker-xijiao-01');
  });

  it('a disabled account leaves the directory: off duty, no longer ranked, no longer on a new roster', async () => {
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-api/disable', 'demo-admin')).status).toBe(
      200,
    );
    // The roster still names them, but nobody disabled is on duty (the grid's chief takes the next case).
    const shown = await getJson(`${hub.httpUrl}/api/rosters/grid-xijiao-02`, 'demo-officer-xijiao');
    expect((shown.body as { onDutyNow: string[] }).onDutyNow).toEqual([]);
    const scores = await getJson(`${hub.httpUrl}/api/assessment/scores?level=worker`, 'demo-officer-xijiao');
    const ranked = (scores.body as { scores: { id: string }[] }).scores;
    expect(ranked.map((entry) => entry.id)).not.toContain('worker-xijiao-api');
    const roster = await send(hub, 'PUT', '/api/rosters/grid-xijiao-02', 'demo-officer-xijiao', {
      shifts: [{ users: ['worker-xijiao-api'], from: '00:00', to: '00:00' }],
    });
    expect(roster.status).toBe(400);
  });
});
