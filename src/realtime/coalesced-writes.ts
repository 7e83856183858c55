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

interface EngineSocket {
  readonly transport: EngineTransport;
  on(event: 'upgrade', listener: (transport: EngineTransport) => void): unknown;
}

const coalesced = new WeakSet<EngineTransport>();

/**
 * Makes the frames that engine.io sends a client in one go leave in one write. While a write to a client is under
 * way engine.io queues the client's next packets, then sends them together: a push that reaches 20 clients right
 * after a store commit that resolved 30 changes would otherwise cost hundreds of system calls, the largest single
 * cost of the hub under load (bench profile: `writev`). The TCP socket is corked for that loop and uncorked right
 * after it, in the same turn: nothing waits longer than it did, it only leaves in fewer writes.
 */
export function coalesceWrites(engine: Server['engine']): void {
  engine.on('connection', (socket: EngineSocket) => {
    coalesce(socket.transport);
    // Browsers start on HTTP long-polling and upgrade to WebSocket.
    socket.on('upgrade', (transport) => coalesce(transport));
  });
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
