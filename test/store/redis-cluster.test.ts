import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoSecret,
  deploymentOf,
  eventually,
  postJson,
  startTestHub,
} from '../helpers/hub.ts';

const redisUrl = process.env.GRIDHUB_TEST_REDIS ?? 'redis://127.0.0.1:6379';

describe('two hub instances sharing Redis', () => {
  const keyPrefix = `gridhub-cluster-test:${process.pid}:`;
  const config = demoConfig() as unknown as Record<string, unknown>;
  config.store = { kind: 'redis', url: redisUrl, keyPrefix };
  const deployment = deploymentOf(config);

  afterAll(async () => {
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('pushes an incident raised on one instance to clients of both, once, and an action on the other to both', async () => {
    const east = await startTestHub({ deployment });
    const west = await startTestHub({ deployment });
    const onEast = await connectClient(east.httpUrl, 'demo-officer-luming');
    const onWest = await connectClient(west.httpUrl, 'demo-officer-luming');
    const gate = new GateSimulator({
      url: east.mqttUrl,
      deviceId: 'gate-luming-02-west',
      secret: demoSecret('gate-luming-02-west'),
    });
    try {
      await gate.start();
      await gate.forceDoor();
      const seenEast = (await onEast.nth('incident:new', 1)) as Incident;
      const seenWest = (await onWest.nth('incident:new', 1)) as Incident;
      expect(seenWest).toEqual(seenEast);

      // The other instance acts on it: it reads the incident from the shared store.
      const accepted = await postJson<Incident>(
        `${west.httpUrl}/api/incidents/${seenEast.id}/actions/accept`,
        'demo-worker-luming-02',
      );
      expect(accepted.body.state).toBe('accepted');
      const updateEast = (await onEast.nth('incident:update', 1)) as IncidentChange;
      const updateWest = (await onWest.nth('incident:update', 1)) as IncidentChange;
      expect(updateEast.after).toEqual(accepted.body);
      expect(updateWest.after).toEqual(accepted.body);

      // Exactly once each: a second incident is the second push, not a duplicate of the first.
      await gate.holdDoor(1, 500);
      await eventually(
        () => onEast.of('incident:new').length === 2 && onWest.of('incident:new').length === 2,
      );
      const ids = (client: typeof onEast) =>
        client.of('incident:new').map((incident) => (incident as Incident).id);
      expect(new Set(ids(onEast)).size).toBe(2);
      expect(ids(onWest)).toEqual(ids(onEast));
    } finally {
      onEast.close();
      onWest.close();
      await gate.stop();
      await east.stop();
      await west.stop();
    }
  });
});
