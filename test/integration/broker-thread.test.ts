import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreadedBroker } from '../../src/ingest/threaded-broker.ts';
import {
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

interface Health {
  components: { mqtt: { state: string; connectedDevices: number } };
}

describe('the broker thread ends: devices are reported gone, and it is started again', () => {
  let hub: TestHub;
  // Node tells of every worker thread created in the process: the hub's broker thread is the one it starts.
  const workers: Worker[] = [];
  const onWorker = (worker: Worker) => workers.push(worker);

  beforeAll(async () => {
    process.on('worker', onWorker);
    const config = demoConfig();
    hub = await startTestHub({
      deployment: deploymentOf({
        ...config,
        correlations: [],
        mqtt: { ...config.mqtt, brokerThread: 'always' },
      }),
    });
  });

  afterAll(async () => {
    process.off('worker', onWorker);
    await hub?.stop();
  });

  it('settles what waited on it, shows MQTT down, and serves the devices again on the same port', async () => {
    const broker = hub.testHandle.broker as ThreadedBroker;
    const port = broker.port;
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
    await eventually(() => broker.isConnected('gate-xijiao-01-north'));
    const thread = workers.at(-1);
    expect(thread).toBeDefined();

    // As if it had crashed: the thread ends without being asked to.
    await thread?.terminate();
    await eventually(() => broker.state === 'down');
    expect(broker.isConnected('gate-xijiao-01-north')).toBe(false);
    const down = (await getJson(`${hub.httpUrl}/healthz`)).body as Health;
    expect(down.components.mqtt.state).toBe('down');
    await expect(broker.publish('gridhub/devices/gate-xijiao-01-north/commands', '{}')).rejects.toThrow();

    // Started again on the same port; the gate reconnects by itself and its events are ingested as before.
    await eventually(() => broker.state === 'up', 10_000);
    expect(workers.length).toBeGreaterThanOrEqual(2);
    expect(broker.port).toBe(port);
    await eventually(() => broker.isConnected('gate-xijiao-01-north'), 10_000);
    const created = 'gridhub_incidents_created_total{severity="critical"}';
    const before = await metricValue(hub.httpUrl, created);
    await gate.forceDoor();
    await eventually(async () => (await metricValue(hub.httpUrl, created)) > before);
    const up = (await getJson(`${hub.httpUrl}/healthz`)).body as Health;
    expect(up.components.mqtt).toMatchObject({ state: 'up', connectedDevices: 1 });
    await gate.stop();
  });
});
