import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { TokenAuthenticator } from '../auth/token-authenticator.ts';
import type { TypedBus } from '../core/bus.ts';
import type { ClientToServerEvents, HubBusEvents, ServerToClientEvents, SocketData } from '../core/events.ts';
import type { GridChain } from '../core/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { ComponentState } from '../store/store.ts';

export interface RealtimeOptions {
  readonly authenticator: TokenAuthenticator;
  /** A grid's chain up to the district, to address device statuses. */
  readonly chainOf: (gridId: string) => GridChain | undefined;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
}

type HubSocketServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** Room of everyone who sees a jurisdiction node and everything under it. */
export function scopeRoom(nodeId: string): string {
  return `scope:${nodeId}`;
}

/**
 * Live pushes over Socket.IO. A client authenticates in the handshake (`auth: { token }`) and joins one room
 * per node of its scope. An incident is sent to the rooms of every node of its chain, grid to district, so a
 * duty officer receives everything under their node, a grid worker only their grids, and nobody else anything.
 */
export class Realtime {
  readonly #options: RealtimeOptions;
  readonly #log: Logger;
  #io: HubSocketServer | undefined;
  #unsubscribe: (() => void)[] = [];
  #state: ComponentState = 'down';

  constructor(options: RealtimeOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'realtime' });
  }

  get state(): ComponentState {
    return this.#state;
  }

  /** Also serves the browser client at /socket.io/socket.io.js, so pages need no outside network. */
  start(server: HttpServer): void {
    const { authenticator, bus, metrics } = this.#options;
    const io: HubSocketServer = new Server(server, { serveClient: true });
    this.#io = io;
    io.use((socket, next) => {
      const principal = authenticator.authenticate(
        (socket.handshake.auth as { token?: unknown } | undefined)?.token,
      );
      if (principal === undefined) {
        this.#log.info({ address: socket.handshake.address }, 'socket refused: bad or missing token');
        return next(new Error('unauthorized: a valid token is required in auth.token'));
      }
      socket.data.principal = principal;
      next();
    });
    io.on('connection', (socket) => {
      const { principal } = socket.data;
      socket.join(principal.scopeNodeIds.map(scopeRoom));
      metrics.connectedClients.set(io.engine.clientsCount);
      this.#log.debug({ userId: principal.userId }, 'client connected');
      socket.once('disconnect', () => metrics.connectedClients.set(io.engine.clientsCount));
    });
    this.#unsubscribe = [
      bus.on('incident:created', (incident, receivedAt) => {
        this.#push(incident.chain, 'incident:new', incident);
        metrics.ingestToPush.observe((performance.now() - receivedAt) / 1000);
      }),
      bus.on('incident:updated', (change) => this.#push(change.after.chain, 'incident:update', change)),
      bus.on('device:status', (status) => {
        const chain = this.#options.chainOf(status.gridId);
        if (chain !== undefined) this.#push(chain, 'device:status', status);
      }),
    ];
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    this.#state = 'down';
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    const io = this.#io;
    this.#io = undefined;
    if (io !== undefined) {
      io.disconnectSockets(true);
      // io.close() would also close the HTTP server, which belongs to the HTTP component.
      io.engine.close();
    }
  }

  /** Sends one event to everyone who sees any node of the chain; Socket.IO sends it once to a socket in several. */
  #push<Event extends keyof ServerToClientEvents>(
    chain: GridChain,
    event: Event,
    ...payload: Parameters<ServerToClientEvents[Event]>
  ): void {
    const io = this.#io;
    if (io === undefined) return;
    const rooms = chain.map((place) => scopeRoom(place.id));
    io.to(rooms).emit(event, ...payload);
    // Scopes never nest within one user (a worker's grids are disjoint, others have one node), so the sum of
    // the rooms' sizes is the number of sockets that received the push.
    let delivered = 0;
    for (const room of rooms) delivered += io.sockets.adapter.rooms.get(room)?.size ?? 0;
    if (delivered > 0) this.#options.metrics.pushesSent.labels(event).inc(delivered);
  }
}
