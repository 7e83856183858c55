import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { DeviceStatus } from '../core/device-status.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { DeviceRegistry, RegisteredDevice } from './device-registry.ts';

/** Hands an event the hub raised itself (device.offline, a missed check-in) to the incident pipeline. */
export type RaiseEvent = (event: DeviceEvent, device: RegisteredDevice) => Promise<void>;

export interface LivenessMonitorOptions {
  readonly registry: DeviceRegistry;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly raise: RaiseEvent;
  /** How often silences and watchdogs are checked. */
  readonly sweepMs: number;
}

interface Liveness {
  /** Connected, or heard from since it last said or was found gone. */
  online: boolean;
  lastSeen: number | null;
  /** Start of the current online or offline spell. */
  since: number;
  /** Silence from here on counts toward offline (the last message, or the hub's start). */
  silentSince: number;
  /** device.offline has been raised for the current silence. */
  offlineRaised: boolean;
  /** Per watchdog of the device: when it was last reset, and whether it has fired since. */
  watchdogResetAt: number[];
  watchdogFired: boolean[];
}

/**
 * Device liveness from heartbeats, any other message, and the MQTT connection with its last will.
 *
 * - Online / offline status changes at once (a connection drops, the will says offline, a message arrives) and is
 *   pushed as `device:status`.
 * - An incident is raised only for silence past the device's threshold (`device.offline`), so a reboot of a few
 *   seconds costs no incident; hearing from the device again raises `device.online`, which resolves it.
 * - Watchdogs (a sentry guard's check-in) fire their event when their reset event is overdue.
 */
export class LivenessMonitor {
  readonly #options: LivenessMonitorOptions;
  readonly #log: Logger;
  readonly #states = new Map<string, Liveness>();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #startedAt = 0;

  constructor(options: LivenessMonitorOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'liveness' });
  }

  start(now: number = Date.now()): void {
    this.#startedAt = now;
    this.#states.clear();
    this.#unsubscribe = this.#options.bus.on('device:event', this.#onDeviceEvent);
    this.#timer = setInterval(() => this.sweep(), this.#options.sweepMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Any message from the device: it is alive. Runs on every message: a Map read and a few assignments. */
  heard(deviceId: string, now: number = Date.now()): void {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return;
    const state = this.#state(device, now);
    state.lastSeen = now;
    state.silentSince = now;
    if (!state.online) this.#setOnline(device, state, true, now);
    if (state.offlineRaised) {
      state.offlineRaised = false;
      const offlineSeconds = Math.round((now - state.since) / 1000);
      this.#raise(device, 'device.online', now, { offlineSeconds });
    }
  }

  /** The connection ended or the device (or its last will) said it is offline. No incident yet: see sweep(). */
  gone(deviceId: string, now: number = Date.now()): void {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return;
    const state = this.#state(device, now);
    if (state.online) this.#setOnline(device, state, false, now);
  }

  status(deviceId: string): DeviceStatus | undefined {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return undefined;
    return this.#statusOf(device, this.#state(device, Date.now()));
  }

  /** Raises what is overdue: silences past their threshold, watchdogs past their period. */
  sweep(now: number = Date.now()): void {
    let online = 0;
    for (const device of this.#options.registry.all) {
      const state = this.#state(device, now);
      if (state.online) online++;
      if (device.disabled) continue;
      if (!state.offlineRaised && now - state.silentSince >= device.offlineAfterMs) {
        state.offlineRaised = true;
        if (state.online) this.#setOnline(device, state, false, now);
        this.#raise(device, 'device.offline', now, {
          silentSeconds: Math.round((now - state.silentSince) / 1000),
        });
      }
      device.watchdogs.forEach((watchdog, index) => {
        const resetAt = state.watchdogResetAt[index] ?? this.#startedAt;
        if (state.watchdogFired[index] || now - resetAt < watchdog.afterMs) return;
        state.watchdogFired[index] = true;
        this.#raise(device, watchdog.raises, now, {
          overdueSeconds: Math.round((now - resetAt - watchdog.afterMs) / 1000),
        });
      });
    }
    this.#options.metrics.devicesOnline.set(online);
  }

  readonly #onDeviceEvent = (event: DeviceEvent): void => {
    const device = this.#options.registry.get(event.deviceId);
    if (device === undefined || device.watchdogs.length === 0) return;
    const state = this.#state(device, Date.now());
    device.watchdogs.forEach((watchdog, index) => {
      if (watchdog.resetBy !== event.type) return;
      state.watchdogResetAt[index] = Date.now();
      state.watchdogFired[index] = false;
    });
  };

  #state(device: RegisteredDevice, now: number): Liveness {
    let state = this.#states.get(device.id);
    if (state === undefined) {
      // A device first met (at start, or provisioned since) is offline until heard from, and its silence and
      // watchdogs count from now: the hub cannot know what happened before it was watching.
      state = {
        online: false,
        lastSeen: null,
        since: now,
        silentSince: now,
        offlineRaised: false,
        watchdogResetAt: device.watchdogs.map(() => now),
        watchdogFired: device.watchdogs.map(() => false),
      };
      this.#states.set(device.id, state);
    }
    return state;
  }

  #setOnline(device: RegisteredDevice, state: Liveness, online: boolean, now: number): void {
    state.online = online;
    state.since = now;
    this.#options.bus.emit('device:status', this.#statusOf(device, state));
  }

  #statusOf(device: RegisteredDevice, state: Liveness): DeviceStatus {
    return {
      deviceId: device.id,
      name: device.name,
      adapter: device.adapter.id,
      gridId: device.grid.ref.id,
      online: state.online,
      disabled: device.disabled,
      lastSeenAt: state.lastSeen === null ? null : new Date(state.lastSeen).toISOString(),
      since: new Date(state.since).toISOString(),
    };
  }

  #raise(device: RegisteredDevice, type: string, now: number, attributes: DeviceEvent['attributes']): void {
    const event: DeviceEvent = { deviceId: device.id, type, occurredAt: now, attributes };
    this.#options.bus.emit('device:event', event);
    this.#options.raise(event, device).catch((error: unknown) => {
      this.#log.error(
        { deviceId: device.id, type, error: (error as Error).message },
        'raising an event failed',
      );
    });
  }
}
