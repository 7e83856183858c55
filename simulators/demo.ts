import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { loadDeployment, readRuntimeSettings } from '../src/config/load.ts';
import { isGridhubError } from '../src/core/errors.ts';
import { Hub } from '../src/hub.ts';
import { createLogger } from '../src/observability/logger.ts';
import { GateSimulator } from './gate-access/gate-simulator.ts';
import { runGateScenario } from './gate-access/scenario.ts';
import { runSentryScenario } from './sentry-box/scenario.ts';
import { SentrySimulator } from './sentry-box/sentry-simulator.ts';
import type { MqttDeviceOptions } from './shared/mqtt-device.ts';

/**
 * `npm run demo`: the hub on the demo jurisdiction, plus a simulated device for every gate and sentry box in it,
 * each with its own credentials from the config, heartbeating, and producing a plausible stream of events
 * (DEMO_RATE per second across the gates, default 2; the sentry boxes a fifth of that) until Ctrl-C.
 */
const projectRoot = path.resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const runtime = readRuntimeSettings(process.env, projectRoot);
  const deployment = loadDeployment(runtime.configPath, adapterMap(adapters));
  // The hub keeps only digests; the simulated devices need the secrets themselves, as written in the file.
  const secrets = new Map(
    (
      (parse(readFileSync(runtime.configPath, 'utf8')) as { devices?: { id: string; secret?: string }[] })
        .devices ?? []
    )
      .filter((device) => device.secret !== undefined)
      .map((device) => [device.id, device.secret as string]),
  );
  const hub = new Hub({
    deployment,
    runtime,
    host: '127.0.0.1',
    logger: createLogger(process.env.LOG_LEVEL ?? 'warn'),
  });
  await hub.start();

  const optionsFor = (deviceId: string): MqttDeviceOptions => ({
    url: `mqtt://127.0.0.1:${hub.mqttPort}`,
    deviceId,
    topicBase: deployment.settings.topicBase,
    heartbeatSeconds: 30,
    ...(secrets.has(deviceId) ? { secret: secrets.get(deviceId) as string } : {}),
  });
  const ofAdapter = (id: string) => deployment.devices.filter((device) => device.adapter.id === id);
  const gates = ofAdapter('gate-access').map((device) => new GateSimulator(optionsFor(device.id)));
  const sentries = ofAdapter('sentry-box').map((device) => new SentrySimulator(optionsFor(device.id)));
  await Promise.all([...gates, ...sentries].map((sim) => sim.start()));
  const rate = Number(process.env.DEMO_RATE ?? 2);
  process.stdout.write(
    [
      `gridhub demo: ${deployment.settings.name}`,
      `  http://localhost:${hub.httpPort}   mqtt://localhost:${hub.mqttPort}`,
      `  ${gates.length} simulated gates at ${rate} events/s, ${sentries.length} sentry boxes at ${rate / 5} events/s`,
      `  open http://localhost:${hub.httpPort}/ (token demo-officer-qinghe) or`,
      `  curl -H 'Authorization: Bearer demo-officer-qinghe' http://localhost:${hub.httpPort}/api/incidents?limit=5`,
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
  await Promise.all([
    runGateScenario(gates, { rate, signal: abort.signal }),
    runSentryScenario(sentries, { rate: rate / 5, signal: abort.signal }),
  ]);
  await Promise.all([...gates, ...sentries].map((sim) => sim.stop()));
  await hub.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `gridhub demo: ${isGridhubError(error) ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  if (isGridhubError(error)) for (const problem of error.problems) process.stderr.write(`  - ${problem}\n`);
  process.exit(1);
});
