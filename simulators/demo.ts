import path from 'node:path';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { loadDeployment, readRuntimeSettings } from '../src/config/load.ts';
import { isGridhubError } from '../src/core/errors.ts';
import { Hub } from '../src/hub.ts';
import { createLogger } from '../src/observability/logger.ts';
import { GateSimulator } from './gate-access/gate-simulator.ts';
import { runGateScenario } from './gate-access/scenario.ts';

/**
 * `npm run demo`: the hub on the demo jurisdiction, plus a simulated controller for every gate in it, producing
 * a plausible stream of events (DEMO_RATE per second, default 2) until Ctrl-C.
 */
const projectRoot = path.resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const runtime = readRuntimeSettings(process.env, projectRoot);
  const deployment = loadDeployment(runtime.configPath, adapterMap(adapters));
  const hub = new Hub({
    deployment,
    runtime,
    host: '127.0.0.1',
    logger: createLogger(process.env.LOG_LEVEL ?? 'warn'),
  });
  await hub.start();

  const gates = deployment.devices.filter((device) => device.adapter.id === 'gate-access');
  const sims = gates.map(
    (device) =>
      new GateSimulator({
        url: `mqtt://127.0.0.1:${hub.mqttPort}`,
        deviceId: device.id,
        topicBase: deployment.settings.topicBase,
      }),
  );
  await Promise.all(sims.map((sim) => sim.start()));
  const rate = Number(process.env.DEMO_RATE ?? 2);
  process.stdout.write(
    [
      `gridhub demo: ${deployment.settings.name}`,
      `  http://localhost:${hub.httpPort}   mqtt://localhost:${hub.mqttPort}   ${sims.length} simulated gates, ${rate} events/s`,
      `  try: curl -H 'Authorization: Bearer demo-officer-qinghe' http://localhost:${hub.httpPort}/api/incidents?limit=5`,
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  hub.bus.on('incident:created', (incident) => {
    process.stdout.write(
      `${incident.severity.padEnd(8)} ${incident.title} · ${incident.chain[0]?.name} · ${incident.device.id}\n`,
    );
  });
  await runGateScenario(sims, { rate, signal: abort.signal });
  await Promise.all(sims.map((sim) => sim.stop()));
  await hub.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `gridhub demo: ${isGridhubError(error) ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  if (isGridhubError(error)) for (const problem of error.problems) process.stderr.write(`  - ${problem}\n`);
  process.exit(1);
});
