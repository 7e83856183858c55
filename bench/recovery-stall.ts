import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { SessionAwareAdapter } from 'socket.io-adapter';
import { io as connect } from 'socket.io-client';
import { maxReplay, recoveryAdapter } from '../src/realtime/recovery-adapter.ts';

/**
 * `node --expose-gc --import tsx bench/recovery-stall.ts [pushes] [hub|uncapped|stock]`: what one client coming back
 * costs the server's event loop when `pushes` were made while it was away (5,000/s for two minutes is 600,000), with
 * Socket.IO's own recovery (`stock`) or the hub's (`hub`, src/realtime/recovery-adapter.ts; `uncapped` without its
 * cap on the replay). The pushes are about the bench's mix at 5,000/s: one in two hundred a new incident, the rest
 * repeats of 1,500 open incidents; the client is a district duty officer, who receives all of them. Prints the event
 * loop's longest stall from the reconnect until the missed pushes are delivered, how many were delivered, and the
 * server's heap with the pushes kept (after a full collection, hence --expose-gc).
 */
const pushes = Number(process.argv[2] ?? 600_000);
const kind = (['stock', 'uncapped'] as const).find((name) => name === process.argv[3]) ?? 'hub';
const openIncidents = 1_500;

const http = createServer();
const server = new Server(http, {
  connectionStateRecovery: { maxDisconnectionDuration: 600_000, skipMiddlewares: true },
  adapter:
    kind === 'stock'
      ? SessionAwareAdapter
      : recoveryAdapter({
          supersedeKey: ([event, payload]) =>
            event === 'incident:repeat' ? `repeat:${(payload as { id: string }).id}` : undefined,
          maxReplay: kind === 'uncapped' ? Number.POSITIVE_INFINITY : maxReplay,
        }),
});
server.on('connection', (socket) => {
  if (!socket.recovered) socket.join('watch:district');
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const client = connect(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, {
  transports: ['websocket'],
  reconnection: false,
});
let received = 0;
client.onAny(() => {
  received++;
});
await new Promise<void>((resolve) => client.once('connect', () => resolve()));
server.to('watch:district').emit('incident:new', { id: 'first' });
while (received === 0) await new Promise((resolve) => setTimeout(resolve, 10));
const dropped = new Promise<void>((resolve) => client.once('disconnect', () => resolve()));
for (const socket of server.sockets.sockets.values()) socket.conn.close();
await dropped;

const rooms = ['watch:district', 'watch:street-3', 'watch:community-7', 'watch:grid-12', 'user:worker-9'];
const started = performance.now();
for (let index = 0; index < pushes; index++) {
  const id = `incident-${index % openIncidents}`;
  if (index % 200 === 0)
    server.to(rooms).emit('incident:new', { id, title: 'Door forced open', occurrences: 1 });
  else
    server
      .to(rooms)
      .emit('incident:repeat', { id, occurrences: index, lastOccurredAt: new Date().toISOString() });
}
const emitMs = performance.now() - started;
(globalThis as { gc?: () => void }).gc?.();
const heapMb = process.memoryUsage().heapUsed / 1e6;

let worstStall = 0;
let last = performance.now();
const watch = setInterval(() => {
  const now = performance.now();
  worstStall = Math.max(worstStall, now - last);
  last = now;
}, 1);
const before = received;
const reconnectedAt = performance.now();
client.connect();
await new Promise<void>((resolve) => client.once('connect', () => resolve()));
let quietSince = performance.now();
let seen = received;
while (performance.now() - quietSince < 500) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  if (received !== seen) {
    seen = received;
    quietSince = performance.now();
  }
}
clearInterval(watch);
process.stdout.write(
  `${kind}: ${pushes} pushes made while away (${emitMs.toFixed(0)} ms), heap ${heapMb.toFixed(0)} MB with them kept; ` +
    `recovered ${client.recovered}, ${received - before} delivered, in ${(quietSince - reconnectedAt).toFixed(0)} ms; ` +
    `the server's event loop stalled up to ${worstStall.toFixed(0)} ms\n`,
);
client.close();
server.close();
process.exit(0);
