import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hub } from '../src/hub.ts';
import { createLogger } from '../src/observability/logger.ts';
import { benchDeployment } from './deployment.ts';
import { type ParentMessage, reply, serverStats } from './server-ipc.ts';

/** The hub in its own process for the benchmark: BENCH_DEVICES extra devices, ports chosen by the OS. */
const extra = Number(process.env.BENCH_DEVICES ?? 200);
const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-'));
const hub = new Hub({
  deployment: benchDeployment(extra),
  runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
  host: '127.0.0.1',
  logger: createLogger(process.env.LOG_LEVEL ?? 'error'),
});

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 5_000);
  timer.unref();
  await hub.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats')
    reply({ type: 'stats', ...serverStats(), devices: hub.broker.connectedClients });
  if (message.type === 'stop') void stop(0);
});
process.once('disconnect', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

hub.start().then(
  () => reply({ type: 'ready', http: hub.httpPort, mqtt: hub.mqttPort, devices: hub.registry.size }),
  (error: unknown) => {
    process.stderr.write(`bench hub: ${(error as Error).stack ?? String(error)}\n`);
    void stop(1);
  },
);
