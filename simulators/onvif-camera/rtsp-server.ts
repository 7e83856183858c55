import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { type DigestFault, DigestGuard } from '../shared/http-digest.ts';
import type { Credentials } from './soap.ts';

/**
 * The camera's RTSP server (RFC 2326), small and faithful to what viewers meet on IP cameras:
 *
 * - a viewer DESCRIBEs, SETUPs each track and PLAYs, with RTP either interleaved on the RTSP connection
 *   (`RTP/AVP/TCP;interleaved=0-1`, RFC 2326 10.12) or over UDP (`RTP/AVP;unicast;client_port=a-b`);
 *   a multicast transport gets 461 Unsupported Transport;
 * - every request but OPTIONS needs HTTP Digest credentials (RFC 2617 without qop, as Hikvision and Dahua RTSP
 *   servers challenge): no or wrong credentials get 401 with a `WWW-Authenticate: Digest` challenge;
 * - the picture comes from a publisher (ffmpeg) that ANNOUNCEs its SDP and RECORDs over TCP to a secret path; its
 *   RTP packets are copied to every playing viewer as they arrive.
 *
 * Limits: request heads of 8 KiB, bodies of 64 KiB, 64 connections; a viewer whose TCP backlog grows past
 * 2 MiB loses packets rather than memory, as a camera's encoder drops frames for a slow client.
 */

export interface RtspServerOptions {
  /** Address to listen on (and the host in URLs). */
  readonly host: string;
  /** 0 (default) picks a free port on the first start; it is kept across restarts. */
  readonly port?: number;
  /** The viewers' path, e.g. `/stream`. */
  readonly path: string;
  /** The viewers' account; undefined lets anyone play (a camera with RTSP authentication off). */
  readonly account: () => Credentials | undefined;
  /** Realm of the Digest challenge. */
  readonly realm?: string;
  /** A broken authentication to act out (the simulator's digest fault knob); undefined for none. */
  readonly digestFault?: () => DigestFault | undefined;
}

const MAX_HEAD_BYTES = 8 * 1024;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_CONNECTIONS = 64;
const MAX_VIEWER_BACKLOG = 2 * 1024 * 1024;
const SESSION_TIMEOUT_S = 60;
const SERVER_NAME = 'Rtsp Server/3.0';

const PUBLIC_METHODS = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport',
  503: 'Service Unavailable',
};

interface RtspRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

interface RtspResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Where a viewer gets one track: two interleaved channels on its connection, or two UDP ports. */
type TrackDelivery =
  | { readonly kind: 'tcp'; readonly rtp: number; readonly rtcp: number }
  | { readonly kind: 'udp'; readonly host: string; readonly rtp: number; readonly rtcp: number };

interface ViewerSession {
  readonly id: string;
  readonly connection: Connection;
  readonly tracks: Map<number, TrackDelivery>;
  playing: boolean;
}

interface Publisher {
  readonly connection: Connection;
  readonly sdp: string;
  /** Interleaved channel → [track, isRtcp]. */
  readonly channels: Map<number, readonly [number, boolean]>;
  recording: boolean;
}

/** The track a SETUP names: `…/streamid=N` or `…/trackID=N`; the aggregate URL means track 0. */
function trackOf(uri: string): number {
  const match = /(?:streamid|trackID)=(\d+)\/?$/.exec(uri);
  return match === null ? 0 : Number(match[1]);
}

function pathOf(uri: string): string {
  try {
    return new URL(uri).pathname.replace(/\/(?:streamid|trackID)=\d+\/?$/, '').replace(/\/$/, '') || '/';
  } catch {
    return '';
  }
}

/** Parses `RTP/AVP/TCP;unicast;interleaved=0-1` or `RTP/AVP;unicast;client_port=5000-5001`; the first usable one. */
function parseTransport(header: string | undefined): {
  readonly tcp?: readonly [number, number];
  readonly udp?: readonly [number, number];
  readonly multicast?: boolean;
} {
  for (const spec of (header ?? '').split(',')) {
    const parts = spec.trim().split(';');
    const profile = (parts[0] ?? '').toUpperCase();
    const param = (name: string): readonly [number, number] | undefined => {
      const value = parts.find((p) => p.trim().startsWith(`${name}=`))?.split('=')[1];
      if (value === undefined) return undefined;
      const [a, b] = value.split('-').map(Number);
      return a === undefined || !Number.isInteger(a) ? undefined : [a, b ?? a + 1];
    };
    if (parts.some((p) => p.trim() === 'multicast')) return { multicast: true };
    if (profile === 'RTP/AVP/TCP') {
      const channels = param('interleaved');
      if (channels !== undefined) return { tcp: channels };
    } else if (profile === 'RTP/AVP' || profile === 'RTP/AVP/UDP') {
      const ports = param('client_port');
      if (ports !== undefined) return { udp: ports };
    }
  }
  return {};
}

