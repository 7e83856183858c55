import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot, temporaryDirectory } from '../helpers/hub.ts';

/** Runs `npm start`'s entry point in a child process and returns how it ended. */
function runHub(
  env: Record<string, string>,
  untilExit = true,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env },
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!untilExit && !signalled && stdout.includes('gridhub:')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

/** `npm start`'s entry point, running until the test signals it; `started` resolves with its ports. */
interface RunningHub {
  readonly child: ChildProcessWithoutNullStreams;
  readonly started: Promise<{ httpPort: number; mqttPort: number }>;
  readonly exited: Promise<{ code: number | null; at: number }>;
  output(): string;
  /** Resolves once the hub's output matches. */
  printed(pattern: RegExp): Promise<void>;
}

/** `onCpu`: started by taskset on that CPU alone, as a hub given one core by its CPU affinity. */
function startHub(env: Record<string, string>, onCpu?: number): RunningHub {
  const command = [process.execPath, '--import', 'tsx', 'src/main.ts'];
  const [file, ...args] = onCpu === undefined ? command : ['taskset', '-c', String(onCpu), ...command];
  const child = spawn(file as string, args, {
    cwd: projectRoot,
    env: { ...process.env, LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', MQTT_PORT: '0', ...env },
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const waiter of waiters.filter((each) => each.pattern.test(output))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const printed = (pattern: RegExp): Promise<void> =>
    pattern.test(output)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          waiters.push({ pattern, resolve });
          exited.then(() => reject(new Error(`the hub exited without printing ${pattern}:\n${output}`)));
        });
  const started = printed(/gridhub: .* — http:\/\/localhost:\d+ · mqtt:\/\/localhost:\d+/).then(() => {
    const match = /http:\/\/localhost:(\d+) · mqtt:\/\/localhost:(\d+)/.exec(output) as RegExpExecArray;
    return { httpPort: Number(match[1]), mqttPort: Number(match[2]) };
  });
  return { child, started, exited, output: () => output, printed };
}

/** Whether a port on loopback can be bound again, i.e. nothing holds it. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

function occupyPort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

describe('start-up', () => {
  const workDir = temporaryDirectory();
  afterAll(() => workDir.remove());

  it('stops on a malformed config file and lists every problem with its path', async () => {
    const configPath = path.join(workDir.path, 'broken.yaml');
    writeFileSync(
      configPath,
      [
        'hub: { maxPayloadBytes: 10, colour: blue }',
        'jurisdiction:',
        '  id: d1',
        '  name: D',
        '  level: district',
        '  children: []',
        'devices:',
        '  - { id: Gate 1, name: g, adapter: gate-access, grid: g1 }',
      ].join('\n'),
    );
    const result = await runHub({
      GRIDHUB_CONFIG: configPath,
      PORT: '0',
      MQTT_PORT: '0',
      DATA_DIR: workDir.path,
    });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe(`gridhub: ${configPath} is invalid [GRIDHUB_CONFIG_INVALID]`);
    expect(lines.slice(1)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}- hub: Unrecognized key: "colour"/),
        expect.stringMatching(/^ {2}- hub\.maxPayloadBytes: /),
        expect.stringMatching(/^ {2}- jurisdiction\.children: /),
        expect.stringMatching(/^ {2}- devices\[0\]\.id: /),
      ]),
    );
    expect(result.stderr).not.toContain('    at ');
  });

  it('lists schema and cross-reference problems together, each with its line, and a syntax error at its line and key', async () => {
    const configPath = path.join(workDir.path, 'crossed.yaml');
    const demo = readFileSync(path.join(projectRoot, 'config', 'demo.yaml'), 'utf8');
    // The demo with a schema problem in the hub section, and a device on a grid that does not exist.
    const crossed = demo
      .replace(/^hub:\n/m, 'hub:\n  maxPayloadBytes: 1\n')
      .replace(
        /^devices:\n/m,
        'devices:\n  - { id: gate-extra, name: Extra, adapter: gate-access, secret: demo-secret-gate-extra, grid: grid-nowhere }\n',
      );
    writeFileSync(configPath, crossed);
    const lineOf = (text: string) => crossed.split('\n').findIndex((line) => line.includes(text)) + 1;
    const result = await runHub({
      GRIDHUB_CONFIG: configPath,
      PORT: '0',
      MQTT_PORT: '0',
      DATA_DIR: workDir.path,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`- hub\\.maxPayloadBytes: [^\\n]* \\(line ${lineOf('maxPayloadBytes: 1')}\\)\\n`),
    );
    expect(result.stderr).toContain(
      `- devices[0].grid: no grid "grid-nowhere" (line ${lineOf('gate-extra')})`,
    );

    writeFileSync(configPath, 'hub:\n  name: "unclosed\njurisdiction: {}\n');
    const broken = await runHub({
      GRIDHUB_CONFIG: configPath,
      PORT: '0',
      MQTT_PORT: '0',
      DATA_DIR: workDir.path,
    });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/- line [1-9]\d*: hub\.name: /);
    expect(broken.stderr).not.toContain('line 0');
  });

  it('names PORT in one line when the HTTP port is taken', async () => {
    const blocker = await occupyPort();
    try {
      const result = await runHub({ PORT: String(portOf(blocker)), MQTT_PORT: '0', DATA_DIR: workDir.path });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `gridhub: HTTP port ${portOf(blocker)} is already in use: set PORT to a free port (0 picks one) [GRIDHUB_PORT_IN_USE]`,
      );
    } finally {
      blocker.close();
    }
  });

  it('names MQTT_PORT in one line when the MQTT port is taken', async () => {
    const blocker = await occupyPort();
    try {
      const result = await runHub({ PORT: '0', MQTT_PORT: String(portOf(blocker)), DATA_DIR: workDir.path });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `gridhub: MQTT port ${portOf(blocker)} is already in use: set MQTT_PORT to a free port (0 picks one) [GRIDHUB_PORT_IN_USE]`,
      );
    } finally {
      blocker.close();
    }
  });

  it('starts on the shipped demo jurisdiction and stops cleanly on SIGTERM', async () => {
    const result = await runHub({ PORT: '0', MQTT_PORT: '0', DATA_DIR: workDir.path }, false);
    expect(result.stdout).toMatch(
      /^gridhub: Qinghe District grid hub \(demo\) — http:\/\/localhost:\d+ · mqtt:\/\/localhost:\d+ · device push on \d+ · SIA DC-09 on \d+ \(tcp\+udp\) · GB\/T 28181 SIP on \d+ \(udp\+tcp\) · \d+ devices/m,
    );
    expect(result.code).toBe(0);
  });

  it('stops promptly on SIGTERM with clients connected, exits 0 and frees its ports', async () => {
    const hub = startHub({ DATA_DIR: workDir.path });
    const { httpPort, mqttPort } = await hub.started;
    // A device's TCP connection and an idle HTTP keep-alive connection, as a running hub has.
    const device = await connectTo(mqttPort);
    device.on('error', () => undefined);
    const browser = await connectTo(httpPort);
    browser.on('error', () => undefined);
    browser.write(`GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
    await new Promise((resolve) => browser.once('data', resolve));
    const signalled = Date.now();
    hub.child.kill('SIGTERM');
    const { code, at } = await hub.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeLessThan(5_000);
    expect(hub.output()).toMatch(/"msg":"stopped"/);
    expect(await canListen(httpPort)).toBe(true);
    expect(await canListen(mqttPort)).toBe(true);
    device.destroy();
    browser.destroy();
  });

  it("runs the embedded broker in the hub's thread when its CPU affinity gives it one core, in a thread of its own when more", async () => {
    const mqttOf = async (hub: RunningHub) => {
      const { httpPort, mqttPort } = await hub.started;
      const response = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      const { components } = (await response.json()) as {
        components: { mqtt: { state: string; thread: string; port: number } };
      };
      hub.child.kill('SIGTERM');
      expect((await hub.exited).code).toBe(0);
      expect(components.mqtt.port).toBe(mqttPort);
      return components.mqtt;
    };
    const oneCore = await mqttOf(startHub({ DATA_DIR: workDir.path }, 0));
    expect(oneCore).toMatchObject({ state: 'up', thread: 'hub' });
    // Without taskset, as many as this machine gives the test (two on the development and CI machines).
    const cores = await mqttOf(startHub({ DATA_DIR: workDir.path }));
    expect(cores).toMatchObject({ state: 'up', thread: availableParallelism() > 1 ? 'broker' : 'hub' });
  });

  it('exits 1 when the stop outlasts STOP_TIMEOUT_SECONDS, naming the step still stopping', async () => {
    const hub = startHub({ DATA_DIR: workDir.path, STOP_TIMEOUT_SECONDS: '1' });
    const { httpPort } = await hub.started;
    // A request whose body never finishes: the HTTP server waits for it to close.
    const slow = await connectTo(httpPort);
    slow.on('error', () => undefined);
    slow.write('POST /api/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n');
    slow.write('Content-Length: 1000\r\n\r\n{"tok');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalled = Date.now();
    hub.child.kill('SIGTERM');
    const { code, at } = await hub.exited;
    slow.destroy();
    expect(code).toBe(1);
    expect(at - signalled).toBeGreaterThanOrEqual(1_000);
    expect(at - signalled).toBeLessThan(5_000);
    expect(hub.output()).toMatch(
      /"step":"http".*"msg":"did not stop within 1 s: exiting with the http step still stopping"/,
    );
  });

  it('warns loudly at start-up when the only ffmpeg is the bundled 2018 build', async () => {
    // No ffmpeg on the search path: the one in the optional @ffmpeg-installer/ffmpeg package is found instead.
    const hub = startHub({ DATA_DIR: workDir.path, PATH: path.join(workDir.path, 'no-such-directory') });
    await hub.started;
    await hub.printed(/NO SYSTEM FFMPEG/);
    const line = hub
      .output()
      .split('\n')
      .find((each) => each.includes('NO SYSTEM FFMPEG')) as string;
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      ns: 'evidence',
      path: expect.stringContaining('@ffmpeg-installer'),
    });
    hub.child.kill('SIGTERM');
    expect((await hub.exited).code).toBe(0);
  });
});
