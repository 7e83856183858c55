import { parseArgs } from 'node:util';
import { HikvisionSimulator, type ListeningHost } from './hikvision-device.ts';

export const hikvisionUsage = `Usage: npm run sim -- hikvision [options]

A simulated Hikvision device speaking ISAPI on loopback: the alert stream (Digest), the picture endpoint,
RemoteControl/door, deviceInfo; optionally pushing every alert to a listening host (the hub's receivers.http).

  --kind camera|access    a camera (VMD, line crossing, intrusion…) or an access controller (doors, cards)
  --port N                where it listens (default 0: a free port, printed)
  --user U --password P   the ISAPI account the hub logs in with (default admin / hik-sim-password)
  --basic                 take Basic credentials too, as "digest/basic" firmware does
  --push URL              its HTTP listening host, e.g. http://127.0.0.1:8090/hikvision/alarm
  --push-user U           the push's Basic user: the device's id or serial in the hub (default: --serial)
  --push-password S       the push's Basic password: the device's secret in the hub
  --push-format F         xml | json | multipart (default: json for access, xml for a camera)
  --serial S --mac M      its identity (MAC as 44:19:b6:00:00:01)
  --rate N                events per minute (default 6; 0: keepalives only)
  --event KIND            send one event at start: motion | line | intrusion | tamper | videoloss | io |
                          forced | held | card | denied | duress | antipassback | tailgate | garbage
  -h, --help              this text

Examples:
  npm run sim -- hikvision --kind camera --port 18601 --password demo-hik-camera-1
  npm run sim -- hikvision --kind access --port 18602 --password demo-hik-access-1 \\
    --push http://127.0.0.1:8090/hikvision/alarm --push-user hik-door-xijiao-02-lobby --push-password demo-hik-door-01
`;

type Sim = HikvisionSimulator;
const card = () => String(3_300_000_000 + Math.floor(Math.random() * 99_999_999));

const oneShots: Readonly<Record<string, (sim: Sim) => Promise<void>>> = {
  motion: (sim) => sim.motion(),
  line: (sim) => sim.lineCross(),
  intrusion: (sim) => sim.intrusion(),
  tamper: (sim) => sim.tamper(),
  videoloss: (sim) => sim.videoLoss(),
  io: (sim) => sim.alarmInput(),
  forced: (sim) => sim.forceDoor(),
  held: (sim) => sim.holdDoor(),
  card: (sim) => sim.cardSwipe({ card: card() }),
  denied: (sim) => sim.cardSwipe({ card: card(), granted: false }),
  duress: (sim) => sim.duress(),
  antipassback: (sim) => sim.antiPassback(card()),
  tailgate: (sim) => sim.tailgate(),
  garbage: (sim) => sim.garbage(),
};

const cameraEvents = ['motion', 'line', 'intrusion'];
const accessEvents = ['card', 'card', 'denied', 'held', 'forced'];

export async function runHikvisionCli(
  argv: readonly string[],
  fail: (message: string) => never,
): Promise<void> {
  let values: ReturnType<typeof parse>['values'];
  function parse() {
    return parseArgs({
      args: [...argv],
      options: {
        kind: { type: 'string', default: 'camera' },
        port: { type: 'string', default: '0' },
        user: { type: 'string', default: 'admin' },
        password: { type: 'string', default: 'hik-sim-password' },
        basic: { type: 'boolean', default: false },
        push: { type: 'string' },
        'push-user': { type: 'string' },
        'push-password': { type: 'string' },
        'push-format': { type: 'string' },
        serial: { type: 'string' },
        mac: { type: 'string' },
        rate: { type: 'string', default: '6' },
        event: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  }
  try {
    values = parse().values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(hikvisionUsage);
    return;
  }
  const kind = values.kind;
  if (kind !== 'camera' && kind !== 'access') fail('--kind must be camera or access');
  const rate = Number(values.rate);
  if (!(rate >= 0 && rate <= 6000)) fail('--rate must be 0 to 6000 events per minute');
  const oneShot = values.event === undefined ? undefined : oneShots[values.event];
  if (values.event !== undefined && oneShot === undefined)
    fail(`unknown --event "${values.event}"; one of: ${Object.keys(oneShots).join(', ')}`);
  const format = values['push-format'] ?? (kind === 'access' ? 'json' : 'xml');
  if (!['xml', 'json', 'multipart'].includes(format)) fail('--push-format must be xml, json or multipart');
  let listeningHost: ListeningHost | undefined;
  if (values.push !== undefined) {
    const username = values['push-user'] ?? values.serial;
    const password = values['push-password'];
    if (username === undefined || password === undefined)
      fail('--push needs --push-user (or --serial) and --push-password');
    listeningHost = { url: values.push, username, password, format: format as ListeningHost['format'] };
  }
  const sim = new HikvisionSimulator({
    kind,
    port: Number(values.port),
    username: values.user,
    password: values.password,
    acceptBasic: values.basic,
    ...(values.serial === undefined ? {} : { serial: values.serial }),
    ...(values.mac === undefined ? {} : { mac: values.mac }),
    ...(listeningHost === undefined ? {} : { listeningHost }),
  });
  await sim.start();
  process.stdout.write(
    `hikvision ${kind} at ${sim.url} (user ${values.user}), MAC ${sim.identity.mac}` +
      `${listeningHost === undefined ? '' : `, pushing ${format} to ${listeningHost.url}`}. Ctrl-C to stop.\n`,
  );
  if (oneShot !== undefined)
    await oneShot(sim).catch((error: Error) => process.stderr.write(`${error.message}\n`));
  const names = kind === 'camera' ? cameraEvents : accessEvents;
  const timer =
    rate === 0
      ? undefined
      : setInterval(() => {
          const name = names[Math.floor(Math.random() * names.length)] as string;
          void (oneShots[name] as (sim: Sim) => Promise<void>)(sim).catch((error: Error) =>
            process.stderr.write(`${error.message}\n`),
          );
        }, 60_000 / rate);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  await sim.stop();
}
