import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ComponentHealth } from '../../core/component.ts';
import type {
  CommandChannel,
  Connector,
  ConnectorRefusal,
  FrameHandler,
  RefusalHandler,
} from '../../core/connector.ts';
import type { ResolvedDevice } from '../../core/device.ts';
import type { RefusalReason } from '../../core/refusals.ts';
import type { DeviceChannel, TopicGrammar } from '../../core/topics.ts';
import { wallClockIso, wallClockText } from '../../core/wall-clock.ts';
import { isJpeg } from '../../net/jpeg.ts';
import {
  digestChallenge,
  NonceIssuer,
  readDigestCredentials,
  verifyDigest,
} from '../../net/sip/sip-digest.ts';
import {
  SipEndpoint,
  type SipInputProblem,
  type SipPeer,
  type SipRequestContext,
} from '../../net/sip/sip-endpoint.ts';
import {
  newCallId,
  newTag,
  readNameAddr,
  readSipUri,
  responseTo,
  type SipHeaderList,
  SipHeaders,
  type SipRequest,
} from '../../net/sip/sip-message.ts';
import { SourceBuckets } from '../../net/source-buckets.ts';
import { uriHost } from '../../net/uri-host.ts';
import { type Logger, LogThrottle } from '../../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { DeviceHttpRoute } from '../device-http-listener.ts';
import type { DeviceActivity } from '../device-ingest.ts';
import {
  type CatalogItem,
  ManscdpError,
  type ManscdpFields,
  type ManscdpMessage,
  manscdpContentType,
  readAlarm,
  readCatalogResponse,
  readDeviceStatus,
  readKeepalive,
  readManscdp,
  readResult,
  writeManscdp,
} from './manscdp.ts';
import { channelKinds, nationalCodePattern, readNationalCode } from './national-code.ts';
import { PendingAnswers, QueryTimeout } from './pending-answers.ts';
import { type Registration, type RegistrationChange, Registrations } from './registrations.ts';

/** The server's settings (`receivers.gb28181`; see config/schema.ts for each one's meaning). */
export interface Gb28181Settings {
  readonly port: number;
  readonly host?: string;
  readonly udp: boolean;
  readonly tcp: boolean;
  readonly serverId: string;
  readonly domain: string;
  readonly registration: {
    readonly minExpiresSeconds: number;
    readonly maxExpiresSeconds: number;
    readonly perMinute: number;
    readonly burst: number;
  };
  readonly messagesPerSecond: number;
  readonly maxMessageBytes: number;
  readonly maxConnections: number;
  readonly idleSeconds: number;
  readonly queryTimeoutSeconds: number;
  readonly catalogRefreshSeconds: number;
  readonly adoptChannels: boolean;
  readonly subscribeAlarms: boolean;
  readonly charset: 'GB2312' | 'UTF-8';
  readonly publicHost?: string;
  readonly maxChannels: number;
}

/** What the server reads of the fleet: devices by id and by national code (DeviceRegistry). */
export interface GbDevices {
  get(id: string): (ResolvedDevice & { readonly disabled?: boolean }) | undefined;
  byNationalCode(code: string): (ResolvedDevice & { readonly disabled?: boolean }) | undefined;
}

/** A channel a device's catalog lists that no gridhub device names yet, for the hub to make a device of. */
export interface DiscoveredChannel {
  /** The gridhub device whose catalog lists it. */
  readonly parentId: string;
  readonly code: string;
  readonly name: string;
  /** [lon, lat] from the catalog, when it gave a real position. */
  readonly location?: readonly [number, number];
}

export interface Gb28181ServerOptions {
  readonly settings: Gb28181Settings;
  /** Where to bind when the settings name no host: the hub's address. */
  readonly host: string;
  readonly topics: TopicGrammar;
  readonly devices: GbDevices;
  readonly onMessage: FrameHandler;
  readonly refuse: RefusalHandler;
  /** Liveness: a channel is heard whenever its device's keepalive says it is on. */
  readonly activity: DeviceActivity;
  /** Makes a device of a channel the catalog lists (`adoptChannels`); resolves to its id, undefined if refused. */
  readonly adopt?: (channel: DiscoveredChannel) => Promise<string | undefined>;
  /**
   * Where devices upload the snapshots the hub asks for (GB/T 28181-2022 SnapShotConfig): the device HTTP listener's
   * base URL as devices reach it, with `route` registered on it; undefined when it is off (no snapshots then).
   */
  readonly uploadBase?: () => string | undefined;
  /** The hub's time zone: devices' clocks carry none (`hub.timezone`). */
  readonly timeZone: string;
  readonly now?: () => number;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

const registrationResults = [
  'registered',
  'refreshed',
  'replaced',
  'unregistered',
  'expired',
  'challenged',
  'refused',
  'too_brief',
] as const;
type RegistrationResult = (typeof registrationResults)[number];
const gbLimitReasons = ['register_rate', 'message_rate'] as const;
type GbLimitReason = (typeof gbLimitReasons)[number];

export const gb28181Metrics = declareMetrics((metrics) => ({
  registrations: metrics.counter({
    name: 'gridhub_gb28181_registrations_total',
    help: 'GB/T 28181 REGISTER outcomes: registered (new), refreshed, replaced (from another address), unregistered (Expires 0), expired (not refreshed in time), challenged (401 sent), refused (403: unknown device, wrong digest, disabled), too_brief (423).',
    labelNames: ['result'] as const,
    shownAtZero: { result: registrationResults },
  }),
  limits: metrics.counter({
    name: 'gridhub_gb28181_limits_total',
    help: 'GB/T 28181 requests over an address’s rate, answered 503: register_rate (registrations.perMinute), message_rate (messagesPerSecond).',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: gbLimitReasons },
  }),
  messages: metrics.counter({
    name: 'gridhub_gb28181_messages_total',
    help: 'MANSCDP messages devices sent the hub, by command type (Keepalive, Alarm, Catalog…; other for the rest).',
    labelNames: ['cmd'] as const,
  }),
  queries: metrics.counter({
    name: 'gridhub_gb28181_queries_total',
    help: 'Queries and commands the hub sent devices, by command type and outcome: answered, timeout (no whole answer in queryTimeoutSeconds), refused (a SIP error), unreachable (no SIP answer).',
    labelNames: ['cmd', 'result'] as const,
  }),
  registered: metrics.gauge({
    name: 'gridhub_gb28181_registered_devices',
    help: 'GB/T 28181 devices registered to the hub now.',
  }),
}));

