import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, startTestHub, type TestHub } from '../helpers/hub.ts';

/**
 * Liveness and readiness, as a process supervisor and a load balancer read them: `/livez` answers while the
 * process does; `/readyz` only while every component is up. `/healthz` keeps its full report.
 */
describe('the liveness and readiness endpoints', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('answers /livez and /readyz without a token while every component is up', async () => {
    expect(await getJson(`${hub.httpUrl}/livez`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await getJson(`${hub.httpUrl}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('answers /readyz with 503 and the component that is down once the store stops, /livez still 200', async () => {
    await hub.testHandle.store.stop();
    expect(await getJson(`${hub.httpUrl}/readyz`)).toEqual({
      status: 503,
      body: { status: 'not_ready', waiting: [{ component: 'store', state: 'down' }] },
    });
    expect(await getJson(`${hub.httpUrl}/livez`)).toEqual({ status: 200, body: { status: 'ok' } });
    // The full report is unchanged: degraded, with every component.
    const health = await getJson(`${hub.httpUrl}/healthz`);
    expect(health.status).toBe(503);
    expect((health.body as { status: string }).status).toBe('degraded');
  });
});