class ProtocolError extends Error {}

/** One RTSP connection: requests and interleaved `$` frames on the same byte stream (RFC 2326 10.12). */
class Connection {
  readonly socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #onRequest: (request: RtspRequest) => void;
  readonly #onFrame: (channel: number, payload: Buffer) => void;

  constructor(
    socket: Socket,
    onRequest: (request: RtspRequest) => void,
    onFrame: (channel: number, payload: Buffer) => void,
  ) {
    this.socket = socket;
    this.#onRequest = onRequest;
    this.#onFrame = onFrame;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#read(chunk);
      } catch {
        // A protocol violation closes the connection, as a camera's server does.
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length > 0 && !this.socket.destroyed) {
      const buffer = this.#buffer;
      if (buffer[0] === 0x24) {
        if (buffer.length < 4) return;
        const size = buffer.readUInt16BE(2);
        if (buffer.length < 4 + size) return;
        this.#buffer = buffer.subarray(4 + size);
        this.#onFrame(buffer[1] ?? 0, buffer.subarray(4, 4 + size));
        continue;
      }
      const headEnd = buffer.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        if (buffer.length > MAX_HEAD_BYTES) throw new ProtocolError('request head too long');
        return;
      }
      if (headEnd > MAX_HEAD_BYTES) throw new ProtocolError('request head too long');
      const lines = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
      const [method, uri, version] = (lines[0] ?? '').split(' ');
      if (method === undefined || uri === undefined || version !== 'RTSP/1.0') {
        throw new ProtocolError('not an RTSP request');
      }
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get('content-length') ?? 0);
      if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) {
        throw new ProtocolError('bad Content-Length');
      }
      if (buffer.length < headEnd + 4 + length) return;
      this.#buffer = buffer.subarray(headEnd + 4 + length);
      this.#onRequest({ method, uri, headers, body: buffer.subarray(headEnd + 4, headEnd + 4 + length) });
    }
  }

  respond(request: RtspRequest, response: RtspResponse): void {
    if (this.socket.destroyed) return;
    const body = response.body ?? '';
    const headers: Record<string, string> = {
      CSeq: request.headers.get('cseq') ?? '0',
      Server: SERVER_NAME,
      Date: new Date().toUTCString(),
      ...response.headers,
    };
    if (body !== '') headers['Content-Length'] = String(Buffer.byteLength(body));
    const head = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    this.socket.write(
      `RTSP/1.0 ${response.status} ${REASONS[response.status] ?? 'Error'}\r\n${head}\r\n${body}`,
    );
  }

  /** An interleaved frame; dropped when the viewer is too far behind. */
  sendFrame(channel: number, payload: Buffer): void {
    if (this.socket.destroyed || this.socket.writableLength > MAX_VIEWER_BACKLOG) return;
    const header = Buffer.from([0x24, channel, payload.length >> 8, payload.length & 0xff]);
    this.socket.write(Buffer.concat([header, payload]));
  }
}

export class RtspServer {
  readonly options: RtspServerOptions;
  /** The path ffmpeg publishes to: unguessable, so no viewer can take the publisher's place. */
  readonly publishPath = `/publish-${randomBytes(8).toString('hex')}`;
  #port: number | undefined;
  #server: Server | undefined;
  #udp: { rtp: UdpSocket; rtcp: UdpSocket } | undefined;
  #digest: DigestGuard;
  #publisher: Publisher | undefined;
  #recording: (() => void) | undefined;
  readonly #sessions = new Map<string, ViewerSession>();
  readonly #sockets = new Set<Socket>();
  /** Viewer requests answered with 401, for tests and the CLI. */
  unauthorized = 0;

  constructor(options: RtspServerOptions) {
    this.options = options;
    this.#digest = new DigestGuard(options.realm ?? 'IP Camera', { qop: false });
  }

  get port(): number | undefined {
    return this.#port;
  }

  /** The viewers' URL (without credentials, as GetStreamUri hands it out). */
  get url(): string {
    return `rtsp://${this.options.host}:${this.#port ?? 0}${this.options.path}`;
  }

