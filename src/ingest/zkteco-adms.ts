import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { CommandChannel, FrameHandler, RefusalHandler } from '../core/connector.ts';
import type { ResolvedDevice } from '../core/device.ts';
import { refused } from '../core/errors.ts';
import type { RefusalReason } from '../core/refusals.ts';
import type { TopicGrammar } from '../core/topics.ts';
import { zoneOffsetMinutes } from '../core/wall-clock.ts';
import { addressAllowed } from '../net/outbound-address.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import {
  type AdmsChannel,
  admsTable,
  type LineReading,
  readCommandResults,
  tableReaders,
} from './adms-lines.ts';
import type { DeviceHttpAnswer, DeviceHttpRequest, DeviceHttpRoute } from './device-http-listener.ts';
import type { DeviceActivity } from './device-ingest.ts';

/**
 * ZKTeco's ADMS ("PUSH SDK", iclock) on the device HTTP listener: terminals register (`GET /iclock/cdata?options=all`),
 * poll for commands (`GET /iclock/getrequest`, the heartbeat), upload records (`POST /iclock/cdata?table=…`) and
 * answer commands (`POST /iclock/devicecmd`). Each record line becomes one JSON frame of the zkteco-adms adapter on
 * `<base>/devices/<id>/events` (or `heartbeat` for rtstate), handed to the hub's FrameHandler; the terminal is
 * answered once every frame is committed. Remote commands wait in a queue per terminal until its next poll.
 *
 * ADMS has no credential: the serial number (`SN=`) names the terminal, and a serial no device is provisioned with
 * is refused. See devices/zkteco-adms/README.md for the mitigations (a device network, TLS on a proxy).
 */

export interface AdmsDevices {
  bySerial(serial: string): (ResolvedDevice & { readonly disabled: boolean }) | undefined;
  get(id: string): ResolvedDevice | undefined;
}

export interface AdmsLimits {
  /** Record lines in one upload; a larger upload is refused whole (the terminal keeps its records). */
  readonly maxLinesPerUpload: number;
  /** One record line; a longer one is refused (the rest of its upload is read). */
  readonly maxLineBytes: number;
  /** Commands waiting for one terminal's poll. */
  readonly maxQueuedCommands: number;
}

/** Seconds between a terminal's polls: the remote door open waits at most this long for its terminal. */
export const defaultPollSeconds = 2;

export const defaultAdmsLimits: AdmsLimits = {
  maxLinesPerUpload: 1000,
  maxLineBytes: 2048,
  maxQueuedCommands: 16,
};

