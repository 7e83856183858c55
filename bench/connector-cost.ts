import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { adapters } from '../devices/index.ts';
import { GateSimulator } from '../simulators/gate-access/gate-simulator.ts';
import { attlogLine, rtlogLine } from '../simulators/zkteco/records.ts';
import { ZktecoTerminal } from '../simulators/zkteco/zkteco-terminal.ts';
import { adapterMap } from '../src/adapters.ts';
import { resolveDeployment } from '../src/config/load.ts';
import { Hub } from '../src/hub.ts';
import { projectRoot } from './deployment.ts';

/**
 * `npm run bench:connectors` (BENCH_CONNECTOR_EVENTS=N, default 3000): the ingest cost per event of each connector
 * beside MQTT. One hub in this process on the demo deployment, and a device of each connector sending access-granted
 * events one after another, each awaited to its acknowledgement (PUBACK, an HTTP 200): the process's CPU time and the
 * wall time per event. The devices run in this process too, so each figure includes its client's own cost (an MQTT
 * client's, an HTTP client's): compare the connectors with each other, not with `npm run bench`'s hub-only figures.
 *
 * A connector is a driver in `drivers`: a name and how to send n events through it. Add yours beside these.
 */

interface Driver {
  readonly name: string;
  /** Events one send carries (an upload of several records counts each). */
  readonly eventsPerSend: number;
  start(hub: Hub): Promise<{ send(): Promise<void>; stop(): Promise<void> }>;
}

const terminalSerial = 'BENCH00000001';

const drivers: readonly Driver[] = [
  {
    name: 'mqtt (gate-access, QoS 1)',
    eventsPerSend: 1,
    start: async (hub) => {
      const gate = new GateSimulator({
        url: `mqtt://127.0.0.1:${hub.mqttPort}`,
        deviceId: 'gate-xijiao-01-north',
        secret: 'demo-secret-gate-xijiao-01-north',
        heartbeatSeconds: 0,
      });
      await gate.start();
      return { send: async () => void (await gate.grant()), stop: () => gate.stop() };
    },
  },
  {
    name: 'zkteco-adms (rtlog, one record an upload)',
    eventsPerSend: 1,
    start: async (hub) => {
      const terminal = new ZktecoTerminal({
        url: `http://127.0.0.1:${hub.deviceHttpPort}`,
        serial: terminalSerial,
      });
      await terminal.register();
      let index = 0;
      return {
        send: async () => {
          index += 1;
          const line = rtlogLine({
            time: terminal.now(),
            pin: '1001',
            card: '31415926',
            door: 1,
            event: 0,
            inOut: 0,
            verify: 4,
            index,
          });
          const answer = await terminal.upload('rtlog', [line]);
          if (answer.status !== 200) throw new Error(`upload refused: ${answer.status}`);
        },
        stop: () => terminal.stop(),
      };
    },
  },
  {
    name: 'zkteco-adms (ATTLOG, 100 records an upload)',
    eventsPerSend: 100,
    start: async (hub) => {
      const terminal = new ZktecoTerminal({
        url: `http://127.0.0.1:${hub.deviceHttpPort}`,
        serial: terminalSerial,
        mode: 'attendance',
      });
      await terminal.register();
      return {
        send: async () => {
          const time = terminal.now();
          const lines = Array.from({ length: 100 }, (_, index) =>
            attlogLine({ pin: String(10_000_000 + index), time, status: 0, verify: 1 }),
          );
          const answer = await terminal.upload('ATTLOG', lines);
          if (answer.status !== 200) throw new Error(`upload refused: ${answer.status}`);
        },
        stop: () => terminal.stop(),
      };
    },
  },
];

async function measure(hub: Hub, driver: Driver, events: number) {
  const sender = await driver.start(hub);
  const sends = Math.max(1, Math.round(events / driver.eventsPerSend));
  for (let i = 0; i < Math.min(50, sends); i += 1) await sender.send();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < sends; i += 1) await sender.send();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await sender.stop();
  const measured = sends * driver.eventsPerSend;
  return {
    connector: driver.name,
    events: measured,
    cpuMicrosPerEvent: Math.round((used.user + used.system) / measured),
    wallMicrosPerEvent: Math.round((wallMs * 1000) / measured),
    eventsPerSecond: Math.round(measured / (wallMs / 1000)),
  };
}

async function main(): Promise<void> {
  const events = Math.max(100, Number(process.env.BENCH_CONNECTOR_EVENTS) || 3000);
  const raw = parse(readFileSync(path.join(projectRoot, 'config', 'demo.yaml'), 'utf8')) as {
    devices: Record<string, unknown>[];
    receivers?: unknown;
  };
  raw.receivers = { http: { port: 0 } };
  raw.devices.push({
    id: 'bench-zkteco',
    name: 'Bench ZKTeco terminal',
    adapter: 'zkteco-adms',
    serial: terminalSerial,
    grid: 'grid-xijiao-01',
  });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gridhub-bench-connectors-'));
  const hub = new Hub({
    deployment: resolveDeployment(raw, adapterMap(adapters), 'bench'),
    runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: 'bench' },
    logger: pino({ level: 'silent' }),
  });
  await hub.start();
  try {
    const rows = [];
    for (const driver of drivers) rows.push(await measure(hub, driver, events));
    console.table(rows);
  } finally {
    await hub.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench connectors: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