  get publishUrl(): string {
    return `rtsp://${this.options.host}:${this.#port ?? 0}${this.publishPath}`;
  }

  /** Viewers currently playing. */
  get playing(): number {
    return [...this.#sessions.values()].filter((session) => session.playing).length;
  }

  async start(): Promise<void> {
    this.#digest = new DigestGuard(this.options.realm ?? 'IP Camera', { qop: false });
    const bindUdp = (): Promise<UdpSocket> =>
      new Promise((resolve, reject) => {
        const socket = createSocket('udp4');
        socket.once('error', reject);
        // Viewers' NAT-punching packets and receiver reports arrive here and are read and dropped.
        socket.on('message', () => undefined);
        socket.bind(0, this.options.host, () => {
          socket.off('error', reject);
          socket.on('error', () => undefined);
          resolve(socket);
        });
      });
    this.#udp = { rtp: await bindUdp(), rtcp: await bindUdp() };
    const server = createServer((socket) => this.#accept(socket));
    server.maxConnections = MAX_CONNECTIONS;
    this.#server = server;
    this.#port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port ?? this.options.port ?? 0, this.options.host, () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  }

  /** Resolves once a publisher records and its first packet arrived. */
  recording(signal?: AbortSignal): Promise<void> {
    if (this.#publisher?.recording === true) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#recording = resolve;
      signal?.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
    });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#publisher = undefined;
    this.#sessions.clear();
    const closed =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp !== undefined) {
      await Promise.all(
        [udp.rtp, udp.rtcp].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
      );
    }
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const connection: Connection = new Connection(
      socket,
      (request) => this.#handle(connection, request),
      (channel, payload) => this.#onFrame(connection, channel, payload),
    );
    socket.once('close', () => {
      this.#sockets.delete(socket);
      if (this.#publisher?.connection === connection) this.#publisher = undefined;
      for (const [id, session] of this.#sessions)
        if (session.connection === connection) this.#sessions.delete(id);
    });
  }

  #handle(connection: Connection, request: RtspRequest): void {
    const response =
      pathOf(request.uri) === this.publishPath
        ? this.#publish(connection, request)
        : this.#view(connection, request);
    connection.respond(request, response);
  }

  // -------------------------------------------------------------------------------------------------------------
  // The publisher (ffmpeg): ANNOUNCE, SETUP with interleaved TCP, RECORD

  #publish(connection: Connection, request: RtspRequest): RtspResponse {
    switch (request.method) {
      case 'OPTIONS':
        return { status: 200, headers: { Public: `${PUBLIC_METHODS}, ANNOUNCE, RECORD` } };
      case 'ANNOUNCE': {
        if (this.#publisher !== undefined && this.#publisher.connection !== connection)
          return { status: 455 };
        this.#publisher = {
          connection,
          sdp: request.body.toString('utf8'),
          channels: new Map(),
          recording: false,
        };
        return { status: 200 };
      }
      case 'SETUP': {
        const publisher = this.#publisher;
        if (publisher?.connection !== connection) return { status: 455 };
        const transport = parseTransport(request.headers.get('transport'));
        if (transport.tcp === undefined) return { status: 461 };
        const track = trackOf(request.uri);
        publisher.channels.set(transport.tcp[0], [track, false]);
        publisher.channels.set(transport.tcp[1], [track, true]);
        return {
          status: 200,
          headers: {
            Transport: request.headers.get('transport') ?? '',
            Session: `publisher;timeout=${SESSION_TIMEOUT_S}`,
          },
        };
      }
      case 'RECORD': {
        const publisher = this.#publisher;
        if (publisher?.connection !== connection) return { status: 455 };
        return { status: 200, headers: { Session: 'publisher' } };
      }
      case 'TEARDOWN':
        if (this.#publisher?.connection === connection) this.#publisher = undefined;
        return { status: 200 };
      default:
        return { status: 405, headers: { Allow: 'OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN' } };
    }
  }

  #onFrame(connection: Connection, channel: number, payload: Buffer): void {
    const publisher = this.#publisher;
    if (publisher?.connection !== connection) return; // a viewer's RTCP receiver report
    const route = publisher.channels.get(channel);
    if (route === undefined) return;
    if (!publisher.recording) {
      publisher.recording = true;
      this.#recording?.();
      this.#recording = undefined;
    }
    const [track, isRtcp] = route;
    for (const session of this.#sessions.values()) {
      if (!session.playing) continue;
      const delivery = session.tracks.get(track);
      if (delivery === undefined) continue;
      const port = isRtcp ? delivery.rtcp : delivery.rtp;
      if (delivery.kind === 'tcp') {
        session.connection.sendFrame(port, payload);
      } else {
        const socket = isRtcp ? this.#udp?.rtcp : this.#udp?.rtp;
        socket?.send(payload, port, delivery.host);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Viewers

  #view(connection: Connection, request: RtspRequest): RtspResponse {
    if (request.method === 'OPTIONS') return { status: 200, headers: { Public: PUBLIC_METHODS } };
    const denied = this.#authenticate(request);
    if (denied !== undefined) return denied;
    if (pathOf(request.uri) !== this.options.path) return { status: 404 };
    const sessionId = request.headers.get('session')?.split(';')[0]?.trim();
    const session = sessionId === undefined ? undefined : this.#sessions.get(sessionId);
    if (sessionId !== undefined && session === undefined && request.method !== 'DESCRIBE') {
      return { status: 454 };
    }
    switch (request.method) {
      case 'DESCRIBE':
        return this.#describe();
      case 'SETUP':
        return this.#setup(connection, request, session);
      case 'PLAY':
        if (session === undefined) return { status: 454 };
        session.playing = true;
        return { status: 200, headers: { Session: session.id, Range: 'npt=0.000-' } };
      case 'PAUSE':
        if (session === undefined) return { status: 454 };
        session.playing = false;
        return { status: 200, headers: { Session: session.id } };
      case 'TEARDOWN':
        if (session !== undefined) this.#sessions.delete(session.id);
        return { status: 200 };
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        return { status: 200, headers: session === undefined ? {} : { Session: session.id } };
      default:
        return { status: 405, headers: { Allow: PUBLIC_METHODS } };
    }
  }

  #describe(): RtspResponse {
    const publisher = this.#publisher;
    if (publisher === undefined || !publisher.recording) return { status: 503 };
    // The publisher's SDP names its tracks `streamid=N`; viewers resolve them against Content-Base.
    const sdp = publisher.sdp
      .replace(/^o=.*$/m, `o=- 0 0 IN IP4 ${this.options.host}`)
      .replace(/^s=.*$/m, 's=Media Presentation');
    return {
      status: 200,
      headers: { 'Content-Base': `${this.url}/`, 'Content-Type': 'application/sdp' },
      body: sdp,
    };
  }

  #setup(connection: Connection, request: RtspRequest, existing: ViewerSession | undefined): RtspResponse {
    if (existing !== undefined && existing.connection !== connection) return { status: 455 };
    const transport = parseTransport(request.headers.get('transport'));
    const track = trackOf(request.uri);
    const session: ViewerSession = existing ?? {
      id: randomBytes(6).toString('hex').toUpperCase(),
      connection,
      tracks: new Map(),
      playing: false,
    };
    let reply: string;
    if (transport.tcp !== undefined) {
      const [rtp, rtcp] = transport.tcp;
      session.tracks.set(track, { kind: 'tcp', rtp, rtcp });
      reply = `RTP/AVP/TCP;unicast;interleaved=${rtp}-${rtcp}`;
    } else if (transport.udp !== undefined && this.#udp !== undefined) {
      const [rtp, rtcp] = transport.udp;
      const host = connection.socket.remoteAddress?.replace(/^::ffff:/, '') ?? this.options.host;
      session.tracks.set(track, { kind: 'udp', host, rtp, rtcp });
      const serverRtp = this.#udp.rtp.address().port;
      const serverRtcp = this.#udp.rtcp.address().port;
      reply = `RTP/AVP;unicast;client_port=${rtp}-${rtcp};server_port=${serverRtp}-${serverRtcp}`;
    } else {
      return { status: 461 };
    }
    this.#sessions.set(session.id, session);
    return {
      status: 200,
      headers: { Transport: reply, Session: `${session.id};timeout=${SESSION_TIMEOUT_S}` },
    };
  }

  /** undefined when the request may go on; otherwise the 401 to answer. */
  #authenticate(request: RtspRequest): RtspResponse | undefined {
    const account = this.options.account();
    if (account === undefined) return undefined;
    const fault = this.options.digestFault?.();
    const verdict = this.#digest.verify(
      request.headers.get('authorization'),
      request.method,
      request.uri,
      account,
    );
    if (verdict === 'ok' && fault === undefined) return undefined;
    this.unauthorized += 1;
    return {
      status: 401,
      headers: {
        'WWW-Authenticate': this.#digest.challenge(verdict === 'stale' || fault === 'stale', fault),
      },
    };
  }
}
