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
  on(event: 'flush', listener: () => void): unknown;
  close(discard?: boolean): void;
}

export interface SlowClientLimit {
  /** Bytes waiting for one client in engine.io's buffer past which it is disconnected. */
  readonly maxBufferedBytes: number;
  /** A client cut off: counted and logged by the caller. */
  readonly onSlow: (client: { address: string; bufferedBytes: number }) => void;
}

/**
 * Disconnects a client that does not read what it is sent once more than `maxBufferedBytes` wait for it in
 * engine.io's buffer: it reconnects and reloads what it shows (the pages do on every connection), where holding on to
 * its pushes would cost the hub their whole size until the ping timeout. What the transport holds besides is the
 * last batch flushed to it, itself no more than the limit: a client costs at most about twice the limit. The cost
 * per push and client is one call that adds a length and compares it (a few ns).
 */
export function limitSlowClients(engine: Server['engine'], limit: SlowClientLimit): void {
  engine.on('connection', (socket: EngineSocket) => {
    /** Bytes created since engine.io last handed its buffer to the transport. */
    let waiting = 0;
    let cut = false;
    socket.on('flush', () => {
      waiting = 0;
    });
    socket.on('packetCreate', ({ data }) => {
      if (cut) return;
      waiting +=
        typeof data === 'string' ? data.length : ((data as ArrayBufferView | undefined)?.byteLength ?? 0);
      if (waiting <= limit.maxBufferedBytes) return;
      cut = true;
      limit.onSlow({ address: socket.remoteAddress, bufferedBytes: waiting });
      // Dropped at once, what it holds freed with it: a polite close would wait for a client that does not read.
      const transport = socket.transport.socket;
      if (typeof transport?.terminate === 'function') transport.terminate();
      else socket.close(true);
    });
  });
}
