import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/auth/passwords.ts';
import {
  connectClient,
  demoConfig,
  deploymentOf,
  getJson,
  metricValue,
  projectRoot,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

interface LoggedIn {
  token: string;
  expiresAt: string;
  sessionExpiresAt: string;
  me: { userId: string; role: string; scopeNodeIds: string[] };
}

const demoPassword = (userId: string) => `demo-password-${userId}`;
const adminXijiaoPassword = 'the xijiao admin, first of her name';
const machineToken = 'a-machine-token-kept-only-as-its-digest';

async function login(hub: TestHub, username: string, password: string) {
  const response = await fetch(`${hub.httpUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return { status: response.status, body: (await response.json()) as LoggedIn & { error?: unknown } };
}

async function loggedIn(hub: TestHub, username: string, password = demoPassword(username)): Promise<string> {
  const answer = await login(hub, username, password);
  expect(answer.status).toBe(200);
  return answer.body.token;
}

async function send(hub: TestHub, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${hub.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('people log in as people: accounts, passwords, lockout', () => {
  let hub: TestHub;

  beforeAll(async () => {
    process.env.GRIDHUB_TEST_ADMIN_XIJIAO_PASSWORD = adminXijiaoPassword;
    const config = demoConfig() as unknown as Record<string, unknown> & {
      users: Record<string, unknown>[];
      hub?: Record<string, unknown>;
    };
    config.hub = { ...config.hub, loginLockout: { failures: 3, windowMinutes: 15, lockMinutes: 15 } };
    config.users.push(
      {
        id: 'admin-xijiao',
        name: 'Xijiao admin',
        role: 'admin',
        scope: 'community-xijiao',
        initialPassword: { env: 'GRIDHUB_TEST_ADMIN_XIJIAO_PASSWORD' },
      },
      {
        id: 'integrator-machine',
        name: 'A machine',
        role: 'integrator',
        scope: 'community-xijiao',
        tokenDigest: createHash('sha256').update(machineToken).digest('hex'),
      },
    );
    hub = await startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    await hub?.stop();
    delete process.env.GRIDHUB_TEST_ADMIN_XIJIAO_PASSWORD;
  });

  it('logs a demo user in with their password, into a session whose JWT works for REST and Socket.IO', async () => {
    const answer = await login(hub, 'officer-xijiao', demoPassword('officer-xijiao'));
    expect(answer.status).toBe(200);
    expect(answer.body.me).toMatchObject({ userId: 'officer-xijiao', scopeNodeIds: ['community-xijiao'] });
    expect(Date.parse(answer.body.sessionExpiresAt) - Date.now()).toBeGreaterThan(11.9 * 3600_000);
    expect((await getJson(`${hub.httpUrl}/api/me`, answer.body.token)).body).toMatchObject({
      userId: 'officer-xijiao',
      role: 'duty_officer',
    });
    const socket = await connectClient(hub.httpUrl, answer.body.token);
    socket.close();
    // The config's initial password (from the environment) and a token given only as its digest work too.
    await loggedIn(hub, 'admin-xijiao', adminXijiaoPassword);
    expect((await getJson(`${hub.httpUrl}/api/me`, machineToken)).body).toMatchObject({
      userId: 'integrator-machine',
    });
    expect(hub.logs.text).not.toContain(demoPassword('officer-xijiao'));
    expect(hub.logs.text).not.toContain(adminXijiaoPassword);
  });

  it('answers a wrong password and an unknown user alike', async () => {
    const wrong = await login(hub, 'officer-luming', 'not-the-password');
    const unknown = await login(hub, 'nobody-at-all', 'not-the-password');
    expect(wrong.status).toBe(401);
    expect(unknown).toEqual(wrong);
    expect(wrong.body.error).toMatchObject({ code: 'bad_credentials' });
  });

  it('locks a username after repeated failures, known or not, and says no more than before', async () => {
    const refusedBefore = await login(hub, 'officer-tianmushan', 'wrong-1');
    await login(hub, 'officer-tianmushan', 'wrong-2');
    await login(hub, 'officer-tianmushan', 'wrong-3');
    // Locked: the right password is refused too, in the same words.
    const locked = await login(hub, 'officer-tianmushan', demoPassword('officer-tianmushan'));
    expect(locked).toEqual(refusedBefore);
    for (const attempt of ['a', 'b', 'c']) await login(hub, 'made-up-name', `wrong-${attempt}`);
    expect(await login(hub, 'made-up-name', 'wrong-d')).toEqual(refusedBefore);
    expect(await metricValue(hub.httpUrl, 'gridhub_account_lockouts_total')).toBe(2);
    expect(await metricValue(hub.httpUrl, 'gridhub_login_failures_total{reason="locked"}')).toBe(2);
    expect(await metricValue(hub.httpUrl, 'gridhub_login_failures_total{reason="wrong_password"}')).toBe(4);
    // Another user is not locked with them.
    await loggedIn(hub, 'officer-zhenxing');
    expect(hub.logs.text).toContain('username locked after repeated failed logins');
    expect(hub.logs.text).not.toContain('wrong-1');
  });

  it("lets an admin make, disable and enable accounts inside their scope only, and a disabled user's sessions end", async () => {
    const admin = await loggedIn(hub, 'admin-xijiao', adminXijiaoPassword);
    const created = await send(hub, 'POST', '/api/accounts', admin, {
      id: 'worker-xijiao-new',
      name: 'New worker',
      role: 'grid_worker',
      grids: ['grid-xijiao-02'],
      password: 'a first password',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'worker-xijiao-new',
      hasPassword: true,
      createdBy: 'admin-xijiao',
    });
    expect(JSON.stringify(created.body)).not.toContain('scrypt');
    // Outside their scope: neither made, nor seen, nor changed.
    const outside = await send(hub, 'POST', '/api/accounts', admin, {
      id: 'worker-luming-new',
      name: 'Elsewhere',
      role: 'grid_worker',
      grids: ['grid-luming-01'],
      password: 'a first password',
    });
    expect(outside.status).toBe(403);
    expect((await send(hub, 'POST', '/api/accounts/worker-luming-01/disable', admin)).status).toBe(404);
    const listed = (await send(hub, 'GET', '/api/accounts', admin)).body.accounts as { id: string }[];
    expect(listed.map((account) => account.id)).toContain('worker-xijiao-new');
    expect(listed.map((account) => account.id)).not.toContain('worker-luming-01');
    // Ids are unique across users and devices.
    const taken = await send(hub, 'POST', '/api/accounts', admin, {
      id: 'gate-xijiao-02-east',
      name: 'A gate',
      role: 'grid_worker',
      grids: ['grid-xijiao-02'],
      password: 'a first password',
    });
    expect(taken.status).toBe(409);
    // Nor may a device take the id of an account made through the API: ids are unique across users and devices.
    const device = await send(hub, 'POST', '/api/devices', 'demo-integrator-qinghe', {
      id: 'worker-xijiao-new',
      name: 'A gate under a user id',
      adapter: 'gate-access',
      grid: 'grid-xijiao-01',
    });
    expect(device.status).toBe(409);
    // Non-admins manage nothing.
    const officer = await loggedIn(hub, 'officer-xijiao');
    expect((await send(hub, 'GET', '/api/accounts', officer)).status).toBe(403);

    // A disabled user: their sockets close (session and API token alike), their JWT and token are refused.
    const worker = await loggedIn(hub, 'worker-xijiao-new', 'a first password');
    const jwtSocket = await connectClient(hub.httpUrl, worker);
    const tokenSocket = await connectClient(hub.httpUrl, 'demo-worker-xijiao-02');
    // The incident feed over MQTT, with the user's API token: closed at once too, not at its next CONNECT.
    const feed = await connectAsync(hub.mqttUrl, {
      clientId: 'worker-xijiao-02',
      username: 'worker-xijiao-02',
      password: 'demo-worker-xijiao-02',
      reconnectPeriod: 0,
    });
    const closed = Promise.all([
      ...[jwtSocket, tokenSocket].map(
        (client) => new Promise<void>((resolve) => client.socket.once('disconnect', () => resolve())),
      ),
      new Promise<void>((resolve) => feed.once('close', () => resolve())),
    ]);
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-new/disable', admin)).status).toBe(200);
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-02/disable', admin)).status).toBe(200);
    await closed;
    expect((await getJson(`${hub.httpUrl}/api/me`, worker)).status).toBe(401);
    expect((await getJson(`${hub.httpUrl}/api/me`, 'demo-worker-xijiao-02')).status).toBe(401);
    expect((await login(hub, 'worker-xijiao-new', 'a first password')).status).toBe(401);
    await expect(
      connectAsync(hub.mqttUrl, {
        clientId: 'worker-xijiao-02',
        username: 'worker-xijiao-02',
        password: 'demo-worker-xijiao-02',
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/);
    expect(await metricValue(hub.httpUrl, 'gridhub_sessions_ended_total{reason="user_disabled"}')).toBe(1);
    // Enabled again: they log in.
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-new/enable', admin)).status).toBe(200);
    expect((await send(hub, 'POST', '/api/accounts/worker-xijiao-02/enable', admin)).status).toBe(200);
    await loggedIn(hub, 'worker-xijiao-new', 'a first password');
    expect((await getJson(`${hub.httpUrl}/api/me`, 'demo-worker-xijiao-02')).status).toBe(200);
    expect(hub.logs.text).not.toContain('a first password');
    // Every change is in the audit trail, about the user, read by the admins whose scope holds them.
    const trail = async (token: string) => {
      const { body } = await getJson(`${hub.httpUrl}/api/audit?target=worker-xijiao-new`, token);
      return (body as { entries: { action: string; actor: { userId: string } }[] }).entries;
    };
    const actions = (await trail(admin)).map((entry) => `${entry.actor.userId} ${entry.action}`);
    expect(actions).toEqual([
      'admin-xijiao account.enable',
      'admin-xijiao account.disable',
      'admin-xijiao account.create',
    ]);
    // The district's admin sees them too (and the refused device under that id, which no grid holds).
    expect((await trail('demo-admin')).filter((entry) => entry.action.startsWith('account.'))).toHaveLength(
      3,
    );
  });

  it("resets a user's password (their sessions end) and lets a user change their own, the old one required", async () => {
    const admin = await loggedIn(hub, 'admin-xijiao', adminXijiaoPassword);
    const before = await loggedIn(hub, 'worker-xijiao-03');
    const reset = await send(hub, 'POST', '/api/accounts/worker-xijiao-03/password', admin, {
      password: 'reset by the admin',
    });
    expect(reset.status).toBe(200);
    expect((await getJson(`${hub.httpUrl}/api/me`, before)).status).toBe(401);
    expect((await login(hub, 'worker-xijiao-03', demoPassword('worker-xijiao-03'))).status).toBe(401);
    const current = await loggedIn(hub, 'worker-xijiao-03', 'reset by the admin');
    const other = await loggedIn(hub, 'worker-xijiao-03', 'reset by the admin');
    const otherSocket = await connectClient(hub.httpUrl, other);
    const otherClosed = new Promise<void>((resolve) =>
      otherSocket.socket.once('disconnect', () => resolve()),
    );
    const wrongOld = await send(hub, 'POST', '/api/auth/password', current, {
      oldPassword: 'not the old one',
      newPassword: 'my very own password',
    });
    expect(wrongOld.status).toBe(403);
    const tooShort = await send(hub, 'POST', '/api/auth/password', current, {
      oldPassword: 'reset by the admin',
      newPassword: 'short',
    });
    expect(tooShort.status).toBe(400);
    const changed = await send(hub, 'POST', '/api/auth/password', current, {
      oldPassword: 'reset by the admin',
      newPassword: 'my very own password',
    });
    expect(changed).toEqual({ status: 200, body: { changed: true } });
    // The other session ends; the one that changed it goes on.
    await otherClosed;
    expect((await getJson(`${hub.httpUrl}/api/me`, other)).status).toBe(401);
    expect((await getJson(`${hub.httpUrl}/api/me`, current)).status).toBe(200);
    await loggedIn(hub, 'worker-xijiao-03', 'my very own password');
  });

  it('removes an account: it never logs in again and its sessions end', async () => {
    const admin = await loggedIn(hub, 'admin-xijiao', adminXijiaoPassword);
    const worker = await loggedIn(hub, 'worker-xijiao-05');
    expect((await send(hub, 'DELETE', '/api/accounts/worker-xijiao-05', admin)).status).toBe(200);
    expect((await getJson(`${hub.httpUrl}/api/me`, worker)).status).toBe(401);
    expect((await login(hub, 'worker-xijiao-05', demoPassword('worker-xijiao-05'))).status).toBe(401);
    expect((await getJson(`${hub.httpUrl}/api/me`, 'demo-worker-xijiao-05')).status).toBe(401);
    expect((await send(hub, 'DELETE', '/api/accounts/admin-xijiao', admin)).status).toBe(403);
  });
});

describe('accounts across a restart', () => {
  it('keeps a changed password and a disabled account over what the config seeds', async () => {
    const directory = temporaryDirectory();
    let hub = await startTestHub({ dataDir: directory.path });
    try {
      const admin = await loggedIn(hub, 'admin');
      const worker = await loggedIn(hub, 'worker-luming-01');
      await send(hub, 'POST', '/api/auth/password', worker, {
        oldPassword: demoPassword('worker-luming-01'),
        newPassword: 'kept across restarts',
      });
      expect((await send(hub, 'POST', '/api/accounts/worker-luming-02/disable', admin)).status).toBe(200);
      await hub.stop();
      hub = await startTestHub({ dataDir: directory.path });
      expect((await login(hub, 'worker-luming-01', demoPassword('worker-luming-01'))).status).toBe(401);
      await loggedIn(hub, 'worker-luming-01', 'kept across restarts');
      expect((await login(hub, 'worker-luming-02', demoPassword('worker-luming-02'))).status).toBe(401);
      expect((await getJson(`${hub.httpUrl}/api/me`, 'demo-worker-luming-02')).status).toBe(401);
    } finally {
      await hub.stop();
      directory.remove();
    }
  });
});

/** Runs `npm run users -- …` as npm does, `input` on its stdin; resolves with what it printed and its exit code. */
function usersTool(args: string[], env: Record<string, string>, input = '') {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/users-cli.ts', ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('npm run users against a running hub', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('makes, lists, disables and resets an account, and changes its own password, no password on the command line', async () => {
    const env = { GRIDHUB_URL: hub.httpUrl, GRIDHUB_TOKEN: 'demo-admin' };
    const added = await usersTool(
      ['add', 'worker-cli', '--name', 'CLI worker', '--role', 'grid_worker', '--grids', 'grid-luming-02'],
      env,
    );
    expect(added.code).toBe(0);
    const made = /password \(shown once\): (\S+)/.exec(added.stdout)?.[1] as string;
    expect(made).toHaveLength(24);
    await loggedIn(hub, 'worker-cli', made);
    expect((await usersTool(['list'], env)).stdout).toMatch(
      /worker-cli\s+grid_worker\s+grid-luming-02\s+enabled/,
    );
    // As an admin who logs in with a password (from the environment).
    const asAdmin = { GRIDHUB_URL: hub.httpUrl, GRIDHUB_PASSWORD: demoPassword('admin') };
    expect((await usersTool(['--user', 'admin', 'disable', 'worker-cli'], asAdmin)).code).toBe(0);
    expect((await login(hub, 'worker-cli', made)).status).toBe(401);
    expect((await usersTool(['enable', 'worker-cli'], env)).code).toBe(0);
    const reset = await usersTool(
      ['reset-password', 'worker-cli', '--password-stdin'],
      env,
      'set from stdin\n',
    );
    expect(reset.code).toBe(0);
    const worker = await loggedIn(hub, 'worker-cli', 'set from stdin');
    const own = await usersTool(
      ['passwd'],
      { GRIDHUB_URL: hub.httpUrl, GRIDHUB_TOKEN: worker },
      'set from stdin\nthe worker chose this\n',
    );
    expect(own.code).toBe(0);
    await loggedIn(hub, 'worker-cli', 'the worker chose this');
    // The hub's refusal, and exit code 1.
    const refused = await usersTool(['disable', 'worker-cli'], {
      ...env,
      GRIDHUB_TOKEN: 'demo-officer-qinghe',
    });
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('403') });
  });

  it("hashes a password for a config's passwordHash, which verifies it and no other", async () => {
    const hashed = await usersTool(['hash'], {}, 'a password for the file\n');
    expect(hashed.stdout).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+\n$/);
    expect(await verifyPassword('a password for the file', hashed.stdout.trim())).toBe(true);
    expect(await verifyPassword('another password', hashed.stdout.trim())).toBe(false);
  });
});
