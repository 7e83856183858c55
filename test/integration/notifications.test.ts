import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { Incident } from '../../src/core/incident.ts';
import type {
  ChannelKind,
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
  metricValue,
  movableClock,
  postJson,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/** What a test channel was given. */
interface Delivery {
  readonly userId: string;
  readonly notification: Notification;
  readonly at: number;
}

/** A channel that delivers by writing down what it was given. */
class RecordingChannel implements NotificationChannel {
  readonly deliveries: Delivery[] = [];
  constructor(
    readonly id: string,
    readonly kind: ChannelKind = 'wecom_app',
  ) {}
  reaches(): boolean {
    return true;
  }
  async send(recipient: Recipient, notification: Notification): Promise<DeliveryResult> {
    this.deliveries.push({ userId: recipient.userId, notification, at: Date.now() });
    return { outcome: 'sent', reference: `msg-${this.deliveries.length}` };
  }
  status(): ChannelStatus {
    return { health: 'ok' };
  }
  to(userId: string, incidentId?: string): Delivery[] {
    return this.deliveries.filter(
      (delivery) =>
        delivery.userId === userId &&
        (incidentId === undefined || delivery.notification.incidentIds.includes(incidentId)),
    );
  }
}

/** A provider that is down (retryable) or refuses the credential (not): it says so in its status, as channels do. */
class FailingChannel implements NotificationChannel {
  readonly attempts: { userId: string; phone: string | undefined }[] = [];
  #status: ChannelStatus = { health: 'ok' };
  constructor(
    readonly id: string,
    readonly mode: 'down' | 'credentials',
    readonly kind: ChannelKind = 'sms_http',
  ) {}
  reaches(): boolean {
    return true;
  }
  async send(recipient: Recipient): Promise<DeliveryResult> {
    this.attempts.push({ userId: recipient.userId, phone: recipient.contact.phone });
    const at = new Date().toISOString();
    if (this.mode === 'credentials') {
      this.#status = {
        health: 'credentials_refused',
        lastError: 'provider refused the AccessKey',
        lastFailureAt: at,
      };
      return { outcome: 'failed', retryable: false, reason: 'provider refused the AccessKey' };
    }
    this.#status = { health: 'failing', lastError: 'HTTP 503 from the provider', lastFailureAt: at };
    return { outcome: 'failed', retryable: true, reason: `HTTP 503 sending to ${recipient.contact.phone}` };
  }
  status(): ChannelStatus {
    return this.#status;
  }
}

/** A provider that never answers: every delivery runs into the timeout. */
class SilentChannel implements NotificationChannel {
  readonly kind = 'voice_webhook' as const;
  calls = 0;
  constructor(readonly id: string) {}
  reaches(recipient: Recipient): boolean {
    return recipient.contact.phone !== undefined;
  }
  send(): Promise<DeliveryResult> {
    this.calls++;
    return new Promise(() => {});
  }
  status(): ChannelStatus {
    return { health: 'ok' };
  }
}

/** One policy second lasts this many ms in these tests: "2 minutes" is 2.4 s. */
const secondMs = 20;
const phone = '13812345678';

/**
 * The demo with notification policies: workers get a push at once and an SMS after 100 s (2 s here) until they
 * accept; officers a push until their centre acknowledges; worker-zhenxing-03 a flaky SMS first, then the push after
 * 300 s (6 s) unless the SMS failed; worker-zhenxing-04's pushes are bundled past 2 in 250 s (5 s); department
 * users a push at once and an SMS after 250 s (5 s) until their part is done.
 */
