import path from 'node:path';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { AuditTrail } from './audit/audit-trail.ts';
import { Accounts } from './auth/accounts.ts';
import { GuessLimiter } from './auth/guess-limiter.ts';
import { type SessionEndReason, Sessions } from './auth/sessions.ts';
import { TokenAuthenticator } from './auth/token-authenticator.ts';
import { EvidenceService } from './cameras/evidence/evidence-service.ts';
import { MediaStore } from './cameras/evidence/media-store.ts';
import { CameraLeases } from './cameras/sessions/camera-leases.ts';
import { OnvifSessions, type OnvifSessionsOptions } from './cameras/sessions/onvif-sessions.ts';
import { defaultInstanceId, RedisCoordinator } from './cluster/redis-coordinator.ts';
import { RedisLivenessLedger } from './cluster/shared-liveness.ts';
import { checkDemoExposure } from './config/demo-guard.ts';
import type { Deployment, RuntimeSettings } from './config/load.ts';
import { TypedBus } from './core/bus.ts';
import { GridhubError, listenError } from './core/errors.ts';
import type { HubBusEvents } from './core/events.ts';
import { createIdentifierPolicy } from './core/privacy.ts';
import { TopicGrammar } from './core/topics.ts';
import { MqttAccessPolicy } from './fleet/access-policy.ts';
import { CommandService } from './fleet/command-service.ts';
import { DeviceRegistry } from './fleet/device-registry.ts';
import { Fleet } from './fleet/fleet.ts';
import { fleetMetrics } from './fleet/fleet-metrics.ts';
import { LivenessMonitor } from './fleet/liveness-monitor.ts';
import { ThrottledMqttAccess } from './fleet/throttled-access.ts';
import { clientAddressOf } from './http/client-address.ts';
import { buildHttpApp, type HealthReport } from './http/http-app.ts';
import { IncidentPipeline } from './incidents/incident-pipeline.ts';
import { IncidentService } from './incidents/incident-service.ts';
import { loneIncidentWriter } from './incidents/lone-incident-writer.ts';
import { Router } from './incidents/router.ts';
import { RuleBook } from './incidents/rule-book.ts';
import { sharedIncidentWriter } from './incidents/shared-incident-writer.ts';
import { Visibility } from './incidents/visibility.ts';
import { DeviceIngest } from './ingest/device-ingest.ts';
import { EmbeddedBroker } from './ingest/embedded-broker.ts';
import { ExternalBrokerClient } from './ingest/external-broker.ts';
import { mqttMetrics } from './ingest/ingest-metrics.ts';
import type { MqttTransport } from './ingest/mqtt-transport.ts';
import { limitCloseReporter } from './ingest/packet-limits.ts';
import { ThreadedBroker } from './ingest/threaded-broker.ts';
import { AddressPolicy, OutboundGuard } from './net/outbound-address.ts';
import { outboundGuardMetrics } from './net/outbound-metrics.ts';
import { createLogger, type Logger, LogThrottle } from './observability/logger.ts';
import { MetricsRegistry } from './observability/metrics-registry.ts';
import { Outbound } from './outbound/index.ts';
import { Realtime } from './realtime/realtime.ts';
import { TlsCredentials } from './security/tls-credentials.ts';
import { tlsMetrics } from './security/tls-metrics.ts';
import { type EventLog, LmdbEventLog, RedisStreamEventLog } from './store/event-log.ts';
import { LmdbStore } from './store/lmdb-store.ts';
import { RedisStore } from './store/redis-store.ts';
import type { Store } from './store/store.ts';

const projectRoot = path.resolve(import.meta.dirname, '..');

/** The ends of all of a user's sessions that also end their incident feed (a password reset does not: it uses a token). */
const feedEndingReasons: ReadonlySet<SessionEndReason> = new Set(['user_disabled', 'user_removed']);

