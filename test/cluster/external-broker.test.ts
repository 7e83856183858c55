import { connect } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopicGrammar } from '../../src/core/topics.ts';
import { ExternalBrokerClient } from '../../src/ingest/external-broker.ts';
import { mqttMetrics } from '../../src/ingest/ingest-metrics.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import {
  CountingGate,
  countingConfig,
  expectEveryIncidentPushed,
  expectRepeatsFoldedIntoOne,
  expectRestartsSurvived,
  forceDoorsKillingMidway,
  forcedBy,
  freePort,
  HubProcess,
  listIncidents,
  PrivateMosquitto,
  PrivateRedis,
  until,
} from '../helpers/cluster.ts';
import { connectClient, demoGate, demoSecret, metricValue, type RecordingClient } from '../helpers/hub.ts';

/**
 * Mode (a): three hub processes as clients of one Mosquitto, sharing one Redis. Mosquitto authenticates the
 * devices (password file) and confines each to its own topics (ACL patterns); the hubs share the device events
 * through `$share/gridhub/...` and acknowledge each only once stored.
 */

const hubAccount = { username: 'gridhub-hub', password: 'hub-secret-for-tests' };
const acl = `# The hub's own account: every device's channels, commands to every device, the incident feed.
user ${hubAccount.username}
topic read gridhub/devices/+/events
topic read gridhub/devices/+/heartbeat
topic read gridhub/devices/+/status
topic read gridhub/devices/+/replies
topic write gridhub/devices/+/commands
topic write gridhub/incidents

# Every device: its username is its device id; it writes its own channels and reads its own commands.
pattern write gridhub/devices/%u/events
pattern write gridhub/devices/%u/heartbeat
pattern write gridhub/devices/%u/status
pattern write gridhub/devices/%u/replies
pattern read gridhub/devices/%u/commands
`;

const streamGates = [
  'gate-xijiao-01-north',
  'gate-xijiao-02-east',
  'gate-zhenxing-01-east',
  'gate-zhenxing-02-north',
  'gate-luming-01-south',
  'gate-luming-02-west',
];
const restartGates = ['gate-xijiao-03-north', 'gate-zhenxing-03-east', 'gate-luming-03-east'];
const repeatGate = 'gate-luming-04-north';
const otherGates = ['gate-xijiao-04-south', 'gate-xijiao-05-west', 'gate-xijiao-04-west'];
const allGates = [...streamGates, ...restartGates, repeatGate, ...otherGates];

