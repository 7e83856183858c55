import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { nowMs, percentile } from './proc.ts';

/**
 * M Socket.IO clients (duty officers at every level, chiefs and grid workers, cycling through the demo users'
 * tokens), in one process or, with BENCH_CLIENT_PROCESSES=N, spread over N (this one and N−1 workers it starts and
 * gathers the samples of). Each push that carries a new device occurrence gives one latency sample:
 * receipt time − the device's own `time` (ISO 8601, millisecond resolution; devices run on this machine).
 *
 * BENCH_RECONNECTS=N: the last N clients (of each process) drop their link every BENCH_RECONNECT_EVERY_S (10) s,
 * staggered, and come back a second later, as phones on mobile networks do, catching up on what they missed. Their
 * own samples are not counted (a replayed push's latency is the time away): the others' show what catching up costs
 * everyone else.
 */
export type ClientsCommand =
  | { type: 'connect'; url: string; count: number; tokens: string[]; offset?: number }
  | { type: 'reset' }
  /** The measured window opens: what came so far was the settling's; its seconds are kept as the step's. */
  | { type: 'window' }
  | { type: 'collect' }
  | { type: 'samples' }
  | { type: 'stop' };

export interface LatencySummary {
  readonly samples: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly pushes: number;
  /** Seconds after the phase started when the worst sample arrived. */
  readonly maxAt: number;
  /** Storm pushes (coalesced to one a second per storm): how many, and their p50/p99. */
  readonly slow: Record<string, number>;
  readonly storm: { readonly samples: number; readonly p50: number; readonly p99: number };
  /** p99 of each second of the phase: a start-up transient and a steady state look alike in one figure. */
  readonly p99BySecond: number[];
  /** The same for the settling before the window (after a `window` command): the step to the rate. */
  readonly stepP99BySecond: number[];
  /** BENCH_RECONNECTS: the clients' returns since the reset, and how many of them got what they missed. */
  readonly reconnects: number;
  readonly recovered: number;
}

const sockets: Socket[] = [];
/**
 * Enough for a window of 150 s at 8,000/s to the relay's ~10 clients an event (about 12 M; each sample is kept twice,
 * about 200 MB here): a long window is counted to its end, not cut where the cap was reached.
 */
const maxSamples = 12_000_000;
let samples: number[] = [];
/** Storm incidents are pushed at most once a second by design (ThrottledPushes in src/incidents/throttled-pushes.ts): kept apart. */
let stormSamples: number[] = [];
let pushes = 0;
let resetAt = nowMs();
let worst = 0;
let worstAt = 0;
/** What the slowest 1 % of samples were: push kind and incident category/event type, counted. */
let slowKinds = new Map<string, number>();
/** The samples of each second since the reset. */
let perSecond: number[][] = [];
/** The settling's samples of each second, set aside when the window opened. */
let stepSeconds: number[][] = [];

/** The samples of one second of the phase, made on first use. */
function secondOf(seconds: number[][], second: number): number[] {
  let samples = seconds[second];
  if (samples === undefined) {
    samples = [];
    seconds[second] = samples;
  }
  return samples;
}
const slowMs = Number(process.env.BENCH_SLOW_MS ?? 100);
const reconnecting = Math.max(0, Math.floor(Number(process.env.BENCH_RECONNECTS) || 0));
const reconnectEveryMs = 1000 * Math.max(2, Number(process.env.BENCH_RECONNECT_EVERY_S) || 10);
let reconnects = 0;
let recovered = 0;
const dropTimers: NodeJS.Timeout[] = [];

/**
 * Drops the socket's link (not a clean leave: the hub keeps its session) every period, and reconnects a second later.
 */
function dropNowAndThen(socket: Socket, startAfterMs: number): void {
  const drop = () => {
    socket.io.engine?.close();
    dropTimers.push(setTimeout(() => socket.connect(), 1000));
  };
  dropTimers.push(
    setTimeout(() => {
      drop();
      dropTimers.push(setInterval(drop, reconnectEveryMs));
    }, startAfterMs),
  );
  socket.on('connect', () => {
    reconnects += 1;
    if (socket.recovered) recovered += 1;
  });
}
/** Incident id → "category event type", from incident:new, to name the slow repeats (which carry only a delta). */
const kinds = new Map<string, string>();

