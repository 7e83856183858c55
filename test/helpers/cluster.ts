import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { connectClient, demoConfig, projectRoot, type RecordingClient, temporaryDirectory } from './hub.ts';

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function untilListening(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portAccepts(port))) {
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * A process a test owns, with a directory of its own: started, killed (SIGKILL) or stopped (SIGTERM) and started
 * again on the same directory, and removed with it at the end. What it prints is kept in `output`.
 */
abstract class OwnedProcess {
  readonly directory: ReturnType<typeof temporaryDirectory>;
  #child: ChildProcess | undefined;
  output = '';

  constructor(directoryPrefix: string) {
    this.directory = temporaryDirectory(directoryPrefix);
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the process and resolves once it is ready for the test. */
  abstract start(): Promise<void>;

  protected launch(file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output += chunk.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#child = child;
    return child;
  }

  /** SIGKILL: no goodbye, mid-stream, nothing saved that was not saved already. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  /** SIGTERM: the process's own clean shutdown. */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
  }

  async remove(): Promise<void> {
    await this.#signal('SIGKILL');
    this.directory.remove();
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined) return;
    // A start still waiting must not take this exit for a failure to start.
    child.removeAllListeners('exit');
    child.kill(signal);
    await exited(child);
  }
}

/** A server process the test owns: killed and started again on the same port and data directory. */
abstract class OwnedServer extends OwnedProcess {
  readonly port: number;

  constructor(port: number) {
    super('gridhub-server-');
    this.port = port;
  }

  protected abstract command(): { file: string; args: string[] };
  protected abstract get what(): string;

  async start(): Promise<void> {
    const { file, args } = this.command();
    this.launch(file, args);
    await untilListening(this.port, this.what);
  }
}

export interface BrokerAccount {
  readonly username: string;
  readonly password: string;
}

/**
 * A private Mosquitto 2.0 on an ephemeral port, with a password file made by mosquitto_passwd, an ACL file, and
 * persistence in its own directory (written on a clean stop, read on start).
 */
export class PrivateMosquitto extends OwnedServer {
  readonly #confPath: string;

