import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type TLSSocket,
  Server as TlsServer,
} from 'node:tls';
import {
  Aedes,
  type AuthenticateError,
  type AuthenticateHandler,
  type AuthorizePublishHandler,
  type AuthorizeSubscribeHandler,
  type Client,
  type PublishPacket,
} from 'aedes';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import MQEmitterRedis from 'mqemitter-redis';
import type { ComponentState } from '../core/component.ts';
import type { CommandChannel, FrameHandler } from '../core/connector.ts';
import { listenError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import {
  type ClientCertificateCheck,
  type ClientCertificateMode,
  clientCertificateCheck,
  type TlsMaterial,
} from '../security/tls-credentials.ts';
import { createRedis } from '../store/redis-connection.ts';
import { ClusterPresence } from './cluster-presence.ts';
import type { MqttHealth, MqttMode, OwnMqttBroker } from './mqtt-transport.ts';
import { MqttWebSocketPath } from './mqtt-websocket.ts';
import { type LimitClose, limitPackets, type PacketLimits, webSocketFrameLimit } from './packet-limits.ts';
import { SubscriberWatch, type SubscriptionStore } from './subscriber-watch.ts';

/** Several embedded brokers as one: routing through Redis pub/sub, sessions and retained messages in Redis. */
export interface BrokerClusterOptions {
  readonly redisUrl: string;
  /** rediss://: the CA file of the server's certificate. */
  readonly redisCa?: string | undefined;
  /** The store's key prefix, for the hub's own keys (which broker holds which device). */
  readonly keyPrefix: string;
  /** How often each broker tells its siblings it is alive (aedes' heartbeatInterval). */
  readonly heartbeatMs: number;
  /**
   * Topics every instance handles, wherever the device is connected: command replies, which the instance that sent
   * the command waits for (e.g. `gridhub/devices/+/replies`). They raise no incidents, so handling them on every
   * instance duplicates nothing.
   */
  readonly everyInstance: readonly string[];
}

/**
 * What the broker counts: the hub's (mqttMetrics), or a broker thread's stand-ins that report to the hub's thread.
 * Counters, not the registry: this module is loaded in the broker thread, which needs no prom-client.
 */
export interface BrokerMetrics {
  readonly connectedDevices: { set(value: number): void };
  readonly storeFailures: { inc(): void };
}

/**
 * CONNACK return codes of a refusal ([MQTT-3.2.2-3]), by reason; any other is 4 (bad user name or password). One
 * refused for guessing too often hears 3 (server unavailable): it may try again later, as after an outage.
 */
const connackCodes: Record<string, number> = { disabled: 5, unavailable: 3, throttled: 3 };

/** Where the hub asks a sibling to close a device's connection (a device disabled on another instance). */
const disconnectTopic = '$SYS/gridhub/disconnect';

/**
 * The broker's security hooks, after aedes' own: each answers allowed or not, and counts its refusals. What
 * authentication grants belongs to the connection (`connection`, aedes' client object), not to its client id: a
 * client taking over an id, or one that closes while it authenticates, never changes what another connection may do.
 */
export interface BrokerAccess {
  /**
   * Synchronous in the hub's thread; a broker thread asks the hub's thread, and waits. `address`: the client's
   * remote address, where known, for the limits on guessing and the logs.
   */
  authenticate(
    connection: object,
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    address: string | undefined,
    certificate?: ClientCertificateCheck,
  ): { allowed: boolean; reason?: string } | Promise<{ allowed: boolean; reason?: string }>;
  mayPublish(connection: object, clientId: string, topic: string): { allowed: boolean };
  maySubscribe(connection: object, clientId: string, topic: string): { allowed: boolean };
  /** Whether a message goes to this subscriber (aedes' authorizeForward). */
  mayForward(connection: object, topic: string, payload: Buffer): boolean;
}

export interface AedesBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly webSocketPath: string;
  readonly access: BrokerAccess;
  readonly onMessage: FrameHandler;
  /** A client finished connecting (after authentication). */
  readonly onClientConnected: (clientId: string, connection: object) => void;
  /** A client's connection ended, cleanly or not. */
  readonly onClientDisconnected: (clientId: string) => void;
  /** A client subscribed or unsubscribed, or a subscriber left: hasSubscribers may answer differently now. */
  readonly onSubscriptionsChanged?: () => void;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  /** Packet sizes and the connect timeout every connection is held to. */
  readonly limits: PacketLimits;
  /** A connection closed at one of those limits: counted and logged by the hub's thread. */
  readonly onLimitClose: (close: LimitClose) => void;
  /** The client's address of an MQTT over WebSocket upgrade: behind a trusted proxy, the forwarded one. */
  readonly clientAddress?: (request: IncomingMessage) => string | undefined;
  /** Share state with sibling instances through Redis (mqemitter-redis, aedes-persistence-redis). */
  readonly cluster?: BrokerClusterOptions;
  /** MQTTS on the TCP port: the certificate, and whether devices present client certificates. */
  readonly tls?: BrokerTlsOptions;
}

