import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TypedBus } from '../../src/core/bus.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { UserDescription } from '../../src/core/user.ts';
import { fixedPeople } from '../../src/core/user.ts';
import type {
  ChannelStatus,
  DeliveryResult,
  Notification,
  NotificationChannel,
  Recipient,
} from '../../src/notify/channel.ts';
import { NotificationService } from '../../src/notify/notification-service.ts';
import { type PendingAsk, pendingCollection } from '../../src/notify/pending-asks.ts';
import { deliverySchema, type PolicyConfig, policySchema } from '../../src/notify/policy-schema.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { FakeStore } from '../helpers/fake-store.ts';

/** The notifier alone over the store's fake, on a fake clock (vitest's timers and Date): no hub, no waiting. */

class RecordingChannel implements NotificationChannel {
  readonly kind = 'wecom_app' as const;
  readonly sent: { userId: string; notification: Notification; at: number }[] = [];
  constructor(readonly id: string) {}
  reaches(): boolean {
    return true;
  }
  async send(recipient: Recipient, notification: Notification): Promise<DeliveryResult> {
    this.sent.push({ userId: recipient.userId, notification, at: Date.now() });
    return { outcome: 'sent' };
  }
  status(): ChannelStatus {
    return { health: 'ok' };
  }
}

const users: UserDescription[] = [
  { id: 'worker-1', name: '赵磊', role: 'grid_worker', grids: ['grid-1'] },
  { id: 'dept-1', name: '韩磊', role: 'department', grids: [] },
  { id: 'officer-c', name: '李静', role: 'duty_officer', grids: [] },
  { id: 'officer-s', name: '王芳', role: 'duty_officer', grids: [] },
];

/** The officers on duty at each centre. */
const onDuty: Record<string, string[]> = { 'community-1': ['officer-c'], 'street-1': ['officer-s'] };

/** Push at once, SMS after 2 minutes, both until accepted, for every role asked here. */
const pushThenSms = () =>
  policySchema.parse({
    id: 'everyone',
    roles: ['grid_worker', 'department', 'duty_officer'],
    steps: [
      { channel: 'push', until: 'accepted' },
      { channel: 'sms', afterSeconds: 120, until: 'accepted' },
    ],
  });

function incidentAt(at: number, overrides: Partial<Incident> = {}): Incident {
  const iso = new Date(at).toISOString();
  return {
    id: 'inc_1',
    state: 'dispatched',
    title: '门被强行打开',
    category: 'intrusion',
    severity: 'major',
    device: { id: 'gate-1', name: '1号门禁', adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: iso, attributes: {} },
    gridId: 'grid-1',
    chain: [
      { id: 'grid-1', name: '第1网格', level: 'grid' },
      { id: 'community-1', name: '振兴社区', level: 'community' },
    ],
    createdAt: iso,
    updatedAt: iso,
    occurrences: 1,
    lastOccurredAt: iso,
    related: [],
    assignees: ['worker-1'],
    handler: null,
    responsibleNodeId: 'grid-1',
    escalations: 0,
    dueAt: new Date(at + 10 * 60_000).toISOString(),
    dueStage: 'accept',
    reworks: 0,
    timeline: { dispatchedAt: iso },
    ...overrides,
  };
}