  constructor(port: number, accounts: readonly BrokerAccount[], acl: string) {
    super(port);
    const dir = this.directory.path;
    const passwordFile = path.join(dir, 'passwd');
    writeFileSync(passwordFile, '');
    for (const { username, password } of accounts) {
      execFileSync('mosquitto_passwd', ['-b', passwordFile, username, password]);
    }
    const aclFile = path.join(dir, 'acl');
    writeFileSync(aclFile, acl);
    this.#confPath = path.join(dir, 'mosquitto.conf');
    writeFileSync(
      this.#confPath,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${passwordFile}`,
        `acl_file ${aclFile}`,
        'persistence true',
        `persistence_location ${dir}/`,
        'autosave_interval 1',
        // Unlimited: a queue that overflows drops messages the devices were told were delivered.
        'max_queued_messages 0',
        'user root',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  protected get what(): string {
    return 'mosquitto';
  }

  protected command(): { file: string; args: string[] } {
    return { file: '/usr/sbin/mosquitto', args: ['-c', this.#confPath] };
  }
}

/** A private redis-server on an ephemeral port; with appendonly, every write is fsynced before it is answered. */
export class PrivateRedis extends OwnedServer {
  readonly #appendOnly: boolean;

  constructor(port: number, appendOnly: boolean) {
    super(port);
    this.#appendOnly = appendOnly;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected get what(): string {
    return 'redis';
  }

  protected command(): { file: string; args: string[] } {
    return {
      file: 'redis-server',
      args: [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        this.#appendOnly ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--dir',
        this.directory.path,
      ],
    };
  }
}

/**
 * The demo jurisdiction for counting: no correlation, suppression or flood grouping, so every forced door is its
 * own incident and every held door repeats into one.
 */
export function countingConfig(change: (config: Record<string, unknown>) => void): Record<string, unknown> {
  const config = demoConfig() as unknown as Record<string, unknown>;
  config.correlations = [];
  config.suppressions = [];
  config.flood = { maxIncidents: 0, windowSeconds: 60 };
  change(config);
  return config;
}

/** One hub instance as its own process (`node --import tsx src/main.ts`), on ports chosen up front. */
export class HubProcess extends OwnedProcess {
  readonly name: string;
  readonly httpPort: number;
  readonly mqttPort: number;
  readonly #configPath: string;
  readonly #env: Record<string, string>;

  constructor(options: {
    name: string;
    config: Record<string, unknown>;
    httpPort: number;
    mqttPort: number;
    env?: Record<string, string>;
  }) {
    super('gridhub-instance-');
    this.name = options.name;
    this.httpPort = options.httpPort;
    this.mqttPort = options.mqttPort;
    this.#configPath = path.join(this.directory.path, 'config.json');
    writeFileSync(this.#configPath, JSON.stringify(options.config));
    this.#env = options.env ?? {};
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get mqttServer(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.mqttPort };
  }

  /** Starts the process and resolves when it says it is ready. */
  async start(): Promise<void> {
    // Ready is what this start prints: after a kill, the last run's lines are still in `output`.
    const from = this.output.length;
    const child = this.launch(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: {
        ...process.env,
        GRIDHUB_CONFIG: this.#configPath,
        DATA_DIR: this.directory.path,
        PORT: String(this.httpPort),
        MQTT_PORT: String(this.mqttPort),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ...this.#env,
      },
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', () => {
        const printed = this.output.slice(from);
        if (printed.includes('gridhub: ') && printed.includes('http://localhost:')) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`${this.name} exited (${code}) before it was ready:\n${this.output.slice(-3000)}`)),
      );
    });
  }
}

/**
 * A gate controller written for these tests (not the simulator): it reports exactly which frames the broker
 * acknowledged, and fails over between several brokers (mqtt.js `servers`, tried in turn on each reconnect).
 * A QoS 1 publish that was in flight when the link died is sent again after the reconnect (mqtt.js keeps it).
 */
export class CountingGate {
  readonly deviceId: string;
  readonly acknowledged: number[] = [];
  #client: MqttClient | undefined;
  #seq = 0;

  constructor(
    deviceId: string,
    readonly servers: readonly { host: string; port: number }[],
    readonly password: string,
  ) {
    this.deviceId = deviceId;
  }

  topic(channel: string): string {
    return `gridhub/devices/${this.deviceId}/${channel}`;
  }

