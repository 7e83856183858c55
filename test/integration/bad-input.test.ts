import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

describe('bad device input is refused, counted, kept as a dead letter and never harms the hub', () => {
  let hub: TestHub;
  let gate: GateSimulator;
  let officer: RecordingClient;

  beforeAll(async () => {
    // Two integrators of one street each: the street of the gate's community, and another.
    const config = demoConfig();
    const integrator = (street: string) => ({
      id: `integrator-${street}`,
      name: `Integrator of ${street}`,
      role: 'integrator' as const,
      scope: street,
      token: `test-integrator-${street}`,
    });
    config.users = [...(config.users ?? []), integrator('street-liushuwan'), integrator('street-tianmushan')];
    hub = await startTestHub({ deployment: deploymentOf(config) });
    gate = demoGate(hub.mqttUrl, 'gate-zhenxing-01-east');
    await gate.start();
    officer = await connectClient(hub.httpUrl, 'demo-officer-qinghe');
  });

  afterAll(async () => {
    officer?.close();
    await gate?.stop();
    await hub?.stop();
  });

  async function newestDeadLetter(): Promise<DeadLetter> {
    const { status, body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=1`, 'demo-admin');
    expect(status).toBe(200);
    return (body as { deadLetters: DeadLetter[] }).deadLetters[0] as DeadLetter;
  }

  async function refusedCount(reason: string): Promise<number> {
    return metricValue(hub.httpUrl, `gridhub_messages_refused_total{reason="${reason}"}`);
  }

  it('refuses a payload that is not JSON, without echoing it anywhere', async () => {
    await gate.sendRaw('{"event":"DOOR_FORCED_OPEN", card 88776655');
    const deadLetter = await newestDeadLetter();
    expect(deadLetter).toEqual({
      id: expect.stringMatching(/^dl_/),
      receivedAt: expect.any(String),
      topic: 'gridhub/devices/gate-zhenxing-01-east/events',
      deviceId: 'gate-zhenxing-01-east',
      reason: 'not_json',
      problems: [expect.stringMatching(/^not valid JSON/)],
      payloadBytes: 42,
      payloadShape: null,
    });
    expect(await refusedCount('not_json')).toBe(1);
    expect(hub.logs.text).toContain('"reason":"not_json"');
    expect(hub.logs.text).not.toContain('88776655');
  });

  it('refuses a payload that fails the schema, keeping its shape and the failing paths but no values', async () => {
    await gate.sendRaw(
      JSON.stringify({
        seq: 1,
        time: 'yesterday',
        event: 'ACCESS_DENIED',
        door: 1,
        direction: 'in',
        credential: { type: 'card', number: '55443322' },
        reason: 'UNKNOWN_CREDENTIAL',
      }),
    );
    const deadLetter = await newestDeadLetter();
    expect(deadLetter.reason).toBe('schema');
    expect(deadLetter.problems).toEqual([expect.stringMatching(/^time: /)]);
    expect(deadLetter.payloadShape).toEqual({
      seq: 'number',
      time: 'string',
      event: 'string',
      door: 'number',
      direction: 'string',
      credential: { type: 'string', number: 'string' },
      reason: 'string',
    });
    expect(JSON.stringify(deadLetter)).not.toContain('55443322');
    expect(hub.logs.text).not.toContain('55443322');
    expect(await refusedCount('schema')).toBe(1);
  });

  it('refuses an oversized payload without parsing it', async () => {
    const huge = JSON.stringify({ event: 'DOOR_FORCED_OPEN', padding: 'x'.repeat(20_000) });
    await gate.sendRaw(huge);
    const deadLetter = await newestDeadLetter();
    expect(deadLetter.reason).toBe('oversized');
    expect(deadLetter.payloadBytes).toBe(huge.length);
    expect(deadLetter.problems).toEqual([`${huge.length} bytes, the limit is 16384`]);
    expect(await refusedCount('oversized')).toBe(1);
  });

  it('refuses a device that is not provisioned at CONNECT, counts it and logs it', async () => {
    const stranger = connect(hub.mqttUrl, {
      clientId: 'ghost-1',
      username: 'ghost-1',
      password: 'a-guess-at-a-secret',
      reconnectPeriod: 0,
    });
    const error = await new Promise<Error>((resolve) => stranger.once('error', resolve));
    stranger.end(true);
    expect(error.message).toMatch(/Bad username or password/);
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="unknown_device"}')).toBe(1);
    expect(hub.logs.text).toContain('"clientId":"ghost-1","reason":"unknown_device"');
    expect(hub.logs.text).not.toContain('a-guess-at-a-secret');
  });

  it('closes the connection of a device publishing outside its channels, and counts it', async () => {
    const rogue = demoGate(hub.mqttUrl, 'gate-zhenxing-01-south', { reconnectMs: 60_000 });
    await rogue.start();
    // The broker closes the connection instead of acknowledging, so this publish is never acknowledged.
    void rogue.sendRaw('{}', 'firmware').catch(() => undefined);
    await eventually(() => !rogue.connected);
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="publish_denied"}')).toBe(1);
    expect(hub.logs.text).toContain(
      '"reason":"publish_denied","topic":"gridhub/devices/gate-zhenxing-01-south/firmware"',
    );
    await rogue.stop();
  });

  it('keeps running: the same device’s next valid event still becomes an incident, and health is ok', async () => {
    expect(gate.connected).toBe(true);
    await gate.forceDoor(1);
    const incident = (await officer.nth('incident:new', 1)) as Incident;
    expect(incident.device.id).toBe('gate-zhenxing-01-east');
    expect(officer.of('incident:new')).toHaveLength(1);
    const health = await getJson(`${hub.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect((health.body as { status: string }).status).toBe('ok');
    expect(await metricValue(hub.httpUrl, 'gridhub_messages_received_total')).toBeGreaterThanOrEqual(4);
    expect(await metricValue(hub.httpUrl, 'gridhub_events_decoded_total')).toBe(1);
  });

  it('lists dead letters newest first, paginated, to operators only', async () => {
    const page1 = await getJson(`${hub.httpUrl}/api/dead-letters?limit=2`, 'demo-admin');
    const { deadLetters, next } = page1.body as { deadLetters: DeadLetter[]; next: string };
    expect(deadLetters.map((letter) => letter.reason)).toEqual(['oversized', 'schema']);
    const page2 = await getJson(`${hub.httpUrl}/api/dead-letters?limit=10&before=${next}`, 'demo-admin');
    expect((page2.body as { deadLetters: DeadLetter[] }).deadLetters.map((letter) => letter.reason)).toEqual([
      'not_json',
    ]);
    expect((await getJson(`${hub.httpUrl}/api/dead-letters`, 'demo-worker-zhenxing-01')).status).toBe(403);
    // An integrator sees the refusals of the devices in their own area only.
    const reasonsFor = async (token: string) => {
      const { status, body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=2`, token);
      expect(status).toBe(200);
      return (body as { deadLetters: DeadLetter[] }).deadLetters.map((letter) => letter.reason);
    };
    expect(await reasonsFor('test-integrator-street-liushuwan')).toEqual(['oversized', 'schema']);
    expect(await reasonsFor('test-integrator-street-tianmushan')).toEqual([]);
    const invalid = await getJson(`${hub.httpUrl}/api/dead-letters?limit=0`, 'demo-admin');
    expect(invalid.status).toBe(400);
    expect(invalid.body).toEqual({
      error: {
        code: 'invalid_request',
        message: 'invalid query',
        problems: [expect.stringMatching(/^query\.limit: /)],
      },
    });
  });
});
