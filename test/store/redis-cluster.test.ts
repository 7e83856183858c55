import { afterAll, describe, expect, it } from 'vitest';
import type { Incident, IncidentChange } from '../../src/core/incident.ts';
import { connectClient, demoGate, eventually, postJson, startTestHub } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

describe('two hub instances sharing Redis', () => {
  const keyPrefix = testKeyPrefix('cluster');
  const deployment = redisDeployment(keyPrefix);

  afterAll(() => deleteRedisKeys(keyPrefix));

  it('pushes an incident raised on one instance to clients of both, once, and an action on the other to both', async () => {
    const east = await startTestHub({ deployment });
    const west = await startTestHub({ deployment });
    const onEast = await connectClient(east.httpUrl, 'demo-officer-luming');
    const onWest = await connectClient(west.httpUrl, 'demo-officer-luming');
    const gate = demoGate(east.mqttUrl, 'gate-luming-02-west');
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

describe('deadlines across two instances sharing Redis', () => {
  const keyPrefix = testKeyPrefix('cluster-deadlines');
  // An intrusion must be accepted within 0.6 s at each level.
  const deployment = redisDeployment(keyPrefix, (config) => {
    config.deadlines = {
      categories: { intrusion: { acceptMinutes: 0.01, arriveMinutes: 30, resolveMinutes: 240 } },
    };
  });

  afterAll(() => deleteRedisKeys(keyPrefix));

  it('escalates each level exactly once, though both instances sweep the incident', async () => {
    const east = await startTestHub({ deployment });
    const west = await startTestHub({ deployment });
    const officer = await connectClient(east.httpUrl, 'demo-officer-qinghe');
    const gate = demoGate(east.mqttUrl, 'gate-luming-03-south');
    try {
      await gate.start();
      await gate.forceDoor();
      const incident = (await officer.nth('incident:new', 1)) as Incident;
      // The other instance acts on it, so both hold it and both sweep its deadlines.
      const noted = await postJson(
        `${west.httpUrl}/api/incidents/${incident.id}/actions/note`,
        'demo-officer-qinghe',
        {
          note: 'watching it',
        },
      );
      expect(noted.status).toBe(200);
      expect(west.testHandle.incidents.active(incident.id)).toBeDefined();
      await eventually(async () => {
        const stored = await east.testHandle.store.getIncident(incident.id);
        return stored?.responsibleNodeId === 'district-qinghe';
      }, 10_000);
      // Give both sweeps time to race on a level that is already done, then count.
      await eventually(async () => (await east.testHandle.store.getIncident(incident.id))?.escalations === 3);
      const trail = await east.testHandle.store.listAudit({ limit: 50, targetId: incident.id });
      const escalations = trail.filter(
        (entry) => entry.action === 'incident.escalate' && entry.outcome === 'ok',
      );
      expect(escalations).toHaveLength(3);
      const counted = async (hub: typeof east) =>
        Number(
          (await (await fetch(`${hub.httpUrl}/metrics`)).text()).match(
            /^gridhub_escalations_total (\d+)/m,
          )?.[1] ?? 0,
        );
      expect((await counted(east)) + (await counted(west))).toBe(3);
    } finally {
      officer.close();
      await gate.stop();
      await east.stop();
      await west.stop();
    }
  });
});
