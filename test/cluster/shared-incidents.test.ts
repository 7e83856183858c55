import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { demoSecret, eventually, metricValue, postJson, startTestHub, type TestHub } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

/**
 * Two hub instances in one process sharing one Redis key prefix, each with its own embedded broker. One device is
 * connected to both, as a device whose consecutive events a shared subscription hands to different instances, or
 * that reconnects to another instance; its frames are published with QoS 1, so each publish resolves once the
 * instance that took it has committed its change.
 */
const deviceId = 'gate-luming-02-west';
const topic = `gridhub/devices/${deviceId}/events`;

/** Device clocks a minute behind the hub's: dedupe windows run from the device's time of the last occurrence. */
const startOfRun = Math.floor(Date.now() / 1000) * 1000 - 60_000;

function deviceTime(second: number): string {
  return new Date(startOfRun + second * 1000).toISOString();
}

function heldOpen(seq: number, second: number): string {
  const time = deviceTime(second);
  return JSON.stringify({ seq, time, event: 'DOOR_HELD_OPEN', door: 1, heldSeconds: 90 + seq });
}

async function connectDevice(hub: TestHub, id = deviceId): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(hub.mqttUrl, {
    clientId: id,
    username: id,
    password: demoSecret(id),
    reconnectPeriod: 0,
  });
}

async function incidentsOf(hub: TestHub, eventType: string, id = deviceId): Promise<Incident[]> {
  return hub.testHandle.store.listIncidents({
    limit: 100,
    filter: (incident) => incident.device.id === id && incident.event.type === eventType,
  });
}