function record(time: string | undefined, storm = false, kind = ''): void {
  pushes += 1;
  if (time === undefined || samples.length >= maxSamples) return;
  const sent = Date.parse(time);
  if (!Number.isFinite(sent)) return;
  const now = nowMs();
  const latency = now - sent;
  if (storm) {
    stormSamples.push(latency);
    return;
  }
  samples.push(latency);
  const second = Math.floor((now - resetAt) / 1000);
  if (second >= 0 && second < 600) secondOf(perSecond, second).push(latency);
  if (latency > slowMs && slowKinds.size < 1000) slowKinds.set(kind, (slowKinds.get(kind) ?? 0) + 1);
  if (latency > worst) {
    worst = latency;
    worstAt = (now - resetAt) / 1000;
  }
}

interface IncidentLike {
  category?: string;
  state?: string;
  event?: { occurredAt?: string; type?: string };
  occurrences?: number;
  lastOccurredAt?: string;
}

const processes = Math.max(1, Math.min(8, Math.floor(Number(process.env.BENCH_CLIENT_PROCESSES) || 1)));
const isWorker = process.env.BENCH_CLIENTS_WORKER === '1';
const workers: ChildProcess[] = [];

/** The raw samples of one process, for the coordinator to merge. */
interface SampleBatch {
  readonly type: 'samples';
  readonly samples: number[];
  readonly stormSamples: number[];
  readonly pushes: number;
  readonly slow: [string, number][];
  readonly worst: number;
  readonly worstAt: number;
  readonly perSecond: number[][];
  readonly stepSeconds: number[][];
  readonly reconnects: number;
  readonly recovered: number;
}

function reply<T>(worker: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      worker.off('message', onMessage);
      resolve(message as T);
    };
    worker.on('message', onMessage);
  });
}

/** Starts the workers, gives each its share of the clients (the token cycle continuing), and connects its own. */
async function connectSpread(url: string, count: number, tokens: string[]): Promise<void> {
  const started = performance.now();
  const share = Math.ceil(count / processes);
  let connected = 0;
  const pending: Promise<void>[] = [];
  for (let n = 1; n < processes; n++) {
    const offset = n * share;
    const size = Math.max(0, Math.min(share, count - offset));
    const worker = fork(fileURLToPath(import.meta.url), [], {
      execArgv: process.execArgv,
      env: { ...process.env, BENCH_CLIENTS_WORKER: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    workers.push(worker);
    pending.push(
      reply(worker, 'alive').then(async () => {
        const answer = reply<{ connected: number }>(worker, 'connected');
        worker.send({ type: 'connect', url, count: size, tokens, offset });
        connected += (await answer).connected;
      }),
    );
  }
  await Promise.all([...pending, connectAll(url, Math.min(share, count), tokens, 0, false)]);
  connected += sockets.filter((socket) => socket.connected).length;
  process.send?.({
    type: 'connected',
    connected,
    ms: performance.now() - started,
    pids: workers.map((worker) => worker.pid),
  });
}

async function connectAll(
  url: string,
  count: number,
  tokens: string[],
  offset = 0,
  report = true,
): Promise<number> {
  const started = performance.now();
  let index = offset;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const token = tokens[index % tokens.length];
      index += 1;
      const socket = io(url, {
        transports: ['websocket'],
        auth: { token },
        reconnection: false,
        timeout: 10_000,
      });
      sockets.push(socket);
      const ordinal = sockets.length - 1;
      // The last BENCH_RECONNECTS of this process's clients come and go, unmeasured.
      if (ordinal >= count - reconnecting) {
        const nth = ordinal - Math.max(0, count - reconnecting);
        socket.once('connect', () => {
          dropNowAndThen(socket, (nth / reconnecting) * reconnectEveryMs);
          resolve();
        });
        socket.once('connect_error', () => resolve());
        return;
      }
      socket.on('incident:new', (incident: IncidentLike & { id?: string }) => {
        if (incident.id !== undefined && kinds.size < 100_000)
          kinds.set(incident.id, `${incident.category} ${incident.event?.type}`);
        record(
          incident.event?.occurredAt,
          incident.category === 'storm',
          `new ${incident.category} ${incident.event?.type}`,
        );
      });
      // A repeat folded into an open incident (dedupe) comes as a delta: one more device event arriving.
      socket.on('incident:repeat', (repeat: { id: string; lastOccurredAt?: string }) =>
        record(repeat.lastOccurredAt, false, `repeat ${kinds.get(repeat.id) ?? '(incident from before)'}`),
      );
      socket.on('incident:update', (change: { before: IncidentLike; after: IncidentLike }) =>
        // Only an update that carries a new occurrence (a repeat folded in) is a device event arriving.
        record(
          change.after.lastOccurredAt !== change.before.lastOccurredAt
            ? change.after.lastOccurredAt
            : undefined,
          change.after.category === 'storm',
          `update ${change.after.category} ${change.after.event?.type}`,
        ),
      );
      socket.on('relay:event', (event: { time?: string }) => record(event.time));
      socket.once('connect', () => resolve());
      socket.once('connect_error', () => resolve());
    });
  // Bounded concurrency: 50 handshakes at a time.
  for (let done = 0; done < count; done += 50) {
    await Promise.all(Array.from({ length: Math.min(50, count - done) }, one));
  }
  if (report) {
    process.send?.({
      type: 'connected',
      connected: sockets.filter((socket) => socket.connected).length,
      ms: performance.now() - started,
      pids: [],
    });
  }
  return sockets.length;
}

/** Merges the workers' raw samples into this process's before summing up. */
async function gather(): Promise<void> {
  const batches = await Promise.all(
    workers.map((worker) => {
      const answer = reply<SampleBatch>(worker, 'samples');
      worker.send({ type: 'samples' });
      return answer;
    }),
  );
  for (const batch of batches) {
    for (const sample of batch.samples) samples.push(sample);
    for (const sample of batch.stormSamples) stormSamples.push(sample);
    pushes += batch.pushes;
    reconnects += batch.reconnects;
    recovered += batch.recovered;
    for (const [kind, count] of batch.slow) slowKinds.set(kind, (slowKinds.get(kind) ?? 0) + count);
    batch.perSecond.forEach((inSecond, second) => {
      if (inSecond) secondOf(perSecond, second).push(...inSecond);
    });
    batch.stepSeconds.forEach((inSecond, second) => {
      if (inSecond) secondOf(stepSeconds, second).push(...inSecond);
    });
    if (batch.worst > worst) {
      worst = batch.worst;
      worstAt = batch.worstAt;
    }
  }
}

function summary(): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const list = Array.from(sorted);
  const storm = Array.from(Float64Array.from(stormSamples).sort());
  return {
    samples: list.length,
    p50: percentile(list, 50),
    p95: percentile(list, 95),
    p99: percentile(list, 99),
    max: list.length === 0 ? Number.NaN : (list[list.length - 1] as number),
    pushes,
    maxAt: worstAt,
    slow: Object.fromEntries(slowKinds),
    storm: {
      samples: stormSamples.length,
      p50: percentile(storm, 50),
      p99: percentile(storm, 99),
    },
    p99BySecond: p99sOf(perSecond),
    stepP99BySecond: p99sOf(stepSeconds),
    reconnects,
    recovered,
  };
}

