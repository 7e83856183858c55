import { afterAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { connectClient, demoGate, getJson, startTestHub, temporaryDirectory } from '../helpers/hub.ts';

describe('the embedded store', () => {
  const dataDir = temporaryDirectory();
  afterAll(() => dataDir.remove());

  it('keeps incidents across a hub restart', async () => {
    const first = await startTestHub({ dataDir: dataDir.path });
    const officer = await connectClient(first.httpUrl, 'demo-officer-liushuwan');
    const gate = demoGate(first.mqttUrl, 'gate-xijiao-03-north');
    await gate.start();
    await gate.forceDoor();
    await gate.holdDoor(2, 200);
    const pushed = [await officer.nth('incident:new', 1), await officer.nth('incident:new', 2)] as Incident[];
    officer.close();
    await gate.stop();
    await first.stop();

    const second = await startTestHub({ dataDir: dataDir.path });
    try {
      const { body } = await getJson(`${second.httpUrl}/api/incidents`, 'demo-officer-liushuwan');
      expect((body as { incidents: Incident[] }).incidents).toEqual([pushed[1], pushed[0]]);
      const one = await getJson(`${second.httpUrl}/api/incidents/${pushed[0]?.id}`, 'demo-worker-xijiao-03');
      expect(one.body).toEqual(pushed[0]);
    } finally {
      await second.stop();
    }
  });
});
