import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ComponentHealth } from '../core/component.ts';
import type { Connector, RefusalHandler } from '../core/connector.ts';
import { listenError } from '../core/errors.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';

/**
 * The listener devices push to over HTTP: Hikvision's alarm host (EventNotificationAlert), ZKTeco's ADMS
 * (`/iclock/…`), cameras' ONVIF Basic Notification. It is not the hub's API: a port of its own, bound where the
 * device network reaches, with limits sized for devices. Each protocol registers its paths; the listener reads a
 * request's body up to its limit and hands the request to the route, whose answer it writes. It never throws on
 * device input, and what it refuses itself (no route, an oversized body, a request too slow) is counted and, when
 * a body was offered, dead-lettered through the ingest's refusal path.
 */

export interface DeviceHttpLimits {
  /** A larger body is refused with 413 before it is read whole. */
  readonly maxBodyBytes: number;
  /** Node's maxHeaderSize for this server: larger request heads are refused with 431. */
  readonly maxHeaderBytes: number;
  /** A request whose head and body have not arrived whole within this long is closed (slow senders). */
  readonly requestTimeoutMs: number;
  /** Connections open at once; more are refused at accept. */
  readonly maxConnections: number;
}

export interface DeviceHttpRequest {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Names in lower case, as node gives them. */
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  readonly remoteAddress: string;
}

export interface DeviceHttpAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/** A protocol's handler of its paths; it answers every request, refusals included, and never throws on input. */
export type DeviceHttpRoute = (request: DeviceHttpRequest) => Promise<DeviceHttpAnswer> | DeviceHttpAnswer;

export interface DeviceHttpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly limits: DeviceHttpLimits;
  readonly refuse: RefusalHandler;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

/** What the listener itself refuses, before a route sees the request: labels of its refusal counter. */
export const listenerRefusals = {
  no_route: 'no protocol is registered at the path',
  body_too_large: 'the body is larger than receivers.http.maxBodyBytes',
  head_too_large: 'the request head is larger than receivers.http.maxHeaderBytes',
  too_slow: 'the request did not arrive whole within receivers.http.requestTimeoutSeconds',
  connections: 'more connections than receivers.http.maxConnections',
  route_failed: 'the route failed (the hub’s fault, answered 500)',
} as const;
type ListenerRefusal = keyof typeof listenerRefusals;

function listenerMetrics(metrics: MetricsRegistry) {
  return {
    requests: metrics.counter({
      name: 'gridhub_device_http_requests_total',
      help: 'Requests devices made to the device HTTP listener (receivers.http), by the protocol whose path it was.',
      labelNames: ['protocol'] as const,
    }),
    refusals: metrics.counter({
      name: 'gridhub_device_http_refusals_total',
      help: 'Requests the device HTTP listener refused before a protocol saw them, by reason.',
      labelNames: ['reason'] as const,
      shownAtZero: { reason: Object.keys(listenerRefusals) as ListenerRefusal[] },
    }),
  };
}

const empty = Buffer.alloc(0);

