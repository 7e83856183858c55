import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../src/audit/audit-trail.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import {
  demoConfig,
  demoGate,
  demoSecret,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/** A raw MQTT client of a demo device, connected. */
async function deviceClient(url: string, deviceId: string): Promise<MqttClient> {
  const client = connect(url, {
    clientId: deviceId,
    username: deviceId,
    password: demoSecret(deviceId),
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** Publishes at QoS 1 and says whether the broker acknowledged it (PUBACK) within the time given. */
function publishAcknowledged(
  client: MqttClient,
  topic: string,
  payload: string,
  withinMs = 3000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    client.publish(topic, payload, { qos: 1 }, (error) => {
      clearTimeout(timer);
      resolve(error === undefined || error === null);
    });
  });
}

describe('a frame whose fields would make an oversized event key is refused once, and nothing is stored', () => {
  let hub: TestHub;
  let client: MqttClient;
  const deviceId = 'gate-luming-01-south';
  const topic = `gridhub/devices/${deviceId}/events`;

  beforeAll(async () => {
    hub = await startTestHub();
    client = await deviceClient(hub.mqttUrl, deviceId);
  });

  afterAll(async () => {
    client?.end(true);
    await hub?.stop();
  });

  const metric = (sample: string) => metricValue(hub.httpUrl, sample);
  const incidentsOfDevice = async () => {
    const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=500`, 'demo-admin');
    return (body as { incidents: { device: { id: string } }[] }).incidents.filter(
      (incident) => incident.device.id === deviceId,
    );
  };

  it.each([
    ['a time of 2,000 fractional digits', 2_000],
    ['a time of 5,000 fractional digits', 5_000],
  ])(
    'acknowledges and refuses %s as a schema error, counted once, with no incident',
    async (_name, digits) => {
      const refusedBefore = await metric('gridhub_messages_refused_total{reason="schema"}');
      const decodedBefore = await metric('gridhub_events_decoded_total');
      const receivedBefore = await metric('gridhub_messages_received_total');
      const frame = JSON.stringify({
        seq: 7,
        time: `2026-11-22T09:30:00.${'1'.repeat(digits)}+08:00`,
        event: 'DOOR_FORCED_OPEN',
        door: 1,
      });
      // Sent twice, as a device that got no acknowledgement would: the second changes nothing either.
      expect(await publishAcknowledged(client, topic, frame)).toBe(true);
      expect(await publishAcknowledged(client, topic, frame)).toBe(true);
      expect(client.connected).toBe(true);
      expect(await metric('gridhub_messages_received_total')).toBe(receivedBefore + 2);
      expect(await metric('gridhub_messages_refused_total{reason="schema"}')).toBe(refusedBefore + 2);
      expect(await metric('gridhub_messages_refused_total{reason="decode_failed"}')).toBe(0);
      expect(await metric('gridhub_events_decoded_total')).toBe(decodedBefore);
      const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
      const [deadLetter] = (body as { deadLetters: DeadLetter[] }).deadLetters;
      expect(deadLetter?.reason).toBe('schema');
      expect(deadLetter?.problems).toEqual([expect.stringMatching(/^time: /)]);
      expect(await incidentsOfDevice()).toEqual([]);
    },
  );

  it("refuses a sentry box's frame of the same kind, on the sentry box's own schema", async () => {
    const sentryId = 'sentry-xijiao-01';
    const sentry = await deviceClient(hub.mqttUrl, sentryId);
    const refusedBefore = await metric('gridhub_messages_refused_total{reason="schema"}');
    const frame = JSON.stringify({
      seq: 311,
      time: `2026-11-22T02:14:09.${'9'.repeat(2_000)}+08:00`,
      event: 'PANIC',
      duress: true,
    });
    expect(await publishAcknowledged(sentry, `gridhub/devices/${sentryId}/events`, frame)).toBe(true);
    sentry.end(true);
    expect(await metric('gridhub_messages_refused_total{reason="schema"}')).toBe(refusedBefore + 1);
    const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=500`, 'demo-admin');
    const incidents = (body as { incidents: { device: { id: string } }[] }).incidents;
    expect(incidents.filter((incident) => incident.device.id === sentryId)).toEqual([]);
  });

  it('refuses a seq beyond the 32-bit counter the devices keep', async () => {
    const frame = JSON.stringify({
      seq: 1e300,
      time: '2026-11-22T09:30:00+08:00',
      event: 'DOOR_FORCED_OPEN',
      door: 1,
    });
    expect(await publishAcknowledged(client, topic, frame)).toBe(true);
    const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
    const problems = (body as { deadLetters: DeadLetter[] }).deadLetters[0]?.problems ?? [];
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(/^seq: /);
    expect(await incidentsOfDevice()).toEqual([]);
  });

  it('still turns the same device’s sane frame into one incident, and every message is counted once', async () => {
    const frame = JSON.stringify({
      seq: 8,
      time: '2026-11-22T09:31:00.123+08:00',
      event: 'DOOR_FORCED_OPEN',
      door: 1,
    });
    expect(await publishAcknowledged(client, topic, frame)).toBe(true);
    await eventually(async () => (await incidentsOfDevice()).length === 1);
    const received = await metric('gridhub_messages_received_total');
    const refused = await Promise.all(
      ['unknown_device', 'unknown_channel', 'oversized', 'not_json', 'schema', 'decode_failed'].map(
        (reason) => metric(`gridhub_messages_refused_total{reason="${reason}"}`),
      ),
    );
    const accepted = await metric('gridhub_messages_accepted_total');
    // One accepted frame, of one event; every other message refused once.
    expect(accepted).toBe(1);
    expect(await metric('gridhub_events_decoded_total')).toBe(1);
    expect(refused.reduce((sum, count) => sum + count, 0) + accepted).toBe(received);
  });
});

