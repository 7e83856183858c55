import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { checkDemoExposure } from '../../src/config/demo-guard.ts';
import { loadDeployment } from '../../src/config/load.ts';
import { TestCertificates } from '../helpers/certificates.ts';
import { freePort } from '../helpers/cluster.ts';
import { demoConfig, deploymentOf, projectRoot, startTestHub, temporaryDirectory } from '../helpers/hub.ts';

/**
 * What deploy/ ships, checked as far as this machine can: Docker has no engine here (the image is not built), so
 * the Dockerfile is read instruction by instruction; the compose file is parsed and every file it mounts must
 * exist; its hub configuration must load; the systemd unit passes `systemd-analyze`; and Mosquitto runs with the
 * shipped configuration and ACL.
 */

const deployDir = path.join(projectRoot, 'deploy');
const read = (file: string): string => readFileSync(path.join(projectRoot, file), 'utf8');

/** npm start's Node flags and entry point, which every way of starting the hub must pass alike. */
function startCommand(): string[] {
  const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
  return start.split(/\s+/).slice(1);
}

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments and blank lines left out. */
function dockerInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (pending === '' && /^\s*(#|$)/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = `${pending}${line}`.trim();
    pending = '';
    const [keyword = '', ...rest] = whole.split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') });
  }
  return instructions;
}

describe('the Dockerfile', () => {
  const instructions = dockerInstructions(read('deploy/Dockerfile'));
  const stages = instructions.filter((each) => each.keyword === 'FROM');
  const lastStage = instructions.slice(instructions.lastIndexOf(stages.at(-1) as Instruction));
  const of = (keyword: string): Instruction[] => lastStage.filter((each) => each.keyword === keyword);

  it('builds in two stages on Node 22 slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.args).toMatch(/^node:22-[a-z]+-slim\b/);
    expect(stages[0]?.args).toMatch(/ AS deps$/);
  });

  it('copies only files that exist, and its ignore file lets each of them through', () => {
    const copies = instructions.filter((each) => each.keyword === 'COPY' && !each.args.startsWith('--from'));
    expect(copies.length).toBeGreaterThan(3);
    const ignore = read('deploy/Dockerfile.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/\*\*$/, ''));
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(existsSync(path.join(projectRoot, source)), source).toBe(true);
        expect(ignore, source).toContain(source);
      }
    }
  });

  it("runs as a user of its own, with Debian's ffmpeg and a volume for DATA_DIR", () => {
    const user = of('USER').at(-1)?.args ?? 'root';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(of('RUN').some((each) => /apt-get install .*\bffmpeg\b/.test(each.args))).toBe(true);
    const env = of('ENV')
      .map((each) => each.args)
      .join(' ');
    const dataDir = /DATA_DIR=(\S+)/.exec(env)?.[1];
    expect(dataDir).toBe('/var/lib/gridhub');
    expect(of('VOLUME').map((each) => JSON.parse(each.args))).toContainEqual([dataDir]);
  });

  it("checks its health on /livez, whose check passes against a real hub's HTTP and HTTPS and fails on no hub", async () => {
    expect(of('HEALTHCHECK')).toHaveLength(1);
    const healthcheck = of('HEALTHCHECK')[0]?.args ?? '';
    expect(healthcheck).toContain("'/livez'");
    const [node, flag, script] = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
    expect([node, flag]).toEqual(['node', '-e']);
    // Run as Docker would, in a process of its own (the hubs answer from this one, so not spawnSync).
    const check = (port: number) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['-e', script as string], {
          env: { ...process.env, PORT: String(port) },
          stdio: 'ignore',
          timeout: 10_000,
        });
        child.once('exit', (code) => resolve(code));
      });
    const certificates = new TestCertificates(temporaryDirectory('gridhub-health-').path);
    certificates.ca();
    certificates.server();
    const plain = await startTestHub();
    const secure = await startTestHub({
      deployment: deploymentOf({
        ...demoConfig(),
        tls: { cert: certificates.file('server.crt'), key: certificates.file('server.key'), mqtt: false },
      }),
    });
    try {
      expect(await check(plain.hub.httpPort)).toBe(0);
      expect(await check(secure.hub.httpPort)).toBe(0);
      expect(await check(await freePort())).toBe(1);
    } finally {
      await plain.stop();
      await secure.stop();
    }
    const command = JSON.parse(of('CMD').at(-1)?.args ?? '[]') as string[];
    expect(command).toEqual(['node', ...startCommand()]);
  });
});

