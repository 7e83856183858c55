import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  Aedes,
  type AuthenticateError,
  type AuthenticateHandler,
  type AuthorizePublishHandler,
  type AuthorizeSubscribeHandler,
  type Client,
  type PublishPacket,
} from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { listenError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { ComponentState } from '../store/store.ts';

/** Receives every client publish before it is acknowledged; undefined when the topic is not the hub's. */
export type MessageHandler = (
  topic: string,
  payload: Buffer,
  receivedAt: number,
) => Promise<void> | undefined;

/** The broker's security hooks, after aedes' own: each answers allowed or not, and counts its refusals. */
export interface BrokerAccess {
  authenticate(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): { allowed: boolean; reason?: string };
  mayPublish(clientId: string, topic: string): { allowed: boolean };
  maySubscribe(clientId: string, topic: string): { allowed: boolean };
  /** Whether a message goes to this subscriber (aedes' authorizeForward). */
  mayForward(clientId: string, topic: string, payload: Buffer): boolean;
  /** The client's connection ended. */
  forget(clientId: string): void;
}

export interface EmbeddedBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly webSocketPath: string;
  readonly access: BrokerAccess;
  readonly onMessage: MessageHandler;
  /** A client finished connecting (after authentication). */
  readonly onClientConnected: (clientId: string) => void;
  /** A client's connection ended, cleanly or not. */
  readonly onClientDisconnected: (clientId: string) => void;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
}

/**
 * The embedded MQTT broker: aedes on a TCP port, and MQTT over WebSocket on the hub's HTTP server.
 *
 * The hub ingests in aedes' `authorizePublish` hook rather than on `publish`: aedes writes a QoS 1 PUBACK
 * after authorizePublish calls back and before it emits the message, so calling back only once the event is
 * stored means an acknowledged message is never lost. A store failure fails the callback, which closes the
 * connection without PUBACK; the device sends the message again when it reconnects.
 */
export class EmbeddedBroker {
  readonly #options: EmbeddedBrokerOptions;
  readonly #log: Logger;
  #aedes: Aedes | undefined;
  #tcp: NetServer | undefined;
  #webSockets: WebSocketServer | undefined;
  #httpServer: HttpServer | undefined;
  #state: ComponentState = 'down';
  readonly #sockets = new Set<Socket>();
  readonly #clients = new Map<string, Client>();

  constructor(options: EmbeddedBrokerOptions) {
    this.#options = options;
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
    const aedes = await Aedes.createBroker({
      authenticate: this.#authenticate,
      authorizePublish: this.#authorizePublish,
      authorizeSubscribe: this.#authorizeSubscribe,
      authorizeForward: (client, packet) =>
        this.#options.access.mayForward(client.id, packet.topic, packet.payload as Buffer) ? packet : null,
    });
    this.#aedes = aedes;
    const { metrics, onClientConnected, onClientDisconnected } = this.#options;
    aedes.on('client', (client: Client) => {
      this.#clients.set(client.id, client);
      metrics.connectedDevices.set(aedes.connectedClients);
      onClientConnected(client.id);
    });
    aedes.on('clientDisconnect', (client: Client) => {
      // A client that took over the id of a still-connected one (a rebooted device) must not be forgotten here.
      if (this.#clients.get(client.id) === client) this.#clients.delete(client.id);
      metrics.connectedDevices.set(aedes.connectedClients);
      if (!this.#clients.has(client.id)) {
        this.#options.access.forget(client.id);
        onClientDisconnected(client.id);
      }
    });
    aedes.on('clientError', (client: Client, error: Error) => {
      this.#log.debug({ clientId: client.id, error: error.message }, 'client error');
    });

    const tcp = createServer((socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      aedes.handle(socket);
    });
    this.#tcp = tcp;
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      this.#state = 'down';
      aedes.close();
      throw listenError(error, 'MQTT', port, 'MQTT_PORT');
    });
    this.#state = 'up';
  }

  /** Serves MQTT over WebSocket at the configured path of the hub's HTTP server. */
  attachWebSocket(server: HttpServer): void {
    const aedes = this.#aedes;
    if (aedes === undefined) throw new Error('attachWebSocket before start');
    const webSockets = new WebSocketServer({ noServer: true });
    this.#webSockets = webSockets;
    this.#httpServer = server;
    webSockets.on('connection', (socket, request: IncomingMessage) => {
      aedes.handle(createWebSocketStream(socket) as Duplex, request);
    });
    server.on('upgrade', this.#onUpgrade);
  }

  /** Publishes from the hub itself (commands to devices), at QoS 1. */
  publish(topic: string, payload: string): Promise<void> {
    const aedes = this.#aedes;
    if (aedes === undefined) return Promise.reject(new Error('the broker is not started'));
    return new Promise((resolve, reject) => {
      aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
        (error?: Error) => (error ? reject(error) : resolve()),
      );
    });
  }

  isConnected(clientId: string): boolean {
    return this.#clients.has(clientId);
  }

  /** Closes a client's connection (a device just disabled or given a new secret). */
  disconnect(clientId: string): void {
    this.#clients.get(clientId)?.close();
  }

  async stop(): Promise<void> {
    this.#state = 'down';
    this.#clients.clear();
    this.#httpServer?.off('upgrade', this.#onUpgrade);
    for (const client of this.#webSockets?.clients ?? []) client.terminate();
    this.#webSockets?.close();
    const aedes = this.#aedes;
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    const tcp = this.#tcp;
    if (tcp?.listening) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    this.#aedes = undefined;
    this.#tcp = undefined;
    this.#webSockets = undefined;
    this.#httpServer = undefined;
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Socket.IO answers its own upgrades on /socket.io/; anything else is left to it to refuse.
    if (request.url !== this.#options.webSocketPath || this.#webSockets === undefined) return;
    const webSockets = this.#webSockets;
    webSockets.handleUpgrade(request, socket, head, (ws) => webSockets.emit('connection', ws, request));
  };

  readonly #authenticate: AuthenticateHandler = (client, username, password, done) => {
    const decision = this.#options.access.authenticate(client.id, username, password);
    if (decision.allowed) return done(null, true);
    // CONNACK 4 for credentials, 5 for a disabled device ([MQTT-3.2.2-3]: the connection is then closed).
    const error = Object.assign(new Error(`connection refused: ${decision.reason}`), {
      returnCode: decision.reason === 'disabled' ? 5 : 4,
    }) as AuthenticateError;
    done(error, false);
  };

  readonly #authorizeSubscribe: AuthorizeSubscribeHandler = (client, subscription, callback) => {
    // A refused topic gets SUBACK 0x80 and the client stays connected.
    callback(
      null,
      this.#options.access.maySubscribe(client.id, subscription.topic).allowed ? subscription : null,
    );
  };

  readonly #authorizePublish: AuthorizePublishHandler = (client, packet: PublishPacket, callback) => {
    // Publishes made by the hub itself (client null) are not device input.
    if (client === null) return callback(null);
    // MQTT 3.1.1 has no way to refuse one publish: a device publishing outside its topics is disconnected.
    if (!this.#options.access.mayPublish(client.id, packet.topic).allowed) {
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
