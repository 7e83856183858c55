import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
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
      /^gridhub: Qinghe District grid hub \(demo\) — http:\/\/localhost:\d+ · mqtt:\/\/localhost:\d+ · 29 devices/m,
    );
    expect(result.code).toBe(0);
  });
});