describe('the notifier on a fake clock', () => {
  let store: FakeStore;
  let bus: TypedBus<HubBusEvents>;
  let push: RecordingChannel;
  let sms: RecordingChannel;
  let service: NotificationService | undefined;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    store = new FakeStore();
    await store.start();
    bus = new TypedBus<HubBusEvents>();
    push = new RecordingChannel('push');
    sms = new RecordingChannel('sms');
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    vi.useRealTimers();
  });

  function start(policies: PolicyConfig[]): Promise<void> {
    service = new NotificationService({
      bus,
      store,
      channels: [push, sms],
      config: { policies, delivery: deliverySchema.parse({}) },
      people: fixedPeople(users),
      officersOnDuty: (nodeId) => onDuty[nodeId] ?? [],
      nodeName: (nodeId) => ({ 'community-1': '振兴社区', 'street-1': '柳树湾街道' })[nodeId],
      timeZone: 'Asia/Shanghai',
      baseUrl: () => 'https://grid.example.gov.cn',
      metrics: new MetricsRegistry(),
      logger: pino({ level: 'silent' }),
    });
    return service.start();
  }

  /** Lets the queued bus change be read (setImmediate is real) and the store's promises settle. */
  async function settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(0);
  }

  it('holds a step due in quiet hours until they end, across midnight, then sends it', async () => {
    vi.setSystemTime(new Date('2026-12-07T23:00:00+08:00'));
    await start([
      policySchema.parse({
        id: 'workers',
        roles: ['grid_worker'],
        steps: [{ channel: 'push' }],
        quietHours: { from: '22:00', to: '07:00' },
      }),
    ]);
    const incident = incidentAt(Date.now());
    await store.saveIncident(incident);
    bus.emit('incident:created', incident, 0);
    await settle();
    expect(push.sent).toEqual([]);
    expect(service?.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(8 * 3600_000 - 60_000);
    expect(push.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(61_000);
    expect(push.sent.map((sent) => new Date(sent.at).toISOString())).toEqual(['2026-12-07T23:00:00.000Z']);
    expect(push.sent[0]?.notification.body).toContain('时间：2026-12-07 23:00');
    expect(service?.pending).toBe(0);
  });

  it('sends a critical case at once in quiet hours, and the SMS after its delay unless accepted', async () => {
    vi.setSystemTime(new Date('2026-12-07T23:00:00+08:00'));
    await start([
      policySchema.parse({
        id: 'workers',
        roles: ['grid_worker'],
        steps: [{ channel: 'push' }, { channel: 'sms', afterSeconds: 120 }],
        quietHours: { from: '22:00', to: '07:00' },
      }),
    ]);
    const incident = incidentAt(Date.now(), { severity: 'critical' });
    await store.saveIncident(incident);
    bus.emit('incident:created', incident, 0);
    await settle();
    expect(push.sent).toHaveLength(1);
    expect(push.sent[0]?.notification.title).toBe('【严重】第1网格 · 门被强行打开');
    await vi.advanceTimersByTimeAsync(119_000);
    expect(sms.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(sms.sent).toHaveLength(1);
  });

  it('does not send again a delivery found in flight at start; the next step follows at its time', async () => {
    vi.setSystemTime(new Date('2026-12-07T12:00:00+08:00'));
    const askedAt = Date.now() - 30_000;
    const incident = incidentAt(askedAt);
    await store.saveIncident(incident);
    const inFlight: PendingAsk = {
      key: 'inc_1:worker-1:d0',
      incidentId: 'inc_1',
      userId: 'worker-1',
      reason: 'dispatched',
      askedAt,
      baseline: [],
      policyId: 'workers',
      step: 0,
      attempt: 1,
      dueAt: askedAt,
      inFlight: true,
    };
    await store.putRecord(pendingCollection, inFlight.key, inFlight);
    await start([
      policySchema.parse({
        id: 'workers',
        roles: ['grid_worker'],
        steps: [{ channel: 'push' }, { channel: 'sms', afterSeconds: 120 }],
      }),
    ]);
    await settle();
    expect(push.sent).toEqual([]);
    const [entry] = await store.listAudit({ limit: 10, targetId: 'inc_1' });
    expect(entry).toMatchObject({ action: 'notify.failed', detail: { channel: 'push', interrupted: true } });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(sms.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(12_000);
    expect(sms.sent).toHaveLength(1);
    expect(push.sent).toEqual([]);
    expect(await store.listRecords(pendingCollection)).toEqual([]);
  });

  /** Stores the case's change and announces it, as the incident writer does once committed. */
  async function change(before: Incident, after: Incident): Promise<void> {
    await store.saveIncident(after);
    bus.emit('incident:updated', { before, after });
    await settle();
  }

  it("ends a rework's until-accepted SMS when the handler is back on site, not before", async () => {
    vi.setSystemTime(new Date('2026-12-07T12:00:00+08:00'));
    await start([pushThenSms()]);
    const now = Date.now();
    const resolved = incidentAt(now, {
      state: 'resolved',
      assignees: ['worker-1'],
      handler: 'worker-1',
      dueAt: null,
      dueStage: null,
    });
    await store.saveIncident(resolved);
    const reworked = { ...resolved, state: 'accepted' as const, reworks: 1, dueStage: 'resolve' as const };
    await change(resolved, reworked);
    expect(push.sent.map((sent) => sent.notification.body.split('\n').at(-1))).toEqual([
      expect.stringMatching(/^核查未通过，请重新处置/),
    ]);
    // Still only "accepted" (it has its handler): the SMS goes at its 2 minutes.
    await vi.advanceTimersByTimeAsync(121_000);
    expect(sms.sent).toHaveLength(1);

    // A second rework, and this time the handler goes back on site within the 2 minutes: no SMS.
    const again = { ...reworked, reworks: 2 };
    await change(reworked, again);
    expect(push.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(30_000);
    await change(again, { ...again, state: 'on_site' });
    expect(service?.pending).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sms.sent).toHaveLength(1);
  });

  it('asks a department user handed the case, with the note, until they mark their part done', async () => {
    vi.setSystemTime(new Date('2026-12-07T12:00:00+08:00'));
    await start([pushThenSms()]);
    const now = Date.now();
    const accepted = incidentAt(now, { state: 'accepted', handler: 'worker-1', dueStage: 'arrive' });
    await store.saveIncident(accepted);
    const entry = {
      userId: 'dept-1',
      departmentId: 'chengguan',
      at: new Date(now).toISOString(),
      note: '清运渣土',
    };
    const handed = { ...accepted, coordinators: [entry] };
    await change(accepted, handed);
    expect(push.sent.map((sent) => sent.userId)).toEqual(['dept-1']);
    const message = push.sent[0]?.notification;
    expect(message?.body.split('\n').at(-1)).toBe('请协同处置：清运渣土');
    expect(message?.url).toBe('https://grid.example.gov.cn/worker#inc_1');
    // The handler arriving is no answer to the department's part: its SMS still comes.
    const onSite = { ...handed, state: 'on_site' as const };
    await change(handed, onSite);
    await vi.advanceTimersByTimeAsync(121_000);
    expect(sms.sent.map((sent) => sent.userId)).toEqual(['dept-1']);
    expect(service?.pending).toBe(0);

    // Handed again once done (a new round), and done within the 2 minutes: no SMS this time.
    const done = {
      ...onSite,
      coordinators: [{ ...entry, doneAt: new Date().toISOString(), doneNote: '已清运' }],
    };
    await change(onSite, done);
    const second = { ...entry, at: new Date().toISOString(), note: '复查' };
    const handedAgain = { ...done, coordinators: [...done.coordinators, second] };
    await change(done, handedAgain);
    expect(push.sent.map((sent) => sent.notification.body.split('\n').at(-1))).toEqual([
      '请协同处置：清运渣土',
      '请协同处置：复查',
    ]);
    expect(service?.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    const doneAgain = {
      ...handedAgain,
      coordinators: [
        done.coordinators[0],
        { ...second, doneAt: new Date().toISOString(), doneNote: '无问题' },
      ],
    };
    await change(handedAgain, doneAgain as Incident);
    expect(service?.pending).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sms.sent).toHaveLength(1);
    const reasons = (await store.listAudit({ limit: 10, targetId: 'inc_1' })).map(
      (audit) => audit.detail?.reason,
    );
    expect(reasons.every((reason) => reason === 'handed_off')).toBe(true);
  });

  it('asks only the centre a case rests at: a level it climbed past before the notifier read it is not rung', async () => {
    vi.setSystemTime(new Date('2026-12-07T12:00:00+08:00'));
    await start([pushThenSms()]);
    const now = Date.now();
    const dispatched = incidentAt(now);
    const atCommunity = {
      ...dispatched,
      state: 'escalated' as const,
      responsibleNodeId: 'community-1',
      escalations: 1,
    };
    const atStreet = { ...atCommunity, responsibleNodeId: 'street-1', escalations: 2 };
    // Both escalations committed before the intake reads the first (a supervisor escalating twice in a row).
    await store.saveIncident(atStreet);
    bus.emit('incident:updated', { before: dispatched, after: atCommunity });
    bus.emit('incident:updated', { before: atCommunity, after: atStreet });
    await settle();
    await vi.advanceTimersByTimeAsync(121_000);
    expect(push.sent.map((sent) => sent.userId)).toEqual(['officer-s']);
    expect(push.sent[0]?.notification.body).toContain('已升级至柳树湾街道，请派单处置');
    expect(sms.sent.map((sent) => sent.userId)).toEqual(['officer-s']);
  });

  it('tells a centre the case rested at, and ends its steps when the case climbs on', async () => {
    vi.setSystemTime(new Date('2026-12-07T12:00:00+08:00'));
    await start([pushThenSms()]);
    const dispatched = incidentAt(Date.now());
    const atCommunity = {
      ...dispatched,
      state: 'escalated' as const,
      responsibleNodeId: 'community-1',
      escalations: 1,
    };
    await change(dispatched, atCommunity);
    expect(push.sent.map((sent) => sent.userId)).toEqual(['officer-c']);
    await vi.advanceTimersByTimeAsync(60_000);
    await change(atCommunity, { ...atCommunity, responsibleNodeId: 'street-1', escalations: 2 });
    await vi.advanceTimersByTimeAsync(121_000);
    // The community's SMS, due at 2 minutes, never left: the case was the street's by then.
    expect(sms.sent.map((sent) => sent.userId)).toEqual(['officer-s']);
  });

  it('refuses a policy naming a channel there is not', async () => {
    await expect(
      start([policySchema.parse({ id: 'typo', roles: ['grid_worker'], steps: [{ channel: 'smss' }] })]),
    ).rejects.toMatchObject({
      code: 'GRIDHUB_CONFIG_INVALID',
      problems: ['notify.policies[0].steps[0].channel: no channel smss in notify.channels'],
    });
    service = undefined;
  });
});
