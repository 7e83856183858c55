import { afterAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { connectClient, demoGate, getJson, startTestHub } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

describe('a hub on the Redis store', () => {
  const keyPrefix = testKeyPrefix('hub');
  const deployment = redisDeployment(keyPrefix);

  afterAll(() => deleteRedisKeys(keyPrefix));

  it('keeps incidents and their audit trail in Redis, across a restart of the hub', async () => {
    const first = await startTestHub({ deployment });
    expect(first.hub.health().components.store).toEqual({ state: 'up', kind: 'redis' });
    const officer = await connectClient(first.httpUrl, 'demo-officer-zhenxing');
    const gate = demoGate(first.mqttUrl, 'gate-zhenxing-03-east');
    await gate.start();
    await gate.forceDoor();
    const incident = (await officer.nth('incident:new', 1)) as Incident;
    officer.close();
    await gate.stop();
    await first.stop();

    const second = await startTestHub({ deployment });
    try {
      const stored = await getJson(`${second.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-zhenxing');
      expect(stored.body).toEqual(incident);
      const trail = await getJson(
        `${second.httpUrl}/api/incidents/${incident.id}/audit`,
        'demo-officer-zhenxing',
      );
      expect((trail.body as { entries: { action: string }[] }).entries.map((entry) => entry.action)).toEqual([
        'incident.create',
      ]);
    } finally {
      await second.stop();
    }
  });
});