const elementName = z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/);

/** What the adapter's command encoder gives for a GB/T 28181 device: a MANSCDP command, as data. */
export const gbCommandRequest = z.strictObject({
  requestId: z.string().min(1).max(64),
  cmdType: z.enum(['DeviceControl', 'DeviceConfig']),
  // A value, or one level of elements (2022's ResetAlarm names what it resets in <Info><AlarmMethod>…).
  fields: z.record(
    elementName,
    z.union([
      z.string().max(256),
      z.number(),
      z.record(elementName, z.union([z.string().max(256), z.number()])),
    ]),
  ),
  /** Commands a device carries out without a Response (TeleBoot): its 200 is the answer. */
  noResponse: z.boolean().optional(),
});

/** How far a device's own clock may stray before the hub's time names its event (the device's is kept beside). */
const clockWindow = { aheadMs: 5 * 60_000, behindMs: 24 * 3600_000 } as const;

/** The alarm subscription's lifetime; it is renewed at four fifths of it. */
const alarmSubscriptionSeconds = 3600;

/** How often registrations are checked for their expiry and catalogs for their refresh. */
const sweepEveryMs = 5_000;

/**
 * The GB/T 28181 SIP server of the hub's domain: NVRs, cameras and alarm hosts register to it (digest, per device),
 * keep alive with MESSAGE Keepalive, and report alarms with MESSAGE (or NOTIFY in an alarm subscription). The hub
 * asks each registered device for its info and catalog, adopts the channels the catalog lists as cameras in their
 * grids, and sends the adapter's commands as MESSAGE DeviceControl. Each message becomes a JSON frame of the topic
 * grammar for the gb28181 adapter (`events` for alarms, `heartbeat` for keepalives, `status` on registration and
 * its end, `replies` for command results), answered 200 once the hub has committed it.
 */