/** The demo jurisdiction with an admin of one street and an integrator of one community, beside the district's. */
function scopedConfig(): ConfigFile {
  const config = demoConfig();
  config.users = [
    ...config.users,
    {
      id: 'admin-liushuwan',
      name: 'Admin of Liushuwan Street',
      role: 'admin',
      scope: 'street-liushuwan',
      token: 'test-admin-liushuwan',
    },
    {
      id: 'officer-xijiao-night',
      name: 'Night officer of Xijiao',
      role: 'duty_officer',
      scope: 'community-xijiao',
      token: 'test-officer-xijiao-night',
    },
    {
      id: 'integrator-xijiao',
      name: 'Integrator of Xijiao community',
      role: 'integrator',
      scope: 'community-xijiao',
      token: 'test-integrator-xijiao',
    },
  ];
  return config;
}

describe("the audit trail is read within the caller's scope", () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(scopedConfig()) });
    // Incidents in both streets (their creation is audited), provisioning in both, a roster in each.
    for (const deviceId of ['gate-zhenxing-01-east', 'gate-luming-02-west']) {
      const gate = demoGate(hub.mqttUrl, deviceId);
      await gate.start();
      await gate.forceDoor(1);
      await gate.stop();
    }
    for (const [id, grid] of [
      ['gate-zhenxing-02-extra', 'grid-zhenxing-02'],
      ['gate-luming-03-extra', 'grid-luming-03'],
    ]) {
      const created = await postJson(`${hub.httpUrl}/api/devices`, 'demo-admin', {
        id,
        name: id,
        adapter: 'gate-access',
        grid,
      });
      expect(created.status).toBe(201);
    }
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const trail = async (token: string, query = '') => {
    const { status, body } = await getJson(`${hub.httpUrl}/api/audit?limit=500${query}`, token);
    expect(status).toBe(200);
    return (body as { entries: AuditEntry[] }).entries;
  };
  const streetOf = async (entry: AuditEntry): Promise<string | undefined> => {
    if (entry.target.kind === 'device')
      return entry.target.id.includes('luming') ? 'tianmushan' : 'liushuwan';
    const { body } = await getJson(`${hub.httpUrl}/api/incidents/${entry.target.id}`, 'demo-admin');
    const chain = (body as { chain: { id: string }[] }).chain.map((place) => place.id);
    return chain.includes('street-tianmushan') ? 'tianmushan' : 'liushuwan';
  };

  it("shows a street's admin the entries about their street's devices and incidents, and none of the other street", async () => {
    await eventually(async () => (await trail('demo-admin')).length >= 4);
    const all = await trail('demo-admin');
    const streets = await Promise.all(all.map(streetOf));
    expect(streets).toContain('tianmushan');
    const expected = all.filter((_entry, index) => streets[index] === 'liushuwan').map((entry) => entry.id);
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect((await trail('test-admin-liushuwan')).map((entry) => entry.id)).toEqual(expected);
  });

  it('answers an empty trail for a target outside the scope, and pages within it', async () => {
    expect(await trail('test-admin-liushuwan', '&target=gate-luming-03-extra')).toEqual([]);
    expect((await trail('demo-admin', '&target=gate-luming-03-extra')).length).toBe(1);
    const first = await getJson(`${hub.httpUrl}/api/audit?limit=1`, 'test-admin-liushuwan');
    const page = first.body as { entries: AuditEntry[]; next: string };
    expect(page.entries).toHaveLength(1);
    const second = await getJson(
      `${hub.httpUrl}/api/audit?limit=500&before=${page.next}`,
      'test-admin-liushuwan',
    );
    const rest = (second.body as { entries: AuditEntry[] }).entries;
    expect([...page.entries, ...rest].map((entry) => entry.id)).toEqual(
      (await trail('test-admin-liushuwan')).map((entry) => entry.id),
    );
    for (const entry of rest) expect(await streetOf(entry)).toBe('liushuwan');
  });

  it("reads a bounded share of a long trail per request, and its next goes on to the street's entries", async () => {
    const ours = (await trail('test-admin-liushuwan')).map((entry) => entry.id);
    // 6,000 newer entries about the other street's device, none the street admin may read.
    await Promise.all(
      Array.from({ length: 6_000 }, () =>
        hub.testHandle.store.appendAudit(
          AuditTrail.entry('system', {
            action: 'device.check',
            target: { kind: 'device', id: 'gate-luming-02-west' },
            outcome: 'ok',
          }),
        ),
      ),
    );
    const found: string[] = [];
    let next: string | null = null;
    let requests = 0;
    do {
      const query = next === null ? '' : `&before=${next}`;
      const { body } = await getJson(`${hub.httpUrl}/api/audit?limit=500${query}`, 'test-admin-liushuwan');
      const page = body as { entries: AuditEntry[]; next: string | null };
      found.push(...page.entries.map((entry) => entry.id));
      next = page.next;
      requests++;
    } while (next !== null);
    expect(requests).toBeGreaterThan(1);
    expect(found).toEqual(ours);
  });
});