describe('the compose file', () => {
  const compose = parse(read('deploy/compose.yaml')) as {
    services: Record<
      string,
      {
        image?: string;
        build?: { context: string; dockerfile: string };
        volumes?: string[];
        environment?: Record<string, string>;
      }
    >;
  };

  it('runs the hub, Redis and Mosquitto, the hub built from deploy/Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['hub', 'mosquitto', 'redis']);
    const build = compose.services.hub?.build;
    expect(path.resolve(deployDir, build?.context ?? '', build?.dockerfile ?? '')).toBe(
      path.join(deployDir, 'Dockerfile'),
    );
  });

  it('mounts only files that exist', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (!source.startsWith('.')) continue; // a named volume
        expect(existsSync(path.resolve(deployDir, source)), source).toBe(true);
      }
    }
  });

  it('gives the hub config/compose.yaml, which loads: external Mosquitto, Redis store', () => {
    const mount = compose.services.hub?.volumes?.find((volume) =>
      volume.endsWith(':/etc/gridhub/gridhub.yaml:ro'),
    );
    expect(mount).toBe('../config/compose.yaml:/etc/gridhub/gridhub.yaml:ro');
    // Its secrets come from the environment, which compose fills from deploy/.env: here, from the example.
    const example = Object.fromEntries(
      [...read('deploy/.env.example').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((match) => [match[1], match[2]]),
    );
    const hubEnvironment = compose.services.hub?.environment ?? {};
    for (const name of Object.keys(example)) expect(hubEnvironment[name]).toContain(`\${${name}:?`);
    Object.assign(process.env, example);
    const deployment = loadDeployment(path.join(projectRoot, 'config', 'compose.yaml'), adapterMap(adapters));
    expect(deployment.settings.jwtSecret).toBe(example.GRIDHUB_JWT_SECRET);
    expect(deployment.users[0]?.initialPassword).toBe(example.GRIDHUB_ADMIN_PASSWORD);
    expect(deployment.mqtt.mode).toBe('external');
    expect(deployment.mqtt.external?.url).toBe('mqtt://mosquitto:1883');
    expect(deployment.store).toMatchObject({ kind: 'redis', url: 'redis://redis:6379' });
    // The hub's broker password is the one deploy/.env gives Mosquitto.
    expect(deployment.mqtt.external?.password).toBe(example.HUB_MQTT_PASSWORD);
  });
});

describe("the compose file's placeholders", () => {
  it('keep the hub off a public address until every CHANGE-ME is replaced', async () => {
    const example = Object.fromEntries(
      [...read('deploy/.env.example').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((match) => [match[1], match[2]]),
    );
    const load = () => loadDeployment(path.join(projectRoot, 'config', 'compose.yaml'), adapterMap(adapters));
    Object.assign(process.env, example);
    await expect(checkDemoExposure('0.0.0.0', load(), false)).rejects.toThrow(/CHANGE-ME placeholders/);
    Object.assign(process.env, {
      HUB_MQTT_PASSWORD: 'a-real-broker-password',
      GRIDHUB_JWT_SECRET: 'a-real-session-key-of-forty-characters-00',
      GRIDHUB_IDENTIFIER_HASH_KEY: 'a-real-identifier-key',
      GRIDHUB_ADMIN_PASSWORD: 'a real first password',
    });
    // The template's example gate still has its placeholder secret (CHANGE-ME-gate-example-01-secret)…
    await expect(checkDemoExposure('0.0.0.0', load(), false)).rejects.toThrow(/CHANGE-ME placeholders/);
    // …until it has its own.
    const deployment = load();
    const ownSecrets = {
      ...deployment,
      devices: deployment.devices.map((device) => ({
        ...device,
        secretDigest: `own-digest-of-${device.id}`,
      })),
    };
    await expect(checkDemoExposure('0.0.0.0', ownSecrets, false)).resolves.toBeUndefined();
  });
});

describe('the systemd unit', () => {
  const unit = read('deploy/gridhub.service');
  const settings = (key: string): string[] =>
    [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1] as string);

  it('starts Node with the flags of npm start, as a user of its own', () => {
    const [node, ...args] = (settings('ExecStart')[0] ?? '').split(/\s+/);
    expect(node).toMatch(/^\/.*\/node$/);
    expect(args).toEqual(startCommand());
    expect(settings('User')).toEqual(['gridhub']);
    expect(settings('StateDirectory')).toEqual(['gridhub']);
    expect(settings('NoNewPrivileges')).toEqual(['yes']);
    expect(settings('ProtectSystem')).toEqual(['strict']);
  });

  it('gives the hub longer to stop than its own deadline', () => {
    const deadline = Number(/^Environment=STOP_TIMEOUT_SECONDS=(\d+)$/m.exec(unit)?.[1]);
    expect(Number(settings('TimeoutStopSec')[0])).toBeGreaterThan(deadline);
  });

  it('passes systemd-analyze: no unknown or malformed setting, and a low exposure', () => {
    const directory = temporaryDirectory('gridhub-unit-');
    try {
      const file = path.join(directory.path, 'gridhub.service');
      writeFileSync(file, unit);
      const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect(verify.error).toBeUndefined();
      expect(`${verify.stdout}${verify.stderr}`.trim()).toBe('');
      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', file], {
        encoding: 'utf8',
      });
      const exposure = Number(
        /Overall exposure level for gridhub\.service: ([\d.]+)/.exec(security.stdout)?.[1],
      );
      expect(exposure).toBeLessThan(2.5);
    } finally {
      directory.remove();
    }
  });
});

