import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { parse } from 'yaml';
import { adapters } from '../../devices/index.ts';
import { GateSimulator, type GateSimulatorOptions } from '../../simulators/gate-access/gate-simulator.ts';
import { SentrySimulator } from '../../simulators/sentry-box/sentry-simulator.ts';
import type { MqttDeviceOptions } from '../../simulators/shared/mqtt-device.ts';
import { adapterMap } from '../../src/adapters.ts';
import { type Deployment, loadDeployment, resolveDeployment } from '../../src/config/load.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/core/events.ts';
import type { Incident } from '../../src/core/incident.ts';
import { Hub, type HubOptions, type HubTestHandle } from '../../src/hub.ts';
import { AddressPolicy, OutboundGuard } from '../../src/net/outbound-address.ts';
import { outboundGuardMetrics } from '../../src/net/outbound-metrics.ts';
import type { MetricsRegistry } from '../../src/observability/metrics-registry.ts';

export const projectRoot = path.resolve(import.meta.dirname, '../..');
export const demoConfigPath = path.join(projectRoot, 'config', 'demo.yaml');

export function demoDeployment(): Deployment {
  return loadDeployment(demoConfigPath, adapterMap(adapters));
}

/** The demo config as data, to change before resolving it (shorter thresholds for liveness tests, say). */
export function demoConfig(): ConfigFile {
  return parse(readFileSync(demoConfigPath, 'utf8')) as ConfigFile;
}

/**
 * The demo config with no device going offline for a day: the demo's devices never report in a test, and must not
 * open incidents of their own (a ZKTeco terminal's silence after 30 s, say) while a test counts its own.
 */
export function quietDemoConfig(): ConfigFile {
  const config = demoConfig();
  config.devices = config.devices.map((device) => ({ ...device, offlineAfterSeconds: 86_400 }));
  return config;
}

/** A test hub on the quiet demo config (quietDemoConfig). */
export function startQuietDemoHub(): Promise<TestHub> {
  return startTestHub({ deployment: deploymentOf(quietDemoConfig()) });
}

export function deploymentOf(config: unknown): Deployment {
  return resolveDeployment(config, adapterMap(adapters), 'test configuration');
}

/** The demo devices' MQTT passwords, as config/demo.yaml gives them. */
export function demoSecret(deviceId: string): string {
  return `demo-secret-${deviceId}`;
}

type DemoDeviceOptions = Omit<MqttDeviceOptions, 'url' | 'deviceId' | 'secret'>;

/** A simulated gate of the demo, with its own demo secret, for the broker at `url` (not started). */
export function demoGate(
  url: string,
  deviceId: string,
  options: DemoDeviceOptions & Omit<GateSimulatorOptions, keyof MqttDeviceOptions> = {},
): GateSimulator {
  return new GateSimulator({ url, deviceId, secret: demoSecret(deviceId), ...options });
}

/**
 * The demo's gates a test drives, on the broker `mqttUrl()` names (read at first use, once the hub is up): each
 * started on its first use and the same one after, all stopped by stopAll.
 */
export class DemoGates {
  private readonly started = new Map<string, GateSimulator>();

  constructor(private readonly mqttUrl: () => string) {}

  async gate(deviceId: string): Promise<GateSimulator> {
    let sim = this.started.get(deviceId);
    if (sim === undefined) {
      sim = demoGate(this.mqttUrl(), deviceId);
      await sim.start();
      this.started.set(deviceId, sim);
    }
    return sim;
  }

  async stopAll(): Promise<void> {
    for (const sim of this.started.values()) await sim.stop();
    this.started.clear();
  }
}

/** A simulated sentry box of the demo, with its own demo secret, for the broker at `url` (not started). */
export function demoSentry(url: string, deviceId: string, options: DemoDeviceOptions = {}): SentrySimulator {
  return new SentrySimulator({ url, deviceId, secret: demoSecret(deviceId), ...options });
}