export interface HubOptions {
  readonly deployment: Deployment;
  readonly runtime: RuntimeSettings;
  /** Address the HTTP and MQTT servers bind: 127.0.0.1 when not given (HOST sets it for npm start). */
  readonly host?: string;
  readonly logger?: Logger;
  /** How often device silences and watchdogs are checked (ms); tests shorten it. */
  readonly livenessSweepMs?: number;
  /** How often incident deadlines are checked (ms); tests shorten it. */
  readonly deadlineSweepMs?: number;
  /** ONVIF session timings (ms); tests shorten them. */
  readonly onvifTiming?: Partial<OnvifSessionsOptions['timing']>;
}

/**
 * The composition root: builds the components, wires them through the bus, starts them in order and stops
 * them in reverse. The constructor only assigns; start() does the work; stop() undoes all of it.
 */
export class Hub {
  readonly bus = new TypedBus<HubBusEvents>();
  /** Every module declares its metrics on it (declareMetrics); GET /metrics shows them. */
  readonly metrics = new MetricsRegistry();
  readonly topics: TopicGrammar;
  readonly store: Store;
  /** Every accepted device event, newest first per device. */
  readonly eventLog: EventLog;
  readonly registry: DeviceRegistry;
  /** The embedded broker, a clustered one, or the client of an external broker (`mqtt.mode`). */
  readonly broker: MqttTransport;
  readonly liveness: LivenessMonitor;
  readonly realtime: Realtime;
  readonly fleet: Fleet;
  readonly outbound: Outbound;
  readonly cameras: OnvifSessions;
  readonly media: MediaStore;
  readonly evidence: EvidenceService;
  /** network.outbound applied: every connection made on a caller's behalf (cameras, webhooks) goes through it. */
  readonly outboundGuard: OutboundGuard;
  /** With a Redis store: how this instance coordinates with its siblings (leases, shared liveness). */
  readonly coordinator: RedisCoordinator | undefined;
  readonly cameraLeases: CameraLeases | undefined;
  readonly #options: HubOptions;
  readonly #logger: Logger;
  readonly #authenticator: TokenAuthenticator;
  /** Login sessions, in the store: every instance sharing it sees a session end. */
  readonly sessions: Sessions;
  /** People's accounts: the users REST, Socket.IO and MQTT know. */
  readonly accounts: Accounts;
  /** Failed authentications per address and identity, on every transport (limits.auth). */
  readonly #guesses: GuessLimiter;
  readonly incidents: IncidentService;
  readonly visibility: Visibility;
  readonly #pipeline: IncidentPipeline;
  readonly #router: Router;
  readonly #commands: CommandService;
  #http: FastifyInstance | undefined;
  /** The certificate files of the TLS listeners, watched for renewals (`tls` in the config). */
  readonly #tls: TlsCredentials | undefined;
  readonly #tlsFailureLog = new LogThrottle();
  #started = false;
  /** The step stop() is in, from its start to its end: /readyz answers 503 meanwhile. */
  #stopping: string | undefined;
  #stopLogging: (() => void) | undefined;
  #stopFeedRevocation: (() => void) | undefined;

