import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPosition } from '../../src/core/position.ts';
import {
  connectClient,
  getJson,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

/**
 * Two instances sharing Redis: a worker's position sent to one reaches the officers connected to the other (and only
 * those over the worker's grid), is listed by either, and counts against the interval on both.
 */
describe("a worker's position among instances sharing Redis", () => {
  const keyPrefix = testKeyPrefix('shared-positions');
  const deployment = redisDeployment(keyPrefix);
  let east: TestHub;
  let west: TestHub;
  let officer: RecordingClient;
  let otherStreet: RecordingClient;

  beforeAll(async () => {
    east = await startTestHub({ deployment });
    west = await startTestHub({ deployment });
    officer = await connectClient(west.httpUrl, 'demo-officer-xijiao');
    otherStreet = await connectClient(west.httpUrl, 'demo-officer-tianmushan');
  });

  afterAll(async () => {
    officer?.close();
    otherStreet?.close();
    await east?.stop();
    await west?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('pushes from one instance to the in-scope officers of the other, lists it on both, and rate-limits across them', async () => {
    const sharing = await fetch(`${east.httpUrl}/api/me/position-sharing`, {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-worker-xijiao-02', 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true }),
    });
    expect(sharing.status).toBe(200);
    const body = { lon: 116.309, lat: 39.932, accuracyM: 25, at: new Date().toISOString() };
    const sent = await postJson<WorkerPosition>(
      `${east.httpUrl}/api/me/position`,
      'demo-worker-xijiao-02',
      body,
    );
    expect(sent.status).toBe(201);
    expect(await officer.nth('worker:position', 1)).toEqual(sent.body);
    const listed = (await getJson(`${west.httpUrl}/api/positions`, 'demo-officer-xijiao')).body as {
      positions: WorkerPosition[];
    };
    expect(listed.positions).toEqual([sent.body]);
    // The other instance knows the last one from the shared store: too soon there too.
    const again = await fetch(`${west.httpUrl}/api/me/position`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo-worker-xijiao-02', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(otherStreet.of('worker:position')).toEqual([]);
  });
});
