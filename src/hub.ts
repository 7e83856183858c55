import { isIPv6 } from 'node:net';
import { availableParallelism, networkInterfaces } from 'node:os';
import path from 'node:path';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { AuditTrail } from './audit/audit-trail.ts';
import { Accounts } from './auth/accounts.ts';
import { GuessLimiter } from './auth/guess-limiter.ts';
import { RememberedDevices } from './auth/remembered-devices.ts';
import { type SessionEndReason, Sessions } from './auth/sessions.ts';
import { TokenAuthenticator } from './auth/token-authenticator.ts';
import { CombinedCameraDirectory } from './cameras/camera-directory.ts';
import { EvidenceService } from './cameras/evidence/evidence-service.ts';
import { MediaStore } from './cameras/evidence/media-store.ts';
import { PreAlarmBuffers } from './cameras/evidence/pre-alarm-buffer.ts';
import { LiveViews } from './cameras/live/live-views.ts';
import { OnvifSessions, type OnvifSessionsOptions } from './cameras/sessions/onvif-sessions.ts';
import { Catalogue } from './cases/catalogue.ts';
import { HotlineOrders } from './cases/hotline-orders.ts';
import { PeopleCases } from './cases/people-cases.ts';
import { checkDemoExposure } from './config/demo-guard.ts';
import type { Deployment, RuntimeSettings } from './config/load.ts';
import type { DeviceTransport } from './core/adapter.ts';
import { TypedBus } from './core/bus.ts';
import { component } from './core/component.ts';
import type { FrameHandler } from './core/connector.ts';
import { GridhubError, listenError } from './core/errors.ts';
import type { HubBusEvents } from './core/events.ts';
import { Lifecycle } from './core/lifecycle.ts';
import { createIdentifierPolicy } from './core/privacy.ts';
import { TopicGrammar } from './core/topics.ts';
import { FieldUploads } from './field/field-uploads.ts';
import { MqttAccessPolicy } from './fleet/access-policy.ts';
import { CommandRoutes } from './fleet/command-routes.ts';
import type { CommandTransport } from './fleet/command-service.ts';
import { CommandService } from './fleet/command-service.ts';
import { DeviceRegistry } from './fleet/device-registry.ts';
import { Fleet } from './fleet/fleet.ts';
import { fleetMetrics } from './fleet/fleet-metrics.ts';
import { LivenessMonitor } from './fleet/liveness-monitor.ts';
import { ThrottledMqttAccess } from './fleet/throttled-access.ts';
import { clientAddressOf } from './http/client-address.ts';
import { buildHttpApp, type HealthReport } from './http/http-app.ts';
import { consoleSettingsOf } from './incidents/console-settings.ts';
import { deadlineMsOf } from './incidents/incident-actions.ts';
import { IncidentPipeline } from './incidents/incident-pipeline.ts';
import { IncidentService } from './incidents/incident-service.ts';
import { Router } from './incidents/router.ts';
import { RuleBook } from './incidents/rule-book.ts';
import { Visibility } from './incidents/visibility.ts';
import { AedesBroker } from './ingest/aedes-broker.ts';
import { DahuaEventStreams, type DahuaStreamTiming } from './ingest/dahua-event-streams.ts';
import { DeviceHttpListener } from './ingest/device-http-listener.ts';
import { DeviceIngest } from './ingest/device-ingest.ts';
import { EventSink } from './ingest/event-sink.ts';
import { ExternalBrokerClient } from './ingest/external-broker.ts';
import { adoptChannel } from './ingest/gb28181/channel-adoption.ts';
import { Gb28181Server } from './ingest/gb28181/gb28181-server.ts';
import { defaultHikvisionTiming, HikvisionIsapi, type HikvisionTiming } from './ingest/hikvision-isapi.ts';
import { mqttMetrics } from './ingest/ingest-metrics.ts';
import type { MqttTransport, OwnMqttBroker } from './ingest/mqtt-transport.ts';
import { limitCloseReporter } from './ingest/packet-limits.ts';
import { SiaDc09Receiver, siaPanelFinder } from './ingest/sia-dc09/sia-receiver.ts';
import { ThreadedBroker } from './ingest/threaded-broker.ts';
import { ZktecoAdmsReceiver } from './ingest/zkteco-adms.ts';
import { AddressPolicy, OutboundGuard } from './net/outbound-address.ts';
import { outboundGuardMetrics } from './net/outbound-metrics.ts';
import { uriHost } from './net/uri-host.ts';
import type { NotificationChannel } from './notify/channel.ts';
import { createChannels } from './notify/channels/index.ts';
import { webPushRoutesOf } from './notify/channels/web-push.ts';
import { NotificationService } from './notify/notification-service.ts';
import { createLogger, type Logger, LogThrottle } from './observability/logger.ts';
import { MetricsRegistry } from './observability/metrics-registry.ts';
import { Gb28181Cascade } from './outbound/gb28181-cascade.ts';
import { Outbound } from './outbound/index.ts';
import { DutySweep } from './patrols/duty-sweep.ts';
import { PatrolService } from './patrols/patrol-service.ts';
import { WorkLogs } from './patrols/work-log.ts';
import { WorkerPositions } from './positions/worker-positions.ts';
import { Realtime } from './realtime/realtime.ts';
import { TlsCredentials } from './security/tls-credentials.ts';
import { tlsMetrics } from './security/tls-metrics.ts';
import { type Sharing, sharingOf } from './sharing.ts';
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
  /** Hikvision alert stream and command timings (ms); tests shorten them. */
  readonly hikvisionTiming?: Partial<HikvisionTiming>;
  /** Dahua event stream timings (heartbeat, stall, retry); tests shorten them. */
  readonly dahuaTiming?: Partial<DahuaStreamTiming>;
  /**
   * The clock (ms since the epoch) the limits on guessing and login sessions read (their opening and end, their JWTs'
   * issue and expiry, the closing of a socket at its session's end), and device liveness (heard times, silences,
   * watchdogs) and the deadline sweep compare by, Date.now when not given: tests move it past a lockout, a session's
   * end, a device's threshold or an incident's deadline instead of waiting it out. Nothing else reads it; every timer
   * stays real.
   */
  readonly clock?: () => number;
  /** Notification channels to use instead of those `notify.channels` makes: tests record deliveries with them. */
  readonly notifyChannels?: readonly NotificationChannel[];
  /** Ms one second of a notification policy lasts (delays, bundle windows, retry backoff): 1000; tests shorten it. */
  readonly notifySecondMs?: number;
}