describe("a camera watches only devices that exist in its provisioner's scope", () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(scopedConfig()) });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  // A closed loopback port: nothing answers, and nothing here needs it to.
  const camera = (id: string, extra: Record<string, unknown>) => ({
    id,
    name: id,
    adapter: 'onvif-camera',
    grid: 'grid-xijiao-01',
    onvif: {
      xaddr: 'http://127.0.0.1:1/onvif/device_service',
      username: 'admin',
      password: 'camera-password',
    },
    ...extra,
  });
  const watchesOf = async (id: string) => {
    const { body } = await getJson(`${hub.httpUrl}/api/cameras`, 'demo-admin');
    return (body as { cameras: { id: string; watches: unknown[] }[] }).cameras.find(
      (found) => found.id === id,
    )?.watches;
  };

  it("refuses watches and presets naming another community's devices or none, listing every problem", async () => {
    const refused = await postJson<{ error: { code: string; problems: string[] } }>(
      `${hub.httpUrl}/api/devices`,
      'test-integrator-xijiao',
      camera('cam-xijiao-01-spy', {
        watches: ['gate-xijiao-01-north', 'gate-zhenxing-01-east', 'gate-nowhere'],
        presets: { 'gate-xijiao-01-north': 'p1', 'gate-luming-02-west': 'p2' },
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('invalid_request');
    expect(refused.body.error.problems).toEqual([
      'device.watches[1]: no device "gate-zhenxing-01-east" in your scope',
      'device.watches[2]: no device "gate-nowhere" in your scope',
      'device.presets.gate-luming-02-west: a preset is for a device the camera watches',
    ]);
    expect(await watchesOf('cam-xijiao-01-spy')).toBeUndefined();
    // The refusal is audited.
    const { body } = await getJson(`${hub.httpUrl}/api/audit?target=cam-xijiao-01-spy`, 'demo-admin');
    expect((body as { entries: AuditEntry[] }).entries.map((entry) => entry.outcome)).toEqual(['refused']);
  });

  it('refuses watches on a device that is not a camera', async () => {
    const refused = await postJson<{ error: { problems: string[] } }>(
      `${hub.httpUrl}/api/devices`,
      'test-integrator-xijiao',
      {
        id: 'gate-xijiao-01-new',
        name: 'New',
        adapter: 'gate-access',
        grid: 'grid-xijiao-01',
        watches: ['gate-xijiao-01-north'],
      },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error.problems).toEqual([
      'device: watches are for cameras only (ONVIF, an adapter with httpMedia, or gb28181.rtsp)',
    ]);
  });

  it('provisions a camera watching devices of its own community, with their presets', async () => {
    const created = await postJson(
      `${hub.httpUrl}/api/devices`,
      'test-integrator-xijiao',
      camera('cam-xijiao-01-gate', {
        watches: ['gate-xijiao-01-north'],
        presets: { 'gate-xijiao-01-north': 'p1' },
      }),
    );
    expect(created.status).toBe(201);
    expect(await watchesOf('cam-xijiao-01-gate')).toEqual([
      { deviceId: 'gate-xijiao-01-north', preset: 'p1' },
    ]);
    // And keeps them through a disable and an enable.
    for (const action of ['disable', 'enable']) {
      const changed = await postJson(
        `${hub.httpUrl}/api/devices/cam-xijiao-01-gate/${action}`,
        'test-integrator-xijiao',
      );
      expect(changed.status).toBe(200);
    }
    expect(await watchesOf('cam-xijiao-01-gate')).toEqual([
      { deviceId: 'gate-xijiao-01-north', preset: 'p1' },
    ]);
  });
});

/** Connects a raw MQTT client, resolving with it once connected, or with the refusal's message. */
function tryConnect(
  url: string,
  options: { clientId: string; username: string; password: string },
): Promise<MqttClient | string> {
  return new Promise((resolve) => {
    const client = connect(url, { ...options, reconnectPeriod: 0, connectTimeout: 3000 });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      resolve(error.message);
    });
  });
}

