import { EventEmitter } from 'node:events';
import {
  addressUri,
  header,
  newCallId,
  newTag,
  responseTo,
  SipDigestServer,
  SipNode,
  type SipPeer,
  type SipRequest,
  type SipRequestContext,
  type SipResponse,
  uriUser,
} from '../shared/sip.ts';
import {
  type Charset,
  child,
  encodeGb18030,
  type Fields,
  type Manscdp,
  type ManscdpRoot,
  manscdpContentType,
  manscdpText,
  readManscdp,
  textAt,
} from './manscdp.ts';

/**
 * A simulated GB/T 28181 superior platform (上级平台): the SIP server a lower platform (gridhub's cascade) or a
 * device registers to. It challenges REGISTER with Digest, records registrations, keepalives and alarms (answering
 * each alarm 200 and then with a Response Alarm), and can query a registered peer's Catalog (collecting the pages
 * until SumNum), DeviceInfo and DeviceStatus, subscribe to its alarms and send it controls. Written from the
 * standard alone: it imports nothing from `src/` or `devices/`.
 */

export interface GbSuperiorFaults {
  /** Answer every REGISTER 403 Forbidden. */
  refuseRegistration?: boolean;
  /** Leave keepalive MESSAGEs unanswered (the lower side's transaction times out). */
  dropKeepaliveAnswers?: boolean;
  /** Answer nothing at all. */
  silent?: boolean;
}

export interface GbSuperiorOptions {
  /** The platform's 20-digit SIP id (type 200). */
  readonly id: string;
  /** Its SIP domain / Digest realm (usually the id's first 10 digits). */
  readonly domain: string;
  /** The password every peer registers with, or one per peer id. */
  readonly password: string | Readonly<Record<string, string>>;
  readonly host?: string;
  readonly port?: number;
  readonly udp?: boolean; // default true
  readonly tcp?: boolean; // default true
  readonly charset?: Charset; // of the bodies it sends, default GB2312
  readonly timeoutMs?: number; // of its own requests, default 8000
  readonly faults?: GbSuperiorFaults;
}

export interface PeerRegistration {
  readonly at: Date;
  readonly id: string;
  readonly peer: SipPeer;
  readonly expires: number;
  /** 401 (challenged), 403 (refused or wrong password), 200. */
  readonly status: number;
}

export interface ReceivedManscdp {
  readonly at: Date;
  readonly from: string;
  readonly method: string;
  readonly message: Manscdp;
}

export interface CatalogItem {
  readonly [field: string]: string;
}

export class GbSuperior extends EventEmitter {
  readonly id: string;
  readonly domain: string;
  readonly faults: GbSuperiorFaults;
  readonly registrations: PeerRegistration[] = [];
  readonly keepalives: ReceivedManscdp[] = [];
  readonly alarms: ReceivedManscdp[] = [];
  /** Every MANSCDP body received, whatever its CmdType; unreadable ones are counted in `unreadable`. */
  readonly messages: ReceivedManscdp[] = [];
  readonly unreadable: { at: Date; from: string; problem: string }[] = [];

  readonly #options: GbSuperiorOptions;
  readonly #node: SipNode;
  readonly #digest: SipDigestServer;
  /** The registered peers by id: where to send them requests. */
  readonly #peers = new Map<string, { peer: SipPeer; expiresAt: number }>();
  #sn = 1;
  #cseq = 1;

