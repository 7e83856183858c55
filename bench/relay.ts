import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { Server } from 'socket.io';
import { type ParentMessage, reply, serverStats } from './server-ipc.ts';

/**
 * The ceiling: the same broker (aedes, QoS 1, TCP on loopback) and the same Socket.IO server, with no processing
 * between them. Every device event is parsed and re-emitted over Socket.IO; no auth, no rules, no store.
 */
const broker = await Aedes.createBroker({});
const tcp = createServer((socket) => broker.handle(socket));
const http = createHttpServer();
const io = new Server(http, { serveClient: false });
// Each event goes to one room of five, each client in one of them: about ten of fifty clients get each event, as
// many as the hub's rooms reach for a pushed incident (officers up the chain, the chief, the grid's workers). With
// fewer clients, fewer rooms (RELAY_ROOMS): one client is sent every event, as the hub sends it every push.
const rooms = Math.min(5, Math.max(1, Number(process.env.RELAY_ROOMS) || 5));
let joined = 0;
io.on('connection', (socket) => {
  socket.join(`r${joined % rooms}`);
  joined += 1;
});

broker.on('publish', (packet, client) => {
  if (client === null || client === undefined) return;
  if (!packet.topic.endsWith('/events')) return;
  let frame: { time?: string; event?: string; seq?: number };
  try {
    frame = JSON.parse((packet.payload as Buffer).toString('utf8')) as {
      time?: string;
      event?: string;
      seq?: number;
    };
  } catch {
    return;
  }
  io.to(`r${(frame.seq ?? 0) % rooms}`).emit('relay:event', {
    deviceId: client.id,
    event: frame.event,
    time: frame.time,
  });
});

await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 2_000).unref();
  io.close();
  tcp.close();
  broker.close(() => process.exit(0));
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats')
    reply({ type: 'stats', ...serverStats(message.quiet), devices: broker.connectedClients });
  if (message.type === 'stop') stop();
});
process.once('disconnect', stop);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const portOf = (address: ReturnType<typeof tcp.address>): number =>
  typeof address === 'object' && address !== null ? address.port : 0;
reply({ type: 'ready', http: portOf(http.address()), mqtt: portOf(tcp.address()), devices: 0 });
