import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { builtinSnapshot } from '../onvif-camera/media.ts';
import { DigestGuard } from '../shared/http-digest.ts';

/**
 * A Dahua device (an IP camera, an NVR channel or a VTO door station) as its HTTP CGI API behaves on the wire, for
 * tests, `npm run sim -- dahua` and the demo. It imports nothing of the hub: it is written from the Dahua HTTP API
 * document (see README.md beside this file), so the hub's adapter is proven against an independent description.
 *
 * - `GET /cgi-bin/eventManager.cgi?action=attach&codes=[…]&heartbeat=N`: a `multipart/x-mixed-replace` stream with
 *   boundary `myboundary` that never ends: a `Heartbeat` part every N seconds, and one part per event, written as
 *   the API document shows (`Content-Length` counts the event's trailing CRLF, not the heartbeat's).
 * - `GET /cgi-bin/snapshot.cgi?channel=1`: a JPEG.
 * - `GET /cgi-bin/magicBox.cgi?action=getSystemInfo`: `key=value` lines with the serial number.
 * - `GET /cgi-bin/accessControl.cgi?action=openDoor&channel=N`: `OK`, and the AccessControl event a door station
 *   reports for a remote open.
 * Every path is behind HTTP Digest (MD5, qop=auth), realm `Login to <serial>` as Dahua firmware writes it.
 *
 * Scripted events: motion, crossLine, crossRegion, blind, videoLoss, alarmInput, doorStatus, access, storage.
 * Fault knobs: reboot, dropStreams (a dropped connection), badDigest (every login refused), clockSkewMs (the
 * device's clock in its event data), garbage and oversized parts, stall (an open stream that goes silent) and
 * trickle (parts written a byte at a time: slow reads for the client).
 */

export interface DahuaSimulatorOptions {
  readonly username: string;
  readonly password: string;
  readonly serialNumber: string;
  readonly deviceType?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  readonly host?: string;
  /** Shown on the snapshot. */
  readonly name?: string;
  /** The doors the device has (a VTO has one or two); openDoor on another is refused. 64 when not given. */
  readonly doors?: number;
}

export const boundary = 'myboundary';

/** Dahua prints event data indented by three spaces, with ` : ` between a key and its value. */
export function dahuaJson(data: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(data, null, 3).replace(/^(\s*"(?:[^"\\]|\\.)*"): /gm, '$1 : ');
}

/** One event part's text: `Code=…;action=…;index=…[;data=…]`. */
export function eventText(
  code: string,
  action: 'Start' | 'Stop' | 'Pulse',
  index: number,
  data?: Readonly<Record<string, unknown>>,
): string {
  return `Code=${code};action=${action};index=${index}${data === undefined ? '' : `;data=${dahuaJson(data)}`}`;
}

/** An event part on the wire, as the Dahua HTTP API shows it: Content-Length counts the text and its CRLF. */
export function eventPart(text: string): Buffer {
  const body = `${text}\r\n`;
  return Buffer.from(
    `--${boundary}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}\r\n`,
  );
}

/** The heartbeat part: its Content-Length is the word alone. */
export const heartbeatPart = Buffer.from(
  `--${boundary}\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n\r\n`,
);

interface Attached {
  readonly response: ServerResponse;
  readonly socket: Socket;
  heartbeat: NodeJS.Timeout | undefined;
  /** Written one after another, so that a trickled part is never cut by the next. */
  chain: Promise<void>;
  stalled: boolean;
}

const attachHeaders = {
  'Cache-Control': 'no-cache',
  Pragma: 'no-cache',
  Expires: 'Thu, 01 Dec 2099 16:00:00 GMT',
  Connection: 'close',
  'Content-Type': `multipart/x-mixed-replace; boundary=${boundary}`,
};

export class DahuaSimulator {
  readonly options: DahuaSimulatorOptions;
  /** Turned on, every login is refused (a changed password, a device that locked the account). */
  badDigest = false;
  /** How far the device's clock is off, in the UTC and LocaleTime its event data carry (ms). */
  clockSkewMs = 0;
  /** Parts written a byte at a time, each after a turn of the event loop. */
  trickle = false;
  /** Attach answered with a web page instead of the stream (a firmware with the CGI service turned off). */
  notMultipart = false;
  /** The answer of openDoor: `OK`, or Dahua's refusal. */
  refuseDoor = false;
  /** openDoor never answered (a device that hangs). */
  silentDoor = false;
  /** Doors opened by openDoor, in order. */
  readonly doorsOpened: number[] = [];
  /** Event streams opened (logins that passed). */
  attaches = 0;
  /** Requests refused for their login (a 401: the first leg of every Digest exchange included). */
  refusedLogins = 0;
  #server: Server | undefined;
  #port = 0;
  readonly #digest: DigestGuard;
  readonly #streams = new Set<Attached>();
  readonly #sockets = new Set<Socket>();
  #snapshot: Buffer | undefined;
  #attachWaiters: (() => void)[] = [];

  constructor(options: DahuaSimulatorOptions) {
    this.options = options;
    this.#digest = new DigestGuard(`Login to ${options.serialNumber}`);
  }

