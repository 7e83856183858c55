import { parseArgs } from 'node:util';
import { DahuaSimulator } from './dahua-simulator.ts';
import { dahuaActs, runDahuaScenario } from './scenario.ts';

export const dahuaUsage = `Usage: npm run sim -- dahua [options]

A simulated Dahua camera / door station speaking the HTTP CGI API on loopback: the hub attaches to its
eventManager stream (Digest), fetches snapshot.cgi, reads magicBox.cgi and opens its door with accessControl.cgi.
Give the hub a device with adapter dahua-cgi and http: { url: <printed url>, username, password }.

  --port N          port to listen on (default 0: any free port)
  --username U      the device's account (default admin)
  --password P      its password (default admin123)
  --serial S        serial number (default SIM-DAHUA-0001)
  --rate N          events per second (default 0.2; 0: heartbeats only)
  --event KIND      one event once the hub attaches, then keep running:
                      ${Object.keys(dahuaActs).join(' | ')}
  --bad-digest      refuse every login (a changed password)
  --clock-skew S    the device's clock this many seconds off in its event data
  --trickle         write parts a byte at a time (slow reads for the hub)
  -h, --help        this text
`;

/** `npm run sim -- dahua …`: runs until Ctrl-C. */
export async function runDahuaCli(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', default: '0' },
      username: { type: 'string', default: 'admin' },
      password: { type: 'string', default: 'admin123' },
      serial: { type: 'string', default: 'SIM-DAHUA-0001' },
      rate: { type: 'string', default: '0.2' },
      event: { type: 'string' },
      'bad-digest': { type: 'boolean', default: false },
      'clock-skew': { type: 'string', default: '0' },
      trickle: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(dahuaUsage);
    return;
  }
  const rate = Number(values.rate);
  const port = Number(values.port);
  const oneShot = values.event === undefined ? undefined : dahuaActs[values.event];
  if (!(rate >= 0 && rate <= 1000)) throw new Error('--rate must be 0 to 1000 events per second');
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error('--port must be a port number');
  if (values.event !== undefined && oneShot === undefined)
    throw new Error(`unknown --event "${values.event}"; one of: ${Object.keys(dahuaActs).join(', ')}`);
  const sim = new DahuaSimulator({
    username: values.username,
    password: values.password,
    serialNumber: values.serial,
    port,
  });
  sim.badDigest = values['bad-digest'];
  sim.clockSkewMs = Number(values['clock-skew']) * 1000;
  sim.trickle = values.trickle;
  await sim.start();
  process.stdout.write(`sim: Dahua device ${values.serial} at ${sim.url} (user ${values.username})\n`);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  if (oneShot !== undefined) {
    void sim.waitForAttach().then(async () => {
      await oneShot(sim);
      process.stdout.write(`sim: sent ${values.event}\n`);
    });
  }
  const done = await runDahuaScenario([sim], {
    rate: oneShot === undefined ? rate : 0,
    signal: abort.signal,
    onAct: (_sim, act) => process.stdout.write(`${values.serial} ${act}\n`),
  });
  process.stdout.write(`sim: ${done} event(s)\n`);
  await sim.stop();
}
