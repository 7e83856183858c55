import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import type { GuessLimiter } from '../auth/guess-limiter.ts';
import type { Sessions } from '../auth/sessions.ts';
import type { TokenAuthenticator } from '../auth/token-authenticator.ts';
import type { TypedBus } from '../core/bus.ts';
import type { ComponentState } from '../core/component.ts';
import type { DeviceStatus } from '../core/device-status.ts';
import { errorAnswer, GridhubError, type RequestErrorCode } from '../core/errors.ts';
import type {
  ActionAcknowledgement,
  ClientToServerEvents,
  HubBusEvents,
  IncidentRepeat,
  ServerToClientEvents,
  SocketData,
} from '../core/events.ts';
import type { Incident } from '../core/incident.ts';
import type { GridChain } from '../core/jurisdiction.ts';
import type { Principal } from '../core/principal.ts';
import { zodProblems } from '../core/problems.ts';
import { clientAddressOf, type TrustProxy } from '../http/client-address.ts';
import { actionRequest } from '../http/incident-action.ts';
import type { IncidentService } from '../incidents/incident-service.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import { coalesceWrites } from './coalesced-writes.ts';
import type { PushDistribution } from './push-distribution.ts';
import { type RealtimeMetrics, realtimeMetrics } from './realtime-metrics.ts';
import { recoveryAdapter } from './recovery-adapter.ts';
import { RecoveryGuard } from './recovery-guard.ts';
import { limitSlowClients } from './slow-clients.ts';

export interface RealtimeOptions {
  readonly authenticator: TokenAuthenticator;
  /** Login sessions: a socket of one is closed when it ends (revoked, or at its absolute end). */
  readonly sessions?: Sessions;
  /**
   * The clock sessions' ends are read by (ms since the epoch), Date.now when not given. A test moves it on; the
   * timers stay real, so with it given a socket's session end is looked at again every `movedClockRecheckMs`.
   */
  readonly now?: () => number;
  /** Failed handshakes per address and identity (limits.auth), shared with REST and MQTT. */
  readonly guesses: GuessLimiter;
  readonly incidents: IncidentService;
  /** A grid's chain up to the district, to address device statuses. */
  readonly chainOf: (gridId: string) => GridChain | undefined;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /**
   * How long a dropped client's missed pushes are kept for it to catch up when it reconnects; 0: not at all, and
   * nothing is kept.
   */
  readonly recoveryMs: number;
  /** Pushes waiting for a client that does not read them, in bytes, past which it is disconnected. */
  readonly maxBufferedBytes: number;
  /** Behind a reverse proxy: whose X-Forwarded-For gives the client's address (`http.trustProxy`). */
  readonly trustProxy?: TrustProxy;
  /** Origins whose pages may use Socket.IO's polling transport, as the API's CORS (`http.corsOrigins`). */
  readonly corsOrigins?: readonly string[];
  /** Where pushes go beyond this instance's sockets (sharing.ts): nowhere alone; a Redis stream among siblings. */
  readonly pushes: PushDistribution;
}

type HubSocketServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** Supervisors (duty officers, admins) of a node: every incident under it. */
export const watchRoom = (nodeId: string) => `watch:${nodeId}`;
/** One user: the tasks dispatched to them. */
export const userRoom = (userId: string) => `user:${userId}`;
/** Integrators of a node: the status of the devices under it. */
export const devicesRoom = (nodeId: string) => `devices:${nodeId}`;
/** The sockets of one login session, to close them when it ends (on every instance: the adapter relays it). */
export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

/** The longest a timer can wait (setTimeout's limit, about 24.8 days). */
const longestTimerMs = 2 ** 31 - 1;
/** How often, with a clock given (tests), a socket looks again whether the clock has passed its session's end. */
const movedClockRecheckMs = 50;

/**
 * What a push is the latest state of, for the recovery buffer: a repeat carries its incident's running count and
 * times, a device status the whole status, so a later one of the same incident or device replaces an earlier one for
 * a client catching up. Incidents raised and changed are always replayed.
 */
function supersedeKey(data: readonly unknown[]): string | undefined {
  const [event, payload] = data;
  if (event === 'incident:repeat') return `repeat:${(payload as IncidentRepeat).id}`;
  if (event === 'device:status') return `status:${(payload as DeviceStatus).deviceId}`;
  // A worker's newest position, or its end, is all a client catching up needs of them.
  if (event === 'worker:position' || event === 'worker:position-stopped')
    return `position:${(payload as { userId: string }).userId}`;
  return undefined;
}

