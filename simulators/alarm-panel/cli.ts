import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { AlarmPanelSimulator, type Report } from './alarm-panel.ts';
import { readAnswer } from './dc09-sender.ts';
import { runAlarmPanelScenario } from './scenario.ts';

const usage = `Usage: npm run sim -- alarm-panel --port PORT [options]

Simulated alarm panels (sentry-box panels, one-key alarm pillars 一键报警柱) that report to a SIA DC-09 receiver
(the hub's receivers.siaDc09) over TCP or UDP: Contact ID or SIA DCS, in the clear or AES-encrypted, NULL
supervision, each message retried until answered, with faults a receiver must survive.

  --host H                receiver address (default 127.0.0.1)
  --port P                receiver port (the hub logs it: "SIA DC-09 receiver listening")
  --transport tcp|udp     default tcp
  --account HEX           a panel's account; or --config
  --key HEX               its AES key in hexadecimal (32, 48 or 64 digits); --key-text T for a text key
  --config FILE           every alarm-panel-cid device of a gridhub config file (e.g. config/demo.yaml), with
                          its sia account and key
  --protocol cid|dcs      Contact ID (default) or SIA DCS
  --receiver HEX --line HEX   the Rrcvr and Lpref the panel sends (default: none and 0)
  --supervision SECONDS   NULL supervision period (default 60; 0 sends none)
  --rate N                events per second across the panels (default 0.2; 0: supervision only, until Ctrl-C)
  --count N               stop after N events
  --event KIND            send one message from each panel and exit:
                            alarm | restore | panic | duress | fire | medical | tamper | mains-lost |
                            mains-restored | open | close | test | null | garbage | retransmit | drop
  --zone N --user N       the zone of an alarm (default 1), the user of open/close (default 1)
  Faults: --bad-crc, --wrong-key, --skew SECONDS (the panel's clock off), --slow MS (a byte every MS, TCP)
  -h, --help              this text

Examples:
  npm run sim -- alarm-panel --config config/demo.yaml --port 12300
  npm run sim -- alarm-panel --port 12300 --account A1020 --event alarm --zone 3
  npm run sim -- alarm-panel --port 12300 --account B1303 --key 00112233445566778899AABBCCDDEEFF --protocol dcs --transport udp --event panic --skew 90
`;

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n\n${usage}`);
  process.exit(2);
}

interface PanelIdentity {
  readonly id: string;
  readonly account: string;
  readonly key?: Buffer;
}

/** The alarm panels of a gridhub config file: their sia account and key, loosely checked. */
function configPanels(configPath: string): PanelIdentity[] {
  let config: unknown;
  try {
    config = parse(readFileSync(configPath, 'utf8'));
  } catch (error) {
    fail(`cannot read --config ${configPath}: ${(error as Error).message}`);
  }
  const devices = (config as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices)) return [];
  return devices.flatMap((device: unknown) => {
    const { id, adapter, sia } = (device ?? {}) as Record<string, unknown>;
    const { account, key, keyEncoding } = (sia ?? {}) as Record<string, unknown>;
    if (adapter !== 'alarm-panel-cid' || typeof id !== 'string' || typeof account !== 'string') return [];
    // A key given as {env} or {file} is not read here: pass --key for such a panel.
    const keyBytes =
      typeof key === 'string' ? Buffer.from(key, keyEncoding === 'text' ? 'utf8' : 'hex') : undefined;
    return [{ id, account, ...(keyBytes === undefined ? {} : { key: keyBytes }) }];
  });
}

const oneShots: Readonly<
  Record<string, (sim: AlarmPanelSimulator, zone: number, user: number) => Promise<unknown>>
> = {
  alarm: (sim, zone) => sim.alarm(zone),
  restore: (sim, zone) => sim.restore(zone),
  panic: (sim, zone) => sim.alarm(zone, 'panic'),
  duress: (sim, zone) => sim.alarm(zone, 'duress'),
  fire: (sim, zone) => sim.alarm(zone, 'fire'),
  medical: (sim, zone) => sim.alarm(zone, 'medical'),
  tamper: (sim, zone) => sim.alarm(zone, 'tamper'),
  'mains-lost': (sim) => sim.alarm(0, 'mains'),
  'mains-restored': (sim) => sim.restore(0, 'mains'),
  open: (sim, _zone, user) => sim.open(user),
  close: (sim, _zone, user) => sim.close(user),
  test: (sim) => sim.testReport(),
  null: (sim) => sim.supervise(),
  garbage: (sim) => sim.garbage(),
  retransmit: async (sim, zone) => {
    await sim.alarm(zone);
    return sim.retransmit();
  },
  drop: (sim) => sim.dropMidMessage(),
};

function describe(result: unknown): string {
  if (Buffer.isBuffer(result)) return `answered ${readAnswer(result).kind}`;
  const report = result as Report | undefined;
  if (report?.answer === undefined) return report === undefined ? 'sent' : 'no answer';
  return `answered ${report.answer.kind}${report.answer.encrypted ? ' (encrypted)' : ''} after ${report.attempts} attempt(s)`;
}

export async function runAlarmPanelCli(args: readonly string[]): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const port = Number(values.port);
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) fail('give the receiver --port');
  if (values.transport !== 'tcp' && values.transport !== 'udp') fail('--transport is tcp or udp');
  if (values.protocol !== 'cid' && values.protocol !== 'dcs') fail('--protocol is cid or dcs');
  const key =
    values.key !== undefined
      ? Buffer.from(values.key, 'hex')
      : values['key-text'] !== undefined
        ? Buffer.from(values['key-text'], 'utf8')
        : undefined;
  if (key !== undefined && ![16, 24, 32].includes(key.length)) fail('an AES key is 16, 24 or 32 bytes');
  const panels: PanelIdentity[] = [
    ...(values.account === undefined
      ? []
      : [{ id: values.account, account: values.account.toUpperCase(), ...(key ? { key } : {}) }]),
    ...(values.config === undefined ? [] : configPanels(values.config)),
  ];
  if (panels.length === 0) fail('give an --account, or a --config with alarm-panel-cid devices');
  const oneShot = values.event === undefined ? undefined : oneShots[values.event];
  if (values.event !== undefined && oneShot === undefined)
    fail(`unknown --event "${values.event}"; one of: ${Object.keys(oneShots).join(', ')}`);

  const sims = panels.map(
    (panel) =>
      new AlarmPanelSimulator({
        host: values.host,
        port,
        transport: values.transport as 'tcp' | 'udp',
        account: panel.account,
        ...(panel.key === undefined ? {} : { key: panel.key }),
        protocol: values.protocol === 'dcs' ? 'SIA-DCS' : 'ADM-CID',
        ...(values.receiver === undefined ? {} : { receiver: values.receiver.toUpperCase() }),
        line: (values.line ?? '0').toUpperCase(),
      }),
  );
  for (const sim of sims) {
    sim.faults.badCrc = values['bad-crc'];
    if (values['wrong-key']) sim.faults.wrongKey = Buffer.alloc(sim.options.key?.length ?? 16, 0x5a);
    sim.faults.clockSkewMs = Number(values.skew) * 1000;
    sim.faults.slowWriteMs = Number(values.slow);
  }
  const name = (sim: AlarmPanelSimulator) => panels[sims.indexOf(sim)]?.id ?? sim.options.account;

  if (oneShot !== undefined) {
    const zone = Number(values.zone);
    const user = Number(values.user);
    for (const sim of sims)
      process.stdout.write(`${name(sim)} ${values.event}: ${describe(await oneShot(sim, zone, user))}\n`);
    await Promise.all(sims.map((sim) => sim.stop()));
    return;
  }
  const supervision = Number(values.supervision);
  if (supervision > 0) for (const sim of sims) sim.startSupervision(supervision);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  process.stdout.write(
    `sim: ${sims.length} alarm panel(s) reporting to ${values.host}:${port} over ${values.transport}\n`,
  );
  const count = values.count === undefined ? undefined : Number(values.count);
  const sent = await runAlarmPanelScenario(sims, {
    rate: Number(values.rate),
    ...(count === undefined ? {} : { count }),
    signal: abort.signal,
    onEvent: (sim, act) => process.stdout.write(`${name(sim)} ${act.event}: ${act.answer}\n`),
    onError: (sim, error) => process.stderr.write(`${name(sim)}: ${error.message}\n`),
  });
  process.stdout.write(`sim: sent ${sent} event(s)\n`);
  await Promise.all(sims.map((sim) => sim.stop()));
}

function parseOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: false,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      transport: { type: 'string', default: 'tcp' },
      account: { type: 'string' },
      key: { type: 'string' },
      'key-text': { type: 'string' },
      config: { type: 'string' },
      protocol: { type: 'string', default: 'cid' },
      receiver: { type: 'string' },
      line: { type: 'string' },
      supervision: { type: 'string', default: '60' },
      rate: { type: 'string', default: '0.2' },
      count: { type: 'string' },
      event: { type: 'string' },
      zone: { type: 'string', default: '1' },
      user: { type: 'string', default: '1' },
      'bad-crc': { type: 'boolean', default: false },
      'wrong-key': { type: 'boolean', default: false },
      skew: { type: 'string', default: '0' },
      slow: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
