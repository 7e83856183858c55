import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { type HttpAnswer, ZktecoTerminal } from './zkteco-terminal.ts';

export const zktecoUsage = `Usage: npm run sim -- zkteco [options]

Simulated ZKTeco terminals speaking ADMS (iclock HTTP push) to a gridhub device HTTP listener
(receivers.http): they register, poll for commands every Delay seconds, run the remote door opens they
get, and upload access events (rtlog) or punches (ATTLOG).

  --url URL          the device HTTP listener (default http://127.0.0.1:8088)
  --serial SN        a terminal's serial number; repeat for several
  --config FILE      every zkteco-adms device's serial in a gridhub config file; added to any --serial
  --mode MODE        access (rtlog, the default) or attendance (ATTLOG)
  --rate N           events per second across all terminals (default 0.5; 0: poll only, until Ctrl-C)
  --count N          stop after N events
  --event KIND       one event from each terminal and exit:
                       swipe | denied | forced | held | duress | tamper | antipassback | door-open |
                       door-closed | garbage
  --skew SECONDS     the terminals' clocks are this far off
  -h, --help         this text

Example:
  npm run sim -- zkteco --config config/demo.yaml --url http://127.0.0.1:8088 --rate 1
`;

const oneShots: Readonly<Record<string, (terminal: ZktecoTerminal) => Promise<HttpAnswer>>> = {
  swipe: (terminal) => terminal.swipe(randomCard()),
  denied: (terminal) => terminal.swipe(randomCard(), false),
  forced: (terminal) => terminal.forceDoor(),
  held: (terminal) => terminal.holdDoor(),
  duress: (terminal) => terminal.duress(),
  tamper: (terminal) => terminal.tamper(),
  antipassback: (terminal) => terminal.antiPassback(randomCard()),
  'door-open': (terminal) => terminal.doorState(true),
  'door-closed': (terminal) => terminal.doorState(false),
  garbage: (terminal) => terminal.sendGarbage(),
};

/** What a scenario sends, weighted as a compound's gate sees it: mostly cards, now and then an alarm. */
const weighted: readonly [string, number][] = [
  ['swipe', 70],
  ['denied', 12],
  ['door-open', 6],
  ['door-closed', 6],
  ['held', 3],
  ['forced', 1],
  ['antipassback', 1],
  ['tamper', 1],
];

function randomCard(): string {
  return String(10_000_000 + Math.floor(Math.random() * 89_999_999));
}

function pick(): string {
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = Math.random() * total;
  for (const [kind, weight] of weighted) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'swipe';
}

/** The serial numbers of a config file's zkteco-adms devices. */
export function configSerials(configPath: string): string[] {
  const config = parse(readFileSync(configPath, 'utf8')) as { devices?: unknown } | null;
  const devices = Array.isArray(config?.devices) ? config.devices : [];
  return devices.flatMap((device: unknown) => {
    const { adapter, serial } = (device ?? {}) as Record<string, unknown>;
    return adapter === 'zkteco-adms' && typeof serial === 'string' ? [serial] : [];
  });
}

/** Runs a scenario on started terminals until `count` events or the signal; resolves with the number sent. */
export async function runZktecoScenario(
  terminals: readonly ZktecoTerminal[],
  options: {
    rate: number;
    count?: number;
    signal: AbortSignal;
    onEvent?: (terminal: ZktecoTerminal, kind: string) => void;
  },
): Promise<number> {
  let sent = 0;
  if (options.rate === 0) {
    await new Promise<void>((resolve) =>
      options.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    return 0;
  }
  while (!options.signal.aborted && (options.count === undefined || sent < options.count)) {
    const terminal = terminals[sent % terminals.length] as ZktecoTerminal;
    const kind = terminal.mode === 'attendance' ? 'swipe' : pick();
    await oneShots[kind]?.(terminal).catch(() => undefined);
    options.onEvent?.(terminal, kind);
    sent++;
    // Abortable: Ctrl-C ends the wait at once, not after it.
    await sleep(1000 / options.rate, undefined, { signal: options.signal }).catch(() => undefined);
  }
  return sent;
}

function fail(message: string): never {
  process.stderr.write(`sim zkteco: ${message}\n\n${zktecoUsage}`);
  process.exit(2);
}

export async function zktecoMain(argv: readonly string[]): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(zktecoUsage);
    return;
  }
  const mode = values.mode;
  if (mode !== 'access' && mode !== 'attendance') fail('--mode is access or attendance');
  const rate = Number(values.rate);
  if (!(rate >= 0 && rate <= 1000)) fail('--rate must be 0 to 1000 events per second');
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !(Number.isInteger(count) && count > 0))
    fail('--count must be a positive integer');
  const skew = Number(values.skew);
  if (!Number.isFinite(skew)) fail('--skew must be a number of seconds');
  const serials = [
    ...new Set([...values.serial, ...(values.config === undefined ? [] : configSerials(values.config))]),
  ];
  if (serials.length === 0) fail('give at least one --serial or a --config with zkteco-adms devices');
  const oneShot = values.event === undefined ? undefined : oneShots[values.event];
  if (values.event !== undefined && oneShot === undefined)
    fail(`unknown --event "${values.event}"; one of: ${Object.keys(oneShots).join(', ')}`);

  const terminals = serials.map(
    (serial) => new ZktecoTerminal({ url: values.url, serial, mode, clockSkewMs: skew * 1000 }),
  );
  const started = await Promise.allSettled(terminals.map((terminal) => terminal.start()));
  const running = terminals.filter((terminal, index) => {
    const result = started[index];
    if (result?.status === 'rejected')
      process.stderr.write(`sim zkteco: ${terminal.serial}: ${(result.reason as Error).message}\n`);
    return result?.status === 'fulfilled';
  });
  process.stdout.write(
    `sim zkteco: ${running.length} of ${terminals.length} terminal(s) registered at ${values.url}\n`,
  );
  if (running.length === 0) {
    process.exitCode = 1;
    return;
  }
  if (oneShot !== undefined) {
    const answers = await Promise.all(running.map(oneShot));
    process.stdout.write(
      `sim zkteco: sent ${values.event}: ${answers.map((answer) => answer.status).join(', ')}\n`,
    );
  } else {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const sent = await runZktecoScenario(running, {
      rate,
      ...(count === undefined ? {} : { count }),
      signal: abort.signal,
      onEvent: (terminal, kind) => process.stdout.write(`${terminal.serial} ${kind}\n`),
    });
    process.stdout.write(
      `sim zkteco: sent ${sent} event(s); ran ${running.reduce((n, t) => n + t.executed.length, 0)} command(s)\n`,
    );
  }
  await Promise.all(running.map((terminal) => terminal.stop()));
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8088' },
      serial: { type: 'string', multiple: true, default: [] },
      config: { type: 'string' },
      mode: { type: 'string', default: 'access' },
      rate: { type: 'string', default: '0.5' },
      count: { type: 'string' },
      event: { type: 'string' },
      skew: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