export class DeviceHttpListener implements Connector {
  readonly name = 'device http';
  readonly kind = 'device http listener';
  readonly #options: DeviceHttpListenerOptions;
  /** By path prefix, longest first when matched. */
  readonly #routes = new Map<string, { protocol: string; route: DeviceHttpRoute }>();
  readonly #metrics: ReturnType<typeof listenerMetrics>;
  readonly #log: Logger;
  readonly #logThrottle = new LogThrottle();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  constructor(options: DeviceHttpListenerOptions) {
    this.#options = options;
    this.#metrics = listenerMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'device-http' });
  }

  /**
   * Registers `route` for every path under `prefix` (`/iclock/`, `/isapi/push/`): the protocol's name labels its
   * requests. Registered before start.
   */
  route(prefix: string, protocol: string, route: DeviceHttpRoute): void {
    if (this.#routes.has(prefix)) throw new Error(`two device HTTP routes at ${prefix}`);
    this.#routes.set(prefix, { protocol, route });
  }

  /** The port bound (differs from the setting when that was 0); 0 before start. */
  get port(): number {
    const address = this.#server?.address();
    return typeof address === 'object' && address !== null ? (address as AddressInfo).port : 0;
  }

  async start(): Promise<void> {
    const { host, port, limits } = this.#options;
    const server = createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: Math.min(limits.requestTimeoutMs, 60_000),
        keepAliveTimeout: 5_000,
        // Node looks for requests past their timeout this often (30 s by default): a slow sender is cut off near
        // its limit, not up to half a minute later.
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, limits.requestTimeoutMs / 4)),
      },
      (request, response) => {
        this.#serve(request, response);
      },
    );
    server.maxConnections = limits.maxConnections;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('drop', () => this.#refused('connections'));
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const reason: ListenerRefusal =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? 'head_too_large'
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? 'too_slow'
            : 'no_route';
      if (reason !== 'no_route') this.#refused(reason);
      const status = reason === 'head_too_large' ? 431 : reason === 'too_slow' ? 408 : 400;
      if (socket.writable)
        socket.end(
          `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Refused'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
        );
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(listenError(error, 'device HTTP', port, 'receivers.http.port')));
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Devices keep their connections alive: end them rather than wait for their idle timeout.
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  health(): ComponentHealth {
    return { state: this.#server?.listening ? 'up' : 'down', port: this.port };
  }

  #match(path: string): { protocol: string; route: DeviceHttpRoute } | undefined {
    let best: { prefix: string; entry: { protocol: string; route: DeviceHttpRoute } } | undefined;
    for (const [prefix, entry] of this.#routes) {
      if (path.startsWith(prefix) && (best === undefined || prefix.length > best.prefix.length)) {
        best = { prefix, entry };
      }
    }
    return best?.entry;
  }

  #serve(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://device');
    const matched = this.#match(url.pathname);
    if (matched === undefined) {
      this.#refused('no_route');
      request.resume();
      this.#answer(response, { status: 404 });
      return;
    }
    this.#metrics.requests.labels(matched.protocol).inc();
    const { maxBodyBytes } = this.#options.limits;
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) {
      this.#tooLarge(matched.protocol, declared, request, response);
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      total += chunk.length;
      if (total > maxBodyBytes) {
        refused = true;
        this.#tooLarge(matched.protocol, total, request, response);
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', () => undefined);
    request.on('end', () => {
      if (refused) return;
      const body = chunks.length === 0 ? empty : Buffer.concat(chunks, total);
      const deviceRequest: DeviceHttpRequest = {
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body,
        remoteAddress: request.socket.remoteAddress ?? '',
      };
      Promise.resolve()
        .then(() => matched.route(deviceRequest))
        .then(
          (answer) => this.#answer(response, answer),
          (error: unknown) => {
            // The hub's fault, not the device's: a 500 says to send again; the device keeps what it sent.
            this.#refused('route_failed');
            const suppressed = this.#logThrottle.admit(`${matched.protocol}:failed`);
            if (suppressed >= 0) {
              this.#log.error(
                { protocol: matched.protocol, err: (error as Error).message, suppressed },
                'device HTTP route failed',
              );
            }
            this.#answer(response, { status: 500 });
          },
        );
    });
  }

  #tooLarge(protocol: string, bytes: number, request: IncomingMessage, response: ServerResponse): void {
    this.#refused('body_too_large');
    void this.#options
      .refuse({
        source: `${protocol}/http`,
        deviceId: null,
        reason: 'oversized',
        problems: [`${bytes} bytes or more, the limit is ${this.#options.limits.maxBodyBytes}`],
        payloadBytes: bytes,
      })
      .catch(() => undefined);
    this.#answer(response, { status: 413, headers: { connection: 'close' } });
    // Nothing more of it is read: the connection goes once the answer is out.
    response.once('finish', () => request.socket.destroy());
  }

  #answer(response: ServerResponse, answer: DeviceHttpAnswer): void {
    if (response.headersSent) return;
    const body = answer.body ?? '';
    response.writeHead(answer.status, {
      'content-length': String(Buffer.byteLength(body)),
      ...answer.headers,
    });
    response.end(body);
  }

  #refused(reason: ListenerRefusal): void {
    this.#metrics.refusals.labels(reason).inc();
  }
}