/** What tests (and the bench's diagnostics) reach inside a running hub: nothing else of it is public. */
export interface HubTestHandle {
  readonly store: Store;
  readonly incidents: IncidentService;
  readonly visibility: Visibility;
  /** The embedded broker, a clustered one, or the client of an external broker (`mqtt.mode`). */
  readonly broker: MqttTransport;
  readonly cameras: OnvifSessions;
  readonly dahua: DahuaEventStreams;
  readonly hikvision: HikvisionIsapi;
  readonly media: MediaStore;
  readonly metrics: MetricsRegistry;
  readonly notifications: NotificationService;
  /** The missed-duty sweep, for a test to run at a moved clock. */
  readonly dutySweep: DutySweep;
}

/**
 * The composition root: builds the components over the deployment's {@link Sharing} (alone, or siblings sharing
 * Redis), lists them in the order they start, and leaves starting and stopping them to a {@link Lifecycle}. The
 * constructor only assigns; start() does the work; stop() undoes all of it.
 */
export class Hub {
  /** The typed bus the components talk through; subscribers outside the hub (the demo, the bench) listen here. */
  readonly bus = new TypedBus<HubBusEvents>();
  readonly testHandle: HubTestHandle;
  readonly #options: HubOptions;
  readonly #logger: Logger;
  /** Every module declares its metrics on it (declareMetrics); GET /metrics shows them. */
  readonly #metrics = new MetricsRegistry();
  readonly #registry: DeviceRegistry;
  /** The hub's own broker, unless it is the client of an external one. */
  readonly #own: OwnMqttBroker | undefined;
  readonly #lifecycle: Lifecycle;
  /** The listener devices push to over HTTP (`receivers.http`), when configured. */
  readonly #deviceHttp: DeviceHttpListener | undefined;
  #http: FastifyInstance | undefined;
  /** The GB/T 28181 SIP server, when `receivers.gb28181` is set. */
  readonly #gb28181: Gb28181Server | undefined;
  /** The SIA DC-09 receiver of alarm panels, when `receivers.siaDc09` is set. */
  readonly #sia: SiaDc09Receiver | undefined;
  /** The certificate files of the TLS listeners, watched for renewals (`tls` in the config). */
  readonly #tls: TlsCredentials | undefined;
  readonly #tlsFailureLog = new LogThrottle();
  #started = false;

