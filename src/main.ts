import path from 'node:path';
import { adapters } from '../devices/index.ts';
import { adapterMap } from './adapters.ts';
import { loadDeployment, readRuntimeSettings } from './config/load.ts';
import { isGridhubError } from './core/errors.ts';
import { Hub } from './hub.ts';
import { createLogger } from './observability/logger.ts';

/** `npm start`: the hub on the configuration named by GRIDHUB_CONFIG, by default the demo jurisdiction. */
const projectRoot = path.resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const runtime = readRuntimeSettings(process.env, projectRoot);
  const deployment = loadDeployment(runtime.configPath, adapterMap(adapters));
  // Loopback unless HOST says otherwise: `npm start` runs the demo, whose secrets are public (see demo-guard.ts).
  const host = process.env.HOST?.trim() || '127.0.0.1';
  const hub = new Hub({ deployment, runtime, host, logger: createLogger() });
  // Signal handlers go in before the hub says it is ready: a SIGTERM with no listener kills the process outright.
  const shutdown = (): void => {
    hub.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  await hub.start();
  const secure = deployment.tls;
  const http = secure?.http ? 'https' : 'http';
  const mqtt = secure?.mqtt ? 'mqtts' : 'mqtt';
  process.stdout.write(
    `gridhub: ${deployment.settings.name} — ${http}://localhost:${hub.httpPort} · ${mqtt}://localhost:${hub.mqttPort}` +
      ` · ${hub.registry.size} devices · data in ${runtime.dataDir}\n`,
  );
}

main().catch((error: unknown) => {
  if (isGridhubError(error)) {
    // A configuration fault: one clear line, then every problem, and no stack trace.
    process.stderr.write(`gridhub: ${error.message} [${error.code}]\n`);
    for (const problem of error.problems) process.stderr.write(`  - ${problem}\n`);
  } else {
    process.stderr.write(`gridhub: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
});
