import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { demoSecret, metricValue, startTestHub, type TestHub, temporaryDirectory } from '../helpers/hub.ts';

/**
 * A device event delivered again after the hub restarted: the broker (here the device's own MQTT client, which
 * resends an unacknowledged QoS 1 message on reconnect) sends the same frame, with the same seq and time. One hub
 * on the embedded store must neither raise a second incident nor count a second repeat.
 */
const deviceId = 'gate-xijiao-01-north';
const topic = `gridhub/devices/${deviceId}/events`;
const startOfRun = Math.floor(Date.now() / 1000) * 1000 - 60_000;

function frame(seq: number, event: 'DOOR_FORCED_OPEN' | 'DOOR_HELD_OPEN'): string {
  const time = new Date(startOfRun + seq * 1000).toISOString();
  return JSON.stringify(
    event === 'DOOR_FORCED_OPEN'
      ? { seq, time, event, door: 1 }
      : { seq, time, event, door: 1, heldSeconds: 120 },
  );
}

async function publishOnce(hub: TestHub, payloads: readonly string[]): Promise<void> {
  const client = await mqtt.connectAsync(hub.mqttUrl, {
    clientId: deviceId,
    username: deviceId,
    password: demoSecret(deviceId),
    reconnectPeriod: 0,
  });
  try {
    for (const payload of payloads) await client.publishAsync(topic, payload, { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

async function incidentsOf(hub: TestHub, eventType: string): Promise<Incident[]> {
  return hub.testHandle.store.listIncidents({
    limit: 100,
    filter: (incident) => incident.device.id === deviceId && incident.event.type === eventType,
  });
}

describe('a redelivered device event on one hub with the embedded store', () => {
  const directory = temporaryDirectory('gridhub-redelivery-');
  afterAll(() => directory.remove());

  it('changes nothing again, before and after a restart, while new events still count', async () => {
    let hub = await startTestHub({ dataDir: directory.path });
    try {
      await publishOnce(hub, [
        frame(1, 'DOOR_FORCED_OPEN'),
        frame(2, 'DOOR_HELD_OPEN'),
        frame(3, 'DOOR_HELD_OPEN'),
        // The same frame twice in a row, as after a lost PUBACK while the hub runs.
        frame(3, 'DOOR_HELD_OPEN'),
      ]);
      expect(await incidentsOf(hub, 'door.forced_open')).toHaveLength(1);
      expect((await incidentsOf(hub, 'door.held_open'))[0]?.occurrences).toBe(2);
      expect(await metricValue(hub.httpUrl, 'gridhub_events_redelivered_total')).toBe(1);
    } finally {
      await hub.stop();
    }

    hub = await startTestHub({ dataDir: directory.path });
    try {
      // The hub died before its acknowledgements left: the device sends the same frames again, then a new one.
      await publishOnce(hub, [
        frame(1, 'DOOR_FORCED_OPEN'),
        frame(2, 'DOOR_HELD_OPEN'),
        frame(3, 'DOOR_HELD_OPEN'),
        frame(4, 'DOOR_HELD_OPEN'),
      ]);
      const forced = await incidentsOf(hub, 'door.forced_open');
      expect(forced).toHaveLength(1);
      expect(forced[0]?.occurrences).toBe(1);
      const held = await incidentsOf(hub, 'door.held_open');
      expect(held).toHaveLength(1);
      expect(held[0]?.occurrences).toBe(3);
      expect(await metricValue(hub.httpUrl, 'gridhub_events_redelivered_total')).toBe(3);
    } finally {
      await hub.stop();
    }
  });
});
