import { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import type { Principal } from '../core/principal.ts';
import { TopicGrammar } from '../core/topics.ts';
import { ClientRights } from '../fleet/access-policy.ts';
import { Visibility } from '../incidents/visibility.ts';
import { createLogger } from '../observability/logger.ts';
import type { TlsMaterial } from '../security/tls-credentials.ts';
import { AedesBroker, type BrokerAccess } from './aedes-broker.ts';
import {
  type BrokerThreadSettings,
  type FromBrokerThread,
  ownBytes,
  type ThreadMessage,
  type ToBrokerThread,
} from './broker-thread-protocol.ts';
import { packetTooLarge } from './packet-limits.ts';

/**
 * The broker thread (ThreadedBroker starts it): the embedded broker, its connections and their MQTT, off the hub's
 * event loop. It decides alone what follows from who a client is (what it may publish, subscribe to and be sent:
 * ClientRights); it asks the hub's thread who a client is, and hands it every device publish, acknowledging each
 * only once the hub has answered it (stored, or nothing to store).
 */
const port = parentPort ?? notAThread();
const settings = workerData as BrokerThreadSettings;
const log = createLogger(settings.logLevel).child({ ns: 'mqtt-thread' });
const send = (message: FromBrokerThread): void => port.postMessage(message);

// The thread's own visibility rule (a function cannot cross threads): the hub's, from the same settings.
const visibility = new Visibility(settings.deviceHealthCategories);
const rights = new ClientRights(new TopicGrammar(settings.topicBase), settings.feedTopic, (user, incident) =>
  visibility.canSee(user, incident),
);
/** Users' connections (aedes' client objects), each with its grant; every other connection is a device's. */
const users = new WeakMap<object, Principal>();
let nextId = settings.firstId;
/** Authentications waiting for the hub's thread, by request id. */
const decisions = new Map<
  number,
  { readonly connection: object; readonly decide: (decision: { allowed: boolean; reason?: string }) => void }
>();
const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
let outgoing: ThreadMessage[] = [];
let outgoingPayloads: Buffer[] = [];
let outgoingBytes = 0;
/** Topics the hub's thread asks about (hasSubscribers), with the answer it was last sent. */
const watched = new Map<string, boolean>();
const relayed = new Map<number, Duplex>();
/** The certificate files last loaded, when newer than the ones the thread started with. */
let tlsMaterial: TlsMaterial | undefined;
/** Relayed connections whose input waits here unread: the hub's thread holds the rest (socket-pause). */
const paused = new Set<number>();

const access: BrokerAccess = {
  authenticate(connection, clientId, username, password, address, certificate) {
    const id = ++nextId;
    return new Promise((resolve) => {
      decisions.set(id, { connection, decide: resolve });
      send({
        type: 'authenticate',
        id,
        clientId,
        username,
        password: password === undefined ? undefined : new Uint8Array(password),
        address,
        ...(certificate === undefined ? {} : { certificate }),
      });
    });
  },
  mayPublish(connection, clientId, topic) {
    if (rights.mayPublish(clientId, users.get(connection), topic)) return { allowed: true };
    send({ type: 'refused', reason: 'publish_denied', clientId, topic });
    return { allowed: false };
  },
  maySubscribe(connection, clientId, topic) {
    if (rights.maySubscribe(clientId, users.get(connection), topic)) return { allowed: true };
    send({ type: 'refused', reason: 'subscribe_denied', clientId, topic });
    return { allowed: false };
  },
  mayForward: (connection, topic, payload) => rights.mayForward(users.get(connection), topic, payload),
};

/**
 * A turn's device publishes go to the hub's thread together, once the turn's reads are done, their payloads copied
 * once into a buffer of their own that the message hands over. Also before any connect or disconnect is told, so
 * the hub hears of a device's messages and its going in the order they happened.
 */
function flushOutgoing(): void {
  if (outgoing.length === 0) return;
  const payloads = new Uint8Array(outgoingBytes);
  let at = 0;
  for (const payload of outgoingPayloads) {
    payloads.set(payload, at);
    at += payload.length;
  }
  const messages = outgoing;
  outgoing = [];
  outgoingPayloads = [];
  outgoingBytes = 0;
  port.postMessage({ type: 'messages', messages, payloads } satisfies FromBrokerThread, [payloads.buffer]);
}

const broker = new AedesBroker({
  host: settings.host,
  port: settings.port,
  webSocketPath: '',
  access,
  limits: settings.limits,
  onLimitClose: (close) => send({ type: 'limit-close', close }),
  onMessage: (topic, payload, receivedAt) => {
    const id = ++nextId;
    if (outgoing.length === 0) setImmediate(flushOutgoing);
    const start = outgoingBytes;
    outgoingBytes += payload.length;
    outgoingPayloads.push(payload);
    outgoing.push({ id, topic, start, end: outgoingBytes, receivedAt: performance.timeOrigin + receivedAt });
    return new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
  },
  onClientConnected: (clientId, connection) => {
    flushOutgoing();
    send({ type: 'connected', clientId, user: users.has(connection) });
  },
  onClientDisconnected: (clientId) => {
    flushOutgoing();
    send({ type: 'disconnected', clientId });
  },
  onSubscriptionsChanged: () => {
    const changed: [string, boolean][] = [];
    for (const [topic, had] of watched) {
      const has = broker.hasSubscribers(topic);
      if (has === had) continue;
      watched.set(topic, has);
      changed.push([topic, has]);
    }
    if (changed.length > 0) send({ type: 'subscribers', topics: changed });
  },
  ...(settings.tls === undefined
    ? {}
    : {
        tls: {
          material: () => tlsMaterial ?? settings.tls ?? { cert: '', key: '' },
          clientCertificates: settings.tls.clientCertificates,
          onHandshakeFailure: (address: string | undefined, error: Error) =>
            send({ type: 'tls-failure', address, message: error.message }),
        },
      }),
  metrics: {
    connectedDevices: { set: (count) => send({ type: 'clients', count }) },
    storeFailures: { inc: () => send({ type: 'store-failure' }) },
  },
  logger: log,
});

/** A WebSocket connection the hub's HTTP server holds, as a stream for aedes: bytes relayed both ways. */
function openRelayed(socketId: number, address: string | undefined): void {
  const stream = new Duplex({
    // Read again: the hub's thread may go on reading the connection.
    read() {
      if (paused.delete(socketId)) send({ type: 'socket-resume', socketId });
    },
    write(chunk: Buffer, _encoding, done) {
      const data = ownBytes(chunk);
      port.postMessage({ type: 'socket-data', socketId, data } satisfies FromBrokerThread, [data.buffer]);
      done();
    },
    // aedes ended the connection: the hub's thread closes the WebSocket, once.
    final(done) {
      if (relayed.delete(socketId)) send({ type: 'socket-end', socketId });
      done();
    },
    destroy(error, done) {
      paused.delete(socketId);
      // A packet over its limit: dropped at once, its sender not read a moment longer. Any other end is polite, so a
      // refusal's CONNACK written just before it still reaches the client.
      const aborted = (error as { code?: string } | null)?.code === packetTooLarge;
      if (relayed.delete(socketId)) send({ type: 'socket-end', socketId, aborted });
      done(error);
    },
  });
  relayed.set(socketId, stream);
  broker.handle(stream, undefined, address);
}

function answer(
  ids: readonly number[],
  settle: (waiter: { resolve: () => void; reject: (e: Error) => void }) => void,
): void {
  for (const id of ids) {
    const waiter = waiting.get(id);
    if (waiter === undefined) continue;
    waiting.delete(id);
    settle(waiter);
  }
}

async function stop(): Promise<void> {
  for (const waiter of decisions.values()) waiter.decide({ allowed: false, reason: 'unavailable' });
  decisions.clear();
  for (const stream of relayed.values()) stream.destroy();
  await broker.stop();
  // Unanswered messages stay unacknowledged: their connections are closed, and their devices send them again.
  waiting.clear();
  send({ type: 'stopped' });
  port.close();
}

port.on('message', (message: ToBrokerThread) => {
  switch (message.type) {
    case 'decision': {
      const waiter = decisions.get(message.id);
      if (waiter === undefined) return;
      decisions.delete(message.id);
      // Before aedes hears the answer, so the client's first publish or subscribe is judged as the user's.
      if (message.allowed && message.user !== undefined) users.set(waiter.connection, message.user);
      waiter.decide(message);
      return;
    }
    case 'answers':
      answer(message.ok, (waiter) => waiter.resolve());
      answer(message.failed, (waiter) => waiter.reject(new Error('the hub could not store the message')));
      return;
    case 'publish':
      broker.publish(message.topic, message.payload).then(
        () => send({ type: 'published', id: message.id }),
        (error: Error) => send({ type: 'published', id: message.id, error: error.message }),
      );
      return;
    case 'disconnect':
      broker.disconnect(message.clientId);
      return;
    case 'watch':
      if (watched.has(message.topic)) return;
      watched.set(message.topic, broker.hasSubscribers(message.topic));
      send({ type: 'subscribers', topics: [[message.topic, watched.get(message.topic) ?? true]] });
      return;
    case 'socket-open':
      openRelayed(message.socketId, message.address);
      return;
    case 'socket-data': {
      const data = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength);
      const stream = relayed.get(message.socketId);
      if (stream?.push(data) === false && !paused.has(message.socketId)) {
        paused.add(message.socketId);
        send({ type: 'socket-pause', socketId: message.socketId });
      }
      return;
    }
    case 'socket-end': {
      // The peer closed: aedes reads what is left (a last DISCONNECT, say) and then ends the connection itself.
      const stream = relayed.get(message.socketId);
      relayed.delete(message.socketId);
      paused.delete(message.socketId);
      stream?.push(null);
      if (stream !== undefined) setTimeout(() => stream.destroy(), 5_000).unref();
      return;
    }
    case 'heap':
      (globalThis as { gc?: () => void }).gc?.();
      send({ type: 'heap', id: message.id, heapUsed: process.memoryUsage().heapUsed });
      return;
    case 'tls':
      tlsMaterial = message.material;
      broker.setSecureContext(message.material);
      return;
    case 'stop':
      void stop();
      return;
  }
});

broker.start().then(
  () => send({ type: 'listening', port: broker.port }),
  (error: Error & { code?: string; cause?: unknown }) => {
    const cause = (error.cause as NodeJS.ErrnoException | undefined)?.code;
    send({ type: 'failed', ...(cause === undefined ? {} : { code: cause }), message: error.message });
  },
);

function notAThread(): never {
  throw new Error('broker-thread.ts runs as a worker thread (see ThreadedBroker)');
}