describe('hub instances as clients of an external Mosquitto with a shared subscription', () => {
  let redis: PrivateRedis;
  let mosquitto: PrivateMosquitto;
  const hubs: HubProcess[] = [];

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort(), true);
    await redis.start();
    mosquitto = new PrivateMosquitto(
      await freePort(),
      [hubAccount, ...allGates.map((id) => ({ username: id, password: demoSecret(id) }))],
      acl,
    );
    await mosquitto.start();
    const config = countingConfig((config) => {
      config.store = { kind: 'redis', url: redis.url, keyPrefix: 'gridhub-ext:' };
      config.mqtt = {
        mode: 'external',
        external: { url: mosquitto.url, ...hubAccount, shareGroup: 'gridhub' },
      };
    });
    for (const name of ['hub-a', 'hub-b', 'hub-c']) {
      hubs.push(
        new HubProcess({
          name,
          config,
          httpPort: await freePort(),
          mqttPort: await freePort(),
          env: { MQTT_CLIENT_ID: name },
        }),
      );
    }
    // One after the other: three tsx start-ups at once are slow on a two-core machine.
    for (const hub of hubs) await hub.start();
  }, 120_000);

  afterAll(async () => {
    for (const hub of hubs) await hub.remove();
    await mosquitto?.remove();
    await redis?.remove();
  });

  it('refuses a device with a wrong password, and keeps each device to its own topics', async () => {
    const [hubA] = hubs as [HubProcess];
    const impostor = connect(mosquitto.url, {
      clientId: 'gate-xijiao-04-south',
      username: 'gate-xijiao-04-south',
      password: 'not-its-secret',
      reconnectPeriod: 0,
    });
    const refusal = await new Promise<Error>((resolve) => impostor.once('error', resolve));
    impostor.end(true);
    expect(refusal.message).toMatch(/Not authorized|Bad username or password/);

    const gate = connect(mosquitto.url, {
      clientId: 'gate-xijiao-05-west',
      username: 'gate-xijiao-05-west',
      password: demoSecret('gate-xijiao-05-west'),
      reconnectPeriod: 0,
    });
    await new Promise((resolve) => gate.once('connect', resolve));
    try {
      // Another device's commands: Mosquitto grants the subscription but delivers nothing on it (read ACL).
      const received: string[] = [];
      gate.on('message', (topic) => received.push(topic));
      await gate.subscribeAsync(
        ['gridhub/devices/gate-xijiao-04-south/commands', 'gridhub/devices/gate-xijiao-05-west/commands'],
        { qos: 1 },
      );
      const sender = connect(mosquitto.url, {
        clientId: 'test-hub-account',
        ...hubAccount,
        reconnectPeriod: 0,
      });
      await new Promise((resolve) => sender.once('connect', resolve));
      await sender.publishAsync('gridhub/devices/gate-xijiao-04-south/commands', '{}', { qos: 1 });
      await sender.publishAsync('gridhub/devices/gate-xijiao-05-west/commands', '{}', { qos: 1 });
      sender.end(true);
      // In order from one publisher: when its own arrives, the other's would have arrived before it.
      await until(() => received.length >= 1, 'its own command');
      expect(received).toEqual(['gridhub/devices/gate-xijiao-05-west/commands']);
      // Forging another device's event: Mosquitto drops it (and MQTT 3.1.1 cannot tell the device so).
      const frame = (seq: number) =>
        JSON.stringify({ seq, time: new Date().toISOString(), event: 'DOOR_FORCED_OPEN', door: 3 });
      await Promise.race([
        gate.publishAsync('gridhub/devices/gate-xijiao-04-south/events', frame(1), { qos: 1 }),
        new Promise((resolve) => setTimeout(resolve, 2_000)),
      ]);
      // Its own event goes through (on a new connection: mqtt.js may drop the one whose publish was refused).
      const own = new CountingGate(
        'gate-xijiao-05-west',
        [{ host: '127.0.0.1', port: mosquitto.port }],
        demoSecret('gate-xijiao-05-west'),
      );
      await own.start();
      await own.forcedDoor();
      await own.stop();
      await until(
        async () => forcedBy(await listIncidents(hubA.httpUrl), ['gate-xijiao-05-west']).length === 1,
        'the own event becomes an incident',
      );
      const forged = forcedBy(await listIncidents(hubA.httpUrl), ['gate-xijiao-04-south']);
      expect(forged).toHaveLength(0);
    } finally {
      gate.end(true);
    }
  }, 90_000);

  it('splits a stream over the instances, loses and duplicates nothing when one is killed mid-stream and restarted, and pushes every incident to clients of the survivors', async () => {
    const [hubA, hubB, hubC] = hubs as [HubProcess, HubProcess, HubProcess];
    const clients: RecordingClient[] = [
      await connectClient(hubA.httpUrl, 'demo-officer-qinghe'),
      await connectClient(hubC.httpUrl, 'demo-officer-qinghe'),
    ];
    const gates = streamGates.map(
      (id) => new CountingGate(id, [{ host: '127.0.0.1', port: mosquitto.port }], demoSecret(id)),
    );
    const perGate = 20;
    try {
      for (const gate of gates) await gate.start();
      // A third of the way through, hub-b dies with whatever it holds.
      const killedAt = await forceDoorsKillingMidway(gates, perGate, hubB, 40);
      const total = streamGates.length * perGate;
      expect(gates.reduce((sum, gate) => sum + gate.acknowledged.length, 0)).toBe(total);

      // While hub-b is away, its share waits in its session at the broker (Mosquitto keeps choosing it in the
      // group): once the survivors hold nothing, some of the stream is still not handled.
      await until(async () => {
        for (const hub of [hubA, hubC]) {
          const health = (await (await fetch(`${hub.httpUrl}/healthz`)).json()) as {
            components: { mqtt: { holding: number } };
          };
          if (health.components.mqtt.holding !== 0) return false;
        }
        return true;
      }, 'the survivors hold nothing');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(forcedBy(await listIncidents(hubA.httpUrl), streamGates).length).toBeLessThan(total);

      // hub-b comes back under its client id: the broker hands it what it held unacknowledged and what was
      // queued for it while it was away.
      await hubB.start();
      await until(
        async () => forcedBy(await listIncidents(hubA.httpUrl), streamGates).length >= total,
        `${total} incidents`,
      );
      // Late duplicates would show up here: wait until no instance holds a message it has not acknowledged.
      await until(async () => {
        for (const hub of hubs) {
          const health = (await (await fetch(`${hub.httpUrl}/healthz`)).json()) as {
            components: { mqtt: { state: string; holding: number } };
          };
          if (health.components.mqtt.state !== 'up' || health.components.mqtt.holding !== 0) return false;
        }
        return true;
      }, 'every instance up, holding nothing');
      const incidents = forcedBy(await listIncidents(hubA.httpUrl), streamGates);
      expect(incidents).toHaveLength(total);
      for (const id of streamGates) {
        expect(incidents.filter((incident) => incident.device.id === id)).toHaveLength(perGate);
      }

      // Every instance handled part of the stream: the survivors some, and hub-b (before it died, or its backlog
      // after it came back) the rest.
      const decoded = [
        await metricValue(hubA.httpUrl, 'gridhub_events_decoded_total'),
        await metricValue(hubC.httpUrl, 'gridhub_events_decoded_total'),
      ] as const;
      for (const count of decoded) expect(count).toBeGreaterThan(0);
      expect(decoded[0] + decoded[1]).toBeLessThan(total);

      await expectEveryIncidentPushed(
        clients,
        incidents,
        hubs,
        (incident) => `created ${Date.parse(incident.createdAt) - killedAt} ms after the kill`,
      );
    } finally {
      for (const client of clients) client.close();
      for (const gate of gates) await gate.stop();
    }
  }, 240_000);

  it('fails the start of an instance whose account the broker refuses, instead of retrying for ever', async () => {
    const client = new ExternalBrokerClient({
      url: mosquitto.url,
      username: hubAccount.username,
      password: 'not-the-hub-password',
      clientId: 'hub-refused',
      shareGroup: 'gridhub',
      protocolVersion: 5,
      sessionExpirySeconds: 60,
      topics: new TopicGrammar('gridhub'),
      onMessage: () => undefined,
      isOnline: () => false,
      metrics: mqttMetrics(new MetricsRegistry()),
      logger: pino({ level: 'silent' }),
    });
    await expect(client.start()).rejects.toThrow(/the broker refused the hub's account/);
    expect(client.state).toBe('down');
  });

  it('handles a device that publishes at QoS 0 too (nothing to acknowledge, still one incident)', async () => {
    const [hubA] = hubs as [HubProcess];
    const gate = connect(mosquitto.url, {
      clientId: 'gate-xijiao-04-west',
      username: 'gate-xijiao-04-west',
      password: demoSecret('gate-xijiao-04-west'),
      reconnectPeriod: 0,
    });
    try {
      await new Promise((resolve) => gate.once('connect', resolve));
      const frame = JSON.stringify({
        seq: 1,
        time: new Date().toISOString(),
        event: 'DOOR_FORCED_OPEN',
        door: 1,
      });
      await gate.publishAsync('gridhub/devices/gate-xijiao-04-west/events', frame, { qos: 0 });
      await until(
        async () => forcedBy(await listIncidents(hubA.httpUrl), ['gate-xijiao-04-west']).length === 1,
        'the QoS 0 event becomes an incident',
      );
    } finally {
      gate.end(true);
    }
  }, 60_000);

  it('counts repeats of one condition spread over the instances into one incident', async () => {
    const [hubA] = hubs as [HubProcess];
    const gate = new CountingGate(
      repeatGate,
      [{ host: '127.0.0.1', port: mosquitto.port }],
      demoSecret(repeatGate),
    );
    const repeats = 15;
    try {
      await gate.start();
      for (let n = 0; n < repeats; n++) await gate.heldDoor();
      await expectRepeatsFoldedIntoOne(hubA.httpUrl, repeatGate, repeats);
    } finally {
      await gate.stop();
    }
  }, 120_000);

  it('sends a command through the broker and gets the answer, whichever instance the reply reaches', async () => {
    const [hubA] = hubs as [HubProcess];
    const simulator = demoGate(mosquitto.url, 'gate-xijiao-04-south', { heartbeatSeconds: 1 });
    try {
      await simulator.start();
      // The device is reachable once its status (or a heartbeat) reached the instance that sends the command.
      await until(async () => {
        const response = await fetch(`${hubA.httpUrl}/api/devices/gate-xijiao-04-south/commands/unlock`, {
          method: 'POST',
          headers: { authorization: 'Bearer demo-officer-qinghe', 'content-type': 'application/json' },
          body: JSON.stringify({ params: { door: 1 } }),
        });
        return response.status === 200 && ((await response.json()) as { ok: boolean }).ok;
      }, 'the unlock answered');
    } finally {
      await simulator.stop();
    }
  }, 60_000);

  it('survives a Redis restart and a broker restart: nothing stored is lost and what comes after is all handled', async () => {
    await expectRestartsSurvived({
      hubs,
      gates: restartGates.map(
        (id) => new CountingGate(id, [{ host: '127.0.0.1', port: mosquitto.port }], demoSecret(id)),
      ),
      gateIds: restartGates,
      redis,
      restart: async (phases) => {
        // Mosquitto stops (saving its sessions) and comes back; devices and instances reconnect.
        // Back means subscribed again: Mosquitto 2.0 restores a persistent session's ordinary subscriptions but
        // not its shared ones, so until each instance has subscribed again the broker acknowledges device events
        // that no instance will get (docs/deployment.md says so).
        await mosquitto.stop();
        await mosquitto.start();
        await until(async () => {
          for (const hub of hubs) {
            const health = (await (await fetch(`${hub.httpUrl}/healthz`)).json()) as {
              components: { mqtt: { state: string } };
            };
            if (health.components.mqtt.state !== 'up') return false;
          }
          return true;
        }, 'every instance subscribed again');
        phases.push(`mosquitto back ${new Date().toISOString()}`);
      },
    });
  }, 300_000);
});
