import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import { encode as encodeJpeg } from 'jpeg-js';
import {
  addressUri,
  cseqOf,
  digestAuthorization,
  header,
  headerParam,
  newCallId,
  newTag,
  responseTo,
  SipNode,
  type SipPeer,
  type SipRequest,
  type SipRequestContext,
  type SipResponse,
  type SipTransport,
  uriUser,
} from '../shared/sip.ts';
import {
  type Charset,
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
 * A simulated GB/T 28181 device, an IPC or an NVR with channels, written from the standard (2016 and 2022) alone:
 * it imports nothing from `src/` or `devices/`. It registers to a SIP server with Digest, re-registers before
 * expiry, sends Keepalive, answers Catalog (paged), DeviceInfo and DeviceStatus queries, accepts an Alarm
 * SUBSCRIBE, obeys DeviceControl (guard, reset alarm, reboot) and, in the 2022 edition, SnapShotConfig (JPEGs
 * POSTed to a loopback UploadURL, then UploadSnapShotFinished). Alarms are sent on demand. Every exchange is
 * recorded in public lists and emitted as an event, for tests.
 */

export type GbEdition = '2016' | '2022';

export interface GbChannel {
  /** The channel's 20-digit id (type 131/132 camera, 134 alarm input). */
  readonly id: string;
  readonly name: string;
  readonly longitude?: number;
  readonly latitude?: number;
  readonly status?: 'ON' | 'OFF';
}

export interface GbServer {
  readonly id: string;
  readonly domain: string;
  readonly host: string;
  readonly port: number;
  readonly transport: SipTransport;
}

export interface GbDeviceFaults {
  /** Stop sending keepalives while staying registered (re-registration goes on). */
  lostKeepalives?: boolean;
  /** The next MANSCDP body sent is broken XML (then the knob clears itself). */
  malformedXml?: boolean;
  /** Register with this password instead of the right one. */
  wrongPassword?: string;
  /** The device's clock is off by this many seconds (AlarmTime, DeviceTime, snapshot times). */
  clockSkewSeconds?: number;
  /** Declare GB2312 but send UTF-8 bytes (firmware that lies about its charset). */
  lyingCharset?: boolean;
}

export interface GbDeviceOptions {
  readonly server: GbServer;
  /** The device's own 20-digit id (type 132 for an IPC, 118 for an NVR). */
  readonly id: string;
  readonly password: string;
  readonly kind?: 'ipc' | 'nvr';
  /** Camera channels: a count (named 通道N and given ids) or the channels themselves. Default: 1 for an IPC, 4 for an NVR. */
  readonly channels?: number | readonly GbChannel[];
  /** Alarm-input channels (type 134), a count or the channels. Default none. */
  readonly alarmInputs?: number | readonly GbChannel[];
  readonly name?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly firmware?: string;
  readonly edition?: GbEdition;
  readonly charset?: Charset;
  /** REGISTER Expires (default 3600); the device re-registers at 80 % of the granted time. */
  readonly expiresSeconds?: number;
  /** Keepalive period (default 60; 0: none). */
  readonly keepaliveSeconds?: number;
  /** Catalog items per Response message (default 2). */
  readonly catalogPageSize?: number;
  /** The local SIP address (default 127.0.0.1) and port (default 0). */
  readonly host?: string;
  readonly port?: number;
  /** How long a request waits for its answer (default 8000 ms). */
  readonly timeoutMs?: number;
  readonly faults?: GbDeviceFaults;
}

export interface AlarmOptions {
  /** The channel (or the device itself) raising the alarm; default the first camera channel. */
  readonly deviceId?: string;
  readonly priority?: 1 | 2 | 3 | 4;
  /** 1 telephone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other (2022 adds more). */
  readonly method?: number;
  /** Info/AlarmType, per method: e.g. method 5 (video) → 2 motion, 6 intrusion; method 2 (device) → 1 video lost, 2 tamper. */
  readonly type?: number;
  readonly description?: string;
  readonly longitude?: number;
  readonly latitude?: number;
  /** 2022: Info/AlarmTypeParam/EventType (e.g. for intrusion: 1 in, 2 out). */
  readonly eventType?: number;
  /** Send as MESSAGE (default without a subscription) or NOTIFY in the Alarm subscription's dialog. */
  readonly via?: 'message' | 'notify';
}

export interface RegistrationRecord {
  readonly at: Date;
  readonly status: number;
  readonly expires: number;
}
export interface ChallengeRecord {
  readonly at: Date;
  readonly header: string;
}
export interface ReceivedRecord {
  readonly at: Date;
  readonly method: string;
  readonly root: string;
  readonly cmdType: string;
  readonly sn: number;
  readonly message: Manscdp;
}
export interface SentRecord {
  readonly at: Date;
  readonly cmdType: string;
  readonly sn: number;
  readonly status: number | 'timeout';
}
export interface AlarmAckRecord {
  readonly at: Date;
  readonly sn: number;
  /** The platform's SIP answer to the alarm MESSAGE/NOTIFY. */
  readonly status: number;
  /** The platform's Response Alarm Result, when it came. */
  readonly result?: string;
}
export interface SnapshotUpload {
  readonly sessionId: string;
  readonly files: readonly string[];
  readonly statuses: readonly number[];
}

interface Subscription {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly remoteUri: string;
  readonly peer: SipPeer;
  readonly expiresAt: number;
  cseq: number;
}

const cameraType = { ipc: '132', nvr: '131' } as const;

/** A channel id: the device's centre and industry (first 10 digits), the type, then a serial. */
function channelId(deviceId: string, type: string, serial: number): string {
  return `${deviceId.slice(0, 10)}${type}${deviceId.slice(13, 14)}${String(serial).padStart(6, '0')}`;
}

const defaultNames = [
  '东门',
  '南门',
  '西门',
  '北门',
  '停车场',
  '一号楼',
  '二号楼',
  '三号楼',
  '广场',
  '幼儿园',
];

/** ISO local time without an offset, the way GB/T 28181 writes it (2016-…T…, no zone). */
function gbTime(date: Date): string {
  // The device's wall clock is kept in a Date's UTC fields (see #now).
  return date.toISOString().slice(0, 19);
}

export class GbDevice extends EventEmitter {
  readonly id: string;
  readonly channels: readonly GbChannel[];
  readonly alarmInputs: readonly GbChannel[];
  /** Fault knobs: change them at any time. */
  readonly faults: GbDeviceFaults;
  readonly registrations: RegistrationRecord[] = [];
  readonly challenges: ChallengeRecord[] = [];
  /** Requests from the platform (queries, controls, configs, subscriptions). */
  readonly received: ReceivedRecord[] = [];
  readonly keepalives: SentRecord[] = [];
  readonly alarmAcks: AlarmAckRecord[] = [];
  readonly snapshots: SnapshotUpload[] = [];
  /** Guard state per DeviceControl GuardCmd. */
  guard: 'SetGuard' | 'ResetGuard' = 'ResetGuard';
  reboots = 0;
  /** DeviceControl AlarmCmd ResetAlarm received. */
  alarmResets = 0;

  readonly #options: GbDeviceOptions;
  readonly #node: SipNode;
  readonly #server: SipPeer;
  readonly #registerCallId: string;
  readonly #fromTag = newTag();
  #cseq = 1;
  #sn = 1;
  /** The device's wall clock less the machine's UTC clock: set from the platform's Date on registering. */
  #wallClockOffsetMs = new Date().getTimezoneOffset() * -60_000;
  #registered = false;
  #running = false;
  #reRegisterTimer: NodeJS.Timeout | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #subscription: Subscription | undefined;

  constructor(options: GbDeviceOptions) {
    super();
    this.#options = options;
    this.id = options.id;
    this.faults = { ...options.faults };
    const kind = options.kind ?? 'ipc';
    const made = (count: number, type: string, label: (n: number) => string): GbChannel[] =>
      Array.from({ length: count }, (_, index) => ({
        id: channelId(options.id, type, index + 1),
        name: label(index),
        longitude: Number((116.397 + index * 0.001).toFixed(6)),
        latitude: Number((39.909 + index * 0.001).toFixed(6)),
      }));
    const cameras = options.channels ?? (kind === 'nvr' ? 4 : 1);
    this.channels =
      typeof cameras === 'number'
        ? made(cameras, cameraType[kind], (i) => `通道${i + 1} ${defaultNames[i % defaultNames.length]}`)
        : cameras;
    const inputs = options.alarmInputs ?? 0;
    this.alarmInputs = typeof inputs === 'number' ? made(inputs, '134', (i) => `报警输入${i + 1}`) : inputs;
    this.#server = {
      transport: options.server.transport,
      address: options.server.host,
      port: options.server.port,
    };
    this.#node = new SipNode({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      udp: options.server.transport === 'udp',
      tcp: false,
      timeoutMs: options.timeoutMs ?? 8000,
      onRequest: (request, context) => this.#onRequest(request, context),
    });
    this.#node.on('problem', (problem: string) => this.emit('problem', problem));
    this.#registerCallId = newCallId(this.#node.host);
  }

  get registered(): boolean {
    return this.#registered;
  }
  /** The local SIP port (UDP), 0 before start. */
  get port(): number {
    return this.#node.port;
  }
  /** The SIP node, for tests that watch the wire ('message' events). */
  get sip(): SipNode {
    return this.#node;
  }

  /** Binds, registers (rejects when refused, having undone everything) and starts keepalives. */
  async start(): Promise<void> {
    await this.#node.start();
    try {
      await this.#node.connect(this.#server);
      const status = await this.register();
      if (status !== 200) throw new Error(`registration refused: ${status}`);
    } catch (error) {
      await this.#halt();
      throw error;
    }
    this.#running = true;
    this.#scheduleKeepalive();
  }

  /** Unregisters (Expires 0, best effort) and closes everything. */
  async stop(): Promise<void> {
    // Unregistering is a courtesy: a platform gone quiet must not hold stop() for a whole transaction timeout.
    if (this.#registered) await this.register(0, 2000).catch(() => undefined);
    await this.#halt();
  }

  async #halt(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#reRegisterTimer);
    clearTimeout(this.#keepaliveTimer);
    this.#registered = false;
    this.#subscription = undefined;
    await this.#node.stop();
  }

  /** Registers now (a re-registration when registered), answering a 401 challenge. Resolves with the final status. */
  async register(expires = this.#options.expiresSeconds ?? 3600, timeoutMs?: number): Promise<number> {
    const wait = timeoutMs === undefined ? {} : { timeoutMs };
    const { server } = this.#options;
    const uri = `sip:${server.id}@${server.domain}`;
    const build = (authorization?: string): SipRequest => ({
      kind: 'request',
      method: 'REGISTER',
      uri,
      headers: [
        ['From', `<sip:${this.id}@${server.domain}>;tag=${this.#fromTag}`],
        ['To', `<sip:${this.id}@${server.domain}>`],
        ['Call-ID', this.#registerCallId],
        ['CSeq', `${this.#cseq++} REGISTER`],
        ['Contact', `<sip:${this.id}@${this.#node.host}:${this.#node.localPortFor(this.#server)}>`],
        ['Max-Forwards', '70'],
        ['User-Agent', 'gridhub-gb28181-sim'],
        ['Expires', String(expires)],
        // The 2022 edition names itself in every request (X-GB-Ver: 3.0); 2016 devices mostly send 2.0 or nothing.
        ['X-GB-Ver', this.#edition === '2022' ? '3.0' : '2.0'],
        ...(authorization === undefined ? [] : [['Authorization', authorization] as [string, string]]),
      ],
      body: Buffer.alloc(0),
    });
    let response = await this.#node.request(build(), this.#server, wait);
    const challenge = header(response, 'www-authenticate');
    if (response.status === 401 && challenge !== undefined) {
      this.challenges.push({ at: new Date(), header: challenge });
      this.emit('challenge', challenge);
      const password = this.faults.wrongPassword ?? this.#options.password;
      const authorization = digestAuthorization(
        challenge,
        { method: 'REGISTER', uri },
        { username: this.id, password },
      );
      if (authorization !== undefined)
        response = await this.#node.request(build(authorization), this.#server, wait);
    }
    const granted = Number(header(response, 'expires') ?? expires);
    if (response.status === 200) this.#setClock(header(response, 'date'));
    this.registrations.push({ at: new Date(), status: response.status, expires: granted });
    this.emit('registration', { status: response.status, expires: granted });
    clearTimeout(this.#reRegisterTimer);
    this.#registered = response.status === 200 && expires > 0;
    if (this.#registered && granted > 0)
      this.#reRegisterTimer = setTimeout(
        () => this.register().catch((error: Error) => this.emit('problem', error.message)),
        Math.max(1000, granted * 800),
      );
    return response.status;
  }

  /** A re-registration now (the fault knob "re-register"). */
  reRegister(): Promise<number> {
    return this.register();
  }

  /** Sends one Keepalive now; resolves with the platform's status (or 'timeout'). */
  async keepalive(): Promise<number | 'timeout'> {
    const sn = this.#nextSn();
    const faults = this.channels.filter((channel) => channel.status === 'OFF');
    const status = await this.#sendManscdp('Notify', {
      CmdType: 'Keepalive',
      SN: sn,
      DeviceID: this.id,
      Status: 'OK',
      ...(faults.length > 0 ? { Info: { items: faults.map((c) => c.id), itemName: 'DeviceID' } } : {}),
    })
      .then((response) => response.status)
      .catch(() => 'timeout' as const);
    const record = { at: new Date(), cmdType: 'Keepalive', sn, status };
    this.keepalives.push(record);
    this.emit('keepalive', record);
    return status;
  }

  #scheduleKeepalive(): void {
    const seconds = this.#options.keepaliveSeconds ?? 60;
    if (seconds <= 0) return;
    this.#keepaliveTimer = setTimeout(() => {
      const send = this.#registered && !this.faults.lostKeepalives ? this.keepalive() : Promise.resolve();
      void send.finally(() => {
        if (this.#running) this.#scheduleKeepalive();
      });
    }, seconds * 1000);
  }

  /** Sends an alarm (Notify Alarm) and resolves with its SN and the platform's SIP status. */
  async alarm(options: AlarmOptions = {}): Promise<{ sn: number; status: number }> {
    const sn = this.#nextSn();
    const raiser = options.deviceId ?? this.channels[0]?.id ?? this.id;
    const channel = [...this.channels, ...this.alarmInputs].find((c) => c.id === raiser);
    const method = options.method ?? 5;
    const longitude = options.longitude ?? channel?.longitude;
    const latitude = options.latitude ?? channel?.latitude;
    const info: Fields | undefined =
      options.type === undefined
        ? undefined
        : {
            AlarmType: options.type,
            ...(options.eventType !== undefined && this.#edition === '2022'
              ? { AlarmTypeParam: { EventType: options.eventType } }
              : {}),
          };
    const fields: Fields = {
      CmdType: 'Alarm',
      SN: sn,
      DeviceID: raiser,
      AlarmPriority: options.priority ?? 1,
      AlarmMethod: method,
      AlarmTime: gbTime(this.#now()),
      AlarmDescription: options.description ?? `${channel?.name ?? '设备'}报警`,
      ...(longitude !== undefined ? { Longitude: longitude } : {}),
      ...(latitude !== undefined ? { Latitude: latitude } : {}),
      ...(info !== undefined ? { Info: info } : {}),
    };
    const via = options.via ?? (this.#subscription ? 'notify' : 'message');
    const response =
      via === 'notify' && this.#subscription
        ? await this.#notify(this.#subscription, fields)
        : await this.#sendManscdp('Notify', fields);
    const record: AlarmAckRecord = { at: new Date(), sn, status: response.status };
    this.alarmAcks.push(record);
    this.emit('alarmAnswer', record);
    return { sn, status: response.status };
  }

  /** Resolves when the platform's Response Alarm for this SN has come (or rejects after timeoutMs). */
  ackFor(sn: number, timeoutMs = 5000): Promise<AlarmAckRecord> {
    const found = () => this.alarmAcks.find((ack) => ack.sn === sn && ack.result !== undefined);
    const already = found();
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('alarmAck', listener);
        reject(new Error(`no Response Alarm for SN ${sn} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = () => {
        const ack = found();
        if (!ack) return;
        clearTimeout(timer);
        this.off('alarmAck', listener);
        resolve(ack);
      };
      this.on('alarmAck', listener);
    });
  }

  get #edition(): GbEdition {
    return this.#options.edition ?? '2016';
  }

  /**
   * Sets the device's wall clock from the platform's Date (GB/T 28181 §9.1.2: `2026-12-07T21:30:00.000`, the
   * platform's local time, no zone), as real devices do on registering: the device then writes its times in the
   * platform's zone. A Date it cannot read leaves the clock as it was.
   */
  #setClock(date: string | undefined): void {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(
      date?.trim() ?? '',
    );
    if (match === null) return;
    const [, y, mo, d, h, mi, sec, ms] = match.map(Number) as number[];
    this.#wallClockOffsetMs = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, sec, ms || 0) - Date.now();
  }

  /** The device's wall clock (its fields read as UTC's): the platform's time once registered, with the skew knob. */
  #now(): Date {
    return new Date(Date.now() + this.#wallClockOffsetMs + (this.faults.clockSkewSeconds ?? 0) * 1000);
  }

  #nextSn(): number {
    const sn = this.#sn;
    this.#sn = (this.#sn % 2_147_483_647) + 1;
    return sn;
  }

  /** A MANSCDP body as bytes, with the charset and malformed-XML knobs applied. */
  #body(root: ManscdpRoot, fields: Fields): Buffer {
    const charset = this.#options.charset ?? 'GB2312';
    const lying = this.faults.lyingCharset === true;
    let text = manscdpText(root, fields, lying ? 'GB2312' : charset);
    if (this.faults.malformedXml) {
      this.faults.malformedXml = false;
      text = text.replace(`</${root}>`, `<${root}`); // the root never closed, a tag left open
    }
    return charset === 'GB2312' && !lying ? encodeGb18030(text) : Buffer.from(text, 'utf8');
  }

  #sendManscdp(root: ManscdpRoot, fields: Fields): Promise<SipResponse> {
    const { server } = this.#options;
    return this.#node.request(
      {
        kind: 'request',
        method: 'MESSAGE',
        uri: `sip:${server.id}@${server.domain}`,
        headers: [
          ['From', `<sip:${this.id}@${server.domain}>;tag=${newTag()}`],
          ['To', `<sip:${server.id}@${server.domain}>`],
          ['Call-ID', newCallId(this.#node.host)],
          ['CSeq', `${this.#cseq++} MESSAGE`],
          ['Max-Forwards', '70'],
          ['User-Agent', 'gridhub-gb28181-sim'],
          ['Content-Type', manscdpContentType],
        ],
        body: this.#body(root, fields),
      },
      this.#server,
    );
  }

  #notify(subscription: Subscription, fields: Fields): Promise<SipResponse> {
    const { server } = this.#options;
    const remaining = Math.max(0, Math.round((subscription.expiresAt - Date.now()) / 1000));
    return this.#node.request(
      {
        kind: 'request',
        method: 'NOTIFY',
        uri: subscription.remoteUri,
        headers: [
          ['From', `<sip:${this.id}@${server.domain}>;tag=${subscription.localTag}`],
          ['To', `<${subscription.remoteUri}>;tag=${subscription.remoteTag}`],
          ['Call-ID', subscription.callId],
          ['CSeq', `${++subscription.cseq} NOTIFY`],
          ['Max-Forwards', '70'],
          ['Event', 'presence'],
          ['Subscription-State', `active;expires=${remaining}`],
          ['Content-Type', manscdpContentType],
        ],
        body: this.#body('Notify', fields),
      },
      subscription.peer,
    );
  }

  #onRequest(request: SipRequest, context: SipRequestContext): void {
    if (!['MESSAGE', 'SUBSCRIBE'].includes(request.method)) {
      context.respond(responseTo(request, request.method === 'OPTIONS' ? 200 : 405));
      return;
    }
    let message: Manscdp;
    try {
      message = readManscdp(request.body, header(request, 'content-type'));
    } catch {
      context.respond(responseTo(request, 400));
      return;
    }
    const record: ReceivedRecord = {
      at: new Date(),
      method: request.method,
      root: message.root,
      cmdType: message.cmdType,
      sn: message.sn,
      message,
    };
    this.received.push(record);
    this.emit('request', record);
    if (request.method === 'SUBSCRIBE') {
      this.#onSubscribe(request, message, context);
      return;
    }
    if (message.root === 'Response' && message.cmdType === 'Alarm') {
      context.respond(responseTo(request, 200));
      const result = textAt(message.node, 'Result') ?? '';
      const index = this.alarmAcks.findLastIndex((ack) => ack.sn === message.sn && ack.result === undefined);
      const answered = index >= 0 ? this.alarmAcks[index] : undefined;
      const ack: AlarmAckRecord = { at: new Date(), sn: message.sn, status: answered?.status ?? 0, result };
      if (index >= 0) this.alarmAcks[index] = ack;
      else this.alarmAcks.push(ack);
      this.emit('alarmAck', ack);
      return;
    }
    const handler = this.#handlers[`${message.root}/${message.cmdType}`];
    if (handler === undefined) {
      context.respond(responseTo(request, message.root === 'Response' ? 200 : 400));
      return;
    }
    context.respond(responseTo(request, 200));
    // The answer is a separate MESSAGE after the 200, as GB/T 28181 §9 has it.
    handler(message).catch((error: Error) => this.emit('problem', error.message));
  }

  readonly #handlers: Readonly<Record<string, (message: Manscdp) => Promise<unknown>>> = {
    'Query/Catalog': (message) => this.#answerCatalog(message),
    'Query/DeviceInfo': (message) =>
      this.#sendManscdp('Response', {
        CmdType: 'DeviceInfo',
        SN: message.sn,
        DeviceID: this.id,
        DeviceName: this.#options.name ?? (this.#options.kind === 'nvr' ? '模拟录像机' : '模拟摄像机'),
        Result: 'OK',
        Manufacturer: this.#options.manufacturer ?? 'gridhub',
        Model: this.#options.model ?? (this.#options.kind === 'nvr' ? 'SIM-NVR' : 'SIM-IPC'),
        Firmware: this.#options.firmware ?? 'V1.0.0',
        Channel: this.channels.length + this.alarmInputs.length,
      }),
    'Query/DeviceStatus': (message) =>
      this.#sendManscdp('Response', {
        CmdType: 'DeviceStatus',
        SN: message.sn,
        DeviceID: this.id,
        Result: 'OK',
        Online: 'ONLINE',
        Status: 'OK',
        Encode: 'ON',
        Record: 'OFF',
        DeviceTime: gbTime(this.#now()),
        Alarmstatus: {
          items: this.alarmInputs.map((input) => ({
            DeviceID: input.id,
            DutyStatus: this.guard === 'SetGuard' ? 'ONDUTY' : 'OFFDUTY',
          })),
        },
      }),
    'Control/DeviceControl': (message) => this.#control(message),
    'Control/DeviceConfig': (message) => this.#config(message),
  };

  async #answerCatalog(message: Manscdp): Promise<void> {
    const items = [...this.channels, ...this.alarmInputs].map((channel) => ({
      DeviceID: channel.id,
      Name: channel.name,
      Manufacturer: this.#options.manufacturer ?? 'gridhub',
      Model: channel.id.slice(10, 13) === '134' ? 'ALARM-IN' : 'SIM-CAM',
      Owner: 'Owner',
      CivilCode: this.id.slice(0, 6),
      Address: channel.name,
      Parental: 0,
      ParentID: this.id,
      SafetyWay: 0,
      RegisterWay: 1,
      Secrecy: 0,
      Status: channel.status ?? 'ON',
      ...(channel.longitude !== undefined ? { Longitude: channel.longitude } : {}),
      ...(channel.latitude !== undefined ? { Latitude: channel.latitude } : {}),
    }));
    const size = Math.max(1, this.#options.catalogPageSize ?? 2);
    const pages: Fields[][] = items.length === 0 ? [[]] : [];
    for (let at = 0; at < items.length; at += size) pages.push(items.slice(at, at + size));
    for (const page of pages)
      await this.#sendManscdp('Response', {
        CmdType: 'Catalog',
        SN: message.sn,
        DeviceID: this.id,
        SumNum: items.length,
        DeviceList: { items: page },
      });
  }

  async #control(message: Manscdp): Promise<void> {
    const guard = textAt(message.node, 'GuardCmd');
    if (guard === 'SetGuard' || guard === 'ResetGuard') this.guard = guard;
    if (textAt(message.node, 'TeleBoot') === 'Boot') this.reboots++;
    if (textAt(message.node, 'AlarmCmd') === 'ResetAlarm') this.alarmResets++;
    this.emit('control', message);
    await this.#sendManscdp('Response', {
      CmdType: 'DeviceControl',
      SN: message.sn,
      DeviceID: message.deviceId || this.id,
      Result: 'OK',
    });
  }

  async #config(message: Manscdp): Promise<void> {
    const snap = message.node.children.find((c) => c.name.toLowerCase() === 'snapshotconfig');
    await this.#sendManscdp('Response', {
      CmdType: 'DeviceConfig',
      SN: message.sn,
      DeviceID: message.deviceId || this.id,
      Result: snap === undefined || this.#edition !== '2022' ? 'Error' : 'OK',
    });
    if (snap === undefined || this.#edition !== '2022') return;
    const count = Math.min(10, Math.max(1, Number(textAt(snap, 'SnapNum') ?? 1)));
    const interval = Math.max(0, Number(textAt(snap, 'Interval') ?? 1));
    const url = textAt(snap, 'UploadURL') ?? '';
    const sessionId = textAt(snap, 'SessionID') ?? '';
    const files: string[] = [];
    const statuses: number[] = [];
    for (let index = 0; index < count; index++) {
      if (index > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(interval, 2) * 1000));
      // SnapShotFileID: device id, time and a serial, as §9.14 (2022) suggests.
      const fileId = `${message.deviceId || this.id}${gbTime(this.#now()).replace(/\D/g, '')}${String(index + 1).padStart(2, '0')}`;
      statuses.push(await postJpeg(url, fileId, sessionId, index));
      files.push(fileId);
    }
    const upload: SnapshotUpload = { sessionId, files, statuses };
    this.snapshots.push(upload);
    this.emit('snapshot', upload);
    await this.#sendManscdp('Notify', {
      CmdType: 'UploadSnapShotFinished',
      SN: this.#nextSn(),
      DeviceID: message.deviceId || this.id,
      SessionID: sessionId,
      SnapShotList: { items: files.map((file) => ({ SnapShotFileID: file })), itemName: 'SnapShotFileID' },
    });
  }

  #onSubscribe(request: SipRequest, message: Manscdp, context: SipRequestContext): void {
    if (message.cmdType !== 'Alarm' && message.cmdType !== 'Catalog') {
      context.respond(responseTo(request, 489));
      return;
    }
    const expires = Number(header(request, 'expires') ?? 3600);
    const localTag = newTag();
    context.respond(responseTo(request, 200, { toTag: localTag, headers: [['Expires', String(expires)]] }));
    if (message.cmdType !== 'Alarm') return;
    const from = header(request, 'from') ?? '';
    const contact = header(request, 'contact');
    this.#subscription =
      expires === 0
        ? undefined
        : {
            callId: header(request, 'call-id') ?? '',
            localTag,
            remoteTag: headerParam(from, 'tag') ?? '',
            remoteUri: addressUri(contact ?? from),
            peer: context.peer,
            expiresAt: Date.now() + expires * 1000,
            cseq: cseqOf(request).seq,
          };
    this.emit('subscribed', { expires, from: uriUser(addressUri(from)) });
  }

  /** Sends raw bytes to the server (tests of the platform's parser). */
  sendRaw(bytes: Buffer | string): void {
    this.#node.send(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), this.#server);
  }
}

/** A small JPEG (a grey frame whose shade tells the shots apart), POSTed to a loopback URL only. */
async function postJpeg(url: string, fileId: string, sessionId: string, index: number): Promise<number> {
  const target = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname) || target.protocol !== 'http:') return 0;
  const width = 32;
  const height = 24;
  const data = Buffer.alloc(width * height * 4, 0x40 + ((index * 0x30) % 0x80));
  const jpeg = encodeJpeg({ data, width, height }, 80).data;
  return new Promise((resolve) => {
    const request = httpRequest(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'image/jpeg',
          'content-length': jpeg.length,
          'x-snapshot-file-id': fileId,
          'x-session-id': sessionId,
        },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', () => resolve(0));
    request.end(jpeg);
  });
}
