import { io, type Socket } from 'socket.io-client';
import { nowMs, percentile } from './proc.ts';

/**
 * M Socket.IO clients in one process (duty officers at every level, chiefs and grid workers, cycling through the
 * demo users' tokens). Each push that carries a new device occurrence gives one latency sample:
 * receipt time − the device's own `time` (ISO 8601, millisecond resolution; devices run on this machine).
 */
export type ClientsCommand =
  | { type: 'connect'; url: string; count: number; tokens: string[] }
  | { type: 'reset' }
  | { type: 'collect' }
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
}

const sockets: Socket[] = [];
const maxSamples = 2_000_000;
let samples: number[] = [];
/** Storm incidents are pushed at most once a second by design (incident-service #announceSoon): kept apart. */
let stormSamples: number[] = [];
let pushes = 0;
let resetAt = nowMs();
let worst = 0;
let worstAt = 0;
/** What the slowest 1 % of samples were: push kind and incident category/event type, counted. */
let slowKinds = new Map<string, number>();
const slowMs = Number(process.env.BENCH_SLOW_MS ?? 100);
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

async function connectAll(url: string, count: number, tokens: string[]): Promise<number> {
  const started = performance.now();
  let index = 0;
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
  process.send?.({
    type: 'connected',
    connected: sockets.filter((socket) => socket.connected).length,
    ms: performance.now() - started,
  });
  return sockets.length;
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
  };
}

function stop(): void {
  for (const socket of sockets) socket.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (command: ClientsCommand) => {
  if (command.type === 'connect') void connectAll(command.url, command.count, command.tokens);
  if (command.type === 'reset') {
    samples = [];
    stormSamples = [];
    slowKinds = new Map();
    pushes = 0;
    resetAt = nowMs();
    worst = 0;
    worstAt = 0;
  }
  if (command.type === 'collect') process.send?.({ type: 'latency', ...summary() });
  if (command.type === 'stop') stop();
});
process.once('disconnect', stop);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.send?.({ type: 'alive' });
