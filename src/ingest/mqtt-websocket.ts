import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';

/**
 * MQTT over WebSocket at one path of the hub's HTTP server: each connection upgraded there is handed on as a byte
 * stream, to aedes or to the broker thread's relay. Socket.IO answers its own upgrades on /socket.io/; anything else
 * is left to it to refuse.
 */
export class MqttWebSocketPath {
  readonly #path: string;
  readonly #onStream: (stream: Duplex, request: IncomingMessage) => void;
  readonly #maxPayload: number;
  #server: HttpServer | undefined;
  #webSockets: WebSocketServer | undefined;

  /** `maxPayload`: the largest WebSocket message taken (ws buffers each whole); a larger one closes the connection. */
  constructor(
    path: string,
    onStream: (stream: Duplex, request: IncomingMessage) => void,
    maxPayload: number,
  ) {
    this.#path = path;
    this.#onStream = onStream;
    this.#maxPayload = maxPayload;
  }

  attach(server: HttpServer): void {
    this.#webSockets = new WebSocketServer({ noServer: true, maxPayload: this.#maxPayload });
    this.#server = server;
    server.on('upgrade', this.#onUpgrade);
  }

  /** Stops taking upgrades and ends the connections it took. */
  close(): void {
    this.#server?.off('upgrade', this.#onUpgrade);
    for (const client of this.#webSockets?.clients ?? []) client.terminate();
    this.#webSockets?.close();
    this.#server = undefined;
    this.#webSockets = undefined;
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const webSockets = this.#webSockets;
    if (request.url !== this.#path || webSockets === undefined) return;
    webSockets.handleUpgrade(request, socket, head, (ws) =>
      this.#onStream(createWebSocketStream(ws) as Duplex, request),
    );
  };
}