export interface BrokerTlsOptions {
  /** The certificate in use when the broker starts (setSecureContext passes on the ones loaded later). */
  readonly material: () => TlsMaterial;
  readonly clientCertificates: ClientCertificateMode;
  /** A TLS handshake failed (counted and logged by the hub's thread). */
  readonly onHandshakeFailure: (address: string | undefined, error: Error) => void;
}

/**
 * The hub's own MQTT broker, aedes, on a TCP port and as MQTT over WebSocket on the hub's HTTP server. It runs in
 * two places: alone in the broker thread (the `embedded` mode, through ThreadedBroker), and in the hub's thread as
 * the connector of the `clustered` mode, its state shared with the siblings' brokers through Redis.
 *
 * The hub ingests in aedes' `authorizePublish` hook rather than on `publish`: aedes writes a QoS 1 PUBACK
 * after authorizePublish calls back and before it emits the message, so calling back only once the event is
 * stored means an acknowledged message is never lost. A store failure fails the callback, which closes the
 * connection without PUBACK; the device sends the message again when it reconnects.
 *
 * Clustered, the instances' aedes brokers share one message bus (mqemitter-redis: a publish on any instance
 * reaches subscribers on every instance) and one persistence (aedes-persistence-redis: persistent sessions,
 * offline queues, retained messages and last wills). A device connects to any instance; the instance holding its
 * connection ingests what it publishes, so each message is handled once; a command or feed message published by
 * any instance reaches the device or subscriber wherever it is connected. When an instance dies, another publishes
 * the last wills of its devices (aedes does, three heartbeats after the last one), and those are ingested here.
 */
export class AedesBroker implements OwnMqttBroker {
  readonly name = 'mqtt';
  readonly #options: AedesBrokerOptions;
  readonly #log: Logger;
  #aedes: Aedes | undefined;
  #tcp: NetServer | undefined;
  readonly #webSocket: MqttWebSocketPath;
  #state: ComponentState = 'down';
  readonly #sockets = new Set<Socket>();
  readonly #clients = new Map<string, Client>();
  /** Each connection's remote address (aedes' client object → address), where known. */
  readonly #addresses = new WeakMap<object, string>();
  /** Which topics have subscribers (see hasSubscribers); aedes' persistence holds persistent sessions' filters. */
  readonly #subscribers = new SubscriberWatch(
    () => (this.#aedes as unknown as { persistence?: SubscriptionStore } | undefined)?.persistence,
    () => this.#options.onSubscriptionsChanged?.(),
  );
  #presence: ClusterPresence | undefined;
  /** The clustered brokers' shared bus, where siblings also ask each other to close a connection. */
  #mq: MQEmitterRedis.MQEmitterRedis | undefined;

  /** In the broker thread it serves the embedded mode; in the hub's thread, the clustered one. */
  get mode(): MqttMode {
    return this.#options.cluster === undefined ? 'embedded' : 'clustered';
  }

  get kind(): string {
    return this.#options.cluster === undefined
      ? 'mqtt broker (aedes)'
      : "mqtt clustered broker (aedes in the hub's thread, sharing its state through Redis)";
  }

  get commands(): CommandChannel {
    return this;
  }

  constructor(options: AedesBrokerOptions) {
    this.#options = options;
    this.#webSocket = new MqttWebSocketPath(
      options.webSocketPath,
      (stream, request) =>
        this.handle(stream, request, this.#options.clientAddress?.(request) ?? request.socket.remoteAddress),
      webSocketFrameLimit(options.limits),
    );
    this.#log = options.logger.child({ ns: 'mqtt' });
  }

