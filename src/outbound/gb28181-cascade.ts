import { lookup } from 'node:dns/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Counter, Gauge } from 'prom-client';
import type { TypedBus } from '../core/bus.ts';
import type { ComponentHealth, ComponentState } from '../core/component.ts';
import { type HubBusEvents, whenStored } from '../core/events.ts';
import type { Incident } from '../core/incident.ts';
import type { GridEntry } from '../core/jurisdiction.ts';
import { wallClockText } from '../core/wall-clock.ts';
import { alarmCodeFor, type GbEdition, priorityForSeverity } from '../ingest/gb28181/alarm-codes.ts';
import {
  type ManscdpFields,
  type ManscdpMessage,
  manscdpContentType,
  readManscdp,
  writeManscdp,
} from '../ingest/gb28181/manscdp.ts';
import { authorizationFor } from '../net/sip/sip-digest.ts';
import { SipEndpoint, type SipPeer, SipTimeoutError } from '../net/sip/sip-endpoint.ts';
import {
  newCallId,
  newTag,
  readNameAddr,
  readSipUri,
  responseTo,
  SipHeaders,
  type SipRequest,
  type SipResponse,
  serializeSipMessage,
  splitHeaderValues,
} from '../net/sip/sip-message.ts';
import { uriHost } from '../net/uri-host.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import { assignNationalCodes, type CodedDevice } from './gb28181-codes.ts';
import type { CascadeAlarmConfig, CascadeConfig } from './outbound-schema.ts';

/**
 * gridhub as a GB/T 28181 lower platform (下级平台): it registers to the superior platform (上级平台) with Digest,
 * keeps the registration alive, answers the superior's catalog, device-info and device-status queries with its
 * devices under national codes, and sends every new incident up as a Notify Alarm MESSAGE.
 *
 * Nothing accepted is lost while the process runs: alarms raised while the superior is unreachable wait in a
 * bounded queue (the oldest dropped past it, counted) and go, in order, once registered again. The queue lives in
 * memory: the store's DeliveryOutbox is the webhooks' (its resume drops entries of unknown webhooks), so alarms
 * queued at a stop are logged as abandoned.
 */

export const cascadeRegistrationResults = ['registered', 'refused', 'timeout', 'unregistered'] as const;
export const cascadeAlarmOutcomes = ['sent', 'retried', 'failed', 'dropped'] as const;

export const cascadeMetrics = declareMetrics((metrics) => ({
  registrations: metrics.counter({
    name: 'gridhub_gb28181_cascade_registrations_total',
    help: 'REGISTER attempts to the superior platform by result: registered, refused (a final non-2xx), timeout, unregistered (Expires: 0 at stop).',
    labelNames: ['result'] as const,
    shownAtZero: { result: cascadeRegistrationResults },
  }),
  keepalives: metrics.counter({
    name: 'gridhub_gb28181_cascade_keepalives_total',
    help: 'Keepalive MESSAGEs to the superior by result: answered (2xx) or unanswered (timeout or error).',
    labelNames: ['result'] as const,
    shownAtZero: { result: ['answered', 'unanswered'] },
  }),
  alarms: metrics.counter({
    name: 'gridhub_gb28181_cascade_alarms_total',
    help: 'Alarm MESSAGEs to the superior by outcome: sent (2xx), retried (an attempt timed out or got 408/5xx), failed (refused by the superior with a 4xx, or given up after alarmReregistrations), dropped (queue full).',
    labelNames: ['outcome'] as const,
    shownAtZero: { outcome: cascadeAlarmOutcomes },
  }),
  queued: metrics.gauge({
    name: 'gridhub_gb28181_cascade_alarms_queued',
    help: 'Alarms waiting to go to the superior (while it is unreachable, or behind the one in flight).',
  }),
  registered: metrics.gauge({
    name: 'gridhub_gb28181_cascade_registered',
    help: '1 while gridhub is registered to its superior platform, else 0.',
  }),
  queries: metrics.counter({
    name: 'gridhub_gb28181_cascade_queries_total',
    help: "The superior's MESSAGE queries answered, by CmdType (Catalog, DeviceInfo, DeviceStatus, other).",
    labelNames: ['cmd'] as const,
  }),
}));

/** What the cascade reads of a device: a RegisteredDevice fits. */
export interface CascadeDevice {
  readonly id: string;
  readonly name: string;
  readonly adapter: { readonly id: string; readonly vendor: string; readonly models: readonly string[] };
  readonly grid: GridEntry;
  readonly location?: readonly [number, number];
  readonly disabled?: boolean;
  /** Its national code, when the configuration gives one (`gb28181.id`); one is generated otherwise. */
  readonly gb28181?: { readonly id: string };
}

export interface CascadeTiming {
  /** SIP Timer T1 and the transaction timeout (ms); defaults 500 and 32000 (RFC 3261). */
  readonly t1Ms?: number;
  readonly transactionTimeoutMs?: number;
  /**
   * First wait after a failed registration (or a failed attempt of an alarm), doubled per failure up to maxRetryMs
   * (default 60000), jittered ±50%. Default 2000.
   */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** Attempts of one alarm (timeouts, 5xx) before the superior counts as unreachable and gridhub re-registers. */
  readonly alarmAttempts?: number;
  /**
   * Re-registrations one alarm may cause (each after alarmAttempts failed attempts); when its attempts fail once
   * more after them, it is counted failed and dropped, and the next alarm goes. Default 2.
   */
  readonly alarmReregistrations?: number;
  /** Over TCP, the wait between the unregistration's answer and closing the connection. Default 250. */
  readonly closeLingerMs?: number;
}