  async start(): Promise<void> {
    const client = connect({
      servers: this.servers.map((server) => ({ ...server, protocol: 'mqtt' as const })),
      clientId: this.deviceId,
      username: this.deviceId,
      password: this.password,
      clean: true,
      reconnectPeriod: 300,
      connectTimeout: 3_000,
      will: {
        topic: this.topic('status'),
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    });
    client.on('error', () => undefined);
    this.#client = client;
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.publishAsync(this.topic('status'), '{"state":"online"}', { qos: 1, retain: true });
  }

  /** Publishes one frame at QoS 1; resolves when a broker acknowledged it (after reconnects if need be). */
  async send(frame: Record<string, unknown>, channel = 'events'): Promise<number> {
    const client = this.#client;
    if (client === undefined) throw new Error(`${this.deviceId} not started`);
    this.#seq++;
    const seq = this.#seq;
    await client.publishAsync(
      this.topic(channel),
      JSON.stringify({ seq, time: new Date().toISOString(), ...frame }),
      { qos: 1 },
    );
    this.acknowledged.push(seq);
    return seq;
  }

  forcedDoor(): Promise<number> {
    return this.send({ event: 'DOOR_FORCED_OPEN', door: 1 });
  }

  heldDoor(): Promise<number> {
    return this.send({ event: 'DOOR_HELD_OPEN', door: 2, heldSeconds: 90 });
  }

  async stop(): Promise<void> {
    await this.#client?.endAsync(true);
    this.#client = undefined;
  }
}

/** Every incident an all-seeing officer can list through the REST API of one instance, all pages. */
export async function listIncidents(httpUrl: string, token = 'demo-officer-qinghe'): Promise<Incident[]> {
  const all: Incident[] = [];
  let before: string | null | undefined;
  do {
    const query = before === undefined || before === null ? '' : `&before=${before}`;
    const response = await fetch(`${httpUrl}/api/incidents?limit=500${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!response.ok) throw new Error(`GET /api/incidents: ${response.status}`);
    const body = (await response.json()) as { incidents: Incident[]; next: string | null };
    all.push(...body.incidents);
    before = body.next;
  } while (before !== null && before !== undefined);
  return all;
}

/** The forced-door incidents of these gates, among those listed. */
export function forcedBy(incidents: readonly Incident[], deviceIds: readonly string[]): Incident[] {
  return incidents.filter(
    (incident) => incident.event.type === 'door.forced_open' && deviceIds.includes(incident.device.id),
  );
}

/** Each gate forces its door `n` times, one after another; the gates all at once. */
export async function forceDoors(gates: readonly CountingGate[], n: number): Promise<void> {
  await Promise.all(
    gates.map(async (gate) => {
      for (let i = 0; i < n; i++) await gate.forcedDoor();
    }),
  );
}

/**
 * Each gate forces its door `perGate` times (the gates all at once) and, once `killAfter` have been sent in all,
 * `victim` is killed (SIGKILL) with whatever it holds. Resolves when everything is sent and the victim is dead,
 * with when it was killed.
 */
export async function forceDoorsKillingMidway(
  gates: readonly CountingGate[],
  perGate: number,
  victim: HubProcess,
  killAfter: number,
): Promise<number> {
  let sent = 0;
  let killed: Promise<void> | undefined;
  let killedAt = 0;
  await Promise.all(
    gates.map(async (gate) => {
      for (let n = 0; n < perGate; n++) {
        await gate.forcedDoor();
        if (++sent === killAfter) {
          killedAt = Date.now();
          killed = victim.kill();
        }
      }
    }),
  );
  await killed;
  return killedAt;
}

/** Waits until the store holds `expected` forced-door incidents of these gates; if never, shows each instance's last words. */
export function forcedIncidentsStored(
  hubs: readonly HubProcess[],
  gateIds: readonly string[],
  expected: number,
): Promise<void> {
  const [first] = hubs as [HubProcess];
  return until(
    async () => forcedBy(await listIncidents(first.httpUrl), gateIds).length >= expected,
    async () =>
      `${expected} incidents, ${forcedBy(await listIncidents(first.httpUrl), gateIds).length} there\n` +
      hubs.map((hub) => `${hub.name}: ${hub.output.slice(-1500)}`).join('\n'),
    90_000,
  );
}

/**
 * Waits until a device's held-door repeats are all counted, then checks that they folded into one incident, across
 * however many instances they reached.
 */
export async function expectRepeatsFoldedIntoOne(
  httpUrl: string,
  deviceId: string,
  repeats: number,
): Promise<void> {
  const held = async () =>
    (await listIncidents(httpUrl)).filter(
      (incident) => incident.device.id === deviceId && incident.event.type === 'door.held_open',
    );
  await until(
    async () => (await held()).reduce((sum, incident) => sum + incident.occurrences, 0) >= repeats,
    'every repeat counted',
  );
  const incidents = await held();
  expect(incidents).toHaveLength(1);
  expect(incidents[0]?.occurrences).toBe(repeats);
}

/**
 * What every MQTT mode must survive, in turn: each gate forces its door 5 times; Redis dies and comes back, 5 more;
 * `restart` (an instance, or the broker) and 5 more. Then every forced-door incident is stored once and was pushed
 * to officers connected to the first and the last instance. The gates are started and stopped here.
 */
export async function expectRestartsSurvived(options: {
  readonly hubs: readonly HubProcess[];
  readonly gates: readonly CountingGate[];
  readonly gateIds: readonly string[];
  readonly redis: PrivateRedis;
  readonly restart: (phases: string[]) => Promise<void>;
}): Promise<void> {
  const { hubs, gates, gateIds, redis } = options;
  const [first, last] = [hubs[0] as HubProcess, hubs.at(-1) as HubProcess];
  const clients: RecordingClient[] = [
    await connectClient(first.httpUrl, 'demo-officer-qinghe'),
    await connectClient(last.httpUrl, 'demo-officer-qinghe'),
  ];
  const phases: string[] = [];
  const settled = (expected: number) => forcedIncidentsStored(hubs, gateIds, expected);
  try {
    for (const gate of gates) await gate.start();
    await forceDoors(gates, 5);
    await settled(gates.length * 5);

    phases.push(`redis killed ${new Date().toISOString()}`);
    await redis.kill();
    await redis.start();
    phases.push(`redis back ${new Date().toISOString()}`);
    await forceDoors(gates, 5);
    await settled(gates.length * 10);

    await options.restart(phases);
    await forceDoors(gates, 5);
    await settled(gates.length * 15);

    const incidents = forcedBy(await listIncidents(first.httpUrl), gateIds);
    expect(incidents).toHaveLength(gates.length * 15);
    await expectEveryIncidentPushed(
      clients,
      incidents,
      hubs,
      (incident) => `created ${incident.createdAt}; phases ${phases.join(', ')}`,
    );
  } finally {
    for (const client of clients) client.close();
    for (const gate of gates) await gate.stop();
  }
}

/**
 * Waits until every client was pushed every one of the incidents, then checks it: each at least once, and more
 * often only for device events delivered again (see redeliveredEvents, counted by `liveHubs`). `made` says when a
 * missing incident was created, for the failure message.
 */
export async function expectEveryIncidentPushed(
  clients: readonly RecordingClient[],
  incidents: readonly Incident[],
  liveHubs: readonly HubProcess[],
  made: (incident: Incident) => string = (incident) => incident.createdAt,
): Promise<void> {
  const ids = new Set(incidents.map((incident) => incident.id));
  const pushedTo = (client: RecordingClient) =>
    client
      .of('incident:new')
      .map((incident) => (incident as Incident).id)
      .filter((id) => ids.has(id));
  for (const client of clients) {
    await until(
      () => new Set(pushedTo(client)).size >= ids.size,
      () => {
        const seen = new Set(pushedTo(client));
        const missing = incidents.filter((incident) => !seen.has(incident.id));
        return `every push: ${seen.size} of ${ids.size}; missing ${missing.map((incident) => `${incident.id} (${incident.device.id}, ${made(incident)})`).join(', ')}`;
      },
    );
    const pushed = pushedTo(client);
    expect(new Set(pushed)).toEqual(ids);
    expect(pushed.length - ids.size).toBeLessThanOrEqual(await redeliveredEvents(liveHubs));
  }
}

/**
 * Device events delivered again after their change was committed, as the live instances counted them. Each is
 * pushed again (the instance that committed it may have died before its push left), so a client may see an
 * incident pushed more than once, but never more often than this allows.
 */
export async function redeliveredEvents(hubs: readonly { httpUrl: string }[]): Promise<number> {
  let total = 0;
  for (const hub of hubs) {
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((each) => each.startsWith('gridhub_events_redelivered_total '));
    total += line === undefined ? 0 : Number(line.slice('gridhub_events_redelivered_total '.length));
  }
  return total;
}

/** Resolves when `check` holds; polls, with room for child processes on a busy machine. */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string | (() => Promise<string> | string),
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not ready yet (an instance restarting, say): try again.
    }
    if (Date.now() > deadline) {
      throw new Error(`not in time: ${typeof what === 'string' ? what : await what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
