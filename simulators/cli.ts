import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { runAlarmPanelCli } from './alarm-panel/cli.ts';
import { runDahuaCli } from './dahua/cli.ts';
import { type GateFrame, GateSimulator } from './gate-access/gate-simulator.ts';
import { runGateScenario } from './gate-access/scenario.ts';
import { runGb28181Cli, runGbSuperiorCli } from './gb28181/cli.ts';
import { runHikvisionCli } from './hikvision/cli.ts';
import { runSentryScenario } from './sentry-box/scenario.ts';
import { type SentryFrame, SentrySimulator } from './sentry-box/sentry-simulator.ts';
import type { MqttDevice, MqttDeviceOptions } from './shared/mqtt-device.ts';
import type { ScenarioOptions } from './shared/scenario.ts';
import { zktecoMain } from './zkteco/cli.ts';

const usage = `Usage: npm run sim -- <gate|sentry|alarm-panel|zkteco|hikvision|dahua|gb28181> [options]

Simulated devices that publish to a gridhub broker as real ones would: events, heartbeats, a retained
online status with an offline last will, and replies to the hub's commands.

  gate      gate / door access controllers with vehicle lanes  (adapter gate-access)
  sentry    sentry box alarm panels                             (adapter sentry-box)
  alarm-panel  alarm panels over SIA DC-09, TCP or UDP (adapter alarm-panel-cid): its own options,
               see npm run sim -- alarm-panel --help
  zkteco    ZKTeco terminals over ADMS (HTTP push, not MQTT)    (adapter zkteco-adms;
            its own options: npm run sim -- zkteco --help)
  hikvision a Hikvision camera or access controller over ISAPI  (adapter hikvision-isapi;
            its own options: npm run sim -- hikvision --help)
  dahua     a Dahua camera / door station over HTTP CGI          (adapter dahua-cgi; npm run sim -- dahua --help)
  gb28181   a GB/T 28181 IPC or NVR registering over SIP          (adapter gb28181; npm run sim -- gb28181 --help)
  gb28181-superior  a GB/T 28181 superior platform, for the hub's cascade (npm run sim -- gb28181 --help)

  --url URL               broker (default mqtt://127.0.0.1:1883; ws://host:8080/mqtt works too)
  --device ID             a device id; repeat for several
  --config FILE           every device of the family's adapter in a gridhub config file (e.g. config/demo.yaml);
                          added to any --device
  --secret S              MQTT password of every device (username and client id are the device id)
  --secrets-from-config   each device's password is its \`secret:\` in --config (devices without one connect
                          without credentials)
  --rate N                events per second across all devices (default 1; 0: heartbeats only, until Ctrl-C)
  --count N               stop after N events (default: run until Ctrl-C)
  --event KIND            send one event of this kind from each device and exit:
                            gate:   granted | denied | held | forced | tamper | antipassback | tailgate |
                                    blacklist | vehicle-in | vehicle-out | garbage
                            sentry: panic | duress | zone | arm | disarm | tamper | mains-lost |
                                    mains-restored | battery-low | battery-ok | checkin | garbage
  --heartbeat SECONDS     heartbeat period (default 30; 0 sends none)
  --topic-base B          first topic level (default gridhub)
  -h, --help              this text

Examples:
  npm run sim -- gate --config config/demo.yaml --secrets-from-config --rate 5
  npm run sim -- sentry --device sentry-xijiao-01 --secret 0123456789abcdef --event duress
`;

/** The default heartbeat: the adapters' liveness default, restated here because simulators import no adapter. */
const defaultHeartbeatSeconds = 30;

interface Family<Sim extends MqttDevice, Frame> {
  readonly adapter: string;
  readonly noun: string;
  readonly create: (options: MqttDeviceOptions) => Sim;
  readonly oneShots: Readonly<Record<string, (sim: Sim) => Promise<unknown>>>;
  readonly run: (sims: readonly Sim[], options: ScenarioOptions<Sim, Frame>) => Promise<number>;
}