export interface Gb28181CascadeOptions {
  /** The parsed `outbound.gb28181`. */
  readonly config: CascadeConfig;
  readonly bus: TypedBus<HubBusEvents>;
  /** Every device of the hub (DeviceRegistry.all); read at each catalog and when codes are recomputed. */
  readonly devices: () => Iterable<CascadeDevice>;
  /** Whether a device is online now (LivenessMonitor.status(id)?.online === true). */
  readonly online: (deviceId: string) => boolean;
  /** Where to bind when local.host is not set: the hub's address. */
  readonly host: string;
  /** The hub's time zone (`hub.timezone`): GB/T 28181 times are wall-clock times without one. */
  readonly timeZone: string;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  readonly timing?: CascadeTiming;
  /** Jitter source, [0, 1); tests fix it. */
  readonly random?: () => number;
}

/** What an incident is called in a Notify Alarm: its method, type and priority. */
export interface OutboundAlarm {
  readonly method: number;
  readonly alarmType?: number;
  readonly eventType?: number;
  /** 1 (一级警情, most urgent) … 4. */
  readonly priority: number;
}

/**
 * The alarm an incident goes up as: the config's override for its category, else the GB tables
 * (src/ingest/gb28181/alarm-codes.ts: by event type, then by category, then 7 其他报警) for the superior's edition;
 * the priority from the override, else the incident's severity.
 */
export function outboundAlarmFor(
  incident: {
    readonly category: string;
    readonly severity: string;
    readonly event: { readonly type: string };
  },
  overrides: Readonly<Record<string, CascadeAlarmConfig>> = {},
  edition: GbEdition = '2016',
): OutboundAlarm {
  const override = overrides[incident.category];
  const code = override ?? alarmCodeFor(incident.event.type, incident.category, edition);
  const priority =
    override?.priority ?? priorityForSeverity[incident.severity as keyof typeof priorityForSeverity] ?? 4;
  return {
    method: code.method,
    ...(code.alarmType === undefined ? {} : { alarmType: code.alarmType }),
    ...(code.eventType === undefined || edition === '2016' ? {} : { eventType: code.eventType }),
    priority,
  };
}

/** Largest UDP datagram a catalog page may take: below a 1500-byte MTU with IP/UDP headers and tunnel overhead. */
export const maxUdpMessageBytes = 1300;
/** A TCP page may be larger; still bounded so the superior's parser is not handed one huge body. */
const maxTcpMessageBytes = 16_000;

type Answer = (status: number, reason?: string, extra?: Parameters<typeof responseTo>[3]) => void;

type RegistrationState = 'registering' | 'registered' | 'unregistered';

/**
 * An alarm waiting to go, with what stays the same across its attempts: its SN, Call-ID and From tag (only the CSeq
 * counts up, RFC 3261 §8.1.3.5), so a superior whose 200 was lost sees the same alarm again, not a second one.
 */
interface QueuedAlarm {
  readonly incidentId: string;
  readonly fields: ManscdpFields;
  readonly sn: number;
  readonly callId: string;
  readonly fromTag: string;
  cseq: number;
  /** Attempts that timed out or got 408/5xx, in all. */
  failedAttempts: number;
  /** Of them, since the last re-registration it caused. */
  failedInCycle: number;
  reregistrations: number;
}

/** The fixed parts of an out-of-dialog MESSAGE; fresh ones for each request but an alarm's retries. */
interface MessageIds {
  readonly callId: string;
  readonly fromTag: string;
  readonly cseq: number;
}

/** Addresses that name no interface: bound there, the cascade would tell the superior to send its queries nowhere. */
const wildcardHosts: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0']);

/** Query answers (each a Response MESSAGE or a catalog's pages) being sent at once, at most. */
export const maxQueryAnswersInFlight = 4;
/** The Retry-After of a query refused 503 while the cascade is busy answering others. */
const busyRetryAfterSeconds = 5;

/** Node's IPv4-mapped IPv6 address as the IPv4 address it is. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The Chinese part of a bilingual name ("西郊2网格东门 Xijiao east gate" → "西郊2网格东门"); the name when not bilingual. */
export function catalogName(name: string): string {
  const firstAscii = name.search(/\s+[A-Za-z]/);
  const startsChinese = (name.codePointAt(0) ?? 0) > 0x7f;
  return (startsChinese && firstAscii > 0 ? name.slice(0, firstAscii) : name).slice(0, 64);
}

/** A grid's centroid: the mean of its outer ring's vertices (the closing one not counted twice). */
export function gridCentroid(grid: GridEntry): readonly [number, number] | undefined {
  const ring = grid.boundary[0];
  if (ring === undefined || ring.length === 0) return undefined;
  const first = ring[0];
  const last = ring[ring.length - 1];
  const closed = ring.length > 1 && first?.[0] === last?.[0] && first?.[1] === last?.[1];
  const points = closed ? ring.slice(0, -1) : ring;
  const sum = points.reduce((total, [lon, lat]) => [total[0] + lon, total[1] + lat], [0, 0]);
  return [sum[0] / points.length, sum[1] / points.length];
}

function coordinate(value: number): string {
  return value.toFixed(6);
}

