import type { Counter } from 'prom-client';
import type { GuessLimiter } from '../auth/guess-limiter.ts';
import type { TypedBus } from '../core/bus.ts';
import type { ComponentHealth, ComponentState } from '../core/component.ts';
import type { Connector, FrameHandler, RefusalHandler } from '../core/connector.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { RefusalReason } from '../core/refusals.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { DeviceRegistry } from '../fleet/device-registry.ts';
import type { MultipartLimits, MultipartPart } from '../net/multipart-reader.ts';
import type { OutboundGuard } from '../net/outbound-address.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { DeviceHttpAnswer, DeviceHttpListener, DeviceHttpRequest } from './device-http-listener.ts';
import { HttpDeviceCommands } from './http-device-commands.ts';
import {
  HttpEventStream,
  refusalOfDrop,
  type StreamDropReason,
  streamDropReasons,
} from './http-event-stream.ts';
import {
  type Alert,
  AlertUnreadable,
  alertFrame,
  alertIdentity,
  heartbeatFrame,
  identityMatches,
  isKeepalive,
  readAlert,
  readPushedBody,
} from './isapi-alert.ts';

/**
 * The hub's Hikvision ISAPI side, a connector. For every device of the `hikvision-isapi` transport with `http`
 * access it follows the device's alert stream (`GET /ISAPI/Event/notification/alertStream`, Digest, multipart, one
 * EventNotificationAlert per part), started and stopped with the hub and following the registry as devices are
 * provisioned, disabled or removed; among instances sharing Redis, only the holder of the device's lease follows
 * its stream (`partition`), so each streamed alert is ingested once. It takes the alarms devices push to the device HTTP listener (their HTTP
 * listening host, `/ISAPI/Event/notification/httpHosts`): HTTP Basic with the device's id or serial and its own
 * secret, the alert as XML, JSON or multipart/form-data with pictures. Every alert becomes the adapter's JSON frame,
 * handed to the hub's FrameHandler; the device is answered once it is committed. It carries commands out as the
 * ISAPI requests the adapter encodes (remote door open) through HttpDeviceCommands, as for any HTTP device.
 */

export const hikvisionSource = {
  push: 'hikvision-isapi/push',
  stream: 'hikvision-isapi/stream',
} as const;

/** The path under which devices push (their httpHosts `url`, e.g. `/hikvision/alarm`). */
export const hikvisionPushPrefix = '/hikvision/';

const alertStreamPath = '/ISAPI/Event/notification/alertStream';

export interface HikvisionTiming {
  /** The wait for the stream's answer, and for a command's. */
  readonly requestTimeoutMs: number;
  /** No byte for this long and the stream is dropped: devices send a keepalive every few seconds. */
  readonly stallMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export const defaultHikvisionTiming: HikvisionTiming = {
  requestTimeoutMs: 10_000,
  stallMs: 60_000,
  retryMinMs: 1_000,
  retryMaxMs: 60_000,
};

export interface HikvisionIsapiOptions {
  readonly registry: DeviceRegistry;
  readonly topics: TopicGrammar;
  readonly bus: TypedBus<HubBusEvents>;
  readonly onMessage: FrameHandler;
  readonly refuse: RefusalHandler;
  /** Where devices push; without it (receivers.http off) only the streams run. */
  readonly listener?: DeviceHttpListener;
  readonly guard: OutboundGuard;
  /** The limits on guessing: a push's failed credentials count towards its address's and identity's lockout. */
  readonly guesses?: GuessLimiter;
  /** Whether the hub heard from the device lately (its pushes, its keepalives). */
  readonly online: (deviceId: string) => boolean;
  /** A stream part, and a pushed part, may not be larger (pictures included). */
  readonly limits: MultipartLimits;
  readonly timing: HikvisionTiming;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /**
   * With several hub instances: which devices this one follows the alert stream of (their lease). Without it, every
   * device. Pushes are not partitioned: a push is handled by the instance it reaches.
   */
  readonly partition?: { holds(deviceId: string): boolean };
}

const hikvisionMetrics = declareMetrics((metrics) => ({
  streamDrops: metrics.counter({
    name: 'gridhub_hikvision_stream_drops_total',
    help: 'Hikvision alert streams dropped and connected again, by reason.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: Object.keys(streamDropReasons) as StreamDropReason[] },
  }),
  parts: metrics.counter({
    name: 'gridhub_hikvision_alerts_total',
    help: 'What Hikvision devices sent, by way (stream, push) and kind (event, keepalive, picture, refused).',
    labelNames: ['via', 'kind'] as const,
  }),
}));

interface FollowedDevice {
  readonly stream: HttpEventStream;
  /** Channels whose video is lost: their `videoloss` inactive is the end of it, not a keepalive. */
  readonly videoLost: Set<string>;
}

export class HikvisionIsapi implements Connector {
  readonly name = 'hikvision';
  readonly kind = 'hikvision isapi streams and pushes';
  readonly commands: HttpDeviceCommands;
  readonly #options: HikvisionIsapiOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #followed = new Map<string, FollowedDevice>();
  /** By device, the channels whose loss a push reported: a pushed `videoloss` inactive then ends it. */
  readonly #pushedVideoLost = new Map<string, Set<string>>();
  readonly #streamDrops: Counter<'reason'>;
  readonly #parts: Counter<'via' | 'kind'>;
  #state: ComponentState = 'down';
  #unsubscribe: (() => void) | undefined;

