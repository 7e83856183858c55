import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { projectRoot, temporaryDirectory } from './hub.ts';

/** A hub in its own process, started as `npm start` starts it, so a test can kill it outright. */
export interface HubProcess {
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly child: ChildProcess;
  /** Everything it wrote, stdout and stderr. */
  output(): string;
  /** SIGKILL: no shutdown, no lease given back, nothing flushed. */
  kill(): Promise<void>;
  /** SIGTERM and wait: a clean stop. */
  stop(): Promise<void>;
}

export interface HubProcessOptions {
  /** The configuration, as the YAML file would hold it. */
  readonly config: unknown;
  /** More environment (MQTT_CLIENT_ID, fixed ports for a restart at the same address). */
  readonly env?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

const announce = /http:\/\/localhost:(\d+) · mqtt:\/\/localhost:(\d+)/;

export async function startHubProcess(options: HubProcessOptions): Promise<HubProcess> {
  const directory = temporaryDirectory('gridhub-process-');
  const configPath = path.join(directory.path, 'gridhub.yaml');
  writeFileSync(configPath, stringify(options.config));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src', 'main.ts')], {
    cwd: projectRoot,
    env: {
      ...process.env,
      GRIDHUB_CONFIG: configPath,
      DATA_DIR: path.join(directory.path, 'data'),
      PORT: '0',
      MQTT_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => directory.remove());

  const ports = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hub process did not start in time:\n${output}`));
    }, options.startTimeoutMs ?? 20_000);
    const check = (): void => {
      const match = announce.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      resolve([match[1] as string, match[2] as string]);
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hub process exited (${code}) before it started:\n${output}`));
    });
  });
  return {
    httpUrl: `http://127.0.0.1:${ports[0]}`,
    mqttUrl: `mqtt://127.0.0.1:${ports[1]}`,
    child,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
