import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import type { IncidentRepeat } from '../../src/core/events.ts';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSentry,
  deploymentOf,
  eventually,
  getJson,
  movableClock,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/** The south gate's threshold: the hub's clock is moved past it, so it is long enough for a loaded test machine. */
const southOfflineSeconds = 30;

/**
 * The demo, with short thresholds for the devices under test: offline after 1 s, a check-in due every second. The
 * south gate, whose tests need it heard before its threshold across a hub restart, gets 30 s, and its silences are
 * skipped by moving the hub's clock on.
 */
function shortThresholds() {
  const config = demoConfig();
  for (const device of config.devices) {
    if (['gate-luming-04-north', 'sentry-luming-03'].includes(device.id)) {
      device.offlineAfterSeconds = 1;
    } else if (device.id === 'gate-luming-04-south') {
      device.offlineAfterSeconds = southOfflineSeconds;
    } else {
      // Keep the rest of the demo quiet: they never connect in these tests, and the clock moves on by minutes.
      device.offlineAfterSeconds = 86_400;
    }
    if (device.id === 'sentry-luming-03') device.watchdogs = { 'guard.check_in_missed': 1 };
  }
  return deploymentOf(config);
}

describe('liveness: online and offline, offline incidents that resolve themselves, watchdogs', () => {
  const dataDir = temporaryDirectory();
  const clock = movableClock();
  let hub: TestHub;
  let officer: RecordingClient;

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: shortThresholds(),
      dataDir: dataDir.path,
      livenessSweepMs: 50,
      clock: clock.now,
    });
    officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
  });

  afterAll(async () => {
    officer?.close();
    await hub?.stop();
    dataDir.remove();
  });

  const statuses = (deviceId: string) =>
    officer
      .of('device:status')
      .filter((status) => (status as DeviceStatus).deviceId === deviceId) as DeviceStatus[];

  async function nextStatus(deviceId: string, online: boolean): Promise<DeviceStatus> {
    for (let n = 1; ; n++) {
      const status = (await officer.nth('device:status', n)) as DeviceStatus;
      if (status.deviceId === deviceId && status.online === online && n > seen) {
        seen = n;
        return status;
      }
    }
  }
  let seen = 0;

  async function nextIncident(type: string, deviceId: string): Promise<Incident> {
    for (let n = 1; ; n++) {
      const incident = (await officer.nth('incident:new', n)) as Incident;
      if (incident.event.type === type && incident.device.id === deviceId && !claimed.has(incident.id)) {
        claimed.add(incident.id);
        return incident;
      }
    }
  }
  /** The first update of the incident to the given state. */
  async function nextUpdate(incidentId: string, state = 'resolved'): Promise<IncidentChange> {
    for (let n = 1; ; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id === incidentId && change.after.state === state) return change;
    }
  }
  const claimed = new Set<string>();

  /**
   * Moves the hub's clock past the south gate's threshold until `done`, looking again (a sweep runs every 50 ms)
   * before each further move: a message of the gate still on its way when it went silent starts its silence over by
   * the moved clock, and the next move takes it past again.
   */
  async function silencePastThreshold(done: () => boolean): Promise<void> {
    await eventually(() => {
      if (done()) return true;
      clock.moveOn(southOfflineSeconds * 1000 + 1000);
      return false;
    });
  }
  const southOfflineRaised = () =>
    officer
      .of('incident:new')
      .some(
        (incident) =>
          (incident as Incident).event.type === 'device.offline' &&
          (incident as Incident).device.id === 'gate-luming-04-south' &&
          !claimed.has((incident as Incident).id),
      );

  it('pushes device:status online on connect and offline when the link dies (the last will), with no incident', async () => {
    const gate = demoGate(hub.mqttUrl, 'gate-luming-04-north', { heartbeatSeconds: 0.2, reconnectMs: 100 });
    await gate.start();
    const online = await nextStatus('gate-luming-04-north', true);
    expect(online).toEqual({
      deviceId: 'gate-luming-04-north',
      name: expect.any(String),
      adapter: 'gate-access',
      gridId: 'grid-luming-04',
      online: true,
      disabled: false,
      lastSeenAt: expect.any(String),
      since: expect.any(String),
    });
    gate.dropLink();
    await nextStatus('gate-luming-04-north', false);
    await nextStatus('gate-luming-04-north', true);
    expect(
      officer
        .of('incident:new')
        .filter((incident) => (incident as Incident).device.id === 'gate-luming-04-north'),
    ).toEqual([]);
    await gate.stop();
    await nextStatus('gate-luming-04-north', false);
  });

  it('takes a reboot in its stride: offline, back online with a fresh counter, and no incident', async () => {
    const sentry = demoSentry(hub.mqttUrl, 'sentry-luming-03');
    await sentry.start();
    await nextStatus('sentry-luming-03', true);
    await sentry.checkIn('G-0107');
    const offlineIncidents = () =>
      officer
        .of('incident:new')
        .filter((incident) => (incident as Incident).event.type === 'device.offline')
        .filter((incident) => (incident as Incident).device.id === 'sentry-luming-03').length;
    const before = offlineIncidents();
    await sentry.reboot(200);
    await nextStatus('sentry-luming-03', false);
    await nextStatus('sentry-luming-03', true);
    const frame = await sentry.zoneAlarm(4, 'fence');
    expect(frame.seq).toBe(1);
    const alarm = await nextIncident('alarm.intrusion', 'sentry-luming-03');
    expect(alarm.event.attributes).toEqual({ zone: 4, zoneType: 'fence' });
    expect(offlineIncidents()).toBe(before);
    await sentry.stop();
  });

  it('raises device.offline after silence past the threshold, and resolves it when the device is heard again', async () => {
    const gate = demoGate(hub.mqttUrl, 'gate-luming-04-south');
    await gate.start();
    gate.goSilent();
    await silencePastThreshold(southOfflineRaised);
    const offline = await nextIncident('device.offline', 'gate-luming-04-south');
    expect(offline).toMatchObject({
      device: { id: 'gate-luming-04-south' },
      category: 'device_offline',
      severity: 'major',
      // Device health goes to the integrators who maintain the area, not to the grid worker.
      state: 'dispatched',
      assignees: ['integrator-qinghe'],
      gridId: 'grid-luming-04',
    });
    expect(offline.event.attributes.silentSeconds).toBeGreaterThanOrEqual(1);
    const device = await getJson(`${hub.httpUrl}/api/devices/gate-luming-04-south`, 'demo-integrator-qinghe');
    expect((device.body as { status: DeviceStatus }).status.online).toBe(false);

    gate.resume();
    await gate.heartbeat();
    const change = await nextUpdate(offline.id);
    expect(change.before).toEqual(offline);
    expect(change.after).toEqual({
      ...offline,
      state: 'resolved',
      updatedAt: expect.any(String),
      dueAt: null,
      dueStage: null,
      resolvedAt: change.after.updatedAt,
      resolvedBy: 'system',
      resolution: 'cleared by device.online',
      timeline: { ...offline.timeline, resolvedAt: change.after.updatedAt },
    });
    const stored = await getJson(`${hub.httpUrl}/api/incidents/${offline.id}`, 'demo-officer-luming');
    expect(stored.body).toEqual(change.after);
    await gate.stop();
  });

  it('raises a missed guard check-in, resolves it with the next check-in, and raises one incident per lasting condition', async () => {
    const sentry = demoSentry(hub.mqttUrl, 'sentry-luming-03', { heartbeatSeconds: 0.2 });
    await sentry.start();
    const missed = await nextIncident('guard.check_in_missed', 'sentry-luming-03');
    expect(missed).toMatchObject({ category: 'duty', severity: 'major', device: { id: 'sentry-luming-03' } });
    await sentry.checkIn('G-0107');
    const cleared = await nextUpdate(missed.id);
    expect(cleared.after).toMatchObject({ state: 'resolved', resolution: 'cleared by guard.check_in' });

    await sentry.mainsLost();
    const mains = await nextIncident('power.mains_lost', 'sentry-luming-03');
    await sentry.mainsLost();
    await sentry.mainsRestored();
    const restored = await nextUpdate(mains.id);
    expect(restored.after).toMatchObject({
      state: 'resolved',
      resolution: 'cleared by power.mains_restored',
    });
    // The repeat came before the clearing (one incident's changes are pushed in order), as a delta only.
    const repeats = (officer.of('incident:repeat') as IncidentRepeat[]).filter(
      (repeat) => repeat.id === mains.id,
    );
    expect(repeats).toEqual([
      { id: mains.id, occurrences: 2, lastOccurredAt: expect.any(String), updatedAt: expect.any(String) },
    ]);
    expect(restored.before.occurrences).toBe(2);
    expect(restored.after.occurrences).toBe(2);
    const mainsIncidents = officer
      .of('incident:new')
      .filter((incident) => (incident as Incident).event.type === 'power.mains_lost');
    expect(mainsIncidents).toHaveLength(1);
    await sentry.stop();
  });

  it('keeps an open offline incident across a restart and resolves it when the device returns', async () => {
    const gate = demoGate(hub.mqttUrl, 'gate-luming-04-south');
    await gate.start();
    gate.goSilent();
    await silencePastThreshold(southOfflineRaised);
    const offline = await nextIncident('device.offline', 'gate-luming-04-south');
    await gate.stop();
    officer.close();
    await hub.stop();

    hub = await startTestHub({
      deployment: shortThresholds(),
      dataDir: dataDir.path,
      livenessSweepMs: 50,
      clock: clock.now,
    });
    officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
    seen = 0;
    const back = demoGate(hub.mqttUrl, 'gate-luming-04-south');
    await back.start();
    await back.heartbeat();
    // Heard right after the restart, before its threshold: the open incident is not raised again, and the
    // device's silence after the restart raises nothing new while it keeps talking.
    const stored = await getJson(`${hub.httpUrl}/api/incidents/${offline.id}`, 'demo-officer-luming');
    expect((stored.body as Incident).state).toBe('dispatched');
    // Silent past its threshold again: device.offline is raised once more, and folded into the open incident.
    back.goSilent();
    // Waited for on this incident's own repeat push: the hub's dedupe counter also counts other devices' repeats.
    await silencePastThreshold(() =>
      (officer.of('incident:repeat') as IncidentRepeat[]).some((repeat) => repeat.id === offline.id),
    );
    back.resume();
    await back.heartbeat();
    const change = await nextUpdate(offline.id);
    expect(change.after.state).toBe('resolved');
    const offlineIncidents = officer
      .of('incident:new')
      .filter((incident) => (incident as Incident).device.id === 'gate-luming-04-south');
    expect(offlineIncidents).toEqual([]);
    expect(statuses('gate-luming-04-south').at(-1)?.online).toBe(true);
    await back.stop();
  });
});
