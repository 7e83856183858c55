import { afterAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { connectClient, demoGate, startTestHub, temporaryDirectory } from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

describe('evidence across instances sharing a media directory', () => {
  const keyPrefix = testKeyPrefix('shared-media');
  const media = temporaryDirectory('gridhub-shared-media-');
  const deployment = redisDeployment(keyPrefix, (config) => {
    config.media = { directory: media.path };
  });

  afterAll(async () => {
    await deleteRedisKeys(keyPrefix);
    media.remove();
  });

  it('serves from one instance the evidence another captured, to the incident’s scope only', async () => {
    const east = await startTestHub({ deployment });
    const west = await startTestHub({ deployment });
    const officer = await connectClient(east.httpUrl, 'demo-officer-luming');
    const gate = demoGate(east.mqttUrl, 'gate-luming-02-west');
    try {
      await gate.start();
      await gate.forceDoor();
      const incident = (await officer.nth('incident:new', 1)) as Incident;
      const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 0xff, 0xd9]);
      // East captures (as its evidence service would) and attaches the file.
      const written = await east.testHandle.media.write(incident.id, 'snapshot-cam-test.jpg', jpeg);
      await east.testHandle.incidents.attachEvidence(incident.id, {
        kind: 'snapshot',
        cameraId: 'cam-test',
        url: `/media/${incident.id}/snapshot-cam-test.jpg`,
        contentType: 'image/jpeg',
        bytes: written.bytes,
        capturedAt: new Date().toISOString(),
      });

      const url = `${west.httpUrl}/media/${incident.id}/snapshot-cam-test.jpg`;
      const response = await fetch(url, { headers: { authorization: 'Bearer demo-officer-luming' } });
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(jpeg);
      const outsider = await fetch(url, { headers: { authorization: 'Bearer demo-officer-xijiao' } });
      expect(outsider.status).toBe(404);
    } finally {
      officer.close();
      await gate.stop();
      await east.stop();
      await west.stop();
    }
  });
});