function notifyingDeployment(deadlines?: unknown) {
  const config = demoConfig() as unknown as {
    users: { id: string; contact?: unknown }[];
    rosters: unknown[];
    notify: unknown;
    deadlines: unknown;
  };
  // A second district officer, the only one on duty there by the district centre's roster: escalations reach
  // whoever is on duty now, not every officer of the centre.
  config.users.push({
    id: 'officer-qinghe-relief',
    name: '周敏 Zhou Min',
    role: 'duty_officer',
    scope: 'district-qinghe',
    token: 'demo-officer-qinghe-relief',
  } as { id: string });
  config.rosters.push({
    grid: 'district-qinghe',
    shifts: [{ users: ['officer-qinghe-relief'], from: '00:00', to: '00:00' }],
  });
  for (const user of config.users)
    if (['worker-zhenxing-01', 'worker-zhenxing-02', 'worker-zhenxing-03'].includes(user.id))
      user.contact = { phone };
  config.notify = {
    publicUrl: 'https://grid.example.gov.cn/',
    policies: [
      {
        id: 'workers',
        roles: ['grid_worker', 'grid_chief'],
        steps: [
          { channel: 'push', afterSeconds: 0, until: 'accepted' },
          { channel: 'sms', afterSeconds: 100, until: 'accepted' },
        ],
      },
      { id: 'officers', roles: ['duty_officer'], steps: [{ channel: 'push', until: 'acknowledged' }] },
      {
        id: 'departments',
        roles: ['department'],
        steps: [
          { channel: 'push', afterSeconds: 0, until: 'accepted' },
          { channel: 'sms', afterSeconds: 250, until: 'accepted' },
        ],
      },
      {
        id: 'flaky-first',
        users: ['worker-zhenxing-03'],
        steps: [
          { channel: 'flaky', afterSeconds: 0, until: 'accepted' },
          { channel: 'push', afterSeconds: 300, until: 'accepted' },
        ],
      },
      {
        id: 'storm',
        users: ['worker-zhenxing-04'],
        steps: [{ channel: 'push' }],
        bundle: { maxMessages: 2, windowSeconds: 250 },
      },
      {
        id: 'callers',
        users: ['worker-zhenxing-02', 'worker-luming-02'],
        steps: [{ channel: 'call' }, { channel: 'push', afterSeconds: 300 }],
      },
    ],
    delivery: { attempts: 3, retryBackoffSeconds: 1, timeoutSeconds: 0.3 },
  };
  if (deadlines !== undefined) config.deadlines = deadlines;
  // The demo's morning suppression in Zhenxing grid 4 would make the storm depend on the time of day.
  (config as unknown as { suppressions: unknown[] }).suppressions = [];
  return deploymentOf(config);
}

function channels() {
  return {
    push: new RecordingChannel('push', 'web_push'),
    sms: new RecordingChannel('sms', 'sms_http'),
    flaky: new FailingChannel('flaky', 'down'),
    refused: new FailingChannel('refused', 'credentials', 'wecom_app'),
    call: new SilentChannel('call'),
  };
}
type Channels = ReturnType<typeof channels>;
const list = (set: Channels) => [set.push, set.sms, set.flaky, set.refused, set.call];

async function incidentFor(
  hub: TestHub,
  deviceId: string,
  trigger: (gate: GateSimulator) => Promise<unknown>,
) {
  const created = new Promise<Incident>((resolve) => {
    const stop = hub.hub.bus.on('incident:created', (incident) => {
      if (incident.device.id !== deviceId) return;
      stop();
      resolve(incident);
    });
  });
  const gate = demoGate(hub.mqttUrl, deviceId);
  await gate.start();
  await trigger(gate);
  const incident = await created;
  await gate.stop();
  return incident;
}

async function auditOf(hub: TestHub, incidentId: string): Promise<AuditEntry[]> {
  const { body } = await getJson(`${hub.httpUrl}/api/audit?target=${incidentId}&limit=100`, 'demo-admin');
  return [...(body as { entries: AuditEntry[] }).entries].reverse();
}

