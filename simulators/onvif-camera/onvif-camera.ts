import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DigestFault, DigestGuard } from '../shared/http-digest.ts';
import { DiscoveryResponder, WS_DISCOVERY_PORT } from './discovery.ts';
import { type Notification, PROPERTY_TOPICS, PullPoints, TOPICS, type TopicKey } from './events.ts';
import {
  BasicNotifications,
  type FirmwareQuirks,
  HttpUnauthorized,
  refusedByQuirks,
} from './firmware-quirks.ts';
import { builtinSnapshot, ffmpegSnapshot, findFfmpeg, RtspTestStream } from './media.ts';
import {
  type CameraContext,
  type DeviceIdentity,
  findHandler,
  type PtzPreset,
  type ServiceName,
  UNAUTHENTICATED,
} from './services.ts';
import {
  child,
  envelope,
  faults,
  NonceCache,
  NS,
  parseXml,
  SoapFault,
  verifyUsernameToken,
  XmlError,
} from './soap.ts';

export type { FirmwareQuirks } from './firmware-quirks.ts';
export type { PtzPreset } from './services.ts';

/**
 * A simulated ONVIF Profile S camera with PullPoint events, speaking real SOAP over HTTP on loopback:
 * the description of a camera that the hub's ONVIF ingest is tested against. It imports nothing from the hub.
 *
 * - Device, Media, Events and PTZ services at /onvif/{device,media,events,ptz}_service; each PullPoint
 *   subscription at /onvif/subscription/<id>. WS-Security UsernameToken (digest or text) on everything but
 *   GetSystemDateAndTime; a wrong or missing token gets ter:NotAuthorized with HTTP 400.
 * - A JPEG at /snapshot.jpg behind HTTP Digest (MD5), made once at start.
 * - Optionally a live H.264 test pattern over RTSP (needs ffmpeg): RTP interleaved on the RTSP connection or over
 *   UDP, behind RTSP Digest authentication.
 * - WS-Discovery on UDP 3702 (or a chosen port).
 * - Scripted events: motion(), tamper(), tamperDetector(), lineCross(), intrusion(), digitalInput().
 * - Fault knobs: reboot(), dropSubscriptions(), dropEventStream(), slowAnswers(), slowReads(), garbage(),
 *   badDigest(), setPassword(), handOutUris().
 */
export interface OnvifCameraOptions {
  /** Address to listen on; also the host in every URL the camera hands out. Default 127.0.0.1. */
  readonly host?: string;
  /** HTTP port; 0 (the default) picks a free one, kept across reboots. */
  readonly httpPort?: number;
  readonly username: string;
  readonly password: string;
  readonly name: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly serialNumber: string;
  readonly firmwareVersion?: string;
  readonly hardwareId?: string;
  /** The location scope, e.g. `china/shanghai/xuhui`. */
  readonly location?: string;
  /** PTZ presets; with none the camera has no PTZ service. */
  readonly presets?: readonly PtzPreset[];
  /** Serve a live RTSP stream (needs ffmpeg). Default false. */
  readonly rtsp?: boolean;
  /** RTSP authentication: Digest with the ONVIF account (default, as cameras ship), or none. */
  readonly rtspAuthentication?: 'digest' | 'none';
  /** WS-Discovery UDP port: default 3702, 0 picks a free one, false disables discovery. */
  readonly discoveryPort?: number | false;
  /** Where the snapshot comes from: ffmpeg's testsrc2 if there is an ffmpeg ('auto', default), or forced. */
  readonly snapshot?: 'auto' | 'ffmpeg' | 'builtin';
  /** An ffmpeg binary to use instead of looking for one. */
  readonly ffmpegPath?: string;
  /** Firmware limit: subscriptions last at most this long whatever is asked (many cameras grant 60 s). */
  readonly maxSubscriptionSeconds?: number;
  /** Firmware limit: a PullMessages waits at most this long for an event, whatever its Timeout. */
  readonly maxPullWaitMs?: number;
  /** What real firmware does that clients must survive (firmware-quirks.ts); none by default. */
  readonly quirks?: FirmwareQuirks;
}

type State = 'stopped' | 'starting' | 'running' | 'rebooting';