  constructor(options: GbSuperiorOptions) {
    super();
    this.#options = options;
    this.id = options.id;
    this.domain = options.domain;
    this.faults = { ...options.faults };
    this.#digest = new SipDigestServer(options.domain);
    this.#node = new SipNode({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      udp: options.udp ?? true,
      tcp: options.tcp ?? true,
      timeoutMs: options.timeoutMs ?? 8000,
      onRequest: (request, context) => this.#onRequest(request, context),
    });
    this.#node.on('problem', (problem: string) => this.emit('problem', problem));
  }

  get port(): number {
    return this.#node.port;
  }
  get host(): string {
    return this.#node.host;
  }
  get sip(): SipNode {
    return this.#node;
  }

  start(): Promise<void> {
    return this.#node.start();
  }
  stop(): Promise<void> {
    this.#peers.clear();
    return this.#node.stop();
  }

  /** Whether a peer is registered (and not expired). */
  isRegistered(id: string): boolean {
    const entry = this.#peers.get(id);
    return entry !== undefined && entry.expiresAt > Date.now();
  }

  /** Resolves once `predicate` holds on this platform's records, checked on each event (rejects after timeoutMs). */
  waitFor(predicate: () => boolean, timeoutMs = 8000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.off('activity', check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('activity', check);
        reject(new Error(`condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('activity', check);
    });
  }

  #passwordFor(id: string): string | undefined {
    const { password } = this.#options;
    return typeof password === 'string' ? password : password[id];
  }

  #onRequest(request: SipRequest, context: SipRequestContext): void {
    if (this.faults.silent) return;
    const from = uriUser(addressUri(header(request, 'from') ?? '')) ?? '';
    if (request.method === 'REGISTER') {
      this.#onRegister(request, context, from);
      return;
    }
    if (request.method !== 'MESSAGE' && request.method !== 'NOTIFY') {
      context.respond(responseTo(request, request.method === 'OPTIONS' ? 200 : 405));
      return;
    }
    let message: Manscdp;
    try {
      message = readManscdp(request.body, header(request, 'content-type'));
    } catch (error) {
      this.unreadable.push({ at: new Date(), from, problem: (error as Error).message });
      this.emit('activity');
      context.respond(responseTo(request, 400));
      return;
    }
    const record: ReceivedManscdp = { at: new Date(), from, method: request.method, message };
    this.messages.push(record);
    if (message.cmdType === 'Keepalive') {
      this.keepalives.push(record);
      this.emit('keepalive', record);
      this.emit('activity');
      if (!this.faults.dropKeepaliveAnswers) context.respond(responseTo(request, 200));
      return;
    }
    context.respond(responseTo(request, 200));
    if (message.root === 'Notify' && message.cmdType === 'Alarm') {
      this.alarms.push(record);
      this.emit('alarm', record);
      // The acknowledgement GB/T 28181 §9.4 asks for, in a MESSAGE of its own.
      this.#send(from, 'Response', {
        CmdType: 'Alarm',
        SN: message.sn,
        DeviceID: message.deviceId,
        Result: 'OK',
      }).catch((error: Error) => this.emit('problem', error.message));
    }
    this.emit('manscdp', record);
    this.emit('activity');
  }

  #onRegister(request: SipRequest, context: SipRequestContext, from: string): void {
    const expires = Number(header(request, 'expires') ?? 3600);
    const record = (status: number) => {
      this.registrations.push({ at: new Date(), id: from, peer: context.peer, expires, status });
      this.emit('registration', this.registrations[this.registrations.length - 1]);
      this.emit('activity');
    };
    if (this.faults.refuseRegistration) {
      context.respond(responseTo(request, 403));
      record(403);
      return;
    }
    const authorization = header(request, 'authorization');
    if (authorization === undefined) {
      context.respond(
        responseTo(request, 401, { headers: [['WWW-Authenticate', this.#digest.challenge()]] }),
      );
      record(401);
      return;
    }
    const user = this.#digest.verify(authorization, 'REGISTER', (name) => this.#passwordFor(name));
    if (user === undefined || user !== from) {
      context.respond(responseTo(request, 403));
      record(403);
      return;
    }
    if (expires === 0) this.#peers.delete(from);
    else this.#peers.set(from, { peer: context.peer, expiresAt: Date.now() + expires * 1000 });
    context.respond(
      responseTo(request, 200, {
        headers: [
          ['Expires', String(expires)],
          ['Date', new Date().toISOString().slice(0, 23)],
        ],
      }),
    );
    record(200);
  }

  #send(to: string, root: ManscdpRoot, fields: Fields, method = 'MESSAGE', extra: [string, string][] = []) {
    const entry = this.#peers.get(to);
    if (entry === undefined) return Promise.reject(new Error(`${to} is not registered`));
    const charset = this.#options.charset ?? 'GB2312';
    const text = manscdpText(root, fields, charset);
    const request: SipRequest = {
      kind: 'request',
      method,
      uri: `sip:${to}@${entry.peer.address}:${entry.peer.port}`,
      headers: [
        ['From', `<sip:${this.id}@${this.domain}>;tag=${newTag()}`],
        ['To', `<sip:${to}@${this.domain}>`],
        ['Call-ID', newCallId(this.#node.host)],
        ['CSeq', `${this.#cseq++} ${method}`],
        ['Max-Forwards', '70'],
        ['Contact', `<sip:${this.id}@${this.#node.host}:${this.#node.port}>`],
        ...extra,
        ['Content-Type', manscdpContentType],
      ],
      body: charset === 'GB2312' ? encodeGb18030(text) : Buffer.from(text, 'utf8'),
    };
    return this.#node.request(request, entry.peer);
  }

  #nextSn(): number {
    return this.#sn++;
  }

  /** Waits for the Response of this CmdType and SN from a peer (every page of a Catalog goes through here). */
  #collect(
    from: string,
    cmdType: string,
    sn: number,
    done: (pages: Manscdp[]) => boolean,
    timeoutMs: number,
  ) {
    return new Promise<Manscdp[]>((resolve, reject) => {
      const pages: Manscdp[] = [];
      const listener = (record: ReceivedManscdp) => {
        const { message } = record;
        if (
          record.from !== from ||
          message.root !== 'Response' ||
          message.cmdType !== cmdType ||
          message.sn !== sn
        )
          return;
        pages.push(message);
        if (!done(pages)) return;
        clearTimeout(timer);
        this.off('manscdp', listener);
        resolve(pages);
      };
      const timer = setTimeout(() => {
        this.off('manscdp', listener);
        reject(
          new Error(
            `no complete ${cmdType} response from ${from} within ${timeoutMs} ms (${pages.length} page(s))`,
          ),
        );
      }, timeoutMs);
      this.on('manscdp', listener);
    });
  }

  async #query(to: string, cmdType: string, done: (pages: Manscdp[]) => boolean, extra: Fields = {}) {
    const sn = this.#nextSn();
    const timeoutMs = this.#options.timeoutMs ?? 8000;
    const collected = this.#collect(to, cmdType, sn, done, timeoutMs);
    collected.catch(() => undefined); // awaited below; a refused query must not leave it unhandled
    const response = await this.#send(to, 'Query', { CmdType: cmdType, SN: sn, DeviceID: to, ...extra });
    if (response.status !== 200) throw new Error(`${cmdType} query answered ${response.status}`);
    return { sn, pages: await collected };
  }

  /** Queries a registered peer's catalog and collects every page until SumNum items have come. */
  async queryCatalog(to: string): Promise<{ sumNum: number; items: CatalogItem[]; pages: number }> {
    const count = (pages: Manscdp[]) =>
      pages.reduce((sum, page) => sum + (child(page.node, 'DeviceList')?.children.length ?? 0), 0);
    const complete = (pages: Manscdp[]) => count(pages) >= Number(textAt(pages[0]?.node, 'SumNum') ?? 0);
    const { pages } = await this.#query(to, 'Catalog', complete);
    const items = pages.flatMap((page) =>
      (child(page.node, 'DeviceList')?.children ?? []).map((item) =>
        Object.fromEntries(item.children.map((field) => [field.name, field.text.trim()])),
      ),
    );
    return { sumNum: Number(textAt(pages[0]?.node, 'SumNum') ?? 0), items, pages: pages.length };
  }

  async queryDeviceInfo(to: string): Promise<Manscdp> {
    const { pages } = await this.#query(to, 'DeviceInfo', (pages) => pages.length > 0);
    return pages[0] as Manscdp;
  }

  async queryDeviceStatus(to: string): Promise<Manscdp> {
    const { pages } = await this.#query(to, 'DeviceStatus', (pages) => pages.length > 0);
    return pages[0] as Manscdp;
  }

  /** Sends a DeviceControl (e.g. { GuardCmd: 'SetGuard' }) and resolves with the peer's Response. */
  async control(to: string, fields: Fields, target = to): Promise<Manscdp> {
    const sn = this.#nextSn();
    const collected = this.#collect(
      to,
      'DeviceControl',
      sn,
      (p) => p.length > 0,
      this.#options.timeoutMs ?? 8000,
    );
    collected.catch(() => undefined);
    const response = await this.#send(to, 'Control', {
      CmdType: 'DeviceControl',
      SN: sn,
      DeviceID: target,
      ...fields,
    });
    if (response.status !== 200) throw new Error(`DeviceControl answered ${response.status}`);
    return (await collected)[0] as Manscdp;
  }

  /** Sends a DeviceConfig (e.g. { SnapShotConfig: {...} }) and resolves with the peer's Response. */
  async config(to: string, fields: Fields, target = to): Promise<Manscdp> {
    const sn = this.#nextSn();
    const collected = this.#collect(
      to,
      'DeviceConfig',
      sn,
      (p) => p.length > 0,
      this.#options.timeoutMs ?? 8000,
    );
    collected.catch(() => undefined);
    const response = await this.#send(to, 'Control', {
      CmdType: 'DeviceConfig',
      SN: sn,
      DeviceID: target,
      ...fields,
    });
    if (response.status !== 200) throw new Error(`DeviceConfig answered ${response.status}`);
    return (await collected)[0] as Manscdp;
  }

  /** SUBSCRIBE to a peer's alarms; resolves with the SIP answer. Alarms then come as NOTIFY (recorded in alarms). */
  subscribeAlarms(to: string, expires = 3600): Promise<SipResponse> {
    return this.#send(
      to,
      'Query',
      {
        CmdType: 'Alarm',
        SN: this.#nextSn(),
        DeviceID: to,
        StartAlarmPriority: 0,
        EndAlarmPriority: 0,
        AlarmMethod: 0,
      },
      'SUBSCRIBE',
      [
        ['Event', 'presence'],
        ['Expires', String(expires)],
      ],
    );
  }
}
