import { randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { builtinSnapshot } from '../onvif-camera/media.ts';
import { DigestGuard } from '../shared/http-digest.ts';
import {
  type AccessAlert,
  accessAlertJson,
  type CameraAlert,
  cameraAlertXml,
  type DeviceIdentity,
  deviceInfoXml,
  deviceTime,
  responseStatusXml,
} from './alerts.ts';

/**
 * A Hikvision device on loopback, speaking ISAPI as firmware does, for the hub's tests and the demo. It imports
 * nothing from the hub.
 *
 * - `GET /ISAPI/Event/notification/alertStream`: Digest (MD5, qop=auth; Basic too when `acceptBasic`), then a
 *   `multipart/mixed` body that never ends: one EventNotificationAlert per part, a `videoloss` inactive keepalive
 *   every `keepaliveMs`. Each part's head and body are written apart, as firmware does.
 * - `GET /ISAPI/Streaming/channels/<n>01/picture`: a JPEG.
 * - `PUT /ISAPI/AccessControl/RemoteControl/door/<n>` with `<RemoteControlDoor><cmd>open</cmd>…`: a ResponseStatus.
 * - `GET /ISAPI/System/deviceInfo`.
 * - Pushes each alert to its HTTP listening host when one is set (as `/ISAPI/Event/notification/httpHosts` would):
 *   XML, JSON or multipart/form-data with a picture, with HTTP Basic (`httpAuthenticationMethod` base64).
 * - Scripted events: motion(), lineCross(), intrusion(), regionCross(), tamper(), videoLoss(), alarmInput(),
 *   storage(), forceDoor(), holdDoor(), cardSwipe(), duress(), antiPassback(), tailgate(), doorClosed(), and any
 *   access code by accessEvent().
 * - Fault knobs: reboot(), dropStreams(), badDigest, clockSkewMs, garbage(), stall(), answerDelayMs.
 */

export interface ListeningHost {
  /** e.g. http://127.0.0.1:8090/hikvision/alarm */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly format: 'xml' | 'json' | 'multipart';
}

export interface HikvisionSimulatorOptions {
  readonly kind: 'camera' | 'access';
  readonly host?: string;
  readonly port?: number;
  /** The ISAPI account the hub logs in with. */
  readonly username: string;
  readonly password: string;
  /** Take Basic credentials as well as Digest (the "digest/basic" authentication setting of the web UI). */
  readonly acceptBasic?: boolean;
  readonly serial?: string;
  readonly mac?: string;
  readonly model?: string;
  readonly name?: string;
  /** How often the stream's keepalive (`videoloss` inactive) goes out; default 10 s, as firmware. */
  readonly keepaliveMs?: number;
  /** Pause between a part's head and its body (ms); default 2, so a reader sees them as separate chunks. */
  readonly partGapMs?: number;
  readonly listeningHost?: ListeningHost;
  /** Doors of an access controller. */
  readonly doors?: number;
}

interface OpenStream {
  readonly response: ServerResponse;
  stalled: boolean;
  /** The part being written: the next waits for it, so two parts never interleave. */
  writing: Promise<void>;
}

const BOUNDARY = 'boundary';

export class HikvisionSimulator {
  readonly options: HikvisionSimulatorOptions;
  readonly identity: DeviceIdentity;
  /** Refuse every credential, as a device whose password was changed. */
  badDigest = false;
  /** Moves the device's clock (ms). */
  clockSkewMs = 0;
  /** Waits this long before answering any request (a slow or overloaded device). */
  answerDelayMs = 0;
  listeningHost: ListeningHost | undefined;
  /** Doors opened by RemoteControl, in order. */
  readonly doorOpens: number[] = [];
  /** Alerts this device pushed and the status each got, in order. */
  readonly pushes: { readonly status: number; readonly format: string }[] = [];
  /** Alert stream connections accepted so far (reconnections included). */
  streamsAccepted = 0;
  readonly #digest = new DigestGuard('IP Camera(F1234)');
  readonly #streams = new Set<OpenStream>();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #rebootedUntil = 0;
  #serialNo = 0;
  #snapshot: Buffer | undefined;

  constructor(options: HikvisionSimulatorOptions) {
    this.options = options;
    this.listeningHost = options.listeningHost;
    const mac = options.mac ?? `44:19:b6:${randomBytes(3).toString('hex').match(/../g)?.join(':')}`;
    this.identity = {
      ipAddress: options.host ?? '127.0.0.1',
      port: 0,
      mac,
      serial:
        options.serial ??
        (options.kind === 'camera'
          ? 'DS-2CD2346G2-ISU20230101AACHF12345678'
          : 'DS-K1T671M20230101V010200ENF87654321'),
      model: options.model ?? (options.kind === 'camera' ? 'DS-2CD2346G2-ISU/SL' : 'DS-K1T671M'),
      name: options.name ?? (options.kind === 'camera' ? 'Camera 01' : 'Access Controller'),
    };
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The base URL the hub's `http.url` points at. */
  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.#streams.size;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      void this.#serve(request, response);
    });
    server.on('connection', (socket: Socket) => {
      // A rebooting device accepts nothing.
      if (Date.now() < this.#rebootedUntil) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.#server = server;
    (this.identity as { port: number }).port = this.port;
    this.#keepalive = setInterval(() => this.#sendKeepalive(), this.options.keepaliveMs ?? 10_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.#keepalive);
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#streams.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ── scripted events ─────────────────────────────────────────────────────────────────────────────────────────────

  motion(active = true, channel = 1): Promise<void> {
    return this.#camera({
      eventType: 'VMD',
      eventState: active ? 'active' : 'inactive',
      description: 'Motion alarm',
      channel,
    });
  }

  lineCross(channel = 1, target = 'human'): Promise<void> {
    return this.#camera({
      eventType: 'linedetection',
      eventState: 'active',
      description: 'linedetection alarm',
      channel,
      region: { id: 1, target },
    });
  }

  intrusion(active = true, channel = 1, target = 'human'): Promise<void> {
    return this.#camera({
      eventType: 'fielddetection',
      eventState: active ? 'active' : 'inactive',
      description: 'fielddetection alarm',
      channel,
      region: { id: 1, target },
    });
  }

  tamper(active = true, channel = 1): Promise<void> {
    return this.#camera({
      eventType: 'shelteralarm',
      eventState: active ? 'active' : 'inactive',
      description: 'shelteralarm alarm',
      channel,
    });
  }

  videoLoss(active = true, channel = 1): Promise<void> {
    return this.#camera({
      eventType: 'videoloss',
      eventState: active ? 'active' : 'inactive',
      description: 'videoloss alarm',
      channel,
    });
  }

  alarmInput(active = true, inputPort = 1): Promise<void> {
    return this.#camera({
      eventType: 'IO',
      eventState: active ? 'active' : 'inactive',
      description: 'IO alarm',
      channel: 1,
      inputPort,
    });
  }

  /** An object entered (regionEntrance) or left (regionExiting) a region: momentary, as firmware sends them. */
  regionCross(way: 'entrance' | 'exiting', channel = 1, target = 'human'): Promise<void> {
    const eventType = way === 'entrance' ? 'regionEntrance' : 'regionExiting';
    return this.#camera({
      eventType,
      eventState: 'active',
      description: `${eventType} alarm`,
      channel,
      region: { id: 1, target },
    });
  }

  /** The recorder's storage is full (`diskfull`) or failed (`diskerror`), and back (inactive). */
  storage(fault: 'diskfull' | 'diskerror', active = true): Promise<void> {
    return this.#camera({
      eventType: fault,
      eventState: active ? 'active' : 'inactive',
      description: `${fault} alarm`,
      channel: 0,
    });
  }

  /**
   * Any AccessControllerEvent by its code (majorEventType / subEventType, the SDK's numbers): the door contact, the
   * emergency button, an interlock, a remote open, the enclosure pried open, whatever a script needs.
   */
  accessEvent(alert: Omit<AccessAlert, 'serialNo'>): Promise<void> {
    return this.#access(alert);
  }

  forceDoor(door = 1): Promise<void> {
    return this.#access({ major: 5, minor: 0x1b, door });
  }

  holdDoor(door = 1): Promise<void> {
    return this.#access({ major: 5, minor: 0x1c, door });
  }

  doorClosed(door = 1): Promise<void> {
    return this.#access({ major: 5, minor: 0x1a, door });
  }

  /** A card at a reader: granted (legal card pass) or refused as an invalid card. */
  cardSwipe(options: {
    card: string;
    granted?: boolean;
    name?: string;
    door?: number;
    employeeNo?: string;
  }): Promise<void> {
    return this.#access({
      major: 5,
      minor: options.granted === false ? 0x09 : 0x01,
      door: options.door ?? 1,
      reader: 1,
      cardNo: options.card,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.employeeNo === undefined ? {} : { employeeNo: options.employeeNo }),
      verifyMode: 'card',
    });
  }

  duress(door = 1): Promise<void> {
    return this.#access({ major: 1, minor: 0x40a, door });
  }

  antiPassback(card: string, door = 1): Promise<void> {
    return this.#access({ major: 5, minor: 0x0a, door, reader: 1, cardNo: card });
  }

  tailgate(door = 1): Promise<void> {
    return this.#access({ major: 5, minor: 0x85, door });
  }

  // ── fault knobs ─────────────────────────────────────────────────────────────────────────────────────────────────

  /** Ends every open stream, as a network hiccup would. */
  dropStreams(): void {
    for (const stream of this.#streams) stream.response.socket?.destroy();
    this.#streams.clear();
  }

  /** Drops every connection and accepts none for `downMs`, as a reboot does. */
  reboot(downMs = 1_000): void {
    this.#rebootedUntil = Date.now() + downMs;
    this.#digest.reset();
    for (const socket of this.#sockets) socket.destroy();
    this.#streams.clear();
  }

  /** Open streams go silent (no keepalive, no event), the connection held: a stalled stream. */
  stall(): void {
    for (const stream of this.#streams) stream.stalled = true;
  }

  /** A part that is not an alert: broken XML, as a firmware bug or a corrupted link sends. */
  garbage(body = '<EventNotificationAlert><eventType>VMD</eventType><eventState>act'): Promise<void> {
    return this.#broadcast('application/xml; charset="UTF-8"', Buffer.from(body));
  }

  // ── sending ─────────────────────────────────────────────────────────────────────────────────────────────────────

  #time(): string {
    return deviceTime(Date.now() + this.clockSkewMs);
  }

  async #camera(alert: Omit<CameraAlert, 'activePostCount'>): Promise<void> {
    const xml = cameraAlertXml(this.identity, { ...alert, activePostCount: 1 }, this.#time());
    await this.#broadcast('application/xml; charset="UTF-8"', Buffer.from(xml));
    await this.#pushAlert(xml, 'xml');
  }

  async #access(alert: Omit<AccessAlert, 'serialNo'>): Promise<void> {
    this.#serialNo += 1;
    const json = accessAlertJson(this.identity, { ...alert, serialNo: this.#serialNo }, this.#time());
    await this.#broadcast('application/json; charset="UTF-8"', Buffer.from(json));
    await this.#pushAlert(json, 'json');
  }

  #sendKeepalive(): void {
    const xml = cameraAlertXml(
      this.identity,
      {
        eventType: 'videoloss',
        eventState: 'inactive',
        description: 'videoloss alarm',
        channel: 1,
        activePostCount: 0,
      },
      this.#time(),
    );
    void this.#broadcast('application/xml; charset="UTF-8"', Buffer.from(xml));
  }

  /** One part on every open stream: its head, then (apart) its body, as firmware writes them. */
  async #broadcast(contentType: string, body: Buffer): Promise<void> {
    const head = `--${BOUNDARY}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
    await Promise.all(
      [...this.#streams].map((stream) => {
        stream.writing = stream.writing.then(async () => {
          if (stream.stalled || stream.response.writableEnded) return;
          stream.response.write(head);
          await sleep(this.options.partGapMs ?? 2);
          if (!stream.response.writableEnded)
            stream.response.write(Buffer.concat([body, Buffer.from('\r\n')]));
        });
        return stream.writing;
      }),
    );
  }

  /** POSTs the alert to the listening host, when one is set, in its format. */
  async #pushAlert(document: string, documentType: 'xml' | 'json'): Promise<void> {
    const host = this.listeningHost;
    if (host === undefined) return;
    const type =
      documentType === 'xml' ? 'application/xml; charset="UTF-8"' : 'application/json; charset="UTF-8"';
    let body: Buffer;
    let contentType: string;
    if (host.format === 'multipart') {
      const picture = this.#picture();
      const formBoundary = `---------------------------${randomBytes(6).toString('hex')}`;
      const partName = documentType === 'xml' ? 'MoveDetection.xml' : 'event_log';
      body = Buffer.concat([
        Buffer.from(
          `--${formBoundary}\r\nContent-Disposition: form-data; name="${partName}"\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(document)}\r\n\r\n${document}\r\n`,
        ),
        Buffer.from(
          `--${formBoundary}\r\nContent-Disposition: form-data; name="Picture"; filename="picture.jpg"\r\nContent-Type: image/jpeg\r\nContent-Length: ${picture.length}\r\n\r\n`,
        ),
        picture,
        Buffer.from(`\r\n--${formBoundary}--\r\n`),
      ]);
      contentType = `multipart/form-data; boundary=${formBoundary}`;
    } else {
      body = Buffer.from(document);
      contentType = type;
    }
    const status = await this.postRaw(body, contentType);
    this.pushes.push({ status, format: host.format });
  }

  /** POSTs any body to the listening host with its credentials (garbage, oversized bodies): the status. */
  postRaw(
    body: Buffer,
    contentType: string,
    credentials: { username: string; password: string } | null = this.listeningHost ?? null,
  ): Promise<number> {
    const host = this.listeningHost;
    if (host === undefined) return Promise.reject(new Error('no listening host set'));
    const url = new URL(host.url);
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': contentType,
            'content-length': String(body.length),
            ...(credentials === null
              ? {}
              : {
                  authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
                }),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', (error) =>
        (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(413) : reject(error),
      );
      request.end(body);
    });
  }

  #picture(): Buffer {
    this.#snapshot ??= builtinSnapshot(this.identity.name, new Date());
    return this.#snapshot;
  }

  // ── serving ─────────────────────────────────────────────────────────────────────────────────────────────────────

  #authorized(request: IncomingMessage, response: ServerResponse): boolean {
    const account = { username: this.options.username, password: this.options.password };
    const authorization = request.headers.authorization;
    if (!this.badDigest && this.options.acceptBasic === true && authorization?.startsWith('Basic ')) {
      const expected = Buffer.from(`${account.username}:${account.password}`).toString('base64');
      if (authorization.slice(6).trim() === expected) return true;
    }
    const verdict = this.badDigest
      ? authorization === undefined
        ? 'missing'
        : 'denied'
      : this.#digest.verify(authorization, request.method ?? 'GET', request.url ?? '/', account);
    if (verdict === 'ok') return true;
    response.writeHead(401, {
      'www-authenticate': this.#digest.challenge(verdict === 'stale'),
      'content-type': 'application/xml',
    });
    response.end(responseStatusXml(request.url ?? '/', 4, 'Invalid Operation', 'unAuthorized'));
    return false;
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.answerDelayMs > 0) await sleep(this.answerDelayMs);
    const path = new URL(request.url ?? '/', 'http://device').pathname;
    if (!this.#authorized(request, response)) {
      request.resume();
      return;
    }
    if (request.method === 'GET' && path === '/ISAPI/Event/notification/alertStream')
      return this.#openStream(response);
    if (request.method === 'GET' && /^\/ISAPI\/Streaming\/channels\/\d+\/picture$/i.test(path)) {
      const picture = this.#picture();
      response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(picture.length) });
      response.end(picture);
      return;
    }
    if (request.method === 'GET' && path === '/ISAPI/System/deviceInfo') {
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.end(deviceInfoXml(this.identity, this.options.kind));
      return;
    }
    const door = /^\/ISAPI\/AccessControl\/RemoteControl\/door\/(\d+)$/.exec(path);
    if (request.method === 'PUT' && door !== null)
      return this.#remoteControl(request, response, path, Number(door[1]));
    request.resume();
    response.writeHead(404, { 'content-type': 'application/xml' });
    response.end(responseStatusXml(path, 4, 'Invalid Operation', 'notSupport'));
  }

  #openStream(response: ServerResponse): void {
    this.streamsAccepted += 1;
    // As firmware answers: no chunked transfer coding, the parts follow the head until the connection closes.
    response.useChunkedEncodingByDefault = false;
    response.writeHead(200, {
      'mime-version': '1.0',
      'content-type': `multipart/mixed; boundary=${BOUNDARY}`,
      connection: 'close',
    });
    response.flushHeaders();
    const stream: OpenStream = { response, stalled: false, writing: Promise.resolve() };
    this.#streams.add(stream);
    response.on('close', () => this.#streams.delete(stream));
  }

  async #remoteControl(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    door: number,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const answer = (status: number, code: number, text: string, sub: string): void => {
      response.writeHead(status, { 'content-type': 'application/xml' });
      response.end(responseStatusXml(path, code, text, sub));
    };
    if (this.options.kind !== 'access') return answer(403, 4, 'Invalid Operation', 'notSupport');
    if (!/<cmd>\s*open\s*<\/cmd>/.test(body)) return answer(400, 6, 'Invalid Content', 'badXmlContent');
    if (door < 1 || door > (this.options.doors ?? 2))
      return answer(400, 6, 'Invalid Content', 'badParameters');
    this.doorOpens.push(door);
    answer(200, 1, 'OK', 'ok');
  }
}
