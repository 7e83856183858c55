import { parseArgs } from 'node:util';
import type { DigestFault } from '../shared/http-digest.ts';
import { type GarbageMode, OnvifCameraSimulator } from './onvif-camera.ts';

const usage = `Usage: tsx simulators/onvif-camera/cli.ts [options]

Simulated ONVIF cameras on this machine: device, media, PTZ and PullPoint event services over SOAP with
WS-Security, a Digest-protected snapshot, WS-Discovery, and optionally a live RTSP test pattern.

  --count N             cameras to start (default 1)
  --base-port P         HTTP port of the first camera; the others follow (default 8081; 0 picks free ports)
  --host ADDR           address to listen on (default 127.0.0.1)
  --user NAME           ONVIF user of every camera (default admin)
  --password PW         its password (default admin12345)
  --rtsp                serve an H.264 test pattern over RTSP (needs ffmpeg): RTP over TCP (interleaved) or UDP,
                        behind RTSP Digest authentication with the ONVIF account
  --rtsp-auth MODE      digest (default) or none
  --events-every S      every S seconds each camera raises the next event of a cycle: motion on/off,
                        tamper on/off, line crossing, intrusion on/off, tamper detector on/off,
                        digital input on/off (default 0: none)

Faults (see simulators/onvif-camera/README.md):
  --answer-delay-ms MS  every SOAP answer waits this long
  --slow-reads BPS      answers trickle out at about BPS bytes per second
  --garbage MODE        SOAP answers replaced by garbage: html, truncated or binary
  --bad-digest MODE     Digest authentication (snapshot, RTSP) broken: stale or malformed
  --reboot-every S      every S seconds each camera reboots (down for 2 s)
  --drop-events-every S every S seconds each camera cuts its held PullMessages connections
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
  readonly rtspAuth: 'digest' | 'none';
  readonly answerDelayMs: number;
  readonly slowReads: number;
  readonly garbage: GarbageMode | undefined;
  readonly badDigest: DigestFault | undefined;
  readonly rebootEvery: number;
  readonly dropEventsEvery: number;
}

function oneOf<T extends string>(
  value: string | undefined,
  choices: readonly T[],
  name: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new Error(`--${name} must be one of ${choices.join(', ')}, not ${value}`);
  }
  return value as T;
}

function seconds(value: string | undefined, name: string): number {
  const n = Number(value ?? 0);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return n;
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
      'rtsp-auth': { type: 'string' },
      'answer-delay-ms': { type: 'string' },
      'slow-reads': { type: 'string' },
      garbage: { type: 'string' },
      'bad-digest': { type: 'string' },
      'reboot-every': { type: 'string' },
      'drop-events-every': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const eventsEvery = seconds(values['events-every'], 'events-every');
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
    rtspAuth: oneOf(values['rtsp-auth'], ['digest', 'none'], 'rtsp-auth') ?? 'digest',
    answerDelayMs: integer(values['answer-delay-ms'], 0, 'answer-delay-ms'),
    slowReads: integer(values['slow-reads'], 0, 'slow-reads'),
    garbage: oneOf(values.garbage, ['html', 'truncated', 'binary'], 'garbage'),
    badDigest: oneOf(values['bad-digest'], ['stale', 'malformed'], 'bad-digest'),
    rebootEvery: seconds(values['reboot-every'], 'reboot-every'),
    dropEventsEvery: seconds(values['drop-events-every'], 'drop-events-every'),
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
  (cam) => cam.tamperDetector(true),
  (cam) => cam.tamperDetector(false),
  (cam) => cam.digitalInput(true),
  (cam) => cam.digitalInput(false),
];
const cycleNames = [
  'motion on',
  'motion off',
  'tamper on',
  'tamper off',
  'line crossed',
  'intrusion on',
  'intrusion off',
  'tamper detector on',
  'tamper detector off',
  'digital input on',
  'digital input off',
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
  const timers: NodeJS.Timeout[] = [];
  const stopAll = async (): Promise<void> => {
    for (const timer of timers) clearInterval(timer);
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
        rtspAuthentication: options.rtspAuth,
        discoveryPort: options.discoveryPort,
      });
      cameras.push(cam);
      await cam.start();
      cam.slowAnswers(options.answerDelayMs);
      cam.slowReads(options.slowReads);
      cam.garbage(options.garbage);
      cam.badDigest(options.badDigest);
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
  const every = (secondsBetween: number, tick: () => void): void => {
    if (secondsBetween > 0) timers.push(setInterval(tick, secondsBetween * 1000));
  };
  let tick = 0;
  every(options.eventsEvery, () => {
    const step = tick % cycle.length;
    const round = Math.floor(tick / cycle.length);
    tick += 1;
    for (const cam of cameras) {
      void cycle[step]?.(cam, round).then((reached) => {
        process.stdout.write(`${cam.options.name}: ${cycleNames[step]} → ${reached} subscription(s)\n`);
      });
    }
  });
  every(options.rebootEvery, () => {
    for (const cam of cameras) {
      if (!cam.running) continue;
      process.stdout.write(`${cam.options.name}: rebooting\n`);
      void cam.reboot(2_000).then(
        () => process.stdout.write(`${cam.options.name}: back up\n`),
        (error: unknown) => process.stderr.write(`${cam.options.name}: reboot failed: ${String(error)}\n`),
      );
    }
  });
  every(options.dropEventsEvery, () => {
    for (const cam of cameras) {
      process.stdout.write(`${cam.options.name}: cut ${cam.dropEventStream()} event stream connection(s)\n`);
    }
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await stopAll();
  process.stdout.write('stopped\n');
}

await main();
