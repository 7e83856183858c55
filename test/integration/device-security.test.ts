import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSecret,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/** Connects a raw MQTT client and resolves with the broker's answer: connected, or the refusal's message. */
function tryConnect(
  url: string,
  options: { clientId: string; username?: string; password?: string },
): Promise<string> {
  return new Promise((resolve) => {
    const client = connect(url, { ...options, reconnectPeriod: 0, connectTimeout: 3000 });
    client.once('connect', () => {
      client.end(true);
      resolve('connected');
    });
    client.once('error', (error) => {
      client.end(true);
      resolve(error.message);
    });
  });
}

describe.each(['always', 'never'] as const)(
  'device security on the embedded broker (broker thread: %s)',
  (brokerThread) => {
    let hub: TestHub;

    beforeAll(async () => {
      const config = demoConfig();
      hub = await startTestHub({
        deployment: deploymentOf({ ...config, mqtt: { ...config.mqtt, brokerThread } }),
      });
    });

    afterAll(async () => {
      await hub?.stop();
    });

    const refusals = (reason: string) =>
      metricValue(hub.httpUrl, `gridhub_mqtt_refusals_total{reason="${reason}"}`);

    it('accepts a device with its own id and secret', async () => {
      const id = 'gate-luming-02-west';
      expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: demoSecret(id) })).toBe(
        'connected',
      );
    });

    it('refuses a wrong secret, another device’s secret, no credentials, and a client id that is not the username', async () => {
      const id = 'gate-luming-02-west';
      expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: 'wrong-secret' })).toMatch(
        /Bad username or password/,
      );
      expect(
        await tryConnect(hub.mqttUrl, {
          clientId: id,
          username: id,
          password: demoSecret('gate-luming-02-east'),
        }),
      ).toMatch(/Bad username or password/);
      expect(await tryConnect(hub.mqttUrl, { clientId: id })).toMatch(/Bad username or password/);
      expect(
        await tryConnect(hub.mqttUrl, { clientId: 'someone-else', username: id, password: demoSecret(id) }),
      ).toMatch(/Bad username or password/);
      expect(await refusals('bad_credentials')).toBe(2);
      expect(await refusals('client_id_mismatch')).toBe(2);
      expect(hub.logs.text).not.toContain('wrong-secret');
    });

    it('lets a device subscribe to its own commands only, without disconnecting it for asking', async () => {
      const id = 'gate-luming-02-west';
      const client = connect(hub.mqttUrl, {
        clientId: id,
        username: id,
        password: demoSecret(id),
        reconnectPeriod: 0,
      });
      await new Promise((resolve) => client.once('connect', resolve));
      // mqtt.js rejects a subscription granted 0x80; the SUBACK is on the error.
      const subscribe = (topic: string) =>
        client
          .subscribeAsync(topic, { qos: 1 })
          .catch((error: { packet: { granted: number[] } }) =>
            error.packet.granted.map((qos) => ({ topic, qos })),
          );
      const own = await subscribe(`gridhub/devices/${id}/commands`);
      const other = await subscribe('gridhub/devices/gate-luming-02-east/commands');
      const everything = await subscribe('gridhub/#');
      expect(own.map((grant) => grant.qos)).toEqual([1]);
      expect(other.map((grant) => grant.qos)).toEqual([128]);
      expect(everything.map((grant) => grant.qos)).toEqual([128]);
      expect(client.connected).toBe(true);
      expect(await refusals('subscribe_denied')).toBe(2);
      await client.endAsync();
    });

    it("disconnects a device that publishes on another device's topic, and no incident is raised for the victim", async () => {
      const officer = await connectClient(hub.httpUrl, 'demo-officer-luming');
      const id = 'gate-luming-02-west';
      const client = connect(hub.mqttUrl, {
        clientId: id,
        username: id,
        password: demoSecret(id),
        reconnectPeriod: 0,
      });
      await new Promise((resolve) => client.once('connect', resolve));
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(
        'gridhub/devices/gate-luming-02-east/events',
        JSON.stringify({ seq: 1, time: new Date().toISOString(), event: 'DOOR_FORCED_OPEN', door: 1 }),
        { qos: 1 },
      );
      await closed;
      client.end(true);
      expect(await refusals('publish_denied')).toBe(1);
      const { body } = await getJson(`${hub.httpUrl}/api/incidents`, 'demo-officer-luming');
      expect(
        (body as { incidents: Incident[] }).incidents.filter(
          (incident) => incident.device.id === 'gate-luming-02-east',
        ),
      ).toEqual([]);
      officer.close();
    });
  },
);

