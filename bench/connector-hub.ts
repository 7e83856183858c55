import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { resolveDeployment } from '../src/config/load.ts';
import { Hub } from '../src/hub.ts';
import { createLogger } from '../src/observability/logger.ts';
import { benchDevices } from './deployment.ts';

/**
 * The hub of `npm run bench -- --connectors`, in its own process so that its CPU time is its own: the bench
 * deployment, the device HTTP listener on a free port, a Hikvision device that pushes (`bench-hik-push`) and one
 * whose alert stream it follows (`bench-hik-stream`, at BENCH_HIK_STREAM_URL). It tells its parent its ports, and
 * answers `cpu` with its CPU time and the events it decoded per device.
 */
const pushSecret = process.env.BENCH_HIK_PUSH_SECRET ?? 'bench-hik-push-01';

const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-connectors-'));
const { raw } = benchDevices(0);
const config = raw as unknown as { devices: unknown[]; receivers: unknown };
config.receivers = { http: { port: 0 } };
config.devices.push(
  {
    id: 'bench-hik-push',
    name: 'Bench Hikvision push',
    adapter: 'hikvision-isapi',
    grid: 'grid-xijiao-01',
    secret: pushSecret,
  },
  {
    id: 'bench-hik-stream',
    name: 'Bench Hikvision stream',
    adapter: 'hikvision-isapi',
    grid: 'grid-xijiao-01',
    http: { url: process.env.BENCH_HIK_STREAM_URL, username: 'admin', password: 'bench-hik-stream' },
  },
);
const deployment = resolveDeployment(config, adapterMap(adapters), 'bench connectors');
const hub = new Hub({
  deployment,
  runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
  host: '127.0.0.1',
  logger: createLogger(process.env.LOG_LEVEL ?? 'error'),
});
const decoded = new Map<string, number>();
hub.bus.on('device:event', (event) => decoded.set(event.deviceId, (decoded.get(event.deviceId) ?? 0) + 1));

process.on('message', (message: { type: string }) => {
  if (message.type === 'cpu') {
    process.send?.({ type: 'cpu', usage: process.cpuUsage(), decoded: Object.fromEntries(decoded) });
  } else if (message.type === 'stop') {
    void hub.stop().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});

await hub.start();
process.send?.({
  type: 'ready',
  mqttPort: hub.mqttPort,
  deviceHttpPort: hub.deviceHttpPort,
  topicBase: deployment.settings.topicBase,
});
