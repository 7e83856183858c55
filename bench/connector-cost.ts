import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { parse } from 'yaml';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { resolveDeployment } from '../src/config/load.ts';
import { Hub } from '../src/hub.ts';

/**
 * `npx tsx bench/connector-cost.ts [events] [rate]`: the hub's ingest cost per event of each connector, side by
 * side: the same hub takes `events` events at `rate` per second from an MQTT gate (its broker thread included) and
 * from a Dahua device's eventManager stream (the HTTP client, the multipart reader and the part parser included).
 * Each event is one no rule raises an incident for, so what is measured is the connector and the ingest (schema,
 * decoder, event log, bus), not the incident pipeline. The devices run in a process of their own
 * (bench/connector-devices.ts); this process is the hub's alone, and its CPU time (every thread) is divided by the
 * events the hub decoded. CPU time, not wall time, so the figures hold on a busy machine.
 */
const args = process.argv.slice(2).map(Number);
const events = args[0] || 5_000;
const rate = args[1] || 1_000;
const projectRoot = path.resolve(import.meta.dirname, '..');
const configPath = path.join(projectRoot, 'config', 'demo.yaml');
const gateId = 'gate-xijiao-01-north';
const dahuaId = 'bench-dahua-1';

const devices = fork(path.join(import.meta.dirname, 'connector-devices.ts'), [], {
  execArgv: ['--import', 'tsx'],
});
const messages: Record<string, unknown>[] = [];
const waiting: (() => void)[] = [];
devices.on('message', (message: Record<string, unknown>) => {
  messages.push(message);
  for (const wake of waiting.splice(0)) wake();
});
async function from<Key extends string>(key: Key): Promise<unknown> {
  for (;;) {
    const found = messages.find((message) => key in message);
    if (found !== undefined) {
      messages.splice(messages.indexOf(found), 1);
      return found[key];
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-connectors-'));
let hub: Hub | undefined;
try {
  const url = (await from('ready')) as string;
  const file = parse(readFileSync(configPath, 'utf8')) as { devices: Record<string, unknown>[] };
  file.devices.push({
    id: dahuaId,
    name: 'Bench Dahua camera',
    adapter: 'dahua-cgi',
    grid: 'grid-xijiao-01',
    http: { url, username: 'admin', password: 'bench-dahua' },
  });
  hub = new Hub({
    deployment: resolveDeployment(file, adapterMap(adapters), configPath),
    runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath },
    logger: pino({ level: 'silent' }),
  });
  await hub.start();
  await from('attached');
  const decoded = new Map<string, number>();
  hub.bus.on('device:event', (event) => decoded.set(event.deviceId, (decoded.get(event.deviceId) ?? 0) + 1));

  const measure = async (name: string, deviceId: string, command: Record<string, unknown>) => {
    const seen = decoded.get(deviceId) ?? 0;
    const cpuBefore = process.cpuUsage();
    const loopBefore = performance.eventLoopUtilization();
    const began = performance.now();
    devices.send({ ...command, count: events, rate });
    while ((decoded.get(deviceId) ?? 0) - seen < events)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const cpu = process.cpuUsage(cpuBefore);
    const loop = performance.eventLoopUtilization(loopBefore);
    const seconds = (performance.now() - began) / 1000;
    await from('sent');
    process.stdout.write(
      `| ${name} | ${events} | ${rate} | ${(events / seconds).toFixed(0)} | ${((cpu.user + cpu.system) / events).toFixed(0)} | ${((loop.active * 1000) / events).toFixed(0)} |\n`,
    );
  };

  process.stdout.write(
    '| connector | events | offered/s | decoded/s | CPU µs/event (every thread) | event loop µs/event |\n|---|---:|---:|---:|---:|---:|\n',
  );
  // Each measured twice, alternating, so that neither runs on a colder hub than the other.
  for (let round = 0; round < 2; round++) {
    await measure('mqtt (embedded broker, QoS 1)', gateId, {
      run: 'mqtt',
      url: `mqtt://127.0.0.1:${hub.mqttPort}`,
      deviceId: gateId,
      secret: `demo-secret-${gateId}`,
    });
    await measure('dahua-cgi (eventManager stream)', dahuaId, { run: 'dahua' });
  }
} finally {
  devices.send({ run: 'stop' });
  await hub?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
