import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { GateSimulator } from './gate-access/gate-simulator.ts';
import { runGateScenario } from './gate-access/scenario.ts';

const usage = `Usage: npm run sim -- gate [options]

Simulated gate / door access controllers that publish to a gridhub broker, as real ones would.

  --url URL          broker (default mqtt://127.0.0.1:1883; ws://host:8080/mqtt works too)
  --device ID        a device id; repeat for several
  --config FILE      every gate-access device listed in a gridhub config file (e.g. config/demo.yaml)
  --rate N           events per second across all devices (default 1)
  --count N          stop after N events (default: run until Ctrl-C)
  --event KIND       send one event of this kind from each device and exit:
                     granted | denied | held | forced | tamper | garbage
  --username U --password P   MQTT credentials
  --topic-base B     first topic level (default gridhub)
`;

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n\n${usage}`);
  process.exit(2);
}

function gateDevicesIn(configPath: string): string[] {
  const config = parse(readFileSync(configPath, 'utf8')) as { devices?: { id: string; adapter: string }[] };
  return (config.devices ?? [])
    .filter((device) => device.adapter === 'gate-access')
    .map((device) => device.id);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      device: { type: 'string', multiple: true, default: [] },
      config: { type: 'string' },
      rate: { type: 'string', default: '1' },
      count: { type: 'string' },
      event: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      'topic-base': { type: 'string', default: 'gridhub' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (positionals[0] !== 'gate') fail(`unknown simulator "${positionals[0] ?? ''}"; available: gate`);
  const deviceIds = [...values.device, ...(values.config ? gateDevicesIn(values.config) : [])];
  if (deviceIds.length === 0) fail('give at least one --device or a --config');
  const rate = Number(values.rate);
  if (!(rate > 0 && rate <= 100_000)) fail('--rate must be a number of events per second above 0');
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !(Number.isInteger(count) && count > 0))
    fail('--count must be a positive integer');

  const sims = deviceIds.map(
    (deviceId) =>
      new GateSimulator({
        url: values.url,
        deviceId,
        topicBase: values['topic-base'],
        ...(values.username === undefined ? {} : { username: values.username }),
        ...(values.password === undefined ? {} : { password: values.password }),
      }),
  );
  await Promise.all(sims.map((sim) => sim.start()));
  process.stdout.write(`sim: ${sims.length} gate controller(s) connected to ${values.url}\n`);

  const oneShots: Record<string, (sim: GateSimulator) => Promise<unknown>> = {
    granted: (sim) => sim.grant(),
    denied: (sim) => sim.deny(),
    held: (sim) => sim.holdDoor(),
    forced: (sim) => sim.forceDoor(),
    tamper: (sim) => sim.tamper(),
    garbage: (sim) => sim.sendRaw('this is not json {'),
  };
  if (values.event !== undefined) {
    const send = oneShots[values.event];
    if (send === undefined) fail(`unknown --event "${values.event}"`);
    await Promise.all(sims.map(send));
    process.stdout.write(`sim: sent ${values.event} from ${sims.length} device(s)\n`);
  } else {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const sent = await runGateScenario(sims, {
      rate,
      ...(count === undefined ? {} : { count }),
      signal: abort.signal,
      onEvent: (sim, frame) => process.stdout.write(`${sim.options.deviceId} ${frame.event}\n`),
      onError: (sim, error) => process.stderr.write(`${sim.options.deviceId}: ${error.message}\n`),
    });
    process.stdout.write(`sim: sent ${sent} event(s)\n`);
  }
  await Promise.all(sims.map((sim) => sim.stop()));
}

main().catch((error: unknown) => {
  process.stderr.write(`sim: ${(error as Error).message}\n`);
  process.exit(1);
});