const SERVICE_PATHS: Readonly<Record<string, ServiceName>> = {
  '/onvif/device_service': 'device',
  '/onvif/media_service': 'media',
  '/onvif/events_service': 'events',
  '/onvif/ptz_service': 'ptz',
};
const SUBSCRIPTION_PATH = '/onvif/subscription/';
const SNAPSHOT_PATH = '/snapshot.jpg';
const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * What a camera with broken firmware or a broken network path answers instead of SOAP (the garbage knob):
 * its web server's HTML error page with 200, the right answer cut off half way, or binary noise.
 */
export type GarbageMode = 'html' | 'truncated' | 'binary';

const GARBAGE: Readonly<Record<GarbageMode, (xml: string) => { contentType: string; body: Buffer }>> = {
  html: () => ({
    contentType: 'text/html',
    body: Buffer.from(
      '<html><head><title>Document Error: Not Found</title></head><body><h2>Access Error: 404</h2></body></html>',
    ),
  }),
  truncated: (xml) => ({
    contentType: 'application/soap+xml; charset=utf-8',
    body: Buffer.from(xml.slice(0, Math.floor(xml.length / 2)), 'utf8'),
  }),
  binary: () => ({
    contentType: 'application/octet-stream',
    body: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 151 + 7) % 256)),
  }),
};

/** Slow reads: an answer goes out one chunk per tick of this many milliseconds, each chunk sized for the rate. */
const TRICKLE_TICK_MS = 50;

