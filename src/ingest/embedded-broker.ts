import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthorizePublishHandler, type Client, type PublishPacket } from 'aedes';
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

export interface EmbeddedBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly webSocketPath: string;
  readonly onMessage: MessageHandler;
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
    const aedes = await Aedes.createBroker({ authorizePublish: this.#authorizePublish });
    this.#aedes = aedes;
    const updateGauge = (): void => this.#options.metrics.connectedDevices.set(aedes.connectedClients);
    aedes.on('client', updateGauge);
    aedes.on('clientDisconnect', updateGauge);
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

  async stop(): Promise<void> {
    this.#state = 'down';
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

  readonly #authorizePublish: AuthorizePublishHandler = (client, packet: PublishPacket, callback) => {
    // Publishes made by the hub itself (client null) are not device input.
    if (client === null) return callback(null);
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
