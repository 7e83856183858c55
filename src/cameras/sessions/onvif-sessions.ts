import { randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { OnvifNotification } from '../../core/adapter.ts';
import type { TypedBus } from '../../core/bus.ts';
import type { ComponentHealth, ComponentState } from '../../core/component.ts';
import type { Connector, RefusalHandler } from '../../core/connector.ts';
import type { DeviceEvent } from '../../core/device-event.ts';
import type { HubBusEvents } from '../../core/events.ts';
import type { DeviceRegistry } from '../../fleet/device-registry.ts';
import type { LivenessMonitor } from '../../fleet/liveness-monitor.ts';
import type { EventSink } from '../../ingest/event-sink.ts';
import { ingestMetrics } from '../../ingest/ingest-metrics.ts';
import type { OutboundGuard } from '../../net/outbound-address.ts';
import { descendants, parseXml, type XmlElement, XmlError } from '../../net/xml.ts';
import { type Logger, LogThrottle } from '../../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { CameraDirectory, CameraMedia } from '../camera-directory.ts';
import type { CameraPartition, LeasedSessions, SharedCameraView } from './camera-leases.ts';
import {
  type CameraInformation,
  type NotificationConsumers,
  OnvifSession,
  type OnvifSessionOptions,
  type SessionFailure,
  type SessionLink,
  type SessionState,
} from './onvif-session.ts';

export interface CameraSessionView {
  /** `remote`: another hub instance runs this camera's session (see `instance`). */
  readonly state: SessionState | 'remote';
  readonly information: CameraInformation | null;
  readonly streamUri: string | null;
  readonly snapshotUri: string | null;
  /** The hub instance that runs the session, when several share the cameras. */
  readonly instance?: string;
  /** Its session's state there. */
  readonly remoteState?: string;
  /** Why the session last failed (the ONVIF operation and the camera's answer), until it subscribes again. */
  readonly failure?: SessionFailure;
  /** How the session talks to the camera (this instance's sessions only). */
  readonly link?: SessionLink;
}

/** What became of a Notify posted to the consumer endpoint. */
export type NotifyVerdict = 'accepted' | 'unknown_consumer' | 'malformed';

/** The consumer endpoint's path; the subscription's token follows. */
export const notifyPath = '/onvif/notify';

/** Some cameras put user:password in the URIs they hand out: never show them. */
function withoutCredentials(uri: string): string {
  try {
    const url = new URL(uri);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return '';
  }
}

export interface OnvifSessionsOptions {
  readonly registry: DeviceRegistry;
  /** Where decoded camera events go, as every connector's do: the bus, then the incident pipeline. */
  readonly sink: Pick<EventSink, 'accept'>;
  readonly liveness: LivenessMonitor;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** What each camera's xaddr is checked against before its session connects. */
  readonly guard: OutboundGuard;
  /** Where refused Notify posts go: counted and dead-lettered by the ingest (DeviceIngest.refuseFrame). */
  readonly refuse: RefusalHandler;
  /**
   * The URL cameras reach the hub at (`cameras.notifyUrl`, else derived from the HTTP listener), read when a
   * Basic Notification subscription is made: the consumer endpoint's address is under it.
   */
  readonly hubUrl: () => string;
  /** With several hub instances: which cameras this one runs sessions for. Without it, every camera. */
  readonly partition?: CameraPartition;
  readonly timing: Pick<
    OnvifSessionOptions,
    'requestTimeoutMs' | 'aliveEveryMs' | 'retryMinMs' | 'retryMaxMs'
  >;
}

/** What the camera sessions count, declared here so that they move with the sessions. */
const cameraSessionMetrics = declareMetrics((metrics) => ({
  unknownTopics: metrics.counter({
    name: 'gridhub_camera_unknown_topics_total',
    help: 'ONVIF notifications of topics the camera adapter does not decode, by camera.',
    labelNames: ['camera'] as const,
  }),
  sessionFailures: metrics.counter({
    name: 'gridhub_camera_session_failures_total',
    help: 'ONVIF sessions that failed (camera unreachable, rebooted, subscription lost, refused) and were restarted.',
    labelNames: ['camera'] as const,
  }),
}));

/**
 * The hub's ONVIF side, a connector: a session per camera of the registry, each turning the notifications it pulls
 * into device events through the camera adapter's topic table and into the event sink, as MQTT devices' frames go.
 * The hub connects to cameras rather than they to it, so it has no frames to hand over, nor commands to carry (PTZ
 * turns are the evidence's, through the directory). It is also the camera directory the evidence pipeline reads
 * (stream and snapshot URIs, PTZ presets, who watches what).
 */
export class OnvifSessions implements CameraDirectory, Connector, LeasedSessions {
  readonly name = 'cameras';
  readonly kind = 'onvif camera sessions';
  readonly #options: OnvifSessionsOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, OnvifSession>();
  readonly #watchers = new Map<string, { cameraId: string; preset?: string }[]>();
  readonly #throttle = new LogThrottle();
  /** Basic Notification consumers by their path token: the only credential a camera's Notify carries. */
  readonly #consumers = new Map<
    string,
    { cameraId: string; deliver: (messages: readonly XmlElement[], receivedAt: number) => Promise<void> }
  >();
  readonly #unknownTopics: Counter<'camera'>;
  readonly #sessionFailures: Counter<'camera'>;
  /** gridhub_events_decoded_total: ingest's, which ONVIF events count in as MQTT ones do. */
  readonly #eventsDecoded: Counter;
  #state: ComponentState = 'down';
  #unsubscribe: (() => void) | undefined;

  constructor(options: OnvifSessionsOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'onvif' });
    const counted = cameraSessionMetrics(options.metrics);
    this.#unknownTopics = counted.unknownTopics;
    this.#sessionFailures = counted.sessionFailures;
    this.#eventsDecoded = ingestMetrics(options.metrics).eventsDecoded;
  }

  get state(): ComponentState {
    return this.#state;
  }

  health(): ComponentHealth {
    const failures: Record<string, string> = {};
    for (const [cameraId, session] of this.#sessions) {
      const failure = session.state === 'subscribed' ? undefined : session.failure;
      if (failure !== undefined) failures[cameraId] = `${failure.operation}: ${failure.answer}`;
    }
    return {
      state: this.#state,
      sessions: this.summary,
      ...(Object.keys(failures).length === 0 ? {} : { failures }),
    };
  }

  /** The consumer addresses handed to cameras in Subscribe: one per subscription, its token unguessable. */
  readonly #consumerAddresses: NotificationConsumers = {
    open: (cameraId, deliver) => {
      const token = randomBytes(24).toString('base64url');
      this.#consumers.set(token, { cameraId, deliver });
      const base = this.#options.hubUrl().replace(/\/+$/, '');
      return {
        url: `${base}${notifyPath}/${token}`,
        close: () => this.#consumers.delete(token),
      };
    },
  };

  /** A Notify over `cameras.notifyMaxBytes`, refused before it was read. */
  refuseOversizedNotify(payloadBytes: number): Promise<void> {
    return this.#options.refuse({
      source: 'onvif/notify',
      deviceId: null,
      reason: 'oversized',
      problems: ['the Notify is larger than cameras.notifyMaxBytes'],
      payloadBytes,
    });
  }

  /**
   * A Notify a camera posted to the consumer endpoint: its NotificationMessages to the camera's session, resolved
   * once committed (the endpoint answers 2xx only then). An unknown token or a body that is not a SOAP Notify is
   * refused through the ingest's refusal path (counted by reason, dead-lettered by shape).
   */
  async notify(token: string, body: string, receivedAt: number): Promise<NotifyVerdict> {
    const consumer = this.#consumers.get(token);
    const payloadBytes = Buffer.byteLength(body);
    if (consumer === undefined) {
      await this.#options.refuse({
        source: 'onvif/notify',
        deviceId: null,
        reason: 'unauthenticated',
        problems: ['no Basic Notification subscription of this hub has this consumer address'],
        payloadBytes,
      });
      return 'unknown_consumer';
    }
    let messages: XmlElement[];
    try {
      const document = parseXml(body);
      const notify = document.name === 'Envelope' ? descendants(document, 'Notify')[0] : undefined;
      if (notify === undefined) throw new XmlError('not a SOAP envelope with a wsnt:Notify');
      messages = descendants(notify, 'NotificationMessage');
    } catch (error) {
      await this.#options.refuse({
        source: 'onvif/notify',
        deviceId: consumer.cameraId,
        reason: 'malformed',
        problems: [(error as Error).message],
        payloadBytes,
      });
      return 'malformed';
    }
    this.#options.liveness.heard(consumer.cameraId);
    await consumer.deliver(messages, receivedAt);
    return 'accepted';
  }

  /** Sessions by state, for /healthz. */
  get summary(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const session of this.#sessions.values()) counts[session.state] = (counts[session.state] ?? 0) + 1;
    return counts;
  }

  start(): void {
    for (const device of this.#options.registry.all) this.#follow(device.id);
    this.#unsubscribe = this.#options.bus.on('device:changed', (deviceId) => this.#follow(deviceId));
    this.#state = 'up';
  }

  /** Starts, restarts or ends a camera's session to match the registry (provisioned, enabled, disabled). */
  #follow(deviceId: string): void {
    const { registry, liveness, logger, timing, guard } = this.#options;
    const device = registry.get(deviceId);
    this.#sessions.get(deviceId)?.stop();
    this.#sessions.delete(deviceId);
    for (const [watched, cameras] of this.#watchers) {
      this.#watchers.set(
        watched,
        cameras.filter((camera) => camera.cameraId !== deviceId),
      );
    }
    if (device === undefined) return;
    for (const watch of device.watches ?? []) {
      this.#watchers.set(watch.deviceId, [
        ...(this.#watchers.get(watch.deviceId) ?? []),
        { cameraId: device.id, ...(watch.preset === undefined ? {} : { preset: watch.preset }) },
      ]);
    }
    if (device.adapter.transport !== 'onvif' || device.disabled) return;
    if (this.#options.partition !== undefined && !this.#options.partition.holds(device.id)) return;
    const session = new OnvifSession({
      device,
      logger,
      guard,
      consumers: this.#consumerAddresses,
      ...timing,
      events: {
        heard: (cameraId) => liveness.heard(cameraId),
        gone: (cameraId) => {
          this.#sessionFailures.labels(cameraId).inc();
          liveness.gone(cameraId);
        },
        notifications: (cameraId, notifications, receivedAt) =>
          this.#decode(cameraId, notifications, receivedAt),
      },
    });
    this.#sessions.set(device.id, session);
    session.start();
  }

  /** Starts or stops a camera's session after this instance took or gave up its lease. */
  refollow(cameraId: string): void {
    if (this.#state === 'up') this.#follow(cameraId);
  }

  /** The camera's session on this instance, as the siblings are told of it. */
  localView(cameraId: string): Omit<SharedCameraView, 'instance'> | undefined {
    const session = this.#sessions.get(cameraId);
    if (session === undefined) return undefined;
    return {
      state: session.state,
      information: session.information ?? null,
      streamUri: session.streamUri ?? null,
      snapshotUri: session.snapshotUri ?? null,
    };
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const session of this.#sessions.values()) session.stop();
    this.#sessions.clear();
    this.#consumers.clear();
    this.#watchers.clear();
    this.#state = 'down';
  }

  media(cameraId: string): CameraMedia | undefined {
    const onvif = this.#options.registry.get(cameraId)?.onvif;
    if (onvif === undefined) return undefined;
    const session = this.#sessions.get(cameraId);
    // A camera another instance holds: its snapshot and stream are fetched from here all the same.
    const remote = session === undefined ? this.#options.partition?.remoteView(cameraId) : undefined;
    const streamUri = session?.streamUri ?? remote?.streamUri ?? undefined;
    if (streamUri === undefined) return undefined;
    return {
      cameraId,
      snapshotUri: session === undefined ? (remote?.snapshotUri ?? undefined) : session.snapshotUri,
      streamUri,
      username: onvif.username,
      password: onvif.password,
    };
  }

  /** A camera's session as operators see it: its state, what the camera says of itself, where its media is. */
  describe(cameraId: string): CameraSessionView | undefined {
    const session = this.#sessions.get(cameraId);
    if (session === undefined) {
      const remote = this.#options.partition?.remoteView(cameraId);
      if (remote === undefined) return undefined;
      return {
        state: 'remote',
        information: (remote.information ?? null) as CameraInformation | null,
        streamUri: remote.streamUri === null ? null : withoutCredentials(remote.streamUri),
        snapshotUri: remote.snapshotUri === null ? null : withoutCredentials(remote.snapshotUri),
        instance: remote.instance,
        remoteState: remote.state,
      };
    }
    const failure = session.state === 'subscribed' ? undefined : session.failure;
    return {
      state: session.state,
      information: session.information ?? null,
      streamUri: session.streamUri === undefined ? null : withoutCredentials(session.streamUri),
      snapshotUri: session.snapshotUri === undefined ? null : withoutCredentials(session.snapshotUri),
      ...(failure === undefined ? {} : { failure }),
      link: session.link,
    };
  }

  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[] {
    return this.#watchers.get(deviceId) ?? [];
  }

  gotoPreset(cameraId: string, preset: string): Promise<void> {
    const session = this.#sessions.get(cameraId);
    if (session !== undefined) return session.gotoPreset(preset);
    const holder = this.#options.partition?.remoteView(cameraId)?.instance;
    return Promise.reject(
      new Error(
        holder === undefined
          ? `no camera ${cameraId}`
          : `camera ${cameraId} is run by instance ${holder}; PTZ turns only from there`,
      ),
    );
  }

  /** Notifications → the adapter's events → the incident pipeline; unknown topics logged and counted, never fatal. */
  async #decode(
    cameraId: string,
    notifications: readonly OnvifNotification[],
    receivedAt: number,
  ): Promise<void> {
    const { registry, sink } = this.#options;
    const device = registry.get(cameraId);
    if (device === undefined) return;
    const pending: Promise<void>[] = [];
    for (const notification of notifications) {
      const decoder = device.adapter.onvifTopics?.[notification.topic];
      if (decoder === undefined) {
        this.#unknownTopics.labels(cameraId).inc();
        const suppressed = this.#throttle.admit(`${cameraId}:${notification.topic}`);
        if (suppressed >= 0)
          this.#log.info({ cameraId, topic: notification.topic, suppressed }, 'unknown camera event topic');
        continue;
      }
      const event = decoder(notification);
      if (event === undefined) continue;
      const deviceEvent: DeviceEvent = { ...event, deviceId: cameraId };
      this.#eventsDecoded.inc();
      pending.push(sink.accept(deviceEvent, device, receivedAt));
    }
    await Promise.all(pending);
  }
}