/** A stable urn:uuid from the serial number (name-based, UUID version 5 layout), the same after every restart. */
function endpointReferenceFor(serialNumber: string): string {
  const bytes = createHash('sha1').update(`gridhub-onvif-camera:${serialNumber}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

class Dropped extends Error {}

/** What a SOAP request's credential check reads beyond its envelope: HTTP Digest's header and request URI. */
interface SoapRequest {
  readonly authorization: string | undefined;
  readonly url: string;
}

export class OnvifCameraSimulator {
  readonly options: OnvifCameraOptions;
  readonly #pullPoints = new PullPoints(() => this.#cameraTime());
  readonly #nonces = new NonceCache();
  readonly #context: CameraContext;
  #state: State = 'stopped';
  #server: Server | undefined;
  #httpPort: number | undefined;
  #discoveryPort: number | undefined;
  #bootTime: Date | undefined;
  #password: string;
  #slowMs = 0;
  #handedOut: { snapshotUri?: string; streamUri?: string } = {};
  #lastPreset: string | undefined;
  #renewals = 0;
  #snapshot: Buffer | undefined;
  #snapshotSource: 'ffmpeg' | 'builtin' | undefined;
  #ffmpeg: string | undefined;
  #stream: RtspTestStream | undefined;
  #discovery: DiscoveryResponder | undefined;
  #digest: DigestGuard | undefined;
  /** Aborted when the camera goes down: cancels slowed answers and the wait of a reboot. */
  #life = new AbortController();
  #rebootTimer: NodeJS.Timeout | undefined;
  readonly #properties = {
    motion: false,
    tamper: false,
    intrusion: false,
    digitalInput: false,
    tamperDetector: false,
  };
  #digestFault: DigestFault | undefined;
  #garbage: GarbageMode | undefined;
  #bytesPerSecond = 0;
  /** Answers of PullMessages being held open, whose connections dropEventStream() cuts. */
  readonly #pendingPulls = new Set<ServerResponse>();
  // Firmware quirks (firmware-quirks.ts) ----------------------------------------------------------------------
  #quirks: FirmwareQuirks;
  readonly #basic = new BasicNotifications(() => this.#cameraTime());

  constructor(options: OnvifCameraOptions) {
    this.options = options;
    this.#password = options.password;
    this.#quirks = options.quirks ?? {};
    this.#context = this.#makeContext();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Addresses and state

  /** Host used in URLs: the listen address, or loopback when listening on every interface. */
  get host(): string {
    const host = this.options.host ?? '127.0.0.1';
    return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  }

  /** http://host:port */
  get address(): string {
    return `http://${this.host}:${this.#httpPort ?? 0}`;
  }

  /** The device service URL, what WS-Discovery advertises as XAddrs. */
  get xaddr(): string {
    return `${this.address}/onvif/device_service`;
  }

  get snapshotUrl(): string {
    return `${this.address}${SNAPSHOT_PATH}`;
  }

  /**
   * The stream URI GetStreamUri hands out. With `rtsp: true` a live stream; otherwise the usual Hikvision-style
   * URL on port 554, where nothing listens (a camera whose stream is unavailable).
   */
  get rtspUrl(): string {
    return this.#stream?.url ?? `rtsp://${this.host}:554/Streaming/Channels/101`;
  }

  get endpointReference(): string {
    return endpointReferenceFor(this.options.serialNumber);
  }

  /** The UDP port WS-Discovery listens on, once started; undefined with discovery off. */
  get discoveryPort(): number | undefined {
    return this.#discovery === undefined ? undefined : this.#discoveryPort;
  }

  /** Whether WS-Discovery joined the multicast group (false where multicast is unavailable). */
  get discoveryMulticast(): boolean {
    return this.#discovery?.multicast ?? false;
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  /** When the camera last came up (start or reboot). */
  get bootTime(): Date | undefined {
    return this.#bootTime;
  }

  /** The token of the last preset a GotoPreset reached. */
  /** How many Renew requests the camera answered. */
  get renewals(): number {
    return this.#renewals;
  }

  get lastPreset(): string | undefined {
    return this.#lastPreset;
  }

  get subscriptionCount(): number {
    return this.#pullPoints.size;
  }

  /** PullMessages requests held open, waiting for an event or their timeout. */
  get pendingPulls(): number {
    return this.#pullPoints.waiting;
  }

  /** RTSP requests answered 401 (no, wrong or refused credentials) since start. */
  get rtspRefusals(): number {
    return this.#stream?.server.unauthorized ?? 0;
  }

  /** RTSP viewers playing now. */
  get rtspViewers(): number {
    return this.#stream?.server.playing ?? 0;
  }

  /** The ffmpeg process publishing the RTSP stream, while it runs. */
  get rtspPublisherPid(): number | undefined {
    return this.#stream?.pid;
  }

  get snapshotSource(): 'ffmpeg' | 'builtin' | undefined {
    return this.#snapshotSource;
  }

  /** The JPEG served at /snapshot.jpg. */
  get snapshot(): Buffer | undefined {
    return this.#snapshot;
  }

  get identity(): DeviceIdentity {
    const { name, manufacturer, model, serialNumber } = this.options;
    const hostname = name.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || `ipc-${serialNumber}`;
    return {
      name,
      manufacturer,
      model,
      serialNumber,
      firmwareVersion: this.options.firmwareVersion ?? 'V5.7.3 build 250101',
      hardwareId: this.options.hardwareId ?? '88',
      hostname,
    };
  }

  get scopes(): string[] {
    const enc = encodeURIComponent;
    return [
      'onvif://www.onvif.org/type/video_encoder',
      ...((this.options.presets?.length ?? 0) > 0 ? ['onvif://www.onvif.org/type/ptz'] : []),
      'onvif://www.onvif.org/Profile/Streaming',
      `onvif://www.onvif.org/hardware/${enc(this.options.model)}`,
      `onvif://www.onvif.org/name/${enc(this.options.name)}`,
      `onvif://www.onvif.org/location/${(this.options.location ?? 'country/china').split('/').map(enc).join('/')}`,
    ];
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.#state !== 'stopped') throw new Error(`camera ${this.options.name} is already started`);
    this.#state = 'starting';
    try {
      await this.#prepareMedia();
      await this.#bringUp();
      this.#state = 'running';
    } catch (error) {
      await this.#bringDown();
      this.#state = 'stopped';
      throw error;
    }
  }

  /** Stops everything start() started, including a reboot in progress. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    clearTimeout(this.#rebootTimer);
    this.#rebootTimer = undefined;
    await this.#bringDown();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Scripted events

  /** Motion starts (or stops): VideoSource/MotionAlarm and RuleEngine/CellMotionDetector/Motion, as cameras send both. */
  async motion(active = true): Promise<number> {
    this.#properties.motion = active;
    return this.#publish([
      ['motionAlarm', String(active)],
      ['cellMotion', String(active)],
    ]);
  }

  /** Tampering (covered, defocused, turned away): VideoSource/GlobalSceneChange/ImagingService. */
  async tamper(active = true): Promise<number> {
    this.#properties.tamper = active;
    return this.#publish([['tamper', String(active)]]);
  }

  /** An object crossed the virtual line: RuleEngine/LineDetector/Crossed, a plain event (no state). */
  async lineCross(objectId = 1): Promise<number> {
    return this.#publish([['lineCrossed', String(objectId)]]);
  }

  /** Someone is (or no longer is) inside the guarded field: RuleEngine/FieldDetector/ObjectsInside. */
  async intrusion(inside = true): Promise<number> {
    this.#properties.intrusion = inside;
    return this.#publish([['fieldInside', String(inside)]]);
  }

  /**
   * The camera's alarm input (a door contact wired to it) changed: Device/Trigger/DigitalInput, a property
   * (`InputToken` DI_0, `LogicalState`), so a new subscription learns its state with an Initialized message.
   */
  async digitalInput(active = true): Promise<number> {
    this.#properties.digitalInput = active;
    return this.#publish([['digitalInput', String(active)]]);
  }

  /**
   * The tamper detector's verdict changed (covered, sprayed, turned away): RuleEngine/TamperDetector/Tamper
   * (`IsTamper`), the analytics rule next to the imaging service's GlobalSceneChange that `tamper()` raises.
   */
  async tamperDetector(active = true): Promise<number> {
    this.#properties.tamperDetector = active;
    return this.#publish([['tamperDetector', String(active)]]);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Fault knobs

  /**
   * Power cycle: the HTTP server, RTSP and discovery go away (connections reset, subscriptions lost), and come
   * back on the same ports after `downMs` with a new boot time. Resolves once the camera answers again.
   */
  async reboot(downMs = 1_000): Promise<void> {
    if (this.#state !== 'running') throw new Error(`camera ${this.options.name} is not running`);
    this.#state = 'rebooting';
    await this.#bringDown();
    // A fresh controller for the time spent down: stop() aborts it and the camera stays off.
    this.#life = new AbortController();
    const down = this.#life.signal;
    const back = await new Promise<boolean>((resolve) => {
      this.#rebootTimer = setTimeout(() => resolve(true), downMs);
      down.addEventListener('abort', () => resolve(false), { once: true });
    });
    this.#rebootTimer = undefined;
    if (!back || this.#state !== 'rebooting') return;
    try {
      await this.#bringUp();
      this.#state = 'running';
    } catch (error) {
      await this.#bringDown();
      this.#state = 'stopped';
      throw error;
    }
  }

  /** The camera forgets every subscription (as some do under load); their next request gets a fault. */
  dropSubscriptions(): void {
    this.#pullPoints.clear();
  }

  /** Every SOAP answer waits this long before it goes out (0 restores normal speed). */
  slowAnswers(ms: number): void {
    this.#slowMs = Math.max(0, ms);
  }

  /**
   * The connections of every PullMessages held open are cut (a switch port flapping, a NAT dropping the idle
   * long poll): the client sees a reset, its subscription lives on.
   */
  dropEventStream(): number {
    const pulls = [...this.#pendingPulls];
    this.#pendingPulls.clear();
    for (const res of pulls) res.socket?.destroy();
    // The camera sees its side of the connection go, so nothing queued is handed to a dead request.
    this.#pullPoints.releaseWaiting();
    return pulls.length;
  }

  /** Slow reads: every answer (SOAP and snapshot) trickles out at about this rate; 0 restores full speed. */
  slowReads(bytesPerSecond: number): void {
    this.#bytesPerSecond = Math.max(0, bytesPerSecond);
  }

  /** Every SOAP answer is replaced by garbage of this kind (undefined restores SOAP). */
  garbage(mode: GarbageMode | undefined): void {
    this.#garbage = mode;
  }

  /** Digest authentication (snapshot and RTSP) breaks this way (undefined restores it). */
  badDigest(fault: DigestFault | undefined): void {
    this.#digestFault = fault;
  }

  /** Someone changed the camera's password. */
  setPassword(password: string): void {
    this.#password = password;
  }

  /**
   * GetSnapshotUri and GetStreamUri hand out these instead of the camera's own (a misconfigured or hostile camera
   * pointing the hub elsewhere: its own loopback, a metadata service); undefined restores the camera's own.
   */
  handOutUris(uris: { snapshotUri?: string; streamUri?: string }): void {
    this.#handedOut = uris;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Firmware quirks (firmware-quirks.ts): what real cameras do, switched on by tests

  /** Changes the firmware quirks from now on (merged over the current ones). */
  firmware(quirks: FirmwareQuirks): void {
    this.#quirks = { ...this.#quirks, ...quirks };
  }

  get quirks(): FirmwareQuirks {
    return this.#quirks;
  }

  /** Live Basic Notification subscriptions, and the consumer addresses they post to. */
  get basicSubscriptionCount(): number {
    return this.#basic.size;
  }

  get basicConsumers(): string[] {
    return this.#basic.consumers;
  }

  /** The HTTP statuses consumers answered the camera's Notify posts with, in order (0: no answer). */
  get notifyStatuses(): readonly number[] {
    return this.#basic.statuses;
  }

  /** Posts these wsnt:NotificationMessage elements, as they are, to every Basic Notification consumer. */
  notifyRaw(messages: readonly string[]): Promise<number[]> {
    return this.#basic.publishRaw(messages);
  }

  /** The camera's clock: the real time plus the skew quirk. */
  #cameraTime(): Date {
    return new Date(Date.now() + (this.#quirks.clockSkewMs ?? 0));
  }

  /** The credentials the camera takes, by the `authentication` quirk (WS-UsernameToken only by default). */
  #authenticate(header: ReturnType<typeof child>, request: SoapRequest): void {
    const mode = this.#quirks.authentication ?? 'ws-username-token';
    const account = { username: this.options.username, password: this.#password };
    if (mode !== 'http-digest' && verifyUsernameToken(header, account, this.#cameraTime(), this.#nonces).ok)
      return;
    if (mode === 'ws-username-token') throw faults.notAuthorized();
    const verdict = this.#digest?.verify(request.authorization, 'POST', request.url, account);
    if (verdict === 'ok') return;
    throw new HttpUnauthorized(verdict === 'stale');
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals

  async #prepareMedia(): Promise<void> {
    const mode = this.options.snapshot ?? 'auto';
    const needFfmpeg = this.options.rtsp === true || mode !== 'builtin';
    this.#ffmpeg = needFfmpeg ? (this.options.ffmpegPath ?? (await findFfmpeg())) : undefined;
    if (this.options.rtsp === true && this.#ffmpeg === undefined) {
      throw new Error('rtsp: true needs ffmpeg (install Debian ffmpeg or @ffmpeg-installer/ffmpeg)');
    }
    if (mode === 'ffmpeg' && this.#ffmpeg === undefined) throw new Error('snapshot: ffmpeg needs an ffmpeg');
    if (this.#ffmpeg !== undefined && mode !== 'builtin') {
      try {
        this.#snapshot = await ffmpegSnapshot(this.#ffmpeg);
        this.#snapshotSource = 'ffmpeg';
        return;
      } catch (error) {
        if (mode === 'ffmpeg') throw error;
      }
    }
    this.#snapshot = builtinSnapshot(this.options.name, new Date());
    this.#snapshotSource = 'builtin';
  }

  async #bringUp(): Promise<void> {
    this.#life = new AbortController();
    this.#bootTime = new Date();
    this.#nonces.clear();
    this.#digest = new DigestGuard('IP Camera');
    const server = createServer((req, res) => this.#onRequest(req, res));
    this.#server = server;
    this.#httpPort = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#httpPort ?? this.options.httpPort ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
    if (this.options.rtsp === true && this.#ffmpeg !== undefined) {
      this.#stream ??= new RtspTestStream({
        host: this.host,
        ffmpeg: this.#ffmpeg,
        account: () =>
          this.options.rtspAuthentication === 'none'
            ? undefined
            : { username: this.options.username, password: this.#password },
        digestFault: () => this.#digestFault,
      });
      await this.#stream.start();
    }
    if (this.options.discoveryPort !== false) {
      const discovery = new DiscoveryResponder({
        endpointReference: this.endpointReference,
        xaddrs: () => [this.xaddr],
        scopes: () => this.scopes,
        port: this.#discoveryPort ?? this.options.discoveryPort ?? WS_DISCOVERY_PORT,
        multicastInterface: this.options.host ?? '127.0.0.1',
      });
      this.#discovery = discovery;
      await discovery.start();
      this.#discoveryPort = discovery.port;
    }
  }

  async #bringDown(): Promise<void> {
    this.#life.abort();
    this.#pullPoints.clear();
    this.#basic.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await this.#stream?.stop();
    const discovery = this.#discovery;
    this.#discovery = undefined;
    await discovery?.stop();
  }

  #publish(events: ReadonlyArray<readonly [TopicKey, string]>): number {
    if (this.#state !== 'running') return 0;
    let reached = 0;
    for (const [topic, value] of events) {
      const notification: Notification = {
        topic,
        utcTime: this.#cameraTime(),
        value,
        ...(TOPICS[topic].isProperty ? { operation: 'Changed' as const } : {}),
      };
      reached = Math.max(reached, this.#pullPoints.publish(notification));
      reached = Math.max(reached, this.#basic.publish(notification, this.#context));
    }
    return reached;
  }

  #initialState(): Notification[] {
    const values: Readonly<Record<TopicKey, boolean>> = {
      motionAlarm: this.#properties.motion,
      cellMotion: this.#properties.motion,
      tamper: this.#properties.tamper,
      fieldInside: this.#properties.intrusion,
      lineCrossed: false,
      digitalInput: this.#properties.digitalInput,
      tamperDetector: this.#properties.tamperDetector,
    };
    const now = this.#cameraTime();
    const initialized: Notification[] = PROPERTY_TOPICS.map((topic) => ({
      topic,
      utcTime: now,
      operation: 'Initialized' as const,
      value: String(values[topic]),
    }));
    if (this.#quirks.initializedLineCrossing === true)
      initialized.push({ topic: 'lineCrossed', utcTime: now, operation: 'Initialized', value: '0' });
    return initialized;
  }

  #makeContext(): CameraContext {
    const cam = this;
    return {
      get identity() {
        return cam.identity;
      },
      get presets() {
        return cam.options.presets ?? [];
      },
      get scopes() {
        return cam.scopes;
      },
      get username() {
        return cam.options.username;
      },
      pullPoints: this.#pullPoints,
      serviceUrl: (service) => `${this.address}/onvif/${service}_service`,
      subscriptionUrl: (id) => `${this.address}${SUBSCRIPTION_PATH}${id}`,
      snapshotUri: () => this.#handedOut.snapshotUri ?? this.snapshotUrl,
      streamUri: () => this.#handedOut.streamUri ?? this.rtspUrl,
      now: () => this.#cameraTime(),
      initialState: () => this.#initialState(),
      gotoPreset: (token) => {
        this.#lastPreset = token;
      },
      get lastPreset() {
        return cam.lastPreset;
      },
      maxSubscriptionMs:
        this.options.maxSubscriptionSeconds === undefined
          ? undefined
          : this.options.maxSubscriptionSeconds * 1000,
      maxPullWaitMs: this.options.maxPullWaitMs,
      renewed: () => {
        this.#renewals++;
      },
      requestReboot: (afterMs) => {
        const timer = setTimeout(() => {
          if (this.#state === 'running') void this.reboot(afterMs).catch(() => undefined);
        }, 50);
        timer.unref();
      },
    };
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://camera.invalid');
    if (url.pathname === SNAPSHOT_PATH) {
      this.#onSnapshot(req, res);
      return;
    }
    const service = SERVICE_PATHS[url.pathname];
    const subscriptionId = url.pathname.startsWith(SUBSCRIPTION_PATH)
      ? url.pathname.slice(SUBSCRIPTION_PATH.length)
      : undefined;
    if (service === undefined && subscriptionId === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain' }).end('Method Not Allowed');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        res.writeHead(413, { Connection: 'close' }).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const target = subscriptionId === undefined ? {} : { subscriptionId };
      const soapRequest: SoapRequest = { authorization: req.headers.authorization, url: req.url ?? '/' };
      void this.#answerSoap(
        service ?? 'subscription',
        target,
        Buffer.concat(chunks).toString('utf8'),
        res,
        soapRequest,
      );
    });
  }

  async #answerSoap(
    service: ServiceName,
    target: { readonly subscriptionId?: string },
    body: string,
    res: ServerResponse,
    request: SoapRequest,
  ): Promise<void> {
    const signal = this.#life.signal;
    let status: number;
    let xml: string;
    const headers: Record<string, string> = { Date: this.#cameraTime().toUTCString() };
    if (service === 'subscription') this.#pendingPulls.add(res);
    try {
      xml = envelope(await this.#operate(service, target, body, request));
      status = 200;
    } catch (error) {
      if (error instanceof Dropped) return;
      if (error instanceof HttpUnauthorized) {
        const challenge = this.#digest?.challenge(error.stale) ?? 'Digest realm="IP Camera"';
        if (signal.aborted || res.destroyed) return;
        res
          .writeHead(401, { ...headers, 'WWW-Authenticate': challenge, 'Content-Type': 'text/plain' })
          .end('401 Unauthorized');
        return;
      }
      const fault =
        error instanceof SoapFault
          ? error
          : new SoapFault({
              code: 'Receiver',
              subcodes: ['ter:Action'],
              reason: error instanceof Error ? error.message : String(error),
            });
      status = fault.httpStatus;
      xml = fault.toXml();
    }
    if (this.#slowMs > 0) {
      try {
        await sleep(this.#slowMs, undefined, { signal });
      } catch {
        return; // The camera went down while dawdling; its connections are gone.
      }
    }
    this.#pendingPulls.delete(res);
    if (signal.aborted || res.destroyed) return;
    const garbled = this.#garbage === undefined ? undefined : GARBAGE[this.#garbage](xml);
    const answer = garbled?.body ?? Buffer.from(xml, 'utf8');
    res.writeHead(garbled === undefined ? status : 200, {
      ...headers,
      'Content-Type': garbled?.contentType ?? 'application/soap+xml; charset=utf-8',
      // A truncated answer promises the whole length and closes early, as a connection lost mid-answer does.
      'Content-Length': this.#garbage === 'truncated' ? Buffer.byteLength(xml) : answer.length,
    });
    const truncated = this.#garbage === 'truncated';
    await this.#send(res, answer, signal, !truncated);
    // The connection closes once the half answer is out: the client is left short of its Content-Length.
    if (truncated) res.socket?.end();
  }

  /**
   * Writes a body, all at once or trickling at the slow-reads rate; resolves when written or abandoned.
   * Without `finish` the response is left open (the caller cuts the connection).
   */
  async #send(res: ServerResponse, body: Buffer, signal: AbortSignal, finish = true): Promise<void> {
    const rate = this.#bytesPerSecond;
    if (rate <= 0) {
      if (finish) res.end(body);
      else res.write(body);
      return;
    }
    const chunk = Math.max(1, Math.round((rate * TRICKLE_TICK_MS) / 1000));
    for (let offset = 0; offset < body.length; offset += chunk) {
      if (signal.aborted || res.destroyed) return;
      res.write(body.subarray(offset, offset + chunk));
      try {
        await sleep(TRICKLE_TICK_MS, undefined, { signal });
      } catch {
        return;
      }
    }
    if (finish) res.end();
  }

  async #operate(
    service: ServiceName,
    target: { readonly subscriptionId?: string },
    body: string,
    request: SoapRequest,
  ): Promise<string> {
    let document: ReturnType<typeof parseXml>;
    try {
      document = parseXml(body);
    } catch (error) {
      throw faults.wellFormed(error instanceof XmlError ? error.message : 'unreadable XML');
    }
    if (document.name !== 'Envelope') throw faults.wellFormed('not a SOAP Envelope');
    if (document.ns !== NS.s) throw faults.versionMismatch();
    const op = child(document, 'Body', NS.s)?.children[0];
    if (op === undefined) throw faults.wellFormed('empty SOAP Body');
    // Firmware quirks first: operations a quirk takes away, and Basic Notification's (firmware-quirks.ts).
    refusedByQuirks(this.#quirks, service, op);
    const handler =
      this.#basic.handler(service, op, target.subscriptionId) ?? findHandler(service, op, this.#context);
    if (!UNAUTHENTICATED.has(`${service}/${op.name}`) || this.#quirks.refuseUnauthenticatedClock === true)
      this.#authenticate(child(document, 'Header', NS.s), request);
    const signal = this.#life.signal;
    const answer = await handler(op, this.#context, target);
    if (signal.aborted) throw new Dropped();
    return answer;
  }

  #onSnapshot(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed');
      return;
    }
    const digest = this.#digest;
    const snapshot = this.#snapshot;
    if (digest === undefined || snapshot === undefined) {
      res.writeHead(503).end();
      return;
    }
    const account = { username: this.options.username, password: this.#password };
    const verdict = digest.verify(req.headers.authorization, req.method, req.url ?? SNAPSHOT_PATH, account);
    const fault = this.#digestFault;
    if (verdict !== 'ok' || fault !== undefined) {
      res
        .writeHead(401, {
          'WWW-Authenticate': digest.challenge(verdict === 'stale' || fault === 'stale', fault),
          'Content-Type': 'text/plain',
        })
        .end('401 Unauthorized');
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'image/jpeg',
      'Content-Length': snapshot.length,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else void this.#send(res, snapshot, this.#life.signal);
  }
}