export function temporaryDirectory(prefix = 'gridhub-test-'): { path: string; remove: () => void } {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  return { path: directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Every log line the hub wrote, as text, so tests can assert what is (and is never) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  get text(): string {
    return this.lines.join('');
  }
}

export interface TestHub {
  /** The hub through its public interface: ports, health, deployment, bus. */
  readonly hub: Hub;
  /** What tests reach inside it (the store, the incidents, the broker): see HubTestHandle. */
  readonly testHandle: HubTestHandle;
  readonly logs: LogCapture;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  stop(): Promise<void>;
}

/**
 * A clock for `startTestHub({ clock })` (HubOptions.clock): real time, plus however far the test moved it on, so
 * that a test skips a lockout or a session's end instead of waiting it out. The hub's timers and sockets keep real
 * time.
 */
export interface MovableClock {
  readonly now: () => number;
  moveOn(ms: number): void;
}

export function movableClock(): MovableClock {
  let ahead = 0;
  return {
    now: () => Date.now() + ahead,
    moveOn: (ms) => {
      ahead += ms;
    },
  };
}

/** A real hub on ephemeral loopback ports, with its own data directory (kept when `dataDir` is given). */
export async function startTestHub(
  options: {
    dataDir?: string;
    deployment?: Deployment;
    livenessSweepMs?: number;
    deadlineSweepMs?: number;
    onvifTiming?: HubOptions['onvifTiming'];
    hikvisionTiming?: HubOptions['hikvisionTiming'];
    dahuaTiming?: HubOptions['dahuaTiming'];
    clock?: HubOptions['clock'];
    notifyChannels?: HubOptions['notifyChannels'];
    notifySecondMs?: HubOptions['notifySecondMs'];
  } = {},
): Promise<TestHub> {
  const ownDirectory = options.dataDir === undefined ? temporaryDirectory() : undefined;
  const dataDir = options.dataDir ?? (ownDirectory?.path as string);
  const logs = new LogCapture();
  const deployment = options.deployment ?? demoDeployment();
  const hub = new Hub({
    deployment,
    runtime: { httpPort: 0, mqttPort: 0, dataDir, configPath: demoConfigPath },
    host: '127.0.0.1',
    logger: pino({ level: 'debug' }, logs),
    livenessSweepMs: options.livenessSweepMs ?? 100,
    ...(options.deadlineSweepMs === undefined ? {} : { deadlineSweepMs: options.deadlineSweepMs }),
    ...(options.onvifTiming === undefined ? {} : { onvifTiming: options.onvifTiming }),
    ...(options.hikvisionTiming === undefined ? {} : { hikvisionTiming: options.hikvisionTiming }),
    ...(options.dahuaTiming === undefined ? {} : { dahuaTiming: options.dahuaTiming }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.notifyChannels === undefined ? {} : { notifyChannels: options.notifyChannels }),
    ...(options.notifySecondMs === undefined ? {} : { notifySecondMs: options.notifySecondMs }),
  });
  await hub.start();
  return {
    hub,
    testHandle: hub.testHandle,
    logs,
    httpUrl: `${deployment.tls?.http ? 'https' : 'http'}://127.0.0.1:${hub.httpPort}`,
    mqttUrl: `${deployment.tls?.mqtt ? 'mqtts' : 'mqtt'}://127.0.0.1:${hub.mqttPort}`,
    stop: async () => {
      await hub.stop();
      ownDirectory?.remove();
    },
  };
}

/**
 * The outbound guard for a component built alone (a webhook dispatcher, an evidence service), allowing what
 * config/demo.yaml allows: loopback included, since the tests' cameras and receivers run on 127.0.0.1. Production
 * configs must not allow loopback.
 */
export function loopbackGuard(metrics: MetricsRegistry, logger = pino({ level: 'silent' })): OutboundGuard {
  return new OutboundGuard({
    policy: new AddressPolicy({
      cameras: ['private', '127.0.0.0/8'],
      webhooks: ['private', 'public', '127.0.0.0/8'],
    }),
    refusals: outboundGuardMetrics(metrics).refusals,
    logger,
  });
}

export type HubClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A Socket.IO client that records every push it receives, in order. */
export interface RecordingClient {
  readonly socket: HubClientSocket;
  readonly received: { event: string; payload: unknown }[];
  /** Resolves with the payload of the n-th (1-based) push of this event, waiting for it if need be. */
  nth(event: keyof ServerToClientEvents, n: number): Promise<unknown>;
  /** The payloads of every push of this event so far, in order. */
  of(event: keyof ServerToClientEvents): unknown[];
  close(): void;
}

export async function connectClient(httpUrl: string, token: string): Promise<RecordingClient> {
  const socket: HubClientSocket = io(httpUrl, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
  });
  const received: { event: string; payload: unknown }[] = [];
  const waiters: (() => void)[] = [];
  socket.onAny((event: string, payload: unknown) => {
    received.push({ event, payload });
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const nth = async (event: string, n: number): Promise<unknown> => {
    for (;;) {
      const matching = received.filter((entry) => entry.event === event);
      if (matching.length >= n) return matching[n - 1]?.payload;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const of = (event: string): unknown[] =>
    received.filter((entry) => entry.event === event).map((entry) => entry.payload);
  return { socket, received, nth, of, close: () => socket.close() };
}

/** Reads one sample of a metric from the Prometheus text, 0 when absent. */
export async function metricValue(httpUrl: string, sample: string, token?: string): Promise<number> {
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
  const text = await (await fetch(`${httpUrl}/metrics`, { headers })).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

export async function getJson(url: string, token?: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(
    url,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  return { status: response.status, body: await response.json() };
}

/** POSTs JSON with a bearer token; `Body` is the answer's shape as the test expects it. */
export async function postJson<Body = Record<string, unknown>>(
  url: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Body }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

/**
 * A camera's snapshot of an incident, as the evidence service takes one: the file written whole, then attached.
 * `attached` resolves once the attachment is committed and announced.
 */
export async function attachSnapshot(
  hub: TestHub,
  incidentId: string,
  jpeg: Buffer,
): Promise<{ url: string; attached: Promise<Incident | undefined> }> {
  const file = 'snapshot-cam-test.jpg';
  const written = await hub.testHandle.media.write(incidentId, file, jpeg);
  const url = `/media/${incidentId}/${file}`;
  const attached = hub.testHandle.incidents.attachEvidence(incidentId, {
    kind: 'snapshot',
    cameraId: 'cam-test',
    url,
    contentType: 'image/jpeg',
    bytes: written.bytes,
    capturedAt: new Date().toISOString(),
  });
  return { url, attached };
}

/**
 * The newest incident the user's API lists (`limit` of them, newest first) that `matches`, waiting for the hub to
 * have it; by default as the demo's Xijiao duty officer sees them.
 */
export async function findIncident(
  httpUrl: string,
  matches: (incident: Incident) => boolean,
  options: { token?: string; limit?: number; timeoutMs?: number } = {},
): Promise<Incident> {
  const url = `${httpUrl}/api/incidents?limit=${options.limit ?? 50}`;
  let found: Incident | undefined;
  await eventually(async () => {
    const { body } = await getJson(url, options.token ?? 'demo-officer-xijiao');
    found = (body as { incidents: Incident[] }).incidents.find(matches);
    return found !== undefined;
  }, options.timeoutMs ?? 10_000);
  return found as Incident;
}

/** The newest incident of a device (and of this event type, when given), once the hub has it. */
export function incidentOf(httpUrl: string, deviceId: string, eventType?: string): Promise<Incident> {
  return findIncident(
    httpUrl,
    (incident) =>
      incident.device.id === deviceId && (eventType === undefined || incident.event.type === eventType),
  );
}

/** Resolves when `check` holds, polling; for state that arrives by a side channel (metrics, the store). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
