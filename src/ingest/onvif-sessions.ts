import { Counter } from 'prom-client';
import type { OnvifNotification } from '../core/adapter.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { DeviceRegistry } from '../fleet/device-registry.ts';
import type { LivenessMonitor } from '../fleet/liveness-monitor.ts';
import type { IncidentPipeline } from '../incidents/incident-pipeline.ts';
import type { CameraDirectory, CameraMedia } from '../media/camera-directory.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { ComponentState } from '../store/store.ts';
import {
  type CameraInformation,
  OnvifSession,
  type OnvifSessionOptions,
  type SessionState,
} from './onvif-session.ts';

export interface CameraSessionView {
  readonly state: SessionState;
  readonly information: CameraInformation | null;
  readonly streamUri: string | null;
  readonly snapshotUri: string | null;
}

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
  readonly pipeline: IncidentPipeline;
  readonly liveness: LivenessMonitor;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly timing: Pick<
    OnvifSessionOptions,
    'requestTimeoutMs' | 'aliveEveryMs' | 'retryMinMs' | 'retryMaxMs'
  >;
}

/**
 * The hub's ONVIF side: a session per camera of the registry, each turning the notifications it pulls into device
 * events through the camera adapter's topic table and into the same incident pipeline as MQTT devices. It is also
 * the camera directory the evidence pipeline reads (stream and snapshot URIs, PTZ presets, who watches what).
 */
export class OnvifSessions implements CameraDirectory {
  readonly #options: OnvifSessionsOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, OnvifSession>();
  readonly #watchers = new Map<string, { cameraId: string; preset?: string }[]>();
  readonly #throttle = new LogThrottle();
  readonly #unknownTopics: Counter<'camera'>;
  readonly #sessionFailures: Counter<'camera'>;
  #state: ComponentState = 'down';
  #unsubscribe: (() => void) | undefined;

  constructor(options: OnvifSessionsOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'onvif' });
    this.#unknownTopics = new Counter({
      name: 'gridhub_camera_unknown_topics_total',
      help: 'ONVIF notifications of topics the camera adapter does not decode, by camera.',
      labelNames: ['camera'] as const,
      registers: [options.metrics.registry],
    });
    this.#sessionFailures = new Counter({
      name: 'gridhub_camera_session_failures_total',
      help: 'ONVIF sessions that failed (camera unreachable, rebooted, subscription lost, refused) and were restarted.',
      labelNames: ['camera'] as const,
      registers: [options.metrics.registry],
    });
  }

  get state(): ComponentState {
    return this.#state;
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
    const { registry, liveness, logger, timing } = this.#options;
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
    const session = new OnvifSession({
      device,
      logger,
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

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const session of this.#sessions.values()) session.stop();
    this.#sessions.clear();
    this.#watchers.clear();
    this.#state = 'down';
  }

  media(cameraId: string): CameraMedia | undefined {
    const session = this.#sessions.get(cameraId);
    const onvif = this.#options.registry.get(cameraId)?.onvif;
    if (session === undefined || onvif === undefined || session.streamUri === undefined) return undefined;
    return {
      cameraId,
      snapshotUri: session.snapshotUri,
      streamUri: session.streamUri,
      username: onvif.username,
      password: onvif.password,
    };
  }

  /** A camera's session as operators see it: its state, what the camera says of itself, where its media is. */
  describe(cameraId: string): CameraSessionView | undefined {
    const session = this.#sessions.get(cameraId);
    if (session === undefined) return undefined;
    return {
      state: session.state,
      information: session.information ?? null,
      streamUri: session.streamUri === undefined ? null : withoutCredentials(session.streamUri),
      snapshotUri: session.snapshotUri === undefined ? null : withoutCredentials(session.snapshotUri),
    };
  }

  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[] {
    return this.#watchers.get(deviceId) ?? [];
  }

  gotoPreset(cameraId: string, preset: string): Promise<void> {
    const session = this.#sessions.get(cameraId);
    return session === undefined
      ? Promise.reject(new Error(`no camera ${cameraId}`))
      : session.gotoPreset(preset);
  }

  /** Notifications → the adapter's events → the incident pipeline; unknown topics logged and counted, never fatal. */
  async #decode(
    cameraId: string,
    notifications: readonly OnvifNotification[],
    receivedAt: number,
  ): Promise<void> {
    const { registry, pipeline, bus, metrics } = this.#options;
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
      metrics.eventsDecoded.inc();
      bus.emit('device:event', deviceEvent);
      pending.push(pipeline.process(deviceEvent, device, receivedAt));
    }
    await Promise.all(pending);
  }
}
