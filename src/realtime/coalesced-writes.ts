import type { Server } from 'socket.io';

/**
 * The parts of engine.io's WebSocket transport this reaches into (engine.io 6, ws 8): `send(packets)` writes each
 * packet as its own WebSocket frame, and ws writes each frame with its own cork/uncork of the TCP socket, i.e. one
 * `writev` system call per frame.
 */
interface EngineTransport {
  readonly name: string;
  send(packets: unknown[]): void;
  readonly socket?: { readonly _socket?: { cork(): void; uncork(): void } };
}

/**
 * engine.io's socket: `sendPacket` adds a packet to its write buffer and calls `flush`, which hands the whole buffer
 * to the transport if it is writable (with one entry in its list of send callbacks, taken off at the transport's
 * next `drain`).
 */
interface EngineSocket {
  readonly transport: EngineTransport;
  flush(): void;
  on(event: 'upgrade', listener: (transport: EngineTransport) => void): unknown;
}

const coalesced = new WeakSet<EngineTransport>();

/** The sockets whose flush waits for the end of this turn's I/O callbacks, each with engine.io's own flush. */
const due = new Map<EngineSocket, () => void>();

/**
 * Makes the frames that engine.io sends a client in one event-loop turn leave in one write, in two steps.
 *
 * 1. A socket's flush waits for the end of the turn's I/O callbacks (`setImmediate`: the same loop iteration), so the
 *    pushes of every publish read in the turn join one buffer: on one core at 1,000 events/s, the five devices'
 *    publishes of a turn used to cost five writes to the same console (the bench's strace), and a write on loopback
 *    delivers to the receiver in the sender's time. A push waits no longer than the rest of its turn.
 * 2. The buffer goes to ws as one batch, which ws would write frame by frame, one `writev` each: the TCP socket is
 *    corked around the batch and uncorked right after it. A push that reaches 20 clients right after a store commit
 *    that resolved 30 changes would otherwise cost hundreds of system calls.
 *
 * engine.io keeps its own bookkeeping: one real flush hands its buffer over and records its send callbacks, as
 * before; a transport that is not writable keeps the buffer until it drains (where limitSlowClients watches it).
 */
export function coalesceWrites(engine: Server['engine']): void {
  engine.on('connection', (socket: EngineSocket) => {
    deferFlush(socket);
    coalesce(socket.transport);
    // Browsers start on HTTP long-polling and upgrade to WebSocket.
    socket.on('upgrade', (transport) => coalesce(transport));
  });
}

function deferFlush(socket: EngineSocket): void {
  const flush = socket.flush.bind(socket);
  socket.flush = (): void => {
    if (due.has(socket)) return;
    if (due.size === 0) setImmediate(flushDue);
    due.set(socket, flush);
  };
}

function flushDue(): void {
  // Taken off before its flush: a send callback that pushes again re-enters the map, and this loop reaches it too.
  for (const [socket, flush] of due) {
    due.delete(socket);
    flush();
  }
}

function coalesce(transport: EngineTransport): void {
  if (transport.name !== 'websocket' || coalesced.has(transport)) return;
  const tcp = transport.socket?._socket;
  if (tcp === undefined || typeof tcp.cork !== 'function' || typeof tcp.uncork !== 'function') return;
  coalesced.add(transport);
  const send = transport.send.bind(transport);
  transport.send = (packets: unknown[]): void => {
    if (packets.length < 2) {
      send(packets);
      return;
    }
    tcp.cork();
    try {
      send(packets);
    } finally {
      tcp.uncork();
    }
  };
}