/** The incident's notify.* entries once there are `count` of them (a channel has its message before the entry). */
async function notifyTrail(hub: TestHub, incidentId: string, count: number): Promise<AuditEntry[]> {
  const notices = async () =>
    (await auditOf(hub, incidentId)).filter((entry) => entry.action.startsWith('notify.'));
  await eventually(async () => (await notices()).length >= count);
  return notices();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('notifications: steps, until, retries, bundles, status', () => {
  let hub: TestHub;
  const set = channels();

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: notifyingDeployment(),
      notifyChannels: list(set),
      notifySecondMs: secondMs,
    });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('tells the worker at once by push, in Chinese with a link to the case, then by SMS when not accepted', async () => {
    const incident = await incidentFor(hub, 'gate-zhenxing-01-east', (gate) => gate.forceDoor());
    expect(incident.assignees).toEqual(['worker-zhenxing-01']);
    await eventually(() => set.push.to('worker-zhenxing-01', incident.id).length === 1);
    const [push] = set.push.to('worker-zhenxing-01', incident.id);
    const pushedAfter = (push?.at ?? 0) - Date.parse(incident.createdAt);
    expect(pushedAfter).toBeLessThan(1000);
    expect(push?.notification).toMatchObject({
      title: `【严重】振兴第1网格 Zhenxing Grid 1 · ${incident.title}`,
      url: `https://grid.example.gov.cn/worker#${incident.id}`,
      severity: 'critical',
      incidentIds: [incident.id],
    });
    expect(push?.notification.body).toContain(`设备：${incident.device.name}`);
    expect(push?.notification.body).toContain(
      `地点：${[...incident.chain]
        .reverse()
        .map((place) => place.name)
        .join(' / ')}`,
    );
    expect(push?.notification.body).toMatch(/地点：清河区 .* \/ 振兴社区 Zhenxing Community \/ 振兴第1网格/);
    expect(push?.notification.body).toMatch(/时间：\d{4}-\d\d-\d\d \d\d:\d\d/);
    expect(push?.notification.body).toMatch(/请在\d+分钟内接单/);
    // Not accepted: the SMS comes after its 100 s (2 s here), not before.
    expect(set.sms.to('worker-zhenxing-01', incident.id)).toEqual([]);
    await eventually(() => set.sms.to('worker-zhenxing-01', incident.id).length === 1, 6_000);
    // Its 100 s run from the moment the worker was asked, after the case was made.
    const smsAfter =
      (set.sms.to('worker-zhenxing-01', incident.id)[0]?.at ?? 0) - Date.parse(incident.createdAt);
    expect(smsAfter).toBeGreaterThanOrEqual(100 * secondMs);
    const actions = await notifyTrail(hub, incident.id, 2);
    expect(actions.map((entry) => [entry.action, entry.detail.channel, entry.detail.recipient])).toEqual([
      ['notify.sent', 'push', 'worker-zhenxing-01'],
      ['notify.sent', 'sms', 'worker-zhenxing-01'],
    ]);
    // The SMS's entry shows the phone masked; no log line has it.
    expect(actions[1]?.detail.phone).toBe('138****5678');
    expect(hub.logs.text).not.toContain(phone);
  });

  it('cancels the SMS when the worker accepts through the API', async () => {
    const incident = await incidentFor(hub, 'gate-luming-01-south', (gate) => gate.holdDoor(1, 300));
    expect(incident.assignees).toEqual(['worker-luming-01']);
    await eventually(() => set.push.to('worker-luming-01', incident.id).length === 1, 4_000);
    const accepted = await postJson<Incident>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/accept`,
      'demo-worker-luming-01',
    );
    expect(accepted.status).toBe(200);
    await eventually(
      async () => (await metricValue(hub.httpUrl, 'gridhub_notification_steps_cancelled_total')) >= 1,
    );
    // Well past the SMS's 100 s (2 s here): it never left.
    await sleep(100 * secondMs + 1_000);
    expect(set.push.to('worker-luming-01', incident.id)).toHaveLength(1);
    expect(set.sms.to('worker-luming-01', incident.id)).toEqual([]);
  });

  it('retries a provider that is down, then uses the next channel at once, all in the audit trail', async () => {
    // worker-zhenxing-03's own policy (over the workers'): the flaky SMS first, the push after 300 s (6 s here).
    const incident = await incidentFor(hub, 'gate-zhenxing-03-west', (gate) => gate.forceDoor());
    expect(incident.assignees).toEqual(['worker-zhenxing-03']);
    await eventually(() => set.push.to('worker-zhenxing-03', incident.id).length === 1, 4_000);
    const flakyAttempts = set.flaky.attempts.filter((attempt) => attempt.userId === 'worker-zhenxing-03');
    expect(flakyAttempts).toHaveLength(3);
    // The channel had the phone to send to; the audit and the logs only its mask.
    expect(flakyAttempts[0]?.phone).toBe(phone);
    await eventually(async () =>
      (await auditOf(hub, incident.id)).some((entry) => entry.action === 'notify.sent'),
    );
    const trail = (await auditOf(hub, incident.id)).filter((entry) => entry.action.startsWith('notify.'));
    expect(trail.map((entry) => [entry.action, entry.detail.channel, entry.detail.attempt])).toEqual([
      ['notify.retried', 'flaky', 1],
      ['notify.retried', 'flaky', 2],
      ['notify.failed', 'flaky', 3],
      ['notify.sent', 'push', 1],
    ]);
    expect(trail[0]).toMatchObject({ outcome: 'failed', detail: { phone: '138****5678', retryable: true } });
    expect(trail[0]?.message).toBe('HTTP 503 sending to 138****5678');
    expect(JSON.stringify(trail)).not.toContain(phone);
    expect(hub.logs.text).not.toContain(phone);
    // Long before the push's own 300 s (6 s here).
    const pushedAfter = Date.parse(trail[3]?.at ?? '') - Date.parse(incident.createdAt);
    expect(pushedAfter).toBeLessThan(300 * secondMs);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_notifications_total{channel="flaky",outcome="retried"}'),
    ).toBe(2);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_notifications_total{channel="flaky",outcome="failed"}'),
    ).toBe(1);
  });

  it('moves on from a provider that never answers after its timeouts, and at once from one that cannot reach', async () => {
    const incident = await incidentFor(hub, 'gate-zhenxing-02-north', (gate) => gate.forceDoor());
    expect(incident.assignees).toEqual(['worker-zhenxing-02']);
    await eventually(() => set.push.to('worker-zhenxing-02', incident.id).length === 1, 5_000);
    expect(set.call.calls).toBe(3);
    const notices = async (id: string) =>
      (await auditOf(hub, id)).filter((entry) => entry.action.startsWith('notify.'));
    // The channel has the message before its audit entry is written.
    await eventually(async () => (await notices(incident.id)).length === 4);
    const trail = await notices(incident.id);
    expect(trail.map((entry) => [entry.action, entry.detail.channel, entry.message])).toEqual([
      ['notify.retried', 'call', 'no answer within 0.3 s'],
      ['notify.retried', 'call', 'no answer within 0.3 s'],
      ['notify.failed', 'call', 'no answer within 0.3 s'],
      ['notify.sent', 'push', undefined],
    ]);
    // worker-luming-02 has no phone: the call cannot reach them, and the push goes at once.
    const unreached = await incidentFor(hub, 'gate-luming-02-west', (gate) => gate.forceDoor());
    expect(unreached.assignees).toEqual(['worker-luming-02']);
    await eventually(() => set.push.to('worker-luming-02', unreached.id).length === 1, 4_000);
    expect(set.call.calls).toBe(3);
    await eventually(async () => (await notices(unreached.id)).length === 2);
    const unreachedTrail = await notices(unreached.id);
    expect(
      unreachedTrail.map((entry) => [entry.action, entry.detail.channel, entry.detail.unreachable]),
    ).toEqual([
      ['notify.failed', 'call', true],
      ['notify.sent', 'push', undefined],
    ]);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_notifications_total{channel="call",outcome="unreachable"}'),
    ).toBe(1);
  });

  it('bundles a storm: past two messages in the window, one message lists the rest', async () => {
    const gates = ['gate-zhenxing-04-north', 'gate-zhenxing-04-east'];
    const raised: Incident[] = [];
    for (const deviceId of gates) {
      raised.push(await incidentFor(hub, deviceId, (gate) => gate.holdDoor(1, 300)));
      raised.push(await incidentFor(hub, deviceId, (gate) => gate.blacklisted()));
    }
    raised.push(await incidentFor(hub, gates[0] as string, (gate) => gate.forceDoor()));
    const ids = raised.map((incident) => incident.id);
    expect(new Set(ids).size).toBe(5);
    expect(raised.every((incident) => incident.assignees.includes('worker-zhenxing-04'))).toBe(true);
    await eventually(() => set.push.to('worker-zhenxing-04').length === 3, 10_000);
    const messages = set.push.to('worker-zhenxing-04').map((delivery) => delivery.notification);
    expect(messages.map((message) => message.incidentIds.length)).toEqual([1, 1, 3]);
    expect(messages.flatMap((message) => message.incidentIds).sort()).toEqual([...ids].sort());
    expect(messages[2]?.title).toMatch(/^【(严重|重大)】3 起新告警$/);
    expect(messages[2]?.url).toBe('https://grid.example.gov.cn/worker');
    expect(await metricValue(hub.httpUrl, 'gridhub_notification_bundles_total')).toBe(1);
    await sleep(500);
    expect(set.push.to('worker-zhenxing-04')).toHaveLength(3);
    const bundled = (await auditOf(hub, messages[2]?.incidentIds[0] as string)).find(
      (entry) => entry.action === 'notify.sent',
    );
    expect(bundled?.detail).toMatchObject({ channel: 'push', bundled: 3 });
  });

  it('tells the handler when a verification sends the case back', async () => {
    const incident = await incidentFor(hub, 'gate-luming-03-east', (gate) => gate.holdDoor(1, 300));
    expect(incident.assignees).toEqual(['worker-luming-03']);
    await eventually(() => set.push.to('worker-luming-03', incident.id).length === 1, 4_000);
    const act = (token: string, name: string, body?: unknown) =>
      postJson<Incident>(`${hub.httpUrl}/api/incidents/${incident.id}/actions/${name}`, token, body);
    expect((await act('demo-worker-luming-03', 'accept')).status).toBe(200);
    expect((await act('demo-worker-luming-03', 'resolve', { note: 'closed the door' })).status).toBe(200);
    const rejected = await act('demo-officer-luming', 'reject', { note: 'no photo of the door' });
    expect(rejected.body).toMatchObject({ reworks: 1, handler: 'worker-luming-03' });
    await eventually(() => set.push.to('worker-luming-03', incident.id).length === 2, 4_000);
    const rework = set.push.to('worker-luming-03', incident.id)[1]?.notification;
    expect(rework?.body).toContain('核查未通过，请重新处置');
    expect(rework?.url).toBe(`https://grid.example.gov.cn/worker#${incident.id}`);
    const sent = await notifyTrail(hub, incident.id, 2);
    expect(sent.map((entry) => [entry.action, entry.detail.reason])).toEqual([
      ['notify.sent', 'dispatched'],
      ['notify.sent', 'rework'],
    ]);
    // Back on site: the handler answered the rework, its until-accepted SMS is cancelled (it still had its handler).
    expect((await act('demo-worker-luming-03', 'arrive')).status).toBe(200);
    await sleep(100 * secondMs + 500);
    expect(set.sms.to('worker-luming-03', incident.id)).toEqual([]);
    expect((await act('demo-worker-luming-03', 'resolve', { note: 'photo attached' })).status).toBe(200);
  });

  it('tells a department user handed the case, with the note, until they mark their part done', async () => {
    const incident = await incidentFor(hub, 'gate-luming-04-north', (gate) => gate.holdDoor(1, 300));
    const [worker] = incident.assignees;
    const act = (token: string, name: string, body?: unknown) =>
      postJson<Incident>(`${hub.httpUrl}/api/incidents/${incident.id}/actions/${name}`, token, body);
    expect((await act(`demo-${worker}`, 'accept')).status).toBe(200);
    const handed = await act(`demo-${worker}`, 'hand_off', {
      note: '门禁线路需城管协助排查',
      coordinator: 'dept-chengguan-01',
    });
    expect(handed.status).toBe(200);
    await eventually(() => set.push.to('dept-chengguan-01', incident.id).length === 1, 4_000);
    const message = set.push.to('dept-chengguan-01', incident.id)[0]?.notification;
    expect(message?.body).toContain('请协同处置：门禁线路需城管协助排查');
    // The department's page is the phone page, where their handed cases are.
    expect(message?.url).toBe(`https://grid.example.gov.cn/worker#${incident.id}`);
    // Audited with its reason (whether the worker's own push left before they accepted is a race: not counted on).
    await eventually(async () =>
      (await auditOf(hub, incident.id)).some(
        (entry) =>
          entry.action === 'notify.sent' &&
          entry.detail.recipient === 'dept-chengguan-01' &&
          entry.detail.reason === 'handed_off',
      ),
    );
    // Their part done before the SMS's 250 s (5 s here): it never leaves.
    expect((await act('demo-dept-chengguan-01', 'coordinate_done', { note: '线路已修复' })).status).toBe(200);
    await sleep(250 * secondMs + 500);
    expect(set.sms.to('dept-chengguan-01', incident.id)).toEqual([]);
    expect(set.push.to('dept-chengguan-01', incident.id)).toHaveLength(1);
  });

  it("shows each channel's status and the pending count to admins and duty officers, nobody else", async () => {
    // A provider refusing the credential is a visible status, not a crash.
    await set.refused.send({ userId: 'nobody', name: 'nobody', contact: {} });
    const { status, body } = await getJson(`${hub.httpUrl}/api/notifications/status`, 'demo-officer-qinghe');
    expect(status).toBe(200);
    const answer = body as {
      pending: number;
      channels: { id: string; health: string; lastError?: string }[];
    };
    expect(answer.pending).toBeGreaterThanOrEqual(0);
    expect(answer.channels.map((channel) => channel.id)).toEqual(['push', 'sms', 'flaky', 'refused', 'call']);
    expect(answer.channels.find((channel) => channel.id === 'refused')).toMatchObject({
      health: 'credentials_refused',
      lastError: 'provider refused the AccessKey',
    });
    expect(answer.channels.find((channel) => channel.id === 'flaky')).toMatchObject({ health: 'failing' });
    expect((await getJson(`${hub.httpUrl}/api/notifications/status`, 'demo-worker-zhenxing-01')).status).toBe(
      403,
    );
    expect((await getJson(`${hub.httpUrl}/api/notifications/status`)).status).toBe(401);
    const health = (await getJson(`${hub.httpUrl}/healthz`)).body as {
      components: Record<string, Record<string, unknown>>;
    };
    expect(health.components.notifications).toMatchObject({
      state: 'up',
      channels: { push: 'ok', refused: 'credentials_refused', flaky: 'failing' },
    });
  });
});

