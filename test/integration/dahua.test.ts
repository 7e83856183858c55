import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DahuaSimulator } from '../../simulators/dahua/dahua-simulator.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import { type Incident, type IncidentChange, isOpen } from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import {
  connectClient,
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

const cameraId = 'dahua-luming-01-gate';
const officerToken = 'demo-officer-luming';
const timing = {
  heartbeatSeconds: 1,
  stallMs: 1_500,
  connectTimeoutMs: 2_000,
  retryMinMs: 100,
  retryMaxMs: 400,
  commandTimeoutMs: 3_000,
};

describe('Dahua CGI: a real hub attached to the Dahua simulator over HTTP, Digest and multipart', () => {
  let sim: DahuaSimulator;
  let hub: TestHub;
  let officer: RecordingClient;
  const events: DeviceEvent[] = [];

  beforeAll(async () => {
    sim = new DahuaSimulator({ username: 'admin', password: 'dahua-pass-1', serialNumber: 'SIM-DH-0001' });
    await sim.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: cameraId,
      name: '鹿鸣1网格大门大华摄像机 Luming Grid 1 gate Dahua camera',
      adapter: 'dahua-cgi',
      grid: 'grid-luming-01',
      http: { url: sim.url, username: 'admin', password: 'dahua-pass-1' },
      serial: 'SIM-DH-0001',
      // Heartbeats come every second: four without one is an outage.
      offlineAfterSeconds: 4,
    });
    hub = await startTestHub({ deployment: deploymentOf(config), dahuaTiming: timing });
    hub.hub.bus.on('device:event', (event) => {
      if (event.deviceId === cameraId) events.push(event);
    });
    officer = await connectClient(hub.httpUrl, officerToken);
  });

  afterAll(async () => {
    officer?.close();
    await hub?.stop();
    await sim?.stop();
  });

  const stream = () => hub.testHandle.dahua.stream(cameraId);
  const metric = (sample: string) => metricValue(hub.httpUrl, sample, 'demo-admin');
  const eventOf = async (type: string, from = 0): Promise<DeviceEvent> => {
    let found: DeviceEvent | undefined;
    await eventually(() => {
      found = events.slice(from).find((event) => event.type === type);
      return found !== undefined;
    });
    return found as DeviceEvent;
  };
  const incidentOf = async (type: string): Promise<Incident> => {
    for (let n = 1; ; n++) {
      const incident = (await officer.nth('incident:new', n)) as Incident;
      if (incident.device.id === cameraId && incident.event.type === type) return incident;
    }
  };
  const closedBy = async (incidentId: string): Promise<Incident> => {
    for (let n = 1; ; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id === incidentId && !isOpen(change.after.state)) return change.after;
    }
  };
  const lastDeadLetter = async (): Promise<DeadLetter> => {
    const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
    return (body as { deadLetters: DeadLetter[] }).deadLetters[0] as DeadLetter;
  };

  it('attaches with Digest, hears heartbeats, and shows the device online', async () => {
    await sim.waitForAttach();
    await eventually(() => stream()?.state === 'open');
    await eventually(async () => (await metric('gridhub_dahua_parts_total{kind="heartbeat"}')) >= 2, 5_000);
    const { body } = await getJson(`${hub.httpUrl}/api/devices/${cameraId}`, officerToken);
    expect((body as { status: DeviceStatus }).status.online).toBe(true);
    expect(hub.hub.health().components.dahua).toEqual({ state: 'up', streams: { open: 1 } });
    expect(sim.attaches).toBe(1);
  });

  it('turns VideoMotion Start and Stop into camera.motion and camera.motion_ended of channel 1', async () => {
    const from = events.length;
    await sim.motion(true);
    await sim.motion(false);
    const started = await eventOf('camera.motion', from);
    expect(started.attributes).toEqual({ channel: 1 });
    expect(Math.abs(started.occurredAt - Date.now())).toBeLessThan(5_000);
    expect((await eventOf('camera.motion_ended', from)).attributes).toEqual({ channel: 1 });
  });

  it('raises a tamper incident on VideoBlind Start, and its Stop resolves it', async () => {
    await sim.blind(true);
    const incident = await incidentOf('camera.tamper');
    expect(incident.event.attributes).toEqual({ channel: 1 });
    await sim.blind(false);
    expect((await closedBy(incident.id)).state).not.toBe('open');
  });

  it('keeps an alarm input active until its Stop, with a snapshot from snapshot.cgi as evidence', async () => {
    await sim.alarmInput(2, true);
    const incident = await incidentOf('alarm.input');
    expect(incident.event.attributes).toEqual({ input: 2 });
    let snapshot: NonNullable<Incident['evidence']>[number] | undefined;
    for (let n = 1; snapshot === undefined; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      if (change.after.id === incident.id)
        snapshot = change.after.evidence?.find((item) => item.kind === 'snapshot');
    }
    expect(snapshot).toMatchObject({ cameraId, contentType: 'image/jpeg' });
    const jpeg = Buffer.from(
      await (
        await fetch(`${hub.httpUrl}${snapshot.url}`, { headers: { authorization: `Bearer ${officerToken}` } })
      ).arrayBuffer(),
    );
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(jpeg.subarray(-2).toString('hex')).toBe('ffd9');
    await sim.alarmInput(2, false);
    await closedBy(incident.id);
  });

  it('raises one line crossing per tripwire Start (its Stop ends nothing), timed by the hub despite a skewed clock', async () => {
    sim.clockSkewMs = 26 * 3600_000;
    try {
      const from = events.length;
      await sim.crossLine({ rule: 'North gate', direction: 'RightToLeft', objectType: 'Human' });
      const crossed = await eventOf('camera.line_crossed', from);
      expect(crossed.attributes).toEqual({
        channel: 1,
        rule: 'North gate',
        direction: 'RightToLeft',
        objectType: 'Human',
      });
      expect(Math.abs(crossed.occurredAt - Date.now())).toBeLessThan(5_000);
      await sim.motion(true); // a marker after the Stop: everything before it has been handled
      await eventOf('camera.motion', from);
      expect(events.slice(from).filter((event) => event.type === 'camera.line_crossed')).toHaveLength(1);
    } finally {
      sim.clockSkewMs = 0;
    }
  });

  it('decodes AccessControl with the card and user minimised, and DoorStatus open and close', async () => {
    const from = events.length;
    await sim.access({ granted: true, cardNo: '3141592653', userId: '1011', method: 1, type: 'Entry' });
    await sim.access({ granted: false, cardNo: '2718281828', method: 1, errorCode: 16 });
    await sim.doorStatus(true);
    await sim.doorStatus(false);
    const granted = await eventOf('access.granted', from);
    expect(granted.attributes).toEqual({
      door: 1,
      direction: 'in',
      method: 'card',
      credential: '****2653',
      user: '****',
    });
    const denied = await eventOf('access.denied', from);
    expect(denied.attributes).toMatchObject({ credential: '****1828', errorCode: 16 });
    expect(JSON.stringify(events)).not.toContain('3141592653');
    expect((await eventOf('door.opened', from)).attributes).toEqual({ door: 1 });
    expect((await eventOf('door.closed', from)).attributes).toEqual({ door: 1 });
  });

  it('opens a door by command over the CGI API, and reports the device refusing', async () => {
    const opened = await postJson<{ ok: boolean }>(
      `${hub.httpUrl}/api/devices/${cameraId}/commands/openDoor`,
      'demo-admin',
      { params: { door: 2 } },
    );
    expect(opened.status).toBe(200);
    expect(opened.body.ok).toBe(true);
    expect(sim.doorsOpened).toEqual([2]);
    sim.refuseDoor = true;
    try {
      const refused = await postJson<{ ok: boolean; error: string }>(
        `${hub.httpUrl}/api/devices/${cameraId}/commands/openDoor`,
        'demo-admin',
        {},
      );
      // The device's own words for its 400, not only its status.
      expect(refused.body).toMatchObject({ ok: false, error: 'Error Bad Request!' });
    } finally {
      sim.refuseDoor = false;
    }
  });

  it('answers 504 device_timeout when the device does not answer the command', async () => {
    sim.silentDoor = true;
    try {
      const { status, body } = await postJson(
        `${hub.httpUrl}/api/devices/${cameraId}/commands/openDoor`,
        'demo-admin',
        { params: { door: 1 }, timeoutMs: 300 },
      );
      expect(status).toBe(504);
      expect(body).toEqual({ error: { code: 'device_timeout', message: expect.any(String) } });
    } finally {
      sim.silentDoor = false;
    }
  });

  it('refuses a garbage part (counted, dead-lettered without its values) and keeps the stream', async () => {
    const refusedBefore = await metric('gridhub_messages_refused_total{reason="malformed"}');
    const from = events.length;
    await sim.garbage();
    await sim.motion(true);
    await eventOf('camera.motion', from);
    expect(await metric('gridhub_messages_refused_total{reason="malformed"}')).toBe(refusedBefore + 1);
    const letter = await lastDeadLetter();
    expect(letter).toMatchObject({ topic: 'dahua-cgi/attach', deviceId: cameraId, reason: 'malformed' });
    expect(JSON.stringify(letter)).not.toContain('not an event');
    expect(sim.attaches).toBe(1);
  });

  it('reads parts that arrive a byte at a time', async () => {
    sim.trickle = true;
    try {
      const from = events.length;
      await sim.crossRegion(true, { rule: 'Yard' });
      expect((await eventOf('camera.intrusion', from)).attributes).toEqual({
        channel: 1,
        rule: 'Yard',
        direction: 'Enter',
      });
    } finally {
      sim.trickle = false;
    }
  });

  const reattached = async (before: number, reason: string): Promise<void> => {
    await eventually(() => sim.attaches > before && stream()?.state === 'open', 8_000);
    expect(stream()?.lastDrop?.reason).toBe(reason);
    const from = events.length;
    await sim.motion(true);
    await eventOf('camera.motion', from);
  };

  it('notices a stream that stalls and attaches again', async () => {
    const before = sim.attaches;
    const drops = await metric('gridhub_dahua_stream_drops_total{reason="stalled"}');
    sim.stall();
    await reattached(before, 'stalled');
    expect(await metric('gridhub_dahua_stream_drops_total{reason="stalled"}')).toBe(drops + 1);
  });

  it('attaches again after the connection drops', async () => {
    const before = sim.attaches;
    sim.dropStreams();
    await reattached(before, 'ended');
  });

  it('drops a stream whose part is over the limit, dead-letters it, and attaches again', async () => {
    const before = sim.attaches;
    await sim.oversizedPart(50 * 1024 * 1024);
    await reattached(before, 'oversized');
    expect(await lastDeadLetter()).toMatchObject({ topic: 'dahua-cgi/attach', reason: 'oversized' });
  });

  it('keeps trying while the device refuses the login, and attaches once it accepts it', async () => {
    const before = sim.attaches;
    const refused = sim.refusedLogins;
    sim.badDigest = true;
    sim.dropStreams();
    await eventually(() => stream()?.lastDrop?.reason === 'unauthorized', 5_000);
    expect(stream()?.state).not.toBe('open');
    // Without its stream the device is silent: offline, as any device whose heartbeats stop.
    const offline = await incidentOf('device.offline');
    expect(offline.device.id).toBe(cameraId);
    sim.badDigest = false;
    // Both legs of the Digest exchange refused: the hub answered the challenge, and was turned away.
    expect(sim.refusedLogins - refused).toBeGreaterThanOrEqual(2);
    await eventually(() => sim.attaches > before && stream()?.state === 'open', 8_000);
    await closedBy(offline.id);
  });

  it('refuses an answer that is not a multipart stream, dead-letters it, and attaches once the device streams', async () => {
    const before = sim.attaches;
    sim.notMultipart = true;
    sim.dropStreams();
    await eventually(() => stream()?.lastDrop?.reason === 'not_multipart', 5_000);
    expect(await lastDeadLetter()).toMatchObject({
      topic: 'dahua-cgi/attach',
      reason: 'malformed',
      problems: ['the device answered text/html'],
    });
    sim.notMultipart = false;
    await eventually(() => sim.attaches > before && stream()?.state === 'open', 8_000);
  });

  it('comes back after the device reboots', async () => {
    const before = sim.attaches;
    await sim.reboot(600);
    await reattached(before, 'network');
  });
});

