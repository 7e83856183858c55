import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * The simulators' own small SIP (RFC 3261) codec and transport, written from the RFC for the simulated GB/T 28181
 * device and superior platform. It imports nothing from `src/`: the hub's SIP stack is proven against it, never
 * against itself. Only what GB/T 28181 peers use: non-INVITE requests (REGISTER, MESSAGE, SUBSCRIBE, NOTIFY),
 * MD5 Digest, UDP and TCP on one port.
 */

export type SipTransport = 'udp' | 'tcp';

export interface SipPeer {
  readonly transport: SipTransport;
  readonly address: string;
  readonly port: number;
}

/** Headers in order, names as written (lookups are case-insensitive and know the compact forms). */
export type SipHeaderList = [name: string, value: string][];

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly headers: SipHeaderList;
  readonly body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeaderList;
  readonly body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 §7.3.3 compact header names. */
const compactNames: Readonly<Record<string, string>> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  e: 'content-encoding',
  o: 'event',
  u: 'allow-events',
  s: 'subject',
};

function longName(name: string): string {
  const lower = name.toLowerCase();
  return compactNames[lower] ?? lower;
}

/** Every value of a header; a comma-separated Via line counts as several. */
export function headerValues(message: SipMessage, name: string): string[] {
  const wanted = longName(name);
  const values = message.headers.filter(([n]) => longName(n) === wanted).map(([, v]) => v);
  return wanted === 'via'
    ? values.flatMap((value) => value.split(/,(?=\s*SIP\/)/i).map((v) => v.trim()))
    : values;
}

export function header(message: SipMessage, name: string): string | undefined {
  return headerValues(message, name)[0];
}

export class SipParseError extends Error {}

const reasonPhrases: Readonly<Record<number, string>> = {
  100: 'Trying',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  481: 'Call/Transaction Does Not Exist',
  489: 'Bad Event',
  500: 'Server Internal Error',
  501: 'Not Implemented',
};

/** One SIP message from a datagram or a framed TCP message. */
export function parseSip(bytes: Buffer): SipMessage {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new SipParseError('no empty line after the headers');
  const lines = bytes.subarray(0, end).toString('utf8').split('\r\n');
  const startLine = lines.shift() ?? '';
  const headers: SipHeaderList = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      const last = headers[headers.length - 1] as [string, string];
      last[1] = `${last[1]} ${line.trim()}`; // a folded line continues the previous header
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError('a header line without a colon');
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  let body = bytes.subarray(end + 4);
  const declared = headers.find(([n]) => longName(n) === 'content-length');
  if (declared !== undefined) {
    const length = Number(declared[1]);
    if (!Number.isInteger(length) || length < 0 || length > body.length)
      throw new SipParseError('Content-Length does not match the body');
    body = body.subarray(0, length);
  }
  const response = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(startLine);
  const message: SipMessage = response
    ? { kind: 'response', status: Number(response[1]), reason: response[2] ?? '', headers, body }
    : (() => {
        const request = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(startLine);
        if (request === null) throw new SipParseError('not a SIP/2.0 start line');
        return { kind: 'request', method: request[1] ?? '', uri: request[2] ?? '', headers, body } as const;
      })();
  for (const required of ['via', 'from', 'to', 'call-id', 'cseq'])
    if (header(message, required) === undefined) throw new SipParseError(`no ${required} header`);
  return message;
}

