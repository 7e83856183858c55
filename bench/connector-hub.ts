import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { resolveDeployment } from '../src/config/load.ts';
import { Hub } from '../src/hub.ts';
import { createLogger } from '../src/observability/logger.ts';
import { projectRoot } from './deployment.ts';
import { reply } from './server-ipc.ts';

/**
 * The hub for the connector benchmark (bench/connectors.ts), in its own process: the demo jurisdiction and rules,
 * every receiver on an ephemeral port, and the devices each connector's driver sends as (BENCH_CONNECTOR_DEVICES, a
 * JSON array of device descriptions the parent made). Answers `ready` with its ports; `stop` ends it.
 */

interface RawConfig {
  devices: Record<string, unknown>[];
  receivers?: Record<string, unknown>;
  network?: { outbound?: { cameras?: string[] } };
}

const benchDevices = JSON.parse(process.env.BENCH_CONNECTOR_DEVICES ?? '[]') as Record<string, unknown>[];
const raw = parse(readFileSync(path.join(projectRoot, 'config', 'demo.yaml'), 'utf8')) as RawConfig;
raw.devices = [...raw.devices, ...benchDevices];
// Every simulated panel and GB device sends from 127.0.0.1: the per-address rates, which hold back one flooding
// site, are lifted.
raw.receivers = {
  ...raw.receivers,
  http: { port: 0 },
  siaDc09: { port: 0, perSource: { messagesPerSecond: 10_000, burst: 100_000 } },
  gb28181: {
    ...(raw.receivers?.gb28181 as Record<string, unknown>),
    port: 0,
    registration: { perMinute: 6000, burst: 10_000 },
    messagesPerSecond: 10_000,
  },
};
const deployment = resolveDeployment(raw, adapterMap(adapters), 'connector bench configuration');
const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-connectors-'));
const hub = new Hub({
  deployment,
  runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
  host: '127.0.0.1',
  logger: createLogger(process.env.LOG_LEVEL ?? 'error'),
});

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code), 5_000).unref();
  await hub.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') void stop(0);
});
process.once('disconnect', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

hub.start().then(
  () =>
    reply({
      type: 'ready',
      http: hub.httpPort,
      mqtt: hub.mqttPort,
      devices: hub.deviceCount,
      deviceHttp: hub.deviceHttpPort,
      sia: hub.siaPort,
      gb28181: hub.gb28181Port,
    } as never),
  (error: unknown) => {
    process.stderr.write(`connector bench hub: ${(error as Error).stack ?? String(error)}\n`);
    void stop(1);
  },
);