const gate: Family<GateSimulator, GateFrame> = {
  adapter: 'gate-access',
  noun: 'gate controller',
  create: (options) => new GateSimulator(options),
  oneShots: {
    granted: (sim) => sim.grant(),
    denied: (sim) => sim.deny(),
    held: (sim) => sim.holdDoor(),
    forced: (sim) => sim.forceDoor(),
    tamper: (sim) => sim.tamper(),
    antipassback: (sim) => sim.antiPassback(),
    tailgate: (sim) => sim.tailgate({ followers: 2 }),
    blacklist: (sim) => sim.blacklisted({ type: 'plate' }),
    'vehicle-in': (sim) => sim.vehicleEntry(),
    'vehicle-out': (sim) => sim.vehicleExit(),
    garbage: (sim) => sim.sendRaw('this is not json {'),
  },
  run: runGateScenario,
};

const sentry: Family<SentrySimulator, SentryFrame> = {
  adapter: 'sentry-box',
  noun: 'sentry box panel',
  create: (options) => new SentrySimulator(options),
  oneShots: {
    panic: (sim) => sim.panic(),
    duress: (sim) => sim.panic(true),
    zone: (sim) => sim.zoneAlarm(),
    arm: (sim) => sim.arm(),
    disarm: (sim) => sim.disarm(),
    tamper: (sim) => sim.tamper(),
    'mains-lost': (sim) => sim.mainsLost(),
    'mains-restored': (sim) => sim.mainsRestored(),
    'battery-low': (sim) => sim.batteryLow(),
    'battery-ok': (sim) => sim.batteryOk(),
    checkin: (sim) => sim.checkIn(),
    garbage: (sim) => sim.sendRaw('this is not json {'),
  },
  run: runSentryScenario,
};

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n\n${usage}`);
  process.exit(2);
}

interface ConfigDevice {
  readonly id: string;
  readonly adapter: string;
  readonly secret?: string;
}

/** The devices of a gridhub config file; only the fields the simulator needs, loosely checked. */
function configDevices(configPath: string): ConfigDevice[] {
  let config: unknown;
  try {
    config = parse(readFileSync(configPath, 'utf8'));
  } catch (error) {
    fail(`cannot read --config ${configPath}: ${(error as Error).message}`);
  }
  const devices = (config as { devices?: unknown } | null)?.devices ?? [];
  if (!Array.isArray(devices)) fail(`${configPath}: devices is not a list`);
  return devices.flatMap((device: unknown) => {
    const { id, adapter, secret } = (device ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || typeof adapter !== 'string') return [];
    return [{ id, adapter, ...(typeof secret === 'string' ? { secret } : {}) }];
  });
}

function parseArguments() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
        device: { type: 'string', multiple: true, default: [] },
        config: { type: 'string' },
        secret: { type: 'string' },
        'secrets-from-config': { type: 'boolean', default: false },
        rate: { type: 'string', default: '1' },
        count: { type: 'string' },
        event: { type: 'string' },
        heartbeat: { type: 'string', default: String(defaultHeartbeatSeconds) },
        'topic-base': { type: 'string', default: 'gridhub' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
}

async function main(): Promise<void> {
  // Alarm panels speak SIA DC-09, not MQTT: their simulator takes options of its own.
  if (process.argv[2] === 'alarm-panel') return runAlarmPanelCli(process.argv.slice(3));
  // ZKTeco terminals push over HTTP, with options of their own.
  if (process.argv[2] === 'zkteco') {
    await zktecoMain(process.argv.slice(3));
    return;
  }
  // An HTTP device, not an MQTT one: its own options.
  if (process.argv[2] === 'hikvision') {
    await runHikvisionCli(process.argv.slice(3), fail);
    return;
  }
  // The hub connects to a Dahua device rather than it to the hub: its simulator has options of its own.
  if (process.argv[2] === 'dahua') {
    await runDahuaCli(process.argv.slice(3));
    return;
  }
  // GB/T 28181 devices register to the hub's SIP server, not its broker: options of their own.
  if (process.argv[2] === 'gb28181') {
    await runGb28181Cli(process.argv.slice(3));
    return;
  }
  if (process.argv[2] === 'gb28181-superior') {
    await runGbSuperiorCli(process.argv.slice(3));
    return;
  }
  const { values, positionals } = parseArguments();
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const [name, ...extra] = positionals;
  if (extra.length > 0) fail(`unexpected argument "${extra[0]}"`);
  if (name === 'gate') await simulate(gate, values);
  else if (name === 'sentry') await simulate(sentry, values);
  else
    fail(
      name === undefined
        ? 'name a simulator: gate, sentry, alarm-panel, zkteco, hikvision, dahua, gb28181 or gb28181-superior'
        : `unknown simulator "${name}"; available: gate, sentry, alarm-panel, zkteco, hikvision, dahua, gb28181, gb28181-superior`,
    );
}

type Values = ReturnType<typeof parseArguments>['values'];

async function simulate<Sim extends MqttDevice, Frame extends { event: string }>(
  family: Family<Sim, Frame>,
  values: Values,
): Promise<void> {
  if (values.secret !== undefined && values['secrets-from-config'])
    fail('give --secret or --secrets-from-config, not both');
  if (values['secrets-from-config'] && values.config === undefined)
    fail('--secrets-from-config needs --config');
  const rate = Number(values.rate);
  if (!(rate >= 0 && rate <= 100_000)) fail('--rate must be a number of events per second, 0 to 100000');
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !(Number.isInteger(count) && count > 0))
    fail('--count must be a positive integer');
  if (count !== undefined && rate === 0) fail('--count needs a --rate above 0');
  const heartbeatSeconds = Number(values.heartbeat);
  if (!(heartbeatSeconds >= 0 && heartbeatSeconds <= 86_400)) fail('--heartbeat must be 0 to 86400 seconds');
  const oneShot = values.event === undefined ? undefined : family.oneShots[values.event];
  if (values.event !== undefined && oneShot === undefined)
    fail(
      `unknown --event "${values.event}" for ${family.adapter}; one of: ${Object.keys(family.oneShots).join(', ')}`,
    );

  const inConfig = values.config === undefined ? [] : configDevices(values.config);
  const ids = new Set([
    ...values.device,
    ...inConfig.filter((device) => device.adapter === family.adapter).map((device) => device.id),
  ]);
  if (ids.size === 0)
    fail(
      values.config === undefined
        ? 'give at least one --device or a --config'
        : `no ${family.adapter} device in ${values.config}`,
    );
  const configSecrets = new Map(
    inConfig.flatMap((device) => (device.secret === undefined ? [] : [[device.id, device.secret]])),
  );
  const secretFor = (id: string): string | undefined =>
    values.secret ?? (values['secrets-from-config'] ? configSecrets.get(id) : undefined);
  const withoutSecret = [...ids].filter((id) => values['secrets-from-config'] && !configSecrets.has(id));
  if (withoutSecret.length > 0)
    process.stderr.write(
      `sim: no secret: in the config for ${withoutSecret.join(', ')}; connecting without credentials\n`,
    );

  const sims = [...ids].map((deviceId) => {
    const secret = secretFor(deviceId);
    return family.create({
      url: values.url,
      deviceId,
      topicBase: values['topic-base'],
      heartbeatSeconds,
      ...(secret === undefined ? {} : { secret }),
    });
  });
  const started = await Promise.allSettled(sims.map((sim) => sim.start()));
  const connected = sims.filter((sim, index) => {
    const result = started[index];
    if (result?.status === 'rejected')
      process.stderr.write(`sim: ${sim.deviceId}: ${(result.reason as Error).message}\n`);
    return result?.status === 'fulfilled';
  });
  process.stdout.write(
    `sim: ${connected.length} of ${sims.length} ${family.noun}(s) connected to ${values.url}\n`,
  );
  if (connected.length === 0) {
    process.exitCode = 1;
    return;
  }

  if (oneShot !== undefined) {
    await Promise.all(connected.map(oneShot));
    process.stdout.write(`sim: sent ${values.event} from ${connected.length} device(s)\n`);
  } else {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const sent = await family.run(connected, {
      rate,
      ...(count === undefined ? {} : { count }),
      signal: abort.signal,
      onEvent: (sim, frame) => process.stdout.write(`${sim.deviceId} ${frame.event}\n`),
      onError: (sim, error) => process.stderr.write(`${sim.deviceId}: ${error.message}\n`),
    });
    process.stdout.write(`sim: sent ${sent} event(s)\n`);
  }
  await Promise.all(connected.map((sim) => sim.stop()));
}

main().catch((error: unknown) => {
  process.stderr.write(`sim: ${(error as Error).message}\n`);
  process.exit(1);
});
