import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../src/audit/audit-trail.ts';
import { TypedBus } from '../../src/core/bus.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import { feedMessage, terminalStates } from '../../src/core/feed-message.ts';
import { timeOrderedId } from '../../src/core/ids.ts';
import type { Incident, IncidentState } from '../../src/core/incident.ts';
import type { GridChain } from '../../src/core/jurisdiction.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { Outbound } from '../../src/outbound/index.ts';
import { outboundSchema } from '../../src/outbound/outbound-schema.ts';
import { WebhookDispatcher } from '../../src/outbound/webhooks.ts';
import { LmdbStore } from '../../src/store/lmdb-store.ts';
import type { DeliveryOutbox } from '../../src/store/store.ts';
import { loopbackGuard } from '../helpers/hub.ts';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures: incidents, a recording HTTP receiver, a log capture, and waiting for conditions.

const xijiaoGrid1Chain: GridChain = [
  { id: 'grid-xijiao-01', name: '西郊第1网格 Xijiao Grid 1', level: 'grid' },
  { id: 'community-xijiao', name: '西郊社区 Xijiao Community', level: 'community' },
  { id: 'street-liushuwan', name: '柳树湾街道 Liushuwan Street', level: 'street' },
  { id: 'district-qinghe', name: '清河区 Qinghe District', level: 'district' },
];

/**
 * A realistic incident as the pipeline creates it. The feed treats incidents as opaque data but for id, state,
 * gridId and chain, and the Incident type is growing as other work lands: hence the cast through unknown.
 */
function newIncident(): Incident {
  return {
    id: timeOrderedId('inc'),
    state: 'new',
    title: 'Door forced open',
    category: 'intrusion',
    severity: 'critical',
    device: {
      id: 'gate-xijiao-01-north',
      name: '西郊1网格北门门禁 Xijiao Grid 1 north gate',
      adapter: 'gate-access',
    },
    event: { type: 'door.forced_open', occurredAt: '2026-11-22T08:00:00.000Z', attributes: { door: 2 } },
    gridId: 'grid-xijiao-01',
    chain: xijiaoGrid1Chain,
    createdAt: '2026-11-22T08:00:00.120Z',
    updatedAt: '2026-11-22T08:00:00.120Z',
    occurrences: 1,
    lastOccurredAt: '2026-11-22T08:00:00.000Z',
    related: [],
    assignees: ['worker-xijiao-01'],
    handler: null,
    responsibleNodeId: 'grid-xijiao-01',
    escalations: 0,
    dueAt: '2026-11-22T08:05:00.120Z',
    dueStage: 'accept',
    reworks: 0,
    timeline: {},
  } as unknown as Incident;
}

/** The incident moved to `state`, as the lifecycle would commit it. */
function moved(incident: Incident, state: IncidentState, extra: Partial<Incident> = {}): Incident {
  return { ...incident, state, updatedAt: new Date().toISOString(), ...extra } as Incident;
}

/** Emits the change of `incident` to `state` on the bus and returns the incident after it. */
function change(bus: TypedBus<HubBusEvents>, before: Incident, state: IncidentState): Incident {
  const after = moved(before, state);
  bus.emit('incident:updated', { before, after });
  return after;
}

type Reply = number | 'hang';

interface Received {
  readonly url: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly body: { id: string; type: string; before: Incident | null; after: Incident; sentAt: string };
  /** performance.now() when the whole request had arrived. */
  readonly at: number;
  answered: boolean;
  /** The client closed the connection before it was answered. */
  abandoned: boolean;
}