  constructor(options: HubOptions) {
    const { deployment, runtime } = options;
    const { settings } = deployment;
    this.#options = options;
    this.#logger = options.logger ?? createLogger();
    const tls = deployment.tls;
    // Declared with TLS off too, as they always were: a dashboard reads their absence as no data.
    const tlsCounted = tlsMetrics(this.metrics);
    this.#tls =
      tls === undefined
        ? undefined
        : new TlsCredentials({
            files: { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }) },
            checkMs: tls.reloadCheckSeconds * 1000,
            metrics: tlsCounted,
            logger: this.#logger,
          });
    this.#guesses = new GuessLimiter({
      limits: deployment.limits.auth,
      metrics: this.metrics,
      logger: this.#logger,
    });
    this.topics = new TopicGrammar(settings.topicBase);
    this.outboundGuard = new OutboundGuard({
      policy: new AddressPolicy(deployment.network.outbound),
      refusals: outboundGuardMetrics(this.metrics).refusals,
      logger: this.#logger,
    });
    // On the Redis store the hub may have siblings: everything they must share goes through this Redis.
    const store = deployment.store;
    const redis = store.kind === 'redis' ? store : undefined;
    this.store =
      store.kind === 'embedded'
        ? new LmdbStore({
            dataDir: runtime.dataDir,
            deadLetterLimit: settings.deadLetterLimit,
            commitWindowMs: store.commitWindowMs,
          })
        : new RedisStore({
            url: store.url,
            ca: store.ca,
            keyPrefix: store.keyPrefix,
            deadLetterLimit: settings.deadLetterLimit,
          });
    this.sessions = new Sessions({
      store: this.store,
      maxHours: settings.sessionMaxHours,
      metrics: this.metrics,
      logger: this.#logger,
    });
    const audit = new AuditTrail(this.store);
    this.accounts = new Accounts({
      store: this.store,
      audit,
      configUsers: deployment.users,
      jurisdiction: deployment.jurisdiction,
      sessions: this.sessions,
      lockout: settings.loginLockout,
      isDeviceId: (id) => this.registry.get(id) !== undefined,
      metrics: this.metrics,
      logger: this.#logger,
      // Siblings change accounts too: read them again now and then (their sessions end in the store at once).
      ...(redis === undefined ? {} : { refreshMs: 5_000 }),
    });
    this.#authenticator = new TokenAuthenticator({
      directory: this.accounts,
      sessions: this.sessions,
      jwtTtlMinutes: settings.jwtTtlMinutes,
      ...(settings.jwtSecret === undefined ? {} : { jwtSecret: settings.jwtSecret }),
    });
    const eventLogOptions = { perDevice: settings.eventLogPerDevice, flushMs: 100 };
    this.eventLog =
      redis === undefined
        ? new LmdbEventLog({ ...eventLogOptions, dataDir: runtime.dataDir })
        : new RedisStreamEventLog({
            ...eventLogOptions,
            url: redis.url,
            ca: redis.ca,
            keyPrefix: redis.keyPrefix,
          });
    this.coordinator =
      redis === undefined
        ? undefined
        : new RedisCoordinator({
            url: redis.url,
            ca: redis.ca,
            keyPrefix: redis.keyPrefix,
            instanceId: deployment.cluster.instanceId ?? defaultInstanceId(),
          });
    this.registry = new DeviceRegistry({
      configDevices: deployment.devices,
      jurisdiction: deployment.jurisdiction,
      adapters: deployment.adapters,
      store: this.store,
      // Every user's id, those made through the API included (the accounts are built after the registry).
      userIds: { has: (id: string) => this.accounts.has(id) },
    });
    this.visibility = new Visibility(deployment.routing.deviceHealthCategories);
    this.#router = new Router(deployment.users, deployment.rosters, deployment.routing, settings.timezone);
    this.incidents = new IncidentService({
      store: this.store,
      bus: this.bus,
      metrics: this.metrics,
      router: this.#router,
      visibility: this.visibility,
      deadlines: deployment.deadlines,
      jurisdiction: deployment.jurisdiction,
      users: deployment.users,
      logger: this.#logger,
      sweepMs: options.deadlineSweepMs ?? 1000,
      // Siblings sharing the store: every change a compare-and-set over a fresh read.
      writer: redis === undefined ? loneIncidentWriter : sharedIncidentWriter,
      flood: deployment.flood,
    });
    this.#pipeline = new IncidentPipeline(
      new RuleBook(deployment.rules, {
        correlations: deployment.correlations,
        suppressions: deployment.suppressions,
        timezone: settings.timezone,
      }),
      this.incidents,
      { metrics: this.metrics, inMaintenance: (deviceId, now) => this.registry.inMaintenance(deviceId, now) },
    );
    this.liveness = new LivenessMonitor({
      registry: this.registry,
      bus: this.bus,
      metrics: this.metrics,
      logger: this.#logger,
      raise: (event, device) => this.#pipeline.process(event, device, performance.now()),
      sweepMs: options.livenessSweepMs ?? 1000,
      ...(this.coordinator === undefined ? {} : { ledger: new RedisLivenessLedger(this.coordinator) }),
    });
    const ingest = new DeviceIngest({
      topics: this.topics,
      devices: this.registry,
      activity: this.liveness,
      maxPayloadBytes: settings.maxPayloadBytes,
      decodeContext: {
        identifiers: createIdentifierPolicy(settings.identifiers, settings.identifierHashKey),
      },
      pipeline: this.#pipeline,
      store: this.store,
      bus: this.bus,
      metrics: this.metrics,
      logger: this.#logger,
    });
    const onMessage = (topic: string, payload: Buffer, receivedAt: number) => {
      const handled = ingest.handle(topic, payload, receivedAt);
      // Several instances: acknowledged only once its pushes are in Redis too (see Realtime.delivered).
      return redis !== undefined && handled !== undefined
        ? handled.then(() => this.realtime.delivered())
        : handled;
    };
    const mqtt = deployment.mqtt;
    const external = mqtt.mode === 'external' ? mqtt.external : undefined;
    const feedTopic = `${settings.topicBase}/${deployment.outbound.mqtt.topic}`;
    const policy = new MqttAccessPolicy({
      registry: this.registry,
      topics: this.topics,
      authenticator: this.#authenticator,
      visibility: this.visibility,
      feedTopic,
      refusals: fleetMetrics(this.metrics).mqttRefusals,
      logger: this.#logger,
    });
    const access = new ThrottledMqttAccess(policy, this.#guesses);
    const mqttLimits = deployment.limits.mqtt;
    // The hub's own broker, in a thread of its own, or in the hub's thread where it shares its state with siblings.
    const ownBroker = {
      host: options.host ?? '127.0.0.1',
      port: runtime.mqttPort,
      webSocketPath: '/mqtt',
      access,
      onMessage,
      // Behind a trusted proxy, an MQTT over WebSocket client's own address, as REST and Socket.IO see theirs.
      clientAddress: clientAddressOf(deployment.http.trustProxy),
      onClientConnected: (clientId: string) => this.liveness.heard(clientId),
      onClientDisconnected: (clientId: string) => this.liveness.gone(clientId),
      ...(this.#tls === undefined || tls?.mqtt !== true
        ? {}
        : {
            tls: {
              material: () => (this.#tls as TlsCredentials).current,
              clientCertificates: tls.clientCertificates,
              onHandshakeFailure: (address: string | undefined, error: Error) =>
                this.#tlsFailure('mqtt', address, error.message),
            },
            onTlsFailure: (address: string | undefined, message: string) =>
              this.#tlsFailure('mqtt', address, message),
          }),
      metrics: mqttMetrics(this.metrics),
      logger: this.#logger,
      limits: {
        connectPacketBytes: mqttLimits.connectPacketBytes,
        packetBytes: mqttLimits.packetBytes ?? 4 * settings.maxPayloadBytes,
        connectTimeoutMs: mqttLimits.connectTimeoutSeconds * 1000,
      },
      onLimitClose: limitCloseReporter(mqttMetrics(this.metrics).limitCloses, this.#logger),
    };
    this.broker =
      external !== undefined
        ? new ExternalBrokerClient({
            ...external,
            clientId: externalClientId(runtime.mqttClientId ?? external.clientId),
            topics: this.topics,
            onMessage,
            // The broker holds the connections: a device is reachable when its heartbeats and status say so.
            isOnline: (deviceId) => this.liveness.status(deviceId)?.online === true,
            metrics: mqttMetrics(this.metrics),
            logger: this.#logger,
          })
        : mqtt.mode === 'embedded'
          ? new ThreadedBroker({
              ...ownBroker,
              topicBase: settings.topicBase,
              feedTopic,
              deviceHealthCategories: deployment.routing.deviceHealthCategories,
            })
          : new EmbeddedBroker({
              ...ownBroker,
              ...(mqtt.mode === 'clustered' && redis !== undefined
                ? {
                    cluster: {
                      redisUrl: redis.url,
                      redisCa: redis.ca,
                      keyPrefix: redis.keyPrefix,
                      heartbeatMs: mqtt.clustered.brokerHeartbeatSeconds * 1000,
                      everyInstance: [`${settings.topicBase}/devices/+/replies`],
                    },
                  }
                : {}),
            });
    this.#commands = new CommandService({
      registry: this.registry,
      transport: this.broker,
      topics: this.topics,
      audit,
      bus: this.bus,
      metrics: this.metrics,
      timeoutMs: settings.commandTimeoutSeconds * 1000,
    });
    this.fleet = new Fleet({
      registry: this.registry,
      liveness: this.liveness,
      commands: this.#commands,
      audit,
      bus: this.bus,
      disconnect: (deviceId) => this.broker.disconnect(deviceId),
    });
    this.cameraLeases =
      this.coordinator === undefined
        ? undefined
        : new CameraLeases({
            coordinator: this.coordinator,
            registry: this.registry,
            sessions: {
              refollow: (cameraId) => this.cameras.refollow(cameraId),
              localView: (cameraId) => this.cameras.localView(cameraId),
            },
            leaseMs: deployment.cluster.leaseSeconds * 1000,
            metrics: this.metrics,
            logger: this.#logger,
          });
    this.cameras = new OnvifSessions({
      ...(this.cameraLeases === undefined ? {} : { partition: this.cameraLeases }),
      registry: this.registry,
      pipeline: this.#pipeline,
      liveness: this.liveness,
      bus: this.bus,
      metrics: this.metrics,
      logger: this.#logger,
      guard: this.outboundGuard,
      timing: {
        requestTimeoutMs: 10_000,
        aliveEveryMs: 5_000,
        retryMinMs: 1_000,
        retryMaxMs: 30_000,
        ...options.onvifTiming,
      },
    });
    this.media = new MediaStore({
      dataDir: runtime.dataDir,
      ...(deployment.media.directory === undefined ? {} : { directory: deployment.media.directory }),
      retention: deployment.media.retention,
      logger: this.#logger,
      metrics: this.metrics,
    });
    this.evidence = new EvidenceService({
      bus: this.bus,
      cameras: this.cameras,
      incidents: this.incidents,
      store: this.media,
      cameraDeviceIds: (deviceId) => this.registry.get(deviceId)?.adapter.transport === 'onvif',
      clipSeconds: deployment.media.clipSeconds,
      skipCategories: ['storm', ...deployment.routing.deviceHealthCategories],
      rtspTransport: deployment.media.rtspTransport,
      metrics: this.metrics,
      logger: this.#logger,
      guard: this.outboundGuard,
    });
    this.outbound = new Outbound({
      bus: this.bus,
      publish: (topic, payload) => this.broker.publish(topic, payload),
      ...(this.broker.hasSubscribers === undefined
        ? {}
        : { hasSubscribers: this.broker.hasSubscribers.bind(this.broker) }),
      topicBase: settings.topicBase,
      config: deployment.outbound,
      ...(this.store.outbox === undefined ? {} : { outbox: this.store.outbox }),
      audit,
      metrics: this.metrics,
      logger: this.#logger,
      guard: this.outboundGuard,
    });
    this.realtime = new Realtime({
      authenticator: this.#authenticator,
      sessions: this.sessions,
      guesses: this.#guesses,
      maxBufferedBytes: deployment.limits.realtime.maxBufferedBytes,
      incidents: this.incidents,
      recoveryMs: settings.pushRecoverySeconds * 1000,
      trustProxy: deployment.http.trustProxy,
      corsOrigins: deployment.http.corsOrigins,
      // Pushes go through Redis to reach clients on any sibling.
      ...(redis === undefined
        ? {}
        : { cluster: { redisUrl: redis.url, redisCa: redis.ca, keyPrefix: redis.keyPrefix } }),
      chainOf: (gridId) => deployment.jurisdiction.grid(gridId)?.chain,
      bus: this.bus,
      metrics: this.metrics,
      logger: this.#logger,
    });
  }

  get deployment(): Deployment {
    return this.#options.deployment;
  }

  /** The HTTP port actually bound (differs from the setting when that was 0). */
  get httpPort(): number {
    const address = this.#http?.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  get mqttPort(): number {
    return this.broker.port;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { runtime } = this.#options;
    const host = this.#options.host ?? '127.0.0.1';
    try {
      await checkDemoExposure(host, this.deployment, runtime.demo === true);
      this.#tls?.start();
      await this.store.start();
      await this.coordinator?.start();
      await this.eventLog.start();
      this.#stopLogging = this.bus.on('device:event', (event) => this.eventLog.append(event));
      await this.registry.start();
      // Before anything authenticates: the broker's CONNECT and the HTTP API read the accounts.
      await this.accounts.start();
      if (this.registry.skipped.length > 0) {
        this.#logger.warn(
          { ns: 'hub', devices: this.registry.skipped },
          'stored device records no longer resolve',
        );
      }
      await this.incidents.start();
      // Evidence listens before anything can raise an incident.
      await this.media.start();
      this.evidence.start();
      this.liveness.start();
      this.cameras.start();
      await this.cameraLeases?.start();
      this.#commands.start();
      await this.outbound.start();
      const http = await buildHttpApp({
        store: this.store,
        eventLog: this.eventLog,
        metrics: this.metrics,
        authenticator: this.#authenticator,
        sessions: this.sessions,
        accounts: this.accounts,
        logger: this.#logger,
        guesses: this.#guesses,
        fleet: this.fleet,
        outboundGuard: this.outboundGuard,
        incidents: this.incidents,
        visibility: this.visibility,
        jurisdiction: this.deployment.jurisdiction,
        router: this.#router,
        users: this.deployment.users,
        placeOfUser: (userId) => this.accounts.placeOf(userId),
        registry: this.registry,
        media: this.media,
        cameras: this.cameras,
        health: () => this.health(),
        stopping: () => this.#stopping !== undefined,
        dashboardIndex: path.join(projectRoot, 'dashboard', 'index.html'),
        ...(this.#tls === undefined || this.deployment.tls?.http !== true ? {} : { tls: this.#tls.current }),
        edge: this.deployment.http,
      });
      this.#http = http;
      this.#watchCertificates(http);
      await http.listen({ port: runtime.httpPort, host }).catch((error: unknown) => {
        throw listenError(error, 'HTTP', runtime.httpPort, 'PORT');
      });
      this.realtime.start(http.server);
      // Devices last: an external broker hands over a persistent session's backlog the moment the hub connects,
      // and the incidents it raises must find Socket.IO already there to push them.
      await this.broker.start();
      this.broker.attachWebSocket(http.server);
      // A user disabled or removed loses the incident feed at once, not only at their next CONNECT.
      this.#stopFeedRevocation = this.sessions.onEnd((end) => {
        if (end.sessionId === undefined && feedEndingReasons.has(end.reason))
          this.broker.disconnect(end.userId);
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#logger.info(
      { ns: 'hub', http: this.httpPort, mqtt: this.mqttPort, devices: this.registry.size },
      'gridhub started',
    );
  }

  /**
   * Stops every component in the reverse order of start(), one named step after another, so that a stop that
   * hangs can say where ({@link stopping}).
   */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    const steps: readonly (readonly [string, () => unknown])[] = [
      ['realtime', () => this.realtime.stop()],
      // The feed publishes on the broker, so it stops first; the webhooks stop once nothing can change an
      // incident any more, so a change made while the rest stops still reaches their outbox.
      ['incident feed', () => this.outbound.feed?.stop()],
      ['tls', () => this.#tls?.stop()],
      [
        'mqtt',
        () => {
          this.#stopFeedRevocation?.();
          this.#stopFeedRevocation = undefined;
          return this.broker.stop();
        },
      ],
      [
        'http',
        async () => {
          await this.#http?.close();
          this.#http = undefined;
        },
      ],
      ['commands', () => this.#commands.stop()],
      ['camera leases', () => this.cameraLeases?.stop()],
      ['cameras', () => this.cameras.stop()],
      ['evidence', () => this.evidence.stop()],
      ['media', () => this.media.stop()],
      ['liveness', () => this.liveness.stop()],
      ['accounts', () => this.accounts.stop()],
      ['incidents', () => this.incidents.stop()],
      ['outbound', () => this.outbound.stop()],
      ['outbound guard', () => this.outboundGuard.close()],
      [
        'event log',
        async () => {
          this.#stopLogging?.();
          this.#stopLogging = undefined;
          await this.eventLog.stop();
        },
      ],
      ['cluster', () => this.coordinator?.stop()],
      ['store', () => this.store.stop()],
    ];
    try {
      for (const [name, stop] of steps) {
        this.#stopping = name;
        await stop();
      }
    } finally {
      this.#stopping = undefined;
    }
  }

  /** The step stop() is in (`'evidence'`, `'store'`), or undefined when the hub is not stopping. */
  get stopping(): string | undefined {
    return this.#stopping;
  }

  /** Renewed certificate files reach the listeners that use them; failed handshakes are counted. */
  #watchCertificates(http: FastifyInstance): void {
    const tls = this.deployment.tls;
    if (this.#tls === undefined || tls === undefined) return;
    const server = http.server as unknown as TlsServer;
    if (tls.http) {
      server.on('tlsClientError', (error: Error, socket: TLSSocket) =>
        this.#tlsFailure('http', socket.remoteAddress, error.message),
      );
    }
    this.#tls.onChange((material) => {
      if (tls.http) server.setSecureContext({ cert: material.cert, key: material.key });
      if (tls.mqtt) this.broker.setSecureContext?.(material);
    });
  }

  #tlsFailure(listener: 'http' | 'mqtt', address: string | undefined, message: string): void {
    tlsMetrics(this.metrics).handshakeFailures.labels(listener).inc();
    const suppressed = this.#tlsFailureLog.admit(`${listener}:${address ?? ''}`);
    if (suppressed >= 0) {
      this.#logger.warn({ ns: 'tls', listener, address, error: message, suppressed }, 'TLS handshake failed');
    }
  }

  health(): HealthReport {
    const components = {
      store: { state: this.store.state, kind: this.store.kind },
      mqtt: this.broker.health(),
      http: { state: this.#http?.server.listening ? 'up' : 'down', port: this.httpPort },
      realtime: { state: this.realtime.state },
      cameras: {
        state: this.cameras.state,
        sessions: this.cameras.summary,
        ...(this.cameraLeases === undefined ? {} : { leased: this.cameraLeases.held.length }),
      },
      ...(this.coordinator === undefined
        ? {}
        : { cluster: { state: this.coordinator.state, instance: this.coordinator.instanceId } }),
    } as const;
    const status = Object.values(components).every((component) => component.state === 'up')
      ? 'ok'
      : 'degraded';
    return { status, components };
  }
}

/** An instance's client id on an external broker: stable and its own, so its session outlives a restart. */
function externalClientId(clientId: string | undefined): string {
  if (clientId !== undefined) return clientId;
  throw new GridhubError(
    'GRIDHUB_CONFIG_INVALID',
    'the external broker needs a client id for this instance',
    {
      problems: [
        'mqtt.external.clientId: set it, or MQTT_CLIENT_ID, to an id stable across restarts and own to this instance',
      ],
    },
  );
}