/** The message's bytes; Content-Length always written from the body. */
export function serializeSip(message: SipMessage): Buffer {
  const startLine =
    message.kind === 'request'
      ? `${message.method} ${message.uri} SIP/2.0`
      : `SIP/2.0 ${message.status} ${message.reason}`;
  const lines = message.headers
    .filter(([name]) => longName(name) !== 'content-length')
    .map(([name, value]) => `${name}: ${value}`);
  const head = `${[startLine, ...lines, `Content-Length: ${message.body.length}`].join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), message.body]);
}

export function newBranch(): string {
  return `z9hG4bK${randomBytes(8).toString('hex')}`;
}
export function newTag(): string {
  return randomBytes(5).toString('hex');
}
export function newCallId(host: string): string {
  return `${randomBytes(10).toString('hex')}@${host}`;
}

/** A parameter of a header value (`;tag=…`, `;branch=…`). */
export function headerParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  // A name-addr's parameters follow its `>`; the URI's own parameters inside it are not the header's.
  const tail = value.includes('>') ? value.slice(value.lastIndexOf('>')) : value;
  const match = new RegExp(`;\\s*${name}=([^;>,\\s]+)`, 'i').exec(tail);
  return match?.[1];
}

/** The URI in a name-addr or addr-spec (`"Name" <sip:…>;tag=x` → `sip:…`). */
export function addressUri(value: string): string {
  const bracketed = /<([^>]*)>/.exec(value);
  return (bracketed?.[1] ?? value.split(';')[0] ?? '').trim();
}

/** The user part of a SIP URI (the 20-digit id in GB/T 28181). */
export function uriUser(uri: string): string | undefined {
  return /^sips?:([^@;>]+)@/i.exec(uri)?.[1];
}

export function cseqOf(message: SipMessage): { seq: number; method: string } {
  const [seq, method] = (header(message, 'cseq') ?? '').split(/\s+/);
  return { seq: Number(seq), method: method ?? '' };
}

/** A response to a request: Via, From, To (tagged), Call-ID and CSeq copied, as RFC 3261 §8.2.6 asks. */
export function responseTo(
  request: SipRequest,
  status: number,
  extra: { headers?: SipHeaderList; body?: Buffer; reason?: string; toTag?: string } = {},
): SipResponse {
  const to = header(request, 'to') ?? '';
  const taggedTo =
    status > 100 && headerParam(to, 'tag') === undefined ? `${to};tag=${extra.toTag ?? newTag()}` : to;
  return {
    kind: 'response',
    status,
    reason: extra.reason ?? reasonPhrases[status] ?? 'Unknown',
    headers: [
      ...headerValues(request, 'via').map((via): [string, string] => ['Via', via]),
      ['From', header(request, 'from') ?? ''],
      ['To', taggedTo],
      ['Call-ID', header(request, 'call-id') ?? ''],
      ['CSeq', header(request, 'cseq') ?? ''],
      ...(extra.headers ?? []),
    ],
    body: extra.body ?? Buffer.alloc(0),
  };
}

// ---------------------------------------------------------------- Digest (RFC 2617 with MD5, as GB/T 28181 asks)

export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** `Digest k=v, k="v"` into its parameters (keys lower-cased). */
export function readDigestParams(value: string): Record<string, string> | undefined {
  const match = /^\s*Digest\s+(.*)$/is.exec(value);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const m of (match[1] ?? '').matchAll(/([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g))
    params[(m[1] ?? '').toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  return params;
}

/** The response digest: MD5(HA1:nonce[:nc:cnonce:qop]:HA2). */
export function digestResponse(input: {
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}): string {
  const ha1 = md5Hex(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = md5Hex(`${input.method}:${input.uri}`);
  return input.qop
    ? md5Hex(`${ha1}:${input.nonce}:${input.nc}:${input.cnonce}:${input.qop}:${ha2}`)
    : md5Hex(`${ha1}:${input.nonce}:${ha2}`);
}

/** Client side: the Authorization value answering a WWW-Authenticate challenge, or undefined if unreadable. */
export function digestAuthorization(
  challenge: string,
  request: { method: string; uri: string },
  login: { username: string; password: string },
  nc = 1,
): string | undefined {
  const params = readDigestParams(challenge);
  if (params?.realm === undefined || params.nonce === undefined) return undefined;
  const qop = params.qop
    ?.split(',')
    .map((q) => q.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  const ncText = nc.toString(16).padStart(8, '0');
  const cnonce = randomBytes(8).toString('hex');
  const response = digestResponse({
    ...login,
    realm: params.realm,
    method: request.method,
    uri: request.uri,
    nonce: params.nonce,
    ...(qop ? { qop, nc: ncText, cnonce } : {}),
  });
  const parts = [
    `username="${login.username}"`,
    `realm="${params.realm}"`,
    `nonce="${params.nonce}"`,
    `uri="${request.uri}"`,
    `response="${response}"`,
    'algorithm=MD5',
    ...(qop ? [`qop=${qop}`, `nc=${ncText}`, `cnonce="${cnonce}"`] : []),
    ...(params.opaque !== undefined ? [`opaque="${params.opaque}"`] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}

/** Server side: issues nonces and checks Authorization headers (MD5, with or without qop=auth). */
export class SipDigestServer {
  readonly realm: string;
  readonly #nonces = new Set<string>();

  constructor(realm: string) {
    this.realm = realm;
  }

  challenge(): string {
    const nonce = randomBytes(16).toString('hex');
    this.#nonces.add(nonce);
    if (this.#nonces.size > 1000) this.#nonces.delete(this.#nonces.values().next().value as string);
    return `Digest realm="${this.realm}", nonce="${nonce}", algorithm=MD5`;
  }

  /** The username when the Authorization is right for this password, else undefined. */
  verify(
    authorization: string | undefined,
    method: string,
    passwordFor: (username: string) => string | undefined,
  ) {
    const params = authorization === undefined ? undefined : readDigestParams(authorization);
    if (params?.username === undefined || params.nonce === undefined || params.response === undefined)
      return undefined;
    if (!this.#nonces.has(params.nonce) || params.realm !== this.realm) return undefined;
    const password = passwordFor(params.username);
    if (password === undefined) return undefined;
    const expected = digestResponse({
      username: params.username,
      realm: this.realm,
      password,
      method,
      uri: params.uri ?? '',
      nonce: params.nonce,
      ...(params.qop ? { qop: params.qop, nc: params.nc ?? '', cnonce: params.cnonce ?? '' } : {}),
    });
    const given = Buffer.from(params.response.toLowerCase());
    const wanted = Buffer.from(expected);
    return given.length === wanted.length && timingSafeEqual(given, wanted) ? params.username : undefined;
  }
}

// ---------------------------------------------------------------- transport

/** Splits a TCP byte stream into SIP messages by Content-Length; CRLF keep-alives between messages are skipped. */
export class SipStreamSplitter {
  #buffer = Buffer.alloc(0);
  constructor(private readonly onMessage: (bytes: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      while (this.#buffer.length >= 2 && this.#buffer[0] === 13 && this.#buffer[1] === 10)
        this.#buffer = this.#buffer.subarray(2);
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buffer.subarray(0, end).toString('latin1');
      const length = Number(/^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(head)?.[1] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      const message = this.#buffer.subarray(0, end + 4 + length);
      this.#buffer = this.#buffer.subarray(end + 4 + length);
      this.onMessage(message);
    }
  }
}

export class SipTimeoutError extends Error {}

export interface SipRequestContext {
  readonly peer: SipPeer;
  respond(response: SipResponse): void;
}

export interface SipNodeOptions {
  readonly host?: string; // default 127.0.0.1: simulators stay on loopback
  readonly port?: number; // default 0
  readonly udp?: boolean;
  readonly tcp?: boolean;
  readonly onRequest: (request: SipRequest, context: SipRequestContext) => void;
  /** Non-INVITE transaction timeout (RFC 3261 Timer F, 32 s); tests shorten it. */
  readonly timeoutMs?: number;
}

interface Pending {
  readonly resolve: (response: SipResponse) => void;
  readonly reject: (error: Error) => void;
  readonly timers: NodeJS.Timeout[];
}

/**
 * A SIP node on UDP and/or TCP on one port: serves requests (retransmissions of a UDP request get the response
 * already given) and sends requests, resolving with their final response. TCP connections, accepted or opened,
 * are kept by the peer's address and port and used both ways, as GB/T 28181 peers do.
 *
 * Events: 'message' (direction: 'in' | 'out', message, peer) for tests that watch the wire, 'problem' (text).
 */
export class SipNode extends EventEmitter {
  readonly #options: SipNodeOptions;
  #udp: UdpSocket | undefined;
  #server: Server | undefined;
  readonly #connections = new Map<string, Socket>();
  readonly #pending = new Map<string, Pending>();
  readonly #answered = new Map<string, { response?: SipResponse; at: number }>();
  #port = 0;

  constructor(options: SipNodeOptions) {
    super();
    this.#options = options;
  }

  get host(): string {
    return this.#options.host ?? '127.0.0.1';
  }
  get port(): number {
    return this.#port;
  }

  /** The local port requests to this peer leave from: a TCP connection's own, else the bound port. */
  localPortFor(peer: SipPeer): number {
    return peer.transport === 'tcp'
      ? (this.#connections.get(key(peer))?.localPort ?? this.#port)
      : this.#port;
  }

  async start(): Promise<void> {
    const wantTcp = this.#options.tcp ?? false;
    const wantUdp = this.#options.udp ?? true;
    for (let attempt = 0; ; attempt++) {
      try {
        let port = this.#options.port ?? 0;
        if (wantTcp) {
          const server = createServer((socket) => this.#adopt(socket));
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, this.host, () => resolve());
          });
          this.#server = server;
          port = (server.address() as { port: number }).port;
        }
        if (wantUdp) {
          const udp = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
          await new Promise<void>((resolve, reject) => {
            udp.once('error', reject);
            udp.bind(port, this.host, () => resolve());
          });
          udp.on('error', (error) => this.emit('problem', `udp: ${error.message}`));
          udp.on('message', (bytes, remote) =>
            this.#receive(bytes, { transport: 'udp', address: remote.address, port: remote.port }),
          );
          this.#udp = udp;
          port = udp.address().port;
        }
        this.#port = port;
        return;
      } catch (error) {
        // Port 0 on TCP may be taken on UDP: try another, as a one-port SIP listener must.
        await this.stop();
        if (attempt >= 5 || (this.#options.port ?? 0) !== 0) throw error;
      }
    }
  }

  async stop(): Promise<void> {
    for (const pending of this.#pending.values()) {
      for (const timer of pending.timers) clearTimeout(timer);
      pending.reject(new Error('SIP node stopped'));
    }
    this.#pending.clear();
    for (const socket of this.#connections.values()) socket.destroy();
    this.#connections.clear();
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#port = 0;
  }

  /** Opens (or reuses) the TCP connection to a peer. */
  async connect(peer: SipPeer): Promise<void> {
    if (peer.transport !== 'tcp' || this.#connections.has(key(peer))) return;
    const socket = tcpConnect({ host: peer.address, port: peer.port, localAddress: this.host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    this.#adopt(socket, peer);
  }

  #adopt(socket: Socket, as?: SipPeer): void {
    const peer: SipPeer = as ?? {
      transport: 'tcp',
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
    };
    this.#connections.set(key(peer), socket);
    const splitter = new SipStreamSplitter((bytes) => this.#receive(bytes, peer));
    socket.on('data', (chunk) => splitter.push(chunk));
    socket.on('error', (error) => this.emit('problem', `tcp: ${error.message}`));
    socket.on('close', () => {
      if (this.#connections.get(key(peer)) === socket) this.#connections.delete(key(peer));
    });
  }

  /** Sends any message as is (responses, ACK-less requests, and bytes a fault wants broken). */
  send(message: SipMessage | Buffer, peer: SipPeer): void {
    const bytes = Buffer.isBuffer(message) ? message : serializeSip(message);
    if (!Buffer.isBuffer(message)) this.emit('message', 'out', message, peer);
    if (peer.transport === 'udp') this.#udp?.send(bytes, peer.port, peer.address);
    else this.#connections.get(key(peer))?.write(bytes);
  }

  /** Sends a request (its top Via given a branch here) and resolves with its final response. */
  async request(
    request: SipRequest,
    peer: SipPeer,
    options: { timeoutMs?: number } = {},
  ): Promise<SipResponse> {
    if (peer.transport === 'tcp') await this.connect(peer);
    const branch = newBranch();
    // Over TCP the Via names the connection's own port: a client-only node binds none.
    const via = `SIP/2.0/${peer.transport.toUpperCase()} ${this.host}:${this.localPortFor(peer)};rport;branch=${branch}`;
    const sent: SipRequest = {
      ...request,
      headers: [['Via', via], ...request.headers.filter(([n]) => longName(n) !== 'via')],
    };
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 32_000;
    return new Promise<SipResponse>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const done = () => {
        for (const timer of timers) clearTimeout(timer);
        this.#pending.delete(branch);
      };
      this.#pending.set(branch, {
        resolve: (response) => {
          done();
          resolve(response);
        },
        reject: (error) => {
          done();
          reject(error);
        },
        timers,
      });
      timers.push(
        setTimeout(() => {
          done();
          reject(new SipTimeoutError(`no answer to ${request.method} within ${timeoutMs} ms`));
        }, timeoutMs),
      );
      this.send(sent, peer);
      // Timer E: a UDP request is sent again at 0.5, 1, 2, 4, 4… s until answered.
      if (peer.transport === 'udp') {
        let interval = 500;
        let at = 0;
        while (at + interval < timeoutMs) {
          at += interval;
          timers.push(setTimeout(() => this.send(serializeSip(sent), peer), at));
          interval = Math.min(interval * 2, 4000);
        }
      }
    });
  }

  #receive(bytes: Buffer, peer: SipPeer): void {
    let message: SipMessage;
    try {
      message = parseSip(bytes);
    } catch (error) {
      this.emit('problem', `unreadable SIP from ${peer.address}:${peer.port}: ${(error as Error).message}`);
      return;
    }
    this.emit('message', 'in', message, peer);
    const branch = headerParam(header(message, 'via'), 'branch') ?? '';
    if (message.kind === 'response') {
      if (message.status >= 200) this.#pending.get(branch)?.resolve(message);
      return;
    }
    if (message.method === 'ACK') return;
    const transaction = `${key(peer)} ${branch} ${message.method}`;
    const known = this.#answered.get(transaction);
    if (known !== undefined) {
      if (known.response) this.send(serializeSip(known.response), peer); // the answer was lost: again
      return;
    }
    const now = Date.now();
    for (const [k, v] of this.#answered) if (now - v.at > 32_000) this.#answered.delete(k);
    const record: { response?: SipResponse; at: number } = { at: now };
    this.#answered.set(transaction, record);
    this.#options.onRequest(message, {
      peer,
      respond: (response) => {
        if (record.response !== undefined) return;
        record.response = response;
        this.send(response, peer);
      },
    });
  }
}

function key(peer: SipPeer): string {
  return `${peer.transport}:${peer.address}:${peer.port}`;
}
