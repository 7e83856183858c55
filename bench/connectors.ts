import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ConnectorDriver, drivers, type HubPorts } from './connector-drivers.ts';
import { percentile, sampleProc } from './proc.ts';

/**
 * The ingest cost of each connector beside MQTT (`npm run bench -- --connectors`): one hub in its own process with
 * every receiver on, and for each connector its devices sending on their own wire, each send waiting for the hub's
 * acknowledgement (the commit). At each fixed rate, and in a closed loop (every device sends again as soon as it is
 * answered), it reports what the hub acknowledged, the acknowledgement's latency, and the hub's CPU time per event,
 * as a ratio to MQTT's measured in the same run: the machines are shared and noisy, so only same-run ratios mean
 * something. BENCH_CONNECTOR_RATES=200,1000 BENCH_SECONDS=8 BENCH_CONNECTOR_SENDERS=20 BENCH_ROUNDS=1, and
 * BENCH_CONNECTORS=gb28181,sia-dc09 to run only those (MQTT always runs: the ratios are to it).
 */

const rates = (process.env.BENCH_CONNECTOR_RATES ?? '200,1000')
  .split(',')
  .map(Number)
  .filter((rate) => rate > 0 && rate <= 50_000);
const seconds = Math.min(60, Math.max(2, Number(process.env.BENCH_SECONDS) || 8));
const senders = Math.min(200, Math.max(1, Number(process.env.BENCH_CONNECTOR_SENDERS) || 20));
const rounds = Math.min(5, Math.max(1, Number(process.env.BENCH_ROUNDS) || 1));
const settleMs = 1_000;
const only = process.env.BENCH_CONNECTORS?.split(',').map((name) => name.trim());
const chosen = drivers.filter(
  (driver) => only === undefined || driver.name === 'mqtt' || only.includes(driver.name),
);

interface Row {
  readonly connector: string;
  /** Offered events/s; 0 for the closed loop. */
  readonly rate: number;
  readonly acked: number;
  readonly ackedPerSecond: number;
  readonly shed: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly hubCpuPercent: number;
  /** The hub's CPU in the window less what it spends idle (its sweeps and timers), per acknowledged event. */
  readonly cpuMicrosPerEvent: number;
}

/** How much CPU the hub spends with nothing arriving (ms per second): taken from every window's figure. */
async function idleCpuMsPerSecond(hubPid: number): Promise<number> {
  const before = sampleProc(hubPid);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const after = sampleProc(hubPid);
  if (before === undefined || after === undefined) return 0;
  return ((after.cpuMs - before.cpuMs) * 1000) / (after.at - before.at);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function startHub(
  devices: readonly Record<string, unknown>[],
): Promise<{ child: ChildProcess; ports: HubPorts }> {
  const child = fork(path.join(import.meta.dirname, 'connector-hub.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_CONNECTOR_DEVICES: JSON.stringify(devices) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ports = await new Promise<HubPorts>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the hub did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the hub exited with ${code}`)));
    child.on('message', (message: { type: string } & HubPorts) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve({
        mqtt: message.mqtt,
        deviceHttp: message.deviceHttp,
        sia: message.sia,
        gb28181: message.gb28181,
      });
    });
  });
  return { child, ports };
}

/**
 * Sends at `rate` events/s (0: closed loop) for the window, after a settling second that is not measured. Each
 * device has at most one event in flight; an event due when every device is waiting is shed and counted.
 */