  /** The device's base URL, for the hub's `http.url`. */
  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** Event streams open now. */
  get attached(): number {
    return this.#streams.size;
  }

  async start(): Promise<void> {
    this.#snapshot ??= builtinSnapshot(this.options.name ?? this.options.serialNumber, new Date());
    const server = createServer((request, response) => this.#route(request, response));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port || this.options.port || 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    this.dropStreams();
    for (const socket of this.#sockets) socket.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once at least `count` event streams are open. */
  async waitForAttach(count = 1): Promise<void> {
    while (this.#streams.size < count) {
      await new Promise<void>((resolve) => this.#attachWaiters.push(resolve));
    }
  }

  // ----------------------------------------------------------------------------------------------------------------
  // Scripted events. Each resolves once its part is written to every open stream.

  motion(on: boolean, channel = 1): Promise<void> {
    return this.event('VideoMotion', on ? 'Start' : 'Stop', channel - 1);
  }

  blind(on: boolean, channel = 1): Promise<void> {
    return this.event('VideoBlind', on ? 'Start' : 'Stop', channel - 1);
  }

  videoLoss(on: boolean, channel = 1): Promise<void> {
    return this.event('VideoLoss', on ? 'Start' : 'Stop', channel - 1);
  }

  /** AlarmLocal of alarm input `input` (from 1, as the device's web page numbers them). */
  alarmInput(input: number, on: boolean): Promise<void> {
    return this.event('AlarmLocal', on ? 'Start' : 'Stop', input - 1, this.#times());
  }

  /** A tripwire crossing: Start then Stop, as IVS rules report it. */
  async crossLine(
    options: { rule?: string; direction?: string; objectType?: string; channel?: number } = {},
  ) {
    const data = this.#ruleData(
      options.rule ?? 'Rule1',
      options.direction ?? 'LeftToRight',
      options.objectType,
    );
    await this.event('CrossLineDetection', 'Start', (options.channel ?? 1) - 1, data);
    await this.event('CrossLineDetection', 'Stop', (options.channel ?? 1) - 1, data);
  }

  crossRegion(on: boolean, options: { rule?: string; objectType?: string; channel?: number } = {}) {
    const data = this.#ruleData(options.rule ?? 'Region1', 'Enter', options.objectType);
    return this.event('CrossRegionDetection', on ? 'Start' : 'Stop', (options.channel ?? 1) - 1, data);
  }

  /** The door contact of a door station: DoorStatus, a Pulse with the new state. */
  doorStatus(open: boolean, door = 1): Promise<void> {
    return this.event('DoorStatus', 'Pulse', door - 1, { Status: open ? 'Open' : 'Close', ...this.#times() });
  }

  /** A credential at the door: AccessControl, as a VTO or access controller reports it. */
  access(options: {
    granted: boolean;
    cardNo?: string;
    userId?: string;
    method?: number;
    door?: number;
    type?: 'Entry' | 'Exit';
    errorCode?: number;
  }): Promise<void> {
    return this.event('AccessControl', 'Pulse', 0, {
      CardNo: options.cardNo ?? '',
      Door: (options.door ?? 1) - 1,
      ...(options.errorCode === undefined ? {} : { ErrorCode: options.errorCode }),
      Method: options.method ?? 1,
      Name: 'OpenDoor',
      ReaderID: '1',
      Status: options.granted ? 1 : 0,
      Type: options.type ?? 'Entry',
      UserID: options.userId ?? '',
      ...this.#times(),
    });
  }

  storageFailure(on: boolean): Promise<void> {
    return this.event('StorageFailure', on ? 'Start' : 'Stop', 0);
  }

  /** Any event, as text: `Code=…;action=…;index=…[;data=…]`. */
  event(
    code: string,
    action: 'Start' | 'Stop' | 'Pulse',
    index: number,
    data?: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    return this.sendPart(eventPart(eventText(code, action, index, data)));
  }

  /** Raw bytes on every open stream (a part, or garbage). */
  sendPart(bytes: Buffer): Promise<void> {
    return Promise.all([...this.#streams].map((stream) => this.#write(stream, bytes))).then(() => undefined);
  }

  // ----------------------------------------------------------------------------------------------------------------
  // Fault knobs

  /** A part that is not Dahua's grammar: the stream goes on. */
  garbage(): Promise<void> {
    return this.sendPart(eventPart('\u0000\u0001 not an event ;;=;'));
  }

  /** A part declaring more bytes than any client should hold. */
  oversizedPart(bytes: number): Promise<void> {
    return this.sendPart(
      Buffer.from(`--${boundary}\r\nContent-Type: text/plain\r\nContent-Length: ${bytes}\r\n\r\nCode=`),
    );
  }

  /** Open streams go silent (no heartbeat, no event) with the connection left open; new ones are healthy. */
  stall(): void {
    for (const stream of this.#streams) {
      stream.stalled = true;
      clearInterval(stream.heartbeat);
    }
  }

  /** Every open stream's connection is cut. */
  dropStreams(): void {
    for (const stream of this.#streams) this.#end(stream, true);
  }

  /** The device goes away (connections refused) for `downMs`, forgets its nonces, and comes back on its port. */
  async reboot(downMs: number): Promise<void> {
    await this.stop();
    this.#digest.reset();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  // ----------------------------------------------------------------------------------------------------------------

  #times(): Record<string, unknown> {
    const now = new Date(Date.now() + this.clockSkewMs);
    return {
      LocaleTime: now.toISOString().slice(0, 19).replace('T', ' '),
      UTC: Math.floor(now.getTime() / 1000),
    };
  }

  #ruleData(rule: string, direction: string, objectType: string | undefined): Record<string, unknown> {
    return {
      Class: 'Normal',
      Direction: direction,
      Name: rule,
      ...(objectType === undefined ? {} : { Object: { ObjectType: objectType } }),
      ...this.#times(),
    };
  }

  #route(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://device');
    const routes: Readonly<Record<string, () => void>> = {
      '/cgi-bin/eventManager.cgi': () => this.#attach(url, response),
      '/cgi-bin/snapshot.cgi': () =>
        response
          .writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': this.#snapshot?.length ?? 0 })
          .end(this.#snapshot),
      '/cgi-bin/magicBox.cgi': () => this.#text(response, 200, this.#systemInfo(url)),
      '/cgi-bin/accessControl.cgi': () => this.#openDoor(url, response),
    };
    const route = routes[url.pathname];
    if (route === undefined || request.method !== 'GET') {
      this.#text(response, 404, 'Error\r\nBad Request!\r\n');
      return;
    }
    const verdict = this.badDigest
      ? 'denied'
      : this.#digest.verify(request.headers.authorization, 'GET', request.url ?? '', this.options);
    if (verdict !== 'ok') {
      this.refusedLogins++;
      response
        .writeHead(401, {
          'WWW-Authenticate': this.#digest.challenge(verdict === 'stale'),
          'Content-Type': 'text/plain',
        })
        .end('Error\r\nUnauthorized!\r\n');
      return;
    }
    route();
  }

  #text(response: ServerResponse, status: number, body: string): void {
    response
      .writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) })
      .end(body);
  }

  #systemInfo(url: URL): string {
    if (url.searchParams.get('action') !== 'getSystemInfo') return 'Error\r\nBad Request!\r\n';
    return [
      `deviceType=${this.options.deviceType ?? 'IPC-HFW2431S-S-S2'}`,
      'hardwareVersion=1.00',
      'processor=S2L',
      `serialNumber=${this.options.serialNumber}`,
      `updateSerial=${this.options.deviceType ?? 'IPC-HFW2431S-S-S2'}`,
      '',
    ].join('\r\n');
  }

  #openDoor(url: URL, response: ServerResponse): void {
    if (this.silentDoor) return;
    const door = Number(url.searchParams.get('channel') ?? '1');
    const doors = this.options.doors ?? 64;
    if (url.searchParams.get('action') !== 'openDoor' || !(door >= 1 && door <= doors) || this.refuseDoor) {
      this.#text(response, 400, 'Error\r\nBad Request!\r\n');
      return;
    }
    this.doorsOpened.push(door);
    this.#text(response, 200, 'OK\r\n');
    // A door station reports its remote open as any other: AccessControl, Method 4 (remote).
    void this.access({ granted: true, method: 4, door });
  }

  #attach(url: URL, response: ServerResponse): void {
    if (url.searchParams.get('action') !== 'attach' || url.searchParams.get('codes') === null) {
      this.#text(response, 400, 'Error\r\nBad Request!\r\n');
      return;
    }
    if (this.notMultipart) {
      response.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>Web Service</body></html>');
      return;
    }
    const heartbeatSeconds = Number(url.searchParams.get('heartbeat') ?? '0');
    // A close-delimited body, as the firmware sends it: no chunked framing.
    response.useChunkedEncodingByDefault = false;
    response.writeHead(200, attachHeaders);
    response.flushHeaders();
    const stream: Attached = {
      response,
      socket: response.socket as Socket,
      heartbeat: undefined,
      chain: Promise.resolve(),
      stalled: false,
    };
    if (heartbeatSeconds > 0) {
      stream.heartbeat = setInterval(() => void this.#write(stream, heartbeatPart), heartbeatSeconds * 1000);
    }
    this.#streams.add(stream);
    this.attaches++;
    response.once('close', () => this.#end(stream, false));
    for (const wake of this.#attachWaiters.splice(0)) wake();
  }

  #end(stream: Attached, cut: boolean): void {
    clearInterval(stream.heartbeat);
    this.#streams.delete(stream);
    if (cut) stream.socket.destroy();
  }

  #write(stream: Attached, bytes: Buffer): Promise<void> {
    stream.chain = stream.chain.then(async () => {
      if (stream.stalled || stream.response.writableEnded || stream.socket.destroyed) return;
      if (!this.trickle) {
        stream.response.write(bytes);
        return;
      }
      for (const byte of bytes) {
        if (stream.socket.destroyed) return;
        stream.response.write(Buffer.of(byte));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    return stream.chain;
  }
}