export class Gb28181Server implements Connector {
  readonly name = 'gb28181';
  readonly kind = 'gb28181 sip server (udp+tcp)';
  readonly commands: CommandChannel;
  readonly #options: Gb28181ServerOptions;
  readonly #settings: Gb28181Settings;
  readonly #log: Logger;
  readonly #logThrottle = new LogThrottle();
  readonly #metrics: ReturnType<typeof gb28181Metrics>;
  readonly #endpoint: SipEndpoint;
  readonly #nonces: NonceIssuer;
  readonly #registrations = new Registrations();
  readonly #answers = new PendingAnswers();
  readonly #now: () => number;
  /** When each registered device's catalog is next asked for. */
  readonly #catalogDue = new Map<string, number>();
  /** When each registered device's alarm subscription is next renewed. */
  readonly #subscriptionDue = new Map<string, number>();
  /** Set by stop(): no new task starts (a registration's follow-ups, a sweep) once the server is stopping. */
  #stopping = false;
  /** Per registered device: the channels its last catalog said are on, heard with each of its keepalives. */
  readonly #channelsOn = new Map<string, readonly string[]>();
  /** The hub's SNs: each query and command has its own, for the device's Response to name. */
  #sn = Math.floor(Math.random() * 100_000);
  #sweep: NodeJS.Timeout | undefined;
  /** Snapshots asked for and not yet uploaded, by session id (the capability in the upload URL). */
  readonly #uploads = new Map<string, SnapshotWait>();
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: Gb28181ServerOptions) {
    this.#options = options;
    this.#settings = options.settings;
    this.#log = options.logger.child({ ns: 'gb28181' });
    this.#metrics = gb28181Metrics(options.metrics);
    this.#now = options.now ?? Date.now;
    const { registration, messagesPerSecond } = options.settings;
    this.#rates = {
      register_rate: {
        buckets: new SourceBuckets({ perSecond: registration.perMinute / 60, burst: registration.burst }),
        retryAfter: '60',
      },
      message_rate: {
        buckets: new SourceBuckets({
          perSecond: messagesPerSecond,
          burst: Math.max(1, Math.ceil(messagesPerSecond * 5)),
        }),
        retryAfter: '5',
      },
    };
    this.#nonces = new NonceIssuer({ now: this.#now });
    const settings = options.settings;
    this.#endpoint = new SipEndpoint({
      name: 'gb28181',
      host: settings.host ?? options.host,
      port: settings.port,
      udp: settings.udp,
      tcp: settings.tcp,
      limits: {
        maxMessageBytes: settings.maxMessageBytes,
        maxHeaders: 64,
        maxConnections: settings.maxConnections,
        idleMs: settings.idleSeconds * 1000,
      },
      onRequest: (request, context) => this.#onRequest(request, context),
      onProblem: (problem) => this.#onProblem(problem),
      logger: this.#log,
    });
    this.commands = {
      publish: (address, payload, timeoutMs) => this.#command(address, payload, timeoutMs),
      isConnected: (deviceId) => this.registrationOf(deviceId) !== undefined,
      disconnect: (deviceId) => this.#end(deviceId, 'unregistered'),
    };
  }

  /** The UDP and TCP port bound; 0 before start. */
  get port(): number {
    return this.#endpoint.port;
  }

  health(): ComponentHealth {
    return {
      ...this.#endpoint.health(),
      registered: this.#registrations.size,
      pendingQueries: this.#answers.size,
    };
  }

  async start(): Promise<void> {
    this.#stopping = false;
    await this.#endpoint.start();
    this.#sweep = setInterval(() => this.#sweepOnce(), sweepEveryMs);
    this.#sweep.unref();
    this.#log.info(
      { port: this.port, serverId: this.#settings.serverId, domain: this.#settings.domain },
      'GB/T 28181 SIP server listening',
    );
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#answers.cancel(new Error('the GB/T 28181 server stopped'));
    for (const wait of this.#uploads.values()) wait.fail(new Error('the GB/T 28181 server stopped'));
    // The endpoint first: it fails the hub's requests still waiting for a device, so no task waits out its time-out.
    await this.#endpoint.stop();
    await Promise.allSettled([...this.#inFlight]);
    this.#registrations.clear();
    this.#catalogDue.clear();
    this.#subscriptionDue.clear();
    this.#channelsOn.clear();
    this.#metrics.registered.set(0);
  }

  /** The registration a device is reached through: its own, or its parent's for a channel. */
  registrationOf(deviceId: string): Registration | undefined {
    const own = this.#registrations.get(deviceId);
    if (own !== undefined) return own;
    const parent = this.#options.devices.get(deviceId)?.gb28181?.parent;
    return parent === undefined ? undefined : this.#registrations.get(parent);
  }

  // ---- requests from devices ----

  /** Each SIP method's handler; a method not listed is answered 405 with what is allowed. */
  readonly #methods: Readonly<Record<string, (request: SipRequest, context: SipRequestContext) => void>> = {
    REGISTER: (request, context) => this.#register(request, context),
    MESSAGE: (request, context) => this.#message(request, context),
    NOTIFY: (request, context) => this.#message(request, context),
    OPTIONS: (request, context) =>
      context.respond(responseTo(request, 200, 'OK', { headers: [['allow', allowed]] })),
    // The SIP media session (live view over RTP) is out of scope: live view and clips use the device's RTSP stream.
    INVITE: (request, context) => context.respond(responseTo(request, 488, 'Not Acceptable Here')),
    BYE: (request, context) => context.respond(responseTo(request, 481, 'Call/Transaction Does Not Exist')),
    CANCEL: (request, context) =>
      context.respond(responseTo(request, 481, 'Call/Transaction Does Not Exist')),
  };

  #onRequest(request: SipRequest, context: SipRequestContext): void {
    const handler = this.#methods[request.method];
    if (handler !== undefined) {
      handler(request, context);
      return;
    }
    context.respond(responseTo(request, 405, 'Method Not Allowed', { headers: [['allow', allowed]] }));
  }

  #onProblem(problem: SipInputProblem): void {
    this.#refuse({
      source: `gb28181/${problem.peer.transport}`,
      deviceId: null,
      reason: problem.kind === 'oversized' ? 'oversized' : 'malformed',
      problems: [problem.problem],
      payloadBytes: problem.bytes,
    });
  }

  /** Per limit: the bucket of each source address, and how long a refused sender is asked to wait. */
  readonly #rates: Readonly<
    Record<GbLimitReason, { readonly buckets: SourceBuckets; readonly retryAfter: string }>
  >;

  /** True when the request's address is over its rate: answered 503 with Retry-After, and counted. */
  #overRate(request: SipRequest, context: SipRequestContext, reason: GbLimitReason): boolean {
    const rate = this.#rates[reason];
    if (rate.buckets.admit(context.peer.address)) return false;
    this.#metrics.limits.labels(reason).inc();
    context.respond(
      responseTo(request, 503, 'Service Unavailable', { headers: [['retry-after', rate.retryAfter]] }),
    );
    return true;
  }

  #register(request: SipRequest, context: SipRequestContext): void {
    if (this.#overRate(request, context, 'register_rate')) return;
    const code = userOf(request.headers.get('from'));
    if (code === undefined || !nationalCodePattern.test(code)) {
      this.#refusedRegister(request, context, null, 400, 'Bad Request', 'malformed', [
        'From: no 20-digit national code',
      ]);
      return;
    }
    const authorization = request.headers.get('authorization');
    if (authorization === undefined) {
      this.#challenge(request, context, false);
      return;
    }
    const credentials = readDigestCredentials(authorization);
    if (
      credentials === undefined ||
      credentials.username !== code ||
      credentials.realm !== this.#settings.domain
    ) {
      this.#refusedRegister(request, context, null, 403, 'Forbidden', 'unauthenticated', [
        'Authorization: not a digest for this device and domain',
      ]);
      return;
    }
    const nonce = this.#nonces.check(credentials.nonce, context.peer.address);
    if (nonce !== 'fresh') {
      // A stale nonce (or one from before a restart) is no failure: the device answers the new challenge.
      this.#challenge(request, context, nonce === 'stale');
      return;
    }
    const device = this.#options.devices.byNationalCode(code);
    const password = device?.adapter.transport === 'gb28181' ? device.gb28181?.password : undefined;
    if (device === undefined || password === undefined) {
      this.#refusedRegister(request, context, null, 403, 'Forbidden', 'unauthenticated', [
        'no GB/T 28181 device registers with this national code',
      ]);
      return;
    }
    if (!verifyDigest(credentials, request.method, password)) {
      this.#refusedRegister(request, context, device.id, 403, 'Forbidden', 'unauthenticated', [
        'the digest does not match the device’s password',
      ]);
      return;
    }
    if (device.disabled === true) {
      this.#refusedRegister(request, context, device.id, 403, 'Forbidden', 'unauthenticated', [
        'the device is disabled',
      ]);
      return;
    }
    this.#admitRegistration(request, context, device.id, code);
  }

  #admitRegistration(request: SipRequest, context: SipRequestContext, deviceId: string, code: string): void {
    const { minExpiresSeconds, maxExpiresSeconds } = this.#settings.registration;
    const contact = request.headers.get('contact');
    const asked = expiresOf(request, contact);
    if (asked === 0) {
      this.#end(deviceId, 'unregistered');
      context.respond(responseTo(request, 200, 'OK', { headers: this.#dateHeader() }));
      return;
    }
    if (asked < minExpiresSeconds) {
      this.#metrics.registrations.labels('too_brief').inc();
      context.respond(
        responseTo(request, 423, 'Interval Too Brief', {
          headers: [['min-expires', String(minExpiresSeconds)]],
        }),
      );
      return;
    }
    const granted = Math.min(asked, maxExpiresSeconds);
    const now = this.#now();
    const contactUri = contact === undefined ? undefined : readNameAddr(contact).uri;
    const { registration, change } = this.#registrations.register(
      {
        deviceId,
        code,
        peer: context.peer,
        contact: contactUri ?? `sip:${code}@${context.peer.address}:${context.peer.port}`,
        edition: request.headers.get('x-gb-ver')?.trim().startsWith('3') ? '2022' : '2016',
      },
      now,
      granted * 1000,
    );
    this.#metrics.registrations.labels(change).inc();
    this.#metrics.registered.set(this.#registrations.size);
    context.respond(
      responseTo(request, 200, 'OK', {
        headers: [
          // The binding as granted: the Contact's expires is the one a device reads first (RFC 3261 §10.2.4).
          ...(contactUri === undefined ? [] : ([['contact', `<${contactUri}>;expires=${granted}`]] as const)),
          ['expires', String(granted)],
          ...this.#dateHeader(),
        ],
      }),
    );
    if (change === 'refreshed') return;
    this.#log.info({ deviceId, transport: context.peer.transport, change }, 'GB/T 28181 device registered');
    this.#track(this.#welcome(registration, change));
  }

  /** The address devices reach the hub at, for the Contact of its requests: `publicHost`, else the bound one. */
  #contactHost(): string {
    return this.#settings.publicHost ?? this.#endpoint.host;
  }

  /** The Date header GB/T 28181 devices set their clocks from: the hub's wall clock, to the millisecond. */
  #dateHeader(): SipHeaderList {
    return [['date', wallClockText(this.#now(), this.#options.timeZone, true)]];
  }

  #challenge(request: SipRequest, context: SipRequestContext, stale: boolean): void {
    this.#metrics.registrations.labels('challenged').inc();
    context.respond(
      responseTo(request, 401, 'Unauthorized', {
        headers: [
          [
            'www-authenticate',
            digestChallenge(this.#settings.domain, this.#nonces.issue(context.peer.address), { stale }),
          ],
        ],
      }),
    );
  }

  #refusedRegister(
    request: SipRequest,
    context: SipRequestContext,
    deviceId: string | null,
    status: number,
    reason: string,
    refusal: RefusalReason,
    problems: readonly string[],
  ): void {
    this.#metrics.registrations.labels('refused').inc();
    context.respond(responseTo(request, status, reason));
    this.#refuse({
      source: `gb28181/${context.peer.transport}`,
      deviceId,
      reason: refusal,
      problems,
      payloadBytes: request.body.length,
    });
  }

  /** What follows a new registration: the device's status, its info and catalog, its alarm subscription. */
  async #welcome(registration: Registration, change: RegistrationChange): Promise<void> {
    if (this.#stopping) return;
    await this.#frame(registration.deviceId, 'status', { state: 'online' }, this.#now());
    if (change === 'replaced')
      this.#answers.cancel(new Error('the device registered again'), registration.deviceId);
    this.#catalogDue.set(registration.deviceId, 0);
    await Promise.allSettled([
      this.#query(registration, 'DeviceInfo').then((answers) => {
        const info = answers[0];
        if (info !== undefined)
          this.#log.info({ deviceId: registration.deviceId, ...deviceInfoOf(info) }, 'device info');
      }),
      this.#deviceStatus(registration),
      this.#settings.subscribeAlarms ? this.#subscribeAlarms(registration) : undefined,
      this.#options.devices.get(registration.deviceId)?.gb28181?.guard === true
        ? this.#arm(registration)
        : undefined,
    ]);
    this.#sweepOnce();
  }

  /**
   * Asks the device's status (DeviceStatus: online, working, recording, encoding, each alarm input's duty) and hands
   * it to the adapter as a heartbeat; asked at registration and with every catalog refresh.
   */
  async #deviceStatus(registration: Registration): Promise<void> {
    const [answer] = await this.#query(registration, 'DeviceStatus');
    if (answer === undefined) return;
    const status = readDeviceStatus(answer);
    const receivedAt = this.#now();
    await this.#frame(
      registration.deviceId,
      'heartbeat',
      {
        seq: answer.sn,
        time: new Date(receivedAt).toISOString(),
        cmdType: 'DeviceStatus',
        online: status.online,
        status: status.status,
        ...(status.record === undefined ? {} : { record: status.record }),
        ...(status.encode === undefined ? {} : { encode: status.encode }),
        ...(status.alarmStatus.length === 0
          ? {}
          : {
              alarmStatus: status.alarmStatus
                .filter((input) => ['ONDUTY', 'OFFDUTY', 'ALARM'].includes(input.status))
                .slice(0, 256),
            }),
      },
      receivedAt,
    );
  }

  #message(request: SipRequest, context: SipRequestContext): void {
    const { peer } = context;
    if (this.#overRate(request, context, 'message_rate')) return;
    const code = userOf(request.headers.get('from'));
    const device = code === undefined ? undefined : this.#options.devices.byNationalCode(code);
    const registration = device === undefined ? undefined : this.#registrations.get(device.id);
    // MANSCDP carries no credential of its own: a message counts only from where its device registered.
    if (registration === undefined || !fromRegisteredPeer(registration.peer, peer)) {
      context.respond(responseTo(request, 403, 'Forbidden'));
      this.#refuse({
        source: `gb28181/${peer.transport}`,
        deviceId: registration === undefined ? null : (device?.id ?? null),
        reason: 'unauthenticated',
        problems: [
          registration === undefined
            ? `${request.method} from a device that is not registered`
            : `${request.method} from an address or port the device did not register from`,
        ],
        payloadBytes: request.body.length,
      });
      return;
    }
    let message: ManscdpMessage;
    try {
      message = readManscdp(
        request.body,
        request.headers.get('content-type'),
        this.#settings.maxMessageBytes,
      );
    } catch (error) {
      if (!(error instanceof ManscdpError)) throw error;
      context.respond(responseTo(request, 400, 'Bad Request'));
      this.#refuse({
        source: `gb28181/${peer.transport}`,
        deviceId: registration.deviceId,
        reason: 'malformed',
        problems: [error.problem],
        payloadBytes: request.body.length,
      });
      return;
    }
    const handler = this.#messageHandlers[`${message.root}/${message.cmdType}`];
    this.#metrics.messages.labels(handler === undefined ? 'other' : message.cmdType).inc();
    const answer = (status: number, reason: string) => context.respond(responseTo(request, status, reason));
    let done: Promise<void> | undefined;
    try {
      done = (handler ?? this.#otherMessage)(registration, message, this.#now());
    } catch (error) {
      // The typed readers refuse a message whose fields break the standard (a priority of 9, a date of nonsense).
      if (!(error instanceof ManscdpError)) throw error;
      answer(400, 'Bad Request');
      this.#refuse({
        source: `gb28181/${peer.transport}`,
        deviceId: registration.deviceId,
        reason: 'malformed',
        problems: [error.problem],
        payloadBytes: request.body.length,
      });
      return;
    }
    if (done === undefined) {
      answer(200, 'OK');
      return;
    }
    // Answered once what it carried is committed: a device whose message was not sends it again.
    this.#track(
      done.then(
        () => answer(200, 'OK'),
        (error: unknown) => {
          this.#warn(
            'commit',
            { deviceId: registration.deviceId, error: (error as Error).message },
            'not committed',
          );
          answer(500, 'Server Internal Error');
        },
      ),
    );
  }

  /** Per `<Root>/<CmdType>`: what a device's message does. A promise: the message is answered once it settles. */
  readonly #messageHandlers: Readonly<
    Record<
      string,
      (registration: Registration, message: ManscdpMessage, receivedAt: number) => Promise<void> | undefined
    >
  > = {
    'Notify/Keepalive': (registration, message, receivedAt) =>
      this.#keepalive(registration, message, receivedAt),
    'Notify/Alarm': (registration, message, receivedAt) => this.#alarm(registration, message, receivedAt),
    'Response/Catalog': (registration, message) => this.#response(registration, message),
    'Response/DeviceInfo': (registration, message) => this.#response(registration, message),
    'Response/DeviceStatus': (registration, message) => this.#response(registration, message),
    'Response/DeviceControl': (registration, message) => this.#response(registration, message),
    'Response/DeviceConfig': (registration, message) => this.#response(registration, message),
    // A catalog change the device notifies by itself: ask for the whole catalog again.
    'Notify/Catalog': (registration) => {
      this.#catalogDue.set(registration.deviceId, 0);
      return undefined;
    },
  };

  /** A message the hub does not act on (MediaStatus, a vendor's own): answered 200 and counted as other. */
  readonly #otherMessage = (): undefined => undefined;

  #response(registration: Registration, message: ManscdpMessage): undefined {
    if (!this.#answers.answer(registration.deviceId, message)) {
      this.#warn(
        'unasked',
        { deviceId: registration.deviceId, cmdType: message.cmdType },
        'an answer nothing waits for',
      );
    }
    return undefined;
  }

  #keepalive(registration: Registration, message: ManscdpMessage, receivedAt: number): Promise<void> {
    for (const channelId of this.#channelsOn.get(registration.deviceId) ?? []) {
      this.#options.activity.heard(channelId);
    }
    const keepalive = readKeepalive(message);
    return this.#frame(
      registration.deviceId,
      'heartbeat',
      {
        seq: message.sn,
        time: new Date(receivedAt).toISOString(),
        cmdType: 'Keepalive',
        status: keepalive.status,
        ...(keepalive.faults.length === 0 ? {} : { faults: keepalive.faults.slice(0, 64) }),
      },
      receivedAt,
    );
  }

  #alarm(registration: Registration, message: ManscdpMessage, receivedAt: number): Promise<void> {
    const alarm = readAlarm(message);
    // A channel's alarm goes to the channel's device when the hub has one; else to the device that registered.
    const raisedBy = this.#options.devices.byNationalCode(alarm.deviceId);
    const target =
      raisedBy !== undefined &&
      (raisedBy.id === registration.deviceId || raisedBy.gb28181?.parent === registration.deviceId)
        ? raisedBy.id
        : registration.deviceId;
    const deviceTime =
      alarm.time === undefined ? undefined : wallClockIso(alarm.time, this.#options.timeZone);
    const deviceMs = deviceTime === undefined ? Number.NaN : Date.parse(deviceTime);
    const trusted =
      deviceMs <= receivedAt + clockWindow.aheadMs && deviceMs >= receivedAt - clockWindow.behindMs;
    const frame = {
      seq: message.sn,
      time: trusted ? deviceTime : new Date(receivedAt).toISOString(),
      ...(trusted || deviceTime === undefined ? {} : { deviceTime }),
      cmdType: 'Alarm',
      ...alarmFields(alarm),
      edition: registration.edition,
    };
    const committed = this.#frame(target, 'events', frame, receivedAt);
    // The standard's acknowledgement: a Response Alarm once the hub has the alarm (after the 200).
    return committed.then(() => {
      this.#track(this.#acknowledgeAlarm(registration, message));
    });
  }

  async #acknowledgeAlarm(registration: Registration, alarm: ManscdpMessage): Promise<void> {
    await this.#send(registration, 'Response', {
      CmdType: 'Alarm',
      SN: alarm.sn,
      DeviceID: alarm.deviceId,
      Result: 'OK',
    }).catch((error: unknown) => {
      this.#warn(
        'ack',
        { deviceId: registration.deviceId, error: (error as Error).message },
        'alarm acknowledgement not delivered',
      );
    });
  }

  // ---- the hub's requests to devices ----

  /** Sends a MESSAGE with a MANSCDP body in the device's registration; resolves with the device's SIP answer. */
  async #send(
    registration: Registration,
    root: 'Query' | 'Control' | 'Response',
    fields: ManscdpFields,
  ): Promise<number> {
    const body = writeManscdp(root, fields, this.#settings.charset);
    const request = this.#request(registration, 'MESSAGE', body);
    const response = await this.#endpoint.request(request, registration.peer, {
      timeoutMs: this.#settings.queryTimeoutSeconds * 1000,
    });
    return response.status;
  }

  #request(registration: Registration, method: string, body: Buffer, extra: SipHeaderList = []): SipRequest {
    const { serverId, domain } = this.#settings;
    const headers = new SipHeaders()
      .set('from', `<sip:${serverId}@${domain}>;tag=${newTag()}`)
      .set('to', `<sip:${registration.code}@${domain}>`)
      .set('call-id', newCallId(this.#endpoint.host))
      .set('cseq', `${registration.cseq++} ${method}`)
      .set('max-forwards', '70')
      .set('user-agent', 'gridhub')
      .set('content-type', manscdpContentType);
    for (const [name, value] of extra) headers.set(name, value);
    return { kind: 'request', method, uri: registration.contact, headers, body };
  }

  #nextSn(): number {
    this.#sn = (this.#sn % 2_000_000_000) + 1;
    return this.#sn;
  }

  /**
   * Sends the device a MANSCDP request (a Query, or a Control: DeviceControl, DeviceConfig) and waits for its whole
   * answer: the 200 first, then the Response MESSAGE(s) naming the request's SN; a catalog's pages are gathered
   * until they hold SumNum items. `noResponse`: the 200 is the whole answer (TeleBoot).
   */
  async #ask(
    registration: Registration,
    root: 'Query' | 'Control',
    cmdType: string,
    fields: ManscdpFields,
    options: { readonly timeoutMs?: number; readonly noResponse?: boolean } = {},
  ): Promise<readonly ManscdpMessage[]> {
    const query = { deviceId: registration.deviceId, cmdType, sn: this.#nextSn() };
    const answered: Promise<readonly ManscdpMessage[]> = options.noResponse
      ? Promise.resolve([])
      : this.#answers.expect(
          query,
          options.timeoutMs ?? this.#settings.queryTimeoutSeconds * 1000,
          cmdType === 'Catalog' ? catalogPageCount : undefined,
        );
    // Nothing unhandled if the device never answers after its SIP error: the outcome is the send's.
    answered.catch(() => undefined);
    let status: number;
    try {
      status = await this.#send(registration, root, {
        CmdType: cmdType,
        SN: query.sn,
        DeviceID: registration.code,
        ...fields,
      });
    } catch (error) {
      this.#metrics.queries.labels(cmdType, 'unreachable').inc();
      this.#answers.cancelOne(query, error as Error);
      throw error;
    }
    if (status >= 300) {
      this.#metrics.queries.labels(cmdType, 'refused').inc();
      const refused = new Error(`${cmdType} refused by the device with SIP ${status}`);
      this.#answers.cancelOne(query, refused);
      throw refused;
    }
    try {
      const answer = await answered;
      this.#metrics.queries.labels(cmdType, 'answered').inc();
      return answer;
    } catch (error) {
      this.#metrics.queries.labels(cmdType, error instanceof QueryTimeout ? 'timeout' : 'unreachable').inc();
      throw error;
    }
  }

  /** A query of the device itself (DeviceInfo, DeviceStatus, Catalog). */
  #query(registration: Registration, cmdType: string): Promise<readonly ManscdpMessage[]> {
    return this.#ask(registration, 'Query', cmdType, {});
  }

  /** 布防 at registration (`gb28181.guard`): DeviceControl SetGuard, its Result logged when not OK. */
  async #arm(registration: Registration): Promise<void> {
    const [answer] = await this.#ask(registration, 'Control', 'DeviceControl', { GuardCmd: 'SetGuard' });
    if (answer !== undefined && readResult(answer).result !== 'OK') {
      this.#warn('guard', { deviceId: registration.deviceId }, 'the device refused to be armed');
    }
  }

  async #subscribeAlarms(registration: Registration): Promise<void> {
    // An hour, renewed at four fifths of it (#sweepOnce) while the device stays registered.
    const expires = alarmSubscriptionSeconds;
    this.#subscriptionDue.set(registration.deviceId, this.#now() + expires * 800);
    const body = writeManscdp(
      'Query',
      {
        CmdType: 'Alarm',
        SN: this.#nextSn(),
        DeviceID: registration.code,
        StartAlarmPriority: 1,
        EndAlarmPriority: 4,
        AlarmMethod: 0,
      },
      this.#settings.charset,
    );
    const request = this.#request(registration, 'SUBSCRIBE', body, [
      ['event', 'presence'],
      ['expires', String(expires)],
      ['contact', `<sip:${this.#settings.serverId}@${uriHost(this.#contactHost())}:${this.port}>`],
    ]);
    try {
      const response = await this.#endpoint.request(request, registration.peer, {
        timeoutMs: this.#settings.queryTimeoutSeconds * 1000,
      });
      this.#metrics.queries.labels('AlarmSubscribe', response.status < 300 ? 'answered' : 'refused').inc();
    } catch {
      // Most devices send alarms as MESSAGE without a subscription: one that ignores it still reports.
      this.#metrics.queries.labels('AlarmSubscribe', 'unreachable').inc();
    }
  }

  async #refreshCatalog(registration: Registration): Promise<void> {
    let answers: readonly ManscdpMessage[];
    try {
      answers = await this.#query(registration, 'Catalog');
    } catch (error) {
      this.#warn(
        'catalog',
        { deviceId: registration.deviceId, error: (error as Error).message },
        'no catalog',
      );
      return;
    }
    const listed = answers.flatMap((answer) => readCatalogResponse(answer).items);
    // A recorder has tens of channels: past maxChannels the catalog is not believed (nor made into devices).
    const items = listed.slice(0, this.#settings.maxChannels);
    if (listed.length > items.length) {
      this.#warn(
        'channels',
        { deviceId: registration.deviceId, listed: listed.length },
        'catalog past maxChannels',
      );
    }
    const on: string[] = [];
    for (const item of items) {
      const channelId = await this.#channelDevice(registration, item);
      if (channelId === undefined) continue;
      const isOn = item.status !== 'OFF';
      if (isOn) on.push(channelId);
      await this.#frame(channelId, 'status', { state: isOn ? 'online' : 'offline' }, this.#now());
    }
    this.#channelsOn.set(registration.deviceId, on);
    this.#log.info({ deviceId: registration.deviceId, items: items.length, on: on.length }, 'catalog read');
  }

  /** The gridhub device of a catalog item: the one with its code, or one the hub makes of it (adoptChannels). */
  async #channelDevice(registration: Registration, item: CatalogItem): Promise<string | undefined> {
    if (item.deviceId === registration.code) return undefined;
    const known = this.#options.devices.byNationalCode(item.deviceId);
    if (known !== undefined) return known.gb28181?.parent === registration.deviceId ? known.id : undefined;
    const kind = readNationalCode(item.deviceId)?.kind;
    if (!this.#settings.adoptChannels || this.#options.adopt === undefined) return undefined;
    if (kind === undefined || !channelKinds.has(kind)) return undefined;
    return this.#options
      .adopt({
        parentId: registration.deviceId,
        code: item.deviceId,
        name: item.name ?? item.deviceId,
        ...(item.longitude === undefined || item.latitude === undefined
          ? {}
          : { location: [item.longitude, item.latitude] as const }),
      })
      .catch((error: unknown) => {
        this.#warn(
          'adopt',
          { deviceId: registration.deviceId, error: (error as Error).message },
          'channel not adopted',
        );
        return undefined;
      });
  }

  /** Commands out: the adapter's MANSCDP command, sent as MESSAGE Control; its result comes back as a reply frame. */
  async #command(address: string, payload: string, timeoutMs?: number): Promise<void> {
    const deviceId = this.#options.topics.parseDeviceTopic(address)?.deviceId;
    const device = deviceId === undefined ? undefined : this.#options.devices.get(deviceId);
    const command = gbCommandRequest.parse(JSON.parse(payload));
    const registration = deviceId === undefined ? undefined : this.registrationOf(deviceId);
    if (device === undefined || registration === undefined || device.gb28181 === undefined) {
      throw new Error(`device ${deviceId ?? address} is not registered`);
    }
    const reply = (result: 'OK' | 'ERROR', reason?: string) =>
      this.#frame(
        device.id,
        'replies',
        {
          requestId: command.requestId,
          cmdType: command.cmdType,
          result,
          ...(reason === undefined ? {} : { reason: reason.slice(0, 256) }),
        },
        this.#now(),
      );
    // Sent now; the device's answer becomes the reply frame the command service waits for.
    this.#track(
      this.#ask(
        registration,
        'Control',
        command.cmdType,
        // A channel's command names the channel: its NVR carries it out.
        { ...command.fields, DeviceID: device.gb28181.id },
        {
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
          ...(command.noResponse === true ? { noResponse: true } : {}),
        },
      ).then(
        (answers) => {
          const answer = answers[0] === undefined ? undefined : readResult(answers[0]);
          return reply(answer?.result ?? 'OK', answer?.reason);
        },
        // No whole answer in time is no reply: the command service says device_timeout, as for any silent device.
        (error: unknown) =>
          error instanceof QueryTimeout ? undefined : reply('ERROR', (error as Error).message),
      ),
    );
  }

  // ---- snapshots (GB/T 28181-2022) ----

  /**
   * Asks a camera for one still (DeviceConfig SnapShotConfig: one shot, uploaded to the device HTTP listener under
   * a session id of its own) and resolves with the first JPEG it uploads. The session id is the upload's only
   * credential, so it is long, single-use, short-lived, and taken only from the address the device registered from.
   */
  async snapshot(cameraId: string, signal: AbortSignal): Promise<{ bytes: Buffer; contentType: string }> {
    const device = this.#options.devices.get(cameraId);
    const registration = this.registrationOf(cameraId);
    const base = this.#options.uploadBase?.();
    if (device?.gb28181 === undefined || registration === undefined) {
      throw new Error(`camera ${cameraId} is not registered`);
    }
    if (base === undefined) throw new Error('snapshots need the device HTTP listener (receivers.http)');
    const sessionId = randomBytes(16).toString('hex');
    const timeoutMs = this.#settings.queryTimeoutSeconds * 1000 * 3;
    const uploaded = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => wait.fail(new Error('no snapshot uploaded in time')), timeoutMs);
      timer.unref();
      const onAbort = () => wait.fail(new Error('snapshot aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#uploads.delete(sessionId);
      };
      const wait: SnapshotWait = {
        address: registration.peer.address,
        deliver: (jpeg) => {
          settle();
          resolve(jpeg);
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      };
      this.#uploads.set(sessionId, wait);
    });
    uploaded.catch(() => undefined);
    const [answer] = await this.#ask(registration, 'Control', 'DeviceConfig', {
      DeviceID: device.gb28181?.id ?? registration.code,
      SnapShotConfig: {
        SnapNum: 1,
        Interval: 1,
        UploadURL: `${base}${snapshotPath}${sessionId}`,
        SessionID: sessionId,
      },
    }).catch((error: unknown) => {
      this.#uploads.get(sessionId)?.fail(error as Error);
      throw error;
    });
    if (answer !== undefined && readResult(answer).result !== 'OK') {
      this.#uploads.get(sessionId)?.fail(new Error('the camera refused the snapshot command'));
    }
    return { bytes: await uploaded, contentType: 'image/jpeg' };
  }

  /** The device HTTP listener's route for snapshot uploads: `POST /gb28181/snapshots/<session id>` with a JPEG. */
  readonly route: DeviceHttpRoute = (request) => {
    const sessionId = request.path.startsWith(snapshotPath) ? request.path.slice(snapshotPath.length) : '';
    const wait = /^[0-9a-f]{32}$/.test(sessionId) ? this.#uploads.get(sessionId) : undefined;
    if (request.method !== 'POST' && request.method !== 'PUT') return { status: 405, body: 'POST a JPEG' };
    if (wait === undefined || wait.address !== request.remoteAddress.replace(/^::ffff:/, '')) {
      return { status: 404, body: 'no such snapshot session' };
    }
    if (!isJpeg(request.body)) return { status: 415, body: 'a snapshot is a JPEG' };
    wait.deliver(request.body);
    return { status: 200, body: 'OK' };
  };

  // ---- upkeep ----

  #sweepOnce(): void {
    if (this.#stopping) return;
    const now = this.#now();
    for (const registration of this.#registrations.sweep(now)) {
      this.#metrics.registrations.labels('expired').inc();
      this.#afterEnd(registration.deviceId);
    }
    this.#metrics.registered.set(this.#registrations.size);
    for (const registration of this.#registrations.values()) {
      const due = this.#catalogDue.get(registration.deviceId) ?? 0;
      if (due > now) continue;
      this.#catalogDue.set(registration.deviceId, now + this.#settings.catalogRefreshSeconds * 1000);
      this.#track(this.#refreshCatalog(registration));
      if (due > 0) this.#track(this.#deviceStatus(registration));
    }
    for (const registration of this.#registrations.values()) {
      const renewal = this.#subscriptionDue.get(registration.deviceId);
      if (renewal === undefined || renewal > now) continue;
      this.#track(this.#subscribeAlarms(registration));
    }
  }

  /** Ends a device's registration (it unregistered, or the hub disconnects it): offline, and its queries fail. */
  #end(deviceId: string, result: RegistrationResult): void {
    if (!this.#registrations.remove(deviceId)) return;
    this.#metrics.registrations.labels(result).inc();
    this.#metrics.registered.set(this.#registrations.size);
    this.#afterEnd(deviceId);
  }

  #afterEnd(deviceId: string): void {
    this.#catalogDue.delete(deviceId);
    this.#subscriptionDue.delete(deviceId);
    this.#channelsOn.delete(deviceId);
    this.#answers.cancel(new Error('the device is no longer registered'), deviceId);
    this.#track(this.#frame(deviceId, 'status', { state: 'offline' }, this.#now()));
  }

  /** Hands a frame to the hub; resolves once committed (a frame the hub does not take resolves at once). */
  #frame(deviceId: string, channel: DeviceChannel, frame: unknown, receivedAt: number): Promise<void> {
    const address = this.#options.topics.deviceTopic(deviceId, channel);
    return (
      this.#options.onMessage(address, Buffer.from(JSON.stringify(frame)), receivedAt) ?? Promise.resolve()
    );
  }

  #refuse(refusal: ConnectorRefusal): void {
    this.#track(
      this.#options.refuse(refusal).catch((error: unknown) => {
        this.#warn('refuse', { error: (error as Error).message }, 'dead letter not stored');
      }),
    );
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => {
      this.#warn('task', { error: (error as Error).message }, 'GB/T 28181 task failed');
    });
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }

  #warn(key: string, fields: Record<string, unknown>, message: string): void {
    const suppressed = this.#logThrottle.admit(key);
    if (suppressed >= 0) this.#log.warn({ ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message);
  }
}

