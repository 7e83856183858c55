import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import type { ComponentHealth, ComponentState } from '../../core/component.ts';
import type { Connector, ConnectorRefusal, FrameHandler, RefusalHandler } from '../../core/connector.ts';
import { listenError } from '../../core/errors.ts';
import type { RefusalReason } from '../../core/refusals.ts';
import type { TopicGrammar } from '../../core/topics.ts';
import { SourceBuckets } from '../../net/source-buckets.ts';
import { type Logger, LogThrottle } from '../../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import {
  type Dc09Content,
  type Dc09Header,
  dc09Ack,
  dc09Duh,
  dc09Nak,
  dc09Tokens,
  readDc09Content,
  readDc09Frame,
} from './dc09-message.ts';

/** The receiver's settings (`receivers.siaDc09` in the config file; see config/schema.ts for each one's meaning). */
export interface SiaDc09Settings {
  readonly port: number;
  readonly host?: string;
  readonly udp: boolean;
  readonly timestampWindow: { readonly aheadSeconds: number; readonly behindSeconds: number };
  readonly maxFrameBytes: number;
  readonly maxConnections: number;
  readonly idleSeconds: number;
  readonly perSource: { readonly messagesPerSecond: number; readonly burst: number };
}

/** A panel the receiver serves: the device its account names, and its AES key when it encrypts. */
export interface SiaPanel {
  readonly deviceId: string;
  readonly key?: Buffer;
}

export interface SiaDc09ReceiverOptions {
  readonly settings: SiaDc09Settings;
  /** Where to bind when the settings name no host: the hub's address. */
  readonly host: string;
  readonly topics: TopicGrammar;
  /** The panel an account names, or undefined (unknown, or disabled). */
  readonly panelOf: (account: string) => SiaPanel | undefined;
  readonly onMessage: FrameHandler;
  readonly refuse: RefusalHandler;
  /** The clock the timestamp window and the answers' times read (HubOptions.clock). */
  readonly now: () => number;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

/** Why the receiver dropped a message or closed a connection before reading it; labels of a counter. */
export const siaLimitReasons = ['rate', 'connections', 'idle', 'frame_too_long'] as const;
type SiaLimitReason = (typeof siaLimitReasons)[number];
const siaAnswers = ['ack', 'nak', 'duh', 'none'] as const;
type SiaAnswer = (typeof siaAnswers)[number];

export const siaMetrics = declareMetrics((metrics) => ({
  answers: metrics.counter({
    name: 'gridhub_sia_dc09_answers_total',
    help: 'SIA DC-09 messages answered, by answer: ack (committed), nak (not read: CRC, length, format, key, timestamp), duh (read, not served: token, account), none (the hub failed to commit it; the panel sends again).',
    labelNames: ['answer'] as const,
    shownAtZero: { answer: siaAnswers },
  }),
  limits: metrics.counter({
    name: 'gridhub_sia_dc09_limits_total',
    help: 'SIA DC-09 input stopped at a limit, by reason: rate (a message over an address’s rate, dropped unanswered), connections (a TCP connection over maxConnections), idle (a silent connection closed), frame_too_long (no CR within maxFrameBytes: the connection closed).',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: siaLimitReasons },
  }),
}));

/**
 * How long a first sighting names a retransmitted message (panels send again within seconds, a few times), and
 * how many sightings are kept. Short, so a panel that restarts its sequence is not mistaken for one sending again.
 */
const retransmitWindowMs = 2 * 60_000;
const rememberedSightings = 10_000;
const trackedSources = 10_000;

/**
 * The SIA DC-09 receiver: alarm panels report over TCP (one message at a time per connection, each answered before
 * the next is read) and UDP (a datagram a message) on one port. Each message is checked in the standard's order
 * (framing, CRC and length; token; account; key; timestamp window) and refused with the standard's answer (NAK
 * when it could not be read, DUH when it was read and is not served here), counted and dead-lettered through the
 * ingest; a message that passes becomes a JSON frame of the topic grammar, addressed to the panel its account
 * names (`events` for Contact ID and SIA DCS, `heartbeat` for NULL supervision), and is acknowledged once the hub
 * has committed it.
 */