/** A webhook receiver on loopback that records every request and answers as `reply` says (200 by default). */
class Receiver {
  readonly requests: Received[] = [];
  reply: (request: Received, index: number) => Reply = () => 200;
  readonly #hanging = new Set<{ request: Received; response: ServerResponse }>();
  readonly #server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const received: Received = {
        url: request.url ?? '',
        method: request.method ?? '',
        headers: request.headers,
        raw,
        body: JSON.parse(raw),
        at: performance.now(),
        answered: false,
        abandoned: false,
      };
      const index = this.requests.push(received) - 1;
      const reply = this.reply(received, index);
      if (reply === 'hang') {
        const entry = { request: received, response };
        this.#hanging.add(entry);
        response.on('close', () => {
          this.#hanging.delete(entry);
          if (!response.writableEnded) received.abandoned = true;
        });
        return;
      }
      received.answered = true;
      response.writeHead(reply).end();
    });
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get url(): string {
    return `${this.origin}/hook`;
  }

  /** Answers every request that is hanging now. */
  release(status = 200): void {
    for (const entry of this.#hanging) {
      entry.request.answered = true;
      entry.response.writeHead(status).end();
    }
    this.#hanging.clear();
  }

  types(): string[] {
    return this.requests.map((request) => request.body.type);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  get text(): string {
    return this.lines.join('');
  }
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not met in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function verifySignature(secret: string, request: Received): boolean {
  const timestamp = request.headers['x-gridhub-timestamp'] as string;
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', secret).update(`${timestamp}.${request.raw}`).digest('hex')}`,
  );
  const given = Buffer.from(String(request.headers['x-gridhub-signature']));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------------------------------------------------------
// One real store and audit trail for the file; every test builds its own bus, metrics, dispatcher and receivers.

const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-outbound-'));
const store = new LmdbStore({ dataDir, deadLetterLimit: 100 });
const audit = new AuditTrail(store);

beforeAll(() => store.start());
afterAll(async () => {
  await store.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<Receiver> {
  const started = await new Receiver().start();
  cleanups.push(() => started.stop());
  return started;
}

const SECRET = 'whsec-0123456789abcdef';

interface Rig {
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly logs: LogCapture;
  readonly dispatcher: WebhookDispatcher;
  counts(): Promise<Record<string, number>>;
  failures(incidentId: string): ReturnType<typeof store.listAudit>;
}

/** A started dispatcher over `webhooks` (raw config, defaults filled in by the schema). */
async function dispatcherFor(
  webhooks: Record<string, unknown>[],
  extra: { queueLimit?: number; sleep?: (ms: number) => Promise<void>; outbox?: DeliveryOutbox } = {},
): Promise<Rig> {
  const bus = new TypedBus<HubBusEvents>();
  const metrics = new MetricsRegistry();
  const logs = new LogCapture();
  const config = outboundSchema.parse({ webhooks });
  const dispatcher = new WebhookDispatcher({
    bus,
    webhooks: config.webhooks,
    audit,
    metrics,
    logger: pino({ level: 'debug' }, logs),
    guard: loopbackGuard(metrics),
    ...extra,
  });
  await dispatcher.start();
  cleanups.push(() => dispatcher.stop());
  return {
    bus,
    metrics,
    logs,
    dispatcher,
    async counts() {
      const metric = metrics.metric('gridhub_webhook_deliveries_total');
      const { values } = await (metric as NonNullable<typeof metric>).get();
      return Object.fromEntries(values.map((value) => [String(value.labels.outcome), value.value]));
    },
    failures: (incidentId) => store.listAudit({ limit: 50, targetId: incidentId }),
  };
}

// ---------------------------------------------------------------------------------------------------------------

describe('feed messages: new, update and end, with before and after', () => {
  it('calls a created incident new, with no before', () => {
    const incident = newIncident();
    expect(feedMessage('created', incident)).toEqual({ type: 'new', before: null, after: incident });
  });

  it('ends an incident only on entering closed, false_alarm or cancelled; resolved is an update', () => {
    expect([...terminalStates].sort()).toEqual(['cancelled', 'closed', 'false_alarm']);
    const start = newIncident();
    const cases: [IncidentState, IncidentState, string][] = [
      ['new', 'dispatched', 'update'],
      ['on_site', 'escalated', 'update'],
      ['on_site', 'resolved', 'update'],
      ['resolved', 'dispatched', 'update'],
      ['resolved', 'closed', 'end'],
      ['new', 'false_alarm', 'end'],
      ['dispatched', 'cancelled', 'end'],
      // Already ended: a later correction is not a second end.
      ['closed', 'false_alarm', 'update'],
    ];
    for (const [from, to, type] of cases) {
      const before = moved(start, from);
      const after = moved(start, to);
      expect({ from, to, message: feedMessage('updated', { before, after }) }).toEqual({
        from,
        to,
        message: { type, before, after },
      });
    }
  });
});

describe('outbound config section', () => {
  it('fills in every default', () => {
    expect(outboundSchema.parse({})).toEqual({ mqtt: { enabled: true, topic: 'incidents' }, webhooks: [] });
    expect(
      outboundSchema.parse({
        webhooks: [{ id: 'ops-bridge', url: 'https://ops.example/hook', secret: SECRET }],
      }).webhooks,
    ).toEqual([
      {
        id: 'ops-bridge',
        url: 'https://ops.example/hook',
        secret: SECRET,
        events: ['new', 'update', 'end'],
        timeoutSeconds: 5,
        maxAttempts: 6,
        backoffSeconds: 1,
      },
    ]);
  });

  it('reports every bad field with its path', () => {
    const result = outboundSchema.safeParse({
      mqtt: { topic: 'a/b' },
      webhooks: [
        { id: 'Ops', url: 'ftp://ops.example/hook', secret: 'short', events: ['closed'], maxAttempts: 21 },
        { id: 'twice', url: 'https://a.example/', secret: SECRET },
        { id: 'twice', url: 'https://b.example/', secret: SECRET, retries: 3 },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'mqtt.topic',
      'webhooks.0.events.0',
      'webhooks.0.id',
      'webhooks.0.maxAttempts',
      'webhooks.0.secret',
      'webhooks.0.url',
      'webhooks.2',
      'webhooks.2.id',
    ]);
  });

  it('refuses "devices" as the feed topic, which is the device topics\' level', () => {
    expect(outboundSchema.safeParse({ mqtt: { topic: 'devices' } }).success).toBe(false);
  });
});

describe('MQTT incident feed', () => {
  async function feedRig(
    config: Record<string, unknown> = {},
    fail = false,
    hasSubscribers?: (topic: string) => boolean,
  ) {
    const bus = new TypedBus<HubBusEvents>();
    const logs = new LogCapture();
    const published: { topic: string; payload: string }[] = [];
    const metrics = new MetricsRegistry();
    const outbound = new Outbound({
      bus,
      publish: async (topic, payload) => {
        published.push({ topic, payload });
        if (fail) throw new Error('broker is down');
      },
      topicBase: 'gridhub',
      config: outboundSchema.parse(config),
      audit,
      metrics,
      guard: loopbackGuard(metrics),
      logger: pino({ level: 'debug' }, logs),
      ...(hasSubscribers === undefined ? {} : { hasSubscribers }),
    });
    await outbound.start();
    cleanups.push(() => outbound.stop());
    return { bus, logs, published, outbound };
  }

  it('encodes and publishes nothing while the feed topic has no subscriber, and every change once it has', async () => {
    let subscribed = false;
    const asked: string[] = [];
    const { bus, published } = await feedRig({}, false, (topic) => {
      asked.push(topic);
      return subscribed;
    });
    const incident = newIncident();
    bus.emit('incident:created', incident, performance.now());
    const resolved = change(bus, incident, 'resolved');
    expect(published).toEqual([]);
    expect(asked).toEqual(['gridhub/incidents', 'gridhub/incidents']);
    subscribed = true;
    const closed = change(bus, resolved, 'closed');
    await until(() => published.length === 1, 'a publish');
    expect(published.map((message) => JSON.parse(message.payload))).toEqual([
      { type: 'end', before: resolved, after: closed },
    ]);
  });

  it('publishes every change on <topicBase>/incidents as {type, before, after}', async () => {
    const { bus, published } = await feedRig();
    const incident = newIncident();
    bus.emit('incident:created', incident, performance.now());
    const resolved = change(bus, incident, 'resolved');
    const closed = change(bus, resolved, 'closed');
    await until(() => published.length === 3, 'three publishes');
    expect(published.map((message) => message.topic)).toEqual([
      'gridhub/incidents',
      'gridhub/incidents',
      'gridhub/incidents',
    ]);
    expect(published.map((message) => JSON.parse(message.payload))).toEqual([
      { type: 'new', before: null, after: incident },
      { type: 'update', before: incident, after: resolved },
      { type: 'end', before: resolved, after: closed },
    ]);
  });

  it('uses the configured topic level, and publishes nothing when disabled', async () => {
    const custom = await feedRig({ mqtt: { topic: 'alerts' } });
    const disabled = await feedRig({ mqtt: { enabled: false } });
    const incident = newIncident();
    custom.bus.emit('incident:created', incident, performance.now());
    disabled.bus.emit('incident:created', incident, performance.now());
    await until(() => custom.published.length === 1, 'a publish');
    expect(custom.published[0]?.topic).toBe('gridhub/alerts');
    expect(disabled.outbound.feed).toBeUndefined();
    expect(disabled.bus.listenerCount('incident:created')).toBe(0);
    expect(disabled.published).toEqual([]);
  });

  it('logs a failed publish and keeps going; nothing is thrown into the bus', async () => {
    const { bus, logs, published } = await feedRig({}, true);
    const first = newIncident();
    const second = newIncident();
    expect(() => bus.emit('incident:created', first, performance.now())).not.toThrow();
    bus.emit('incident:created', second, performance.now());
    await until(() => logs.lines.length >= 2, 'two log lines');
    expect(published).toHaveLength(2);
    const lines = logs.lines.map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.msg, line.incidentId, line.error])).toEqual([
      ['incident feed publish failed', first.id, 'broker is down'],
      ['incident feed publish failed', second.id, 'broker is down'],
    ]);
  });

  it('stops publishing once stopped', async () => {
    const { bus, outbound, published } = await feedRig();
    await outbound.stop();
    expect(bus.listenerCount('incident:created')).toBe(0);
    expect(bus.listenerCount('incident:updated')).toBe(0);
    bus.emit('incident:created', newIncident(), performance.now());
    expect(published).toEqual([]);
  });
});

describe('webhooks', () => {
  it('POSTs the feed message with the exact body and headers, signed over "<timestamp>.<body>"', async () => {
    const hook = await receiver();
    (await dispatcherFor([{ id: 'ops-bridge', url: hook.url, secret: SECRET }])).bus.emit(
      'incident:created',
      newIncident(),
      performance.now(),
    );
    const startedAt = Math.floor(Date.now() / 1000);
    await until(() => hook.requests.length === 1, 'one request');
    const request = hook.requests[0] as Received;
    const timestamp = Number(request.headers['x-gridhub-timestamp']);

    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hook');
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'gridhub-webhooks',
      'x-gridhub-delivery': expect.stringMatching(/^whd_[0-9a-z]{17}$/),
      'x-gridhub-event': 'new',
      'x-gridhub-timestamp': expect.stringMatching(/^\d{10}$/),
      'x-gridhub-signature': expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
    });
    expect(request.headers.authorization).toBeUndefined();
    expect(Math.abs(timestamp - startedAt)).toBeLessThanOrEqual(2);
    expect(Object.keys(request.body)).toEqual(['id', 'type', 'before', 'after', 'sentAt']);
    expect(request.body).toEqual({
      id: request.headers['x-gridhub-delivery'],
      type: 'new',
      before: null,
      after: expect.objectContaining({ state: 'new', gridId: 'grid-xijiao-01', chain: xijiaoGrid1Chain }),
      sentAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    expect(Math.floor(Date.parse(request.body.sentAt) / 1000)).toBe(timestamp);
    expect(verifySignature(SECRET, request)).toBe(true);
    expect(verifySignature('another-secret-of-16+', request)).toBe(false);
  });

  it('classifies a lifecycle as new, update, update (resolved), end (closed), in order', async () => {
    const hook = await receiver();
    const { bus } = await dispatcherFor([{ id: 'ops-bridge', url: hook.url, secret: SECRET }]);
    const incident = newIncident();
    bus.emit('incident:created', incident, performance.now());
    const onSite = change(bus, incident, 'on_site');
    const resolved = change(bus, onSite, 'resolved');
    const closed = change(bus, resolved, 'closed');
    await until(() => hook.requests.length === 4, 'four requests');
    expect(hook.types()).toEqual(['new', 'update', 'update', 'end']);
    expect(hook.requests.map((request) => request.headers['x-gridhub-event'])).toEqual(hook.types());
    expect(
      hook.requests.map((request) => [request.body.before?.state ?? null, request.body.after.state]),
    ).toEqual([
      [null, 'new'],
      ['new', 'on_site'],
      ['on_site', 'resolved'],
      ['resolved', 'closed'],
    ]);
    expect(hook.requests[3]?.body.after).toEqual(closed);
  });

  it('sends a webhook that wants only end nothing but the ends', async () => {
    const all = await receiver();
    const endsOnly = await receiver();
    const { bus } = await dispatcherFor([
      { id: 'everything', url: all.url, secret: SECRET },
      { id: 'ends-only', url: endsOnly.url, secret: SECRET, events: ['end'] },
    ]);
    const first = newIncident();
    const second = newIncident();
    bus.emit('incident:created', first, performance.now());
    bus.emit('incident:created', second, performance.now());
    change(bus, change(bus, first, 'resolved'), 'closed');
    change(bus, second, 'false_alarm');
    await until(() => all.requests.length === 5, 'five requests to the first webhook');
    await until(() => endsOnly.requests.length === 2, 'two requests to the ends-only webhook');
    expect(endsOnly.types()).toEqual(['end', 'end']);
    expect(endsOnly.requests.map((request) => request.body.after.state).sort()).toEqual([
      'closed',
      'false_alarm',
    ]);
    expect(all.types().sort()).toEqual(['end', 'end', 'new', 'new', 'update']);
  });

  it('retries with exponential backoff, same delivery id, and keeps the order per incident across the retry', async () => {
    const hook = await receiver();
    hook.reply = (_request, index) => (index < 2 ? 503 : 200);
    const rig = await dispatcherFor([
      { id: 'ops-bridge', url: hook.url, secret: SECRET, backoffSeconds: 0.05 },
    ]);
    const incident = newIncident();
    rig.bus.emit('incident:created', incident, performance.now());
    change(rig.bus, incident, 'dispatched');
    await until(() => hook.requests.length === 4, 'four requests');
    expect(hook.types()).toEqual(['new', 'new', 'new', 'update']);
    const [first, second, third, fourth] = hook.requests as [Received, Received, Received, Received];
    expect(new Set([first, second, third].map((request) => request.body.id)).size).toBe(1);
    expect(fourth.body.id).not.toBe(first.body.id);
    // Waits of 50 ms then 100 ms (a timer may fire a hair early, never much).
    expect(second.at - first.at).toBeGreaterThanOrEqual(45);
    expect(third.at - second.at).toBeGreaterThanOrEqual(95);
    expect(fourth.at).toBeGreaterThan(third.at);
    for (const request of hook.requests) expect(verifySignature(SECRET, request)).toBe(true);
    await until(async () => (await rig.counts()).delivered === 2, 'two delivered');
    expect(await rig.counts()).toEqual({ delivered: 2, retried: 2, failed: 0 });
    expect(await rig.failures(incident.id)).toEqual([]);
  });

  it('waits backoffSeconds·2^(n-1) after attempt n, at most 300 s', async () => {
    const hook = await receiver();
    hook.reply = () => 500;
    const waits: number[] = [];
    const rig = await dispatcherFor(
      [
        { id: 'doubling', url: hook.url, secret: SECRET, backoffSeconds: 1, maxAttempts: 5 },
        { id: 'capped', url: `${hook.origin}/capped`, secret: SECRET, backoffSeconds: 100, maxAttempts: 4 },
      ],
      { sleep: async (ms) => void waits.push(ms) },
    );
    rig.bus.emit('incident:created', newIncident(), performance.now());
    await until(async () => (await rig.counts()).failed === 2, 'both deliveries given up');
    expect(waits.filter((ms) => ms < 100_000)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(waits.filter((ms) => ms >= 100_000)).toEqual([100_000, 200_000, 300_000]);
    expect(hook.requests.filter((request) => request.url === '/hook')).toHaveLength(5);
    expect(hook.requests.filter((request) => request.url === '/capped')).toHaveLength(4);
  });

  it('does not let one incident under retry hold up the deliveries of another', async () => {
    const hook = await receiver();
    const stuck = newIncident();
    const other = newIncident();
    hook.reply = (request) => (request.body.after.id === stuck.id ? 503 : 200);
    const rig = await dispatcherFor([
      { id: 'ops-bridge', url: hook.url, secret: SECRET, backoffSeconds: 0.2, maxAttempts: 20 },
    ]);
    rig.bus.emit('incident:created', stuck, performance.now());
    rig.bus.emit('incident:created', other, performance.now());
    change(rig.bus, other, 'dispatched');
    await until(
      () => hook.requests.filter((request) => request.body.after.id === other.id).length === 2,
      "the other incident's two changes",
    );
    expect((await rig.counts()).failed).toBe(0);
    expect(
      hook.requests.filter((request) => request.body.after.id === other.id).map((r) => r.body.type),
    ).toEqual(['new', 'update']);
  });

  it('records a final failure in the audit trail and counts it, without the URL credentials or query', async () => {
    const hook = await receiver();
    hook.reply = () => 500;
    const url = `http://hub:p%40ss-word@${hook.origin.slice('http://'.length)}/hook?token=query-secret`;
    const rig = await dispatcherFor([
      { id: 'ops-bridge', url, secret: SECRET, maxAttempts: 3, backoffSeconds: 0.01 },
    ]);
    const incident = newIncident();
    rig.bus.emit('incident:created', incident, performance.now());
    await until(async () => (await rig.failures(incident.id)).length === 1, 'an audit entry');

    expect(hook.requests).toHaveLength(3);
    expect(hook.requests[0]?.url).toBe('/hook?token=query-secret');
    expect(hook.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('hub:p@ss-word').toString('base64')}`,
    );
    const [entry] = await rig.failures(incident.id);
    expect(entry).toEqual({
      id: expect.stringMatching(/^aud_/),
      at: expect.any(String),
      actor: { userId: 'system', role: 'system' },
      action: 'webhook.delivery',
      target: { kind: 'incident', id: incident.id },
      outcome: 'failed',
      detail: {
        webhook: 'ops-bridge',
        url: `${hook.origin}/hook`,
        delivery: hook.requests[0]?.body.id,
        type: 'new',
        attempts: 3,
        lastStatus: 500,
      },
      message: 'gave up after 3 attempts: HTTP 500',
    });
    expect(await rig.counts()).toEqual({ delivered: 0, retried: 2, failed: 1 });
    const metricsText = await rig.metrics.text();
    expect(metricsText).toContain('gridhub_webhook_deliveries_total{outcome="failed"} 1');
    for (const secret of [SECRET, 'p@ss-word', 'p%40ss-word', 'query-secret'])
      expect(rig.logs.text).not.toContain(secret);
    expect(rig.logs.text).toContain('webhook delivery failed');
  });

  it('records the network error of a receiver that is not there', async () => {
    const gone = await receiver();
    const url = gone.url;
    await gone.stop();
    const rig = await dispatcherFor([
      { id: 'gone', url, secret: SECRET, maxAttempts: 2, backoffSeconds: 0.01 },
    ]);
    const incident = newIncident();
    rig.bus.emit('incident:created', incident, performance.now());
    await until(async () => (await rig.failures(incident.id)).length === 1, 'an audit entry');
    const [entry] = await rig.failures(incident.id);
    expect(entry?.detail).toMatchObject({ webhook: 'gone', attempts: 2, lastError: 'ECONNREFUSED' });
    expect(entry?.detail).not.toHaveProperty('lastStatus');
    expect(entry?.message).toBe('gave up after 2 attempts: ECONNREFUSED');
  });

  it('times out a hanging receiver, abandons that request and retries', async () => {
    const hook = await receiver();
    hook.reply = (_request, index) => (index === 0 ? 'hang' : 200);
    const rig = await dispatcherFor([
      { id: 'slowpoke', url: hook.url, secret: SECRET, timeoutSeconds: 0.2, backoffSeconds: 0.01 },
    ]);
    rig.bus.emit('incident:created', newIncident(), performance.now());
    await until(
      () => hook.requests.length === 2 && hook.requests[1]?.answered === true,
      'the retry answered',
    );
    const [first, second] = hook.requests as [Received, Received];
    expect(first.abandoned).toBe(true);
    expect(first.answered).toBe(false);
    expect(second.body.id).toBe(first.body.id);
    expect(second.at - first.at).toBeGreaterThanOrEqual(190);
    await until(async () => (await rig.counts()).delivered === 1, 'delivered');
    expect(await rig.counts()).toEqual({ delivered: 1, retried: 1, failed: 0 });
    expect(rig.logs.text).toContain('timeout after 0.2 s');
  });

  it('delivers to a fast webhook while a slow one is still stuck', async () => {
    const slow = await receiver();
    const fast = await receiver();
    slow.reply = () => 'hang';
    const { bus } = await dispatcherFor([
      { id: 'slow', url: slow.url, secret: SECRET, timeoutSeconds: 30 },
      { id: 'fast', url: fast.url, secret: SECRET },
    ]);
    const incident = newIncident();
    bus.emit('incident:created', incident, performance.now());
    change(bus, incident, 'dispatched');
    await until(
      () => fast.requests.length === 2 && slow.requests.length === 1,
      "the fast webhook's two deliveries and the slow one's first request",
    );
    expect(fast.types()).toEqual(['new', 'update']);
    expect(fast.requests.every((request) => request.answered)).toBe(true);
    // Meanwhile the slow one still holds its first request and, keeping the incident's order, has not been sent
    // the second.
    expect(slow.requests[0]?.answered).toBe(false);
    expect(slow.requests[0]?.abandoned).toBe(false);
    expect(slow.requests).toHaveLength(1);
    slow.release();
    await until(() => slow.requests.length === 2, "the slow webhook's second delivery, once released");
    expect(slow.types()).toEqual(['new', 'update']);
  });

  it('drops the oldest waiting delivery when the queue is full, and records it', async () => {
    const hook = await receiver();
    hook.reply = (_request, index) => (index === 0 ? 'hang' : 200);
    const rig = await dispatcherFor([{ id: 'backlog', url: hook.url, secret: SECRET, timeoutSeconds: 30 }], {
      queueLimit: 2,
    });
    const incident = newIncident();
    rig.bus.emit('incident:created', incident, performance.now());
    await until(() => hook.requests.length === 1, 'the first request, hanging');
    const dispatched = change(rig.bus, incident, 'dispatched');
    const onSite = change(rig.bus, dispatched, 'on_site');
    change(rig.bus, onSite, 'resolved');
    await until(async () => (await rig.failures(incident.id)).length === 1, 'the drop recorded');
    const [entry] = await rig.failures(incident.id);
    expect(entry).toMatchObject({
      action: 'webhook.delivery',
      outcome: 'failed',
      detail: { webhook: 'backlog', url: hook.url, type: 'update', attempts: 0 },
      message: 'queue full',
    });
    expect((await rig.counts()).failed).toBe(1);
    hook.release();
    await until(() => hook.requests.length === 3, 'the two kept deliveries');
    expect(hook.requests.map((request) => request.body.after.state)).toEqual(['new', 'on_site', 'resolved']);
  });

  it('stops promptly: no retry after stop, the request in flight abandoned, nothing audited', async () => {
    const failing = await receiver();
    failing.reply = () => 503;
    const hanging = await receiver();
    hanging.reply = () => 'hang';
    const rig = await dispatcherFor([
      { id: 'failing', url: failing.url, secret: SECRET, backoffSeconds: 0.3 },
      { id: 'hanging', url: hanging.url, secret: SECRET, timeoutSeconds: 30 },
    ]);
    const incident = newIncident();
    rig.bus.emit('incident:created', incident, performance.now());
    await until(async () => (await rig.counts()).retried === 1, 'a retry scheduled');
    await until(() => hanging.requests.length === 1, 'a request in flight');

    const stoppedAt = performance.now();
    await rig.dispatcher.stop();
    expect(performance.now() - stoppedAt).toBeLessThan(250);
    expect(rig.bus.listenerCount('incident:created')).toBe(0);
    expect(rig.bus.listenerCount('incident:updated')).toBe(0);
    await until(() => hanging.requests[0]?.abandoned === true, 'the hanging request closed by the hub');

    // Past the retry's due time (300 ms after the first attempt): no second attempt was made.
    const due = (failing.requests[0]?.at ?? 0) + 300;
    await until(() => performance.now() > due + 150, 'the retry would have been sent');
    expect(failing.requests).toHaveLength(1);
    rig.bus.emit('incident:created', newIncident(), performance.now());
    expect(hanging.requests).toHaveLength(1);
    expect(await rig.failures(incident.id)).toEqual([]);
    expect(await rig.counts()).toEqual({ delivered: 0, retried: 1, failed: 0 });
    expect(rig.logs.text).toContain('webhook deliveries abandoned at stop');
  });

  it('keeps what waits in the outbox across a restart: sent first, with the same ids, in order', async () => {
    const outbox = store.outbox;
    const hook = await receiver();
    hook.reply = () => 503;
    const webhooks = [{ id: 'ops-bridge', url: hook.url, secret: SECRET, backoffSeconds: 60 }];
    const first = await dispatcherFor(webhooks, { outbox });
    const incident = newIncident();
    first.bus.emit('incident:created', incident, performance.now());
    const dispatched = change(first.bus, incident, 'dispatched');
    await until(() => hook.requests.length === 1, 'the first attempt');
    await first.dispatcher.stop();
    expect(first.logs.text).toContain('webhook deliveries left in the outbox for the next start');
    const kept = await outbox.listDeliveries();
    expect(kept.map((delivery) => [delivery.webhookId, delivery.message.type])).toEqual([
      ['ops-bridge', 'new'],
      ['ops-bridge', 'update'],
    ]);

    // The next run: the receiver is back; a change made as it starts waits behind what was kept.
    hook.reply = () => 200;
    const second = await dispatcherFor(webhooks, { outbox });
    change(second.bus, dispatched, 'accepted');
    await until(() => hook.requests.length === 4, 'the kept deliveries and the new one');
    expect(hook.types()).toEqual(['new', 'new', 'update', 'update']);
    const [attempt, resent, update, newer] = hook.requests as [Received, Received, Received, Received];
    expect(resent.body.id).toBe(attempt.body.id);
    expect(update.body.id).toBe(kept[1]?.id);
    expect(newer.body.after.state).toBe('accepted');
    expect(second.logs.text).toContain('webhook deliveries kept from the last run resumed');
    await until(async () => (await outbox.listDeliveries()).length === 0, 'the outbox emptied');
  });

  it('starts without what the outbox kept when it cannot be read, and says so', async () => {
    const unreadable: DeliveryOutbox = {
      putDelivery: async () => {},
      removeDelivery: async () => {},
      listDeliveries: async () => {
        throw new Error('disk gone');
      },
    };
    const hook = await receiver();
    const rig = await dispatcherFor([{ id: 'ops-bridge', url: hook.url, secret: SECRET }], {
      outbox: unreadable,
    });
    expect(rig.logs.text).toContain('cannot read the webhook outbox');
    rig.bus.emit('incident:created', newIncident(), performance.now());
    await until(() => hook.requests.length === 1, 'a new change still delivered');
  });

  it('keeps to the queue limit with what the outbox kept, dropping the oldest as failures', async () => {
    const outbox = store.outbox;
    const incidents = [newIncident(), newIncident(), newIncident()];
    for (const incident of incidents) {
      const message = feedMessage('created', incident);
      await outbox.putDelivery({ id: timeOrderedId('whd'), webhookId: 'ops-bridge', message });
    }
    const hook = await receiver();
    const rig = await dispatcherFor([{ id: 'ops-bridge', url: hook.url, secret: SECRET }], {
      outbox,
      queueLimit: 2,
    });
    await until(() => hook.requests.length === 2, 'the two newest kept');
    expect(hook.requests.map((request) => request.body.after.id)).toEqual([
      incidents[1]?.id,
      incidents[2]?.id,
    ]);
    expect((await rig.failures(incidents[0]?.id as string)).map((entry) => entry.message)).toEqual([
      'queue full',
    ]);
    await until(async () => (await outbox.listDeliveries()).length === 0, 'the outbox emptied');
  });

  it('drops what the outbox kept for a webhook no longer configured, and says so', async () => {
    const outbox = store.outbox;
    const message = feedMessage('created', newIncident());
    await outbox.putDelivery({ id: timeOrderedId('whd'), webhookId: 'retired-bridge', message });
    const hook = await receiver();
    const rig = await dispatcherFor([{ id: 'ops-bridge', url: hook.url, secret: SECRET }], { outbox });
    await until(async () => (await outbox.listDeliveries()).length === 0, 'the outbox emptied');
    expect(rig.logs.text).toContain('no longer configured');
    expect(rig.logs.text).toContain('retired-bridge');
    expect(hook.requests).toHaveLength(0);
  });
});
