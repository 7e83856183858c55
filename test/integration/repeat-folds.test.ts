import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { IncidentRepeat } from '../../src/core/events.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  getJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/**
 * Repeats that arrive while their incident's previous change is still committing fold into one store round trip
 * (IncidentChangeQueue.fold): none is lost or counted twice, each is acknowledged only once its change is committed,
 * and each is pushed on its own, in order. The same with the store's group commit (`store.commitWindowMs`), where
 * writes also wait for the window: still no acknowledgement before its commit, and the repeats, kept beside their
 * incident, are there after a restart.
 */
describe.each([0, 20])('repeats in flight together, store commit window %i ms', (commitWindowMs) => {
  let hub: TestHub;
  let officer: RecordingClient;
  let gate: GateSimulator;
  const dataDir = temporaryDirectory();
  const deployment = deploymentOf({ ...demoConfig(), store: { kind: 'embedded', commitWindowMs } });

  beforeAll(async () => {
    hub = await startTestHub({ dataDir: dataDir.path, deployment });
    officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
  });

  afterAll(async () => {
    await gate?.stop();
    officer?.close();
    await hub?.stop();
    dataDir.remove();
  });

  it('counts 60 repeats sent at once, each committed before its acknowledgement, each pushed in order', async () => {
    await gate.deny();
    const incident = (await officer.nth('incident:new', 1)) as Incident;
    expect(incident).toMatchObject({ event: { type: 'access.denied' }, occurrences: 1 });

    // Not awaited one by one: all 60 are in flight together, most of them while an earlier one commits.
    const frames = await Promise.all(Array.from({ length: 60 }, () => gate.deny()));
    // Every PUBACK is in, and each came after its own change committed: the store counts all of them already.
    const stored = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-xijiao');
    expect(stored.body).toMatchObject({ occurrences: 61, lastOccurredAt: frames.at(-1)?.time });

    await eventually(() => officer.of('incident:repeat').length === 60);
    const repeats = officer.of('incident:repeat') as IncidentRepeat[];
    expect(repeats.map((repeat) => repeat.occurrences)).toEqual(
      Array.from({ length: 60 }, (_, index) => index + 2),
    );
    expect(repeats.map((repeat) => repeat.lastOccurredAt)).toEqual(frames.map((frame) => frame.time));
    expect(repeats.every((repeat) => repeat.id === incident.id)).toBe(true);
    expect(officer.of('incident:new')).toHaveLength(1);

    await gate.stop();
    officer.close();
    await hub.stop();
    hub = await startTestHub({ dataDir: dataDir.path, deployment });
    const restarted = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-xijiao');
    expect(restarted.body).toMatchObject({ occurrences: 61, lastOccurredAt: frames.at(-1)?.time });
  });
});
