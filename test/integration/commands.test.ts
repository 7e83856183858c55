import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { SentrySimulator } from '../../simulators/sentry-box/sentry-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import {
  demoGate,
  demoSentry,
  eventually,
  getJson,
  postJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

interface CommandAnswer {
  requestId?: string;
  ok?: boolean;
  error?: string | { code: string; message: string; problems?: string[] };
}

describe('commands round trip: API → MQTT → device → reply → caller, audited', () => {
  let hub: TestHub;
  let gate: GateSimulator;
  let sentry: SentrySimulator;

  beforeAll(async () => {
    hub = await startTestHub();
    gate = demoGate(hub.mqttUrl, 'gate-xijiao-05-west');
    sentry = demoSentry(hub.mqttUrl, 'sentry-xijiao-01');
    await gate.start();
    await sentry.start();
  });

  afterAll(async () => {
    await gate?.stop();
    await sentry?.stop();
    await hub?.stop();
  });

  const command = (deviceId: string, name: string, token: string, body?: unknown) =>
    postJson<CommandAnswer>(`${hub.httpUrl}/api/devices/${deviceId}/commands/${name}`, token, body);

  it('unlocks a door: the device receives the encoded command and its reply reaches the caller', async () => {
    const answer = await command('gate-xijiao-05-west', 'unlock', 'demo-officer-xijiao', {
      params: { door: 2, seconds: 3 },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ requestId: expect.stringMatching(/^cmd_/), ok: true });
    expect(gate.doorStates().find((door) => door.door === 2)?.locked).toBe(false);
  });

  it("returns the device's own refusal as ok: false with its reason", async () => {
    const answer = await command('gate-xijiao-05-west', 'unlock', 'demo-admin', { params: { door: 9 } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ requestId: expect.any(String), ok: false, error: 'no such door' });
  });

  it('arms, refuses a second arm, silences and disarms a sentry box', async () => {
    const token = 'demo-officer-liushuwan';
    expect((await command('sentry-xijiao-01', 'arm', token)).body.ok).toBe(true);
    expect(sentry.state.armed).toBe(true);
    expect((await command('sentry-xijiao-01', 'arm', token)).body).toMatchObject({
      ok: false,
      error: 'already armed',
    });
    expect((await command('sentry-xijiao-01', 'silence_siren', token)).body.ok).toBe(true);
    expect((await command('sentry-xijiao-01', 'disarm', token)).body.ok).toBe(true);
    expect(sentry.state.armed).toBe(false);
  });

  it('answers 504 when the device does not reply in time, and the caller learns nothing false', async () => {
    gate.muteReplies();
    try {
      const answer = await command('gate-xijiao-05-west', 'unlock', 'demo-admin', {
        params: { door: 1 },
        timeoutMs: 300,
      });
      expect(answer.status).toBe(504);
      expect(answer.body.error).toEqual({
        code: 'device_timeout',
        message: 'device gate-xijiao-05-west did not answer within 300 ms',
      });
    } finally {
      gate.muteReplies(false);
    }
  });

  it('answers 409 for a device that is not connected', async () => {
    const answer = await command('gate-xijiao-05-north', 'unlock', 'demo-admin', { params: { door: 1 } });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: 'device_offline' });
  });

  it('refuses bad parameters and unknown commands with every problem, before anything reaches the device', async () => {
    const bad = await command('gate-xijiao-05-west', 'unlock', 'demo-admin', {
      params: { door: 0, seconds: 61, extra: 1 },
    });
    expect(bad.status).toBe(400);
    expect((bad.body.error as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^params\.door: /),
      expect.stringMatching(/^params\.seconds: /),
      expect.stringMatching(/^params: Unrecognized key: "extra"/),
    ]);
    const unknown = await command('gate-xijiao-05-west', 'self_destruct', 'demo-admin');
    expect(unknown.status).toBe(400);
    expect((unknown.body.error as { message: string }).message).toBe(
      'gate-access devices have no command "self_destruct" (known: unlock)',
    );
    const badBody = await command('gate-xijiao-05-west', 'unlock', 'demo-admin', { params: 'open' });
    expect(badBody.status).toBe(400);
  });

  it("refuses grid workers, and hides devices outside the caller's scope", async () => {
    expect(
      (await command('gate-xijiao-05-west', 'unlock', 'demo-worker-xijiao-05', { params: { door: 1 } }))
        .status,
    ).toBe(403);
    expect(
      (await command('gate-xijiao-05-west', 'unlock', 'demo-officer-tianmushan', { params: { door: 1 } }))
        .status,
    ).toBe(404);
    expect((await command('gate-xijiao-05-west', 'unlock', 'nobody', { params: { door: 1 } })).status).toBe(
      401,
    );
  });

  it('audits every command with who, what, when and the outcome', async () => {
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/audit?target=gate-xijiao-05-west`, 'demo-admin');
      return (body as { entries: AuditEntry[] }).entries.length >= 6;
    });
    const { body } = await getJson(
      `${hub.httpUrl}/api/audit?target=gate-xijiao-05-west&limit=20`,
      'demo-admin',
    );
    const entries = (body as { entries: AuditEntry[] }).entries.reverse();
    expect(entries.map((entry) => [entry.actor.userId, entry.action, entry.outcome])).toEqual([
      ['officer-xijiao', 'command.unlock', 'ok'],
      ['admin', 'command.unlock', 'failed'],
      ['admin', 'command.unlock', 'timeout'],
      ['admin', 'command.unlock', 'refused'],
      ['admin', 'command.self_destruct', 'refused'],
      ['worker-xijiao-05', 'command.unlock', 'refused'],
    ]);
    expect(entries[0]?.detail).toMatchObject({
      params: { door: 2, seconds: 3 },
      requestId: expect.stringMatching(/^cmd_/),
    });
    expect(entries[1]?.message).toBe('no such door');
  });
});