export class SiaDc09Receiver implements Connector {
  readonly name = 'sia-dc09';
  readonly kind = 'sia-dc09 receiver (tcp+udp)';
  readonly #options: SiaDc09ReceiverOptions;
  readonly #log: Logger;
  readonly #logThrottle = new LogThrottle();
  readonly #metrics: ReturnType<typeof siaMetrics>;
  #server: Server | undefined;
  #udp: UdpSocket | undefined;
  readonly #sockets = new Set<Socket>();
  #state: ComponentState = 'down';
  /** The last message seen under each panel's sequence number, so a retransmission carries its time (its key). */
  readonly #sightings = new Map<
    string,
    { readonly said: string; readonly time: string; readonly at: number }
  >();
  /** Messages being answered: stop() waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Per remote address: its rate (a token bucket). */
  readonly #buckets: SourceBuckets;

  constructor(options: SiaDc09ReceiverOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'sia-dc09' });
    this.#metrics = siaMetrics(options.metrics);
    const { messagesPerSecond, burst } = options.settings.perSource;
    this.#buckets = new SourceBuckets(
      { perSecond: messagesPerSecond, burst },
      { maxSources: trackedSources },
    );
  }

  /** The TCP (and UDP) port bound; 0 before start. */
  get port(): number {
    const address = this.#server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  health(): ComponentHealth {
    return {
      state: this.#state,
      port: this.port,
      udp: this.#udp !== undefined,
      connections: this.#sockets.size,
    };
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const { settings } = this.#options;
    const host = settings.host ?? this.#options.host;
    // Port 0 picks a free TCP port; UDP then binds the same number, which another process may hold: pick again.
    for (let attempt = 0; ; attempt++) {
      const server = this.#tcpServer();
      this.#server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(settings.port, host, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((error: unknown) => {
        throw listenError(error, 'SIA DC-09 (TCP)', settings.port, 'receivers.siaDc09.port');
      });
      if (!settings.udp) break;
      try {
        this.#udp = await this.#udpSocket(this.port, host);
        break;
      } catch (error) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        this.#server = undefined;
        if (settings.port !== 0 || attempt >= 4) {
          throw listenError(error, 'SIA DC-09 (UDP)', settings.port, 'receivers.siaDc09.port');
        }
      }
    }
    this.#state = 'up';
    this.#log.info({ port: this.port, udp: settings.udp }, 'SIA DC-09 receiver listening');
  }

  async stop(): Promise<void> {
    this.#state = 'down';
    const server = this.#server;
    const udp = this.#udp;
    this.#server = undefined;
    this.#udp = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await Promise.allSettled([...this.#inFlight]);
    await Promise.all([
      server === undefined ? undefined : new Promise<void>((resolve) => server.close(() => resolve())),
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
    ]);
  }

  #tcpServer(): Server {
    const { settings } = this.#options;
    const server = createServer({ noDelay: true });
    server.maxConnections = settings.maxConnections;
    server.on('drop', () => this.#limited('connections', 'tcp connection over maxConnections'));
    server.on('connection', (socket) => this.#serve(socket));
    // After listening (an accept failing for want of file descriptors, say): logged, never thrown.
    server.on('error', (error) => {
      if (this.#state === 'up') this.#log.warn({ error: error.message }, 'tcp server error');
    });
    return server;
  }

  #udpSocket(port: number, host: string): Promise<UdpSocket> {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        udp.on('error', (error) => this.#log.warn({ error: error.message }, 'udp socket error'));
        udp.on('message', (message, remote) => this.#datagram(udp, message, remote));
        resolve(udp);
      });
    });
  }

  #datagram(udp: UdpSocket, message: Buffer, remote: RemoteInfo): void {
    if (!this.#admit(remote.address)) return;
    const { maxFrameBytes } = this.#options.settings;
    if (message.length > maxFrameBytes) {
      this.#limited('frame_too_long', `a datagram over ${maxFrameBytes} bytes`);
      void this.#refuse('udp', null, 'malformed', [`a datagram over ${maxFrameBytes} bytes`], message.length);
      return;
    }
    void this.#answerSafely(withoutTrailingNuls(message), 'udp').then((answer) => {
      if (answer !== undefined && this.#udp === udp) udp.send(answer, remote.port, remote.address);
    });
  }

  /**
   * One TCP connection: bytes up to an LF are not a message (refused as garbage), an LF starts one and a CR ends
   * it; a message is answered before the next is read (the socket pauses meanwhile), so a panel that sends faster
   * than the hub commits waits, and one connection's memory stays bounded.
   */
  #serve(socket: Socket): void {
    const { settings } = this.#options;
    this.#sockets.add(socket);
    socket.setTimeout(settings.idleSeconds * 1000);
    socket.on('timeout', () => {
      this.#limited('idle', 'tcp connection idle');
      socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    const address = socket.remoteAddress ?? 'unknown';
    let buffered: Buffer = Buffer.alloc(0);
    let busy = false;
    const next = (): void => {
      if (socket.destroyed) return;
      const firstLf = buffered.indexOf(0x0a);
      const end = firstLf === -1 ? -1 : buffered.indexOf(0x0d, firstLf);
      // A message starts at the last LF before its CR: LFs, CRs and NULs before it are line noise, anything else
      // (bytes outside a message, a message cut short of its CR) is garbage.
      const start = end === -1 ? firstLf : buffered.lastIndexOf(0x0a, end);
      const garbage = start === -1 ? buffered : buffered.subarray(0, start);
      if (garbage.some((byte) => byte !== 0 && byte !== 0x0d && byte !== 0x0a)) {
        buffered = start === -1 ? Buffer.alloc(0) : buffered.subarray(start);
        if (!this.#admit(address)) {
          next();
          return;
        }
        busy = true;
        socket.pause();
        void this.#garbage(garbage.length, 'tcp').then((answer) => {
          if (!socket.destroyed) socket.write(answer);
          busy = false;
          socket.resume();
          next();
        });
        return;
      }
      if (start === -1) {
        buffered = Buffer.alloc(0);
        return;
      }
      if (end === -1) {
        if (buffered.length - start > settings.maxFrameBytes) {
          this.#limited('frame_too_long', `no CR within ${settings.maxFrameBytes} bytes`);
          void this.#refuse(
            'tcp',
            null,
            'malformed',
            [`no CR within ${settings.maxFrameBytes} bytes`],
            buffered.length,
          );
          socket.destroy();
        } else {
          buffered = buffered.subarray(start);
        }
        return;
      }
      const frame = Buffer.from(buffered.subarray(start, end + 1));
      buffered = buffered.subarray(end + 1);
      if (!this.#admit(address)) {
        next();
        return;
      }
      busy = true;
      socket.pause();
      void this.#answerSafely(frame, 'tcp').then((answer) => {
        if (answer !== undefined && !socket.destroyed) socket.write(answer);
        busy = false;
        socket.resume();
        next();
      });
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (!busy) next();
    });
  }

  /** The per-address token bucket: false when the address sent more than its rate (the message is dropped). */
  #admit(address: string): boolean {
    if (this.#buckets.admit(address)) return true;
    this.#limited('rate', 'messages over the per-address rate');
    return false;
  }

  #limited(reason: SiaLimitReason, what: string): void {
    this.#metrics.limits.labels(reason).inc();
    const suppressed = this.#logThrottle.admit(`limit:${reason}`);
    if (suppressed >= 0)
      this.#log.warn({ reason, suppressed }, `SIA DC-09 input stopped at a limit: ${what}`);
  }

  async #garbage(bytes: number, transport: 'tcp' | 'udp'): Promise<Buffer> {
    await this.#refuse(
      transport,
      null,
      'malformed',
      ['bytes outside a message (before the LF that starts one)'],
      bytes,
    );
    return this.#answered('nak', dc09Nak(this.#options.now()));
  }

  /**
   * The answer, or none when the hub itself failed: nothing a panel sends may end the process. Kept while it runs,
   * so stop() lets what is being committed finish before the store behind it stops.
   */
  #answerSafely(frame: Buffer, transport: 'tcp' | 'udp'): Promise<Buffer | undefined> {
    const answering = this.#answer(frame, transport).catch((error: unknown) => {
      this.#metrics.answers.labels('none').inc();
      const suppressed = this.#logThrottle.admit('fault');
      if (suppressed >= 0) {
        this.#log.error({ error: (error as Error).message, suppressed }, 'SIA DC-09 message not handled');
      }
      return undefined;
    });
    this.#inFlight.add(answering);
    void answering.finally(() => this.#inFlight.delete(answering));
    return answering;
  }

  /**
   * The answer to one message, LF to CR, after everything it caused is stored: ACK once committed, NAK or DUH once
   * its refusal is dead-lettered, none when the hub failed (the panel sends it again).
   */
  async #answer(frame: Buffer, transport: 'tcp' | 'udp'): Promise<Buffer | undefined> {
    const { now, panelOf, topics, onMessage } = this.#options;
    const read = readDc09Frame(frame);
    if (!read.ok) {
      await this.#refuse(transport, null, 'malformed', [read.problem], frame.length);
      return this.#answered('nak', dc09Nak(now()));
    }
    const header = read.value;
    const shape = headerShape(header);
    if (!(dc09Tokens as readonly string[]).includes(header.token)) {
      await this.#refuse(
        transport,
        null,
        'malformed',
        ['a message token this receiver does not serve'],
        frame.length,
        shape,
      );
      return this.#answered('duh', dc09Duh(header, header.account));
    }
    const account = header.account ?? (header.encrypted ? undefined : plainDataAccount(header.rest));
    const panel = account === undefined ? undefined : panelOf(account);
    if (panel === undefined) {
      const problem = account === undefined ? 'the message names no account' : 'no panel has this account';
      await this.#refuse(transport, null, 'unknown_device', [problem], frame.length, shape);
      return this.#answered('duh', dc09Duh(header, account));
    }
    const refuseRead = async (reason: RefusalReason, problem: string) => {
      await this.#refuse(transport, panel.deviceId, reason, [problem], frame.length, shape);
      return this.#answered('nak', dc09Nak(now()));
    };
    if (panel.key !== undefined && !header.encrypted) {
      return refuseRead(
        'unauthenticated',
        'in the clear, and the account has a key: its messages must be encrypted',
      );
    }
    const content = readDc09Content(header, panel.key);
    if (!content.ok) return refuseRead(header.encrypted ? 'unauthenticated' : 'malformed', content.problem);
    const { timestamp } = content.value;
    if (header.encrypted && timestamp === undefined) {
      return refuseRead('malformed', 'an encrypted message must carry its timestamp');
    }
    if (timestamp !== undefined) {
      const { aheadSeconds, behindSeconds } = this.#options.settings.timestampWindow;
      const skewMs = timestamp - now();
      if (skewMs > aheadSeconds * 1000 || -skewMs > behindSeconds * 1000) {
        const side =
          skewMs > 0 ? `ahead by more than ${aheadSeconds}` : `behind by more than ${behindSeconds}`;
        return refuseRead('stale', `the timestamp is ${side} seconds of the receiver's clock`);
      }
    }
    const channel = header.token === 'NULL' ? 'heartbeat' : 'events';
    const payload = Buffer.from(JSON.stringify(this.#frameOf(panel.deviceId, header, content.value)));
    try {
      await onMessage(topics.deviceTopic(panel.deviceId, channel), payload, performance.now());
    } catch (error) {
      this.#metrics.answers.labels('none').inc();
      const suppressed = this.#logThrottle.admit(`fail:${panel.deviceId}`);
      if (suppressed >= 0) {
        this.#log.error(
          { deviceId: panel.deviceId, error: (error as Error).message, suppressed },
          'SIA DC-09 message not committed: left unanswered, for the panel to send again',
        );
      }
      return undefined;
    }
    return this.#answered('ack', dc09Ack(header, content.value.account, panel.key, now()));
  }

  /**
   * The frame the adapter reads. `time` (with `seq`, the key of its events) is the message's timestamp, or the
   * receiver's clock for one without. A retransmission (the same account, sequence number and content within two
   * minutes) takes its first sighting's time, so its events carry the same key and raise nothing twice, whatever
   * timestamp the panel put on it again; a different message under a sequence number used within those two minutes
   * (a panel that restarted its count) and no later second is moved on a millisecond past it, so it is not taken
   * for it.
   */
  #frameOf(deviceId: string, header: Dc09Header, content: Dc09Content): Record<string, unknown> {
    const at = this.#options.now();
    let time = new Date(content.timestamp ?? at).toISOString();
    if (header.token !== 'NULL') {
      const slot = `${deviceId}\u0000${header.seq}`;
      const said = `${header.token}\u0000${content.data}\u0000${content.extended.join('\u0000')}`;
      const seen = this.#sightings.get(slot);
      if (seen !== undefined && seen.said === said && at - seen.at <= retransmitWindowMs) {
        time = seen.time;
      } else {
        // Times under one sequence number only move on while it is reused: no key is taken twice.
        if (
          seen !== undefined &&
          at - seen.at <= retransmitWindowMs &&
          Date.parse(time) <= Date.parse(seen.time)
        ) {
          time = new Date(Date.parse(seen.time) + 1).toISOString();
        }
        this.#sightings.delete(slot);
        if (this.#sightings.size >= rememberedSightings) {
          const oldest = this.#sightings.keys().next().value;
          if (oldest !== undefined) this.#sightings.delete(oldest);
        }
        this.#sightings.set(slot, { said, time, at });
      }
    }
    return {
      seq: Number(header.seq),
      time,
      protocol: header.token,
      encrypted: header.encrypted,
      account: content.account,
      ...(header.receiver === undefined ? {} : { receiver: header.receiver }),
      line: header.line,
      data: content.data,
      extended: content.extended,
      ...(content.timestamp === undefined ? {} : { panelTime: new Date(content.timestamp).toISOString() }),
    };
  }

  #answered(answer: SiaAnswer, bytes: Buffer): Buffer {
    this.#metrics.answers.labels(answer).inc();
    return bytes;
  }

  #refuse(
    transport: 'tcp' | 'udp',
    deviceId: string | null,
    reason: RefusalReason,
    problems: readonly string[],
    payloadBytes: number,
    shape?: unknown,
  ): Promise<void> {
    const refusal: ConnectorRefusal = {
      source: `sia-dc09/${transport}`,
      deviceId,
      reason,
      problems,
      payloadBytes,
      ...(shape === undefined ? {} : { shape }),
    };
    // A store that fails to keep a dead letter must not leave the panel unanswered: it hears NAK or DUH anyway.
    return this.#options.refuse(refusal).catch((error: unknown) => {
      this.#log.error({ error: (error as Error).message }, 'SIA DC-09 refusal not stored');
    });
  }
}

