import type { Counter } from 'prom-client';
import type { TypedBus } from '../core/bus.ts';
import type { ComponentHealth, ComponentState } from '../core/component.ts';
import type { Connector, FrameHandler, RefusalHandler } from '../core/connector.ts';
import type { ResolvedDevice } from '../core/device.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { DeviceRegistry } from '../fleet/device-registry.ts';
import { authenticatedRequest } from '../net/digest-fetch.ts';
import type { MultipartLimits, MultipartPart } from '../net/multipart-reader.ts';
import type { OutboundGuard } from '../net/outbound-address.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import { parseDahuaPart, serialNumberOf } from './dahua-parts.ts';
import { HttpDeviceCommands } from './http-device-commands.ts';
import {
  HttpEventStream,
  refusalOfDrop,
  type StreamDropReason,
  streamDropReasons,
} from './http-event-stream.ts';

/**
 * The hub's Dahua side, a connector: one event stream per Dahua device of the registry (adapter transport
 * `dahua-cgi`, with `http` access), attached with `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=N`
 * through the shared HttpEventStream (Digest, stall detection, jittered retry). Each part becomes a JSON frame of
 * the topic grammar handed to the hub's FrameHandler, as an MQTT device's publish is: an event part on
 * `<base>/devices/<id>/events`, a Heartbeat on `.../heartbeat`; the next part waits until the frame is committed.
 * A part that is not Dahua's grammar is refused (counted, dead-lettered by shape) and the stream goes on. It follows
 * the registry as the ONVIF sessions do: a device provisioned, changed, disabled or removed over the API starts,
 * restarts or ends its stream.
 *
 * Commands go out on the same login through HttpDeviceCommands (http-device-commands.ts): the adapter encodes a
 * command as the HTTP request itself, and the device's answer comes back as a reply frame.
 */

/** The attach request, `codes=[All]` as the Dahua HTTP API writes it (brackets unescaped, as devices expect). */
export function attachPath(heartbeatSeconds: number): string {
  return `/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=${heartbeatSeconds}`;
}

/** Where refusals say they came from: no identifier in it. */
const source = 'dahua-cgi/attach';
const identitySource = 'dahua-cgi/identity';
/** Where a Dahua device tells its serial number (`serialNumber=…`). */
const systemInfoPath = '/cgi-bin/magicBox.cgi?action=getSystemInfo';

export interface DahuaStreamTiming {
  /** The Heartbeat period asked of the device; the adapter's liveness heartbeat when not given. */
  readonly heartbeatSeconds?: number;
  /** Silence after which a stream is dropped and attached again; three heartbeats when not given. */
  readonly stallMs?: number;
  readonly connectTimeoutMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** The wait for a command's answer. */
  readonly commandTimeoutMs: number;
}

export interface DahuaEventStreamsOptions {
  readonly registry: Pick<DeviceRegistry, 'get' | 'all'>;
  readonly bus: TypedBus<HubBusEvents>;
  readonly topics: TopicGrammar;
  /** The hub's frame handler: resolves once what the frame produced is committed. */
  readonly onFrame: FrameHandler;
  /** The hub's refusal path (DeviceIngest.refuseFrame): counted by reason, dead-lettered by shape. */
  readonly refuse: RefusalHandler;
  /** A stream that opens proves the device alive before its first heartbeat. */
  readonly liveness: { heard(deviceId: string): void };
  /** Every request to a device goes through it (network.outbound, purpose `device`). */
  readonly guard: OutboundGuard;
  /** What one part may hold; a larger one drops the stream as malformed. */
  readonly limits: MultipartLimits;
  readonly timing: DahuaStreamTiming;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** The retry's jitter; Math.random when not given. */
  readonly random?: () => number;
  /** With several hub instances: which devices this one attaches to (their lease). Without it, every device. */
  readonly partition?: { holds(deviceId: string): boolean };
}

