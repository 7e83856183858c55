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

const users: UserDescription[] = [{ id: 'worker-1', name: '赵磊', role: 'grid_worker', grids: ['grid-1'] }];

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
      officersOnDuty: () => [],
      nodeName: () => undefined,
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
