import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import { GbSuperior } from '../../simulators/gb28181/superior.ts';
import { TypedBus } from '../../src/core/bus.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { GridEntry } from '../../src/core/jurisdiction.ts';
import { type ManscdpMessage, readManscdp, writeManscdp } from '../../src/ingest/gb28181/manscdp.ts';
import {
  digestChallenge,
  NonceIssuer,
  readDigestCredentials,
  verifyDigest,
} from '../../src/net/sip/sip-digest.ts';
import { SipEndpoint, type SipPeer } from '../../src/net/sip/sip-endpoint.ts';
import {
  responseTo,
  SipHeaders,
  type SipRequest,
  serializeSipMessage,
} from '../../src/net/sip/sip-message.ts';
import { child, children, textAt } from '../../src/net/xml.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { type CascadeDevice, Gb28181Cascade } from '../../src/outbound/gb28181-cascade.ts';
import { type CascadeConfig, cascadeSchema } from '../../src/outbound/outbound-schema.ts';
import { demoConfig, demoGate, deploymentOf, startTestHub } from '../helpers/hub.ts';
import { freeSipPort, type SippRun, startSipp } from '../helpers/sipp.ts';

/**
 * gridhub's cascade against SIPp (Debian sip-tester) playing the superior platform: test/sipp/cascade-superior-uas.xml
 * challenges the REGISTER and checks the answer (verifyauth), takes the keepalive, sends a catalog query and checks
 * the pages, checks the alarm, and takes the unregistration at stop. SIPp exits 0 only when every call passed.
 */

const localId = '34020000002000000001';
const superiorId = '34000000002000000001';
const superiorDomain = '3400000000';
const password = 'cascade-secret-7';

const grid: GridEntry = {
  ref: { id: 'grid-test-01', name: '西郊1网格 Xijiao Grid 1', level: 'grid' },
  chain: [
    { id: 'grid-test-01', name: '西郊1网格 Xijiao Grid 1', level: 'grid' },
    { id: 'community-test', name: '西郊社区 Xijiao Community', level: 'community' },
    { id: 'street-test', name: '西郊街道', level: 'street' },
    { id: 'district-test', name: '示范区', level: 'district' },
  ],
  boundary: [
    [
      [120.1, 30.2],
      [120.2, 30.2],
      [120.2, 30.3],
      [120.1, 30.3],
      [120.1, 30.2],
    ],
  ],
  bounds: [120.1, 30.2, 120.2, 30.3],
};

const devices: CascadeDevice[] = [
  {
    id: 'cam-gate-01',
    name: '西郊1网格北门摄像机 Xijiao Grid 1 north gate camera',
    adapter: { id: 'onvif-camera', vendor: 'Any ONVIF Profile S/T camera', models: ['ONVIF Profile S'] },
    grid,
    location: [120.15, 30.25],
  },
  {
    id: 'sentry-01',
    name: '西郊1网格岗亭 Xijiao Grid 1 sentry box',
    adapter: { id: 'sentry-box', vendor: 'Generic', models: ['SBP-JSON v1 sentry box panel'] },
    grid,
  },
  {
    id: 'gate-north-01',
    name: '西郊1网格北门门禁 Xijiao Grid 1 north gate',
    adapter: { id: 'gate-access', vendor: 'Generic', models: ['ACS-JSON v1 door controller'] },
    grid,
  },
];

function intrusion(): Incident {
  const now = new Date().toISOString();
  return {
    id: 'inc_test_0001',
    state: 'new',
    title: 'Intrusion seen by a camera',
    category: 'intrusion',
    severity: 'critical',
    device: { id: 'cam-gate-01', name: devices[0]?.name ?? '', adapter: 'onvif-camera' },
    event: { type: 'camera.intrusion', occurredAt: now, attributes: {} },
    gridId: grid.ref.id,
    chain: grid.chain,
    createdAt: now,
    updatedAt: now,
    occurrences: 1,
    lastOccurredAt: now,
    related: [],
    assignees: [],
    handler: null,
    responsibleNodeId: grid.ref.id,
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: 0,
    timeline: {},
  };
}

/** SIPp as the superior for `calls` calls (30 s at most), its screen kept for the assertion's message. */
function runSipp(transport: 'udp' | 'tcp', port: number, calls: number): SippRun {
  return startSipp({
    scenario: 'cascade-superior-uas.xml',
    transport,
    localPort: port,
    calls,
    timeoutSeconds: 30,
    timeoutIsError: false,
    args: [
      ...['-key', 'local_id', localId],
      ...['-key', 'superior_id', superiorId],
      ...['-key', 'domain', superiorDomain],
      ...['-key', 'password', password],
    ],
    screen: true,
  });
}

