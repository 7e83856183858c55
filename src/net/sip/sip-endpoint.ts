import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Component, ComponentHealth, ComponentState } from '../../core/component.ts';
import { listenError } from '../../core/errors.ts';
import { type Logger, LogThrottle } from '../../observability/logger.ts';
import {
  newBranch,
  parseSipMessage,
  readCSeq,
  readVia,
  responseTo,
  type SipLimits,
  SipParseError,
  type SipRequest,
  type SipResponse,
  serializeSipMessage,
  splitHeaderValues,
  topVia,
} from './sip-message.ts';
import { SipStreamReader } from './sip-stream.ts';

/**
 * A SIP endpoint on one port for UDP and TCP (RFC 3261 §17, §18): it answers requests through server
 * transactions and sends requests through client transactions. GB/T 28181 devices register over either
 * transport; over TCP the hub sends its own requests (catalog queries, controls) back over the device's
 * connection, since a device behind NAT accepts no connection.
 */

export type SipTransport = 'udp' | 'tcp';

export interface SipPeer {
  readonly transport: SipTransport;
  readonly address: string;
  readonly port: number;
}

export interface SipRequestContext {
  /** Where the request came from (for TCP: the connection it came on). */
  readonly peer: SipPeer;
  /** Answers the request: provisional responses any number of times, then one final (later ones are ignored). */
  respond(response: SipResponse): void;
}

export interface SipInputProblem {
  readonly peer: SipPeer;
  readonly problem: string;
  readonly bytes: number;
  readonly kind: 'malformed' | 'oversized';
}

export interface SipEndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly udp: boolean;
  readonly tcp: boolean;
  readonly limits: SipLimits & { readonly maxConnections: number; readonly idleMs: number };
  readonly onRequest: (request: SipRequest, context: SipRequestContext) => void;
  readonly onProblem: (problem: SipInputProblem) => void;
  /** RFC 3261's T1, T2 and Timer F (64·T1); defaults 500, 4000, 32000 ms. */
  readonly timers?: { readonly t1Ms?: number; readonly t2Ms?: number; readonly timeoutMs?: number };
  readonly logger: Logger;
  /** For logs and errors ('gb28181', 'gb28181-cascade'). */
  readonly name: string;
  /** The config setting that names the port, for a listen error's advice; `<name> port` when not given. */
  readonly portSetting?: string;
}

/** No final response came within the transaction's timeout (RFC 3261 Timer F), or none can come (closed). */
export class SipTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SipTimeoutError';
  }
}

/** How long a server transaction remembers its request and answer (RFC 3261 Timer J: 64·T1). */
const serverTransactionMs = 32_000;
/** At most this many remembered server transactions; the oldest go first past it. */
const maxServerTransactions = 20_000;
const connectTimeoutMs = 10_000;

interface ServerTransaction {
  readonly expires: number;
  /** The last response sent, resent to a retransmission of the request. */
  answer: Buffer | undefined;
  final: boolean;
}

interface ClientTransaction {
  readonly method: string;
  readonly resolve: (response: SipResponse) => void;
  readonly reject: (error: Error) => void;
  /** The TCP connection it was sent on: its loss ends the transaction. */
  readonly socket: Socket | undefined;
  retransmit: NodeJS.Timeout | undefined;
  readonly timeout: NodeJS.Timeout;
  provisional: boolean;
}

/** Node's IPv4-mapped IPv6 address of a dual-stack socket, as the IPv4 address peers know. */
function plainAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

function peerKey(peer: SipPeer): string {
  return `${peer.transport}|${plainAddress(peer.address)}|${peer.port}`;
}

export class SipEndpoint implements Component {
  readonly name: string;
  readonly #options: SipEndpointOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #t1: number;
  readonly #t2: number;
  readonly #timeoutMs: number;
  #state: ComponentState = 'down';
  #server: Server | undefined;
  #udp: UdpSocket | undefined;
  #port = 0;
  /** Open TCP connections by peer (accepted and opened by us), so requests go back over a device's own. */
  readonly #connections = new Map<string, Socket>();
  /** TCP connections being opened by peer, so two requests at once open one. */
  readonly #connecting = new Map<string, Promise<Socket>>();
  readonly #serverTransactions = new Map<string, ServerTransaction>();
  readonly #clientTransactions = new Map<string, ClientTransaction>();

  constructor(options: SipEndpointOptions) {
    this.#options = options;
    this.name = options.name;
    this.#log = options.logger.child({ ns: `sip:${options.name}` });
    this.#t1 = options.timers?.t1Ms ?? 500;
    this.#t2 = options.timers?.t2Ms ?? 4000;
    this.#timeoutMs = options.timers?.timeoutMs ?? 64 * this.#t1;
  }

