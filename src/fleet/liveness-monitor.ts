import type { Gauge } from 'prom-client';
import { type LivenessLedger, watchdogKey } from '../cluster/shared-liveness.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import type { DeviceStatus } from '../core/device-status.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { DeviceRegistry, RegisteredDevice } from './device-registry.ts';
import { fleetMetrics } from './fleet-metrics.ts';

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
   * With several hub instances: what they tell each other of device liveness, so a device connected to a sibling is
   * not found silent here, and each of device.offline, device.online and a watchdog's event is raised once.
   */
  readonly ledger?: LivenessLedger;
}

/** With a ledger, every this many sweeps every device's last-heard time is read, not only the overdue ones'. */
const fullReadEvery = 10;

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
  #sweeps = 0;
  readonly #devicesOnline: Gauge;

  constructor(options: LivenessMonitorOptions) {
    this.#options = options;
    this.#devicesOnline = fleetMetrics(options.metrics).devicesOnline;
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
    this.#options.ledger?.heard(deviceId, now);
    if (!state.online) this.#setOnline(device, state, true, now);
    if (state.offlineRaised) {
      state.offlineRaised = false;
      this.#raiseOnline(device, state, now);
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
  sweep(now: number = Date.now()): Promise<void> {
    if (this.#options.ledger === undefined) {
      this.#sweepAlone(now);
      return Promise.resolve();
    }
    // One shared sweep at a time: a slow Redis must not stack them.
    this.#sweeping ??= this.#sweepShared(this.#options.ledger, now)
      .catch((error: unknown) => {
        this.#log.warn({ error: (error as Error).message }, 'shared liveness sweep failed');
      })
      .finally(() => {
        this.#sweeping = undefined;
      });
    return this.#sweeping;
  }

  #sweepAlone(now: number): void {
    let online = 0;
    for (const device of this.#options.registry.all) {
      const state = this.#state(device, now);
      if (state.online) online++;
      if (this.#silentTooLong(device, state, now)) this.#raiseOffline(device, state, now);
      for (const index of this.#dueWatchdogs(device, state, now))
        this.#fireWatchdog(device, state, index, now);
    }
    this.#devicesOnline.set(online);
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

  /** The device's watchdogs past their period since their last reset, not yet fired. */
  #dueWatchdogs(device: RegisteredDevice, state: Liveness, now: number): number[] {
    if (device.disabled) return [];
    const due: number[] = [];
    device.watchdogs.forEach((watchdog, index) => {
      const resetAt = state.watchdogResetAt[index] ?? this.#startedAt;
      if (!state.watchdogFired[index] && now - resetAt >= watchdog.afterMs) due.push(index);
    });
    return due;
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

  /**
   * The sweep of one instance among several: learn what the siblings heard and raised, then raise what is still
   * overdue, each raise claimed in the ledger so exactly one instance makes it. What is learnt from the ledger
   * changes this instance's view silently: the instance that saw it first-hand pushed it.
   */
  async #sweepShared(ledger: LivenessLedger, now: number): Promise<void> {
    const { registry } = this.#options;
    await ledger.flush();
    const offline = await ledger.offline();
    for (const device of registry.all) {
      const state = this.#state(device, now);
      const raisedAt = offline.get(device.id);
      if (raisedAt === undefined) {
        // A sibling raised device.online (or nobody raised device.offline).
        state.offlineRaised = false;
      } else if (state.lastSeen !== null && state.lastSeen > raisedAt) {
        // Heard here since a sibling raised device.offline: this instance may be the one to raise device.online.
        state.offlineRaised = false;
        this.#raiseOnline(device, state, now);
      } else if (!state.offlineRaised) {
        state.offlineRaised = true;
        state.online = false;
        state.since = raisedAt;
      }
    }

    const all = this.#sweeps++ % fullReadEvery === 0;
    const silent = [...registry.all].filter(
      (device) => all || this.#silentTooLong(device, this.#state(device, now), now),
    );
    if (silent.length > 0) {
      const heard = await ledger.lastHeard(all ? undefined : silent.map((device) => device.id));
      for (const device of silent) {
        const at = heard.get(device.id);
        const state = this.#state(device, now);
        if (at === undefined || at <= state.silentSince) continue;
        state.silentSince = at;
        state.lastSeen = Math.max(state.lastSeen ?? 0, at);
        // Heard recently by a sibling: online, as that sibling already told the clients.
        if (!state.online && !state.offlineRaised && now - at < device.offlineAfterMs) {
          state.online = true;
          state.since = at;
        }
      }
    }

    let online = 0;
    for (const device of registry.all) {
      const state = this.#state(device, now);
      if (state.online) online++;
      if (!this.#silentTooLong(device, state, now)) continue;
      if (await ledger.markOffline(device.id, now)) {
        this.#raiseOffline(device, state, now);
      } else {
        // A sibling raised it: this instance's view follows, silently.
        state.offlineRaised = true;
        state.online = false;
      }
    }
    await this.#sweepWatchdogsShared(ledger, now);
    this.#devicesOnline.set(online);
  }

  async #sweepWatchdogsShared(ledger: LivenessLedger, now: number): Promise<void> {
    const due: { device: RegisteredDevice; index: number }[] = [];
    for (const device of this.#options.registry.all) {
      if (device.watchdogs.length === 0) continue;
      for (const index of this.#dueWatchdogs(device, this.#state(device, now), now))
        due.push({ device, index });
    }
    if (due.length === 0) return;
    const resets = await ledger.lastResets(due.map(({ device, index }) => ({ deviceId: device.id, index })));
    for (const { device, index } of due) {
      const state = this.#state(device, now);
      const resetAt = Math.max(
        state.watchdogResetAt[index] ?? this.#startedAt,
        resets.get(watchdogKey(device.id, index)) ?? 0,
      );
      state.watchdogResetAt[index] = resetAt;
      // Reset by a sibling meanwhile: not due any more.
      if (!this.#dueWatchdogs(device, state, now).includes(index)) continue;
      if (await ledger.claimWatchdog(device.id, index, resetAt))
        this.#fireWatchdog(device, state, index, now);
      else state.watchdogFired[index] = true;
    }
  }

  /** device.online after a raised device.offline; with siblings, only the one that clears the ledger raises it. */
  #raiseOnline(device: RegisteredDevice, state: Liveness, now: number): void {
    const offlineSeconds = Math.round((now - state.since) / 1000);
    const ledger = this.#options.ledger;
    if (ledger === undefined) {
      this.#raise(device, 'device.online', now, { offlineSeconds });
      return;
    }
    ledger.markOnline(device.id).then(
      (ours) => {
        if (ours) this.#raise(device, 'device.online', now, { offlineSeconds });
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
    const state = this.#state(device, Date.now());
    device.watchdogs.forEach((watchdog, index) => {
      if (watchdog.resetBy !== event.type) return;
      const now = Date.now();
      state.watchdogResetAt[index] = now;
      state.watchdogFired[index] = false;
      this.#options.ledger?.reset(device.id, index, now);
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