export interface ZktecoAdmsOptions {
  readonly devices: AdmsDevices;
  readonly topics: TopicGrammar;
  readonly onMessage: FrameHandler;
  readonly refuse: RefusalHandler;
  readonly activity: DeviceActivity;
  /** hub.timezone: given to the terminal at registration, and its record times are read in it. */
  readonly timeZone: string;
  /** How long a queued command waits for the terminal's poll and its answer, unless its caller says (hub.commandTimeoutSeconds). */
  readonly commandTimeoutMs: number;
  /**
   * The `Delay` the terminal is given: seconds between its polls (2 by default, the protocol allows 2 to 60). A
   * queued command waits for the next poll, so it must be well within commandTimeoutMs.
   */
  readonly pollSeconds?: number;
  readonly limits?: Partial<AdmsLimits>;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Why the receiver refused (part of) a request: labels of its refusal counter. */
export const admsRefusals = {
  unknown_serial: 'no device is provisioned with the serial number (SN) the terminal gave',
  no_serial: 'the request gave no serial number (SN)',
  disabled: 'the device with this serial number is disabled',
  wrong_adapter: 'the device with this serial number is not a zkteco-adms terminal',
  wrong_source: 'the request came from an address outside the device’s pushFrom networks',
  unknown_path: 'no ADMS endpoint at the path',
  unknown_table: 'an upload of a table the hub does not read',
  malformed_line: 'a record line that breaks its table’s framing',
  line_too_long: 'a record line longer than the limit',
  too_many_lines: 'an upload of more record lines than the limit',
  unknown_command: 'a command result for no command the hub is waiting on',
} as const;
type AdmsRefusal = keyof typeof admsRefusals;

/** The ingest's refusal reason of each (for the dead letter and gridhub_messages_refused_total). */
const refusalReasonOf: Readonly<Partial<Record<AdmsRefusal, RefusalReason>>> = {
  unknown_serial: 'unknown_device',
  no_serial: 'unauthenticated',
  disabled: 'unknown_device',
  wrong_adapter: 'unknown_device',
  wrong_source: 'unauthenticated',
  unknown_table: 'unknown_channel',
  malformed_line: 'malformed',
  line_too_long: 'oversized',
  too_many_lines: 'oversized',
};

/** Tables a terminal uploads that the hub takes and ignores: photos and templates it never keeps. */
const ignoredTables = new Set([
  'attphoto',
  'options',
  'biodata',
  'biophoto',
  'userpic',
  'tabledata',
  'idcard',
  'errorlog',
  'fdata',
]);

function admsMetrics(metrics: MetricsRegistry) {
  return {
    requests: metrics.counter({
      name: 'gridhub_zkteco_adms_requests_total',
      help: 'ADMS requests of ZKTeco terminals, by endpoint.',
      labelNames: ['endpoint'] as const,
    }),
    records: metrics.counter({
      name: 'gridhub_zkteco_adms_records_total',
      help: 'Record lines ZKTeco terminals uploaded, by what became of them (framed, skipped, refused).',
      labelNames: ['outcome'] as const,
      shownAtZero: { outcome: ['framed', 'skipped', 'refused'] },
    }),
    refusals: metrics.counter({
      name: 'gridhub_zkteco_adms_refusals_total',
      help: 'What the ADMS receiver refused, by reason.',
      labelNames: ['reason'] as const,
      shownAtZero: { reason: Object.keys(admsRefusals) as AdmsRefusal[] },
    }),
    commands: metrics.counter({
      name: 'gridhub_zkteco_adms_commands_total',
      help: 'Commands for ZKTeco terminals, by what became of them (queued, delivered, answered, expired).',
      labelNames: ['outcome'] as const,
      shownAtZero: { outcome: ['queued', 'delivered', 'answered', 'expired'] },
    }),
  };
}

interface QueuedCommand {
  readonly id: number;
  readonly requestId: string;
  readonly line: string;
  readonly expiresAt: number;
  delivered: boolean;
}

/** The JSON the adapter's command encoders make: the request id and the command line for the terminal. */
const encodedCommand = z.strictObject({
  requestId: z.string().min(1).max(64),
  command: z
    .string()
    .regex(/^[\x20-\x7e]{1,200}$/, 'one line of printable ASCII')
    .describe('The terminal command after `C:<id>:`.'),
});

const text = (status: number, body: string): DeviceHttpAnswer => ({
  status,
  headers: { 'content-type': 'text/plain;charset=UTF-8' },
  body,
});
const ok = text(200, 'OK');
/** What an unknown or refused terminal gets: an error, after which a terminal waits ErrorDelay and tries again. */
const notServed = text(403, 'ERROR: unknown device');

const source = 'zkteco-adms/http';

/** Not a credential (ADMS has none): a stable code the terminal presents again, derived from its serial. */
function registryCode(serial: string): string {
  return createHash('sha256').update(`gridhub-adms:${serial}`).digest('hex').slice(0, 32);
}

/** The terminal a request is from, or why there is none. */
interface Terminal {
  readonly device: ResolvedDevice;
  readonly serial: string;
}
type Caller = Terminal | { readonly refusal: AdmsRefusal; readonly serial: string | null };

export class ZktecoAdmsReceiver implements CommandChannel {
  readonly #options: ZktecoAdmsOptions;
  readonly #limits: AdmsLimits;
  readonly #metrics: ReturnType<typeof admsMetrics>;
  readonly #log: Logger;
  readonly #logThrottle = new LogThrottle();
  /** One dead letter a minute for each refused serial: a refused terminal keeps polling. */
  readonly #deadLetterThrottle = new LogThrottle(60_000);
  readonly #queues = new Map<string, QueuedCommand[]>();
  readonly #lastPoll = new Map<string, number>();
  /** Command ids, unique within a run and unlikely to meet a previous run's (a late answer is then ignored). */
  #nextCommandId = Math.floor(Date.now() / 1000) % 1_000_000_000;
  readonly #now: () => number;
  readonly #endpoints: Readonly<
    Record<string, (request: DeviceHttpRequest, caller: Terminal) => Promise<DeviceHttpAnswer>>
  >;