  /** The bound port (TCP and UDP alike); 0 before start. */
  get port(): number {
    return this.#port;
  }

  /** The address bound, for Via and Contact. */
  get host(): string {
    return this.#options.host;
  }

  health(): ComponentHealth {
    return {
      state: this.#state,
      port: this.#port,
      udp: this.#udp !== undefined,
      tcp: this.#server !== undefined,
      connections: this.#connections.size,
      pendingRequests: this.#clientTransactions.size,
    };
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const { host, port, udp, tcp, name } = this.#options;
    const setting = this.#options.portSetting ?? `${name} port`;
    // Port 0 picks a free TCP port; UDP then binds the same number, which another process may hold: pick again.
    for (let attempt = 0; ; attempt++) {
      if (tcp) {
        const server = this.#tcpServer();
        this.#server = server;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => {
            server.off('error', reject);
            resolve();
          });
        }).catch((error: unknown) => {
          throw listenError(error, `SIP ${name} (TCP)`, port, setting);
        });
        const address = server.address();
        this.#port = typeof address === 'object' && address !== null ? address.port : 0;
      }
      if (!udp) break;
      try {
        this.#udp = await this.#udpSocket(tcp ? this.#port : port, host);
        const address = this.#udp.address();
        this.#port = address.port;
        break;
      } catch (error) {
        const server = this.#server;
        this.#server = undefined;
        if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
        if (port !== 0 || !tcp || attempt >= 4) throw listenError(error, `SIP ${name} (UDP)`, port, setting);
      }
    }
    this.#state = 'up';
    this.#log.info({ port: this.#port, udp, tcp }, 'SIP endpoint listening');
  }

  async stop(): Promise<void> {
    this.#state = 'down';
    for (const [branch, transaction] of this.#clientTransactions) {
      this.#endClient(branch, transaction);
      transaction.reject(new SipTimeoutError(`the SIP endpoint ${this.name} stopped`));
    }
    this.#serverTransactions.clear();
    const server = this.#server;
    const udp = this.#udp;
    this.#server = undefined;
    this.#udp = undefined;
    for (const socket of this.#connections.values()) socket.destroy();
    this.#connections.clear();
    await Promise.all([
      server === undefined ? undefined : new Promise<void>((resolve) => server.close(() => resolve())),
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
    ]);
    // Connections still being opened close as they complete (see #open).
    await Promise.allSettled([...this.#connecting.values()]);
    this.#port = 0;
  }

  /**
   * Sends a request and resolves with its final response (1xx skipped). UDP: retransmitted per RFC 3261 Timer E
   * (T1 doubling up to T2; T2 once a provisional response came) until a response or the timeout (SipTimeoutError).
   * TCP: over an open connection with that peer (a device's own) or a new one. A Via (with a new branch and
   * rport), Max-Forwards and Content-Length are added when missing.
   */
  async request(
    request: SipRequest,
    peer: SipPeer,
    options: { timeoutMs?: number } = {},
  ): Promise<SipResponse> {
    if (this.#state !== 'up') throw new SipTimeoutError(`the SIP endpoint ${this.name} is not running`);
    if (peer.transport === 'udp' && this.#udp === undefined) {
      throw new Error(`the SIP endpoint ${this.name} has no UDP socket (udp: false)`);
    }
    const headers = request.headers.clone();
    let branch = headers.get('via') === undefined ? undefined : readVia(headers.get('via') as string).branch;
    if (headers.get('via') === undefined) {
      branch = newBranch();
      const transport = peer.transport.toUpperCase();
      headers.prepend('via', `SIP/2.0/${transport} ${this.#viaHost()}:${this.#port};rport;branch=${branch}`);
    } else if (branch === undefined) {
      branch = newBranch();
      const [first = '', ...rest] = headers.getAll('via');
      const [top = '', ...others] = splitHeaderValues(first);
      headers.set('via', [`${top};branch=${branch}`, ...others].join(', '));
      for (const via of rest) headers.append('via', via);
    }
    if (!headers.has('max-forwards')) headers.append('max-forwards', '70');
    const bytes = serializeSipMessage({ ...request, headers });
    const socket = peer.transport === 'tcp' ? await this.#connectionTo(peer) : undefined;
    const transactionBranch = branch as string;
    if (this.#clientTransactions.has(transactionBranch)) {
      throw new Error('a request with this Via branch is already pending');
    }
    return await new Promise<SipResponse>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      const transaction: ClientTransaction = {
        method: request.method,
        resolve,
        reject,
        socket,
        retransmit: undefined,
        provisional: false,
        timeout: setTimeout(() => {
          this.#endClient(transactionBranch, transaction);
          reject(new SipTimeoutError(`no final response to ${request.method} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#clientTransactions.set(transactionBranch, transaction);
      if (socket === undefined) {
        const send = (interval: number): void => {
          this.#sendUdp(bytes, peer);
          transaction.retransmit = setTimeout(() => {
            send(transaction.provisional ? this.#t2 : Math.min(interval * 2, this.#t2));
          }, interval);
        };
        send(this.#t1);
      } else {
        socket.write(bytes);
      }
    });
  }

  #viaHost(): string {
    const host = this.#options.host;
    return isIPv6(host) ? `[${host}]` : host;
  }

  #endClient(branch: string, transaction: ClientTransaction): void {
    clearTimeout(transaction.timeout);
    clearTimeout(transaction.retransmit);
    this.#clientTransactions.delete(branch);
  }

  #tcpServer(): Server {
    const server = createServer({ noDelay: true });
    server.maxConnections = this.#options.limits.maxConnections;
    server.on('drop', () => this.#warn('connections', 'a TCP connection over maxConnections refused'));
    server.on('connection', (socket) => {
      const peer: SipPeer = {
        transport: 'tcp',
        address: plainAddress(socket.remoteAddress),
        port: socket.remotePort ?? 0,
      };
      this.#attach(socket, peer);
    });
    server.on('error', (error) => {
      if (this.#state === 'up') this.#log.warn({ error: error.message }, 'tcp server error');
    });
    return server;
  }

  #udpSocket(port: number, host: string): Promise<UdpSocket> {
    const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        udp.on('error', (error) => this.#log.warn({ error: error.message }, 'udp socket error'));
        udp.on('message', (message, remote) => this.#datagram(message, remote));
        resolve(udp);
      });
    });
  }

  #datagram(message: Buffer, remote: RemoteInfo): void {
    const peer: SipPeer = { transport: 'udp', address: plainAddress(remote.address), port: remote.port };
    // RFC 5626 §4.4.1's CRLF keep-alive (and stray line ends) are no message.
    if (message.every((byte) => byte === 0x0d || byte === 0x0a || byte === 0)) return;
    this.#receive(message, peer, undefined);
  }

  /** A TCP connection (accepted or opened): framed, remembered by peer, closed when idle. */
  #attach(socket: Socket, peer: SipPeer): void {
    const key = peerKey(peer);
    this.#connections.get(key)?.destroy();
    this.#connections.set(key, socket);
    socket.setTimeout(this.#options.limits.idleMs);
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.#connections.get(key) === socket) this.#connections.delete(key);
      for (const [branch, transaction] of this.#clientTransactions) {
        if (transaction.socket !== socket) continue;
        this.#endClient(branch, transaction);
        transaction.reject(new SipTimeoutError('the TCP connection closed before a final response'));
      }
    });
    const reader = new SipStreamReader(
      this.#options.limits,
      (bytes) => this.#receive(bytes, peer, socket),
      (problem, kind, bytes) => {
        this.#problem({ peer, problem, kind, bytes });
        // The framing is lost: nothing more on this connection can be read.
        socket.destroy();
      },
      () => {
        if (!socket.destroyed) socket.write('\r\n');
      },
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  }

  async #connectionTo(peer: SipPeer): Promise<Socket> {
    const key = peerKey(peer);
    const open = this.#connections.get(key);
    if (open !== undefined && !open.destroyed) return open;
    const pending = this.#connecting.get(key);
    if (pending !== undefined) return await pending;
    const opening = this.#open(peer).finally(() => this.#connecting.delete(key));
    this.#connecting.set(key, opening);
    return await opening;
  }

  #open(peer: SipPeer): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: peer.address, port: peer.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SipTimeoutError(`no TCP connection to the peer within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new SipTimeoutError(
            `cannot connect to the peer: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
          ),
        );
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        if (this.#state !== 'up') {
          socket.destroy();
          reject(new SipTimeoutError(`the SIP endpoint ${this.name} stopped`));
          return;
        }
        this.#attach(socket, peer);
        resolve(socket);
      });
    });
  }

  #receive(bytes: Buffer, peer: SipPeer, socket: Socket | undefined): void {
    if (this.#state !== 'up') return;
    if (bytes.length > this.#options.limits.maxMessageBytes) {
      const problem = `a message of ${bytes.length} bytes, over the ${this.#options.limits.maxMessageBytes}-byte limit`;
      this.#problem({ peer, problem, kind: 'oversized', bytes: bytes.length });
      return;
    }
    let message: ReturnType<typeof parseSipMessage>;
    try {
      message = parseSipMessage(bytes, this.#options.limits);
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
      this.#problem({ peer, problem: error.problem, kind: 'malformed', bytes: bytes.length });
      return;
    }
    if (message.kind === 'response') this.#response(message);
    else this.#request(message, peer, socket);
  }

  /** A response completes the client transaction its top Via's branch and CSeq method name; others are dropped. */
  #response(response: SipResponse): void {
    const branch = topVia(response)?.branch;
    const transaction = branch === undefined ? undefined : this.#clientTransactions.get(branch);
    if (
      branch === undefined ||
      transaction === undefined ||
      readCSeq(response)?.method !== transaction.method
    ) {
      this.#log.debug({ status: response.status }, 'a response matching no request dropped');
      return;
    }
    if (response.status < 200) {
      transaction.provisional = true;
      return;
    }
    this.#endClient(branch, transaction);
    transaction.resolve(response);
  }

  #request(request: SipRequest, peer: SipPeer, socket: Socket | undefined): void {
    // An ACK completes an INVITE transaction, which GB/T 28181 signalling here never opens: nothing to answer.
    if (request.method === 'ACK') return;
    this.#markReceived(request, peer);
    const send = (bytes: Buffer): void => {
      if (socket === undefined) this.#sendUdp(bytes, peer);
      else if (!socket.destroyed) socket.write(bytes);
      else this.#log.debug({ method: request.method }, 'a response not sent: its TCP connection closed');
    };
    let transaction: ServerTransaction | undefined;
    if (socket === undefined) {
      const via = topVia(request);
      const key = `${peerKey(peer)}|${via?.branch ?? `${request.headers.get('call-id')}|${request.headers.get('cseq')}`}|${request.method}`;
      const now = Date.now();
      this.#forgetServerTransactions(now);
      const known = this.#serverTransactions.get(key);
      if (known !== undefined) {
        // A retransmission: absorbed while being answered, answered again once answered.
        if (known.answer !== undefined) send(known.answer);
        return;
      }
      transaction = { expires: now + serverTransactionMs, answer: undefined, final: false };
      this.#serverTransactions.set(key, transaction);
    }
    let final = false;
    const context: SipRequestContext = {
      peer,
      respond: (response) => {
        if (final) {
          this.#log.warn(
            { method: request.method, status: response.status },
            'a second final response ignored',
          );
          return;
        }
        final = response.status >= 200;
        const bytes = serializeSipMessage(response);
        if (transaction !== undefined) {
          transaction.answer = bytes;
          transaction.final = final;
        }
        send(bytes);
      },
    };
    try {
      this.#options.onRequest(request, context);
    } catch (error) {
      this.#log.error(
        { method: request.method, error: (error as Error).message },
        'a request handler failed',
      );
      if (!final) context.respond(responseTo(request, 500));
    }
  }

  /**
   * RFC 3261 §18.2.1 and RFC 3581: the top Via learns the address and port the request came from, so the response
   * (which copies the Vias) says where it went, and reaches a device behind NAT.
   */
  #markReceived(request: SipRequest, peer: SipPeer): void {
    const [first, ...rest] = request.headers.getAll('via');
    if (first === undefined) return;
    const [top = '', ...others] = splitHeaderValues(first);
    const via = readVia(top);
    let marked = top;
    if (via.rport === true) marked = marked.replace(/;\s*rport(?=;|$)/i, `;rport=${peer.port}`);
    if ((via.rport !== undefined || via.host !== peer.address) && via.received === undefined) {
      marked = `${marked};received=${peer.address}`;
    }
    if (marked === top) return;
    request.headers.set('via', [marked, ...others].join(', '));
    for (const via of rest) request.headers.append('via', via);
  }

  /** Server transactions expire in the order they began (one fixed lifetime), so the oldest are at the front. */
  #forgetServerTransactions(now: number): void {
    for (const [key, transaction] of this.#serverTransactions) {
      if (transaction.expires > now && this.#serverTransactions.size < maxServerTransactions) break;
      this.#serverTransactions.delete(key);
    }
  }

  #sendUdp(bytes: Buffer, peer: SipPeer): void {
    const udp = this.#udp;
    if (udp === undefined) {
      this.#warn('no-udp', 'a UDP message not sent: the endpoint has no UDP socket');
      return;
    }
    try {
      udp.send(bytes, peer.port, peer.address, (error) => {
        if (error) this.#warn('udp-send', `a UDP message not sent: ${error.message}`);
      });
    } catch (error) {
      // The socket closed under a late timer or answer (stop() racing a handler).
      this.#warn('udp-send', `a UDP message not sent: ${(error as Error).message}`);
    }
  }

  #problem(problem: SipInputProblem): void {
    this.#warn(`problem:${problem.kind}`, `SIP input refused (${problem.kind}): ${problem.problem}`);
    this.#options.onProblem(problem);
  }

  #warn(key: string, message: string): void {
    const suppressed = this.#throttle.admit(key);
    if (suppressed >= 0) this.#log.warn({ suppressed }, message);
  }
}