describe('notifications: escalation and restarts', () => {
  const dataDir = temporaryDirectory();

  afterAll(() => dataDir.remove());

  it("tells the officers on duty where a case climbed to, on their console's link", async () => {
    const deployment = notifyingDeployment({
      categories: { intrusion: { acceptMinutes: 1, arriveMinutes: 30, resolveMinutes: 240 } },
    });
    const clock = movableClock();
    const set = channels();
    const hub = await startTestHub({
      deployment,
      deadlineSweepMs: 50,
      clock: clock.now,
      notifyChannels: list(set),
      notifySecondMs: secondMs,
    });
    try {
      const incident = await incidentFor(hub, 'gate-zhenxing-01-east', (gate) => gate.forceDoor());
      await eventually(() => set.push.to('worker-zhenxing-01', incident.id).length === 1);
      expect(set.push.deliveries.filter((delivery) => delivery.userId.startsWith('officer-'))).toEqual([]);
      clock.moveOn(61_000);
      // It climbs to the community, the street and the district; the district's officer on duty is the last told.
      await eventually(() => set.push.to('officer-qinghe-relief', incident.id).length === 1, 6_000);
      const message = set.push.to('officer-qinghe-relief', incident.id)[0]?.notification;
      expect(message?.url).toBe(`https://grid.example.gov.cn/officer#${incident.id}`);
      expect(message?.body).toMatch(/已升级至清河区 Qinghe District，请派单处置（请在\d+分钟内接单）/);
      // Nobody else: no worker of another grid, no officer of a centre it did not climb to. (The integrator is
      // told of the gate going offline once the moved clock passed its silence: a case of its own.)
      const expected = [
        'worker-zhenxing-01',
        'officer-zhenxing',
        'officer-liushuwan',
        'officer-qinghe-relief',
      ];
      const toldOfIt = set.push.deliveries.filter((delivery) =>
        delivery.notification.incidentIds.includes(incident.id),
      );
      expect(toldOfIt.every((delivery) => expected.includes(delivery.userId))).toBe(true);
      // The district's other officer is off duty by the roster: not told.
      await sleep(200);
      expect(set.push.to('officer-qinghe', incident.id)).toEqual([]);
    } finally {
      await hub.stop();
    }
  });

  it('resumes pending steps after a restart on the same data, without sending again what was sent', async () => {
    const deployment = notifyingDeployment();
    const first = channels();
    let hub = await startTestHub({
      deployment,
      dataDir: dataDir.path,
      notifyChannels: list(first),
      notifySecondMs: secondMs,
    });
    const incident = await incidentFor(hub, 'gate-zhenxing-01-south', (gate) => gate.holdDoor(1, 300));
    await eventually(() => first.push.to('worker-zhenxing-01', incident.id).length === 1);
    const pending = await metricValue(hub.httpUrl, 'gridhub_notifications_pending');
    expect(pending).toBe(1);
    await hub.stop();
    expect(first.sms.deliveries).toEqual([]);

    const second = channels();
    hub = await startTestHub({
      deployment,
      dataDir: dataDir.path,
      notifyChannels: list(second),
      notifySecondMs: secondMs,
    });
    try {
      await eventually(() => second.sms.to('worker-zhenxing-01', incident.id).length === 1, 6_000);
      expect(second.push.deliveries).toEqual([]);
      await eventually(async () => (await metricValue(hub.httpUrl, 'gridhub_notifications_pending')) === 0);
      const sent = (await auditOf(hub, incident.id)).filter((entry) => entry.action === 'notify.sent');
      expect(sent.map((entry) => entry.detail.channel)).toEqual(['push', 'sms']);
    } finally {
      await hub.stop();
    }
  });
});