const dahuaMetrics = declareMetrics((metrics) => ({
  drops: metrics.counter({
    name: 'gridhub_dahua_stream_drops_total',
    help: `Dahua event streams dropped and attached again, by reason: ${Object.entries(streamDropReasons)
      .map(([reason, words]) => `${reason} (${words})`)
      .join(', ')}.`,
    labelNames: ['reason'] as const,
    shownAtZero: { reason: Object.keys(streamDropReasons) },
  }),
  parts: metrics.counter({
    name: 'gridhub_dahua_parts_total',
    help: 'Parts read from Dahua event streams, by kind: event, heartbeat, other (not text, skipped), malformed.',
    labelNames: ['kind'] as const,
    shownAtZero: { kind: ['events', 'heartbeat', 'other', 'malformed'] },
  }),
}));

/** Stream drops that are the device's input breaking the protocol: refused and dead-lettered as well as counted. */

export class DahuaEventStreams implements Connector {
  readonly name = 'dahua';
  readonly kind = 'dahua cgi event streams';
  readonly commands: HttpDeviceCommands;
  readonly #options: DahuaEventStreamsOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #streams = new Map<string, HttpEventStream>();
  /**
   * For a device provisioned with its serial number, whether the device on the current connection is that one: a
   * problem in words when it is not. Its parts wait for the answer, so nothing of another device gets in.
   */
  readonly #identities = new Map<string, Promise<string | undefined>>();
  readonly #drops: Counter<'reason'>;
  readonly #parts: Counter<'kind'>;
  #state: ComponentState = 'down';
  #unsubscribe: (() => void) | undefined;