/**
 * Live pushes over Socket.IO. A client authenticates in the handshake (`auth: { token }`) and joins rooms by role:
 * supervisors watch their node and everything under it; everyone receives the tasks dispatched or handed to them
 * (department users nothing else); integrators receive the status of the devices in their area. A client that drops and comes back within `recoveryMs` receives
 * what it missed, once (Socket.IO's connection state recovery; of a run of repeats or statuses, the newest).
 */
export class Realtime {
  readonly #options: RealtimeOptions;
  readonly #log: Logger;
  readonly #metrics: RealtimeMetrics;
  #io: HubSocketServer | undefined;
  #unsubscribe: (() => void)[] = [];
  #state: ComponentState = 'down';
  readonly #recovery = new RecoveryGuard();

  constructor(options: RealtimeOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'realtime' });
    this.#metrics = realtimeMetrics(options.metrics);
  }

  get state(): ComponentState {
    return this.#state;
  }

  /** Also serves the browser client at /socket.io/socket.io.js, so pages need no outside network. */
  start(server: HttpServer): void {
    const { authenticator, bus } = this.#options;
    const metrics = this.#metrics;
    const corsOrigins = this.#options.corsOrigins ?? [];
    const io: HubSocketServer = new Server(server, {
      serveClient: true,
      ...(corsOrigins.length === 0
        ? {}
        : { cors: { origin: corsOrigins.includes('*') ? '*' : [...corsOrigins], credentials: false } }),
      ...(this.#options.recoveryMs > 0
        ? {
            connectionStateRecovery: {
              maxDisconnectionDuration: this.#options.recoveryMs,
              skipMiddlewares: false,
            },
          }
        : {}),
      ...this.#adapterOption(),
    });
    this.#io = io;
    coalesceWrites(io.engine);
    limitSlowClients(io.engine, {
      maxBufferedBytes: this.#options.maxBufferedBytes,
      onSlow: ({ address, bufferedBytes }) => {
        metrics.slowClients.inc();
        this.#log.warn({ address, bufferedBytes }, 'socket not reading its pushes: disconnected');
      },
    });
    // Behind a trusted proxy, the handshake's address (logs, rate limits) is the client's, not the proxy's: set on
    // the engine's connection, which Socket.IO reads when the client's CONNECT arrives, after this.
    const trustProxy = this.#options.trustProxy ?? false;
    if (trustProxy !== false) {
      const clientAddress = clientAddressOf(trustProxy);
      io.engine.on('connection', (connection: { request: IncomingMessage; remoteAddress: string }) => {
        connection.remoteAddress = clientAddress(connection.request) ?? connection.remoteAddress;
      });
    }
    io.use((socket, next) => {
      // A returning client's session is held back until it has shown who it is (recovery-guard.ts).
      const restored = socket.recovered ? this.#recovery.take(socket) : undefined;
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      const { address } = socket.handshake;
      // By address only: a token names no identity that could be trusted before it is verified.
      const throttled = this.#options.guesses.refuse('socketio', address, undefined);
      if (throttled !== undefined) {
        const refusal = new Error(
          `too many failed authentications: try again in ${throttled.retryAfterSeconds} s`,
        );
        const code: RequestErrorCode = 'too_many_attempts';
        return next(Object.assign(refusal, { data: { code, ...throttled } }));
      }
      authenticator.authenticate(token).then(async (principal) => {
        if (principal === undefined) {
          metrics.realtimeRefusals.labels('bad_token').inc();
          // No token at all is no guess (a page before its login), nor a JWT of the hub's that it no longer takes;
          // any other is.
          if (token !== undefined && token !== '' && (await authenticator.isGuess(token)))
            this.#options.guesses.failed('socketio', address, undefined);
          this.#log.info({ address }, 'socket refused: bad or missing token');
          return next(new Error('unauthorized: a valid token is required in auth.token'));
        }
        if (restored !== undefined) {
          const owner = (restored.data as Partial<SocketData> | undefined)?.principal;
          if (owner?.userId !== principal.userId || owner.session?.id !== principal.session?.id) {
            // Another's private session id: nothing of that session, and no session of one's own on it either.
            metrics.realtimeRefusals.labels('not_owner').inc();
            this.#log.warn(
              { address, userId: principal.userId },
              "socket refused: it presented another user's session to restore",
            );
            return next(new Error('unauthorized: that session is not yours to restore'));
          }
          RecoveryGuard.apply(socket, restored);
        }
        socket.data.principal = principal;
        next();
      }, next);
    });
    io.on('connection', (socket) => {
      const { principal } = socket.data;
      // A recovered socket is back in its rooms already, with its missed pushes on the way.
      if (!socket.recovered) socket.join(this.#roomsOf(principal));
      metrics.connectedClients.set(io.engine.clientsCount);
      socket.on('incident:act', (request, acknowledge) => this.#onAct(socket, request, acknowledge));
      const stopWatching = this.#closeAtSessionEnd(socket);
      socket.once('disconnect', () => {
        stopWatching?.();
        metrics.connectedClients.set(io.engine.clientsCount);
      });
    });
    const stopListening = this.#options.sessions?.onEnd((end) => {
      // Every instance's sockets of it: disconnectSockets goes through the adapter (the Redis stream, clustered).
      const room = end.sessionId === undefined ? userRoom(end.userId) : sessionRoom(end.sessionId);
      const here = io.sockets.adapter.rooms.get(room)?.size ?? 0;
      if (here > 0) {
        metrics.realtimeRefusals.labels('session_ended').inc(here);
        this.#log.info(
          { userId: end.userId, reason: end.reason, sockets: here },
          'sockets closed: session ended',
        );
      }
      io.in(room).disconnectSockets(true);
    });
    this.#unsubscribe = [
      ...(stopListening === undefined ? [] : [stopListening]),
      bus.on('incident:created', (incident, receivedAt) => {
        this.#push(this.#incidentRooms(incident), 'incident:new', incident);
        metrics.ingestToPush.observe((performance.now() - receivedAt) / 1000);
      }),
      // At least once across instances: the instance that committed it may have died before its push left.
      bus.on('incident:replayed', (incident) => {
        this.#push(this.#incidentRooms(incident), 'incident:new', incident);
      }),
      bus.on('incident:updated', (change, repeat) => {
        // A repeat changes nobody's entitlement (chain, assignees and handler are as they were): its delta goes to
        // the incident's rooms as they are. Any other change also reaches whoever just lost sight of it.
        if (repeat !== undefined) {
          this.#push(this.#incidentRooms(change.after), 'incident:repeat', repeat);
          return;
        }
        const rooms = this.#incidentRooms(change.after);
        for (const room of this.#incidentRooms(change.before)) if (!rooms.includes(room)) rooms.push(room);
        this.#push(rooms, 'incident:update', change);
      }),
      bus.on('device:status', (status) => {
        const chain = this.#options.chainOf(status.gridId) ?? [];
        this.#push(
          chain.flatMap((place) => [watchRoom(place.id), devicesRoom(place.id)]),
          'device:status',
          status,
        );
      }),
      // Positions go to the supervisors of every level over any of the worker's grids, and to nobody else.
      bus.on('worker:position', (position) => {
        this.#push(this.#gridRooms(position.gridIds), 'worker:position', position);
      }),
      bus.on('worker:position-stopped', (stopped) => {
        this.#push(this.#gridRooms(stopped.gridIds), 'worker:position-stopped', stopped);
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
      await io.of('/').adapter.close?.();
    }
    await this.#options.pushes.close();
  }

  /**
   * Where pushes go and are kept for clients catching up: what the push distribution opens (with siblings, a Redis
   * stream); alone, memory, superseded pushes dropped (recovery-adapter.ts); with recovery off, Socket.IO's plain
   * in-memory adapter. Whichever it is, restored sessions wait for their owner (recovery-guard.ts).
   */
  #adapterOption(): Pick<Partial<ServerOptions>, 'adapter'> {
    const metrics = this.#metrics;
    const inMemory =
      this.#options.recoveryMs > 0
        ? recoveryAdapter({
            supersedeKey,
            onRestore: (outcome) => metrics.pushRecoveries.labels(outcome).inc(),
            onSweep: (kept) => metrics.pushesKeptForRecovery.set(kept.pushes),
          })
        : undefined;
    const adapter = this.#options.pushes.open(inMemory);
    return adapter === undefined ? {} : { adapter: this.#recovery.wrap(adapter) };
  }

  /**
   * A socket of a login session is closed at the session's absolute end, whatever it is doing then. Returns what
   * stops the watch (on disconnect).
   */
  #closeAtSessionEnd(socket: HubSocket): (() => void) | undefined {
    const session = socket.data.principal.session;
    if (session === undefined) return undefined;
    const end = Date.parse(session.expiresAt);
    const moved = this.#options.now;
    const left = (): number => Math.max(0, end - (moved ?? Date.now)());
    let timer: NodeJS.Timeout | undefined;
    const watch = (): void => {
      timer = setTimeout(close, Math.min(moved === undefined ? longestTimerMs : movedClockRecheckMs, left()));
      timer.unref();
    };
    const close = (): void => {
      // A clock a test moves may not have reached the end yet: look again shortly.
      if (moved !== undefined && left() > 0) {
        watch();
        return;
      }
      this.#metrics.realtimeRefusals.labels('session_ended').inc();
      this.#log.info(
        { address: socket.handshake.address, userId: socket.data.principal.userId },
        'socket closed: its session ended',
      );
      socket.disconnect(true);
    };
    watch();
    return () => clearTimeout(timer);
  }

  #roomsOf(principal: Principal): string[] {
    const rooms = [userRoom(principal.userId)];
    if (principal.session !== undefined) rooms.push(sessionRoom(principal.session.id));
    if (principal.role === 'duty_officer' || principal.role === 'admin')
      rooms.push(...principal.scopeNodeIds.map(watchRoom));
    if (principal.role === 'integrator') rooms.push(...principal.scopeNodeIds.map(devicesRoom));
    return rooms;
  }

  /** The watch rooms of every level over these grids, each once. */
  #gridRooms(gridIds: readonly string[]): string[] {
    const rooms = new Set<string>();
    for (const gridId of gridIds)
      for (const place of this.#options.chainOf(gridId) ?? []) rooms.add(watchRoom(place.id));
    return [...rooms];
  }

  /** Supervisors of every level of the chain, and whoever must act or has acted on it (coordinators included). */
  #incidentRooms(incident: Incident): string[] {
    const people = new Set([
      ...incident.assignees,
      ...(incident.handler === null ? [] : [incident.handler]),
      ...(incident.coordinators ?? []).map((entry) => entry.userId),
    ]);
    return [...incident.chain.map((place) => watchRoom(place.id)), ...[...people].map(userRoom)];
  }

  /**
   * An `incident:act`: the same input schema as REST's action route (http/incident-action.ts), and its refusals
   * with the same codes, as the catalogue answers them (core/errors.ts).
   */
  #onAct(socket: HubSocket, request: unknown, acknowledge: unknown): void {
    const answer =
      typeof acknowledge === 'function' ? (acknowledge as (a: ActionAcknowledgement) => void) : () => {};
    const refuse = (error: unknown) => {
      const { code, message } = errorAnswer(error).error;
      answer({ ok: false, error: { code, message } });
    };
    const parsed = actionRequest.safeParse(request);
    if (!parsed.success) {
      refuse(new GridhubError('invalid_request', zodProblems(parsed.error).join('; ')));
      return;
    }
    const { incidentId, action, note, assignees, position, until, reviewAt, coordinator, via } = parsed.data;
    const input = {
      ...(note === undefined ? {} : { note }),
      ...(assignees === undefined ? {} : { assignees }),
      ...(position === undefined ? {} : { position }),
      // #25's inputs (延期, 挂账, hand-off, feedback), as on REST.
      ...(until === undefined ? {} : { until }),
      ...(reviewAt === undefined ? {} : { reviewAt }),
      ...(coordinator === undefined ? {} : { coordinator }),
      ...(via === undefined ? {} : { via }),
    };
    this.#options.incidents
      .act(socket.data.principal, incidentId, action, input)
      .then((incident) => answer({ ok: true, incident }), refuse);
  }

  /** Sends one event to the rooms; Socket.IO sends it once to a socket that is in several of them. */
  #push<Event extends keyof ServerToClientEvents>(
    rooms: string[],
    event: Event,
    ...payload: Parameters<ServerToClientEvents[Event]>
  ): void {
    const io = this.#io;
    if (io === undefined || rooms.length === 0) return;
    io.to(rooms).emit(event, ...payload);
    this.#metrics.pushesSent.labels(event).inc(this.#recipients(io, rooms));
  }

  /**
   * How many sockets a push to these rooms reached, each counted once: a socket counts in the first of the rooms it
   * is in. No set per push: pushes are as many as the incident changes, and rooms per push are few (a chain and a
   * handful of people).
   */
  #recipients(io: HubSocketServer, rooms: string[]): number {
    const all = io.sockets.adapter.rooms;
    let count = 0;
    for (let index = 0; index < rooms.length; index++) {
      const members = all.get(rooms[index] as string);
      if (members === undefined) continue;
      if (index === 0) {
        count += members.size;
        continue;
      }
      for (const id of members) {
        let counted = false;
        for (let earlier = 0; earlier < index && !counted; earlier++) {
          counted = all.get(rooms[earlier] as string)?.has(id) ?? false;
        }
        if (!counted) count += 1;
      }
    }
    return count;
  }
}