describe('a Dahua device provisioned through the API', () => {
  it('is attached at once and let go when disabled', async () => {
    const sim = new DahuaSimulator({
      username: 'admin',
      password: 'dahua-pass-2',
      serialNumber: 'SIM-DH-0002',
    });
    await sim.start();
    const hub = await startTestHub({ dahuaTiming: timing });
    try {
      const created = await postJson(`${hub.httpUrl}/api/devices`, 'demo-integrator-qinghe', {
        id: 'dahua-zhenxing-03-vto',
        name: 'Zhenxing 3 door station',
        adapter: 'dahua-cgi',
        grid: 'grid-zhenxing-03',
        http: { url: sim.url, username: 'admin', password: 'dahua-pass-2' },
      });
      expect(created.status).toBe(201);
      await sim.waitForAttach();
      await eventually(() => hub.testHandle.dahua.stream('dahua-zhenxing-03-vto')?.state === 'open');
      await postJson(`${hub.httpUrl}/api/devices/dahua-zhenxing-03-vto/disable`, 'demo-integrator-qinghe');
      expect(hub.testHandle.dahua.stream('dahua-zhenxing-03-vto')).toBeUndefined();
      await eventually(() => sim.attached === 0);
    } finally {
      await hub.stop();
      await sim.stop();
    }
  });
});