/**
 * Finds the panel an account names among the devices (the registry's, which the API may change at any time): a
 * disabled device is no panel. A linear look-up: alarm panels report seldom, and the rate per address bounds it.
 */
export function siaPanelFinder(
  devices: () => Iterable<{
    readonly id: string;
    readonly disabled?: boolean;
    readonly sia?: { readonly account: string; readonly key?: string; readonly keyEncoding?: 'hex' | 'text' };
  }>,
): (account: string) => SiaPanel | undefined {
  return (account) => {
    for (const device of devices()) {
      const sia = device.sia;
      if (sia === undefined || sia.account !== account || device.disabled === true) continue;
      if (sia.key === undefined) return { deviceId: device.id };
      const key = Buffer.from(sia.key, sia.keyEncoding === 'text' ? 'utf8' : 'hex');
      return { deviceId: device.id, key };
    }
    return undefined;
  };
}

/** A message's structure without its values: the token (the protocol's own word) and which fields it had. */
function headerShape(header: Dc09Header): Record<string, unknown> {
  return {
    token: (dc09Tokens as readonly string[]).includes(header.token) ? header.token : 'string',
    encrypted: 'boolean',
    seq: 'string',
    ...(header.receiver === undefined ? {} : { receiver: 'string' }),
    line: 'string',
    ...(header.account === undefined ? {} : { account: 'string' }),
    rest: 'string',
  };
}

/** The account of a message in the clear whose header has none (DC-09 2007 panels): its data's `#acct|`. */
function plainDataAccount(rest: string): string | undefined {
  return /^#([0-9A-Fa-f]{3,16})\|/.exec(rest)?.[1]?.toUpperCase();
}

/** Some panels fill a datagram (or follow a message) with NULs. */
function withoutTrailingNuls(message: Buffer): Buffer {
  let end = message.length;
  while (end > 0 && message[end - 1] === 0) end--;
  return message.subarray(0, end);
}