  constructor(options: ZktecoAdmsOptions) {
    this.#options = options;
    this.#limits = { ...defaultAdmsLimits, ...options.limits };
    this.#metrics = admsMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'zkteco-adms' });
    this.#now = options.now ?? Date.now;
    this.#endpoints = {
      cdata: (request, caller) =>
        request.method === 'POST'
          ? this.#upload(request, caller)
          : request.query.get('options') === 'all'
            ? this.#register(request, caller)
            : // Other GETs of cdata (a remote attendance look-up by PIN) have nothing here to answer.
              this.#ping(caller),
      getrequest: (_request, caller) => this.#poll(caller),
      ping: (_request, caller) => this.#ping(caller),
      devicecmd: (request, caller) => this.#commandResults(request, caller),
      // Security PUSH (protocol 3.x) registers in two more steps before uploading.
      registry: (_request, caller) => this.#registry(caller),
      push: (_request, caller) => this.#pushOptions(caller),
    };
  }

  /** The route to register on the device HTTP listener at `/iclock/`. */
  readonly route: DeviceHttpRoute = async (request) => {
    // Firmware spells its endpoints `cdata` or `cdata.aspx`, and some double the prefix (`/iclock/iclock/cdata`).
    const endpoint = (request.path.split('/').pop() ?? '').replace(/\.aspx$/, '').toLowerCase();
    const handle = this.#endpoints[endpoint];
    this.#metrics.requests.labels(handle === undefined ? 'unknown' : endpoint).inc();
    if (handle === undefined) {
      this.#refused('unknown_path');
      return text(404, 'ERROR: unknown endpoint');
    }
    const caller = this.#caller(request.query.get('SN'), request.remoteAddress);
    if ('refusal' in caller) {
      await this.#refuseCaller(caller, request, endpoint);
      return notServed;
    }
    return handle(request, caller);
  };

