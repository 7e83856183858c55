import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { loadDeployment } from '../../src/config/load.ts';
import { isGridhubError } from '../../src/core/errors.ts';
import {
  demoConfig,
  getJson,
  postJson,
  projectRoot,
  startTestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/** Runs `npm start`'s entry point; with `untilReady`, sends SIGTERM once it says it started. */
function runHub(
  env: Record<string, string>,
  untilReady = false,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: { ...process.env, LOG_LEVEL: 'warn', PORT: '0', MQTT_PORT: '0', ...env },
    });
    // A hub that neither refuses nor says it started is not left behind. Generous: on a loaded machine, starting
    // Node with tsx alone has taken over 15 s.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 45_000);
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // Once: a second signal makes the hub exit at once (1), and log lines may follow the ready line.
      if (untilReady && !signalled && stdout.includes('gridhub:')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(deadline);
      resolve({ code, stderr, stdout });
    });
  });
}

const refusal =
  "gridhub: refusing to listen on 0.0.0.0 with the demo's public secrets (users' demo tokens, users' demo passwords, the demo hub.jwtSecret, " +
  "the default hub.identifierHashKey, devices' demo secrets, alarm panels' demo key): set your own, or set GRIDHUB_DEMO=1 (or hub.demo: true) " +
  'to run the demo on this network anyway [GRIDHUB_DEMO_SECRETS]';

describe("the demo's public secrets", () => {
  const workDir = temporaryDirectory();
  afterAll(() => workDir.remove());

  it('keep the hub off a non-loopback address, in one line naming the flag', async () => {
    const result = await runHub({ HOST: '0.0.0.0', DATA_DIR: workDir.path });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(refusal);
  }, 60_000);

  it('are allowed there with GRIDHUB_DEMO=1', async () => {
    const result = await runHub({ HOST: '0.0.0.0', DATA_DIR: workDir.path, GRIDHUB_DEMO: '1' }, true);
    expect(result.stdout).toMatch(/^gridhub: Qinghe District grid hub \(demo\) — http:\/\/localhost:\d+/m);
    expect(result.code).toBe(0);
  }, 60_000);

  it('are allowed on loopback, the default of npm start', async () => {
    const env = { DATA_DIR: workDir.path, HOST: '' };
    const result = await runHub(env, true);
    expect(result.stdout).toMatch(/^gridhub: Qinghe District grid hub \(demo\)/m);
    expect(result.code).toBe(0);
  }, 60_000);
});

describe('secrets from the environment or a file', () => {
  const workDir = temporaryDirectory();
  const gateId = 'gate-xijiao-01-north';
  const adminToken = 'admin-token-from-the-environment-0123';
  const gateSecret = 'gate-secret-from-a-file-0123456789';
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => workDir.remove());

  /** The demo config with its secrets out of the file: the admin's token and the identifier key from variables. */
  function writeConfig(): string {
    const config = demoConfig() as unknown as {
      hub: Record<string, unknown>;
      users: { id: string; token: unknown }[];
      devices: { id: string; secret?: unknown }[];
    };
    config.hub.jwtSecret = { file: 'secrets/jwt-secret' };
    config.hub.identifierHashKey = { env: 'GRIDHUB_TEST_IDENTIFIER_KEY' };
    for (const user of config.users) {
      user.token = user.id === 'admin' ? { env: 'GRIDHUB_TEST_ADMIN_TOKEN' } : `own-token-of-${user.id}`;
    }
    for (const device of config.devices) {
      if (device.id === gateId) device.secret = { file: `secrets/${gateId}` };
    }
    mkdirSync(path.join(workDir.path, 'secrets'), { recursive: true });
    // Written as `echo` would, with a newline that is not part of the secret.
    writeFileSync(
      path.join(workDir.path, 'secrets', 'jwt-secret'),
      'a-session-key-of-this-deployment-0123456\n',
    );
    writeFileSync(path.join(workDir.path, 'secrets', gateId), `${gateSecret}\n`);
    const configPath = path.join(workDir.path, 'hub.yaml');
    writeFileSync(configPath, stringify(config));
    return configPath;
  }

  it('are used as if they were in the file: tokens, device secrets and the session key', async () => {
    const configPath = writeConfig();
    vi.stubEnv('GRIDHUB_TEST_ADMIN_TOKEN', adminToken);
    vi.stubEnv('GRIDHUB_TEST_IDENTIFIER_KEY', 'an-identifier-key-of-this-deployment');
    const deployment = loadDeployment(configPath, adapterMap(adapters));
    const admin = deployment.users.find((user) => user.id === 'admin');
    expect(admin?.role).toBe('admin');
    let hub = await startTestHub({ deployment, dataDir: workDir.path });
    let session: string;
    try {
      expect((await getJson(`${hub.httpUrl}/api/me`, adminToken)).status).toBe(200);
      expect((await getJson(`${hub.httpUrl}/api/me`, 'demo-admin')).status).toBe(401);
      const device = await mqtt.connectAsync(hub.mqttUrl, {
        clientId: gateId,
        username: gateId,
        password: gateSecret,
        reconnectPeriod: 0,
      });
      await device.endAsync();
      const issued = await postJson<{ token: string }>(`${hub.httpUrl}/api/auth/token`, adminToken);
      expect(issued.status).toBe(200);
      session = issued.body.token;
    } finally {
      await hub.stop();
    }
    // The session key came from the file, not from chance: a session outlives a restart.
    hub = await startTestHub({
      deployment: loadDeployment(configPath, adapterMap(adapters)),
      dataDir: workDir.path,
    });
    try {
      expect((await getJson(`${hub.httpUrl}/api/me`, session)).status).toBe(200);
    } finally {
      await hub.stop();
    }
  });

  it('that cannot be found are configuration problems at their paths, naming no value', () => {
    const configPath = writeConfig();
    vi.stubEnv('GRIDHUB_TEST_ADMIN_TOKEN', '');
    vi.stubEnv('GRIDHUB_TEST_IDENTIFIER_KEY', 'short');
    writeFileSync(path.join(workDir.path, 'secrets', 'jwt-secret'), '');
    let thrown: unknown;
    try {
      loadDeployment(configPath, adapterMap(adapters));
    } catch (error) {
      thrown = error;
    }
    expect(isGridhubError(thrown)).toBe(true);
    const problems = isGridhubError(thrown) ? thrown.problems : [];
    const adminIndex = demoConfig().users.findIndex((user) => user.id === 'admin');
    // Each at its line of the file, which follows the demo's layout.
    for (const problem of problems) expect(problem).toMatch(/ \(line \d+\)$/);
    expect(problems.map((problem) => problem.replace(/ \(line \d+\)$/, ''))).toEqual([
      `hub.jwtSecret: secret file ${path.join(workDir.path, 'secrets', 'jwt-secret')} is empty`,
      `users[${adminIndex}].token: environment variable GRIDHUB_TEST_ADMIN_TOKEN is not set`,
      'hub.identifierHashKey: Too small: expected string to have >=16 characters',
    ]);
  });
});