  get state(): ComponentState {
    return this.#state;
  }

  /** The TCP port actually bound (differs from the option when that was 0). */
  get port(): number {
    const address = this.#tcp?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  get connectedClients(): number {
    return this.#aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const cluster = this.#options.cluster;
    const aedes = await Aedes.createBroker({
      ...(cluster === undefined ? {} : this.#clusterState(cluster)),
      connectTimeout: this.#options.limits.connectTimeoutMs,
      authenticate: this.#authenticate,
      authorizePublish: this.#authorizePublish,
      authorizeSubscribe: this.#authorizeSubscribe,
      authorizeForward: (client, packet) =>
        this.#options.access.mayForward(client, packet.topic, packet.payload as Buffer) ? packet : null,
    });
    this.#aedes = aedes;
    if (cluster !== undefined) {
      const presence = new ClusterPresence({
        ...cluster,
        brokerId: aedes.id,
        logger: this.#options.logger,
      });
      this.#presence = presence;
      await presence.start();
      this.#mq?.on(disconnectTopic, (packet, done) => {
        this.#clients.get(String(packet.payload))?.close();
        done();
      });
      for (const topic of cluster.everyInstance) this.#mq?.on(topic, this.#onSiblingMessage);
    }
    const { metrics, onClientConnected, onClientDisconnected } = this.#options;
    aedes.on('client', (client: Client) => {
      this.#clients.set(client.id, client);
      metrics.connectedDevices.set(aedes.connectedClients);
      this.#presence?.connected(client.id);
      onClientConnected(client.id, client);
    });
    aedes.on('clientDisconnect', (client: Client) => {
      // A client that took over the id of a still-connected one (a rebooted device) must not be forgotten here.
      if (this.#clients.get(client.id) === client) this.#clients.delete(client.id);
      metrics.connectedDevices.set(aedes.connectedClients);
      if (!this.#clients.has(client.id)) {
        this.#presence?.disconnected(client.id);
        onClientDisconnected(client.id);
      }
    });
    // Subscribers come and go: a new subscription counts at once, and the store's answer settles every watched topic.
    aedes.on('subscribe', (subscriptions, client) =>
      this.#subscribers.subscribed(
        client,
        subscriptions
          .filter((subscription) => (subscription.qos as number) !== 128)
          .map(({ topic }) => topic),
      ),
    );
    aedes.on('unsubscribe', (topics, client) => this.#subscribers.unsubscribed(client, topics));
    aedes.on('clientDisconnect', (client) => this.#subscribers.unsubscribed(client, undefined));
    aedes.on('clientError', (client: Client, error: Error) => {
      this.#log.debug({ clientId: client.id, error: error.message }, 'client error');
    });
    // A connection that never sent its CONNECT whole: aedes' own timer (connectTimeout) closed it.
    aedes.on('connectionError', (client: Client, error: Error) => {
      if (error.message !== 'connect did not arrive in time') return;
      this.#options.onLimitClose({ reason: 'connect_timeout', address: this.#addresses.get(client) });
    });

    const serve = (socket: Socket): void => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      this.handle(socket, undefined, socket.remoteAddress);
    };
    const tls = this.#options.tls;
    const tcp = tls === undefined ? createServer(serve) : this.#tlsServer(tls, serve);
    this.#tcp = tcp;
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    }).catch(async (error: unknown) => {
      this.#state = 'down';
      await this.#presence?.stop();
      this.#presence = undefined;
      aedes.close();
      throw listenError(error, 'MQTT', port, 'MQTT_PORT');
    });
    this.#state = 'up';
  }

  /**
   * MQTTS: aedes is handed each connection once its handshake is done. Client certificates are asked for but not
   * enforced in the handshake (rejectUnauthorized off): the CONNECT is refused instead, counted with its client id
   * (see clientCertificateCheck).
   */
  #tlsServer(tls: BrokerTlsOptions, serve: (socket: Socket) => void): NetServer {
    const server = createTlsServer(
      {
        ...this.#secureContextOptions(tls.material()),
        requestCert: tls.clientCertificates !== 'off',
        rejectUnauthorized: false,
        // The TLS 1.3 session tickets go out just before the CONNACK: with Nagle on, the CONNACK waited for their
        // delayed ACK (about 40 ms a connection).
        noDelay: true,
      },
      serve,
    );
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      tls.onHandshakeFailure(socket.remoteAddress, error);
      socket.destroy();
    });
    return server;
  }

  #secureContextOptions(material: TlsMaterial): SecureContextOptions {
    return {
      cert: material.cert,
      key: material.key,
      ...(material.ca === undefined ? {} : { ca: material.ca }),
    };
  }

  /** New certificate files: new connections get them, open ones keep theirs. */
  setSecureContext(material: TlsMaterial): void {
    const tcp = this.#tcp;
    if (tcp instanceof TlsServer) tcp.setSecureContext(this.#secureContextOptions(material));
  }

  /** A message published on any instance, on a topic every instance handles. */
  readonly #onSiblingMessage = (packet: { topic: string; payload?: unknown }, done: () => void): void => {
    done();
    const payload = Buffer.isBuffer(packet.payload)
      ? packet.payload
      : Buffer.from(String(packet.payload ?? ''));
    this.#options.onMessage(packet.topic, payload, performance.now())?.catch((error: unknown) => {
      this.#log.warn({ topic: packet.topic, error: (error as Error).message }, 'sibling message failed');
    });
  };

  /** The shared bus and persistence of a clustered broker, each on its own Redis connections. */
  #clusterState(cluster: BrokerClusterOptions): Record<string, unknown> {
    const redisLog = this.#log.child({ ns: 'mqtt-cluster' });
    const redis = { url: cluster.redisUrl, ca: cluster.redisCa };
    const persistenceConnection = createRedis(redis);
    persistenceConnection.on('error', (error: Error) =>
      redisLog.debug({ error: error.message }, 'persistence redis error'),
    );
    // Its own connections, as it would make them (auto-pipelining), made here so TLS is set as for the rest.
    const mq = MQEmitterRedis({
      subConn: createRedis(redis, { enableAutoPipelining: true }),
      pubConn: createRedis(redis, { enableAutoPipelining: true }),
    } as unknown as Parameters<typeof MQEmitterRedis>[0]);
    // Its connection errors (Redis restarting) come out on `state`, which its types leave out.
    (mq as unknown as { state: NodeJS.EventEmitter }).state.on('error', (error: Error) =>
      redisLog.debug({ error: error.message }, 'mq redis error'),
    );
    this.#mq = mq;
    return {
      mq,
      persistence: aedesPersistenceRedis({ conn: persistenceConnection }),
      heartbeatInterval: cluster.heartbeatMs,
    };
  }

  /**
   * Serves an MQTT connection: TCP, or WebSocket, here or relayed from the hub's thread. Held to the packet limits
   * from its first byte.
   */
  handle(stream: Duplex, request?: IncomingMessage, address?: string): void {
    if (this.#aedes === undefined) {
      stream.destroy();
      return;
    }
    const client = this.#aedes.handle(stream, request);
    if (address !== undefined) this.#addresses.set(client, address);
    limitPackets(client, this.#options.limits, (packet, beforeConnack) =>
      this.#options.onLimitClose({
        reason: beforeConnack ? 'connect_too_large' : 'packet_too_large',
        address,
        packet,
      }),
    );
  }

  /** Serves MQTT over WebSocket at the configured path of the hub's HTTP server. */
  attachWebSocket(server: HttpServer): void {
    if (this.#aedes === undefined) throw new Error('attachWebSocket before start');
    this.#webSocket.attach(server);
  }

  /** Publishes from the hub itself (commands to devices), at QoS 1. */
  publish(topic: string, payload: string | Buffer): Promise<void> {
    const aedes = this.#aedes;
    if (aedes === undefined) return Promise.reject(new Error('the broker is not started'));
    return new Promise((resolve, reject) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: 1,
          retain: false,
          dup: false,
        },
        (error?: Error) => (error ? reject(error) : resolve()),
      );
    });
  }

  /**
   * Whether any client, connected or a persistent session away, holds a subscription the topic matches: the hub's
   * own publishers (the incident feed) skip encoding a message nobody can receive. Errs on the side of yes: the
   * first call for a topic answers yes and starts watching it, and a new subscription anywhere counts as one to it
   * until the broker's store says otherwise. Clustered, always yes: a sibling's subscribers are not seen here.
   */
  hasSubscribers(topic: string): boolean {
    return this.mode !== 'embedded' || this.#subscribers.has(topic);
  }

  /** Connected here; clustered, connected to any live sibling. */
  isConnected(clientId: string): boolean | Promise<boolean> {
    if (this.#clients.has(clientId)) return true;
    return this.#presence?.isConnected(clientId) ?? false;
  }

  /** Closes a client's connection (a device just disabled or given a new secret), wherever it is connected. */
  disconnect(clientId: string): void {
    const local = this.#clients.get(clientId);
    if (local !== undefined) {
      local.close();
      return;
    }
    this.#mq?.emit({ topic: disconnectTopic, payload: Buffer.from(clientId) }, () => undefined);
  }

  health(): MqttHealth {
    return {
      state: this.#state,
      mode: this.mode,
      // In the broker thread the ThreadedBroker answers for it: an AedesBroker asked runs in the hub's thread.
      thread: 'hub',
      port: this.port,
      connectedDevices: this.connectedClients,
    };
  }

  async stop(): Promise<void> {
    this.#state = 'down';
    this.#clients.clear();
    this.#subscribers.clear();
    this.#webSocket.close();
    const aedes = this.#aedes;
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await this.#presence?.stop();
    this.#presence = undefined;
    this.#mq = undefined;
    for (const socket of this.#sockets) socket.destroy();
    const tcp = this.#tcp;
    if (tcp?.listening) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    this.#aedes = undefined;
    this.#tcp = undefined;
  }

  readonly #authenticate: AuthenticateHandler = (client, username, password, done) => {
    const answer = (decision: { allowed: boolean; reason?: string }) => {
      if (decision.allowed) return done(null, true);
      // CONNACK 4 for credentials, 5 for a disabled device ([MQTT-3.2.2-3]: the connection is then closed).
      const error = Object.assign(new Error(`connection refused: ${decision.reason}`), {
        returnCode: connackCodes[decision.reason ?? ''] ?? 4,
      }) as AuthenticateError;
      done(error, false);
    };
    const certificate = clientCertificateCheck(
      (client as unknown as { conn?: unknown }).conn,
      this.#options.tls?.clientCertificates ?? 'off',
    );
    const decision = this.#options.access.authenticate(
      client,
      client.id,
      username,
      password,
      this.#addresses.get(client),
      certificate,
    );
    if (!(decision instanceof Promise)) return answer(decision);
    // Unanswered (the hub's thread stopping): refused as a server fault, CONNACK 3; the device tries again.
    decision.then(answer, () => answer({ allowed: false, reason: 'unavailable' }));
  };

  readonly #authorizeSubscribe: AuthorizeSubscribeHandler = (client, subscription, callback) => {
    // A refused topic gets SUBACK 0x80 and the client stays connected.
    callback(
      null,
      this.#options.access.maySubscribe(client, client.id, subscription.topic).allowed ? subscription : null,
    );
  };

  readonly #authorizePublish: AuthorizePublishHandler = (client, packet: PublishPacket, callback) => {
    // Publishes made by the hub itself (client null) are not device input, but for the last wills of a dead
    // sibling's devices, which a clustered broker publishes on their behalf: those are the devices' status.
    if (client === null) {
      if (this.#presence === undefined || !packet.topic.endsWith('/status')) return callback(null);
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const pending = this.#options.onMessage(packet.topic, payload, performance.now());
      if (pending === undefined) return callback(null);
      pending.then(
        () => callback(null),
        (error: unknown) => callback(error as Error),
      );
      return;
    }
    // MQTT 3.1.1 has no way to refuse one publish: a device publishing outside its topics is disconnected.
    if (!this.#options.access.mayPublish(client, client.id, packet.topic).allowed) {
      return callback(new Error(`publish to ${packet.topic} denied`));
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const pending = this.#options.onMessage(packet.topic, payload, performance.now());
    if (pending === undefined) return callback(null);
    pending.then(
      () => callback(null),
      (error: unknown) => {
        this.#options.metrics.storeFailures.inc();
        this.#log.error(
          { clientId: client.id, error: (error as Error).message },
          'store write failed; message not acknowledged',
        );
        callback(error as Error);
      },
    );
  };
}