  constructor(options: HubOptions) {
    const { deployment, runtime } = options;
    const { settings } = deployment;
    const metrics = this.#metrics;
    const bus = this.bus;
    this.#options = options;
    const logger = options.logger ?? createLogger();
    this.#logger = logger;
    const host = options.host ?? '127.0.0.1';
    const tls = deployment.tls;
    // Declared with TLS off too, as they always were: a dashboard reads their absence as no data.
    const tlsCounted = tlsMetrics(metrics);
    this.#tls =
      tls === undefined
        ? undefined
        : new TlsCredentials({
            files: { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }) },
            checkMs: tls.reloadCheckSeconds * 1000,
            metrics: tlsCounted,
            logger,
          });
    const guesses = new GuessLimiter({ limits: deployment.limits.auth, metrics, logger, now: options.clock });
    const topics = new TopicGrammar(settings.topicBase);
    /** network.outbound applied: every connection made on a caller's behalf (cameras, webhooks) goes through it. */
    const outboundGuard = new OutboundGuard({
      policy: new AddressPolicy(deployment.network.outbound),
      refusals: outboundGuardMetrics(metrics).refusals,
      logger,
    });
    // The one place the deployment is chosen: alone, or siblings sharing Redis.
    const sharing = sharingOf({ deployment, runtime, metrics, logger });
    const { store, eventLog } = sharing;
    /** Login sessions, in the store: every instance sharing it sees a session end. */
    const sessions = new Sessions({
      store,
      maxHours: settings.sessionMaxHours,
      metrics,
      logger,
      now: options.clock,
    });
    const audit = new AuditTrail(store);
    const devices = new DeviceRegistry({
      configDevices: deployment.devices,
      jurisdiction: deployment.jurisdiction,
      adapters: deployment.adapters,
      store,
    });
    /** People's accounts: the users REST, Socket.IO and MQTT know. */
    const accounts = new Accounts({
      store,
      audit,
      configUsers: deployment.users,
      jurisdiction: deployment.jurisdiction,
      sessions,
      lockout: settings.loginLockout,
      isDeviceId: (id) => devices.get(id) !== undefined,
      metrics,
      logger,
      ...(sharing.accountsRefreshMs === undefined ? {} : { refreshMs: sharing.accountsRefreshMs }),
    });
    // A cycle: accounts and devices share one namespace of ids, and each refuses an id the other holds (every
    // user's, those made through the API included).
    devices.attach(accounts);
    /** Workers' phones that stay logged in until revoked; revoked with the account's sessions (disable, reset). */
    const rememberedDevices = new RememberedDevices({
      store,
      sessions,
      isActiveUser: (userId) => accounts.principal(userId) !== undefined,
      metrics,
      logger,
      now: options.clock,
    });
    this.#registry = devices;
    const authenticator = new TokenAuthenticator({
      directory: accounts,
      sessions,
      jwtTtlMinutes: settings.jwtTtlMinutes,
      now: options.clock,
      ...(settings.jwtSecret === undefined ? {} : { jwtSecret: settings.jwtSecret }),
    });
    const visibility = new Visibility(deployment.routing.deviceHealthCategories);
    // Who routing, dispatch, notifications, patrols and the assessment know: the config's users and the API's
    // accounts, current as accounts change (accounts.people).
    const people = accounts.people;
    const router = new Router(people, deployment.rosters, deployment.routing, settings.timezone);
    const incidents = new IncidentService({
      store,
      bus,
      metrics,
      router,
      visibility,
      deadlines: deployment.deadlines,
      jurisdiction: deployment.jurisdiction,
      people,
      logger,
      sweepMs: options.deadlineSweepMs ?? 1000,
      now: options.clock,
      writer: sharing.incidentWriter,
      flood: deployment.flood,
      // Field work (#24): arrivals judged against the device's location.
      arrivals: {
        coordinates: deployment.map.coordinates,
        radiusM: deployment.field.arrivalRadiusM,
        keepPositions: deployment.field.keepPositions,
      },
      // #25: 延期/挂账 bounds and the departments cases are handed to.
      lifecycle: deployment.lifecycle,
      departments: deployment.departments,
    });
    // Notifications off the hub's pages (#24): the channels the config names (or a test's), the policies over them.
    const notifications = new NotificationService({
      bus,
      store,
      channels:
        options.notifyChannels ?? createChannels(deployment.notify.channels, { store, logger, metrics }),
      config: deployment.notify,
      people,
      officersOnDuty: (nodeId, now) => router.officersOnDuty(nodeId, now),
      nodeName: (nodeId) => deployment.jurisdiction.node(nodeId)?.name,
      timeZone: settings.timezone,
      baseUrl: () => deployment.notify.publicUrl ?? this.#listenerUrl(host),
      metrics,
      logger,
      ...(options.clock === undefined ? {} : { now: options.clock }),
      ...(options.notifySecondMs === undefined ? {} : { secondMs: options.notifySecondMs }),
    });
    const pipeline = new IncidentPipeline(
      new RuleBook(deployment.rules, {
        correlations: deployment.correlations,
        suppressions: deployment.suppressions,
        timezone: settings.timezone,
      }),
      incidents,
      { metrics, inMaintenance: (deviceId, now) => devices.inMaintenance(deviceId, now) },
    );
    // Every connector's decoded events, and the hub's own (liveness), go through one sink: the bus, then the pipeline.
    const sink = new EventSink(bus, pipeline);
    const liveness = new LivenessMonitor({
      registry: devices,
      bus,
      metrics,
      logger,
      raise: (event, device) => sink.accept(event, device, performance.now()),
      sweepMs: options.livenessSweepMs ?? 1000,
      ledger: sharing.livenessLedger,
      now: options.clock,
    });
    const realtime = new Realtime({
      authenticator,
      sessions,
      now: options.clock,
      guesses,
      maxBufferedBytes: deployment.limits.realtime.maxBufferedBytes,
      incidents,
      recoveryMs: settings.pushRecoverySeconds * 1000,
      trustProxy: deployment.http.trustProxy,
      corsOrigins: deployment.http.corsOrigins,
      pushes: sharing.pushes,
      chainOf: (gridId) => deployment.jurisdiction.grid(gridId)?.chain,
      bus,
      metrics,
      logger,
    });
    const ingest = new DeviceIngest({
      topics,
      devices,
      activity: liveness,
      maxPayloadBytes: settings.maxPayloadBytes,
      decodeContext: {
        identifiers: createIdentifierPolicy(settings.identifiers, settings.identifierHashKey),
      },
      sink,
      store,
      bus,
      metrics,
      logger,
    });
    const onMessage = (topic: string, payload: Buffer, receivedAt: number) => {
      const handled = ingest.handle(topic, payload, receivedAt);
      return handled === undefined ? undefined : sharing.acknowledgeAfter(handled);
    };
    const refuseFrame = ingest.refuseFrame.bind(ingest);
    const receivers = deployment.receivers;
    const deviceHttp =
      receivers.http === undefined
        ? undefined
        : new DeviceHttpListener({
            host,
            port: receivers.http.port,
            limits: {
              maxBodyBytes: receivers.http.maxBodyBytes,
              maxHeaderBytes: receivers.http.maxHeaderBytes,
              requestTimeoutMs: receivers.http.requestTimeoutSeconds * 1000,
              maxConnections: receivers.http.maxConnections,
            },
            refuse: refuseFrame,
            metrics,
            logger,
          });
    this.#deviceHttp = deviceHttp;
    const siaSettings = deployment.receivers.siaDc09;
    this.#sia =
      siaSettings === undefined
        ? undefined
        : new SiaDc09Receiver({
            settings: siaSettings,
            host,
            topics,
            panelOf: siaPanelFinder(() => devices.all),
            onMessage,
            refuse: refuseFrame,
            now: options.clock ?? Date.now,
            metrics,
            logger,
          });
    const sia = this.#sia;
    // GB/T 28181 devices register to the SIP server; the channels their catalogs list become cameras of their own.
    const gbSettings = deployment.receivers.gb28181;
    const gb28181 =
      gbSettings === undefined
        ? undefined
        : new Gb28181Server({
            settings: gbSettings,
            host,
            topics,
            devices,
            onMessage,
            refuse: refuseFrame,
            activity: liveness,
            adopt: (channel) => adoptChannel(devices, deployment.jurisdiction, channel),
            uploadBase: () =>
              deviceHttp === undefined || deviceHttp.port === 0
                ? undefined
                : `http://${uriHost(gbSettings.publicHost ?? gbSettings.host ?? host)}:${deviceHttp.port}`,
            timeZone: settings.timezone,
            ...(options.clock === undefined ? {} : { now: options.clock }),
            metrics,
            logger,
          });
    this.#gb28181 = gb28181;
    if (gb28181 !== undefined) deviceHttp?.route('/gb28181/', 'gb28181', gb28181.route);
    // ZKTeco terminals push over ADMS to the device HTTP listener; their commands wait there for their next poll.
    const adms =
      deviceHttp === undefined
        ? undefined
        : new ZktecoAdmsReceiver({
            devices,
            topics,
            onMessage,
            refuse: refuseFrame,
            activity: liveness,
            timeZone: settings.timezone,
            commandTimeoutMs: settings.commandTimeoutSeconds * 1000,
            metrics,
            logger,
            now: options.clock,
          });
    if (adms !== undefined) deviceHttp?.route('/iclock/', 'zkteco-adms', adms.route);
    const external = deployment.mqtt.mode === 'external' ? deployment.mqtt.external : undefined;
    const own =
      external === undefined
        ? this.#ownBroker({
            topics,
            devices,
            authenticator,
            visibility,
            liveness,
            guesses,
            onMessage,
            sharing,
          })
        : undefined;
    const broker: MqttTransport =
      external === undefined
        ? (own as OwnMqttBroker)
        : this.#externalBroker(external, topics, liveness, onMessage);
    this.#own = own;
    // Which devices the hub dials this instance follows, when siblings share them (ONVIF cameras, Dahua and
    // Hikvision devices).
    const { partition, leases: cameraLeases } = sharing.cameraPartition(devices);
    // Hikvision devices: their alert streams (the leased ones), their pushes to the device HTTP listener (wherever
    // they arrive), their commands.
    const hikvision = new HikvisionIsapi({
      registry: devices,
      topics,
      bus,
      onMessage,
      refuse: refuseFrame,
      ...(deviceHttp === undefined ? {} : { listener: deviceHttp }),
      guard: outboundGuard,
      guesses,
      online: (deviceId) => liveness.status(deviceId)?.online === true,
      limits: {
        maxHeaderBytes: 8 * 1024,
        maxPartBytes: receivers.http?.maxBodyBytes ?? 4 * 1_048_576,
      },
      timing: { ...defaultHikvisionTiming, ...options.hikvisionTiming },
      ...(partition === undefined ? {} : { partition }),
      metrics,
      logger,
    });
    // Dahua devices: the hub attaches to each one's event stream; its parts come in through onMessage.
    const dahua = new DahuaEventStreams({
      registry: devices,
      bus,
      topics,
      onFrame: onMessage,
      refuse: refuseFrame,
      liveness,
      guard: outboundGuard,
      ...(partition === undefined ? {} : { partition }),
      limits: { maxHeaderBytes: 8 * 1024, maxPartBytes: settings.maxPayloadBytes },
      timing: {
        connectTimeoutMs: 10_000,
        retryMinMs: 1_000,
        retryMaxMs: 60_000,
        commandTimeoutMs: settings.commandTimeoutSeconds * 1000,
        ...options.dahuaTiming,
      },
      metrics,
      logger,
    });
    const commands = new CommandService({
      registry: devices,
      // Each device's commands go out the way its adapter's transport carries them: MQTT unless listed here.
      transport: new CommandRoutes({
        fallback: broker,
        byTransport: new Map<DeviceTransport, CommandTransport>([
          ['hikvision-isapi', hikvision.commands],
          ['dahua-cgi', dahua.commands],
          ...(adms === undefined ? [] : [['zkteco-adms', adms] as const]),
          ...(gb28181 === undefined ? [] : [['gb28181', gb28181.commands] as const]),
        ]),
        devices,
        topics,
      }),
      topics,
      audit,
      bus,
      metrics,
      timeoutMs: settings.commandTimeoutSeconds * 1000,
    });
    const fleet = new Fleet({
      registry: devices,
      liveness,
      commands,
      audit,
      bus,
      disconnect: (deviceId) => {
        broker.disconnect(deviceId);
        // An ADMS terminal holds no connection: what it has here is its queue and its last poll.
        adms?.disconnect(deviceId);
        gb28181?.commands.disconnect(deviceId);
      },
    });
    const onvif = new OnvifSessions({
      ...(partition === undefined ? {} : { partition }),
      registry: devices,
      sink,
      liveness,
      bus,
      metrics,
      logger,
      guard: outboundGuard,
      refuse: refuseFrame,
      hubUrl: () => deployment.cameras.notifyUrl ?? this.#listenerUrl(host),
      timing: {
        requestTimeoutMs: 10_000,
        aliveEveryMs: 5_000,
        retryMinMs: 1_000,
        retryMaxMs: 30_000,
        ...options.onvifTiming,
      },
    });
    // A cycle: among siblings the leases say which devices the hub dials (ONVIF cameras, Dahua and Hikvision
    // devices) each instance follows, and drive the sessions and streams, and read the sessions.
    cameraLeases?.attach({ followers: [onvif, dahua, hikvision], views: onvif });
    // ONVIF cameras through their sessions; cameras with an HTTP API through the media their adapter names.
    const cameraDirectory = new CombinedCameraDirectory(
      onvif,
      (deviceId) => devices.get(deviceId),
      gb28181 === undefined ? undefined : (cameraId, signal) => gb28181.snapshot(cameraId, signal),
    );
    const media = new MediaStore({
      dataDir: runtime.dataDir,
      ...(deployment.media.directory === undefined ? {} : { directory: deployment.media.directory }),
      retention: deployment.media.retention,
      logger,
      metrics,
    });
    // The rolling buffers behind clips that begin before the alarm (media.preAlarmSeconds), beside the media.
    const preAlarm =
      deployment.media.preAlarmSeconds > 0
        ? new PreAlarmBuffers({
            cameras: cameraDirectory,
            cameraIds: () =>
              [...devices.all].map((device) => device.id).filter((id) => cameraDirectory.isCamera(id)),
            guard: outboundGuard,
            // Local to this hub (even when the media directory is shared): the rings are its own cameras' streams.
            directory: path.join(runtime.dataDir, 'pre-alarm'),
            beforeSeconds: deployment.media.preAlarmSeconds,
            afterSeconds: deployment.media.clipSeconds,
            ...(deployment.media.rtspTransport === undefined
              ? {}
              : { transport: deployment.media.rtspTransport }),
            logger,
          })
        : undefined;
    const evidence = new EvidenceService({
      bus,
      cameras: cameraDirectory,
      incidents,
      store: media,
      cameraDeviceIds: (deviceId) => cameraDirectory.isCamera(deviceId),
      clipSeconds: deployment.media.clipSeconds,
      skipCategories: ['storm', ...deployment.routing.deviceHealthCategories],
      rtspTransport: deployment.media.rtspTransport,
      metrics,
      logger,
      guard: outboundGuard,
      ...(preAlarm === undefined
        ? {}
        : { preAlarm: { buffers: preAlarm, seconds: deployment.media.preAlarmSeconds } }),
    });
    const live = new LiveViews({
      cameras: cameraDirectory,
      guard: outboundGuard,
      transport: deployment.media.rtspTransport,
      metrics,
      logger,
    });
    const outbound = new Outbound({
      bus,
      publish: (topic, payload) => broker.publish(topic, payload),
      ...(own === undefined ? {} : { hasSubscribers: own.hasSubscribers.bind(own) }),
      topicBase: settings.topicBase,
      config: deployment.outbound,
      ...(store.outbox === undefined ? {} : { outbox: store.outbox }),
      audit,
      metrics,
      logger,
      guard: outboundGuard,
    });
    // The GB/T 28181 cascade (outbound.gb28181): gridhub as a lower platform of a superior one.
    // Among siblings sharing Redis each would register as the same platform: until the cascade holds a lease, it
    // runs only on a hub alone.
    const cascadeSettings = deployment.outbound.gb28181;
    const cascade =
      cascadeSettings?.enabled === true && store.kind !== 'redis'
        ? new Gb28181Cascade({
            config: cascadeSettings,
            bus,
            devices: () => devices.all,
            online: (deviceId) => liveness.status(deviceId)?.online === true,
            host,
            timeZone: settings.timezone,
            metrics,
            logger,
          })
        : undefined;
    if (cascadeSettings?.enabled === true && cascade === undefined)
      logger.warn({ ns: 'hub' }, 'outbound.gb28181 is not started among siblings sharing Redis');
    /** Grid workers' positions while on duty (#24): pushed through the bus, kept in the store's records. */
    const positions = new WorkerPositions({
      settings: deployment.positions,
      store,
      router,
      jurisdiction: deployment.jurisdiction,
      bus,
      metrics,
      logger,
      now: options.clock,
    });
    /** Patrols, zero reports, missed duty raised to the grid chief, work logs (#25 point 5). */
    const patrols = new PatrolService({
      settings: deployment.patrols,
      store,
      router,
      jurisdiction: deployment.jurisdiction,
      people,
      coordinates: deployment.map.coordinates,
      timezone: settings.timezone,
      fallbackKey: settings.identifierHashKey,
      metrics,
      now: options.clock,
    });
    const workLogs = new WorkLogs({
      patrols,
      store,
      people,
      jurisdiction: deployment.jurisdiction,
    });
    const dutySweep = new DutySweep({
      patrols,
      incidents,
      store,
      jurisdiction: deployment.jurisdiction,
      deadlineMs: deadlineMsOf(deployment.deadlines),
      metrics,
      logger,
      now: options.clock,
      // Alone, a pending miss found is this hub's own crashed raise; shared, it may be a sibling's still under way.
      pendingGraceMs: sharing.redis === undefined ? 0 : 5 * 60_000,
    });
    // Cases from people (#25): the catalogue, field reports and registrations, the 12345 work-order API.
    const catalogue = new Catalogue(deployment.catalogue);
    const peopleCases = new PeopleCases({
      incidents,
      router,
      visibility,
      jurisdiction: deployment.jurisdiction,
      catalogue,
      store,
      metrics,
      coordinates: deployment.map.coordinates,
      reporterRetentionMs: settings.reporterRetentionDays * 86_400_000,
      ...(options.clock === undefined ? {} : { now: options.clock }),
    });
    const hotline = new HotlineOrders({
      config: deployment.hotline,
      peopleCases,
      incidents,
      visibility,
      catalogue,
      jurisdiction: deployment.jurisdiction,
      coordinates: deployment.map.coordinates,
      principal: (userId) => accounts.principal(userId),
      store,
      metrics,
      ...(options.clock === undefined ? {} : { now: options.clock }),
    });
    const buildHttp = () =>
      buildHttpApp({
        catalogue,
        peopleCases,
        hotline,
        store,
        eventLog,
        metrics,
        authenticator,
        sessions,
        accounts,
        rememberedDevices,
        logger,
        guesses,
        fleet,
        outboundGuard,
        incidents,
        visibility,
        jurisdiction: deployment.jurisdiction,
        router,
        people,
        departments: deployment.departments,
        placeOfUser: (userId) => accounts.placeOf(userId),
        registry: devices,
        media,
        uploads: new FieldUploads({
          incidents,
          store,
          visibility,
          media,
          settings: deployment.field,
          metrics,
        }),
        cameras: onvif,
        live,
        isCamera: (deviceId) => cameraDirectory.isCamera(deviceId),
        gotoPreset: (cameraId, preset) => cameraDirectory.gotoPreset(cameraId, preset),
        notifyMaxBytes: deployment.cameras.notifyMaxBytes,
        consoleSettings: consoleSettingsOf({
          timeZone: settings.timezone,
          rules: deployment.rules,
          flood: deployment.flood,
          deadlineMs: deadlineMsOf(deployment.deadlines),
          map: deployment.map,
        }),
        // The monthly assessment's scores (#25 point 6).
        assessmentScoring: {
          settings: deployment.assessment,
          timeZone: settings.timezone,
          deadlineMs: deadlineMsOf(deployment.deadlines),
        },
        health: () => this.health(),
        stopping: () => this.#lifecycle.stopping !== undefined,
        dashboardIndex: path.join(projectRoot, 'dashboard', 'index.html'),
        ...(this.#tls === undefined || deployment.tls?.http !== true ? {} : { tls: this.#tls.current }),
        edge: deployment.http,
        positions,
        patrols,
        workLogs,
        // Web Push subscriptions (/api/push) follow the web_push channel's settings.
        ...webPushRoutesOf(deployment.notify.channels),
        notifications,
      });
    const httpServer = () => (this.#http as FastifyInstance).server;
    let stopLogging: (() => void) | undefined;
    let stopFeedRevocation: (() => void) | undefined;
    const credentials = this.#tls;
    // In the order they start; they stop in reverse, the outlets clients hear from first.
    this.#lifecycle = new Lifecycle([
      ...(credentials === undefined
        ? []
        : [component('tls', { start: () => credentials.start(), stop: () => credentials.stop() })]),
      component('store', {
        start: () => store.start(),
        stop: () => store.stop(),
        health: () => ({ state: store.state, kind: store.kind }),
      }),
      ...sharing.components,
      component('event log', {
        start: async () => {
          await eventLog.start();
          stopLogging = bus.on('device:event', (event) => eventLog.append(event));
        },
        stop: async () => {
          stopLogging?.();
          stopLogging = undefined;
          await eventLog.stop();
        },
      }),
      component('outbound guard', { stop: () => outboundGuard.close() }),
      // The webhooks stop once nothing can change an incident any more, so a change made while the rest stops
      // still reaches their outbox.
      component('webhooks', { start: () => outbound.webhooks.start(), stop: () => outbound.webhooks.stop() }),
      component('registry', {
        start: async () => {
          await devices.start();
          if (devices.skipped.length > 0) {
            logger.warn({ ns: 'hub', devices: devices.skipped }, 'stored device records no longer resolve');
          }
        },
      }),
      // Before anything authenticates: the broker's CONNECT and the HTTP API read the accounts.
      component('accounts', { start: () => accounts.start(), stop: () => accounts.stop() }),
      component('remembered-devices', {
        start: async () => rememberedDevices.start(),
        stop: () => rememberedDevices.stop(),
      }),
      component('incidents', { start: () => incidents.start(), stop: () => incidents.stop() }),
      // After the incidents it raises missed duty into.
      component('duty sweep', { start: () => dutySweep.start(), stop: () => dutySweep.stop() }),
      // After the incidents it reads, before anything can raise one; stopped before the store it keeps its steps in.
      component('notifications', {
        start: () => notifications.start(),
        stop: () => notifications.stop(),
        health: () => notifications.health(),
      }),
      // Evidence listens before anything can raise an incident.
      component('media', { start: () => media.start(), stop: () => media.stop() }),
      component('evidence', { start: () => evidence.start(), stop: () => evidence.stop() }),
      ...(preAlarm === undefined
        ? []
        : [
            component('pre-alarm buffers', {
              start: () => preAlarm.start(),
              stop: () => preAlarm.stop(),
              health: () => preAlarm.health(),
            }),
          ]),
      component('live video', {
        start: () => live.start(),
        stop: () => live.stop(),
        health: () => live.health(),
      }),
      component('liveness', { start: () => liveness.start(), stop: () => liveness.stop() }),
      component('commands', { start: () => commands.start(), stop: () => commands.stop() }),
      // The GB/T 28181 cascade: after the registry and liveness it reads, stopped (unregistered) before them.
      ...(cascade === undefined ? [] : [cascade]),
      // The feed publishes on the broker, so it stops before it.
      component('incident feed', {
        start: () => outbound.feed?.start(),
        stop: () => outbound.feed?.stop(),
        stopsFirst: true,
      }),
      component('http', {
        start: async () => {
          const http = await buildHttp();
          this.#http = http;
          this.#watchCertificates(http);
          await http.listen({ port: runtime.httpPort, host }).catch((error: unknown) => {
            throw listenError(error, 'HTTP', runtime.httpPort, 'PORT');
          });
        },
        stop: async () => {
          await this.#http?.close();
          this.#http = undefined;
        },
        health: () => ({ state: this.#http?.server.listening ? 'up' : 'down', port: this.httpPort }),
      }),
      component('realtime', {
        start: () => realtime.start(httpServer()),
        stop: () => realtime.stop(),
        health: () => ({ state: realtime.state }),
        stopsFirst: true,
      }),
      // Connectors last, each fed onMessage (a new one, an HTTP push receiver say, is listed here beside MQTT).
      // Devices last: an external broker hands over a persistent session's backlog the moment the hub connects,
      // and the incidents it raises must find Socket.IO already there to push them.
      component('mqtt', {
        start: async () => {
          await broker.start();
          own?.attachWebSocket(httpServer());
          // A user disabled or removed loses the incident feed at once, not only at their next CONNECT.
          stopFeedRevocation = sessions.onEnd((end) => {
            if (end.sessionId === undefined && feedEndingReasons.has(end.reason))
              broker.disconnect(end.userId);
          });
        },
        stop: () => {
          stopFeedRevocation?.();
          stopFeedRevocation = undefined;
          return broker.stop();
        },
        health: () => broker.health(),
      }),
      hikvision,
      // Protocols that push over HTTP register their paths on it as they are built; it listens once they all have.
      ...(deviceHttp === undefined ? [] : [deviceHttp]),
      // Camera sessions after the broker: a camera incident's first feed messages publish on it. After HTTP too:
      // a camera offering only Basic Notification posts to the consumer endpoint there.
      cameraLeases === undefined
        ? onvif
        : component('cameras', {
            start: () => onvif.start(),
            stop: () => onvif.stop(),
            health: () => ({ ...onvif.health(), leased: cameraLeases.held.length }),
          }),
      ...(cameraLeases === undefined
        ? []
        : [
            component('camera leases', {
              start: () => cameraLeases.start(),
              stop: () => cameraLeases.stop(),
            }),
          ]),
      ...(sia === undefined ? [] : [sia]),
      ...(gb28181 === undefined ? [] : [gb28181]),
      dahua,
    ]);
    this.testHandle = {
      store,
      incidents,
      visibility,
      broker,
      cameras: onvif,
      dahua,
      hikvision,
      media,
      metrics,
      notifications,
      dutySweep,
    };
  }

  /** The client of an external broker (`mqtt.mode: external`), which holds the devices' connections. */
  #externalBroker(
    external: NonNullable<Deployment['mqtt']['external']>,
    topics: TopicGrammar,
    liveness: LivenessMonitor,
    onMessage: FrameHandler,
  ): MqttTransport {
    const { runtime } = this.#options;
    return new ExternalBrokerClient({
      ...external,
      clientId: externalClientId(runtime.mqttClientId ?? external.clientId),
      topics,
      onMessage,
      // The broker holds the connections: a device is reachable when its heartbeats and status say so.
      isOnline: (deviceId) => liveness.status(deviceId)?.online === true,
      metrics: mqttMetrics(this.#metrics),
      logger: this.#logger,
    });
  }

  /**
   * The hub's own broker: aedes in a thread of its own (`embedded`), or in the hub's thread sharing its state with
   * siblings through Redis (`clustered`).
   */
  #ownBroker(parts: {
    topics: TopicGrammar;
    devices: DeviceRegistry;
    authenticator: TokenAuthenticator;
    visibility: Visibility;
    liveness: LivenessMonitor;
    guesses: GuessLimiter;
    onMessage: FrameHandler;
    sharing: Sharing;
  }): OwnMqttBroker {
    const { deployment, runtime } = this.#options;
    const { settings } = deployment;
    const { topics, liveness, onMessage } = parts;
    const metrics = this.#metrics;
    const logger = this.#logger;
    const tls = deployment.tls;
    const mqtt = deployment.mqtt;
    const feedTopic = `${settings.topicBase}/${deployment.outbound.mqtt.topic}`;
    const policy = new MqttAccessPolicy({
      registry: parts.devices,
      topics,
      authenticator: parts.authenticator,
      canSee: (user, incident) => parts.visibility.canSee(user, incident),
      feedTopic,
      refusals: fleetMetrics(metrics).mqttRefusals,
      logger,
    });
    const access = new ThrottledMqttAccess(policy, parts.guesses);
    const mqttLimits = deployment.limits.mqtt;
    const ownBroker = {
      host: this.#options.host ?? '127.0.0.1',
      port: runtime.mqttPort,
      webSocketPath: '/mqtt',
      access,
      onMessage,
      // Behind a trusted proxy, an MQTT over WebSocket client's own address, as REST and Socket.IO see theirs.
      clientAddress: clientAddressOf(deployment.http.trustProxy),
      onClientConnected: (clientId: string) => liveness.heard(clientId),
      onClientDisconnected: (clientId: string) => liveness.gone(clientId),
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
      metrics: mqttMetrics(metrics),
      logger,
      limits: {
        connectPacketBytes: mqttLimits.connectPacketBytes,
        packetBytes: mqttLimits.packetBytes ?? 4 * settings.maxPayloadBytes,
        connectTimeoutMs: mqttLimits.connectTimeoutSeconds * 1000,
      },
      onLimitClose: limitCloseReporter(mqttMetrics(metrics).limitCloses, logger),
    };
    if (mqtt.mode === 'embedded' && brokerInThread(mqtt.brokerThread)) {
      return new ThreadedBroker({
        ...ownBroker,
        topicBase: settings.topicBase,
        feedTopic,
        deviceHealthCategories: deployment.routing.deviceHealthCategories,
      });
    }
    const redis = parts.sharing.redis;
    return new AedesBroker({
      ...ownBroker,
      ...(redis === undefined
        ? {}
        : {
            cluster: {
              ...redis,
              heartbeatMs: mqtt.clustered.brokerHeartbeatSeconds * 1000,
              everyInstance: [`${settings.topicBase}/devices/+/replies`],
            },
          }),
    });
  }

  get deployment(): Deployment {
    return this.#options.deployment;
  }

  /** The HTTP port actually bound (differs from the setting when that was 0). */
  /**
   * The HTTP listener's URL as a camera would reach it: its bound address, or when it listens on every interface,
   * the machine's first non-loopback IPv4 address (`cameras.notifyUrl` overrides it).
   */
  #listenerUrl(host: string): string {
    const scheme = this.#options.deployment.tls?.http === true ? 'https' : 'http';
    const wildcard = host === '0.0.0.0' || host === '::';
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal)?.address;
    const address = wildcard ? (external ?? '127.0.0.1') : host;
    return `${scheme}://${isIPv6(address) ? `[${address}]` : address}:${this.httpPort}`;
  }

  get httpPort(): number {
    const address = this.#http?.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** The port devices push to over HTTP (`receivers.http`); 0 when it is off. */
  get deviceHttpPort(): number {
    return this.#deviceHttp?.port ?? 0;
  }

  get mqttPort(): number {
    return this.#own?.port ?? 0;
  }

  /** The GB/T 28181 SIP server's port (UDP and TCP), actually bound; 0 when it is off or not started. */
  get gb28181Port(): number {
    return this.#gb28181?.port ?? 0;
  }

  /** The SIA DC-09 receiver's port (TCP and UDP), actually bound; 0 when it is off or not started. */
  get siaPort(): number {
    return this.#sia?.port ?? 0;
  }

  /** How many devices the hub knows (the config's and those added through the API). */
  get deviceCount(): number {
    return this.#registry.size;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    try {
      await checkDemoExposure(
        this.#options.host ?? '127.0.0.1',
        this.deployment,
        this.#options.runtime.demo === true,
      );
      // A component that fails stops those started before it.
      await this.#lifecycle.start();
    } catch (error) {
      this.#started = false;
      throw error;
    }
    this.#logger.info(
      { ns: 'hub', http: this.httpPort, mqtt: this.mqttPort, devices: this.deviceCount },
      'gridhub started',
    );
  }

  /** Stops every component in the reverse order of start() (see {@link Lifecycle}). */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#lifecycle.stop();
  }

  /** The step stop() is in (`'evidence'`, `'store'`), or undefined when the hub is not stopping. */
  get stopping(): string | undefined {
    return this.#lifecycle.stopping;
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
      if (tls.mqtt) this.#own?.setSecureContext(material);
    });
  }

  #tlsFailure(listener: 'http' | 'mqtt', address: string | undefined, message: string): void {
    tlsMetrics(this.#metrics).handshakeFailures.labels(listener).inc();
    const suppressed = this.#tlsFailureLog.admit(`${listener}:${address ?? ''}`);
    if (suppressed >= 0) {
      this.#logger.warn({ ns: 'tls', listener, address, error: message, suppressed }, 'TLS handshake failed');
    }
  }

  /** Every component's report of itself; the hub is ok when each is up. */
  health(): HealthReport {
    const components = this.#lifecycle.health();
    const status = Object.values(components).every((component) => component.state === 'up')
      ? 'ok'
      : 'degraded';
    return { status, components };
  }
}

/**
 * Whether the embedded broker gets a thread of its own. The thread takes the devices' connections and MQTT off the
 * hub's event loop, which pays where a second CPU runs it; on one CPU the two threads only take turns on it, and every
 * device publish and its answer cross between them. There the broker in the hub's thread keeps one heap fewer (30–60
 * MB less RSS) for the same CPU per event (docs/benchmarks-log.md, "one core, the repeat path (2)").
 */
function brokerInThread(setting: 'auto' | 'always' | 'never'): boolean {
  return setting === 'auto' ? availableParallelism() > 1 : setting === 'always';
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
