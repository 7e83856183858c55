import type { Gauge } from 'prom-client';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { DeviceStatus } from '../core/device-status.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { DeviceRegistry, RegisteredDevice } from './device-registry.ts';
import { fleetMetrics } from './fleet-metrics.ts';
import { type LivenessLedger, type WatchdogRef, watchdogKey } from './liveness-ledger.ts';

/** Hands an event the hub raised itself (device.offline, a missed check-in) to the event sink (bus, then pipeline). */
export type RaiseEvent = (event: DeviceEvent, device: RegisteredDevice) => Promise<void>;

export interface LivenessMonitorOptions {
  readonly registry: DeviceRegistry;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  readonly raise: RaiseEvent;
  /** How often silences and watchdogs are checked. */
  readonly sweepMs: number;
  /**
   * What the instances tell each other of device liveness (sharing.ts chooses it): alone, its own memory; with
   * siblings, Redis, so a device connected to a sibling is not found silent here, and each of device.offline,
   * device.online and a watchdog's event is raised once.
   */
  readonly ledger: LivenessLedger;
  /**
   * The clock (ms since the epoch) heard times, resets and the sweep's comparisons read; Date.now unless a test moves
   * it past a threshold. The sweep's timer stays real.
   */
  readonly now?: () => number;
}

/** A device's watchdog found overdue by a sweep. */
interface DueWatchdog extends WatchdogRef {
  readonly device: RegisteredDevice;
}

