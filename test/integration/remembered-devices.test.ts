import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RememberedDeviceRecord,
  rememberedDevicesCollection,
} from '../../src/auth/remembered-devices.ts';
import { eventually, getJson, metricValue, startTestHub, type TestHub } from '../helpers/hub.ts';

interface Credential {
  deviceId: string;
  secret: string;
}
interface DeviceLogin {
  token: string;
  expiresAt: string;
  sessionExpiresAt: string;
  me: { userId: string; role: string };
  device: Credential;
}

const demoPassword = (userId: string) => `demo-password-${userId}`;
const phone = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36';

async function send(hub: TestHub, method: string, path: string, token: string | undefined, body?: unknown) {
  const response = await fetch(`${hub.httpUrl}${path}`, {
    method,
    headers: {
      'user-agent': phone,
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function login(hub: TestHub, userId: string): Promise<string> {
  const answer = await send(hub, 'POST', '/api/auth/login', undefined, {
    username: userId,
    password: demoPassword(userId),
  });
  expect(answer.status).toBe(200);
  return answer.body.token as string;
}

/** A password login that remembers its phone: the session's JWT and the phone's credential. */
async function remembered(hub: TestHub, userId: string): Promise<{ token: string; credential: Credential }> {
  const token = await login(hub, userId);
  const answer = await send(hub, 'POST', '/api/auth/devices', token, {});
  expect(answer.status).toBe(200);
  return { token, credential: answer.body as unknown as Credential };
}

const deviceLogin = (hub: TestHub, credential: Credential) =>
  send(hub, 'POST', '/api/auth/device-login', undefined, credential) as unknown as Promise<{
    status: number;
    body: DeviceLogin & { error?: { code: string } };
  }>;

describe('remembered phones: a worker stays logged in until the phone is revoked', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('remembers a phone by the SHA-256 of its secret only, and logs in with it, rotating the secret', async () => {
    const { credential } = await remembered(hub, 'worker-xijiao-01');
    expect(credential.deviceId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const kept = await hub.testHandle.store.getRecord<RememberedDeviceRecord>(
      rememberedDevicesCollection,
      credential.deviceId,
    );
    expect(kept).toMatchObject({ userId: 'worker-xijiao-01', label: 'Chrome/131.0 · Android 14' });
    expect(kept?.secretDigest).toBe(createHash('sha256').update(credential.secret).digest('base64url'));
    expect(JSON.stringify(kept)).not.toContain(credential.secret);

    const first = await deviceLogin(hub, credential);
    expect(first.status).toBe(200);
    expect(first.body.me).toMatchObject({ userId: 'worker-xijiao-01', role: 'grid_worker' });
    expect(first.body.device.deviceId).toBe(credential.deviceId);
    expect(first.body.device.secret).not.toBe(credential.secret);
    // The new session works.
    expect((await getJson(`${hub.httpUrl}/api/me`, first.body.token)).status).toBe(200);
    // And the next secret logs in again.
    const second = await deviceLogin(hub, first.body.device);
    expect(second.status).toBe(200);

    const mine = await send(hub, 'GET', '/api/me/devices', second.body.token);
    expect(mine.body.devices).toEqual([
      expect.objectContaining({ deviceId: credential.deviceId, userId: 'worker-xijiao-01' }),
    ]);
  });

  it('revokes the phone when a rotated secret comes back (a copy), ending the sessions it opened', async () => {
    const { token: passwordSession, credential } = await remembered(hub, 'worker-xijiao-02');
    const rotated = await deviceLogin(hub, credential);
    expect(rotated.status).toBe(200);
    const reused = await deviceLogin(hub, credential);
    expect(reused.status).toBe(401);
    expect(reused.body.error?.code).toBe('bad_credentials');
    // The rightful holder's newest secret is refused too: the phone is gone, both holders must log in again.
    expect((await deviceLogin(hub, rotated.body.device)).status).toBe(401);
    expect((await getJson(`${hub.httpUrl}/api/me`, rotated.body.token)).status).toBe(401);
    expect((await getJson(`${hub.httpUrl}/api/me`, passwordSession)).status).toBe(401);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_remembered_devices_revoked_total{reason="reused_secret"}'),
    ).toBe(1);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_sessions_ended_total{reason="device_revoked"}'),
    ).toBeGreaterThanOrEqual(2);
  });

  it('lets the owner revoke a phone, which logs it out; others cannot revoke it', async () => {
    const { token, credential } = await remembered(hub, 'worker-xijiao-03');
    const other = await login(hub, 'worker-xijiao-04');
    expect((await send(hub, 'DELETE', `/api/me/devices/${credential.deviceId}`, other)).status).toBe(404);
    const revoked = await send(hub, 'DELETE', `/api/me/devices/${credential.deviceId}`, token);
    expect(revoked).toEqual({ status: 200, body: { revoked: true } });
    expect((await getJson(`${hub.httpUrl}/api/me`, token)).status).toBe(401);
    expect((await deviceLogin(hub, credential)).status).toBe(401);
  });

  it('revokes every phone of a user disabled, or whose password an admin reset; admins revoke them directly', async () => {
    const admin = await send(hub, 'POST', '/api/auth/token', 'demo-admin');
    const adminToken = admin.body.token as string;
    const { credential: disabledPhone } = await remembered(hub, 'worker-xijiao-04');
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-04/disable', adminToken)).status).toBe(200);
    await eventually(
      async () =>
        (await hub.testHandle.store.getRecord(rememberedDevicesCollection, disabledPhone.deviceId)) ===
        undefined,
    );
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-04/enable', adminToken)).status).toBe(200);
    expect((await deviceLogin(hub, disabledPhone)).status).toBe(401);

    const { credential: resetPhone } = await remembered(hub, 'worker-xijiao-05');
    const reset = await send(hub, 'POST', '/api/accounts/worker-xijiao-05/password', adminToken, {
      password: 'a brand new password for five',
    });
    expect(reset.status).toBe(200);
    await eventually(
      async () =>
        (await hub.testHandle.store.getRecord(rememberedDevicesCollection, resetPhone.deviceId)) ===
        undefined,
    );
    expect((await deviceLogin(hub, resetPhone)).status).toBe(401);

    const { credential: adminRevoked } = await remembered(hub, 'worker-xijiao-01');
    const worker = await login(hub, 'worker-xijiao-01');
    expect((await send(hub, 'DELETE', '/api/users/worker-xijiao-01/devices', worker)).status).toBe(403);
    const byAdmin = await send(hub, 'DELETE', '/api/users/worker-xijiao-01/devices', adminToken);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.revoked).toBeGreaterThanOrEqual(1);
    expect((await deviceLogin(hub, adminRevoked)).status).toBe(401);
  });

  it('counts failed device logins as guesses, and refuses an API token remembering a phone', async () => {
    const before = await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}');
    const wrong = await deviceLogin(hub, { deviceId: 'AAAAAAAAAAAAAAAAAAAAAA', secret: 'x'.repeat(43) });
    expect(wrong.status).toBe(401);
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}')).toBe(before + 1);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_remembered_device_logins_total{outcome="unknown"}'),
    ).toBeGreaterThanOrEqual(1);
    const malformed = await send(hub, 'POST', '/api/auth/device-login', undefined, {
      deviceId: 'no spaces allowed here',
      secret: 'short',
    });
    expect(malformed.status).toBe(400);
    const byToken = await send(hub, 'POST', '/api/auth/devices', 'demo-worker-xijiao-01', {});
    expect(byToken.status).toBe(400);
    expect((byToken.body.error as { code: string }).code).toBe('no_session');
  });
});
