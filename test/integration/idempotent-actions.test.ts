import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoGate,
  getJson,
  metricValue,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type Answer = { status: number; replayed: string | null; body: Incident & { error?: { code: string } } };

describe('lifecycle actions with an Idempotency-Key act once, whatever the phone replays', () => {
  let hub: TestHub;
  let worker: RecordingClient;
  let gate: GateSimulator;
  let incident: Incident;

  const act = async (
    token: string,
    name: string,
    key: string | undefined,
    body: Record<string, unknown> = {},
  ): Promise<Answer> => {
    const response = await fetch(`${hub.httpUrl}/api/incidents/${incident.id}/actions/${name}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      replayed: response.headers.get('idempotent-replayed'),
      body: (await response.json()) as Answer['body'],
    };
  };
  const audit = async (action: string): Promise<AuditEntry[]> => {
    const { body } = await getJson(
      `${hub.httpUrl}/api/incidents/${incident.id}/audit`,
      'demo-officer-xijiao',
    );
    return (body as { entries: AuditEntry[] }).entries.filter((entry) => entry.action === action);
  };

  beforeAll(async () => {
    hub = await startTestHub();
    worker = await connectClient(hub.httpUrl, 'demo-worker-xijiao-01');
    gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
    await gate.forceDoor();
    incident = (await worker.nth('incident:new', 1)) as Incident;
    expect(incident.state).toBe('dispatched');
  });

  afterAll(async () => {
    worker?.close();
    await gate?.stop();
    await hub?.stop();
  });

  it('answers the same key twice with the first answer, acting and auditing once', async () => {
    const key = randomUUID();
    const takenAt = new Date(Date.now() - 5 * 60_000).toISOString();
    const first = await act('demo-worker-xijiao-01', 'accept', key, { takenAt });
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    expect(first.body.state).toBe('accepted');
    const again = await act('demo-worker-xijiao-01', 'accept', key, { takenAt });
    expect(again.status).toBe(200);
    expect(again.replayed).toBe('true');
    expect(again.body).toEqual(first.body);
    const accepts = await audit('incident.accept');
    expect(accepts).toHaveLength(1);
    // When the worker took it offline is in the audit entry; the lifecycle's stamp is the hub's own time.
    expect(accepts[0]?.detail).toMatchObject({ takenAt, from: 'dispatched', to: 'accepted' });
    expect(Date.parse(first.body.timeline.acceptedAt ?? '')).toBeGreaterThan(Date.parse(takenAt));
    expect(await metricValue(hub.httpUrl, 'gridhub_idempotent_actions_total{outcome="replayed"}')).toBe(1);
  });

  it('answers a refusal again as it was, without a second refused entry', async () => {
    const key = randomUUID();
    const first = await act('demo-worker-xijiao-01', 'accept', key);
    expect(first.status).toBe(409);
    expect(first.body.error?.code).toBe('illegal_transition');
    const refusedBefore = (await audit('incident.accept')).filter((entry) => entry.outcome === 'refused');
    const again = await act('demo-worker-xijiao-01', 'accept', key);
    expect(again).toMatchObject({ status: 409, replayed: null, body: first.body });
    const refusedAfter = (await audit('incident.accept')).filter((entry) => entry.outcome === 'refused');
    expect(refusedAfter).toHaveLength(refusedBefore.length);
  });

  it("refuses a key reused for another action, and keeps users' keys apart", async () => {
    const key = randomUUID();
    const noted = await act('demo-worker-xijiao-01', 'note', key, { note: 'on my way' });
    expect(noted.status).toBe(200);
    const reused = await act('demo-worker-xijiao-01', 'arrive', key);
    expect(reused.status).toBe(422);
    expect(reused.body.error?.code).toBe('idempotency_key_reused');
    expect(
      (await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-xijiao')).body,
    ).toMatchObject({
      state: 'accepted',
    });
    // The officer's request with the same key is theirs: it acts.
    const officers = await act('demo-officer-xijiao', 'note', key, { note: 'seen, thanks' });
    expect(officers.status).toBe(200);
    expect(officers.replayed).toBeNull();
    expect((await audit('incident.note')).map((entry) => entry.message)).toEqual([
      'on my way',
      'seen, thanks',
    ]);
    expect(await metricValue(hub.httpUrl, 'gridhub_idempotent_actions_total{outcome="key_reused"}')).toBe(1);
  });

  it('refuses a malformed key and a takenAt out of bounds, acting on neither', async () => {
    const malformed = await act('demo-worker-xijiao-01', 'arrive', 'not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error?.code).toBe('invalid_request');
    const future = await act('demo-worker-xijiao-01', 'arrive', randomUUID(), {
      takenAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(future.status).toBe(400);
    const stale = await act('demo-worker-xijiao-01', 'arrive', randomUUID(), {
      takenAt: new Date(Date.now() - 13 * 3600_000).toISOString(),
    });
    expect(stale.status).toBe(400);
    expect((stale.body as unknown as { error: { problems: string[] } }).error.problems).toEqual([
      'body.takenAt: is more than 12 hours ago',
    ]);
    expect(await audit('incident.arrive')).toEqual([]);
  });
});
