import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, type Socket } from 'node:net';
import { type Dc09Answer, type Dc09Message, encodeMessage, readAnswer } from './dc09-sender.ts';

/**
 * An alarm panel (a sentry-box panel, a one-key alarm pillar 一键报警柱) reporting to a central station receiver
 * over SIA DC-09, on TCP or UDP: Contact ID or SIA DCS events, in the clear or AES-encrypted, NULL supervision
 * every few seconds, each message retried until answered. Its faults are what real panels and networks do: a wrong
 * CRC, a wrong key, a clock that is off, garbage on the line, a connection dropped mid-message, bytes trickling in,
 * the same sequence number sent again.
 */
export interface AlarmPanelOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tcp' | 'udp';
  /** 3 to 16 hex digits. */
  readonly account: string;
  /** The AES key: every message is encrypted. */
  readonly key?: Buffer;
  readonly protocol?: 'ADM-CID' | 'SIA-DCS';
  /** Receiver number in hex (none when not given) and line prefix (default `0`). */
  readonly receiver?: string;
  readonly line?: string;
  /** Partition (Contact ID group, SIA DCS area); default 1. */
  readonly partition?: number;
  /** How long a message waits for its answer, and how many times it is sent again when none comes. */
  readonly answerTimeoutMs?: number;
  readonly retries?: number;
  /** The panel's clock; Date.now when not given. */
  readonly now?: () => number;
}

/** What a Contact ID event code and a SIA DCS code say for each kind of event the panel reports. */
const codes = {
  burglary: { cid: 130, dcs: ['BA', 'BR'] },
  panic: { cid: 120, dcs: ['PA', 'PR'] },
  duress: { cid: 121, dcs: ['HA', 'HR'] },
  fire: { cid: 110, dcs: ['FA', 'FR'] },
  medical: { cid: 100, dcs: ['MA', 'MR'] },
  tamper: { cid: 137, dcs: ['TA', 'TR'] },
  mains: { cid: 301, dcs: ['AT', 'AR'] },
  battery: { cid: 302, dcs: ['YT', 'YR'] },
} as const;
export type AlarmKind = keyof typeof codes;

/** The result of one report: the answer the panel took (or the last one), and how many times it sent. */
export interface Report {
  readonly answer: Dc09Answer | undefined;
  readonly attempts: number;
  readonly seq: number;
  readonly bytes: Buffer;
}

export class AlarmPanelSimulator {
  readonly options: AlarmPanelOptions;
  /** Faults, set and cleared by a test or the command line. */
  readonly faults = {
    badCrc: false,
    /** Encrypt with this key instead of the panel's. */
    wrongKey: undefined as Buffer | undefined,
    /** Added to the panel's clock. */
    clockSkewMs: 0,
    /** Milliseconds between single bytes written (TCP): a slow line. */
    slowWriteMs: 0,
  };
  #seq = 0;
  #socket: Socket | undefined;
  #udp: UdpSocket | undefined;
  /** Answers read and not yet taken; the waiter of the message in flight. */
  #pending: Buffer = Buffer.alloc(0);
  #waiter: ((answer: Buffer) => void) | undefined;
  #supervision: NodeJS.Timeout | undefined;
  #last: Buffer | undefined;
  /** One message in flight at a time, as on a panel's line: each waits for the one before it to be answered. */
  #queue: Promise<unknown> = Promise.resolve();

  #host: string;
  #port: number;
  /** The supervision period while supervising; kept through goSilent() for resume(). */
  #supervisionSeconds: number | undefined;

  constructor(options: AlarmPanelOptions) {
    this.options = options;
    this.#host = options.host;
    this.#port = options.port;
  }

