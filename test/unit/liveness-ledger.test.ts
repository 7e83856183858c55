import { describe, expect, it } from 'vitest';
import { TypedBus } from '../../src/core/bus.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import type { DeviceRegistry, RegisteredDevice } from '../../src/fleet/device-registry.ts';
import { type LivenessLedger, LoneLivenessLedger } from '../../src/fleet/liveness-ledger.ts';
import { LivenessMonitor } from '../../src/fleet/liveness-monitor.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { demoDeployment } from '../helpers/hub.ts';

const t0 = 1_800_000_000_000;

/** A demo device silent past a minute, with a check-in watchdog of two. */
function sentry(): RegisteredDevice {
  const [demo] = demoDeployment().devices;
  if (demo === undefined) throw new Error('the demo config has no device');
  return {
    ...demo,
    id: 'sentry-1',
    offlineAfterMs: 60_000,
    watchdogs: [{ resetBy: 'guard.checkin', raises: 'guard.missed', afterMs: 120_000 }],
    disabled: false,
    maintenanceUntil: null,
    source: 'config',
  };
}

function monitorOver(ledger: LivenessLedger) {
  const device = sentry();
  // The monitor reads the registry through get() and all: a registry of one.
  const registry = { get: (id: string) => (id === device.id ? device : undefined), all: [device] };
  const raised: string[] = [];
  const monitor = new LivenessMonitor({
    registry: registry as unknown as DeviceRegistry,
    bus: new TypedBus<HubBusEvents>(),
    metrics: new MetricsRegistry(),
    logger: createLogger('silent'),
    raise: async (event) => {
      raised.push(`${event.type}@${event.occurredAt - t0}`);
    },
    sweepMs: 60_000,
    ledger,
  });
  return { monitor, raised, device };
}

/** The lone ledger's answers, each given later: the way Redis answers. */
function answeringLater(ledger: LivenessLedger, calls: string[]): LivenessLedger {
  const later =
    <T>(name: string, answer: () => T) =>
    (): Promise<T> => {
      calls.push(name);
      return Promise.resolve().then(answer);
    };
  return {
    begin: () => ledger.begin(),
    heard: (deviceId, now) => ledger.heard(deviceId, now),
    reset: (deviceId, index, now) => ledger.reset(deviceId, index, now),
    flush: later('flush', () => undefined),
    lastHeard: (overdue) =>
      later('lastHeard', () => ledger.lastHeard(overdue) as ReadonlyMap<string, number>)(),
    lastResets: (due) => later('lastResets', () => ledger.lastResets(due) as ReadonlyMap<string, number>)(),
    offline: later('offline', () => ledger.offline() as ReadonlyMap<string, number>),
    markOffline: (deviceId, now) =>
      later('markOffline', () => ledger.markOffline(deviceId, now) as boolean)(),
    markOnline: (deviceId) => later('markOnline', () => ledger.markOnline(deviceId) as boolean)(),
    claimWatchdog: (deviceId, index, resetAt) =>
      later('claimWatchdog', () => ledger.claimWatchdog(deviceId, index, resetAt) as boolean)(),
  };
}

describe('the liveness sweep over its ledger', () => {
  it('alone, raises what is overdue before the sweep returns, and runs every sweep it is asked for', () => {
    const { monitor, raised, device } = monitorOver(new LoneLivenessLedger());
    monitor.start(t0);
    // Sweeps in one tick, as fake timers run them: none waits on another. A device's silence counts from the first.
    void monitor.sweep(t0);
    void monitor.sweep(t0 + 30_000);
    void monitor.sweep(t0 + 60_000);
    expect(raised).toEqual(['device.offline@60000']);
    void monitor.sweep(t0 + 90_000);
    expect(raised).toEqual(['device.offline@60000']);
    monitor.heard(device.id, t0 + 100_000);
    expect(raised).toEqual(['device.offline@60000', 'device.online@100000']);
    void monitor.sweep(t0 + 120_000);
    expect(raised).toEqual(['device.offline@60000', 'device.online@100000', 'guard.missed@120000']);
    monitor.stop();
  });

  it('alone, forgets its offline marks when it starts again, as it forgets its view', () => {
    const { monitor, raised } = monitorOver(new LoneLivenessLedger());
    monitor.start(t0);
    void monitor.sweep(t0);
    void monitor.sweep(t0 + 60_000);
    monitor.stop();
    monitor.start(t0 + 100_000);
    void monitor.sweep(t0 + 100_000);
    void monitor.sweep(t0 + 160_000);
    expect(raised).toEqual(['device.offline@60000', 'device.offline@160000']);
    monitor.stop();
  });

  it('over a ledger that answers later, raises the same once answered, and never stacks two sweeps', async () => {
    const calls: string[] = [];
    const { monitor, raised } = monitorOver(answeringLater(new LoneLivenessLedger(), calls));
    monitor.start(t0);
    await monitor.sweep(t0);
    const first = monitor.sweep(t0 + 60_000);
    const second = monitor.sweep(t0 + 61_000);
    expect(second).toBe(first);
    expect(raised).toEqual([]);
    await first;
    expect(raised).toEqual(['device.offline@60000']);
    expect(calls.filter((call) => call === 'flush')).toHaveLength(2);
    await monitor.sweep(t0 + 120_000);
    expect(raised).toEqual(['device.offline@60000', 'guard.missed@120000']);
    expect(calls.filter((call) => call === 'flush')).toHaveLength(3);
    monitor.stop();
  });
});