describe('a Dahua device without its http access', () => {
  it('is refused in the config and over the API, since the hub could never reach it', async () => {
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: 'dahua-nowhere',
      name: 'Dahua without http',
      adapter: 'dahua-cgi',
      grid: 'grid-luming-01',
      secret: 'a-secret-it-cannot-use',
    });
    expect(() => deploymentOf(config)).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.stringMatching(/^devices\[\d+\]\.http: a dahua-cgi device needs/),
        ]),
      }),
    );
    const hub = await startTestHub({ dahuaTiming: timing });
    try {
      const refused = await postJson(`${hub.httpUrl}/api/devices`, 'demo-integrator-qinghe', {
        id: 'dahua-nowhere',
        name: 'Dahua without http',
        adapter: 'dahua-cgi',
        grid: 'grid-luming-01',
      });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('http: a dahua-cgi device needs');
    } finally {
      await hub.stop();
    }
  });
});

describe('a Dahua device that is not the one provisioned', () => {
  it('is refused by its serial number before any of its events gets in, and checked again on every attach', async () => {
    const sim = new DahuaSimulator({
      username: 'admin',
      password: 'dahua-pass-3',
      serialNumber: 'SIM-DH-OTHER',
    });
    await sim.start();
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    config.devices.push({
      id: 'dahua-swapped',
      name: 'A Dahua camera swapped for another',
      adapter: 'dahua-cgi',
      grid: 'grid-luming-01',
      http: { url: sim.url, username: 'admin', password: 'dahua-pass-3' },
      serial: 'SIM-DH-PROVISIONED',
    });
    const hub = await startTestHub({ deployment: deploymentOf(config), dahuaTiming: timing });
    const events: DeviceEvent[] = [];
    hub.hub.bus.on('device:event', (event) => {
      if (event.deviceId === 'dahua-swapped') events.push(event);
    });
    try {
      await sim.waitForAttach();
      await sim.motion(true);
      const stream = () => hub.testHandle.dahua.stream('dahua-swapped');
      await eventually(() => stream()?.lastDrop?.reason === 'handler', 5_000);
      expect(stream()?.lastDrop?.detail).toBe(
        'the device gave another serial number than the one provisioned',
      );
      const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
      const [letter] = (body as { deadLetters: DeadLetter[] }).deadLetters;
      expect(letter).toMatchObject({
        topic: 'dahua-cgi/identity',
        deviceId: 'dahua-swapped',
        reason: 'unauthenticated',
      });
      expect(JSON.stringify(letter)).not.toContain('SIM-DH-OTHER');
      expect(events.filter((event) => event.type === 'camera.motion')).toEqual([]);
      // The hub keeps checking: it attaches again and asks again.
      const attaches = sim.attaches;
      await eventually(() => sim.attaches > attaches, 5_000);
    } finally {
      await hub.stop();
      await sim.stop();
    }
  });
});