  #caller(serial: string | null, remoteAddress: string): Caller {
    if (serial === null || serial === '') return { refusal: 'no_serial', serial: null };
    const device = this.#options.devices.bySerial(serial);
    if (device === undefined) return { refusal: 'unknown_serial', serial };
    if (device.adapter.transport !== 'zkteco-adms') return { refusal: 'wrong_adapter', serial };
    if (device.disabled) return { refusal: 'disabled', serial };
    // ADMS has no credential: where the device is pinned to its network, a request from elsewhere is not it.
    if (device.pushFrom !== undefined && !addressAllowed(device.pushFrom, remoteAddress))
      return { refusal: 'wrong_source', serial };
    return { device, serial };
  }

  async #refuseCaller(
    caller: Extract<Caller, { refusal: AdmsRefusal }>,
    request: DeviceHttpRequest,
    endpoint: string,
  ): Promise<void> {
    this.#refused(caller.refusal);
    // A refused terminal retries every ErrorDelay: one dead letter a minute each tells an operator it is there.
    if (this.#deadLetterThrottle.admit(`${caller.refusal}:${caller.serial ?? ''}`) < 0) return;
    const device = caller.serial === null ? undefined : this.#options.devices.bySerial(caller.serial);
    await this.#deadLetter(caller.refusal, device?.id ?? null, request.body.length, [
      // The endpoint, not the path: what precedes it is the sender's own text.
      `${admsRefusals[caller.refusal]} (${request.method} ${endpoint})`,
    ]);
  }

  // --- registration ---------------------------------------------------------------------------------------------

  /**
   * The initialisation answer, in the dialect the terminal speaks: an attendance terminal (Attendance PUSH 2.x) gets
   * the option block (`GET OPTION FROM: <SN>` and its settings); an access terminal (Security PUSH 3.x: it says
   * `DeviceType=acc` or `pushver=3.…`) gets `registry=ok` and the 3.x settings, and goes on to /registry and /push.
   */
  async #register(request: DeviceHttpRequest, caller: Terminal) {
    this.#options.activity.heard(caller.device.id);
    this.#lastPoll.set(caller.device.id, this.#now());
    const securityPush =
      request.query.get('DeviceType') === 'acc' || /^3\./.test(request.query.get('pushver') ?? '');
    const lines = securityPush
      ? ['registry=ok', `RegistryCode=${registryCode(caller.serial)}`, ...this.#securityPushOptions(caller)]
      : this.#attendanceOptions(caller);
    return text(200, `${lines.join('\n')}\n`);
  }

  /** `/iclock/push` of Security PUSH: the settings alone. */
  async #pushOptions(caller: Terminal) {
    this.#options.activity.heard(caller.device.id);
    this.#lastPoll.set(caller.device.id, this.#now());
    return text(200, `${this.#securityPushOptions(caller).join('\n')}\n`);
  }

  /** Whole hours as hours; a zone off the hour in minutes (330 for +05:30), as the protocol reads it. */
  #timeZoneOption(): string {
    const offset = zoneOffsetMinutes(this.#options.timeZone, this.#now());
    return `TimeZone=${offset % 60 === 0 ? offset / 60 : offset}`;
  }

  #attendanceOptions(caller: Terminal): string[] {
    return [
      `GET OPTION FROM: ${caller.serial}`,
      // None: the hub keeps no upload stamps; the terminal goes on from its own.
      'ATTLOGStamp=None',
      'OPERLOGStamp=9999',
      'ATTPHOTOStamp=None',
      'ErrorDelay=30',
      `Delay=${this.#options.pollSeconds ?? defaultPollSeconds}`,
      'TransTimes=00:00;14:05',
      'TransInterval=1',
      'TransFlag=TransData AttLog\tOpLog',
      this.#timeZoneOption(),
      'Realtime=1',
      'Encrypt=None',
      'ServerVer=2.4.1',
      'PushProtVer=2.4.1',
    ];
  }

  #securityPushOptions(caller: Terminal): string[] {
    return [
      'ServerVersion=3.1.2',
      'ServerName=gridhub',
      'PushVersion=3.1.2',
      'PushProtVer=3.1.2',
      'ErrorDelay=30',
      `RequestDelay=${this.#options.pollSeconds ?? defaultPollSeconds}`,
      'TransTimes=00:00;14:00',
      'TransInterval=1',
      'TransTables=User Transaction',
      'Realtime=1',
      `SessionID=${registryCode(caller.serial).slice(0, 16)}`,
      'TimeoutSec=10',
      this.#timeZoneOption(),
      'Encrypt=0',
    ];
  }

  async #registry(caller: Terminal) {
    this.#options.activity.heard(caller.device.id);
    return text(200, `RegistryCode=${registryCode(caller.serial)}`);
  }

  // --- liveness and commands ------------------------------------------------------------------------------------

  async #ping(caller: Terminal) {
    this.#options.activity.heard(caller.device.id);
    this.#lastPoll.set(caller.device.id, this.#now());
    return ok;
  }

  /** The heartbeat: the terminal is alive, and takes the commands waiting for it. */
  async #poll(caller: Terminal) {
    const deviceId = caller.device.id;
    this.#options.activity.heard(deviceId);
    this.#lastPoll.set(deviceId, this.#now());
    const due = this.#liveQueue(deviceId).filter((command) => !command.delivered);
    if (due.length === 0) return ok;
    for (const command of due) command.delivered = true;
    this.#metrics.commands.labels('delivered').inc(due.length);
    return text(200, `${due.map((command) => `C:${command.id}:${command.line}`).join('\n')}\n`);
  }

  /** The terminal's queue without the commands whose time is up: a door never opens after its command timed out. */
  #liveQueue(deviceId: string): QueuedCommand[] {
    const queue = this.#queues.get(deviceId) ?? [];
    const now = this.#now();
    const live = queue.filter((command) => command.expiresAt > now);
    if (live.length < queue.length) this.#metrics.commands.labels('expired').inc(queue.length - live.length);
    if (live.length === 0) this.#queues.delete(deviceId);
    else this.#queues.set(deviceId, live);
    return live;
  }

  async #commandResults(request: DeviceHttpRequest, caller: Terminal) {
    const deviceId = caller.device.id;
    this.#options.activity.heard(deviceId);
    const { results, malformed } = readCommandResults(request.body.toString('utf8'));
    if (malformed > 0) {
      this.#refused('malformed_line', malformed);
      await this.#deadLetter('malformed_line', deviceId, request.body.length, [
        `${malformed} devicecmd lines without ID and Return`,
      ]);
    }
    const queue = this.#liveQueue(deviceId);
    const replies: Promise<void>[] = [];
    for (const result of results) {
      const index = queue.findIndex((command) => command.delivered && String(command.id) === result.id);
      const command = queue[index];
      if (command === undefined) {
        // A late answer (after the command timed out) or one to nothing: counted, never a reply.
        this.#refused('unknown_command');
        continue;
      }
      queue.splice(index, 1);
      this.#metrics.commands.labels('answered').inc();
      const frame = { requestId: command.requestId, return: result.returned, cmd: result.cmd };
      const handled = this.#options.onMessage(
        this.#options.topics.deviceTopic(deviceId, 'replies'),
        Buffer.from(JSON.stringify(frame)),
        this.#now(),
      );
      if (handled !== undefined) replies.push(handled);
    }
    await Promise.all(replies);
    return ok;
  }

  // --- uploads --------------------------------------------------------------------------------------------------

  async #upload(request: DeviceHttpRequest, caller: Terminal) {
    const deviceId = caller.device.id;
    this.#options.activity.heard(deviceId);
    const tableName = request.query.get('table');
    const table = admsTable(tableName);
    if (table === undefined) {
      if (tableName !== null && ignoredTables.has(tableName.toLowerCase())) return ok;
      this.#refused('unknown_table');
      await this.#deadLetter('unknown_table', deviceId, request.body.length, [
        `an upload of a table the hub does not read (${tableName === null ? 'none named' : `${Math.min(tableName.length, 64)} characters`})`,
      ]);
      // Answered OK: sending it again would not make it readable.
      return ok;
    }
    const lines = request.body
      .toString('utf8')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '');
    if (lines.length > this.#limits.maxLinesPerUpload) {
      this.#refused('too_many_lines');
      await this.#deadLetter('too_many_lines', deviceId, request.body.length, [
        `${lines.length} record lines in one upload, the limit is ${this.#limits.maxLinesPerUpload}`,
      ]);
      // Refused whole: the terminal keeps its records and sends them again (in smaller uploads, if so configured).
      return text(413, 'ERROR: too many records');
    }
    const read = tableReaders[table];
    const handled: Promise<void>[] = [];
    const refusals: Promise<void>[] = [];
    for (const line of lines) {
      const reading: LineReading =
        Buffer.byteLength(line) > this.#limits.maxLineBytes
          ? { kind: 'malformed', problem: 'too long', shape: null }
          : read(line, this.#options.timeZone);
      if (reading.kind === 'skipped') {
        this.#metrics.records.labels('skipped').inc();
        continue;
      }
      if (reading.kind === 'malformed') {
        this.#metrics.records.labels('refused').inc();
        const reason: AdmsRefusal = reading.shape === null ? 'line_too_long' : 'malformed_line';
        this.#refused(reason);
        refusals.push(
          this.#deadLetter(
            reason,
            deviceId,
            Buffer.byteLength(line),
            [
              reading.shape === null
                ? `${admsRefusals[reason]} (${this.#limits.maxLineBytes} bytes)`
                : reading.problem,
            ],
            reading.shape,
          ),
        );
        continue;
      }
      this.#metrics.records.labels('framed').inc();
      const done = this.#frame(deviceId, reading.channel, reading.frame);
      if (done !== undefined) handled.push(done);
    }
    // Every frame committed (or refused for good by the adapter's schema) and every refusal kept: only then is the
    // terminal told, so that it sends again whatever the hub could not yet keep (a 500 from the listener).
    await Promise.all([...handled, ...refusals]);
    // rtlog/rtstate (Security PUSH) are answered OK; ATTLOG/OPERLOG with OK:<records dealt with>.
    return table === 'rtlog' || table === 'rtstate' ? ok : text(200, `OK:${lines.length}`);
  }

  #frame(deviceId: string, channel: AdmsChannel, frame: Record<string, unknown>): Promise<void> | undefined {
    return this.#options.onMessage(
      this.#options.topics.deviceTopic(deviceId, channel),
      Buffer.from(JSON.stringify(frame)),
      this.#now(),
    );
  }

  // --- refusals -------------------------------------------------------------------------------------------------

  #refused(reason: AdmsRefusal, count = 1): void {
    this.#metrics.refusals.labels(reason).inc(count);
    const suppressed = this.#logThrottle.admit(reason);
    if (suppressed >= 0)
      this.#log.warn({ reason, suppressed }, `ADMS request refused: ${admsRefusals[reason]}`);
  }

  #deadLetter(
    reason: AdmsRefusal,
    deviceId: string | null,
    payloadBytes: number,
    problems: readonly string[],
    shape?: unknown,
  ): Promise<void> {
    const refusalReason = refusalReasonOf[reason];
    if (refusalReason === undefined) return Promise.resolve();
    return this.#options.refuse({
      source,
      deviceId,
      reason: refusalReason,
      problems,
      payloadBytes,
      ...(shape === undefined || shape === null ? {} : { shape }),
    });
  }

  // --- CommandChannel -------------------------------------------------------------------------------------------

  /**
   * Queues the adapter's encoded command (`{requestId, command}`) for the terminal's next poll, as
   * `C:<id>:<command>`. Its devicecmd answer comes back as a reply frame with the request id.
   */
  async publish(address: string, payload: string, timeoutMs = this.#options.commandTimeoutMs): Promise<void> {
    const parsed = this.#options.topics.parseDeviceTopic(address);
    if (parsed === undefined || parsed.channel !== 'commands')
      throw new Error(`not a device's commands: ${address}`);
    const command = encodedCommand.parse(JSON.parse(payload));
    const queue = this.#liveQueue(parsed.deviceId);
    if (queue.length >= this.#limits.maxQueuedCommands) {
      throw refused('conflict', `${queue.length} commands already wait for the terminal's next poll`);
    }
    this.#nextCommandId = (this.#nextCommandId + 1) % 1_000_000_000;
    queue.push({
      id: this.#nextCommandId,
      requestId: command.requestId,
      line: command.command,
      expiresAt: this.#now() + timeoutMs,
      delivered: false,
    });
    this.#queues.set(parsed.deviceId, queue);
    this.#metrics.commands.labels('queued').inc();
  }

  /** Reachable while it polls: its last poll is within its offline threshold. */
  isConnected(deviceId: string): boolean {
    const device = this.#options.devices.get(deviceId);
    const last = this.#lastPoll.get(deviceId);
    return device !== undefined && last !== undefined && this.#now() - last < device.offlineAfterMs;
  }

  /** A terminal holds no connection: forgetting its polls and queue is all there is to end. */
  disconnect(deviceId: string): void {
    this.#lastPoll.delete(deviceId);
    this.#queues.delete(deviceId);
  }
}
