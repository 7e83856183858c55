import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  demoConfig,
  deploymentOf,
  getJson,
  metricValue,
  movableClock,
  postJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

interface Issued {
  token: string;
  expiresAt: string;
  sessionExpiresAt: string;
}

/** The demo with a short session (and JWT) lifetime, so a test sees one end. */
function shortSessions(sessionMaxHours: number, jwtTtlMinutes = 15) {
  const config = demoConfig() as unknown as { hub?: Record<string, unknown> };
  config.hub = { ...config.hub, sessionMaxHours, jwtTtlMinutes };
  return deploymentOf(config);
}

const sessionFor = (hub: TestHub, apiToken: string) =>
  postJson<Issued>(`${hub.httpUrl}/api/auth/token`, apiToken).then((answer) => answer.body);

describe('login sessions: JWTs live within a session that ends, on the server', () => {
  const clock = movableClock();
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({ clock: clock.now });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('refreshes a JWT within its session and never past its end', async () => {
    const first = await sessionFor(hub, 'demo-officer-xijiao');
    expect(Date.parse(first.sessionExpiresAt) - clock.now()).toBeGreaterThan(11.9 * 3600_000);
    expect(Date.parse(first.sessionExpiresAt) - clock.now()).toBeLessThanOrEqual(12 * 3600_000);
    // A JWT mints a JWT of the same session: the session's end does not move. A second on, the new JWT differs.
    clock.moveOn(1100);
    const refreshed = await postJson<Issued>(`${hub.httpUrl}/api/auth/token`, first.token);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.sessionExpiresAt).toBe(first.sessionExpiresAt);
    expect(refreshed.body.token).not.toBe(first.token);
    const again = await postJson<Issued>(`${hub.httpUrl}/api/auth/token`, refreshed.body.token);
    expect(again.body.sessionExpiresAt).toBe(first.sessionExpiresAt);
  });

  it('ends the session on logout: its JWTs are refused by REST, refresh and Socket.IO, and its sockets closed', async () => {
    const issued = await sessionFor(hub, 'demo-officer-xijiao');
    const refreshed = (await postJson<Issued>(`${hub.httpUrl}/api/auth/token`, issued.token)).body;
    const live = await connectClient(hub.httpUrl, refreshed.token);
    // Another session of the same user lives on.
    const other = await sessionFor(hub, 'demo-officer-xijiao');
    const otherSocket = await connectClient(hub.httpUrl, other.token);
    const closed = new Promise<string>((resolve) => live.socket.once('disconnect', resolve));
    const out = await postJson(`${hub.httpUrl}/api/auth/logout`, issued.token);
    expect(out).toEqual({ status: 200, body: { ended: true } });
    await closed;
    for (const token of [issued.token, refreshed.token]) {
      expect((await getJson(`${hub.httpUrl}/api/me`, token)).status).toBe(401);
      expect((await postJson(`${hub.httpUrl}/api/auth/token`, token)).status).toBe(401);
      await expect(connectClient(hub.httpUrl, token)).rejects.toThrow(/unauthorized/);
    }
    expect((await getJson(`${hub.httpUrl}/api/me`, other.token)).status).toBe(200);
    expect(otherSocket.socket.connected).toBe(true);
    expect(await metricValue(hub.httpUrl, 'gridhub_sessions_ended_total{reason="logout"}')).toBe(1);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_session_refusals_total{reason="revoked"}'),
    ).toBeGreaterThan(0);
    otherSocket.close();
    live.close();
  });

  it('has no session to end for an API token', async () => {
    const answer = await postJson<{ error: { code: string } }>(
      `${hub.httpUrl}/api/auth/logout`,
      'demo-officer-xijiao',
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('no_session');
  });
});

describe('a session at its absolute end', () => {
  const clock = movableClock();
  let hub: TestHub;

  beforeAll(async () => {
    // 2.5 s sessions; a JWT would last 3 s, but none lasts past its session. The test moves the clock through them.
    hub = await startTestHub({ deployment: shortSessions(2.5 / 3600, 3 / 60), clock: clock.now });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('closes its live sockets and refuses any refresh, however often its JWT was refreshed', async () => {
    const issued = await sessionFor(hub, 'demo-worker-xijiao-01');
    const end = Date.parse(issued.sessionExpiresAt);
    const socket = await connectClient(hub.httpUrl, issued.token);
    const closedAt = new Promise<number>((resolve) =>
      socket.socket.once('disconnect', () => resolve(clock.now())),
    );
    let token = issued.token;
    const refreshes: Issued[] = [];
    // A JWT's expiry is in whole seconds, up to one before its session's end: refreshes stop a second short of it.
    while (clock.now() < end - 1000) {
      const answer = await postJson<Issued>(`${hub.httpUrl}/api/auth/token`, token);
      expect(answer.status).toBe(200);
      refreshes.push(answer.body);
      token = answer.body.token;
      expect(Date.parse(answer.body.expiresAt)).toBeLessThanOrEqual(end);
      clock.moveOn(400);
    }
    expect(refreshes.length).toBeGreaterThan(1);
    expect(socket.socket.connected).toBe(true);
    // The socket outlives none of it: it is closed at the session's end, once the clock reaches it.
    clock.moveOn(end - clock.now());
    expect(await closedAt).toBeGreaterThanOrEqual(end - 50);
    clock.moveOn(150);
    expect((await postJson(`${hub.httpUrl}/api/auth/token`, token)).status).toBe(401);
    expect((await getJson(`${hub.httpUrl}/api/me`, token)).status).toBe(401);
    expect(await metricValue(hub.httpUrl, 'gridhub_realtime_refusals_total{reason="session_ended"}')).toBe(1);
    socket.close();
  });
});

describe('sessions across instances sharing a Redis store', () => {
  const keyPrefix = testKeyPrefix('sessions');
  let east: TestHub;
  let west: TestHub;

  beforeAll(async () => {
    await deleteRedisKeys(keyPrefix);
    const deployment = redisDeployment(keyPrefix, (config) => {
      config.hub = { ...(config.hub as object), jwtSecret: 'a-shared-jwt-secret-of-the-city-hubs-0123' };
    });
    east = await startTestHub({ deployment });
    west = await startTestHub({ deployment });
  });

  afterAll(async () => {
    await east?.stop();
    await west?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('ends a session on every instance: a logout on one closes its sockets on the other and refuses its JWT there', async () => {
    const issued = await sessionFor(east, 'demo-officer-luming');
    expect((await getJson(`${west.httpUrl}/api/me`, issued.token)).status).toBe(200);
    const onWest = await connectClient(west.httpUrl, issued.token);
    const closed = new Promise<void>((resolve) => onWest.socket.once('disconnect', () => resolve()));
    expect((await postJson(`${east.httpUrl}/api/auth/logout`, issued.token)).status).toBe(200);
    await closed;
    expect((await getJson(`${west.httpUrl}/api/me`, issued.token)).status).toBe(401);
    expect((await postJson(`${west.httpUrl}/api/auth/token`, issued.token)).status).toBe(401);
    onWest.close();
  });
});
