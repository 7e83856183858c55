import type { Server } from 'socket.io';

/**
 * The parts of an engine.io socket this reaches into (engine.io 6, ws 8). engine.io creates each packet (its
 * `packetCreate` event) into the socket's write buffer, and hands the buffer to the transport (`flush`) whenever
 * the transport is writable; a WebSocket transport is not writable again until ws has written the last batch to the
 * TCP socket. A client that stops reading leaves everything pushed to it in that buffer until its ping timeout.
 */
interface EngineSocket {
  readonly remoteAddress: string;
  readonly transport: {
    readonly name: string;
    readonly socket?: { terminate?(): void };
  };
  on(event: 'packetCreate', listener: (packet: { data?: unknown }) => void): unknown;
  on(event: 'flush' | 'close', listener: () => void): unknown;
  close(discard?: boolean): void;
}

export interface SlowClientLimit {
  /** Bytes waiting for one client in engine.io's buffer past which it is disconnected. */
  readonly maxBufferedBytes: number;
  /** A client cut off: counted and logged by the caller. */
  readonly onSlow: (client: { address: string; bufferedBytes: number }) => void;
}

/** How long a client may stay over the limit before it is cut off: a burst a healthy client drains in time passes. */
const graceMs = 1000;

/**
 * Disconnects a client that does not read what it is sent once more than `maxBufferedBytes` wait for it in
 * engine.io's buffer and still do a second later (a burst of pushes made in one turn waits there too, for a moment),
 * or at once past four times the limit: it reconnects and reloads what it shows (the pages do on every connection),
 * where holding on to its pushes would cost the hub their whole size until the ping timeout. What the transport
 * holds besides is the last batch flushed to it, no more than that. The cost per push and client is one call that
 * adds a length and compares it (a few ns); the timer exists only while a client is over the limit.
 */
export function limitSlowClients(engine: Server['engine'], limit: SlowClientLimit): void {
  engine.on('connection', (socket: EngineSocket) => {
    /** Bytes created since engine.io last handed its buffer to the transport. */
    let waiting = 0;
    let cut = false;
    let grace: NodeJS.Timeout | undefined;
    const cutOff = (): void => {
      if (cut) return;
      cut = true;
      clearTimeout(grace);
      limit.onSlow({ address: socket.remoteAddress, bufferedBytes: waiting });
      // Dropped at once, what it holds freed with it: a polite close would wait for a client that does not read.
      const transport = socket.transport.socket;
      if (typeof transport?.terminate === 'function') transport.terminate();
      else socket.close(true);
    };
    socket.on('flush', () => {
      waiting = 0;
    });
    socket.on('close', () => clearTimeout(grace));
    socket.on('packetCreate', ({ data }) => {
      if (cut) return;
      waiting +=
        typeof data === 'string' ? data.length : ((data as ArrayBufferView | undefined)?.byteLength ?? 0);
      if (waiting <= limit.maxBufferedBytes) return;
      if (waiting > 4 * limit.maxBufferedBytes) return cutOff();
      grace ??= setTimeout(() => {
        grace = undefined;
        if (waiting > limit.maxBufferedBytes) cutOff();
      }, graceMs).unref();
    });
  });
}
