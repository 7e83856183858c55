import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPosition, WorkerPositionStopped } from '../../src/core/position.ts';
import {
  connectClient,
  getJson,
  type MovableClock,
  metricValue,
  movableClock,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type ErrorBody = { error: { code: string; message: string; problems?: string[] } };

/** Today's ISO weekday in the hub's time zone (the demo's Asia/Shanghai), so a roster can leave today out. */
function todayInShanghai(now: number): number {
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', weekday: 'short' }).format(now);
  return ({ Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 } as Record<string, number>)[day] ?? 1;
}

/** Inside grid-xijiao-01 (WGS-84 as the demo's grids). */
const xijiao01 = { lon: 116.304, lat: 39.932 };
/** Inside grid-luming-01, in another street. */
const luming01 = { lon: 116.333, lat: 39.917 };
const refusals = (reason: string) => `gridhub_position_refusals_total{reason="${reason}"}`;

describe("grid workers' positions while on duty", () => {
  let hub: TestHub;
  let clock: MovableClock;
  /** An officer over grid-xijiao-01 (its community), and one of another street. */
  let inScope: RecordingClient;
  let outOfScope: RecordingClient;

  beforeAll(async () => {
    clock = movableClock();
    hub = await startTestHub({ clock: clock.now });
    inScope = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    outOfScope = await connectClient(hub.httpUrl, 'demo-officer-tianmushan');
  });

  afterAll(async () => {
    inScope?.close();
    outOfScope?.close();
    await hub?.stop();
  });

  const url = (path: string) => `${hub.httpUrl}${path}`;
  const at = (offsetMs = 0) => new Date(clock.now() + offsetMs).toISOString();
  const share = async (token: string, enabled: boolean) => {
    const response = await fetch(url('/api/me/position-sharing'), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const send = (token: string, body: unknown) =>
    postJson<WorkerPosition & ErrorBody>(url('/api/me/position'), token, body);
  /** Past the interval, so the next position of the same worker is not refused as too frequent. */
  const waitInterval = () => clock.moveOn(30_000);

  it('refuses the position of a worker who has not opted in, and counts it', async () => {
    const before = await metricValue(hub.httpUrl, refusals('not_shared'));
    expect((await getJson(url('/api/me/position-sharing'), 'demo-worker-xijiao-01')).body).toEqual({
      enabled: false,
      minIntervalSeconds: 30,
      onDuty: true,
    });
    const refused = await send('demo-worker-xijiao-01', { ...xijiao01, accuracyM: 12, at: at() });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('position_sharing_off');
    expect(await metricValue(hub.httpUrl, refusals('not_shared'))).toBe(before + 1);
  });

  it('keeps the position of an opted-in worker on duty and pushes it to the officers over the grid only', async () => {
    expect(await share('demo-worker-xijiao-01', true)).toMatchObject({
      status: 200,
      body: { enabled: true },
    });
    const consent = await hub.testHandle.store.listAudit({ limit: 10, targetId: 'worker-xijiao-01' });
    expect(consent.map((entry) => [entry.action, entry.detail])).toContainEqual([
      'position.sharing',
      { enabled: true },
    ]);
    const sent = await send('demo-worker-xijiao-01', { ...xijiao01, accuracyM: 12, at: at(-2000) });
    expect(sent.status).toBe(201);
    const expected = {
      userId: 'worker-xijiao-01',
      name: '赵磊 Zhao Lei',
      gridIds: ['grid-xijiao-01'],
      ...xijiao01,
      accuracyM: 12,
    };
    expect(sent.body).toMatchObject(expected);
    expect(await inScope.nth('worker:position', 1)).toEqual(sent.body);
    // A position of the other street reaches its officer: by then the first would have reached them too.
    expect(await share('demo-worker-luming-01', true)).toMatchObject({ status: 200 });
    expect((await send('demo-worker-luming-01', { ...luming01, accuracyM: 20, at: at() })).status).toBe(201);
    const theirs = (await outOfScope.nth('worker:position', 1)) as WorkerPosition;
    expect(theirs.userId).toBe('worker-luming-01');
    expect(outOfScope.of('worker:position')).toHaveLength(1);
    expect(inScope.of('worker:position').map((position) => (position as WorkerPosition).userId)).toEqual([
      'worker-xijiao-01',
    ]);
    // Never in the logs: neither the coordinates nor the body.
    expect(hub.logs.text).not.toContain('116.304');
    expect(hub.logs.text).not.toContain('39.932');
  });

  it('refuses a position sooner than the interval with 429 and retry-after, and counts it', async () => {
    const before = await metricValue(hub.httpUrl, refusals('too_frequent'));
    const response = await fetch(url('/api/me/position'), {
      method: 'POST',
      headers: { authorization: 'Bearer demo-worker-xijiao-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...xijiao01, accuracyM: 12, at: at() }),
    });
    expect(response.status).toBe(429);
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(25);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(((await response.json()) as ErrorBody).error.code).toBe('position_too_frequent');
    expect(await metricValue(hub.httpUrl, refusals('too_frequent'))).toBe(before + 1);
    clock.moveOn(retryAfter * 1000);
    expect((await send('demo-worker-xijiao-01', { ...xijiao01, accuracyM: 12, at: at() })).status).toBe(201);
  });

  it('refuses bad input with a clear 4xx, each counted by reason', async () => {
    waitInterval();
    const token = 'demo-worker-xijiao-01';
    const cases: [unknown, number, string, string][] = [
      [{ lon: 200, lat: 39.9, accuracyM: 10, at: at() }, 400, 'invalid_request', 'invalid'],
      [{ ...xijiao01, accuracyM: 10, at: 'yesterday' }, 400, 'invalid_request', 'invalid'],
      [{ ...xijiao01, accuracyM: 10, at: at(), extra: 1 }, 400, 'invalid_request', 'invalid'],
      [{ ...xijiao01, accuracyM: 10, at: at(10 * 60_000) }, 422, 'position_time_out_of_range', 'bad_time'],
      [{ ...xijiao01, accuracyM: 10, at: at(-11 * 60_000) }, 422, 'position_time_out_of_range', 'bad_time'],
      [{ ...xijiao01, accuracyM: 900, at: at() }, 422, 'position_inaccurate', 'inaccurate'],
      [{ lon: 121.47, lat: 31.23, accuracyM: 10, at: at() }, 422, 'position_out_of_bounds', 'out_of_bounds'],
    ];
    for (const [body, status, code, reason] of cases) {
      const before = await metricValue(hub.httpUrl, refusals(reason));
      const answer = await send(token, body);
      expect([answer.status, answer.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
      expect(answer.body.error.message.length).toBeGreaterThan(0);
      expect(await metricValue(hub.httpUrl, refusals(reason))).toBe(before + 1);
    }
    const tooLarge = await metricValue(hub.httpUrl, refusals('too_large'));
    const oversized = await send(token, { ...xijiao01, accuracyM: 10, at: at(), padding: 'x'.repeat(4096) });
    expect(oversized.status).toBe(413);
    expect(await metricValue(hub.httpUrl, refusals('too_large'))).toBe(tooLarge + 1);
    // None of them was kept: the next position is not too frequent.
    expect((await send(token, { ...xijiao01, accuracyM: 10, at: at() })).status).toBe(201);
  });

  it('refuses positions of people who do not walk the grids, and the opt-in of officers', async () => {
    const officer = await send('demo-officer-xijiao', { ...xijiao01, accuracyM: 10, at: at() });
    expect([officer.status, officer.body.error.code]).toEqual([403, 'forbidden']);
    expect((await share('demo-officer-xijiao', true)).status).toBe(403);
  });

  it('refuses the position of a worker off shift by the roster changed through the API', async () => {
    const worker = 'demo-worker-xijiao-04';
    expect((await share(worker, true)).status).toBe(200);
    // The demo's roster has them on 08:00 to 20:00 every day; this one only on another day of the week.
    const otherDay = (todayInShanghai(clock.now()) % 7) + 1;
    const roster = await fetch(url('/api/rosters/grid-xijiao-04'), {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: JSON.stringify({
        shifts: [{ users: ['worker-xijiao-04'], days: [otherDay], from: '00:00', to: '00:00' }],
      }),
    });
    expect(roster.status).toBe(200);
    const before = await metricValue(hub.httpUrl, refusals('off_shift'));
    const refused = await send(worker, { lon: 116.304, lat: 39.928, accuracyM: 10, at: at() });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'off_shift']);
    expect(await metricValue(hub.httpUrl, refusals('off_shift'))).toBe(before + 1);
    expect((await getJson(url('/api/me/position-sharing'), worker)).body).toMatchObject({ onDuty: false });
    // On shift all day today: kept.
    await fetch(url('/api/rosters/grid-xijiao-04'), {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: JSON.stringify({ shifts: [{ users: ['worker-xijiao-04'], from: '00:00', to: '00:00' }] }),
    });
    expect((await send(worker, { lon: 116.304, lat: 39.928, accuracyM: 10, at: at() })).status).toBe(201);
  });

  it('lists the current positions of the reader’s scope only', async () => {
    const xijiao = (await getJson(url('/api/positions'), 'demo-officer-xijiao')).body as {
      positions: WorkerPosition[];
      staleMinutes: number;
    };
    expect(xijiao.staleMinutes).toBe(15);
    expect(xijiao.positions.map((position) => position.userId).sort()).toEqual([
      'worker-xijiao-01',
      'worker-xijiao-04',
    ]);
    const tianmushan = (await getJson(url('/api/positions'), 'demo-officer-tianmushan')).body as {
      positions: WorkerPosition[];
    };
    expect(tianmushan.positions.map((position) => position.userId)).toEqual(['worker-luming-01']);
    // The district sees both streets.
    const district = (await getJson(url('/api/positions'), 'demo-officer-qinghe')).body as {
      positions: WorkerPosition[];
    };
    expect(district.positions).toHaveLength(3);
    expect((await getJson(url('/api/positions'), 'demo-worker-xijiao-02')).status).toBe(403);
  });

  it("reads a worker's track within scope: their own, their officers', nobody else's", async () => {
    const track = (token: string, userId = 'worker-xijiao-01') =>
      getJson(url(`/api/positions/${userId}/track`), token);
    const own = (await track('demo-worker-xijiao-01')).body as {
      points: WorkerPosition[];
      truncated: boolean;
    };
    expect(own.points.length).toBe(3);
    expect(own.truncated).toBe(false);
    const times = own.points.map((point) => Date.parse(point.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(((await track('demo-officer-xijiao')).body as { points: unknown[] }).points).toHaveLength(3);
    // An officer of another street sees nothing of it; another worker may not read it at all.
    expect((await track('demo-officer-tianmushan')).body).toEqual({
      userId: 'worker-xijiao-01',
      points: [],
      truncated: false,
    });
    const other = await track('demo-worker-xijiao-02');
    expect([other.status, (other.body as ErrorBody).error.code]).toEqual([403, 'forbidden']);
    const limited = (
      await getJson(url('/api/positions/worker-xijiao-01/track?limit=2'), 'demo-worker-xijiao-01')
    ).body as { points: WorkerPosition[]; truncated: boolean };
    expect(limited.points.map((point) => point.at)).toEqual(own.points.slice(-2).map((point) => point.at));
    expect(limited.truncated).toBe(true);
    const tooLong = await getJson(
      url(`/api/positions/worker-xijiao-01/track?from=${at(-30 * 3600_000)}&to=${at()}`),
      'demo-worker-xijiao-01',
    );
    expect(tooLong.status).toBe(400);
  });

  it("takes a worker off the officers' maps when they stop sharing", async () => {
    const stoppedBefore = inScope.of('worker:position-stopped').length;
    expect(await share('demo-worker-xijiao-04', false)).toMatchObject({
      status: 200,
      body: { enabled: false },
    });
    const stopped = (await inScope.nth(
      'worker:position-stopped',
      stoppedBefore + 1,
    )) as WorkerPositionStopped;
    expect(stopped).toEqual({
      userId: 'worker-xijiao-04',
      gridIds: ['grid-xijiao-04'],
      reason: 'sharing_off',
    });
    const listed = (await getJson(url('/api/positions'), 'demo-officer-xijiao')).body as {
      positions: WorkerPosition[];
    };
    expect(listed.positions.map((position) => position.userId)).toEqual(['worker-xijiao-01']);
    const refused = await send('demo-worker-xijiao-04', {
      lon: 116.304,
      lat: 39.928,
      accuracyM: 10,
      at: at(),
    });
    expect(refused.body.error.code).toBe('position_sharing_off');
  });

  it("takes a worker off the officers' maps when their shift ends", async () => {
    const worker = 'demo-worker-xijiao-04';
    const place = { lon: 116.304, lat: 39.928, accuracyM: 10 };
    expect((await share(worker, true)).status).toBe(200);
    waitInterval();
    expect((await send(worker, { ...place, at: at() })).status).toBe(201);
    const otherDay = (todayInShanghai(clock.now()) % 7) + 1;
    await fetch(url('/api/rosters/grid-xijiao-04'), {
      method: 'PUT',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: JSON.stringify({
        shifts: [{ users: ['worker-xijiao-04'], days: [otherDay], from: '00:00', to: '00:00' }],
      }),
    });
    const stoppedBefore = inScope.of('worker:position-stopped').length;
    waitInterval();
    expect((await send(worker, { ...place, at: at() })).body.error.code).toBe('off_shift');
    expect(await inScope.nth('worker:position-stopped', stoppedBefore + 1)).toEqual({
      userId: 'worker-xijiao-04',
      gridIds: ['grid-xijiao-04'],
      reason: 'off_shift',
    });
    const listed = (await getJson(url('/api/positions'), 'demo-officer-xijiao')).body as {
      positions: WorkerPosition[];
    };
    expect(listed.positions.map((position) => position.userId)).toEqual(['worker-xijiao-01']);
  });

  it('shows no position past staleMinutes as current, and none past retention at all', async () => {
    const from = at(-3600_000);
    const to = at(60_000);
    clock.moveOn(16 * 60_000);
    const stale = (await getJson(url('/api/positions'), 'demo-officer-qinghe')).body as {
      positions: unknown[];
    };
    expect(stale.positions).toEqual([]);
    // Still in the track until the retention (72 h) has passed.
    const trackUrl = url(`/api/positions/worker-xijiao-01/track?from=${from}&to=${to}`);
    expect(
      ((await getJson(trackUrl, 'demo-officer-xijiao')).body as { points: unknown[] }).points,
    ).toHaveLength(3);
    clock.moveOn(72 * 3600_000);
    expect((await getJson(trackUrl, 'demo-officer-xijiao')).body).toMatchObject({ points: [] });
    expect((await getJson(trackUrl, 'demo-worker-xijiao-01')).body).toMatchObject({ points: [] });
  });
});