describe('ids are unique across devices and users, and a client id is an identity exactly', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(scopedConfig()) });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it("refuses to provision a device under a user's id, and the user still reads the feed", async () => {
    const taken = await postJson<{ error: { code: string; message: string } }>(
      `${hub.httpUrl}/api/devices`,
      'demo-admin',
      { id: 'officer-xijiao', name: 'Squatter', adapter: 'gate-access', grid: 'grid-xijiao-01' },
    );
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('conflict');
    expect(taken.body.error.message).toMatch(/user's id/);
    const user = await tryConnect(hub.mqttUrl, {
      clientId: 'officer-xijiao',
      username: 'officer-xijiao',
      password: 'demo-officer-xijiao',
    });
    expect(typeof user).not.toBe('string');
    (user as MqttClient).end(true);
  });

  it("refuses a user whose client id is another user's id sharing their prefix, leaving that user connected", async () => {
    const night = await tryConnect(hub.mqttUrl, {
      clientId: 'officer-xijiao-night',
      username: 'officer-xijiao-night',
      password: 'test-officer-xijiao-night',
    });
    expect(typeof night).not.toBe('string');
    const before = await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="client_id_mismatch"}');
    const thief = await tryConnect(hub.mqttUrl, {
      clientId: 'officer-xijiao-night',
      username: 'officer-xijiao',
      password: 'demo-officer-xijiao',
    });
    expect(thief).toMatch(/Bad username or password/);
    const suffixed = await tryConnect(hub.mqttUrl, {
      clientId: 'officer-xijiao-console',
      username: 'officer-xijiao',
      password: 'demo-officer-xijiao',
    });
    expect(suffixed).toMatch(/Bad username or password/);
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="client_id_mismatch"}')).toBe(
      before + 2,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((night as MqttClient).connected).toBe(true);
    (night as MqttClient).end(true);
  });
});