describe('two instances sharing Redis make one incident of one device condition', () => {
  const keyPrefix = testKeyPrefix('shared-incidents');
  const deployment = redisDeployment(keyPrefix);
  let east: TestHub;
  let west: TestHub;
  let onEast: mqtt.MqttClient;
  let onWest: mqtt.MqttClient;

  beforeAll(async () => {
    east = await startTestHub({ deployment });
    west = await startTestHub({ deployment });
    onEast = await connectDevice(east);
    onWest = await connectDevice(west);
  });

  afterAll(async () => {
    await onEast?.endAsync();
    await onWest?.endAsync();
    await east?.stop();
    await west?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('folds events fed alternately to both, two at a time, into exactly one incident with every repeat counted', async () => {
    // Each pair reaches both instances at once: the first pair races to create, later pairs race to fold.
    for (let seq = 1; seq <= 12; seq += 2) {
      await Promise.all([
        onEast.publishAsync(topic, heldOpen(seq, seq), { qos: 1 }),
        onWest.publishAsync(topic, heldOpen(seq + 1, seq + 1), { qos: 1 }),
      ]);
    }
    const incidents = await incidentsOf(east, 'door.held_open');
    expect(incidents).toHaveLength(1);
    const incident = incidents[0] as Incident;
    expect(incident.occurrences).toBe(12);
    expect(incident.version).toBe(12);
    expect(incident.lastOccurredAt).toBe(deviceTime(12));
    const trail = await east.testHandle.store.listAudit({ limit: 50, targetId: incident.id });
    expect(trail.filter((entry) => entry.action === 'incident.create')).toHaveLength(1);
    // Both instances took part, and each knows the incident as the store has it.
    expect(west.testHandle.incidents.active(incident.id)).toBeDefined();
    expect(east.testHandle.incidents.active(incident.id)).toBeDefined();
  });

  it('makes one incident of a burst, every event in flight at once on both instances, and counts each once', async () => {
    const burstDevice = 'gate-luming-03-east';
    const burstTopic = `gridhub/devices/${burstDevice}/events`;
    const clients = [await connectDevice(east, burstDevice), await connectDevice(west, burstDevice)];
    try {
      await Promise.all(
        Array.from({ length: 60 }, (_, n) =>
          clients[n % 2]?.publishAsync(burstTopic, heldOpen(n + 1, n + 1), { qos: 1 }),
        ),
      );
      // Half of them delivered again, to the other instance.
      await Promise.all(
        Array.from({ length: 30 }, (_, n) =>
          clients[(n + 1) % 2]?.publishAsync(burstTopic, heldOpen(2 * n + 1, 2 * n + 1), { qos: 1 }),
        ),
      );
    } finally {
      for (const client of clients) await client.endAsync();
    }
    const incidents = await incidentsOf(west, 'door.held_open', burstDevice);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]?.occurrences).toBe(60);
    expect(incidents[0]?.version).toBe(60);
  });

  it('ignores a redelivered event on either instance: no second incident, no second repeat', async () => {
    const [before] = await incidentsOf(east, 'door.held_open');
    const redelivered = async () =>
      (await metricValue(east.httpUrl, 'gridhub_events_redelivered_total')) +
      (await metricValue(west.httpUrl, 'gridhub_events_redelivered_total'));
    const redeliveredBefore = await redelivered();
    // The broker sends a QoS 1 message again when its acknowledgement was lost: same device, seq and time.
    await onWest.publishAsync(topic, heldOpen(12, 12), { qos: 1 });
    await onEast.publishAsync(topic, heldOpen(7, 7), { qos: 1 });
    const [after] = await incidentsOf(east, 'door.held_open');
    expect(after?.occurrences).toBe(before?.occurrences);
    expect(after?.version).toBe(before?.version);

    // The event that created an incident, delivered again to the other instance, creates nothing.
    const forced = JSON.stringify({
      seq: 100,
      time: deviceTime(30),
      event: 'DOOR_FORCED_OPEN',
      door: 2,
    });
    await onEast.publishAsync(topic, forced, { qos: 1 });
    await onWest.publishAsync(topic, forced, { qos: 1 });
    const created = await incidentsOf(west, 'door.forced_open');
    expect(created).toHaveLength(1);
    expect(created[0]?.occurrences).toBe(1);
    expect((await redelivered()) - redeliveredBefore).toBe(3);
  });

  it('makes an incident of every event of a rule without a dedupe window, though the device clock runs ahead', async () => {
    const ahead = 'gate-luming-04-south';
    const clients = [await connectDevice(east, ahead), await connectDevice(west, ahead)];
    try {
      const inAMinute = new Date(Date.now() + 60_000).toISOString();
      await Promise.all(
        [1, 2, 3, 4].map((seq) =>
          clients[seq % 2]?.publishAsync(
            `gridhub/devices/${ahead}/events`,
            JSON.stringify({ seq, time: inAMinute, event: 'DOOR_FORCED_OPEN', door: 1 }),
            { qos: 1 },
          ),
        ),
      );
    } finally {
      for (const client of clients) await client.endAsync();
    }
    const incidents = await incidentsOf(east, 'door.forced_open', ahead);
    expect(incidents.map((incident) => incident.occurrences)).toEqual([1, 1, 1, 1]);
  });

  it('lands actions taken at once through both instances, none lost', async () => {
    const [incident] = await incidentsOf(east, 'door.held_open');
    const id = (incident as Incident).id;
    // Three centres acknowledge at the same moment through two instances: each change is made over the version
    // it read, and the ones that lose the race are made again over a fresh read.
    const answers = await Promise.all([
      postJson<Incident>(`${east.httpUrl}/api/incidents/${id}/actions/acknowledge`, 'demo-officer-qinghe'),
      postJson<Incident>(
        `${west.httpUrl}/api/incidents/${id}/actions/acknowledge`,
        'demo-officer-tianmushan',
      ),
      postJson<Incident>(`${west.httpUrl}/api/incidents/${id}/actions/acknowledge`, 'demo-officer-luming'),
      onEast.publishAsync(topic, heldOpen(13, 13), { qos: 1 }).then(() => ({ status: 200 })),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    const stored = (await east.testHandle.store.getIncident(id)) as Incident;
    expect(stored.acknowledgements?.map((entry) => entry.nodeId).sort()).toEqual([
      'community-luming',
      'district-qinghe',
      'street-tianmushan',
    ]);
    expect(stored.occurrences).toBe(13);
    expect(stored.version).toBe((incident?.version ?? 0) + 4);
    const trail = await east.testHandle.store.listAudit({ limit: 50, targetId: id });
    expect(
      trail.filter((entry) => entry.action === 'incident.acknowledge' && entry.outcome === 'ok'),
    ).toHaveLength(3);
  });

  it('clears the condition through either instance, and the next event raises a new incident', async () => {
    const [open] = await incidentsOf(east, 'door.held_open');
    const resolved = await postJson<Incident>(
      `${west.httpUrl}/api/incidents/${open?.id}/actions/false_alarm`,
      'demo-officer-luming',
      { note: 'propped open for a delivery' },
    );
    expect(resolved.status).toBe(200);
    expect(await east.testHandle.store.openCondition(`${deviceId}/door.held_open`)).toBeUndefined();
    // East folded repeats into it, so holds it; its next reload of the shared incidents learns that it ended.
    expect(east.testHandle.incidents.active(open?.id as string)).toBeDefined();
    east.testHandle.incidents.sweep(Date.now() + 31_000);
    await eventually(() => east.testHandle.incidents.active(open?.id as string) === undefined);
    await onEast.publishAsync(topic, heldOpen(20, 40), { qos: 1 });
    await onWest.publishAsync(topic, heldOpen(21, 41), { qos: 1 });
    const incidents = await incidentsOf(east, 'door.held_open');
    expect(incidents).toHaveLength(2);
    expect(incidents[0]?.id).not.toBe(open?.id);
    expect(incidents[0]?.occurrences).toBe(2);
    expect(await east.testHandle.store.openCondition(`${deviceId}/door.held_open`)).toBe(incidents[0]?.id);
  });
});