async function measure(
  driver: ConnectorDriver,
  rate: number,
  hubPid: number,
  idleMsPerSecond: number,
): Promise<Row> {
  const latencies: number[] = [];
  let acked = 0;
  let shed = 0;
  let errors = 0;
  let measuring = false;
  const idle: number[] = Array.from({ length: driver.senders }, (_, index) => index);
  const sendOne = (sender: number): void => {
    const started = performance.now();
    driver.send(sender).then(
      () => {
        if (measuring) {
          acked += 1;
          latencies.push(performance.now() - started);
        }
        idle.push(sender);
        if (rate === 0 && running) sendOne(idle.shift() as number);
      },
      () => {
        if (measuring) errors += 1;
        idle.push(sender);
      },
    );
  };
  let running = true;
  const begun = performance.now();
  let issued = 0;
  let ticker: NodeJS.Timeout | undefined;
  if (rate === 0) {
    for (const sender of idle.splice(0)) sendOne(sender);
  } else {
    ticker = setInterval(() => {
      const due = Math.floor(((performance.now() - begun) / 1000) * rate) - issued;
      for (let index = 0; index < due; index++) {
        issued += 1;
        const sender = idle.shift();
        if (sender === undefined) {
          if (measuring) shed += 1;
        } else sendOne(sender);
      }
    }, 2);
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  measuring = true;
  const before = sampleProc(hubPid);
  const windowStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = sampleProc(hubPid);
  const windowMs = performance.now() - windowStart;
  measuring = false;
  running = false;
  clearInterval(ticker);
  // Let what is in flight land before the next window, so it does not count there.
  const drainUntil = Date.now() + 10_000;
  while (idle.length < driver.senders && Date.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  latencies.sort((a, b) => a - b);
  const cpuMs = before === undefined || after === undefined ? 0 : after.cpuMs - before.cpuMs;
  const busyMs = Math.max(0, cpuMs - (idleMsPerSecond * windowMs) / 1000);
  return {
    connector: driver.name,
    rate,
    acked,
    ackedPerSecond: (acked * 1000) / windowMs,
    shed,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    hubCpuPercent: (cpuMs / windowMs) * 100,
    cpuMicrosPerEvent: acked === 0 ? 0 : (busyMs * 1000) / acked,
  };
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

function table(rows: readonly Row[]): string {
  const mqttCost = (rate: number) =>
    rows.find((row) => row.connector === 'mqtt' && row.rate === rate)?.cpuMicrosPerEvent ?? 0;
  const lines = [
    '| connector | offered/s | acked/s | p50 ms | p99 ms | hub CPU % | CPU µs/event | × MQTT | shed | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const ratio = mqttCost(row.rate) > 0 ? row.cpuMicrosPerEvent / mqttCost(row.rate) : 0;
    lines.push(
      `| ${row.connector} | ${row.rate === 0 ? 'closed loop' : row.rate} | ${fmt(row.ackedPerSecond, 0)} | ${fmt(row.p50Ms)} | ${fmt(row.p99Ms)} | ${fmt(row.hubCpuPercent, 0)} | ${fmt(row.cpuMicrosPerEvent, 0)} | ${fmt(ratio, 2)} | ${row.shed} | ${row.errors} |`,
    );
  }
  return lines.join('\n');
}

/** Medians over rounds, by connector and rate. */
function medians(all: readonly Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of all) {
    const key = `${row.connector}@${row.rate}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort((a, b) => a.cpuMicrosPerEvent - b.cpuMicrosPerEvent);
    return sorted[Math.floor(sorted.length / 2)] as Row;
  });
}

export async function runConnectorBench(): Promise<void> {
  log(`connector bench: ${chosen.map((driver) => driver.name).join(', ')}; ${senders} devices each`);
  log(`rates ${rates.join(', ')} and a closed loop; ${seconds} s windows; ${rounds} round(s)`);
  const prepared = await Promise.all(chosen.map((driver) => driver.prepare(senders)));
  const { child, ports } = await startHub(prepared.flatMap((driver) => driver.devices));
  const hubPid = child.pid as number;
  const rows: Row[] = [];
  let idleMsPerSecond = 0;
  try {
    const opened = await Promise.all(prepared.map((driver) => driver.open(ports)));
    idleMsPerSecond = await idleCpuMsPerSecond(hubPid);
    log(`  the hub idle: ${fmt(idleMsPerSecond / 10)} % of a core, taken from every window`);
    for (let round = 0; round < rounds; round++) {
      for (const rate of [...rates, 0]) {
        // Alternate the order each round, so no connector always runs on a warmer hub.
        const order = round % 2 === 0 ? opened : [...opened].reverse();
        for (const driver of order) {
          // A stream has no acknowledgement to pace a closed loop by.
          if (rate === 0 && !driver.acknowledged) continue;
          const row = await measure(driver, rate, hubPid, idleMsPerSecond);
          log(
            `  ${row.connector} @ ${rate === 0 ? 'closed loop' : `${rate}/s`}: ${fmt(row.ackedPerSecond, 0)} acked/s, p99 ${fmt(row.p99Ms)} ms, ${fmt(row.cpuMicrosPerEvent, 0)} µs CPU/event`,
          );
          rows.push(row);
        }
      }
    }
    await Promise.all(opened.map((driver) => driver.close()));
  } finally {
    child.send({ type: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
  }
  const summary = medians(rows);
  const text = table(summary);
  process.stdout.write(`\n## Ingest cost per connector\n\n${text}\n`);
  const directory = path.join(import.meta.dirname, 'results');
  mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `connectors-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, senders, seconds, rounds, idleCpuMsPerSecond: idleMsPerSecond, rows: summary, all: rows }, null, 2)}\n`,
  );
  log(`results: ${path.relative(process.cwd(), file)}`);
}
