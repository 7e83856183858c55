import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type RecoveryOutcome,
  recoveryAdapter,
  type SupersedeKey,
} from '../../src/realtime/recovery-adapter.ts';
import { eventually } from '../helpers/hub.ts';

/** The test's own supersede rule: `latest` pushes of one id replace each other; `event` pushes never. */
const byId: SupersedeKey = ([event, payload]) =>
  event === 'latest' ? `latest:${(payload as { id: string }).id}` : undefined;

interface Rig {
  server: Server;
  http: HttpServer;
  url: string;
  kept: () => { pushes: number; sessions: number; slots: number };
  outcomes: RecoveryOutcome[];
  sweeps: { pushes: number; sessions: number; slots: number }[];
}

let rigs: Rig[] = [];
let clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients) client.close();
  for (const rig of rigs) {
    rig.server.close();
    await new Promise((resolve) => rig.http.close(resolve));
  }
  rigs = [];
  clients = [];
});

async function startServer({ windowMs = 60_000, maxReplay = 100, sweepMs = 60_000 } = {}): Promise<Rig> {
  const http = createServer();
  const outcomes: RecoveryOutcome[] = [];
  const sweeps: { pushes: number; sessions: number; slots: number }[] = [];
  const server = new Server(http, {
    connectionStateRecovery: { maxDisconnectionDuration: windowMs, skipMiddlewares: false },
    adapter: recoveryAdapter({
      supersedeKey: byId,
      maxReplay,
      onRestore: (outcome) => outcomes.push(outcome),
      onSweep: (kept) => sweeps.push(kept),
      sweepMs,
    }),
  });
  server.on('connection', (socket) => {
    if (!socket.recovered) socket.join(['watch:district', `user:${socket.handshake.auth.user as string}`]);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const adapter = server.of('/').adapter as unknown as {
    kept: Rig['kept'] extends () => infer K ? K : never;
  };
  const rig = {
    server,
    http,
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    kept: () => adapter.kept,
    outcomes,
    sweeps,
  };
  rigs.push(rig);
  return rig;
}

/** A client that records every push (its arguments, the offset left out) and reconnects at once when dropped. */
async function recordingClient(rig: Rig, user: string): Promise<{ socket: Socket; received: unknown[][] }> {
  const socket = connect(rig.url, {
    auth: { user },
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 50,
    randomizationFactor: 0,
  });
  clients.push(socket);
  const received: unknown[][] = [];
  socket.onAny((event: string, payload: unknown) => received.push([event, payload]));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received };
}

/** The link drops under the client (not a clean leave): the server keeps its session for recovery. */
async function dropLink(rig: Rig, socket: Socket): Promise<void> {
  const disconnected = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
  for (const serverSocket of rig.server.sockets.sockets.values()) serverSocket.conn.close();
  await disconnected;
}

describe('push recovery: what a client that drops is sent when it comes back', () => {
  it('replays what it missed in order, the newest of each superseding run only, and nothing outside its rooms', async () => {
    const rig = await startServer();
    // Held while the link is down, so the pushes below are all missed.
    const { socket, received } = await recordingClient(rig, 'w1');
    rig.server.to('watch:district').emit('event' as never, { id: 'before' } as never);
    await eventually(() => received.length === 1);
    socket.io.reconnection(false);
    await dropLink(rig, socket);
    const push = (rooms: string[], event: string, payload: unknown) =>
      rig.server.to(rooms).emit(event as never, payload as never);
    push(['watch:district', 'user:w9'], 'latest', { id: 'a', count: 1 });
    push(['watch:district', 'user:w9'], 'latest', { id: 'a', count: 2 });
    push(['watch:district'], 'event', { id: 'new-b' });
    push(['watch:district', 'user:w9'], 'latest', { id: 'a', count: 3 });
    push(['watch:street'], 'latest', { id: 'c', count: 1 });
    push(['user:w1'], 'event', { id: 'task-d' });
    // Same key, other rooms: not superseded (the client could be in one set and not the other).
    push(['user:w1'], 'latest', { id: 'a', count: 4 });
    push(['watch:street'], 'event', { id: 'not-mine' });
    expect(rig.kept()).toMatchObject({ pushes: 7, sessions: 1 });
    socket.io.reconnection(true);
    socket.connect();
    await eventually(() => socket.connected);
    await eventually(() => received.length === 5);
    expect(socket.recovered).toBe(true);
    expect(received.slice(1)).toEqual([
      ['event', { id: 'new-b' }],
      ['latest', { id: 'a', count: 3 }],
      ['event', { id: 'task-d' }],
      ['latest', { id: 'a', count: 4 }],
    ]);
    // Back in its rooms, and its session used up.
    push(['user:w1'], 'event', { id: 'after' });
    await eventually(() => received.length === 6);
    expect(rig.kept().sessions).toBe(0);
    expect(rig.outcomes).toEqual(['restored']);
  });

  it('gives a fresh session, not a replay, to a client that missed more than it may be replayed', async () => {
    const rig = await startServer({ maxReplay: 3 });
    const { socket, received } = await recordingClient(rig, 'w1');
    rig.server.to('watch:district').emit('event' as never, { id: 'before' } as never);
    await eventually(() => received.length === 1);
    socket.io.reconnection(false);
    await dropLink(rig, socket);
    for (const id of ['one', 'two', 'three', 'four'])
      rig.server.to('user:w1').emit('event' as never, { id } as never);
    socket.connect();
    await eventually(() => socket.connected);
    expect(socket.recovered).toBe(false);
    expect(rig.outcomes).toEqual(['too_many']);
    // A fresh session: in its rooms again, and sent what comes next.
    rig.server.to('user:w1').emit('event' as never, { id: 'next' } as never);
    await eventually(() => received.length === 2);
    expect(received[1]).toEqual(['event', { id: 'next' }]);
  });

  it('keeps one push per key however many supersede it, compacting as it goes', async () => {
    const rig = await startServer();
    for (let count = 1; count <= 5000; count++) {
      rig.server
        .to(['watch:district'])
        .emit('latest' as never, { id: `incident-${count % 10}`, count } as never);
    }
    rig.server.to(['watch:district']).emit('event' as never, { id: 'kept' } as never);
    expect(rig.kept().pushes).toBe(11);
    // Compacted as it went: never more than about a thousand superseded pushes held at once, not 5,000.
    expect(rig.kept().slots).toBeLessThan(1_100);
  });

  it('lets go of expired sessions and pushes when no push comes, and reports what it keeps', async () => {
    const rig = await startServer({ windowMs: 1000, sweepMs: 100 });
    const { socket, received } = await recordingClient(rig, 'w1');
    rig.server.to('watch:district').emit('event' as never, { id: 'first' } as never);
    await eventually(() => received.length === 1);
    socket.io.reconnection(false);
    await dropLink(rig, socket);
    rig.server.to('watch:district').emit('event' as never, { id: 'missed' } as never);
    expect(rig.kept()).toMatchObject({ pushes: 2, sessions: 1 });
    await eventually(() => rig.sweeps.at(-1)?.pushes === 0 && rig.sweeps.at(-1)?.sessions === 0);
    expect(rig.kept()).toEqual({ pushes: 0, sessions: 0, slots: 0 });
    expect(rig.sweeps.some((kept) => kept.pushes > 0 && kept.sessions === 1)).toBe(true);
  });

  it('gives a fresh session to a client whose missed pushes left the window, or whose offset is not one it was sent', async () => {
    const rig = await startServer({ windowMs: 300 });
    const late = await recordingClient(rig, 'w1');
    rig.server.to('watch:district').emit('event' as never, { id: 'first' } as never);
    await eventually(() => late.received.length === 1);
    late.socket.io.reconnection(false);
    await dropLink(rig, late.socket);
    rig.server.to('watch:district').emit('event' as never, { id: 'missed' } as never);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The session has expired and the push left with it: reconnecting afresh, the client rejoins its rooms.
    rig.server.to('watch:district').emit('event' as never, { id: 'pushes go on' } as never);
    late.socket.connect();
    await eventually(() => late.socket.connected);
    expect(late.socket.recovered).toBe(false);
    expect(late.received.map(([, payload]) => (payload as { id: string }).id)).toEqual(['first']);
    // Only the push made after the window passed is still kept.
    expect(rig.kept().pushes).toBe(1);

    // A forged or stale offset, and a session id that was never issued: refused, the server carries on.
    const forged = connect(rig.url, {
      auth: { user: 'w2', pid: 'no-such-session', offset: 'zz' },
      transports: ['websocket'],
      reconnection: false,
    });
    clients.push(forged);
    await new Promise<void>((resolve) => forged.once('connect', () => resolve()));
    expect(forged.recovered).toBe(false);
    const adapter = rig.server.of('/').adapter;
    for (const offset of ['', 'not an offset!', '99999999', '-1']) {
      adapter.persistSession({ sid: 's1', pid: 'p1', rooms: ['watch:district'], data: {} });
      expect(await adapter.restoreSession('p1', offset)).toBeNull();
    }
    expect(rig.outcomes).toEqual(['expired', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
  });
});