/** The path snapshot uploads go to on the device HTTP listener, followed by the session id. */
const snapshotPath = '/gb28181/snapshots/';

interface SnapshotWait {
  /** The address the camera's device registered from: only it may upload. */
  readonly address: string;
  readonly deliver: (jpeg: Buffer) => void;
  readonly fail: (error: Error) => void;
}

const allowed = 'REGISTER, MESSAGE, NOTIFY, OPTIONS, BYE, CANCEL, ACK';

/**
 * Whether a request comes from where the device registered: over UDP its very address and port (a device sends
 * from its one SIP socket; another host behind the same NAT is another port), over TCP its address (a device
 * may reconnect between its REGISTER and its messages).
 */
function fromRegisteredPeer(registered: SipPeer, peer: SipPeer): boolean {
  return (
    registered.transport === peer.transport &&
    registered.address === peer.address &&
    (peer.transport === 'tcp' || registered.port === peer.port)
  );
}

/** The 20-digit user of a From or To header, or undefined. */
function userOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return readSipUri(readNameAddr(header).uri)?.user;
}

/** The expiry a REGISTER asks: its Contact's expires parameter, else its Expires header, else an hour. */
function expiresOf(request: SipRequest, contact: string | undefined): number {
  const header = request.headers.get('expires');
  const fromContact = contact === undefined ? undefined : readNameAddr(contact).params.get('expires');
  // The Contact's own expires wins over the header (RFC 3261 §10.2.1.1).
  const text = fromContact ?? header;
  const value = text === undefined ? 3600 : Number.parseInt(text, 10);
  return Number.isFinite(value) && value >= 0 ? value : 3600;
}

/** A catalog page's SumNum and its items' codes, for PendingAnswers (which reads, and so checks, each page). */
function catalogPageCount(message: ManscdpMessage): { sumNum: number; items: readonly string[] } {
  const page = readCatalogResponse(message);
  return { sumNum: page.sumNum, items: page.items.map((item) => item.deviceId) };
}

function deviceInfoOf(message: ManscdpMessage): Record<string, string> {
  return Object.fromEntries(
    ['DeviceName', 'Manufacturer', 'Model', 'Firmware', 'Channel'].flatMap((name) => {
      const value = message.body.children.find((child) => child.name === name)?.text;
      return value === undefined ? [] : [[name.toLowerCase(), value.slice(0, 64)]];
    }),
  );
}

/** The frame's fields from an alarm, as the adapter's schema reads them. */
function alarmFields(alarm: ReturnType<typeof readAlarm>): Record<string, unknown> {
  // The SN is the envelope's seq and the time its time (checked against the hub's clock): the rest as read.
  const { time: _time, sn: _sn, ...fields } = alarm;
  return fields;
}