function p99sOf(seconds: number[][]): number[] {
  return Array.from(seconds, (inSecond) =>
    percentile(Array.from(Float64Array.from(inSecond ?? []).sort()), 99),
  );
}

function stop(): void {
  for (const timer of dropTimers) clearTimeout(timer);
  for (const worker of workers) if (worker.connected) worker.send({ type: 'stop' });
  for (const socket of sockets) socket.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (command: ClientsCommand) => {
  if (command.type === 'connect') {
    if (processes > 1 && !isWorker) void connectSpread(command.url, command.count, command.tokens);
    else void connectAll(command.url, command.count, command.tokens, command.offset ?? 0);
  }
  if (command.type === 'reset' || command.type === 'window')
    for (const worker of workers) worker.send({ type: command.type });
  // Both cost nothing here (arrays swapped, nothing sorted): the clients keep receiving at full rate meanwhile.
  if (command.type === 'window') stepSeconds = perSecond;
  if (command.type === 'reset') stepSeconds = [];
  if (command.type === 'reset' || command.type === 'window') {
    samples = [];
    stormSamples = [];
    slowKinds = new Map();
    perSecond = [];
    pushes = 0;
    reconnects = 0;
    recovered = 0;
    resetAt = nowMs();
    worst = 0;
    worstAt = 0;
  }
  if (command.type === 'collect') void gather().then(() => process.send?.({ type: 'latency', ...summary() }));
  if (command.type === 'samples') {
    const batch: SampleBatch = {
      type: 'samples',
      samples,
      stormSamples,
      pushes,
      slow: [...slowKinds],
      worst,
      worstAt,
      perSecond,
      stepSeconds,
      reconnects,
      recovered,
    };
    process.send?.(batch);
  }
  if (command.type === 'stop') stop();
});
process.once('disconnect', stop);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.send?.({ type: 'alive' });