const noDevices: readonly string[] = [];

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
  #sweeping: Promise<void> | undefined;
  /** A sweep has begun and not ended: it is waiting on its ledger. */
  #midSweep = false;
  readonly #devicesOnline: Gauge;
  readonly #now: () => number;

  constructor(options: LivenessMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#devicesOnline = fleetMetrics(options.metrics).devicesOnline;
    this.#log = options.logger.child({ ns: 'liveness' });
  }

  start(now: number = this.#now()): void {
    this.#startedAt = now;
    this.#states.clear();
    this.#options.ledger.begin();
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
  heard(deviceId: string, now: number = this.#now()): void {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return;
    const state = this.#state(device, now);
    state.lastSeen = now;
    state.silentSince = now;
    this.#options.ledger.heard(deviceId, now);
    if (!state.online) this.#setOnline(device, state, true, now);
    if (state.offlineRaised) {
      state.offlineRaised = false;
      this.#raiseOnline(device, state, now);
    }
  }

  /** The connection ended or the device (or its last will) said it is offline. No incident yet: see sweep(). */
  gone(deviceId: string, now: number = this.#now()): void {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return;
    const state = this.#state(device, now);
    if (state.online) this.#setOnline(device, state, false, now);
  }

  status(deviceId: string): DeviceStatus | undefined {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return undefined;
    return this.#statusOf(device, this.#state(device, this.#now()));
  }

  /** Raises what is overdue: silences past their threshold, watchdogs past their period. */
  sweep(now: number = this.#now()): Promise<void> {
    if (this.#sweeping !== undefined) return this.#sweeping;
    const sweep = this.#sweepOnce(now).catch((error: unknown) => {
      this.#log.warn({ error: (error as Error).message }, 'liveness sweep failed');
    });
    // A sweep waiting on its ledger (Redis) is the only one until it ends: a slow Redis must not stack them. One whose
    // ledger answered at once (alone) is over already, and the next runs whenever it is called.
    if (!this.#midSweep) return sweep;
    this.#sweeping = sweep.finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  /**
   * Learns from the ledger what other instances heard and raised, then raises what is still overdue, each raise
   * claimed in the ledger so exactly one instance makes it. What is learnt changes this instance's view silently: the
   * instance that saw it first-hand pushed it. The ledger's answers are awaited only when they are promises: alone,
   * every answer is immediate, and the sweep is one synchronous pass over the devices, then one over the overdue.
   */
  async #sweepOnce(now: number): Promise<void> {
    this.#midSweep = true;
    try {
      const { ledger, registry } = this.#options;
      const flushed = ledger.flush();
      if (flushed instanceof Promise) await flushed;
      const marks = ledger.offline();
      const offline = marks instanceof Promise ? await marks : marks;

      let online = 0;
      const overdue: RegisteredDevice[] = [];
      const due: DueWatchdog[] = [];
      for (const device of registry.all) {
        const state = this.#state(device, now);
        this.#learnOffline(device, state, offline.get(device.id), now);
        if (state.online) online++;
        if (this.#silentTooLong(device, state, now)) overdue.push(device);
        if (device.disabled) continue;
        for (let index = 0; index < device.watchdogs.length; index++)
          if (this.#watchdogDue(device, state, index, now)) due.push({ device, deviceId: device.id, index });
      }

      const lastHeard = ledger.lastHeard(
        overdue.length === 0 ? noDevices : overdue.map((device) => device.id),
      );
      const heard = lastHeard instanceof Promise ? await lastHeard : lastHeard;
      if (heard.size > 0) for (const [deviceId, at] of heard) online += this.#learnHeard(deviceId, at, now);

      for (const device of overdue) {
        const state = this.#state(device, now);
        // Heard by a sibling meanwhile: not silent any more.
        if (!this.#silentTooLong(device, state, now)) continue;
        const claim = ledger.markOffline(device.id, now);
        if (claim instanceof Promise ? await claim : claim) {
          this.#raiseOffline(device, state, now);
        } else {
          // A sibling raised it: this instance's view follows, silently.
          state.offlineRaised = true;
          state.online = false;
        }
      }

      if (due.length > 0) {
        const lastResets = ledger.lastResets(due);
        const resets = lastResets instanceof Promise ? await lastResets : lastResets;
        for (const { device, index } of due) {
          const state = this.#state(device, now);
          const resetAt = Math.max(
            state.watchdogResetAt[index] ?? this.#startedAt,
            resets.get(watchdogKey(device.id, index)) ?? 0,
          );
          state.watchdogResetAt[index] = resetAt;
          // Reset by a sibling meanwhile: not due any more.
          if (!this.#watchdogDue(device, state, index, now)) continue;
          const claim = ledger.claimWatchdog(device.id, index, resetAt);
          if (claim instanceof Promise ? await claim : claim) this.#fireWatchdog(device, state, index, now);
          else state.watchdogFired[index] = true;
        }
      }
      this.#devicesOnline.set(online);
    } finally {
      this.#midSweep = false;
    }
  }

  /**
   * The device's offline mark in the ledger, against this instance's view: none (a sibling raised device.online, or
   * nobody raised device.offline); raised before this instance heard the device again (this instance may be the one
   * to raise device.online); raised by a sibling, unknown here. Alone, the marks are this instance's own: no change.
   */
  #learnOffline(device: RegisteredDevice, state: Liveness, raisedAt: number | undefined, now: number): void {
    if (raisedAt === undefined) {
      state.offlineRaised = false;
    } else if (state.lastSeen !== null && state.lastSeen > raisedAt) {
      state.offlineRaised = false;
      this.#raiseOnline(device, state, now);
    } else if (!state.offlineRaised) {
      state.offlineRaised = true;
      state.online = false;
      state.since = raisedAt;
    }
  }

  /** A sibling heard the device after this instance last did: its silence counts from then. 1 if now online. */
  #learnHeard(deviceId: string, at: number, now: number): number {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined) return 0;
    const state = this.#state(device, now);
    if (at <= state.silentSince) return 0;
    state.silentSince = at;
    state.lastSeen = Math.max(state.lastSeen ?? 0, at);
    // Heard recently by a sibling: online, as that sibling already told the clients.
    if (state.online || state.offlineRaised || now - at >= device.offlineAfterMs) return 0;
    state.online = true;
    state.since = at;
    return 1;
  }

  /** Silent past its threshold, and device.offline not yet raised for this silence. */
  #silentTooLong(device: RegisteredDevice, state: Liveness, now: number): boolean {
    return !device.disabled && !state.offlineRaised && now - state.silentSince >= device.offlineAfterMs;
  }

  #raiseOffline(device: RegisteredDevice, state: Liveness, now: number): void {
    state.offlineRaised = true;
    if (state.online) this.#setOnline(device, state, false, now);
    this.#raise(device, 'device.offline', now, {
      silentSeconds: Math.round((now - state.silentSince) / 1000),
    });
  }

  /** The watchdog is past its period since its last reset, and has not fired since. */
  #watchdogDue(device: RegisteredDevice, state: Liveness, index: number, now: number): boolean {
    const watchdog = device.watchdogs[index];
    if (watchdog === undefined || device.disabled || state.watchdogFired[index]) return false;
    return now - (state.watchdogResetAt[index] ?? this.#startedAt) >= watchdog.afterMs;
  }

  #fireWatchdog(device: RegisteredDevice, state: Liveness, index: number, now: number): void {
    const watchdog = device.watchdogs[index];
    if (watchdog === undefined) return;
    const resetAt = state.watchdogResetAt[index] ?? this.#startedAt;
    state.watchdogFired[index] = true;
    this.#raise(device, watchdog.raises, now, {
      overdueSeconds: Math.round((now - resetAt - watchdog.afterMs) / 1000),
    });
  }

  /** device.online after a raised device.offline; with siblings, only the one that clears the ledger raises it. */
  #raiseOnline(device: RegisteredDevice, state: Liveness, now: number): void {
    const offlineSeconds = Math.round((now - state.since) / 1000);
    const ours = this.#options.ledger.markOnline(device.id);
    if (!(ours instanceof Promise)) {
      if (ours) this.#raise(device, 'device.online', now, { offlineSeconds });
      return;
    }
    ours.then(
      (cleared) => {
        if (cleared) this.#raise(device, 'device.online', now, { offlineSeconds });
      },
      (error: unknown) =>
        this.#log.warn(
          { deviceId: device.id, error: (error as Error).message },
          'clearing device.offline failed',
        ),
    );
  }

  readonly #onDeviceEvent = (event: DeviceEvent): void => {
    const device = this.#options.registry.get(event.deviceId);
    if (device === undefined || device.watchdogs.length === 0) return;
    const state = this.#state(device, this.#now());
    device.watchdogs.forEach((watchdog, index) => {
      if (watchdog.resetBy !== event.type) return;
      const now = this.#now();
      state.watchdogResetAt[index] = now;
      state.watchdogFired[index] = false;
      this.#options.ledger.reset(device.id, index, now);
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
    this.#options.raise(event, device).catch((error: unknown) => {
      this.#log.error(
        { deviceId: device.id, type, error: (error as Error).message },
        'raising an event failed',
      );
    });
  }
}
