import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoSecret,
  metricValue,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

const run = promisify(execFile);

describe("a real third-party MQTT client (Debian's mosquitto_pub)", () => {
  let hub: TestHub;
  let worker: RecordingClient;

  beforeAll(async () => {
    hub = await startTestHub();
    worker = await connectClient(hub.httpUrl, 'demo-worker-luming-01');
  });

  afterAll(async () => {
    worker?.close();
    await hub?.stop();
  });

  it('publishes a gate event as the README shows and the grid worker receives the incident', async () => {
    const frame = '{"seq":7,"time":"2026-11-22T09:30:00+08:00","event":"DOOR_FORCED_OPEN","door":1}';
    await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(hub.hub.mqttPort), '-q', '1', '-i', 'gate-luming-01-south'],
      ...['-u', 'gate-luming-01-south', '-P', demoSecret('gate-luming-01-south')],
      ...['-t', 'gridhub/devices/gate-luming-01-south/events', '-m', frame],
    ]);
    const incident = (await worker.nth('incident:new', 1)) as Incident;
    expect(incident.device.id).toBe('gate-luming-01-south');
    expect(incident.event).toEqual({
      type: 'door.forced_open',
      occurredAt: '2026-11-22T01:30:00.000Z',
      attributes: { door: 1 },
    });
  });
});

describe('mosquitto_pub with the wrong secret', () => {
  it('is refused with "not authorised" and the hub counts it', async () => {
    const hub = await startTestHub();
    try {
      const attempt = run('mosquitto_pub', [
        ...['-h', '127.0.0.1', '-p', String(hub.hub.mqttPort), '-q', '1', '-i', 'gate-luming-01-south'],
        ...[
          '-u',
          'gate-luming-01-south',
          '-P',
          'not-the-secret',
          '-t',
          'gridhub/devices/gate-luming-01-south/events',
        ],
        ...['-m', '{}'],
      ]);
      await expect(attempt).rejects.toMatchObject({
        stderr: expect.stringMatching(/not authori[sz]ed|bad user name or password/i),
      });
      expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="bad_credentials"}')).toBe(1);
    } finally {
      await hub.stop();
    }
  });
});
