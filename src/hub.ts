import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { TokenAuthenticator } from './auth/token-authenticator.ts';
import type { Deployment, RuntimeSettings } from './config/load.ts';
import { TypedBus } from './core/bus.ts';
import { listenError } from './core/errors.ts';
import type { HubBusEvents } from './core/events.ts';
import { createIdentifierPolicy } from './core/privacy.ts';
import { TopicGrammar } from './core/topics.ts';
import { buildHttpApp, type HealthReport } from './http/http-app.ts';
import { IncidentPipeline } from './incidents/incident-pipeline.ts';
import { RuleBook } from './incidents/rule-book.ts';
import { DeviceIngest } from './ingest/device-ingest.ts';
import { EmbeddedBroker } from './ingest/embedded-broker.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { HubMetrics } from './observability/metrics.ts';
import { Realtime } from './realtime/realtime.ts';
import { LmdbStore } from './store/lmdb-store.ts';
import type { Store } from './store/store.ts';

const projectRoot = path.resolve(import.meta.dirname, '..');

export interface HubOptions {
  readonly deployment: Deployment;
  readonly runtime: RuntimeSettings;
  /** Address the HTTP and MQTT servers bind; tests use 127.0.0.1. */
  readonly host?: string;
  readonly logger?: Logger;
}

/**
 * The composition root: builds the components, wires them through the bus, starts them in order and stops
 * them in reverse. The constructor only assigns; start() does the work; stop() undoes all of it.
 */
export class Hub {
  readonly bus = new TypedBus<HubBusEvents>();
  readonly metrics = new HubMetrics();
  readonly topics: TopicGrammar;
  readonly store: Store;
  readonly broker: EmbeddedBroker;
  readonly realtime: Realtime;
  readonly #options: HubOptions;
  readonly #logger: Logger;
  readonly #authenticator: TokenAuthenticator;
  readonly #ingest: DeviceIngest;
  #http: FastifyInstance | undefined;
  #started = false;

  constructor(options: HubOptions) {
    const { deployment, runtime } = options;
    this.#options = options;
    this.#logger = options.logger ?? createLogger();
    this.#authenticator = new TokenAuthenticator(deployment.users);
    this.topics = new TopicGrammar(deployment.settings.topicBase);
    this.store = new LmdbStore({
      dataDir: runtime.dataDir,
      deadLetterLimit: deployment.settings.deadLetterLimit,
    });
    const pipeline = new IncidentPipeline({
      rules: new RuleBook(deployment.rules),
      store: this.store,
      bus: this.bus,
      metrics: this.metrics,
    });
    this.#ingest = new DeviceIngest({
      topics: this.topics,
      devices: new Map(deployment.devices.map((device) => [device.id, device])),
      maxPayloadBytes: deployment.settings.maxPayloadBytes,
      decodeContext: {
        identifiers: createIdentifierPolicy(
          deployment.settings.identifiers,
          deployment.settings.identifierHashKey,
        ),
      },
      pipeline,
      store: this.store,
      bus: this.bus,
      metrics: this.metrics,
      logger: this.#logger,
    });
    this.broker = new EmbeddedBroker({
      host: options.host ?? '0.0.0.0',
      port: runtime.mqttPort,
      webSocketPath: '/mqtt',
      onMessage: (topic, payload, receivedAt) => this.#ingest.handle(topic, payload, receivedAt),
      metrics: this.metrics,
      logger: this.#logger,
    });
    this.realtime = new Realtime({
      authenticator: this.#authenticator,
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
    const host = this.#options.host ?? '0.0.0.0';
    try {
      await this.store.start();
      await this.broker.start();
      const http = buildHttpApp({
        store: this.store,
        metrics: this.metrics,
        authenticator: this.#authenticator,
        health: () => this.health(),
        dashboardIndex: path.join(projectRoot, 'dashboard', 'index.html'),
      });
      this.#http = http;
      await http.listen({ port: runtime.httpPort, host }).catch((error: unknown) => {
        throw listenError(error, 'HTTP', runtime.httpPort, 'PORT');
      });
      this.broker.attachWebSocket(http.server);
      this.realtime.start(http.server);
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#logger.info(
      { ns: 'hub', http: this.httpPort, mqtt: this.mqttPort, devices: this.deployment.devices.length },
      'gridhub started',
    );
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.realtime.stop();
    await this.broker.stop();
    await this.#http?.close();
    this.#http = undefined;
    await this.store.stop();
  }

  health(): HealthReport {
    const components = {
      store: { state: this.store.state, kind: this.store.kind },
      mqtt: { state: this.broker.state, port: this.mqttPort, connectedDevices: this.broker.connectedClients },
      http: { state: this.#http?.server.listening ? 'up' : 'down', port: this.httpPort },
      realtime: { state: this.realtime.state },
    } as const;
    const status = Object.values(components).every((component) => component.state === 'up')
      ? 'ok'
      : 'degraded';
    return { status, components };
  }
}
