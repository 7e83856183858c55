import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSecret, eventually, startTestHub, type TestHub } from '../helpers/hub.ts';

const gateId = 'gate-luming-04-south';

describe('a rule without a dedupe window, on one hub', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('makes an incident of every event, though the device clock runs ahead of the hub’s', async () => {
    const device = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: gateId,
      username: gateId,
      password: demoSecret(gateId),
      reconnectPeriod: 0,
    });
    try {
      // A minute ahead: "now minus the last occurrence" is negative, which must not read as inside a 0 s window.
      const inAMinute = new Date(Date.now() + 60_000).toISOString();
      for (const seq of [1, 2, 3]) {
        await device.publishAsync(
          `gridhub/devices/${gateId}/events`,
          JSON.stringify({ seq, time: inAMinute, event: 'DOOR_FORCED_OPEN', door: 1 }),
          { qos: 1 },
        );
      }
    } finally {
      await device.endAsync();
    }
    const forced = () =>
      hub.testHandle.store.listIncidents({
        limit: 10,
        filter: (incident) => incident.device.id === gateId && incident.event.type === 'door.forced_open',
      });
    await eventually(async () => (await forced()).length >= 3);
    expect((await forced()).map((incident) => incident.occurrences)).toEqual([1, 1, 1]);
  });
});