  /** Where the panel reports now. */
  get receiverAddress(): { readonly host: string; readonly port: number } {
    return { host: this.#host, port: this.#port };
  }

  /** Points the panel at a receiver (one that started after it was made); the next message goes there. */
  reportTo(host: string, port: number): void {
    this.#host = host;
    this.#port = port;
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  /** The panel goes quiet: no supervision until resume() (a cut line, a panel powered down). */
  goSilent(): void {
    const seconds = this.#supervisionSeconds;
    this.stopSupervision();
    this.#supervisionSeconds = seconds;
  }

  /** Supervision again, at once and then at its period. */
  resume(): void {
    const seconds = this.#supervisionSeconds;
    if (seconds === undefined) return;
    void this.supervise().catch(() => undefined);
    this.startSupervision(seconds);
  }

  get protocol(): 'ADM-CID' | 'SIA-DCS' {
    return this.options.protocol ?? 'ADM-CID';
  }

  /** The bytes of the last message sent. */
  get lastMessage(): Buffer | undefined {
    return this.#last;
  }

  /** A zone (or the panel, zone 0) goes into alarm. */
  alarm(zone: number, kind: AlarmKind = 'burglary'): Promise<Report> {
    return this.#event(kind, false, zone);
  }

  /** The zone's alarm is restored (Contact ID qualifier 3; SIA DCS the restoral code). */
  restore(zone: number, kind: AlarmKind = 'burglary'): Promise<Report> {
    return this.#event(kind, true, zone);
  }

  /** Disarmed by a user (Contact ID 401 qualifier 1; SIA DCS OP). */
  open(user = 1): Promise<Report> {
    return this.#report(this.protocol === 'ADM-CID' ? this.#cid(1, 401, user) : this.#dcs('OP', user));
  }

  /** Armed by a user (Contact ID 401 qualifier 3; SIA DCS CL). */
  close(user = 1): Promise<Report> {
    return this.#report(this.protocol === 'ADM-CID' ? this.#cid(3, 401, user) : this.#dcs('CL', user));
  }

  /** The periodic test report (Contact ID 602; SIA DCS RP). */
  testReport(): Promise<Report> {
    return this.#report(this.protocol === 'ADM-CID' ? this.#cid(1, 602, 0) : this.#dcs('RP', 0));
  }

  /** A NULL supervision message: the link is alive. */
  supervise(): Promise<Report> {
    return this.send({ token: 'NULL', data: '', seq: 0 });
  }

  /** NULL supervision every `seconds`, until stop(). */
  startSupervision(seconds: number): void {
    this.stopSupervision();
    this.#supervisionSeconds = seconds;
    this.#supervision = setInterval(() => void this.supervise().catch(() => undefined), seconds * 1000);
  }

  stopSupervision(): void {
    if (this.#supervision !== undefined) clearInterval(this.#supervision);
    this.#supervision = undefined;
    this.#supervisionSeconds = undefined;
  }

  /** The message of the next sequence number, encoded as the panel would send it now. */
  encode(message: Partial<Dc09Message> & Pick<Dc09Message, 'token' | 'data'>): Buffer {
    const now = (this.options.now ?? Date.now)() + this.faults.clockSkewMs;
    return encodeMessage(
      {
        seq: message.seq ?? this.#nextSeq(),
        account: this.options.account,
        line: this.options.line ?? '0',
        ...(this.options.receiver === undefined ? {} : { receiver: this.options.receiver }),
        time: now,
        ...message,
      },
      {
        ...((this.faults.wrongKey ?? this.options.key)
          ? { key: this.faults.wrongKey ?? this.options.key }
          : {}),
        badCrc: this.faults.badCrc,
      },
    );
  }

  /** Sends a message (any token, any data) and waits for its answer, sending it again as a panel does. */
  send(message: Partial<Dc09Message> & Pick<Dc09Message, 'token' | 'data'>): Promise<Report> {
    return this.#report(this.encode(message));
  }

  /** Sends the last message again, byte for byte: same sequence number, same timestamp. */
  retransmit(): Promise<Report> {
    if (this.#last === undefined) throw new Error('nothing sent yet');
    return this.#report(this.#last);
  }

  /** Bytes that are no message; resolves with whatever came back within the answer timeout. */
  garbage(bytes: Buffer | string = 'GARBAGE\r\n not a DC-09 message'): Promise<Buffer | undefined> {
    return this.#inTurn(() => this.#exchange(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1')));
  }

  /** Writes the first half of a message and drops the TCP connection. */
  dropMidMessage(): Promise<void> {
    return this.#inTurn(() => this.#dropNow());
  }

  async #dropNow(): Promise<void> {
    const bytes = this.encode({
      token: this.protocol,
      data: this.protocol === 'ADM-CID' ? '1130 01 001' : 'Nri1/BA001',
    });
    const socket = await this.#tcp();
    await new Promise<void>((resolve) => socket.write(bytes.subarray(0, bytes.length >> 1), () => resolve()));
    socket.destroy();
    this.#socket = undefined;
  }

  /** Closes the connection (TCP) or the socket (UDP) and stops supervising. */
  async stop(): Promise<void> {
    this.stopSupervision();
    this.#socket?.destroy();
    this.#socket = undefined;
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp !== undefined) await new Promise<void>((resolve) => udp.close(() => resolve()));
  }

  #nextSeq(): number {
    this.#seq = (this.#seq % 9999) + 1;
    return this.#seq;
  }

  #event(kind: AlarmKind, restoral: boolean, zone: number): Promise<Report> {
    const code = codes[kind];
    if (this.protocol === 'ADM-CID') return this.#report(this.#cid(restoral ? 3 : 1, code.cid, zone));
    return this.#report(this.#dcs(code.dcs[restoral ? 1 : 0], zone));
  }

