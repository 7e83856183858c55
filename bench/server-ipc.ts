import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';

/**
 * The messages between the orchestrator (bench/run.ts) and a server process (hub or relay). `stats` with `quiet`:
 * no full collection first (the heap figure is then whatever it is), for a request made while the load runs, where a
 * collection would stall the server inside the window it opens.
 */
export type ParentMessage = { type: 'stats'; quiet?: boolean } | { type: 'stop' };

export type ServerMessage =
  | { type: 'ready'; http: number; mqtt: number; devices: number }
  | ({ type: 'stats'; devices: number; activeIncidents?: number; storeBytes?: number } & ServerStats);

export interface ServerStats {
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
  /** Event-loop delay since the previous stats request (ms): how long the server's loop was blocked. */
  readonly loopDelayP99: number;
  readonly loopDelayMax: number;
  /**
   * How busy the main thread was since the previous stats request, in % of its time (event-loop utilisation): what
   * every push and acknowledgement queues behind. The process's CPU % adds its other threads (LMDB's writer, V8's).
   */
  readonly loopBusyPercent: number;
  /** The hub's broker thread (ThreadedBroker), as busy in % of its time; its heap is in heapUsed. */
  readonly brokerThreadBusyPercent?: number;
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let loopUse: EventLoopUtilization = performance.eventLoopUtilization();

export function reply(message: ServerMessage): void {
  process.send?.(message);
}

/** Memory after a full collection when the process runs with --expose-gc, unless `quiet`. */
export function serverStats(quiet = false): ServerStats {
  const loopDelayP99 = loopDelay.percentile(99) / 1e6;
  const loopDelayMax = loopDelay.max / 1e6;
  if (!quiet) (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  loopDelay.reset();
  const since = performance.eventLoopUtilization(loopUse);
  loopUse = performance.eventLoopUtilization();
  return {
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    external: memory.external,
    loopDelayP99,
    loopDelayMax,
    loopBusyPercent: since.utilization * 100,
  };
}
