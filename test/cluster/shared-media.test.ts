import { afterAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import {
  attachSnapshot,
  connectClient,
  demoGate,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

describe('evidence across instances sharing a media directory', () => {
  const keyPrefix = testKeyPrefix('shared-media');
  const media = temporaryDirectory('gridhub-shared-media-');
  const deployment = redisDeployment(keyPrefix, (config) => {
    config.media = { directory: media.path };
  });
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 0xff, 0xd9]);

  afterAll(async () => {
    await deleteRedisKeys(keyPrefix);
    media.remove();
  });

  /**
   * Two siblings, east and west; a forced gate raised through the one named, then east captures (as its evidence
   * service would) and attaches a snapshot of it. Hands the siblings, the incident and the file's URL to `check`.
   */
  async function siblingsWithEvidence(
    raisedThrough: 'east' | 'west',
    check: (hubs: { east: TestHub; west: TestHub }, incident: Incident, url: string) => Promise<void>,
  ): Promise<void> {
    const hubs = { east: await startTestHub({ deployment }), west: await startTestHub({ deployment }) };
    const raising = hubs[raisedThrough];
    const officer = await connectClient(raising.httpUrl, 'demo-officer-luming');
    const gate = demoGate(raising.mqttUrl, 'gate-luming-02-west');
    try {
      await gate.start();
      await gate.forceDoor();
      const incident = (await officer.nth('incident:new', 1)) as Incident;
      const { url, attached } = await attachSnapshot(hubs.east, incident.id, jpeg);
      await attached;
      await check(hubs, incident, url);
    } finally {
      officer.close();
      await gate.stop();
      await hubs.east.stop();
      await hubs.west.stop();
    }
  }

  it('serves from one instance the evidence another captured, to the incident’s scope only', async () => {
    await siblingsWithEvidence('east', async ({ west }, _incident, path) => {
      const url = `${west.httpUrl}${path}`;
      const response = await fetch(url, { headers: { authorization: 'Bearer demo-officer-luming' } });
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(jpeg);
      const outsider = await fetch(url, { headers: { authorization: 'Bearer demo-officer-xijiao' } });
      expect(outsider.status).toBe(404);
    });
  });

  it('serves at once, from the instance that raised the incident, the evidence a sibling attached', async () => {
    await siblingsWithEvidence('west', async ({ west }, incident, path) => {
      // West holds the incident as it raised it: it hears of a sibling's changes only on its next reload.
      expect(west.testHandle.incidents.active(incident.id)?.evidence ?? []).toEqual([]);
      const response = await fetch(`${west.httpUrl}${path}`, {
        headers: { authorization: 'Bearer demo-officer-luming' },
      });
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(jpeg);
    });
  });
});
