import type { Namespace } from 'socket.io';
import type { Adapter } from 'socket.io-adapter';

/** A Socket.IO adapter: its class, or a function Socket.IO calls with `new`. */
export type AdapterConstructor = typeof Adapter | ((nsp: Namespace) => Adapter);

/**
 * How pushes reach clients: through this instance's memory alone ({@link inMemoryPushes}), or through a Redis stream
 * every sibling reads (cluster/shared-pushes.ts), so a client on any instance gets every push it is entitled to and
 * catches up after a reconnect to any of them. sharing.ts chooses it; Realtime uses the one it is given.
 */
export interface PushDistribution {
  /**
   * Opens what pushes go through, and gives Socket.IO's adapter for them. `inMemory` is the adapter Realtime keeps
   * pushes in for clients catching up (recovery-adapter.ts), undefined when recovery is off (Socket.IO's own).
   */
  open(inMemory: AdapterConstructor | undefined): AdapterConstructor | undefined;
  /**
   * Resolves once every push made so far can reach every client entitled to it, on any instance. The ingest
   * acknowledges a device event only after this (sharing.ts, acknowledgeAfter), so an instance that dies before its
   * push left has not acknowledged the event either: it comes again, is recognised, and is pushed again
   * (`incident:replayed`).
   */
  delivered(): Promise<void>;
  /** Closes what open() opened; Socket.IO's adapter is closed already. */
  close(): Promise<void>;
}

/** A lone instance: pushes go no further than its memory, and are delivered once made. */
export const inMemoryPushes: PushDistribution = {
  open: (inMemory) => inMemory,
  delivered: () => Promise.resolve(),
  close: () => Promise.resolve(),
};
