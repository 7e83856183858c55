import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ComponentState } from '../core/component.ts';
import type { CommandChannel, FrameHandler } from '../core/connector.ts';
import { listenError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import type { MqttRefusalReason } from '../fleet/access-policy.ts';
import type { Logger } from '../observability/logger.ts';
import type { ClientCertificateCheck, TlsMaterial } from '../security/tls-credentials.ts';
import type { BrokerMetrics, BrokerTlsOptions } from './aedes-broker.ts';
import {
  type BrokerThreadSettings,
  type FromBrokerThread,
  ownBytes,
  type ToBrokerThread,
} from './broker-thread-protocol.ts';
import type { MqttHealth, OwnMqttBroker } from './mqtt-transport.ts';
import { MqttWebSocketPath } from './mqtt-websocket.ts';
import { type LimitClose, type PacketLimits, webSocketFrameLimit } from './packet-limits.ts';

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

/** How much a relayed MQTT WebSocket client may leave unread before it is disconnected. */
const relayBufferLimit = 4 * 2 ** 20;

/** What the hub's thread decides for the broker thread: who a client is, and the refusals it counts. */
export interface ThreadedBrokerAccess {
  identify(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    address: string | undefined,
    certificate?: ClientCertificateCheck,
  ): { readonly allowed: boolean; readonly reason?: string; readonly user?: Principal };
  /** A refusal the broker thread made: counted and logged here, with the hub's metrics and logs. */
  refused(reason: MqttRefusalReason, clientId: string, topic?: string): unknown;
}

export interface ThreadedBrokerOptions
  extends Omit<BrokerThreadSettings, 'logLevel' | 'firstId' | 'limits' | 'tls'> {
  /** MQTTS: where the certificate in use is read when a thread starts (setSecureContext passes on later ones). */
  readonly tls?: Omit<BrokerTlsOptions, 'onHandshakeFailure'>;
  readonly onTlsFailure?: (address: string | undefined, message: string) => void;
  readonly webSocketPath: string;
  readonly access: ThreadedBrokerAccess;
  readonly onMessage: FrameHandler;
  readonly onClientConnected: (clientId: string) => void;
  readonly onClientDisconnected: (clientId: string) => void;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  readonly limits: PacketLimits;
  /** A connection the thread closed at a limit: counted and logged here. */
  readonly onLimitClose: (close: LimitClose) => void;
  /** The client's address of an MQTT over WebSocket upgrade: behind a trusted proxy, the forwarded one. */
  readonly clientAddress?: (request: IncomingMessage) => string | undefined;
}

/**
 * The embedded broker in a thread of its own (broker-thread.ts): the devices' connections, MQTT parsing and every
 * PUBACK written off the hub's event loop, which a device event then costs only its handling. Each turn's device
 * publishes cross to this thread together, and their answers go back together once stored: a device's message is
 * acknowledged only after the hub answered it, as with the broker in the hub's thread (AedesBroker). MQTT over
 * WebSocket stays on the hub's HTTP server, its bytes relayed to the broker thread.
 *
 * One instance only: several instances share their brokers' state through Redis (the clustered mode), and run the
 * broker in the hub's thread.
 */
export class ThreadedBroker implements OwnMqttBroker {
  readonly name = 'mqtt';
  readonly kind = 'mqtt broker thread (aedes in a worker thread)';
  /** The config's `mqtt.mode` this serves: the hub's own broker, one instance alone. */
  readonly mode = 'embedded';
  readonly #options: ThreadedBrokerOptions;
  readonly #log: Logger;
  #worker: Worker | undefined;
  #state: ComponentState = 'down';
  #port = 0;
  #connectedClients = 0;
  readonly #connected = new Set<string>();
  /** Client ids connected as users: any of them may subscribe to the feed at any moment. */
  readonly #users = new Set<string>();
  /** Watched topics, each with whether it has subscribers as the broker thread last said (see hasSubscribers). */
  readonly #subscribers = new Map<string, boolean>();
  #nextId = 0;
  readonly #publishes = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #answeredOk: number[] = [];
  #answeredFailed: number[] = [];
  readonly #webSocket: MqttWebSocketPath;
  readonly #relayed = new Map<number, Duplex>();
  #stopped: (() => void) | undefined;
  #stopping = false;
  /** Counts the threads started: each its own range of message ids (BrokerThreadSettings.firstId). */
  #generation = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** When the running thread started listening (performance.now()), and how long the last restart waited. */
  #startedAt = 0;
  #restartWaitMs = 500;
  readonly #heapAnswers = new Map<number, (heapUsed: number) => void>();
  #loopUse: EventLoopUtilization | undefined;

  constructor(options: ThreadedBrokerOptions) {
    this.#options = options;
    this.#webSocket = new MqttWebSocketPath(
      options.webSocketPath,
      (stream, request) =>
        this.#relay(stream, this.#options.clientAddress?.(request) ?? request.socket.remoteAddress),
      webSocketFrameLimit(options.limits),
    );
    this.#log = options.logger.child({ ns: 'mqtt' });
  }

  get commands(): CommandChannel {
    return this;
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
    this.#stopping = false;
    await this.#startThread(this.#options.port);
  }

  /** Starts a broker thread on `port` (a restart: the port the first one bound), resolved once it listens. */
  async #startThread(port: number): Promise<void> {
    const { host, topicBase, feedTopic, deviceHealthCategories } = this.#options;
    this.#generation += 1;
    const settings: BrokerThreadSettings = {
      host,
      port,
      topicBase,
      feedTopic,
      deviceHealthCategories,
      logLevel: this.#options.logger.level,
      firstId: this.#generation * 2 ** 40,
      limits: this.#options.limits,
      ...(this.#options.tls === undefined
        ? {}
        : {
            tls: {
              ...this.#options.tls.material(),
              clientCertificates: this.#options.tls.clientCertificates,
            },
          }),
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
      if (this.#worker === worker) {
        this.#state = 'down';
        this.#worker = undefined;
      }
      await worker.terminate();
      throw error;
    }
    // Stopped (or replaced) while it was starting: it is not the broker any more.
    if (this.#stopping || this.#worker !== worker) {
      await worker.terminate();
      throw new Error('the broker stopped while its thread was starting');
    }
    this.#startedAt = performance.now();
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    worker.on('error', (error) => this.#log.error({ error: error.message }, 'broker thread failed'));
    worker.once('exit', (code) => this.#exited(worker, code));
    this.#state = 'up';
    // A thread started again watches what the one before it watched.
    for (const topic of this.#subscribers.keys()) this.#post({ type: 'watch', topic });
  }

  /**
   * The broker thread ended without being asked to: its connections are gone. Everything waiting on it is settled,
   * its devices are reported gone, and a new thread is started on the same port, again and again with a longer
   * wait while that fails. Until then MQTT is down on /healthz.
   */
  #exited(worker: Worker, code: number): void {
    if (this.#worker !== worker || this.#stopping) return;
    this.#state = 'down';
    this.#log.error({ code }, 'broker thread exited: devices are disconnected until it is started again');
    this.#settleAll(new Error('the broker thread exited'));
    this.#worker = undefined;
    // A thread that ran a while is started again at once (1 s); one that keeps ending, less and less often.
    const lived = performance.now() - this.#startedAt;
    this.#restartWaitMs = lived > 60_000 ? 1000 : Math.min(this.#restartWaitMs * 2, 30_000);
    const retry = (waitMs: number): void => {
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        if (this.#stopping) return;
        this.#state = 'starting';
        this.#startThread(this.#port).then(
          () => this.#log.info({ port: this.#port }, 'broker thread started again'),
          (error: unknown) => {
            if (this.#stopping) return;
            this.#state = 'down';
            this.#log.error({ error: (error as Error).message }, 'broker thread did not start again');
            retry(Math.min(waitMs * 2, 30_000));
          },
        );
      }, waitMs);
      this.#restartTimer.unref();
    };
    retry(this.#restartWaitMs);
  }

  /** What waited on a thread that is gone: publishes fail, its clients are gone, relayed connections close. */
  #settleAll(reason: Error): void {
    for (const publish of this.#publishes.values()) publish.reject(reason);
    this.#publishes.clear();
    for (const answer of this.#heapAnswers.values()) answer(0);
    this.#heapAnswers.clear();
    for (const stream of this.#relayed.values()) stream.destroy();
    this.#relayed.clear();
    for (const clientId of this.#connected) this.#options.onClientDisconnected(clientId);
    this.#connected.clear();
    this.#users.clear();
    this.#answeredOk = [];
    this.#answeredFailed = [];
    this.#loopUse = undefined;
    this.#connectedClients = 0;
    this.#options.metrics.connectedDevices.set(0);
  }

  /** Serves MQTT over WebSocket at the configured path of the hub's HTTP server, relayed to the broker thread. */
  attachWebSocket(server: HttpServer): void {
    this.#webSocket.attach(server);
  }

  /** New certificate files: the broker thread's MQTTS listener takes them for new connections. */
  setSecureContext(material: TlsMaterial): void {
    if (this.#options.tls !== undefined) this.#post({ type: 'tls', material });
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
   * first question answers yes and asks the thread to watch it, which answers at once and again on every change;
   * and the feed has one while a user is connected, who may have subscribed a moment ago.
   */
  hasSubscribers(topic: string): boolean {
    // A user connected may have just subscribed: the thread's word on it is a message behind the SUBACK.
    if (topic === this.#options.feedTopic && this.#users.size > 0) return true;
    const known = this.#subscribers.get(topic);
    if (known !== undefined) return known;
    // No thread to ask (not started, or starting again): yes, and asked once there is one.
    if (this.#worker === undefined || this.#state !== 'up') return true;
    this.#subscribers.set(topic, true);
    this.#post({ type: 'watch', topic });
    return true;
  }

  /**
   * What the broker thread costs: how busy its event loop was since the previous call (in % of its time), and the
   * heap it holds, which the process's own heap figures leave out (after a full collection where the process runs
   * with --expose-gc). `heap: false` leaves the heap out (0), and with it the collection, which would stall the thread.
   */
  async threadStats({
    heap = true,
  }: {
    heap?: boolean;
  } = {}): Promise<{ busyPercent: number; heapUsed: number }> {
    const worker = this.#worker;
    if (worker === undefined) return { busyPercent: 0, heapUsed: 0 };
    const since = worker.performance.eventLoopUtilization(this.#loopUse);
    this.#loopUse = worker.performance.eventLoopUtilization();
    if (!heap) return { busyPercent: since.utilization * 100, heapUsed: 0 };
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
      thread: 'broker',
      port: this.#port,
      connectedDevices: this.#connectedClients,
    };
  }

  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#state = 'down';
    this.#webSocket.close();
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
    this.#settleAll(new Error('the broker stopped'));
    this.#subscribers.clear();
  }

  #post(message: ToBrokerThread): void {
    this.#worker?.postMessage(message);
  }

  #onMessage(message: FromBrokerThread): void {
    const { access, metrics } = this.#options;
    switch (message.type) {
      case 'messages': {
        const { buffer, byteOffset } = message.payloads;
        for (const { id, topic, start, end, receivedAt } of message.messages) {
          const payload = Buffer.from(buffer, byteOffset + start, end - start);
          this.#handle(id, topic, payload, receivedAt - performance.timeOrigin);
        }
        return;
      }
      case 'authenticate': {
        const password = message.password === undefined ? undefined : Buffer.from(message.password);
        // The thread keeps a user's grant with its connection; the hub's thread keeps none.
        const decision = access.identify(
          message.clientId,
          message.username,
          password,
          message.address,
          message.certificate,
        );
        this.#post({ type: 'decision', id: message.id, ...decision });
        return;
      }
      case 'refused':
        access.refused(message.reason, message.clientId, message.topic);
        return;
      case 'tls-failure':
        this.#options.onTlsFailure?.(message.address, message.message);
        return;
      case 'connected':
        this.#connected.add(message.clientId);
        if (message.user) this.#users.add(message.clientId);
        else this.#users.delete(message.clientId);
        this.#options.onClientConnected(message.clientId);
        return;
      case 'disconnected':
        this.#connected.delete(message.clientId);
        this.#users.delete(message.clientId);
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
      case 'limit-close':
        this.#options.onLimitClose(message.close);
        return;
      case 'socket-data': {
        const stream = this.#relayed.get(message.socketId);
        stream?.write(message.data);
        // A client that reads nothing is not buffered for without end (aedes' own drain timeout never sees it here).
        if (stream !== undefined && stream.writableLength > relayBufferLimit) {
          this.#log.warn({ buffered: stream.writableLength }, 'MQTT WebSocket client too slow: disconnected');
          stream.destroy();
        }
        return;
      }
      case 'socket-pause':
        this.#relayed.get(message.socketId)?.pause();
        return;
      case 'socket-resume':
        this.#relayed.get(message.socketId)?.resume();
        return;
      case 'socket-end': {
        const stream = this.#relayed.get(message.socketId);
        this.#relayed.delete(message.socketId);
        if (message.aborted === true) {
          stream?.destroy();
          return;
        }
        // Reading again first: a paused WebSocket would not read the peer's close frame and would linger.
        stream?.resume();
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
  #handle(id: number, topic: string, payload: Buffer, receivedAt: number): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#options.onMessage(topic, payload, receivedAt);
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

  /**
   * The answers of one turn of the event loop go back together, in one message: a message costs the hub's thread
   * far more than an answer in it (about 25 µs; a commit resolves events a few at a time under load, and one message
   * per commit was most of what the broker thread cost the hub's thread). They wait for the rest of the turn only.
   */
  #answer(id: number, ok: boolean): void {
    if (this.#answeredOk.length === 0 && this.#answeredFailed.length === 0) setImmediate(this.#flushAnswers);
    (ok ? this.#answeredOk : this.#answeredFailed).push(id);
  }

  readonly #flushAnswers = (): void => {
    const ok = this.#answeredOk;
    const failed = this.#answeredFailed;
    this.#answeredOk = [];
    this.#answeredFailed = [];
    this.#post({ type: 'answers', ok, failed });
  };

  #relay(stream: Duplex, address: string | undefined): void {
    // No broker thread (between an exit and its restart): the client tries again, as for a refused TCP connection.
    if (this.#worker === undefined) {
      stream.destroy();
      return;
    }
    const socketId = ++this.#nextId;
    this.#relayed.set(socketId, stream);
    this.#post({ type: 'socket-open', socketId, address });
    stream.on('data', (chunk: Buffer) => {
      if (!this.#relayed.has(socketId)) return;
      const data = ownBytes(chunk);
      this.#worker?.postMessage({ type: 'socket-data', socketId, data } satisfies ToBrokerThread, [
        data.buffer,
      ]);
    });
    // The peer closing ends the stream without closing it (ws' stream neither closes nor destroys itself).
    const closed = () => {
      if (this.#relayed.delete(socketId)) this.#post({ type: 'socket-end', socketId });
      stream.destroy();
    };
    stream.once('end', closed);
    stream.once('close', closed);
    stream.on('error', closed);
  }
}
