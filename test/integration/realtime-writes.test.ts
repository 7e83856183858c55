import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentRepeat } from '../../src/core/events.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoGate,
  eventually,
  type HubClientSocket,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * Pushes that leave in one write (src/realtime/coalesced-writes.ts): a burst of pushes in one turn reaches every
 * client whole and in order, on WebSocket from the start and on a connection that upgraded from long-polling.
 */
describe('realtime: a burst of pushes in one turn', () => {
  let hub: TestHub;
  let websocket: RecordingClient;
  let upgraded: HubClientSocket;
  const upgradedRepeats: IncidentRepeat[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    websocket = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    // The browser's way: long-polling first, then the upgrade to WebSocket.
    upgraded = io(hub.httpUrl, { auth: { token: 'demo-officer-xijiao' }, reconnection: false });
    upgraded.on('incident:repeat', (repeat) => upgradedRepeats.push(repeat));
    await new Promise<void>((resolve, reject) => {
      upgraded.once('connect', () => resolve());
      upgraded.once('connect_error', reject);
    });
    await eventually(() => upgraded.io.engine.transport.name === 'websocket');
  });

  afterAll(async () => {
    websocket?.close();
    upgraded?.close();
    await hub?.stop();
  });

  it('delivers 300 pushes emitted in one turn to each client, all of them, in order', async () => {
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
    await gate.forceDoor();
    const incident = (await websocket.nth('incident:new', 1)) as Incident;
    await gate.stop();

    let before = incident;
    for (let n = 2; n <= 301; n++) {
      const after: Incident = { ...before, occurrences: n, updatedAt: new Date().toISOString() };
      const { id, occurrences, lastOccurredAt, updatedAt } = after;
      hub.hub.bus.emit('incident:updated', { before, after }, { id, occurrences, lastOccurredAt, updatedAt });
      before = after;
    }
    const expected = Array.from({ length: 300 }, (_, index) => index + 2);
    await eventually(() => websocket.of('incident:repeat').length === 300 && upgradedRepeats.length === 300);
    expect((websocket.of('incident:repeat') as IncidentRepeat[]).map((repeat) => repeat.occurrences)).toEqual(
      expected,
    );
    expect(upgradedRepeats.map((repeat) => repeat.occurrences)).toEqual(expected);
    expect(upgradedRepeats.every((repeat) => repeat.id === incident.id)).toBe(true);
  });
});