export class Gb28181Cascade {
  readonly name = 'gb28181 cascade';
  readonly #options: Gb28181CascadeOptions;
  readonly #config: CascadeConfig;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #metrics: {
    registrations: Counter<'result'>;
    keepalives: Counter<'result'>;
    alarms: Counter<'outcome'>;
    queued: Gauge;
    registered: Gauge;
    queries: Counter<'cmd'>;
  };
  readonly #transport: 'udp' | 'tcp';
  readonly #superior: SipPeer;
  #endpoint: SipEndpoint | undefined;
  #running = false;
  #state: RegistrationState = 'unregistered';
  #lastError: string | undefined;
  #registeredAt: string | undefined;
  /** REGISTERs share one Call-ID and From tag, CSeq counting up (RFC 3261 §10.2). */
  readonly #registerCallId: string;
  readonly #registerTag = newTag();
  #registerCSeq = 0;
  #sn = 0;
  #failures = 0;
  #misses = 0;
  #keepaliveInFlight = false;
  #refreshTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #registering: Promise<void> | undefined;
  readonly #queue: QueuedAlarm[] = [];
  #pumping: Promise<void> | undefined;
  #unsubscribe: (() => void)[] = [];
  #codes: Map<string, string> | undefined;
  readonly #tasks = new Set<Promise<unknown>>();
  /** Ends an alarm's wait between attempts at stop. */
  #stopping = new AbortController();
  /** The superior's addresses (superior.host resolved at start and at each registration): UDP requests must come from one. */
  #superiorAddresses: ReadonlySet<string> = new Set();
  #catalogInFlight = false;
  #answersInFlight = 0;

  constructor(options: Gb28181CascadeOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#log = options.logger.child({ ns: 'gb28181-cascade' });
    this.#metrics = cascadeMetrics(options.metrics);
    this.#transport = options.config.local.transport;
    const { superior } = options.config;
    this.#superior = {
      transport: superior.transport ?? this.#transport,
      address: superior.host,
      port: superior.port,
    };
    this.#registerCallId = newCallId(options.config.local.host ?? options.host);
  }

  /** The local SIP port (0 before start). */
  get port(): number {
    return this.#endpoint?.port ?? 0;
  }

  get registration(): RegistrationState {
    return this.#state;
  }

  health(): ComponentHealth {
    const state: ComponentState = !this.#running
      ? 'down'
      : this.#state === 'registered'
        ? 'up'
        : this.#registeredAt === undefined && this.#failures === 0
          ? 'starting'
          : 'down';
    return {
      state,
      registration: this.#state,
      superior: `${this.#config.superior.id}@${this.#superior.address}:${this.#superior.port}/${this.#superior.transport}`,
      port: this.port,
      queued: this.#queue.length,
      ...(this.#registeredAt === undefined ? {} : { registeredAt: this.#registeredAt }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  async start(): Promise<void> {
    if (this.#running) return;
    const { local } = this.#config;
    const timing = this.#options.timing ?? {};
    const host = local.host ?? this.#options.host;
    // The bound address is the REGISTER's Contact, where the superior sends its queries: a wildcard is nowhere.
    if (wildcardHosts.has(host.trim()))
      throw new Error(
        `outbound.gb28181: the cascade would bind ${host} and give it to the superior as its Contact, where the superior cannot send queries; set outbound.gb28181.local.host to this machine's address the superior reaches`,
      );
    this.#stopping = new AbortController();
    await this.#resolveSuperior();
    const endpoint = new SipEndpoint({
      host,
      port: local.port,
      udp: this.#transport === 'udp',
      tcp: this.#transport === 'tcp',
      limits: { maxMessageBytes: 65_536, maxHeaders: 64, maxConnections: 8, idleMs: 300_000 },
      onRequest: (request, context) => this.#onRequest(request, context.peer, context.respond),
      onProblem: (problem) => {
        if (this.#throttle.admit('problem') >= 0)
          this.#log.warn({ problem: problem.problem, kind: problem.kind }, 'malformed SIP input ignored');
      },
      timers: {
        ...(timing.t1Ms === undefined ? {} : { t1Ms: timing.t1Ms }),
        ...(timing.transactionTimeoutMs === undefined ? {} : { timeoutMs: timing.transactionTimeoutMs }),
      },
      logger: this.#options.logger,
      name: 'gb28181-cascade',
      portSetting: 'outbound.gb28181.local.port',
    });
    this.#endpoint = endpoint;
    await endpoint.start();
    this.#running = true;
    this.#state = 'registering';
    this.#metrics.registered.set(0);
    const { bus } = this.#options;
    this.#unsubscribe = [
      // An incident leaves the hub for good only once committed (whenStored), as webhooks do.
      bus.on('incident:created', (incident, _receivedAt, stored) =>
        whenStored(stored, () => this.#enqueue(incident)),
      ),
      bus.on('device:changed', () => {
        this.#codes = undefined;
      }),
    ];
    this.#log.info(
      { port: endpoint.port, transport: this.#transport, superior: this.health().superior },
      'GB/T 28181 cascade started; registering to the superior platform',
    );
    this.#registerSoon(0);
  }

  /** Unregisters (Expires: 0, best effort, a few seconds at most), then closes the endpoint. */
  async stop(): Promise<void> {
    if (!this.#running) {
      // A start that threw may have left its endpoint half-started.
      await this.#endpoint?.stop();
      this.#endpoint = undefined;
      return;
    }
    this.#running = false;
    this.#stopping.abort();
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    this.#clearTimers();
    const wasRegistered = this.#state === 'registered';
    this.#state = 'unregistered';
    this.#metrics.registered.set(0);
    // A REGISTER or an alarm in flight is not waited for here: closing the endpoint below ends its transaction.
    if (wasRegistered) {
      try {
        const response = await this.#sendRegister(0, 4000);
        if (response.status >= 200 && response.status < 300)
          this.#metrics.registrations.labels('unregistered').inc();
        // Over TCP the connection closes next: a superior that reads the close with its answer's transaction still
        // open may count that transaction failed (SIPp does). A moment lets it finish.
        if (this.#transport === 'tcp') await delay(this.#options.timing?.closeLingerMs ?? 250);
      } catch (error) {
        this.#log.info({ error: (error as Error).message }, 'unregistration not answered');
      }
    }
    await this.#endpoint?.stop();
    this.#endpoint = undefined;
    await Promise.allSettled([this.#registering, this.#pumping, ...this.#tasks]);
    clearTimeout(this.#retryTimer);
    if (this.#queue.length > 0)
      this.#log.warn({ abandoned: this.#queue.length }, 'alarms for the superior platform abandoned at stop');
    this.#queue.length = 0;
    this.#metrics.queued.set(0);
  }

  /** Every device's national code (explicit or generated), recomputed after a device change. */
  nationalCodes(): ReadonlyMap<string, string> {
    if (this.#codes !== undefined) return this.#codes;
    const coded: CodedDevice[] = [];
    for (const device of this.#options.devices()) {
      const explicitCode = device.gb28181?.id;
      coded.push({
        id: device.id,
        adapterId: device.adapter.id,
        ...(explicitCode === undefined ? {} : { explicitCode }),
      });
    }
    const { local, codePrefix, networkDigit } = this.#config;
    this.#codes = assignNationalCodes(
      coded,
      { codePrefix: codePrefix ?? local.id.slice(0, 10), networkDigit },
      [local.id],
    );
    return this.#codes;
  }

  // ——— Registration ———

  #clearTimers(): void {
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#retryTimer);
    clearInterval(this.#keepaliveTimer);
    this.#refreshTimer = undefined;
    this.#retryTimer = undefined;
    this.#keepaliveTimer = undefined;
  }

  #registerSoon(delayMs: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#running && this.#registering === undefined) {
        this.#registering = this.#register().finally(() => {
          this.#registering = undefined;
        });
      }
    }, delayMs);
  }

  /** Jittered exponential backoff: retryMs·2^(failures-1), at most maxRetryMs, times a factor in [0.5, 1.5). */
  #retryDelay(): number {
    const timing = this.#options.timing ?? {};
    const base = Math.min(
      (timing.retryMs ?? 2000) * 2 ** Math.max(0, this.#failures - 1),
      timing.maxRetryMs ?? 60_000,
    );
    return Math.round(base * (0.5 + (this.#options.random ?? Math.random)()));
  }

  #lost(reason: string): void {
    const was = this.#state;
    this.#state = this.#running ? 'registering' : 'unregistered';
    this.#metrics.registered.set(0);
    clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#lastError = reason;
    if (was === 'registered') this.#log.warn({ reason }, 'lost the superior platform; registering again');
    if (this.#running) this.#registerSoon(0);
  }

  async #register(): Promise<void> {
    if (this.#state !== 'registered') this.#state = 'registering';
    const expires = this.#config.registerExpiresSeconds;
    await this.#resolveSuperior();
    if (!this.#running) return;
    let response: SipResponse;
    try {
      response = await this.#sendRegister(expires);
    } catch (error) {
      return this.#registrationFailed('timeout', (error as Error).message);
    }
    if (!this.#running) return;
    if (response.status < 200 || response.status >= 300)
      return this.#registrationFailed('refused', `${response.status} ${response.reason}`);
    // A superior granting (nearly) nothing would have gridhub register in a tight loop: 30 s at least.
    const granted = Math.max(30, grantedExpires(response, this.#contactUri()) ?? expires);
    this.#failures = 0;
    this.#misses = 0;
    this.#lastError = undefined;
    const first = this.#state !== 'registered';
    this.#state = 'registered';
    this.#registeredAt = new Date().toISOString();
    this.#metrics.registrations.labels('registered').inc();
    this.#metrics.registered.set(1);
    // Refreshed at two thirds of what was granted, so a lost refresh has a third of the time to be retried.
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(
      () => this.#registerSoon(0),
      Math.max(1, Math.floor((granted * 2000) / 3)),
    );
    if (first) {
      this.#log.info({ expires: granted }, 'registered to the superior platform');
      this.#startKeepalives();
    }
    this.#pump();
  }

  #registrationFailed(result: 'refused' | 'timeout', reason: string): void {
    this.#metrics.registrations.labels(result).inc();
    this.#failures += 1;
    this.#lastError = reason;
    if (this.#state === 'registered') {
      this.#state = 'registering';
      this.#metrics.registered.set(0);
      clearInterval(this.#keepaliveTimer);
      this.#keepaliveTimer = undefined;
    }
    if (!this.#running) return;
    const delay = this.#retryDelay();
    if (this.#throttle.admit('register') >= 0)
      this.#log.warn(
        { reason, failures: this.#failures, retryInMs: delay },
        'registration to the superior failed',
      );
    this.#registerSoon(delay);
  }

  /** One REGISTER, answering one Digest challenge (401 WWW-Authenticate or 407 Proxy-Authenticate). */
  async #sendRegister(expires: number, timeoutMs?: number): Promise<SipResponse> {
    const endpoint = this.#requireEndpoint();
    const { local, superior } = this.#config;
    const uri = `sip:${superior.id}@${superior.domain}`;
    const build = (authorization?: readonly [string, string]): SipRequest => {
      this.#registerCSeq += 1;
      const headers = new SipHeaders([
        ['from', `<sip:${local.id}@${local.domain}>;tag=${this.#registerTag}`],
        ['to', `<sip:${local.id}@${local.domain}>`],
        ['call-id', this.#registerCallId],
        ['cseq', `${this.#registerCSeq} REGISTER`],
        ['contact', this.#contact()],
        ['max-forwards', '70'],
        ['user-agent', 'gridhub'],
        ['expires', String(expires)],
        ...(authorization === undefined ? [] : [authorization]),
      ]);
      return { kind: 'request', method: 'REGISTER', uri, headers, body: Buffer.alloc(0) };
    };
    const options = timeoutMs === undefined ? {} : { timeoutMs };
    const first = await endpoint.request(build(), this.#superior, options);
    if (first.status !== 401 && first.status !== 407) return first;
    const challenge = first.headers.get(first.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
    const value =
      challenge === undefined
        ? undefined
        : authorizationFor(
            challenge,
            { method: 'REGISTER', uri },
            { username: local.id, password: superior.password },
          );
    if (value === undefined) return first;
    const header = first.status === 401 ? 'authorization' : 'proxy-authorization';
    return await endpoint.request(build([header, value]), this.#superior, options);
  }

  #contact(): string {
    return `<${this.#contactUri()}>`;
  }

  #contactUri(): string {
    return `sip:${this.#config.local.id}@${this.#hostInUri()}:${this.#requireEndpoint().port}`;
  }

  /** The bound address as a URI writes it: an IPv6 address in brackets. */
  #hostInUri(): string {
    return uriHost(this.#requireEndpoint().host);
  }

  /** superior.host's addresses now; the last known kept when the lookup fails (the REGISTER then fails too). */
  async #resolveSuperior(): Promise<void> {
    try {
      const found = await lookup(this.#superior.address, { all: true, verbatim: true });
      this.#superiorAddresses = new Set(found.map((entry) => plainAddress(entry.address)));
    } catch (error) {
      if (this.#throttle.admit('lookup') >= 0)
        this.#log.warn(
          { host: this.#superior.address, error: (error as Error).message },
          "the superior's address does not resolve",
        );
    }
  }

  /**
   * Whether a request came from the superior: over UDP from one of its addresses (any port), over TCP on the
   * connection the cascade opened to it. A From header is anyone's to write; an address is not.
   */
  #fromSuperior(peer: SipPeer): boolean {
    if (peer.transport === 'tcp')
      return peer.address === this.#superior.address && peer.port === this.#superior.port;
    return this.#superiorAddresses.has(plainAddress(peer.address));
  }

  #requireEndpoint(): SipEndpoint {
    if (this.#endpoint === undefined) throw new SipTimeoutError('the cascade is not running');
    return this.#endpoint;
  }

  // ——— Keepalive ———

  #startKeepalives(): void {
    clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = setInterval(() => this.#keepalive(), this.#config.keepaliveSeconds * 1000);
    // The first at once: the superior learns the platform is up without waiting an interval.
    this.#keepalive();
  }

  #keepalive(): void {
    if (this.#keepaliveInFlight || this.#state !== 'registered') return;
    this.#keepaliveInFlight = true;
    const body = writeManscdp('Notify', {
      CmdType: 'Keepalive',
      SN: this.#nextSn(),
      DeviceID: this.#config.local.id,
      Status: 'OK',
    });
    // Answered within an interval or counted missed: keepalives never pile up.
    const timeoutMs = Math.min(
      this.#config.keepaliveSeconds * 1000,
      this.#options.timing?.transactionTimeoutMs ?? 32_000,
    );
    this.#track(
      this.#sendMessage(body, timeoutMs)
        .then((response) => response.status >= 200 && response.status < 300)
        .catch(() => false)
        .then((answered) => {
          this.#keepaliveInFlight = false;
          if (!this.#running) return;
          this.#metrics.keepalives.labels(answered ? 'answered' : 'unanswered').inc();
          if (answered) {
            this.#misses = 0;
            return;
          }
          this.#misses += 1;
          if (this.#misses >= this.#config.keepaliveMissesBeforeReregister && this.#state === 'registered')
            this.#lost(`${this.#misses} keepalives unanswered`);
        }),
    );
  }

  #track(task: Promise<unknown>): void {
    const tracked = task
      .catch((error: unknown) => this.#log.error({ error: (error as Error).message }, 'cascade task failed'))
      .finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }

  #nextSn(): number {
    this.#sn = (this.#sn % 0x7fff_ffff) + 1;
    return this.#sn;
  }

  /**
   * A MESSAGE to the superior outside any dialog: a new Call-ID and From tag each (RFC 3261 §8.1.1), but for an
   * alarm's retries, which keep them.
   */
  async #sendMessage(body: Buffer, timeoutMs?: number, ids?: MessageIds): Promise<SipResponse> {
    const endpoint = this.#requireEndpoint();
    return await endpoint.request(
      this.#messageRequest(body, ids),
      this.#superior,
      timeoutMs === undefined ? {} : { timeoutMs },
    );
  }

  #messageRequest(body: Buffer, ids?: MessageIds): SipRequest {
    const { local, superior } = this.#config;
    const headers = new SipHeaders([
      ['from', `<sip:${local.id}@${local.domain}>;tag=${ids?.fromTag ?? newTag()}`],
      ['to', `<sip:${superior.id}@${superior.domain}>`],
      ['call-id', ids?.callId ?? newCallId(this.#hostInUri())],
      ['cseq', `${ids?.cseq ?? 1} MESSAGE`],
      ['max-forwards', '70'],
      ['user-agent', 'gridhub'],
      ['content-type', manscdpContentType],
    ]);
    return {
      kind: 'request',
      method: 'MESSAGE',
      uri: `sip:${superior.id}@${superior.domain}`,
      headers,
      body,
    };
  }

  // ——— Alarms ———

  #enqueue(incident: Incident): void {
    if (!this.#running) return;
    this.#queue.push({
      incidentId: incident.id,
      fields: this.#alarmFields(incident),
      sn: this.#nextSn(),
      callId: newCallId(this.#hostInUri()),
      fromTag: newTag(),
      cseq: 0,
      failedAttempts: 0,
      failedInCycle: 0,
      reregistrations: 0,
    });
    while (this.#queue.length > this.#config.queueLimit) {
      const dropped = this.#queue.shift() as QueuedAlarm;
      this.#metrics.alarms.labels('dropped').inc();
      if (this.#throttle.admit('dropped') >= 0)
        this.#log.warn(
          { incidentId: dropped.incidentId },
          'alarm queue for the superior full; oldest dropped',
        );
    }
    this.#metrics.queued.set(this.#queue.length);
    this.#pump();
  }

  /** The Notify Alarm of an incident (GB/T 28181-2016 §A.2.5), its SN given when queued. */
  #alarmFields(incident: Incident): ManscdpFields {
    const code = outboundAlarmFor(incident, this.#config.categories, this.#config.edition);
    const device = this.#deviceOf(incident.device.id);
    const deviceCode = this.nationalCodes().get(incident.device.id) ?? this.#config.local.id;
    const position = device === undefined ? undefined : positionOf(device);
    const occurred = Date.parse(incident.event.occurredAt);
    return {
      DeviceID: deviceCode,
      AlarmPriority: code.priority,
      AlarmMethod: code.method,
      AlarmTime: wallClockText(
        Number.isNaN(occurred) ? Date.parse(incident.createdAt) : occurred,
        this.#options.timeZone,
      ),
      AlarmDescription: incident.title.slice(0, 256),
      ...(position === undefined
        ? {}
        : { Longitude: coordinate(position[0]), Latitude: coordinate(position[1]) }),
      ...(code.alarmType === undefined
        ? {}
        : {
            Info: {
              AlarmType: code.alarmType,
              ...(code.eventType === undefined ? {} : { AlarmTypeParam: { EventType: code.eventType } }),
            },
          }),
    };
  }

  #deviceOf(deviceId: string): CascadeDevice | undefined {
    for (const device of this.#options.devices()) if (device.id === deviceId) return device;
    return undefined;
  }

  /** Sends the queue's alarms one at a time, in order, while registered; one pump at a time. */
  #pump(): void {
    if (this.#pumping !== undefined || this.#state !== 'registered' || this.#queue.length === 0) return;
    this.#pumping = this.#drain().finally(() => {
      this.#pumping = undefined;
      // Alarms that came while the last one was answered.
      if (this.#running) this.#pump();
    });
  }

  async #drain(): Promise<void> {
    const timing = this.#options.timing ?? {};
    const attempts = timing.alarmAttempts ?? 3;
    const reregistrations = timing.alarmReregistrations ?? 2;
    while (this.#running && this.#state === 'registered' && this.#queue.length > 0) {
      const alarm = this.#queue[0] as QueuedAlarm;
      if (alarm.failedAttempts > 0) {
        // A retry waits, longer each time: a superior answering 5xx is not asked again at once.
        const waited = await this.#pause(this.#backoff(alarm.failedAttempts));
        if (!waited || !this.#running || this.#state !== 'registered') return;
        // Dropped meanwhile (the queue full): the next one.
        if (this.#queue[0] !== alarm) continue;
      }
      alarm.cseq += 1;
      const body = writeManscdp('Notify', { CmdType: 'Alarm', SN: alarm.sn, ...alarm.fields });
      let outcome: 'sent' | 'failed' | 'retry';
      let detail: string | undefined;
      try {
        const response = await this.#sendMessage(body, undefined, alarm);
        detail = `${response.status} ${response.reason}`;
        outcome =
          response.status >= 200 && response.status < 300
            ? 'sent'
            : response.status === 408 || response.status >= 500
              ? 'retry'
              : 'failed';
      } catch (error) {
        detail = (error as Error).message;
        outcome = 'retry';
      }
      if (!this.#running) return;
      if (outcome === 'retry') {
        this.#metrics.alarms.labels('retried').inc();
        // Dropped while in flight (the queue full): nothing more to do for it.
        if (!this.#queue.includes(alarm)) continue;
        alarm.failedAttempts += 1;
        alarm.failedInCycle += 1;
        if (alarm.failedInCycle < attempts) continue;
        alarm.failedInCycle = 0;
        if (alarm.reregistrations >= reregistrations) {
          // Registering again did not help: the superior takes REGISTER but not this alarm. The next one goes.
          this.#settle(alarm, 'failed', `not accepted after ${alarm.failedAttempts} attempts: ${detail}`);
          continue;
        }
        alarm.reregistrations += 1;
        // The alarm stays first in the queue: it goes once the superior is back.
        this.#lost(`alarm not answered after ${attempts} attempts: ${detail}`);
        return;
      }
      this.#settle(alarm, outcome, detail);
    }
  }

  /** An alarm done with: sent, or refused and not retried. */
  #settle(alarm: QueuedAlarm, outcome: 'sent' | 'failed', detail: string | undefined): void {
    // By identity: the queue may have dropped its oldest (this one) while it was in flight.
    const index = this.#queue.indexOf(alarm);
    if (index !== -1) this.#queue.splice(index, 1);
    this.#metrics.queued.set(this.#queue.length);
    this.#metrics.alarms.labels(outcome).inc();
    if (outcome === 'failed' && this.#throttle.admit('failed') >= 0)
      this.#log.warn({ incidentId: alarm.incidentId, answer: detail }, 'the superior refused an alarm');
  }

  /** Jittered exponential backoff of an alarm's retries: retryMs·2^(failed-1), at most maxRetryMs, ×[0.5, 1.5). */
  #backoff(failed: number): number {
    const timing = this.#options.timing ?? {};
    const base = Math.min(
      (timing.retryMs ?? 2000) * 2 ** Math.max(0, failed - 1),
      timing.maxRetryMs ?? 60_000,
    );
    return Math.round(base * (0.5 + (this.#options.random ?? Math.random)()));
  }

  /** Waits `ms`; false when the cascade stopped meanwhile. */
  async #pause(ms: number): Promise<boolean> {
    try {
      await delay(ms, undefined, { signal: this.#stopping.signal });
      return true;
    } catch {
      return false;
    }
  }

  // ——— The superior's requests ———

  #onRequest(request: SipRequest, peer: SipPeer, respond: (response: SipResponse) => void): void {
    const fromUser = readSipUri(readNameAddr(request.headers.get('from') ?? '').uri)?.user;
    const answer: Answer = (status, reason, extra) =>
      respond(responseTo(request, status, reason, { toTag: newTag(), ...extra }));
    // Only the superior talks to this endpoint: its address (a From header is anyone's to write) and its id.
    // Anyone else is refused without a look at the body.
    if (!this.#fromSuperior(peer) || fromUser !== this.#config.superior.id) {
      if (this.#throttle.admit('stranger') >= 0)
        this.#log.warn(
          { method: request.method, peer: `${peer.address}:${peer.port}/${peer.transport}`, from: fromUser },
          'a SIP request not from the superior refused',
        );
      answer(403, 'Forbidden');
      return;
    }
    const handler = this.#requestHandlers[request.method];
    if (handler !== undefined) {
      handler(request, answer);
      return;
    }
    this.#log.debug({ method: request.method, peer: peer.address }, 'SIP method not supported');
    answer(405, 'Method Not Allowed', {
      headers: [['allow', Object.keys(this.#requestHandlers).join(', ')]],
    });
  }

  /** What the cascade answers the superior, by method. It opens no dialog and keeps no subscription. */
  readonly #requestHandlers: Readonly<Record<string, (request: SipRequest, answer: Answer) => void>> = {
    OPTIONS: (_request, answer) => answer(200, 'OK'),
    MESSAGE: (request, answer) => this.#onMessage(request, answer),
    // No event package is served (alarms go as MESSAGE, the catalog answers a query): 489, not a 200 that
    // promises NOTIFYs that never come (RFC 6665 §4.2.1.1).
    SUBSCRIBE: (_request, answer) => answer(489, 'Bad Event'),
    // No dialog exists to end or to notify in (RFC 3261 §15.1.2, RFC 6665 §4.1.3).
    BYE: (_request, answer) => answer(481, 'Call/Transaction Does Not Exist'),
    NOTIFY: (_request, answer) => answer(481, 'Subscription Does Not Exist'),
    // Live video through gridhub is not offered.
    INVITE: (_request, answer) => answer(488, 'Not Acceptable Here'),
  };

  #onMessage(request: SipRequest, answer: Answer): void {
    let message: ManscdpMessage;
    try {
      message = readManscdp(request.body, request.headers.get('content-type'));
    } catch (error) {
      if (this.#throttle.admit('manscdp') >= 0)
        this.#log.warn({ problem: (error as Error).message }, "the superior's MESSAGE body is not MANSCDP");
      answer(400, 'Bad Request');
      return;
    }
    const replies: Readonly<Record<string, () => ManscdpFields[]>> = {
      Catalog: () => this.#catalogPages(message),
      DeviceInfo: () => [this.#deviceInfo(message)],
      DeviceStatus: () => [this.#deviceStatus(message)],
    };
    const reply = message.root === 'Query' ? replies[message.cmdType] : undefined;
    if (reply === undefined) {
      answer(200, 'OK');
      if (message.root === 'Query') this.#metrics.queries.labels('other').inc();
      return;
    }
    // Bounded: one catalog (a whole paged list) at a time, a few answers in all. A query that would go past is
    // refused 503 with Retry-After, so the superior asks again later rather than wait for pages that never come.
    const catalog = message.cmdType === 'Catalog';
    if ((catalog && this.#catalogInFlight) || this.#answersInFlight >= maxQueryAnswersInFlight) {
      if (this.#throttle.admit('busy') >= 0)
        this.#log.warn({ cmd: message.cmdType, sn: message.sn }, 'a query refused: answering others');
      answer(503, 'Service Unavailable', { headers: [['retry-after', String(busyRetryAfterSeconds)]] });
      return;
    }
    // 200 first, then the answer as a MESSAGE of its own (GB/T 28181 §9.5: query, 200, response, 200).
    answer(200, 'OK');
    this.#answersInFlight += 1;
    if (catalog) this.#catalogInFlight = true;
    this.#track(
      this.#sendReplies(reply(), message.cmdType).finally(() => {
        this.#answersInFlight -= 1;
        if (catalog) this.#catalogInFlight = false;
      }),
    );
  }

  async #sendReplies(pages: readonly ManscdpFields[], cmdType: string): Promise<void> {
    for (const page of pages) {
      if (!this.#running) return;
      const body = writeManscdp('Response', page);
      // One retry: a page lost on UDP is retransmitted by the transaction; a second try covers a busy superior.
      for (let attempt = 1; attempt <= 2; attempt++) {
        const response = await this.#sendMessage(body).catch(() => undefined);
        if (response !== undefined && response.status < 300) break;
      }
    }
    this.#metrics.queries.labels(cmdType).inc();
  }

  #catalogItems(deviceId: string): ManscdpFields[] {
    const codes = this.nationalCodes();
    const { local } = this.#config;
    const items: ManscdpFields[] = [];
    for (const device of this.#options.devices()) {
      const code = codes.get(device.id);
      if (code === undefined) continue;
      if (deviceId !== local.id && deviceId !== code) continue;
      items.push(this.#catalogItem(device, code));
    }
    return items;
  }

  #catalogItem(device: CascadeDevice, code: string): ManscdpFields {
    const { local } = this.#config;
    const position = positionOf(device);
    const community = device.grid.chain[1]?.name ?? device.grid.ref.name;
    return {
      DeviceID: code,
      Name: catalogName(device.name),
      Manufacturer: device.adapter.vendor.slice(0, 64),
      Model: (device.adapter.models[0] ?? device.adapter.id).slice(0, 64),
      Owner: catalogName(community),
      CivilCode: this.#civilCode(),
      Address: catalogName(device.grid.ref.name),
      Parental: 0,
      ParentID: local.id,
      SafetyWay: 0,
      RegisterWay: 1,
      Secrecy: 0,
      Status: device.disabled !== true && this.#options.online(device.id) ? 'ON' : 'OFF',
      ...(position === undefined
        ? {}
        : { Longitude: coordinate(position[0]), Latitude: coordinate(position[1]) }),
    };
  }

  #civilCode(): string {
    return this.#config.civilCode ?? (this.#config.codePrefix ?? this.#config.local.id).slice(0, 6);
  }

  /**
   * The catalog as Response pages: SumNum the total, each page's DeviceList Num its own count, as many items per page
   * as keep the whole SIP message under maxUdpMessageBytes on UDP (at least one item each).
   */
  #catalogPages(query: ManscdpMessage): ManscdpFields[] {
    const items = this.#catalogItems(query.deviceId);
    const limit = this.#transport === 'udp' ? maxUdpMessageBytes : maxTcpMessageBytes;
    const page = (list: readonly ManscdpFields[]): ManscdpFields => ({
      CmdType: 'Catalog',
      SN: query.sn,
      DeviceID: query.deviceId,
      SumNum: items.length,
      DeviceList: { attrs: { Num: String(list.length) }, items: list, itemName: 'Item' },
    });
    if (items.length === 0) return [page([])];
    const pages: ManscdpFields[] = [];
    let current: ManscdpFields[] = [];
    for (const item of items) {
      const candidate = [...current, item];
      if (current.length > 0 && this.#messageSize(page(candidate)) > limit) {
        pages.push(page(current));
        current = [item];
      } else current = candidate;
    }
    pages.push(page(current));
    return pages;
  }

  /** The serialized size of a Response MESSAGE carrying `fields`, with the Via the endpoint adds. */
  #messageSize(fields: ManscdpFields): number {
    const viaAllowance = 120;
    return serializeSipMessage(this.#messageRequest(writeManscdp('Response', fields))).length + viaAllowance;
  }

  #deviceInfo(query: ManscdpMessage): ManscdpFields {
    const { local } = this.#config;
    let channels = 0;
    for (const _code of this.nationalCodes().values()) channels += 1;
    return {
      CmdType: 'DeviceInfo',
      SN: query.sn,
      DeviceID: query.deviceId,
      Result: query.deviceId === local.id ? 'OK' : 'ERROR',
      DeviceName: 'gridhub',
      Manufacturer: 'gridhub',
      Model: 'gridhub platform',
      Firmware: '0.1.0',
      Channel: channels,
    };
  }

  #deviceStatus(query: ManscdpMessage): ManscdpFields {
    const { local } = this.#config;
    const deviceId = [...this.nationalCodes()].find(([, code]) => code === query.deviceId)?.[0];
    const online = query.deviceId === local.id || (deviceId !== undefined && this.#options.online(deviceId));
    const known = query.deviceId === local.id || deviceId !== undefined;
    return {
      CmdType: 'DeviceStatus',
      SN: query.sn,
      DeviceID: query.deviceId,
      Result: known ? 'OK' : 'ERROR',
      Online: online ? 'ONLINE' : 'OFFLINE',
      Status: online ? 'OK' : 'ERROR',
      Encode: 'ON',
      Record: 'OFF',
      DeviceTime: wallClockText(Date.now(), this.#options.timeZone),
    };
  }
}

/** The device's own location, else its grid's centroid. */
function positionOf(device: CascadeDevice): readonly [number, number] | undefined {
  return device.location ?? gridCentroid(device.grid);
}

/**
 * The registration the superior granted (RFC 3261 §10.2.4): the `expires` parameter of our own binding in its Contact
 * (the one whose URI is `contactUri`, or the only one), else its Expires header.
 */
export function grantedExpires(response: SipResponse, contactUri?: string): number | undefined {
  const contacts = response.headers
    .getAll('contact')
    .flatMap((value) => splitHeaderValues(value))
    .map((value) => readNameAddr(value));
  const own = contactUri === undefined ? undefined : readSipUri(contactUri);
  const sameBinding = (uri: string): boolean => {
    const other = readSipUri(uri);
    return (
      own !== undefined &&
      other !== undefined &&
      other.user === own.user &&
      other.host.toLowerCase() === own.host.toLowerCase() &&
      (other.port ?? 5060) === (own.port ?? 5060)
    );
  };
  const binding =
    contacts.find((contact) => sameBinding(contact.uri)) ?? (contacts.length === 1 ? contacts[0] : undefined);
  const param = binding?.params.get('expires')?.trim();
  if (param !== undefined && /^\d+$/.test(param)) return Number(param);
  const header = response.headers.get('expires')?.trim();
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}
