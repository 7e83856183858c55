import type { Namespace, Socket } from 'socket.io';
import type { Adapter, Room, Session } from 'socket.io-adapter';
import type { AdapterConstructor } from './push-distribution.ts';

/** What a restored session brought, held until the returning client has authenticated as its owner. */
export interface HeldSession {
  /** The socket data the session was persisted with: whose it was. */
  readonly data: unknown;
  readonly rooms: readonly Room[];
  readonly missedPackets: readonly unknown[][];
}

/** Socket.IO's EVENT packet type (socket.io-parser's PacketType.EVENT). */
const EVENT = 2;

/**
 * Connection state recovery that waits for authentication. Socket.IO 4.8 restores a session before any middleware
 * runs: the Socket constructor joins the session's rooms and writes its missed pushes to the wire as soon as the
 * adapter returns it (namespace.js `_createSocket`, socket.js constructor), so whoever presents a session's private
 * id gets them, token or not. Here the adapter (ours for one instance, the Redis streams adapter for several) hands
 * Socket.IO an empty session (no room, nothing missed, fresh data) and keeps what it restored aside, keyed by that
 * data object; the authentication middleware takes it back and applies it only when the session was the same
 * user's, in the same login session.
 */
export class RecoveryGuard {
  readonly #held = new WeakMap<object, HeldSession>();

  /** The adapter, its restoreSession holding back what it restores. Works for a class and a factory alike. */
  wrap(adapter: AdapterConstructor): AdapterConstructor {
    const held = this.#held;
    // A plain function: Socket.IO calls `new adapter(nsp)`, and an object returned from a constructor is the result.
    return function guardedAdapter(nsp: Namespace): Adapter {
      const instance = new (adapter as new (nsp: Namespace) => Adapter)(nsp);
      const restore = instance.restoreSession.bind(instance);
      instance.restoreSession = async (pid, offset) => {
        const session = await restore(pid, offset);
        if (session === null || session === undefined) return session;
        const data = {};
        held.set(data, { data: session.data, rooms: session.rooms, missedPackets: session.missedPackets });
        return { ...session, rooms: [], missedPackets: [], data } as Session;
      };
      return instance;
    } as unknown as AdapterConstructor;
  }

  /** What the socket's restored session held, once: undefined for a fresh socket. */
  take(socket: Socket): HeldSession | undefined {
    const data = socket.data as object;
    const session = this.#held.get(data);
    this.#held.delete(data);
    return session;
  }

  /**
   * Gives the socket its session back, as Socket.IO would have: its rooms, then what it missed, sent before the
   * CONNECT packet (the client holds them until it is connected).
   */
  static apply(socket: Socket, session: HeldSession): void {
    socket.join([...session.rooms]);
    const write = (socket as unknown as { packet(packet: { type: number; data: unknown[] }): void }).packet;
    for (const data of session.missedPackets) write.call(socket, { type: EVENT, data });
  }
}