  #cid(qualifier: 1 | 3, code: number, zoneOrUser: number): Buffer {
    const partition = String(this.options.partition ?? 1).padStart(2, '0');
    const zone = String(zoneOrUser).padStart(3, '0');
    return this.encode({ token: 'ADM-CID', data: `${qualifier}${code} ${partition} ${zone}` });
  }

  #dcs(code: string, address: number): Buffer {
    const area = this.options.partition ?? 1;
    return this.encode({ token: 'SIA-DCS', data: `Nri${area}/${code}${String(address).padStart(3, '0')}` });
  }

  /** Runs after everything queued before it, whatever became of that. */
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.#queue.then(work, work);
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  /** Sends until answered (or out of retries), as a panel does; a NAK or DUH is an answer too. */
  #report(bytes: Buffer): Promise<Report> {
    return this.#inTurn(() => this.#reportNow(bytes));
  }

  async #reportNow(bytes: Buffer): Promise<Report> {
    this.#last = bytes;
    const attempts = 1 + (this.options.retries ?? 2);
    const seq = Number(bytes.toString('latin1').match(/"(\d{4})/)?.[1] ?? 0);
    let answer: Dc09Answer | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const raw = await this.#exchange(bytes);
      if (raw !== undefined) {
        answer = readAnswer(raw, this.options.key);
        return { answer, attempts: attempt, seq, bytes };
      }
    }
    return { answer, attempts, seq, bytes };
  }

  /** Writes the bytes and waits for one answer (LF … CR), or undefined after the timeout. */
  async #exchange(bytes: Buffer): Promise<Buffer | undefined> {
    const timeoutMs = this.options.answerTimeoutMs ?? 3000;
    this.#pending = Buffer.alloc(0);
    const answered = new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (answer) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(answer);
      };
    });
    try {
      if (this.options.transport === 'udp') {
        const udp = await this.#udpSocket();
        udp.send(bytes, this.#port, this.#host);
      } else {
        const socket = await this.#tcp();
        if (this.faults.slowWriteMs > 0) {
          for (const byte of bytes) {
            socket.write(Buffer.from([byte]));
            await new Promise((resolve) => setTimeout(resolve, this.faults.slowWriteMs));
          }
        } else {
          socket.write(bytes);
        }
      }
    } catch {
      this.#waiter?.(Buffer.alloc(0));
      return undefined;
    }
    const answer = await answered;
    return answer === undefined || answer.length === 0 ? undefined : answer;
  }

  #heard(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    const end = this.#pending.indexOf(0x0d);
    if (end === -1) return;
    const answer = this.#pending.subarray(0, end + 1);
    this.#pending = this.#pending.subarray(end + 1);
    this.#waiter?.(answer);
  }

  async #tcp(): Promise<Socket> {
    if (this.#socket !== undefined && !this.#socket.destroyed) return this.#socket;
    const socket = createConnection({ host: this.#host, port: this.#port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('data', (chunk: Buffer) => this.#heard(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
    });
    this.#socket = socket;
    return socket;
  }

  async #udpSocket(): Promise<UdpSocket> {
    if (this.#udp !== undefined) return this.#udp;
    const udp = createSocket(this.#host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (message: Buffer) => this.#heard(message));
    udp.on('error', () => undefined);
    // On loopback when the receiver is: a test's panel is reachable from nowhere else.
    const local = this.#host.startsWith('127.') ? '127.0.0.1' : undefined;
    await new Promise<void>((resolve) => udp.bind(0, local, resolve));
    this.#udp = udp;
    return udp;
  }
}