describe('a dead letter keeps no identifier a device put in its keys, and stays small', () => {
  let hub: TestHub;
  let client: MqttClient;
  const deviceId = 'gate-luming-04-north';
  const topic = `gridhub/devices/${deviceId}/events`;
  const card = '6222020012345678';

  beforeAll(async () => {
    hub = await startTestHub();
    client = await deviceClient(hub.mqttUrl, deviceId);
  });

  afterAll(async () => {
    client?.end(true);
    await hub?.stop();
  });

  const newestDeadLetter = async () => {
    const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
    return (body as { deadLetters: DeadLetter[] }).deadLetters[0] as DeadLetter;
  };

  it('names unknown keys minimised (a card number, a 16 KB key) and counts those beyond a few', async () => {
    const longKey = 'k'.repeat(16_000);
    const frame = {
      seq: 1,
      time: '2026-11-22T09:30:00+08:00',
      event: 'DOOR_FORCED_OPEN',
      door: 1,
      [card]: 'granted',
      [longKey]: 1,
      ...Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`extra${index}`, index])),
    };
    expect(await publishAcknowledged(client, topic, JSON.stringify(frame))).toBe(true);
    const deadLetter = await newestDeadLetter();
    expect(deadLetter.reason).toBe('schema');
    expect(deadLetter.problems).toEqual([
      '(root): Unrecognized keys: "<key of 16 characters>", "<key of 16000 characters>", "extra0", "extra1", "extra2" and 7 more',
    ]);
    const text = JSON.stringify(deadLetter);
    expect(text).not.toContain(card);
    expect(text).not.toContain('kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(hub.logs.text).not.toContain(card);
  });

  it('bounds a dead letter of many problems and a wide, deep shape to its limit', async () => {
    // Every door of 40 nested and wrong: a problem each, and a shape as wide as the limits let it be.
    const cell = { a: [0, 0, 0, 0], b: [0, 0, 0, 0], c: [0, 0, 0, 0], d: [0, 0, 0, 0] };
    const wrong = Object.fromEntries(
      Array.from({ length: 40 }, (_, index) => [`door${index}`, [cell, cell, cell, cell]]),
    );
    const frame = { seq: 'x', time: 1, event: 'HEARTBEAT', ...wrong };
    expect(await publishAcknowledged(client, topic, JSON.stringify(frame))).toBe(true);
    const deadLetter = await newestDeadLetter();
    expect(deadLetter.reason).toBe('schema');
    expect(Buffer.byteLength(JSON.stringify(deadLetter))).toBeLessThanOrEqual(4096);
    expect(deadLetter.problems.length).toBeGreaterThan(0);
    expect(deadLetter.payloadShape).toMatch(/^<shape of \d+ bytes left out/);
  });
});

describe('a provisioned device whose id a user of the config later takes', () => {
  it('is skipped at start, and the user reads the feed', async () => {
    const dataDir = temporaryDirectory();
    try {
      const first = await startTestHub({ dataDir: dataDir.path });
      const created = await postJson(`${first.httpUrl}/api/devices`, 'demo-admin', {
        id: 'officer-newcomer',
        name: 'A gate named like a person',
        adapter: 'gate-access',
        grid: 'grid-xijiao-01',
      });
      expect(created.status).toBe(201);
      await first.stop();
      const config = scopedConfig();
      config.users.push({
        id: 'officer-newcomer',
        name: 'Newcomer',
        role: 'duty_officer',
        scope: 'community-xijiao',
        token: 'test-officer-newcomer',
      });
      const second = await startTestHub({ dataDir: dataDir.path, deployment: deploymentOf(config) });
      try {
        expect((await getJson(`${second.httpUrl}/api/devices/officer-newcomer`, 'demo-admin')).status).toBe(
          404,
        );
        const user = await tryConnect(second.mqttUrl, {
          clientId: 'officer-newcomer',
          username: 'officer-newcomer',
          password: 'test-officer-newcomer',
        });
        expect(typeof user).not.toBe('string');
        (user as MqttClient).end(true);
      } finally {
        await second.stop();
      }
    } finally {
      dataDir.remove();
    }
  });
});