  constructor(options: HikvisionIsapiOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'hikvision' });
    const counted = hikvisionMetrics(options.metrics);
    this.#streamDrops = counted.streamDrops;
    this.#parts = counted.parts;
    options.listener?.route(hikvisionPushPrefix, 'hikvision-isapi', (request) => this.#push(request));
    // Commands are ISAPI requests the adapter encodes, sent like any HTTP device's (http-device-commands.ts).
    this.commands = new HttpDeviceCommands({
      registry: options.registry,
      topics: options.topics,
      guard: options.guard,
      onFrame: options.onMessage,
      timeoutMs: options.timing.requestTimeoutMs,
      // Reachable while its stream is open, or while it pushes (a controller with only its listening host).
      isConnected: (deviceId) =>
        this.#followed.get(deviceId)?.stream.state === 'open' || this.#options.online(deviceId),
      // Nothing held per device for commands: each is a request of its own.
      disconnect: () => undefined,
      logger: this.#log,
    });
  }

  health(): ComponentHealth {
    const streams: Record<string, number> = {};
    for (const { stream } of this.#followed.values())
      streams[stream.state] = (streams[stream.state] ?? 0) + 1;
    return { state: this.#state, streams };
  }

  /** One device's alert stream: its state, and why it last dropped (for tests and operators). */
  stream(deviceId: string): Pick<HttpEventStream, 'state' | 'lastDrop'> | undefined {
    return this.#followed.get(deviceId)?.stream;
  }

  /** Follows or lets go of a device's alert stream after this instance took or gave up its lease. */
  refollow(deviceId: string): void {
    if (this.#state === 'up') this.#follow(deviceId);
  }

  start(): void {
    for (const device of this.#options.registry.all) this.#follow(device.id);
    this.#unsubscribe = this.#options.bus.on('device:changed', (deviceId) => this.#follow(deviceId));
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#state = 'down';
    const streams = [...this.#followed.values()].map(({ stream }) => stream.stop());
    this.#followed.clear();
    await Promise.all(streams);
  }

  /** Starts, restarts or ends a device's stream to match the registry (provisioned, changed, disabled, removed). */
  #follow(deviceId: string): void {
    const previous = this.#followed.get(deviceId);
    this.#followed.delete(deviceId);
    void previous?.stream.stop();
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) this.#pushedVideoLost.delete(deviceId);
    if (device === undefined || device.disabled || device.adapter.transport !== 'hikvision-isapi') return;
    const http = device.http;
    if (http === undefined) return;
    const { timing, limits, guard, partition } = this.#options;
    // Another instance holds its lease and follows its stream: its alerts are ingested there, once.
    if (partition !== undefined && !partition.holds(deviceId)) return;
    const videoLost = new Set<string>();
    const stream = new HttpEventStream({
      url: new URL(alertStreamPath, http.url).toString(),
      username: http.username,
      password: http.password,
      fetch: guard.fetcher('device'),
      limits,
      connectTimeoutMs: timing.requestTimeoutMs,
      stallMs: timing.stallMs,
      retry: { minMs: timing.retryMinMs, maxMs: timing.retryMaxMs },
      onPart: (part) => this.#streamPart(deviceId, videoLost, part),
      onDrop: (reason, detail) => {
        this.#streamDrops.labels(reason).inc();
        this.#warn(
          `${deviceId}:drop:${reason}`,
          { deviceId, reason, detail },
          'hikvision alert stream dropped',
        );
        // A stream the device broke (not one the network lost) is refused as its frames are: a dead letter.
        const refusal = refusalOfDrop[reason];
        if (refusal !== undefined) {
          this.#refuse(hikvisionSource.stream, deviceId, refusal, [detail], 0).catch(() => undefined);
        }
      },
    });
    this.#followed.set(deviceId, { stream, videoLost });
    stream.start();
  }

  /** One part of a device's stream: an alert (event or keepalive), a picture, or something refused. */
  async #streamPart(deviceId: string, videoLost: Set<string>, part: MultipartPart): Promise<void> {
    const type = part.headers['content-type'] ?? '';
    if (/^image\//i.test(type)) {
      this.#parts.labels('stream', 'picture').inc();
      return;
    }
    const receivedAt = Date.now();
    let alert: Alert;
    try {
      alert = readAlert(part.body);
    } catch (error) {
      if (!(error instanceof AlertUnreadable)) throw error;
      // A garbage part is refused and the stream read on: the next part may be sound.
      this.#parts.labels('stream', 'refused').inc();
      await this.#refuse(
        hikvisionSource.stream,
        deviceId,
        'malformed',
        [error.message],
        part.body.length,
        error.shape,
      );
      return;
    }
    if (isKeepalive(alert, videoLost.has(channelOf(alert)))) {
      this.#parts.labels('stream', 'keepalive').inc();
      await this.#hand(deviceId, 'heartbeat', heartbeatFrame(alert, 'stream', receivedAt), receivedAt);
      return;
    }
    // The device at http.url names itself in its alerts: another device's events are not this one's.
    if (!identityMatches(alertIdentity(alert), this.#options.registry.get(deviceId)?.serial)) {
      this.#parts.labels('stream', 'refused').inc();
      await this.#refuse(
        hikvisionSource.stream,
        deviceId,
        'unauthenticated',
        ["the alert's serial number or MAC address is not the device's: does http.url reach another device?"],
        part.body.length,
      );
      return;
    }
    noteVideoLoss(alert, videoLost);
    this.#parts.labels('stream', 'event').inc();
    await this.#hand(deviceId, 'events', alertFrame(alert, 'stream', receivedAt), receivedAt);
  }

