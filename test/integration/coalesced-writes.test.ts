import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/realtime/coalesced-writes.ts';

/**
 * One write per client per turn (src/realtime/coalesced-writes.ts), on a real Socket.IO server and client: pushes
 * made in separate callbacks of one event-loop turn (two immediates queued together, as two devices' publishes read
 * in one poll) reach engine.io's transport in one flush, where without it each went on its own.
 */
describe('realtime: pushes of one turn leave together', () => {
  let http: HttpServer;
  let server: Server;
  let client: Socket;
  /** The size of each buffer engine.io handed to the transport, per flush. */
  const flushes: number[] = [];
  const received: number[] = [];

  beforeAll(async () => {
    http = createServer();
    server = new Server(http, { transports: ['websocket'] });
    coalesceWrites(server.engine);
    server.engine.on('flush', (_socket: unknown, buffer: unknown[]) => flushes.push(buffer.length));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    client = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    client.on('push', (n: number) => received.push(n));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('connect_error', reject);
    });
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it("sends the pushes of two callbacks of one turn in one flush, in order, and a later turn's apart", async () => {
    // The connection's own packets (its CONNECT answer) are flushed by now.
    await new Promise((resolve) => setTimeout(resolve, 50));
    flushes.length = 0;
    await new Promise<void>((resolve) => {
      // Node runs the immediates queued before a turn's check phase together, in it.
      setImmediate(() => server.emit('push', 1));
      setImmediate(() => {
        server.emit('push', 2);
        server.emit('push', 3);
      });
      setTimeout(() => server.emit('push', 4), 20);
      setTimeout(resolve, 200);
    });
    expect(received).toEqual([1, 2, 3, 4]);
    expect(flushes).toEqual([3, 1]);
  });
});