describe('Mosquitto with the shipped configuration and ACL', () => {
  const directory = temporaryDirectory('gridhub-mosquitto-');
  const hubPassword = 'hub-password-for-tests';
  const gatePassword = 'gate-password-for-tests';
  let port: number;
  let broker: ChildProcess | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    port = await freePort();
    const passwordFile = path.join(directory.path, 'passwd');
    writeFileSync(passwordFile, '');
    execFileSync('mosquitto_passwd', ['-b', passwordFile, 'gridhub-hub', hubPassword]);
    execFileSync('mosquitto_passwd', ['-b', passwordFile, 'gate-a', gatePassword]);
    // The shipped file, with the container's paths and port replaced by this test's.
    const conf = read('deploy/mosquitto/mosquitto.conf')
      .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
      .replace(/^password_file .*$/m, `password_file ${passwordFile}`)
      .replace(/^acl_file .*$/m, `acl_file ${path.join(deployDir, 'mosquitto', 'gridhub.acl')}`)
      .replace(/^persistence_location .*$/m, `persistence_location ${directory.path}/`);
    expect(conf).toContain(`listener ${port} 127.0.0.1`);
    const confFile = path.join(directory.path, 'mosquitto.conf');
    writeFileSync(confFile, `${conf}\nuser root\n`);
    broker = spawn('/usr/sbin/mosquitto', ['-c', confFile], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = await attempt({ username: 'gridhub-hub', password: hubPassword });
      if (probe === 'connected') break;
      if (Date.now() > deadline) throw new Error('mosquitto did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    if (broker !== undefined && broker.exitCode === null) {
      const exited = new Promise((resolve) => broker?.once('exit', resolve));
      broker.kill('SIGTERM');
      await exited;
    }
    directory.remove();
  });

  function attempt(options: { username?: string; password?: string }): Promise<'connected' | 'refused'> {
    return new Promise((resolve) => {
      const client = connect(`mqtt://127.0.0.1:${port}`, {
        ...options,
        reconnectPeriod: 0,
        connectTimeout: 2_000,
      });
      client.once('connect', () => {
        client.end(true);
        resolve('connected');
      });
      client.once('error', () => {
        client.end(true);
        resolve('refused');
      });
      client.once('close', () => resolve('refused'));
    });
  }

  function connected(username: string, password: string, clientId: string): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const client = connect(`mqtt://127.0.0.1:${port}`, {
        username,
        password,
        clientId,
        reconnectPeriod: 0,
      });
      clients.push(client);
      client.once('connect', () => resolve(client));
      client.once('error', reject);
    });
  }

  it('refuses anonymous clients and wrong passwords', async () => {
    expect(await attempt({})).toBe('refused');
    expect(await attempt({ username: 'gridhub-hub', password: 'wrong' })).toBe('refused');
  });

  it("delivers a device's own events to the hub's shared subscription, and not one forged for another device", async () => {
    const hub = await connected('gridhub-hub', hubPassword, 'hub-1');
    const received: string[] = [];
    hub.on('message', (topic) => received.push(topic));
    await hub.subscribeAsync('$share/gridhub/gridhub/devices/+/events', { qos: 1 });
    // Forging another device's event: Mosquitto drops it (MQTT 3.1.1 cannot say so; it may close the connection).
    const forger = await connected('gate-a', gatePassword, 'gate-a-forger');
    await Promise.race([
      forger.publishAsync('gridhub/devices/gate-b/events', '{}', { qos: 1 }),
      new Promise((resolve) => setTimeout(resolve, 2_000)),
    ]);
    const gate = await connected('gate-a', gatePassword, 'gate-a');
    await gate.publishAsync('gridhub/devices/gate-a/events', '{}', { qos: 1 });
    const deadline = Date.now() + 5_000;
    while (received.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toEqual(['gridhub/devices/gate-a/events']);
  });
});
