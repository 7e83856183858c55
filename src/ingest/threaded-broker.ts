import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';
import { listenError } from '../core/errors.ts';
import type { AccessDecision, MqttRefusalReason } from '../fleet/access-policy.ts';
import type { Logger } from '../observability/logger.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { ComponentState } from '../store/store.ts';
import type { BrokerThreadSettings, FromBrokerThread, ToBrokerThread } from './broker-thread-protocol.ts';
import type { MessageHandler, MqttHealth, MqttTransport } from './mqtt-transport.ts';

/**
 * The thread loads TypeScript as the hub does, with tsx, whatever started the hub (npm start, the tests, the
 * bench): Node 20 does not apply `--import tsx` to a worker's own entry file, so a few lines register tsx first.
 * tsx's ESM API is found through its package's exports, from this file, not from the working directory.
 */
function threadEntry(): string {
  const require = createRequire(import.meta.url);
  const tsxPackage = require('tsx/package.json') as {
    exports: Record<string, { import: { default: string } }>;
  };
  const tsxApi = new URL(
    tsxPackage.exports['./esm/api']?.import.default ?? '',
    pathToFileURL(require.resolve('tsx/package.json')),
  );
  const entry = new URL('./broker-thread.ts', import.meta.url);
  return `import(${JSON.stringify(tsxApi.href)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
}

/** What the hub's thread decides for the broker thread: who a client is, and the refusals it counts. */
export interface ThreadedBrokerAccess {
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): AccessDecision;
  /** A refusal the broker thread made: counted and logged here, with the hub's metrics and logs. */
  refused(reason: MqttRefusalReason, clientId: string, topic?: string): unknown;
  forget(clientId: string): void;
}

export interface ThreadedBrokerOptions extends Omit<BrokerThreadSettings, 'logLevel'> {
  readonly webSocketPath: string;
  readonly access: ThreadedBrokerAccess;
  readonly onMessage: MessageHandler;
  readonly onClientConnected: (clientId: string) => void;
  readonly onClientDisconnected: (clientId: string) => void;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
}

/**
 * The embedded broker in a thread of its own (broker-thread.ts): the devices' connections, MQTT parsing and every
 * PUBACK written off the hub's event loop, which a device event then costs only its handling. Each turn's device
 * publishes cross to this thread together, and their answers go back together once stored: a device's message is
 * acknowledged only after the hub answered it, as with the broker in the hub's thread (EmbeddedBroker). MQTT over
 * WebSocket stays on the hub's HTTP server, its bytes relayed to the broker thread.
 *
 * One instance only: several instances share their brokers' state through Redis (the clustered mode), and run the
 * broker in the hub's thread.
 */
export class ThreadedBroker implements MqttTransport {
  readonly mode = 'embedded';
  readonly #options: ThreadedBrokerOptions;
  readonly #log: Logger;
  #worker: Worker | undefined;
  #state: ComponentState = 'down';
  #port = 0;
  #connectedClients = 0;
  readonly #connected = new Set<string>();
  /** Watched topics, each with whether it has subscribers as the broker thread last said (see hasSubscribers). */
  readonly #subscribers = new Map<string, boolean>();
  #nextId = 0;
  readonly #publishes = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #answeredOk: number[] = [];
  #answeredFailed: number[] = [];
  #webSockets: WebSocketServer | undefined;
  #httpServer: HttpServer | undefined;
  readonly #relayed = new Map<number, Duplex>();
  #stopped: (() => void) | undefined;
  readonly #heapAnswers = new Map<number, (heapUsed: number) => void>();
  #loopUse: EventLoopUtilization | undefined;

  constructor(options: ThreadedBrokerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'mqtt' });
  }

  get state(): ComponentState {
    return this.#state;
  }

  get port(): number {
    return this.#port;
  }

  get connectedClients(): number {
    return this.#connectedClients;
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const { host, port, topicBase, feedTopic, deviceHealthCategories } = this.#options;
    const settings: BrokerThreadSettings = {
      host,
      port,
      topicBase,
      feedTopic,
      deviceHealthCategories,
      logLevel: this.#options.logger.level,
    };
    const worker = new Worker(threadEntry(), { eval: true, workerData: settings });
    this.#worker = worker;
    try {
      this.#port = await new Promise<number>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the broker thread exited (${code}) while starting`)));
        worker.on('message', (message: FromBrokerThread) => {
          if (message.type === 'listening') resolve(message.port);
          else if (message.type === 'failed') reject(listenError(message, 'MQTT', port, 'MQTT_PORT'));
          else this.#onMessage(message);
        });
      });
    } catch (error) {
      this.#state = 'down';
      this.#worker = undefined;
      await worker.terminate();
      throw error;
    }
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    worker.on('error', (error) => this.#log.error({ error: error.message }, 'broker thread failed'));
    worker.on('exit', (code) => {
      if (this.#state === 'down') return;
      this.#state = 'down';
      this.#log.error({ code }, 'broker thread exited: devices cannot connect');
    });
    this.#state = 'up';
  }

  /** Serves MQTT over WebSocket at the configured path of the hub's HTTP server, relayed to the broker thread. */
  attachWebSocket(server: HttpServer): void {
    const webSockets = new WebSocketServer({ noServer: true });
    this.#webSockets = webSockets;
    this.#httpServer = server;
    webSockets.on('connection', (socket: WebSocket) => this.#relay(createWebSocketStream(socket)));
    server.on('upgrade', this.#onUpgrade);
  }

  publish(topic: string, payload: string): Promise<void> {
    if (this.#worker === undefined || this.#state !== 'up') {
      return Promise.reject(new Error('the broker is not started'));
    }
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#publishes.set(id, { resolve, reject });
      this.#post({ type: 'publish', id, topic, payload });
    });
  }

  /**
   * Whether any client holds a subscription the topic matches, as the broker thread last said: the hub's own
   * publishers (the incident feed) skip encoding a message nobody can receive. Errs on the side of yes: a topic's
   * first question answers yes and asks the thread to watch it, which answers at once and again on every change.
   */
  hasSubscribers(topic: string): boolean {
    const known = this.#subscribers.get(topic);
    if (known !== undefined) return known;
    this.#subscribers.set(topic, true);
    this.#post({ type: 'watch', topic });
    return true;
  }

  /**
   * What the broker thread costs: how busy its event loop was since the previous call (in % of its time), and the
   * heap it holds, which the process's own heap figures leave out.
   */
  async threadStats(): Promise<{ busyPercent: number; heapUsed: number }> {
    const worker = this.#worker;
    if (worker === undefined) return { busyPercent: 0, heapUsed: 0 };
    const since = worker.performance.eventLoopUtilization(this.#loopUse);
    this.#loopUse = worker.performance.eventLoopUtilization();
    const id = ++this.#nextId;
    const heapUsed = await new Promise<number>((resolve) => {
      this.#heapAnswers.set(id, resolve);
      this.#post({ type: 'heap', id });
    });
    return { busyPercent: since.utilization * 100, heapUsed };
  }

  isConnected(clientId: string): boolean {
    return this.#connected.has(clientId);
  }

  disconnect(clientId: string): void {
    this.#post({ type: 'disconnect', clientId });
  }

  health(): MqttHealth {
    return {
      state: this.#state,
      mode: this.mode,
      port: this.#port,
      connectedDevices: this.#connectedClients,
    };
  }

  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#state = 'down';
    this.#httpServer?.off('upgrade', this.#onUpgrade);
    for (const client of this.#webSockets?.clients ?? []) client.terminate();
    this.#webSockets?.close();
    this.#webSockets = undefined;
    this.#httpServer = undefined;
    if (worker !== undefined) {
      // The thread closes its connections and its port; past a few seconds it is ended anyway.
      const stopped = new Promise<void>((resolve) => {
        this.#stopped = resolve;
      });
      this.#post({ type: 'stop' });
      const timer = setTimeout(() => this.#stopped?.(), 5_000);
      await stopped;
      clearTimeout(timer);
      await worker.terminate();
    }
    this.#worker = undefined;
    this.#stopped = undefined;
    const stopping = new Error('the broker stopped');
    for (const publish of this.#publishes.values()) publish.reject(stopping);
    this.#publishes.clear();
    for (const answer of this.#heapAnswers.values()) answer(0);
    this.#heapAnswers.clear();
    this.#loopUse = undefined;
    for (const stream of this.#relayed.values()) stream.destroy();
    this.#relayed.clear();
    this.#connected.clear();
    this.#subscribers.clear();
    this.#connectedClients = 0;
    this.#options.metrics.connectedDevices.set(0);
  }

  #post(message: ToBrokerThread): void {
    this.#worker?.postMessage(message);
  }

  #onMessage(message: FromBrokerThread): void {
    const { access, metrics } = this.#options;
    switch (message.type) {
      case 'messages':
        for (const { id, topic, payload, receivedAt } of message.messages) {
          this.#handle(id, topic, payload, receivedAt - performance.timeOrigin);
        }
        return;
      case 'authenticate': {
        const password = message.password === undefined ? undefined : Buffer.from(message.password);
        const decision = access.authenticate(message.clientId, message.username, password);
        this.#post({ type: 'decision', id: message.id, ...decision });
        return;
      }
      case 'refused':
        access.refused(message.reason, message.clientId, message.topic);
        return;
      case 'connected':
        this.#connected.add(message.clientId);
        this.#options.onClientConnected(message.clientId);
        return;
      case 'disconnected':
        this.#connected.delete(message.clientId);
        access.forget(message.clientId);
        this.#options.onClientDisconnected(message.clientId);
        return;
      case 'clients':
        this.#connectedClients = message.count;
        metrics.connectedDevices.set(message.count);
        return;
      case 'subscribers':
        for (const [topic, has] of message.topics) this.#subscribers.set(topic, has);
        return;
      case 'published': {
        const publish = this.#publishes.get(message.id);
        this.#publishes.delete(message.id);
        if (message.error === undefined) publish?.resolve();
        else publish?.reject(new Error(message.error));
        return;
      }
      case 'store-failure':
        metrics.storeFailures.inc();
        return;
      case 'socket-data':
        this.#relayed.get(message.socketId)?.write(message.data);
        return;
      case 'socket-end': {
        const stream = this.#relayed.get(message.socketId);
        this.#relayed.delete(message.socketId);
        stream?.end();
        return;
      }
      case 'heap':
        this.#heapAnswers.get(message.id)?.(message.heapUsed);
        this.#heapAnswers.delete(message.id);
        return;
      case 'stopped':
        this.#stopped?.();
        return;
      case 'listening':
      case 'failed':
        return;
    }
  }

  /** A device publish: answered ok once handled (stored, or nothing to store), failed if that failed. */
  #handle(id: number, topic: string, payload: Uint8Array, receivedAt: number): void {
    const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    let pending: Promise<void> | undefined;
    try {
      pending = this.#options.onMessage(topic, buffer, receivedAt);
    } catch (error) {
      this.#log.error({ topic, error: (error as Error).message }, 'device message handling threw');
      this.#answer(id, false);
      return;
    }
    if (pending === undefined) {
      this.#answer(id, true);
      return;
    }
    pending.then(
      () => this.#answer(id, true),
      () => this.#answer(id, false),
    );
  }

  /** Answers of one turn go back together: the commit that resolves many events at once sends one message. */
  #answer(id: number, ok: boolean): void {
    if (this.#answeredOk.length === 0 && this.#answeredFailed.length === 0) {
      process.nextTick(this.#flushAnswers);
    }
    (ok ? this.#answeredOk : this.#answeredFailed).push(id);
  }

  readonly #flushAnswers = (): void => {
    const ok = this.#answeredOk;
    const failed = this.#answeredFailed;
    this.#answeredOk = [];
    this.#answeredFailed = [];
    this.#post({ type: 'answers', ok, failed });
  };

  #relay(stream: Duplex): void {
    const socketId = ++this.#nextId;
    this.#relayed.set(socketId, stream);
    this.#post({ type: 'socket-open', socketId });
    stream.on('data', (data: Buffer) => this.#post({ type: 'socket-data', socketId, data }));
    stream.on('error', () => undefined);
    stream.once('close', () => {
      if (this.#relayed.delete(socketId)) this.#post({ type: 'socket-end', socketId });
    });
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Socket.IO answers its own upgrades on /socket.io/; anything else is left to it to refuse.
    if (request.url !== this.#options.webSocketPath || this.#webSockets === undefined) return;
    const webSockets = this.#webSockets;
    webSockets.handleUpgrade(request, socket, head, (ws) => webSockets.emit('connection', ws, request));
  };
}