function config(transport: 'udp' | 'tcp', superiorPort: number, overrides: Partial<CascadeConfig> = {}) {
  return cascadeSchema.parse({
    local: { id: localId, domain: '3402000000', port: 0, host: '127.0.0.1', transport },
    superior: { id: superiorId, domain: superiorDomain, host: '127.0.0.1', port: superiorPort, password },
    // One keepalive (the first, at registration) within the test: SIPp expects exactly the calls it is told.
    keepaliveSeconds: 3600,
    ...overrides,
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function untilAsync(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function counter(
  metrics: MetricsRegistry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.metric(name);
  if (metric === undefined) return 0;
  const values = (await metric.get()).values as { labels: Record<string, string>; value: number }[];
  return (
    values.find((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
      ?.value ?? 0
  );
}

const running: { cascade?: Gb28181Cascade; sipp?: SippRun }[] = [];

afterEach(async () => {
  for (const run of running.splice(0)) {
    await run.cascade?.stop();
    run.sipp?.stop();
  }
});

describe.each(['udp', 'tcp'] as const)(
  'the GB/T 28181 cascade against SIPp as the superior, over %s',
  (transport) => {
    it('registers with Digest, keeps alive, answers the catalog in pages, sends the alarm and unregisters', async () => {
      const port = await freeSipPort();
      // Calls SIPp sees (one per Call-ID): the registration, the keepalive (which carries the catalog query), the
      // alarm, and one per catalog page: one item per datagram over UDP (each page is kept under 1300 bytes), one
      // page over TCP.
      const pages = transport === 'udp' ? 3 : 1;
      const sipp = runSipp(transport, port, 3 + pages);
      const bus = new TypedBus<HubBusEvents>();
      const metrics = new MetricsRegistry();
      const cascade = new Gb28181Cascade({
        config: config(transport, port),
        bus,
        devices: () => devices,
        online: (deviceId) => deviceId === 'cam-gate-01',
        host: '127.0.0.1',
        timeZone: 'Asia/Shanghai',
        metrics,
        logger: pino({ level: 'silent' }),
        // SIPp may still be starting: retry soon.
        timing: { retryMs: 300, maxRetryMs: 1000 },
      });
      running.push({ cascade, sipp });
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      expect(cascade.health()).toMatchObject({ state: 'up', registration: 'registered' });

      bus.emit('incident:created', intrusion(), performance.now());
      await until(() => cascade.health().queued === 0, 'the alarm to go');
      const answered = async () =>
        (await counter(metrics, 'gridhub_gb28181_cascade_queries_total', { cmd: 'Catalog' })) >= 1;
      for (let wait = 0; !(await answered()); wait++) {
        if (wait > 400) throw new Error('the catalog query was not answered');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await counter(metrics, 'gridhub_gb28181_cascade_alarms_total', { outcome: 'sent' })).toBe(1);
      expect(await counter(metrics, 'gridhub_gb28181_cascade_keepalives_total', { result: 'answered' })).toBe(
        1,
      );
      expect(
        await counter(metrics, 'gridhub_gb28181_cascade_registrations_total', { result: 'registered' }),
      ).toBe(1);

      await cascade.stop();
      expect(cascade.health().state).toBe('down');
      const { code, errors } = await sipp.exit;
      expect(code, errors.slice(-3000)).toBe(0);
      expect(
        await counter(metrics, 'gridhub_gb28181_cascade_registrations_total', { result: 'unregistered' }),
      ).toBe(1);
    });
  },
);

/**
 * A superior platform that can go silent, built on gridhub's SIP endpoint (the thing under test is the cascade, not
 * the endpoint): it challenges REGISTER with Digest (qop auth) and checks the answer, answers MESSAGEs 200 and keeps
 * the alarms' descriptions in the order they came.
 */
class SilentableSuperior {
  silent = false;
  readonly alarms: string[] = [];
  registrations = 0;
  /** The Contact of each REGISTER that came, and where the last came from (for TCP: gridhub's connection). */
  readonly contacts: string[] = [];
  registeredFrom: SipPeer | undefined;
  /** The largest request that came, in bytes as serialized again (the datagram, near enough). */
  largestRequest = 0;
  /** Every MANSCDP body that came in a MESSAGE. */
  onMessage: (message: ManscdpMessage) => void = () => {};
  /** Every MESSAGE that came, as it came. */
  readonly messages: SipRequest[] = [];
  /** The status a MESSAGE is answered with (200 unless told); undefined: left unanswered. */
  status: (message: ManscdpMessage) => number | undefined = () => 200;
  readonly #nonces = new NonceIssuer();
  readonly endpoint: SipEndpoint;

  constructor(transport: 'udp' | 'tcp') {
    this.endpoint = new SipEndpoint({
      host: '127.0.0.1',
      port: 0,
      udp: transport === 'udp',
      tcp: transport === 'tcp',
      limits: { maxMessageBytes: 65_536, maxHeaders: 64, maxConnections: 8, idleMs: 60_000 },
      onRequest: (request, context) => {
        if (this.silent) return;
        this.largestRequest = Math.max(this.largestRequest, serializeSipMessage(request).length);
        if (request.method === 'REGISTER') {
          this.contacts.push(request.headers.get('contact') ?? '');
          this.registeredFrom = context.peer;
          const credentials = readDigestCredentials(request.headers.get('authorization') ?? '');
          const valid =
            credentials !== undefined &&
            this.#nonces.check(credentials.nonce) === 'fresh' &&
            verifyDigest(credentials, 'REGISTER', password);
          if (!valid) {
            context.respond(
              responseTo(request, 401, 'Unauthorized', {
                headers: [
                  ['www-authenticate', digestChallenge(superiorDomain, this.#nonces.issue(), { qop: true })],
                ],
              }),
            );
            return;
          }
          if (request.headers.get('expires') !== '0') this.registrations += 1;
          context.respond(responseTo(request, 200, 'OK', { headers: [['expires', '3600']] }));
          return;
        }
        if (request.method !== 'MESSAGE') {
          context.respond(responseTo(request, 200, 'OK'));
          return;
        }
        this.messages.push(request);
        const body = readManscdp(request.body, request.headers.get('content-type'));
        const status = this.status(body);
        if (status === undefined) return;
        context.respond(responseTo(request, status));
        if (status >= 300) return;
        this.onMessage(body);
        if (body.cmdType === 'Alarm') this.alarms.push(textAt(body.body, 'AlarmDescription') ?? '');
      },
      onProblem: () => {},
      timers: { t1Ms: 100, timeoutMs: 1000 },
      logger: pino({ level: 'silent' }),
      name: 'superior',
    });
  }
}

function titled(title: string, index: number): Incident {
  return { ...intrusion(), id: `inc_test_${index}`, title };
}

describe.each(['udp', 'tcp'] as const)('the cascade when the superior goes silent, over %s', (transport) => {
  it('re-registers after missed keepalives, keeps alarms in a bounded queue and sends them in order after', async () => {
    const superior = new SilentableSuperior(transport);
    await superior.endpoint.start();
    const bus = new TypedBus<HubBusEvents>();
    const metrics = new MetricsRegistry();
    const cascade = new Gb28181Cascade({
      config: config(transport, superior.endpoint.port, {
        keepaliveSeconds: 1,
        keepaliveMissesBeforeReregister: 2,
        queueLimit: 3,
      }),
      bus,
      devices: () => devices,
      online: () => true,
      host: '127.0.0.1',
      timeZone: 'Asia/Shanghai',
      metrics,
      logger: pino({ level: 'silent' }),
      timing: { t1Ms: 100, transactionTimeoutMs: 800, retryMs: 200, maxRetryMs: 800, alarmAttempts: 2 },
    });
    running.push({ cascade });
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      bus.emit('incident:created', titled('alarm 0', 0), performance.now());
      await until(() => superior.alarms.length === 1, 'the first alarm');

      superior.silent = true;
      // Unanswered keepalives (or the alarm's attempts) end the registration; alarms wait meanwhile.
      for (let index = 1; index <= 4; index++)
        bus.emit('incident:created', titled(`alarm ${index}`, index), performance.now());
      await until(() => cascade.registration !== 'registered', 'the lost registration');
      expect(cascade.health()).toMatchObject({ state: 'down', queued: 3 });
      expect(await counter(metrics, 'gridhub_gb28181_cascade_alarms_total', { outcome: 'dropped' })).toBe(1);

      // At least one REGISTER goes unanswered before the superior is back: the retry path is taken.
      await untilAsync(
        async () =>
          (await counter(metrics, 'gridhub_gb28181_cascade_registrations_total', { result: 'timeout' })) >= 1,
        'a registration to time out',
      );
      superior.silent = false;
      await until(() => superior.alarms.length === 4, 'the queued alarms');
      // The oldest of the four waiting was dropped (the queue holds three); the rest came in order, none twice.
      expect(superior.alarms).toEqual(['alarm 0', 'alarm 2', 'alarm 3', 'alarm 4']);
      expect(superior.registrations).toBeGreaterThanOrEqual(2);
      expect(cascade.health()).toMatchObject({ state: 'up', registration: 'registered', queued: 0 });
      expect(await counter(metrics, 'gridhub_gb28181_cascade_alarms_total', { outcome: 'sent' })).toBe(4);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});

describe('the cascade in a real hub (the demo jurisdiction)', () => {
  it("answers the superior's catalog with every demo device and sends a forced door up as a device alarm", async () => {
    const superior = new SilentableSuperior('udp');
    await superior.endpoint.start();
    const file = demoConfig() as Record<string, unknown> & { outbound?: Record<string, unknown> };
    file.outbound = {
      ...(file.outbound ?? {}),
      gb28181: {
        local: { id: localId, domain: '3402000000', transport: 'udp' },
        superior: {
          id: superiorId,
          domain: superiorDomain,
          host: '127.0.0.1',
          port: superior.endpoint.port,
          password,
        },
      },
    };
    const deployment = deploymentOf(file);
    const hub = await startTestHub({ deployment });
    let gate: GateSimulator | undefined;
    try {
      const health = () =>
        hub.hub.health().components['gb28181 cascade'] as Record<string, unknown> | undefined;
      await until(() => health()?.registration === 'registered', 'the hub to register');
      const received: ManscdpMessage[] = [];
      superior.onMessage = (message) => received.push(message);
      gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
      await gate.start();
      await gate.forceDoor();
      await until(() => superior.alarms.length === 1, 'the alarm');
      expect(superior.alarms[0]).toBe('Door forced open');

      // The superior asks for the catalog: SumNum counts every demo device, the pages carry them all.
      const cascadePort = Number(health()?.port);
      const query = writeManscdp('Query', { CmdType: 'Catalog', SN: 7, DeviceID: localId });
      const answer = await superior.endpoint.request(
        {
          kind: 'request',
          method: 'MESSAGE',
          uri: `sip:${localId}@127.0.0.1:${cascadePort}`,
          headers: new SipHeaders([
            ['from', `<sip:${superiorId}@${superiorDomain}>;tag=q1`],
            ['to', `<sip:${localId}@3402000000>`],
            ['call-id', 'catalog-query-1@127.0.0.1'],
            ['cseq', '1 MESSAGE'],
            ['content-type', 'Application/MANSCDP+xml'],
          ]),
          body: query,
        },
        { transport: 'udp', address: '127.0.0.1', port: cascadePort },
      );
      expect(answer.status).toBe(200);
      const total = [...deployment.devices].length;
      const responses = () => received.filter((message) => message.root === 'Response');
      await until(
        () =>
          responses().reduce(
            (sum, page) => sum + children(child(page.body, 'DeviceList'), 'Item').length,
            0,
          ) === total,
        'every catalog page',
      );
      // Over UDP every page stays within a datagram that crosses any network unfragmented.
      expect(superior.largestRequest).toBeLessThanOrEqual(1300);
      expect(responses().length).toBeGreaterThan(1);
      expect(responses().every((page) => textAt(page.body, 'SumNum') === String(total))).toBe(true);
      const items = responses().flatMap((page) => children(child(page.body, 'DeviceList'), 'Item'));
      const gateItem = items.find((item) => textAt(item, 'Name') === '西郊1网格北门门禁');
      expect(gateItem === undefined ? undefined : textAt(gateItem, 'DeviceID')).toMatch(
        /^3402000000134\d{7}$/,
      );
      expect(gateItem === undefined ? undefined : textAt(gateItem, 'Status')).toBe('ON');
      expect(gateItem === undefined ? undefined : textAt(gateItem, 'ParentID')).toBe(localId);
      // The alarm came from the gate's own national code, as a device alarm (method 2) of priority 1 (critical).
      const alarm = received.find((message) => message.cmdType === 'Alarm');
      expect(alarm?.deviceId).toBe(gateItem === undefined ? 'no gate item' : textAt(gateItem, 'DeviceID'));
      expect(alarm === undefined ? undefined : textAt(alarm.body, 'AlarmMethod')).toBe('2');
      expect(alarm === undefined ? undefined : textAt(alarm.body, 'AlarmPriority')).toBe('1');
    } finally {
      await gate?.stop();
      await hub.stop();
      await superior.endpoint.stop();
    }
  });
});

/** A request from the superior (or whoever `from` names) to the cascade. */
function superiorRequest(
  method: string,
  port: number,
  body: Buffer,
  from = superiorId,
  extra: [string, string][] = [],
): SipRequest {
  return {
    kind: 'request',
    method,
    uri: `sip:${localId}@127.0.0.1:${port}`,
    headers: new SipHeaders([
      ['from', `<sip:${from}@${superiorDomain}>;tag=t${Math.random().toString(16).slice(2, 10)}`],
      ['to', `<sip:${localId}@3402000000>`],
      ['call-id', `${Math.random().toString(16).slice(2)}@127.0.0.1`],
      ['cseq', `1 ${method}`],
      ...(body.length === 0 ? [] : ([['content-type', 'Application/MANSCDP+xml']] as [string, string][])),
      ...extra,
    ]),
    body,
  };
}

describe("the cascade answers the superior's other requests", () => {
  it('answers DeviceInfo and DeviceStatus; SUBSCRIBE 489, BYE and NOTIFY 481; refuses a stranger and a bad body', async () => {
    const superior = new SilentableSuperior('udp');
    await superior.endpoint.start();
    const cascade = new Gb28181Cascade({
      config: config('udp', superior.endpoint.port),
      bus: new TypedBus<HubBusEvents>(),
      devices: () => devices,
      online: (deviceId) => deviceId === 'cam-gate-01',
      host: '127.0.0.1',
      timeZone: 'Asia/Shanghai',
      metrics: new MetricsRegistry(),
      logger: pino({ level: 'silent' }),
    });
    running.push({ cascade });
    const received: ManscdpMessage[] = [];
    superior.onMessage = (message) => received.push(message);
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      const peer = { transport: 'udp' as const, address: '127.0.0.1', port: cascade.port };
      const ask = (fields: Record<string, string | number>, from?: string) =>
        superior.endpoint.request(
          superiorRequest('MESSAGE', cascade.port, writeManscdp('Query', fields), from),
          peer,
        );

      expect((await ask({ CmdType: 'DeviceInfo', SN: 11, DeviceID: localId })).status).toBe(200);
      const cameraCode = cascade.nationalCodes().get('cam-gate-01') as string;
      expect((await ask({ CmdType: 'DeviceStatus', SN: 12, DeviceID: cameraCode })).status).toBe(200);
      await until(
        () => received.filter((message) => message.root === 'Response').length === 2,
        'both answers',
      );
      const info = received.find((message) => message.cmdType === 'DeviceInfo');
      expect(
        info === undefined ? undefined : [info.sn, textAt(info.body, 'Result'), textAt(info.body, 'Channel')],
      ).toEqual([11, 'OK', '3']);
      const status = received.find((message) => message.cmdType === 'DeviceStatus');
      expect(status?.deviceId).toBe(cameraCode);
      expect(status === undefined ? undefined : textAt(status.body, 'Online')).toBe('ONLINE');

      const subscribe = await superior.endpoint.request(
        superiorRequest(
          'SUBSCRIBE',
          cascade.port,
          writeManscdp('Query', { CmdType: 'Catalog', SN: 13, DeviceID: localId }),
          superiorId,
          [
            ['event', 'Catalog'],
            ['expires', '600'],
          ],
        ),
        peer,
      );
      // No event package is served: refused, rather than accepted with NOTIFYs that never come.
      expect(subscribe.status).toBe(489);
      // No dialog exists: a BYE or a NOTIFY names one that does not.
      for (const method of ['BYE', 'NOTIFY']) {
        const outside = await superior.endpoint.request(
          superiorRequest(method, cascade.port, Buffer.alloc(0), superiorId, [['event', 'Catalog']]),
          peer,
        );
        expect([method, outside.status]).toEqual([method, 481]);
      }
      expect(
        (await ask({ CmdType: 'Catalog', SN: 14, DeviceID: localId }, '34999999992000000009')).status,
      ).toBe(403);
      const garbage = await superior.endpoint.request(
        superiorRequest('MESSAGE', cascade.port, Buffer.from('<Query>')),
        peer,
      );
      expect(garbage.status).toBe(400);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});

describe('the cascade stopping while the superior never answers', () => {
  it('stops at once: the REGISTER in flight ends with the endpoint, the waiting alarm is abandoned', async () => {
    const superior = new SilentableSuperior('udp');
    superior.silent = true;
    await superior.endpoint.start();
    const metrics = new MetricsRegistry();
    const bus = new TypedBus<HubBusEvents>();
    // Default timings: a REGISTER left alone would wait 32 s for its answer.
    const cascade = new Gb28181Cascade({
      config: config('udp', superior.endpoint.port),
      bus,
      devices: () => devices,
      online: () => true,
      host: '127.0.0.1',
      timeZone: 'Asia/Shanghai',
      metrics,
      logger: pino({ level: 'silent' }),
    });
    try {
      await cascade.start();
      bus.emit('incident:created', intrusion(), performance.now());
      expect(cascade.health()).toMatchObject({ state: 'starting', registration: 'registering', queued: 1 });
      const started = Date.now();
      await cascade.stop();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(cascade.health()).toMatchObject({ state: 'down', queued: 0 });
      expect(await counter(metrics, 'gridhub_gb28181_cascade_alarms_total', { outcome: 'sent' })).toBe(0);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});

/** The simulators' own reading of a MANSCDP field (their XML, not gridhub's). */
function simText(message: { readonly text: string } | undefined, field: string): string | undefined {
  return message === undefined
    ? undefined
    : new RegExp(`<${field}>([^<]*)</${field}>`).exec(message.text)?.[1];
}

describe.each(['udp', 'tcp'] as const)(
  'the cascade against the simulated superior (simulators/gb28181), over %s',
  (transport) => {
    it('registers, serves the catalog and device info, sends the alarm, re-registers after dropped keepalives', async () => {
      const superior = new GbSuperior({ id: superiorId, domain: superiorDomain, password, timeoutMs: 5000 });
      await superior.start();
      const bus = new TypedBus<HubBusEvents>();
      const metrics = new MetricsRegistry();
      const cascade = new Gb28181Cascade({
        config: config(transport, superior.port, { keepaliveSeconds: 1, keepaliveMissesBeforeReregister: 2 }),
        bus,
        devices: () => devices,
        online: (deviceId) => deviceId === 'cam-gate-01',
        host: '127.0.0.1',
        timeZone: 'Asia/Shanghai',
        metrics,
        logger: pino({ level: 'silent' }),
        timing: { t1Ms: 100, transactionTimeoutMs: 800, retryMs: 200, maxRetryMs: 800 },
      });
      running.push({ cascade });
      try {
        await cascade.start();
        await superior.waitFor(() => superior.isRegistered(localId));
        expect(superior.registrations.map((registration) => registration.status)).toEqual([401, 200]);

        const catalog = await superior.queryCatalog(localId);
        expect(catalog.sumNum).toBe(3);
        expect(catalog.items.map((item) => item.DeviceID)).toEqual(
          devices.map((device) => cascade.nationalCodes().get(device.id)),
        );
        expect(catalog.items[0]).toMatchObject({
          Name: '西郊1网格北门摄像机',
          Status: 'ON',
          ParentID: localId,
          Longitude: '120.150000',
          Latitude: '30.250000',
        });
        // A device without a location is placed at its grid's centroid.
        expect(catalog.items[1]).toMatchObject({
          Status: 'OFF',
          Longitude: '120.150000',
          Latitude: '30.250000',
        });
        const info = await superior.queryDeviceInfo(localId);
        expect([simText(info, 'Result'), simText(info, 'Channel')]).toEqual(['OK', '3']);

        bus.emit('incident:created', intrusion(), performance.now());
        await superior.waitFor(() => superior.alarms.length === 1);
        const alarm = superior.alarms[0]?.message;
        expect(alarm?.deviceId).toBe(cascade.nationalCodes().get('cam-gate-01'));
        expect([
          simText(alarm, 'AlarmMethod'),
          simText(alarm, 'AlarmType'),
          simText(alarm, 'AlarmPriority'),
        ]).toEqual(['5', '6', '1']);

        // Keepalives unanswered twice: gridhub registers again, challenged again.
        superior.faults.dropKeepaliveAnswers = true;
        await untilAsync(
          async () =>
            (await counter(metrics, 'gridhub_gb28181_cascade_registrations_total', {
              result: 'registered',
            })) >= 2,
          'the re-registration',
        );
        superior.faults.dropKeepaliveAnswers = false;
        expect(
          await counter(metrics, 'gridhub_gb28181_cascade_keepalives_total', { result: 'unanswered' }),
        ).toBeGreaterThanOrEqual(2);

        await cascade.stop();
        expect(superior.registrations.at(-1)).toMatchObject({ status: 200, expires: 0 });
        expect(superior.isRegistered(localId)).toBe(false);
      } finally {
        await cascade.stop();
        await superior.stop();
      }
    });

    it('counts a refused registration and retries it, down meanwhile', async () => {
      const superior = new GbSuperior({
        id: superiorId,
        domain: superiorDomain,
        password,
        faults: { refuseRegistration: true },
      });
      await superior.start();
      const metrics = new MetricsRegistry();
      const cascade = new Gb28181Cascade({
        config: config(transport, superior.port),
        bus: new TypedBus<HubBusEvents>(),
        devices: () => devices,
        online: () => true,
        host: '127.0.0.1',
        timeZone: 'Asia/Shanghai',
        metrics,
        logger: pino({ level: 'silent' }),
        timing: { retryMs: 100, maxRetryMs: 300 },
      });
      running.push({ cascade });
      try {
        await cascade.start();
        await untilAsync(
          async () =>
            (await counter(metrics, 'gridhub_gb28181_cascade_registrations_total', { result: 'refused' })) >=
            2,
          'two refusals',
        );
        expect(cascade.health()).toMatchObject({
          state: 'down',
          registration: 'registering',
          lastError: '403 Forbidden',
        });
        superior.faults.refuseRegistration = false;
        await until(() => cascade.registration === 'registered', 'the registration once accepted');
        expect(cascade.health().state).toBe('up');
      } finally {
        await cascade.stop();
        await superior.stop();
      }
    });
  },
);

function cascadeFor(
  cascadeConfig: CascadeConfig,
  extra: { bus?: TypedBus<HubBusEvents>; metrics?: MetricsRegistry; host?: string } & Pick<
    ConstructorParameters<typeof Gb28181Cascade>[0],
    'timing' | 'random'
  > = {},
): Gb28181Cascade {
  const cascade = new Gb28181Cascade({
    config: cascadeConfig,
    bus: extra.bus ?? new TypedBus<HubBusEvents>(),
    devices: () => devices,
    online: () => true,
    host: extra.host ?? '127.0.0.1',
    timeZone: 'Asia/Shanghai',
    metrics: extra.metrics ?? new MetricsRegistry(),
    logger: pino({ level: 'silent' }),
    ...(extra.timing === undefined ? {} : { timing: extra.timing }),
    ...(extra.random === undefined ? {} : { random: extra.random }),
  });
  running.push({ cascade });
  return cascade;
}

/** An alarm MESSAGE's MANSCDP and the headers that tell its attempts apart. */
function alarmOf(request: SipRequest) {
  const message = readManscdp(request.body, request.headers.get('content-type'));
  return {
    description: textAt(message.body, 'AlarmDescription'),
    sn: message.sn,
    callId: request.headers.get('call-id'),
    fromTag: /tag=([^;\s]+)/.exec(request.headers.get('from') ?? '')?.[1],
    cseq: Number.parseInt(request.headers.get('cseq') ?? '', 10),
  };
}

describe('the cascade when the superior answers one alarm 500 but takes REGISTER', () => {
  it('waits longer between retries, keeps the SN and Call-ID, gives the alarm up after the re-registrations and sends the next', async () => {
    const superior = new SilentableSuperior('udp');
    const poisonAt: number[] = [];
    superior.status = (message) => {
      if (message.cmdType !== 'Alarm' || textAt(message.body, 'AlarmDescription') !== 'poison') return 200;
      poisonAt.push(Date.now());
      return 500;
    };
    await superior.endpoint.start();
    const bus = new TypedBus<HubBusEvents>();
    const metrics = new MetricsRegistry();
    // Two attempts per registration, one re-registration: four attempts in all; backoff 150 ms doubling to 600.
    const cascade = cascadeFor(config('udp', superior.endpoint.port), {
      bus,
      metrics,
      timing: { t1Ms: 100, retryMs: 150, maxRetryMs: 600, alarmAttempts: 2, alarmReregistrations: 1 },
      random: () => 0.5,
    });
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      bus.emit('incident:created', titled('poison', 1), performance.now());
      bus.emit('incident:created', titled('good', 2), performance.now());
      await until(() => superior.alarms.includes('good'), 'the alarm behind the refused one');
      // No loop: a while later the refused alarm has still been tried four times, no more.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const poison = superior.messages.map(alarmOf).filter((alarm) => alarm.description === 'poison');
      expect(poison).toHaveLength(4);
      expect(poisonAt).toHaveLength(4);
      // Each retry waited (150, 300, 600 ms with this jitter; a timer may fire a little early on a busy machine).
      for (let index = 1; index < poisonAt.length; index++)
        expect((poisonAt[index] ?? 0) - (poisonAt[index - 1] ?? 0)).toBeGreaterThanOrEqual(120);
      // One alarm tried again, not four alarms: the same SN, Call-ID and From tag, the CSeq counting up.
      expect(new Set(poison.map((alarm) => alarm.sn)).size).toBe(1);
      expect(new Set(poison.map((alarm) => alarm.callId)).size).toBe(1);
      expect(new Set(poison.map((alarm) => alarm.fromTag)).size).toBe(1);
      expect(poison.map((alarm) => alarm.cseq)).toEqual([1, 2, 3, 4]);
      expect(superior.registrations).toBe(2);
      expect(superior.alarms).toEqual(['good']);
      expect(cascade.health()).toMatchObject({ state: 'up', queued: 0 });
      const outcome = (name: string) =>
        counter(metrics, 'gridhub_gb28181_cascade_alarms_total', { outcome: name });
      expect([await outcome('sent'), await outcome('retried'), await outcome('failed')]).toEqual([1, 4, 1]);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});

describe('an alarm whose first attempt got 500', () => {
  it('is sent again as the same alarm: the same SN, Call-ID and From tag, the next CSeq', async () => {
    const superior = new SilentableSuperior('udp');
    let refused = 0;
    superior.status = (message) => (message.cmdType === 'Alarm' && refused++ === 0 ? 500 : 200);
    await superior.endpoint.start();
    const bus = new TypedBus<HubBusEvents>();
    const cascade = cascadeFor(config('udp', superior.endpoint.port), {
      bus,
      timing: { t1Ms: 100, retryMs: 100, maxRetryMs: 200 },
    });
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      bus.emit('incident:created', titled('once', 1), performance.now());
      await until(() => superior.alarms.length === 1, 'the alarm');
      const attempts = superior.messages.map(alarmOf).filter((alarm) => alarm.description === 'once');
      expect(attempts).toHaveLength(2);
      const [first, second] = attempts;
      expect([second?.sn, second?.callId, second?.fromTag, second?.cseq]).toEqual([
        first?.sn,
        first?.callId,
        first?.fromTag,
        (first?.cseq ?? 0) + 1,
      ]);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});

describe("the cascade accepts requests only from the superior's address", () => {
  it('refuses a query over UDP from another address, whatever its From says', async () => {
    // The superior is at ::1; the stranger, at 127.0.0.1, writes the superior's id in its From.
    const stranger = new SilentableSuperior('udp');
    const received: ManscdpMessage[] = [];
    stranger.onMessage = (message) => received.push(message);
    await stranger.endpoint.start();
    const cascade = cascadeFor(
      config('udp', stranger.endpoint.port, {
        superior: { id: superiorId, domain: superiorDomain, host: '::1', port: 9, password },
      }),
      { timing: { t1Ms: 100, transactionTimeoutMs: 800, retryMs: 200, maxRetryMs: 800 } },
    );
    try {
      await cascade.start();
      const answer = await stranger.endpoint.request(
        superiorRequest(
          'MESSAGE',
          cascade.port,
          writeManscdp('Query', { CmdType: 'Catalog', SN: 31, DeviceID: localId }),
        ),
        { transport: 'udp', address: '127.0.0.1', port: cascade.port },
      );
      expect(answer.status).toBe(403);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(received).toEqual([]);
    } finally {
      await cascade.stop();
      await stranger.endpoint.stop();
    }
  });

  it('over TCP, answers on the connection it opened and refuses one opened to it', async () => {
    const superior = new SilentableSuperior('tcp');
    await superior.endpoint.start();
    const stranger = new SilentableSuperior('tcp');
    await stranger.endpoint.start();
    const cascade = cascadeFor(config('tcp', superior.endpoint.port));
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      const query = () =>
        superiorRequest(
          'MESSAGE',
          cascade.port,
          writeManscdp('Query', { CmdType: 'DeviceInfo', SN: 32, DeviceID: localId }),
        );
      const own = await superior.endpoint.request(query(), superior.registeredFrom as SipPeer);
      expect(own.status).toBe(200);
      // Same address, same From: but a connection of its own, not gridhub's to its superior.
      const other = await stranger.endpoint.request(query(), {
        transport: 'tcp',
        address: '127.0.0.1',
        port: cascade.port,
      });
      expect(other.status).toBe(403);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
      await stranger.endpoint.stop();
    }
  });

  it('answers one catalog at a time and a few queries at once, refusing the others 503 with Retry-After', async () => {
    const superior = new SilentableSuperior('udp');
    // The cascade's answers (Response MESSAGEs) go unanswered while held: they stay in flight.
    let hold = true;
    superior.status = (message) => (hold && message.root === 'Response' ? undefined : 200);
    const received: ManscdpMessage[] = [];
    superior.onMessage = (message) => received.push(message);
    await superior.endpoint.start();
    const metrics = new MetricsRegistry();
    const cascade = cascadeFor(config('udp', superior.endpoint.port), {
      metrics,
      timing: { t1Ms: 100, transactionTimeoutMs: 1000 },
    });
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      const peer = { transport: 'udp' as const, address: '127.0.0.1', port: cascade.port };
      const ask = (fields: Record<string, string | number>) =>
        superior.endpoint.request(
          superiorRequest('MESSAGE', cascade.port, writeManscdp('Query', fields)),
          peer,
        );
      expect((await ask({ CmdType: 'Catalog', SN: 41, DeviceID: localId })).status).toBe(200);
      const second = await ask({ CmdType: 'Catalog', SN: 42, DeviceID: localId });
      expect([second.status, second.headers.get('retry-after')]).toEqual([503, '5']);
      for (const sn of [43, 44, 45])
        expect((await ask({ CmdType: 'DeviceInfo', SN: sn, DeviceID: localId })).status).toBe(200);
      expect((await ask({ CmdType: 'DeviceStatus', SN: 46, DeviceID: localId })).status).toBe(503);

      hold = false;
      await untilAsync(
        async () =>
          (await counter(metrics, 'gridhub_gb28181_cascade_queries_total', { cmd: 'DeviceInfo' })) === 3 &&
          (await counter(metrics, 'gridhub_gb28181_cascade_queries_total', { cmd: 'Catalog' })) === 1,
        'the answers in flight to finish',
      );
      expect((await ask({ CmdType: 'Catalog', SN: 47, DeviceID: localId })).status).toBe(200);
      await until(() => received.some((message) => message.sn === 47), 'the second catalog');
      const answered = new Set(received.filter((message) => message.root === 'Response').map((m) => m.sn));
      expect([...answered].sort()).toEqual([41, 43, 44, 45, 47]);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});

describe('the REGISTER Contact', () => {
  it('refuses to start on a wildcard address without local.host, and names local.host when given', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const cascadeConfig = config('udp', 9);
      const { host: _bound, ...local } = cascadeConfig.local;
      const cascade = cascadeFor({ ...cascadeConfig, local }, { host });
      await expect(cascade.start()).rejects.toThrow(/outbound\.gb28181\.local\.host/);
      expect(cascade.port).toBe(0);
    }
    const superior = new SilentableSuperior('udp');
    await superior.endpoint.start();
    // The hub on every address, the cascade on the one given.
    const cascade = cascadeFor(config('udp', superior.endpoint.port), { host: '0.0.0.0' });
    try {
      await cascade.start();
      await until(() => cascade.registration === 'registered', 'the registration');
      expect(superior.contacts.at(-1)).toBe(`<sip:${localId}@127.0.0.1:${cascade.port}>`);
    } finally {
      await cascade.stop();
      await superior.endpoint.stop();
    }
  });
});
