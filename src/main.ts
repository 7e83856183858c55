import path from 'node:path';
import { z } from 'zod';
import { adapters } from '../devices/index.ts';
import { adapterMap } from './adapters.ts';
import { loadDeployment, readRuntimeSettings } from './config/load.ts';
import { GridhubError, isGridhubError } from './core/errors.ts';
import { Hub } from './hub.ts';
import { createLogger } from './observability/logger.ts';

/** `npm start`: the hub on the configuration named by GRIDHUB_CONFIG, by default the demo jurisdiction. */
const projectRoot = path.resolve(import.meta.dirname, '..');

/**
 * How long a stop may take: past it the process exits with 1 and says which step was still stopping, so a
 * supervisor (systemd's TimeoutStopSec, Docker's stop grace period: both set longer) never has to kill it blind.
 */
const stopTimeoutSchema = z.coerce.number().int().min(1).max(600).default(10);

async function main(): Promise<void> {
  const runtime = readRuntimeSettings(process.env, projectRoot);
  const deployment = loadDeployment(runtime.configPath, adapterMap(adapters));
  const logger = createLogger();
  // Loopback unless HOST says otherwise: `npm start` runs the demo, whose secrets are public (see demo-guard.ts).
  const host = process.env.HOST?.trim() || '127.0.0.1';
  const hub = new Hub({ deployment, runtime, host, logger });
  const stopTimeout = stopTimeoutSchema.safeParse(process.env.STOP_TIMEOUT_SECONDS);
  if (!stopTimeout.success)
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', 'invalid environment', {
      problems: ['STOP_TIMEOUT_SECONDS: must be a whole number of seconds from 1 to 600'],
    });
  // Signal handlers go in before the hub says it is ready: a SIGTERM with no listener kills the process outright.
  let stopRequested = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    const log = logger.child({ ns: 'hub' });
    if (stopRequested) {
      // A second Ctrl-C: the operator does not want to wait.
      log.warn({ signal, step: hub.stopping }, 'second signal while stopping: exiting now');
      process.exit(1);
    }
    stopRequested = true;
    log.info({ signal, timeoutSeconds: stopTimeout.data }, 'stopping');
    const deadline = setTimeout(() => {
      log.error(
        { signal, timeoutSeconds: stopTimeout.data, step: hub.stopping },
        `did not stop within ${stopTimeout.data} s: exiting with the ${hub.stopping ?? 'hub'} step still stopping`,
      );
      process.exit(1);
    }, stopTimeout.data * 1000);
    hub.stop().then(
      () => {
        clearTimeout(deadline);
        log.info({ signal }, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        log.error({ signal, err: error, step: hub.stopping }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  await hub.start();
  const secure = deployment.tls;
  const http = secure?.http ? 'https' : 'http';
  const mqtt = secure?.mqtt ? 'mqtts' : 'mqtt';
  process.stdout.write(
    `gridhub: ${deployment.settings.name} — ${http}://localhost:${hub.httpPort} · ${mqtt}://localhost:${hub.mqttPort}` +
      (hub.deviceHttpPort === 0 ? '' : ` · device push on ${hub.deviceHttpPort}`) +
      (hub.siaPort === 0 ? '' : ` · SIA DC-09 on ${hub.siaPort} (tcp+udp)`) +
      (hub.gb28181Port === 0 ? '' : ` · GB/T 28181 SIP on ${hub.gb28181Port} (udp+tcp)`) +
      ` · ${hub.deviceCount} devices · data in ${runtime.dataDir}\n`,
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