describe('provisioning through the API', () => {
  const dataDir = temporaryDirectory();
  let hub: TestHub;
  let worker: RecordingClient;
  let rotatedSecret = '';

  beforeAll(async () => {
    hub = await startTestHub({ dataDir: dataDir.path });
    worker = await connectClient(hub.httpUrl, 'demo-worker-zhenxing-03');
  });

  afterAll(async () => {
    worker?.close();
    await hub?.stop();
    dataDir.remove();
  });

  const api = (path: string) => `${hub.httpUrl}/api/devices${path}`;

  it('adds a device placed by lon/lat, which connects with the secret it was given and raises incidents in its grid', async () => {
    // A point inside grid-zhenxing-03 (the centre of its polygon in config/demo.yaml).
    const grid = hub.hub.deployment.jurisdiction.grid('grid-zhenxing-03');
    const ring = grid?.boundary[0] ?? [];
    const lon = ring.slice(0, -1).reduce((sum, point) => sum + point[0], 0) / (ring.length - 1);
    const lat = ring.slice(0, -1).reduce((sum, point) => sum + point[1], 0) / (ring.length - 1);
    const created = await postJson<{
      device: { id: string; gridId: string; source: string };
      secret: string;
    }>(api(''), 'demo-integrator-qinghe', {
      id: 'gate-zhenxing-03-new',
      name: 'New gate',
      adapter: 'gate-access',
      location: [lon, lat],
    });
    expect(created.status).toBe(201);
    expect(created.body.device).toMatchObject({
      id: 'gate-zhenxing-03-new',
      gridId: 'grid-zhenxing-03',
      source: 'api',
    });
    expect(created.body.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const gate = new GateSimulator({
      url: hub.mqttUrl,
      deviceId: 'gate-zhenxing-03-new',
      secret: created.body.secret,
    });
    await gate.start();
    await gate.forceDoor();
    const incident = (await worker.nth('incident:new', 1)) as Incident;
    // The incident carries where the device stands, for the worker's map and navigation.
    expect(incident.device).toEqual({
      id: 'gate-zhenxing-03-new',
      name: 'New gate',
      adapter: 'gate-access',
      location: [lon, lat],
    });
    expect(incident.gridId).toBe('grid-zhenxing-03');
    await gate.stop();
  });

  it('refuses a duplicate id, an invalid description with every problem, and callers who may not provision', async () => {
    const duplicate = await postJson(api(''), 'demo-admin', {
      id: 'gate-zhenxing-03-new',
      name: 'Again',
      adapter: 'gate-access',
      grid: 'grid-zhenxing-03',
    });
    expect(duplicate.status).toBe(409);
    const invalid = await postJson<{ error: { problems: string[] } }>(api(''), 'demo-admin', {
      id: 'Bad Id',
      name: '',
      adapter: 'gate-access',
      grid: 'grid-zhenxing-03',
      secret: 'do-not-accept-one',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.problems).toEqual([
      expect.stringMatching(/^body\.id: /),
      expect.stringMatching(/^body\.name: /),
      expect.stringMatching(/^body: Unrecognized key: "secret"/),
    ]);
    const nowhere = await postJson<{ error: { problems: string[] } }>(api(''), 'demo-admin', {
      id: 'gate-nowhere',
      name: 'Nowhere',
      adapter: 'gate-access',
      location: [0, 0],
    });
    expect(nowhere.status).toBe(400);
    expect(nowhere.body.error.problems).toEqual(['device.location: [0, 0] lies in no grid']);
    const byOfficer = await postJson(api(''), 'demo-officer-qinghe', {
      id: 'gate-x',
      name: 'X',
      adapter: 'gate-access',
      grid: 'grid-zhenxing-03',
    });
    expect(byOfficer.status).toBe(403);
  });

  it('rotates a secret: the session is closed, the old secret is refused, the new one works', async () => {
    const id = 'gate-zhenxing-04-north';
    const gate = demoGate(hub.mqttUrl, id, { reconnectMs: 100 });
    await gate.start();
    const rotated = await postJson<{ secret: string }>(api(`/${id}/rotate`), 'demo-integrator-qinghe');
    expect(rotated.status).toBe(200);
    rotatedSecret = rotated.body.secret;
    await eventually(() => !gate.connected);
    expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: demoSecret(id) })).toMatch(
      /Bad username/,
    );
    expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: rotated.body.secret })).toBe(
      'connected',
    );
    await gate.stop();
  });

  it('disables a device (kicked, then refused as not authorised) and enables it again', async () => {
    const id = 'gate-zhenxing-04-east';
    const disabled = await postJson<{ status: { disabled: boolean } }>(api(`/${id}/disable`), 'demo-admin');
    expect(disabled.body.status.disabled).toBe(true);
    expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: demoSecret(id) })).toMatch(
      /Not authorized/i,
    );
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="disabled"}')).toBe(1);
    await postJson(api(`/${id}/enable`), 'demo-admin');
    expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: demoSecret(id) })).toBe(
      'connected',
    );
  });

  it('audits every provisioning step with who, what, when and the outcome, and never a secret', async () => {
    const { body } = await getJson(`${hub.httpUrl}/api/audit?limit=50`, 'demo-admin');
    const entries = (body as { entries: AuditEntry[] }).entries;
    const summary = entries.map(
      (entry) => `${entry.actor.userId} ${entry.action} ${entry.target.id} ${entry.outcome}`,
    );
    expect(summary).toEqual(
      expect.arrayContaining([
        'integrator-qinghe device.provision gate-zhenxing-03-new ok',
        'admin device.provision gate-zhenxing-03-new refused',
        'integrator-qinghe device.rotate gate-zhenxing-04-north ok',
        'admin device.disable gate-zhenxing-04-east ok',
        'admin device.enable gate-zhenxing-04-east ok',
      ]),
    );
    expect(entries.every((entry) => !Number.isNaN(Date.parse(entry.at)))).toBe(true);
    expect(JSON.stringify(entries)).not.toMatch(/secret/i);
    expect((await getJson(`${hub.httpUrl}/api/audit`, 'demo-officer-qinghe')).status).toBe(403);
  });

  it('keeps provisioned devices, rotated secrets and the audit trail across a restart', async () => {
    worker.close();
    await hub.stop();
    hub = await startTestHub({ dataDir: dataDir.path });
    const listed = await getJson(api(''), 'demo-integrator-qinghe');
    const devices = (listed.body as { devices: { id: string; gridId: string; source: string }[] }).devices;
    // The demo's devices and the one provisioned above.
    expect(devices).toHaveLength(demoConfig().devices.length + 1);
    expect(devices.find((device) => device.id === 'gate-zhenxing-03-new')).toMatchObject({
      gridId: 'grid-zhenxing-03',
      source: 'api',
    });
    const id = 'gate-zhenxing-04-north';
    expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: demoSecret(id) })).toMatch(
      /Bad username/,
    );
    expect(await tryConnect(hub.mqttUrl, { clientId: id, username: id, password: rotatedSecret })).toBe(
      'connected',
    );
    const audit = await getJson(`${hub.httpUrl}/api/audit?target=gate-zhenxing-04-north`, 'demo-admin');
    expect((audit.body as { entries: AuditEntry[] }).entries.map((entry) => entry.action)).toEqual([
      'device.rotate',
    ]);
  });
});