  /** A frame to the hub's handler on the device's channel; resolves once it is committed. */
  #hand(
    deviceId: string,
    channel: 'events' | 'heartbeat' | 'replies',
    frame: unknown,
    receivedAt: number,
  ): Promise<void> {
    const topic = this.#options.topics.deviceTopic(deviceId, channel);
    return (
      this.#options.onMessage(topic, Buffer.from(JSON.stringify(frame)), receivedAt) ?? Promise.resolve()
    );
  }

  #refuse(
    source: string,
    deviceId: string | null,
    reason: RefusalReason,
    problems: readonly string[],
    payloadBytes: number,
    shape?: unknown,
  ): Promise<void> {
    return this.#options.refuse({
      source,
      deviceId,
      reason,
      problems,
      payloadBytes,
      ...(shape === undefined ? {} : { shape }),
    });
  }

  /**
   * An alarm a device pushed. The device proves itself with HTTP Basic (Hikvision's httpHosts
   * `httpAuthenticationMethod` base64): its id or serial number, and its own secret. The alert's serial number or
   * MAC address, when it gives one, must be that device's. Answered 200 once the event is committed.
   */
  async #push(request: DeviceHttpRequest): Promise<DeviceHttpAnswer> {
    const bytes = request.body.length;
    const challenge = { status: 401, headers: { 'www-authenticate': 'Basic realm="gridhub"' } };
    if (request.method !== 'POST') return { status: 405, headers: { allow: 'POST' } };
    const credentials = basicCredentials(request.headers.authorization);
    if (credentials === undefined) {
      this.#parts.labels('push', 'refused').inc();
      await this.#refuse(hikvisionSource.push, null, 'unauthenticated', ['no HTTP Basic credentials'], bytes);
      return challenge;
    }
    const { registry, guesses } = this.#options;
    const address = request.remoteAddress || undefined;
    const identity = credentials.username.slice(0, 64);
    // A sender locked out for guessing is answered at once, its credentials unchecked (the limiter counts it).
    const throttled = guesses?.refuse('device_http', address, identity);
    if (throttled !== undefined) {
      return { status: 429, headers: { 'retry-after': String(throttled.retryAfterSeconds) } };
    }
    const device = registry.get(credentials.username) ?? registry.bySerial(credentials.username);
    if (device === undefined || device.adapter.transport !== 'hikvision-isapi') {
      guesses?.failed('device_http', address, identity);
      this.#parts.labels('push', 'refused').inc();
      await this.#refuse(
        hikvisionSource.push,
        null,
        'unknown_device',
        ['the credentials name no Hikvision device'],
        bytes,
      );
      return challenge;
    }
    const check = registry.checkCredentials(device.id, Buffer.from(credentials.password, 'utf8'));
    if (check !== 'ok') {
      if (check === 'bad_credentials') guesses?.failed('device_http', address, identity);
      this.#parts.labels('push', 'refused').inc();
      const problem =
        check === 'disabled' ? 'the device is disabled' : "the password is not the device's secret";
      await this.#refuse(hikvisionSource.push, device.id, 'unauthenticated', [problem], bytes);
      return check === 'disabled' ? { status: 403 } : challenge;
    }
    guesses?.succeeded(address, identity);
    const receivedAt = Date.now();
    let pushed: ReturnType<typeof readPushedBody>;
    try {
      pushed = readPushedBody(request.body, request.headers['content-type'], this.#options.limits);
    } catch (error) {
      if (!(error instanceof AlertUnreadable)) throw error;
      this.#parts.labels('push', 'refused').inc();
      await this.#refuse(hikvisionSource.push, device.id, 'malformed', [error.message], bytes, error.shape);
      return { status: 400 };
    }
    if (!identityMatches(alertIdentity(pushed.alert), device.serial)) {
      this.#parts.labels('push', 'refused').inc();
      await this.#refuse(
        hikvisionSource.push,
        device.id,
        'unauthenticated',
        ["the alert's serial number or MAC address is not the device's"],
        bytes,
      );
      return { status: 403 };
    }
    if (pushed.pictures > 0) this.#parts.labels('push', 'picture').inc(pushed.pictures);
    let videoLost = this.#pushedVideoLost.get(device.id);
    if (videoLost === undefined) {
      videoLost = new Set();
      this.#pushedVideoLost.set(device.id, videoLost);
    }
    if (isKeepalive(pushed.alert, videoLost.has(channelOf(pushed.alert)))) {
      this.#parts.labels('push', 'keepalive').inc();
      await this.#hand(device.id, 'heartbeat', heartbeatFrame(pushed.alert, 'push', receivedAt), receivedAt);
    } else {
      noteVideoLoss(pushed.alert, videoLost);
      this.#parts.labels('push', 'event').inc();
      await this.#hand(
        device.id,
        'events',
        alertFrame(pushed.alert, 'push', receivedAt, pushed.pictures),
        receivedAt,
      );
    }
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'OK' };
  }

  #warn(key: string, fields: Record<string, unknown>, message: string): void {
    const suppressed = this.#throttle.admit(key);
    if (suppressed >= 0) this.#log.warn({ ...fields, suppressed }, message);
  }
}

/** The channel an alert names, as the key of the channels whose video is lost. */
function channelOf(alert: Alert): string {
  return String(alert.channelID ?? alert.dynChannelID ?? 0);
}

/** A `videoloss` event marks its channel lost (active) or not (inactive): its next inactive is a keepalive again. */
function noteVideoLoss(alert: Alert, videoLost: Set<string>): void {
  if (String(alert.eventType).toLowerCase() !== 'videoloss') return;
  if (alert.eventState === 'inactive') videoLost.delete(channelOf(alert));
  else videoLost.add(channelOf(alert));
}

/** `Authorization: Basic base64(user:password)`, or undefined. */
function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^\s*Basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(header ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