  constructor(options: DahuaEventStreamsOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'dahua' });
    const counted = dahuaMetrics(options.metrics);
    this.#drops = counted.drops;
    this.#parts = counted.parts;
    this.commands = new HttpDeviceCommands({
      registry: options.registry,
      topics: options.topics,
      guard: options.guard,
      onFrame: options.onFrame,
      timeoutMs: options.timing.commandTimeoutMs,
      // An HTTP device is reachable while its event stream is open: that is the hub's last word from it.
      isConnected: (deviceId) => this.#streams.get(deviceId)?.state === 'open',
      disconnect: (deviceId) => this.#follow(deviceId),
      logger: this.#log,
    });
  }

  get state(): ComponentState {
    return this.#state;
  }

  health(): ComponentHealth {
    const streams: Record<string, number> = {};
    for (const stream of this.#streams.values()) streams[stream.state] = (streams[stream.state] ?? 0) + 1;
    return { state: this.#state, streams };
  }

  /** One device's stream: its state, and why it last dropped (for tests and operators). */
  stream(deviceId: string): Pick<HttpEventStream, 'state' | 'lastDrop'> | undefined {
    return this.#streams.get(deviceId);
  }

  /** Attaches or lets go of a device after this instance took or gave up its lease. */
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
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    await Promise.all(streams.map((stream) => stream.stop()));
  }

  /** Starts, restarts or ends a device's stream to match the registry. */
  #follow(deviceId: string): void {
    const previous = this.#streams.get(deviceId);
    this.#streams.delete(deviceId);
    this.#identities.delete(deviceId);
    void previous?.stop();
    const device = this.#options.registry.get(deviceId);
    if (device === undefined || device.disabled) return;
    if (device.adapter.transport !== 'dahua-cgi' || device.http === undefined) return;
    if (this.#options.partition !== undefined && !this.#options.partition.holds(device.id)) return;
    const stream = this.#attach(device, device.http);
    this.#streams.set(deviceId, stream);
    stream.start();
  }

  #attach(device: ResolvedDevice, http: NonNullable<ResolvedDevice['http']>): HttpEventStream {
    const { timing, limits, guard, liveness, random } = this.#options;
    const heartbeatSeconds = timing.heartbeatSeconds ?? device.adapter.liveness.heartbeatSeconds;
    return new HttpEventStream({
      url: new URL(attachPath(heartbeatSeconds), http.url).toString(),
      username: http.username,
      password: http.password,
      fetch: guard.fetcher('device', { deviceId: device.id }),
      limits,
      connectTimeoutMs: timing.connectTimeoutMs,
      stallMs: timing.stallMs ?? 3 * heartbeatSeconds * 1000,
      retry: { minMs: timing.retryMinMs, maxMs: timing.retryMaxMs },
      onPart: (part) => this.#onPart(device.id, part),
      onOpen: () => {
        this.#log.info({ deviceId: device.id }, 'dahua event stream attached');
        if (device.serial === undefined) {
          liveness.heard(device.id);
          return;
        }
        // Every connection again: another device may have taken the address since.
        this.#identities.set(device.id, this.#confirmSerial(device, http, device.serial));
      },
      onDrop: (reason, detail) => this.#onDrop(device.id, reason, detail),
      ...(random === undefined ? {} : { random }),
    });
  }

  /** One part → frames, in order; resolves once they are committed, so the next part waits. */
  async #onPart(deviceId: string, part: MultipartPart): Promise<void> {
    const { topics, onFrame, refuse } = this.#options;
    const impostor = await this.#identities.get(deviceId);
    // Dropped, and attached again later: the stream's growing retry keeps checking a device that was swapped.
    if (impostor !== undefined) throw new Error(impostor);
    const parsed = parseDahuaPart(part);
    this.#parts.labels(parsed.kind).inc();
    const receivedAt = Date.now();
    const time = new Date(receivedAt).toISOString();
    if (parsed.kind === 'heartbeat') {
      await onFrame(
        topics.deviceTopic(deviceId, 'heartbeat'),
        Buffer.from(JSON.stringify({ time })),
        receivedAt,
      );
      return;
    }
    if (parsed.kind === 'other') return;
    if (parsed.kind === 'malformed') {
      await refuse({
        source,
        deviceId,
        reason: 'malformed',
        problems: parsed.problems,
        payloadBytes: part.body.length,
      });
      return;
    }
    for (const event of parsed.events) {
      const frame = Buffer.from(JSON.stringify({ time, ...event }));
      await onFrame(topics.deviceTopic(deviceId, 'events'), frame, receivedAt);
    }
  }

  /**
   * Asks the device its serial number (magicBox getSystemInfo) and compares it with the provisioned one; a device
   * that is another, or will not say, is refused as unauthenticated (once per connection) and heard from no more.
   */
  async #confirmSerial(
    device: ResolvedDevice,
    http: NonNullable<ResolvedDevice['http']>,
    serial: string,
  ): Promise<string | undefined> {
    const { guard, timing, liveness, refuse } = this.#options;
    let answered: string | undefined;
    try {
      const response = await authenticatedRequest(new URL(systemInfoPath, http.url).toString(), {
        username: http.username,
        password: http.password,
        fetch: guard.fetcher('device', { deviceId: device.id }),
        timeoutMs: timing.connectTimeoutMs,
        signal: AbortSignal.timeout(timing.connectTimeoutMs),
      });
      answered = serialNumberOf((await response.text()).slice(0, 4096));
    } catch {
      answered = undefined;
    }
    if (answered === serial) {
      liveness.heard(device.id);
      return undefined;
    }
    // No value in the words: the serial numbers stay out of logs and dead letters.
    const problem =
      answered === undefined
        ? 'the device did not tell its serial number (magicBox getSystemInfo)'
        : 'the device gave another serial number than the one provisioned';
    await refuse({
      source: identitySource,
      deviceId: device.id,
      reason: 'unauthenticated',
      problems: [problem],
      payloadBytes: 0,
    });
    return problem;
  }

  #onDrop(deviceId: string, reason: StreamDropReason, detail: string): void {
    this.#drops.labels(reason).inc();
    const suppressed = this.#throttle.admit(`${deviceId}:${reason}`);
    if (suppressed >= 0) {
      this.#log.warn({ deviceId, reason, detail, suppressed }, 'dahua event stream dropped; attaching again');
    }
    const refusal = refusalOfDrop[reason];
    if (refusal !== undefined) {
      this.#options
        .refuse({ source, deviceId, reason: refusal, problems: [detail], payloadBytes: 0 })
        .catch((error: unknown) =>
          this.#log.error({ deviceId, error: (error as Error).message }, 'dead letter not stored'),
        );
    }
  }
}
