import { parseArgs } from 'node:util';
import { OnvifCameraSimulator } from './onvif-camera.ts';

const usage = `Usage: tsx simulators/onvif-camera/cli.ts [options]

Simulated ONVIF cameras on this machine: device, media, PTZ and PullPoint event services over SOAP with
WS-Security, a Digest-protected snapshot, WS-Discovery, and optionally a live RTSP test pattern.

  --count N             cameras to start (default 1)
  --base-port P         HTTP port of the first camera; the others follow (default 8081; 0 picks free ports)
  --host ADDR           address to listen on (default 127.0.0.1)
  --user NAME           ONVIF user of every camera (default admin)
  --password PW         its password (default admin12345)
  --rtsp                serve an H.264 test pattern over RTSP (needs ffmpeg; viewers must use RTP over UDP)
  --events-every S      every S seconds each camera raises the next event of a cycle:
                        motion on/off, tamper on/off, line crossing, intrusion on/off (default 0: none)
  --discovery-port P    WS-Discovery UDP port, shared by all cameras (default 3702; 0 picks one per camera)
  --no-discovery        no WS-Discovery responder
  -h, --help            this text

Ctrl-C stops every camera.
`;

interface CliOptions {
  readonly count: number;
  readonly basePort: number;
  readonly host: string;
  readonly user: string;
  readonly password: string;
  readonly rtsp: boolean;
  readonly eventsEvery: number;
  readonly discoveryPort: number | false;
}

function integer(value: string | undefined, fallback: number, name: string, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, not ${value}`);
  return n;
}

function readOptions(argv: readonly string[]): CliOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      count: { type: 'string' },
      'base-port': { type: 'string' },
      host: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      rtsp: { type: 'boolean' },
      'events-every': { type: 'string' },
      'discovery-port': { type: 'string' },
      'no-discovery': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const eventsEvery = Number(values['events-every'] ?? 0);
  if (!Number.isFinite(eventsEvery) || eventsEvery < 0)
    throw new Error('--events-every must be a number ≥ 0');
  return {
    count: integer(values.count, 1, 'count', 1),
    basePort: integer(values['base-port'], 8081, 'base-port'),
    host: values.host ?? '127.0.0.1',
    user: values.user ?? 'admin',
    password: values.password ?? 'admin12345',
    rtsp: values.rtsp === true,
    eventsEvery,
    discoveryPort:
      values['no-discovery'] === true ? false : integer(values['discovery-port'], 3702, 'discovery-port'),
  };
}

/** The event cycle of --events-every, one step per tick. */
const cycle: ReadonlyArray<(cam: OnvifCameraSimulator, round: number) => Promise<number>> = [
  (cam) => cam.motion(true),
  (cam) => cam.motion(false),
  (cam) => cam.tamper(true),
  (cam) => cam.tamper(false),
  (cam, round) => cam.lineCross(round + 1),
  (cam) => cam.intrusion(true),
  (cam) => cam.intrusion(false),
];
const cycleNames = [
  'motion on',
  'motion off',
  'tamper on',
  'tamper off',
  'line crossed',
  'intrusion on',
  'intrusion off',
];

async function main(): Promise<void> {
  let options: CliOptions | undefined;
  try {
    options = readOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  if (options === undefined) {
    process.stdout.write(usage);
    return;
  }
  const cameras: OnvifCameraSimulator[] = [];
  let timer: NodeJS.Timeout | undefined;
  const stopAll = async (): Promise<void> => {
    clearInterval(timer);
    await Promise.allSettled(cameras.map((cam) => cam.stop()));
  };
  try {
    for (let i = 1; i <= options.count; i++) {
      const serial = `GS${String(20250000 + i)}`;
      const cam = new OnvifCameraSimulator({
        host: options.host,
        httpPort: options.basePort === 0 ? 0 : options.basePort + i - 1,
        username: options.user,
        password: options.password,
        name: `Grid-Camera-${i}`,
        manufacturer: 'GridSim',
        model: 'GS-IPC-T2',
        serialNumber: serial,
        location: 'china/community/gate',
        presets: [
          { token: '1', name: 'Gate' },
          { token: '2', name: 'Square' },
          { token: '3', name: 'Parking' },
        ],
        rtsp: options.rtsp,
        discoveryPort: options.discoveryPort,
      });
      cameras.push(cam);
      await cam.start();
      process.stdout.write(
        `camera ${i} ${cam.options.name} (${serial}): device ${cam.xaddr}  snapshot ${cam.snapshotUrl}  ` +
          `stream ${cam.rtspUrl}${options.rtsp ? '' : ' (not served: --rtsp is off)'}` +
          (cam.discoveryPort === undefined ? '' : `  discovery udp/${cam.discoveryPort}`) +
          '\n',
      );
    }
  } catch (error) {
    process.stderr.write(`could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll();
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${cameras.length} camera(s) up; user ${options.user}. Ctrl-C stops them.\n`);
  if (options.eventsEvery > 0) {
    let tick = 0;
    timer = setInterval(() => {
      const step = tick % cycle.length;
      const round = Math.floor(tick / cycle.length);
      tick += 1;
      for (const cam of cameras) {
        void cycle[step]?.(cam, round).then((reached) => {
          process.stdout.write(`${cam.options.name}: ${cycleNames[step]} → ${reached} subscription(s)\n`);
        });
      }
    }, options.eventsEvery * 1000);
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await stopAll();
  process.stdout.write('stopped\n');
}

await main();
