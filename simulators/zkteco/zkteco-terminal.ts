import { request as httpRequest } from 'node:http';
import {
  type AttlogRecord,
  attlogLine,
  oplogLine,
  type RtlogRecord,
  rtlogLine,
  rtstateLine,
  terminalClock,
} from './records.ts';

/**
 * A ZKTeco terminal speaking ADMS (the iclock HTTP push protocol) to a server, as the real firmware does: it
 * registers (`GET /iclock/cdata?options=all`), takes the option block (Delay, TimeZone), polls
 * `GET /iclock/getrequest` every Delay seconds, runs the commands it gets (`C:<id>:CONTROL DEVICE …`, `AC_UNLOCK`)
 * and answers them on `/iclock/devicecmd`, and uploads its records (`rtlog` for an access terminal, `ATTLOG` for an
 * attendance one, `OPERLOG` alarms). It imports nothing of the hub.
 *
 * Scriptable (`swipe`, `forceDoor`, `holdDoor`, `duress`, `tamper`, …) with fault knobs: `reboot`, a wrong serial,
 * garbage lines, oversized and slow uploads, clock skew, and a terminal that stops polling.
 */

export interface ZktecoTerminalOptions {
  /** The server, e.g. http://127.0.0.1:8088 (the terminal adds `/iclock/…`). */
  readonly url: string;
  readonly serial: string;
  /** `access` terminals upload rtlog (Security PUSH); `attendance` terminals ATTLOG (Attendance PUSH). */
  readonly mode?: 'access' | 'attendance';
  /** Poll period; default: the Delay the server gives (10 s when it gives none). */
  readonly pollMs?: number;
  /** The terminal's clock is this far off (ms): its records carry the skewed time. */
  readonly clockSkewMs?: number;
  /** Cap on any request. */
  readonly requestTimeoutMs?: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export interface ExecutedCommand {
  readonly id: string;
  readonly command: string;
  readonly returned: number;
}

/**
 * The commands each kind of terminal runs, by their first words, with the `CMD` it answers with: an access terminal
 * (Security PUSH) takes CONTROL DEVICE, an attendance one (Attendance PUSH) AC_UNLOCK. Any other command is
 * answered Return=-1002, "not supported".
 */
const commandsOf: Readonly<Record<'access' | 'attendance', Readonly<Record<string, string>>>> = {
  access: { 'CONTROL DEVICE': 'CONTROL DEVICE', REBOOT: 'REBOOT' },
  attendance: { AC_UNLOCK: 'AC_UNLOCK', AC_UNALARM: 'AC_UNALARM', REBOOT: 'REBOOT' },
};
const notSupported = -1002;

/** `key=value` lines of a server's answer, by key. */
function settingsOf(body: string): Record<string, string> {
  return Object.fromEntries(
    body
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

export class ZktecoTerminal {
  readonly serial: string;
  readonly mode: 'access' | 'attendance';
  readonly executed: ExecutedCommand[] = [];
  /** The option block of the last registration, by key. */
  options: Record<string, string> = {};
  #url: string;
  #serialOnWire: string;
  #clockSkewMs: number;
  readonly #pollMs: number | undefined;
  readonly #timeoutMs: number;
  #index = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #running = false;
  /** Records the server has not acknowledged, kept and sent again as a real terminal does. */
  readonly #backlog: { table: string; line: string }[] = [];
  /** Ids of commands run, so one delivered twice runs once. */
  readonly #done = new Set<string>();
  polls = 0;

  constructor(options: ZktecoTerminalOptions) {
    this.#url = options.url.replace(/\/$/, '');
    this.serial = options.serial;
    this.#serialOnWire = options.serial;
    this.mode = options.mode ?? 'access';
    this.#pollMs = options.pollMs;
    this.#clockSkewMs = options.clockSkewMs ?? 0;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  // --- lifecycle ------------------------------------------------------------------------------------------------

  /** Registers and starts polling; rejects when the server refuses the registration. */
  async start(): Promise<void> {
    this.#running = true;
    const answer = await this.register();
    if (answer.status !== 200)
      throw new Error(`registration refused: ${answer.status} ${answer.body.trim()}`);
    this.#polling = true;
    this.#schedulePoll();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#polling = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The initialisation exchange. An attendance terminal (Attendance PUSH 2.x) takes the option block from
   * `GET /iclock/cdata?options=all`; an access terminal (Security PUSH 3.x) says `DeviceType=acc`, expects
   * `registry=ok`, then registers (`POST /iclock/registry`) and takes its settings (`POST /iclock/push`).
   */
  async register(): Promise<HttpAnswer> {
    const sn = encodeURIComponent(this.#serialOnWire);
    const query =
      this.mode === 'access'
        ? 'options=all&pushver=3.1.2&language=83&DeviceType=acc&PushOptionsFlag=1'
        : 'options=all&pushver=2.4.1&language=83';
    const answer = await this.#send('GET', `/iclock/cdata?SN=${sn}&${query}`);
    if (answer.status !== 200) return answer;
    this.options = settingsOf(answer.body);
    if (this.mode === 'attendance') return answer;
    if (this.options.registry !== 'ok') return { status: 0, body: 'the server did not answer registry=ok' };
    const registry = await this.#send(
      'POST',
      `/iclock/registry?SN=${sn}`,
      'DeviceType=acc,~DeviceName=SpeedFace\n',
    );
    if (registry.status !== 200) return registry;
    const push = await this.#send('POST', `/iclock/push?SN=${sn}`, '');
    if (push.status === 200) this.options = { ...this.options, ...settingsOf(push.body) };
    return push;
  }

  /** One poll: takes the commands waiting, runs them, answers them. */
  async poll(): Promise<HttpAnswer> {
    this.polls++;
    const answer = await this.#send('GET', `/iclock/getrequest?SN=${encodeURIComponent(this.#serialOnWire)}`);
    if (answer.status !== 200) return answer;
    const commands = answer.body
      .split('\n')
      .map((line) => /^C:([^:]+):(.+)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null);
    if (commands.length === 0) return answer;
    const results: string[] = [];
    for (const match of commands) {
      const id = match[1] as string;
      const command = match[2] as string;
      const cmd = Object.entries(commandsOf[this.mode]).find(([prefix]) => command.startsWith(prefix))?.[1];
      const returned = cmd === undefined ? notSupported : 0;
      results.push(`ID=${id}&Return=${returned}&CMD=${cmd ?? command.split(' ')[0]}`);
      if (this.#done.has(id)) continue;
      this.#done.add(id);
      this.executed.push({ id, command, returned });
      // A door opened by command: the terminal logs it as a remote opening, as real ones do.
      if (returned === 0 && command.startsWith('CONTROL DEVICE 01') && this.mode === 'access') {
        const door = Number.parseInt(
          command.slice('CONTROL DEVICE 01'.length, 'CONTROL DEVICE 01'.length + 2),
          16,
        );
        void this.#rtlog({ event: 8, door, pin: '0', card: '0', verify: 200, inOut: 2 }).catch(
          () => undefined,
        );
      }
    }
    await this.#send(
      'POST',
      `/iclock/devicecmd?SN=${encodeURIComponent(this.#serialOnWire)}`,
      `${results.join('\n')}\n`,
    );
    return answer;
  }

  #schedulePoll(): void {
    if (!this.#polling || !this.#running) return;
    // Delay (Attendance PUSH) or RequestDelay (Security PUSH): seconds between polls.
    const delaySeconds = Number(this.options.Delay ?? this.options.RequestDelay);
    const every =
      this.#pollMs ?? (Number.isFinite(delaySeconds) && delaySeconds > 0 ? delaySeconds * 1000 : 10_000);
    this.#timer = setTimeout(() => {
      void this.poll()
        .then(() => this.#flushBacklog())
        .catch(() => undefined)
        .finally(() => this.#schedulePoll());
    }, every);
    this.#timer.unref?.();
  }

  // --- scripted events ------------------------------------------------------------------------------------------

  /** A card at the reader: a normal verified opening (event 0), or an unregistered card (27). */
  swipe(card: string, ok = true, door = 1): Promise<HttpAnswer> {
    if (this.mode === 'attendance') return this.punch(ok ? card : '0');
    return this.#rtlog({ event: ok ? 0 : 27, door, pin: ok ? '1001' : '0', card, verify: 4, inOut: 0 });
  }

  /** A punch on an attendance terminal (ATTLOG). */
  punch(pin: string, status = 0, verify = 1): Promise<HttpAnswer> {
    const record: AttlogRecord = { pin, time: this.now(), status, verify, workcode: '0', rest: ['0', '0'] };
    return this.upload('ATTLOG', [attlogLine(record)]);
  }

  forceDoor(door = 1): Promise<HttpAnswer> {
    return this.#rtlog({ event: 102, door, pin: '0', card: '0', verify: 200, inOut: 2 });
  }

  holdDoor(door = 1): Promise<HttpAnswer> {
    return this.#rtlog({ event: 28, door, pin: '0', card: '0', verify: 200, inOut: 2 });
  }

  duress(door = 1): Promise<HttpAnswer> {
    return this.#rtlog({ event: 101, door, pin: '1001', card: '0', verify: 3, inOut: 0 });
  }

  antiPassback(card: string, door = 1): Promise<HttpAnswer> {
    return this.#rtlog({ event: 24, door, pin: '1001', card, verify: 4, inOut: 0 });
  }

  /**
   * Any rtlog event code with no user or card, as the terminal logs what no one presented a credential for: a door
   * sensor (200 opened, 201 closed), the exit button (202), an auxiliary input (220 open, 221 shorted), a remote
   * opening (8), a start (206), or a code of a newer firmware.
   */
  logEvent(event: number, door = 1): Promise<HttpAnswer> {
    return this.#rtlog({ event, door, pin: '0', card: '0', verify: 200, inOut: 2 });
  }

  /** The enclosure opened: an OPERLOG alarm, reason 55 ("machine been broken"). */
  tamper(): Promise<HttpAnswer> {
    return this.alarm(55);
  }

  /** An OPERLOG alarm (operation 3) with its reason: 51 door open detected, 53 exit button, 55 tamper, … */
  alarm(reason: number): Promise<HttpAnswer> {
    return this.operation(3, ['0', String(reason), '0', '0']);
  }

  /** An OPERLOG operation record (`OPLOG <op> …`): 0 startup, 3 an alarm, 32 a duress alarm, … */
  operation(
    op: number,
    objects: readonly [string, string, string, string] = ['0', '0', '0', '0'],
  ): Promise<HttpAnswer> {
    return this.upload('OPERLOG', [oplogLine({ op, operator: '0', time: this.now(), objects })]);
  }

  /** The door sensor's state (rtstate). */
  doorState(open: boolean): Promise<HttpAnswer> {
    return this.upload('rtstate', [
      rtstateLine({
        time: this.now(),
        sensor: open ? '02' : '01',
        relay: '00',
        alarm: '0000000000000000',
        door: open ? '01' : '00',
      }),
    ]);
  }

  #rtlog(fields: Omit<RtlogRecord, 'time' | 'index'>): Promise<HttpAnswer> {
    this.#index++;
    return this.upload('rtlog', [rtlogLine({ time: this.now(), index: this.#index, ...fields })]);
  }

  /**
   * Uploads record lines of a table as one request. Unacknowledged records are kept and sent again after the next
   * poll, as a real terminal keeps its unsent records.
   */
  async upload(table: string, lines: readonly string[]): Promise<HttpAnswer> {
    const answer = await this.#post(table, `${lines.join('\n')}\n`).catch((error: Error) => ({
      status: 0,
      body: error.message,
    }));
    if (answer.status !== 200) for (const line of lines) this.#backlog.push({ table, line });
    return answer;
  }

  async #flushBacklog(): Promise<void> {
    while (this.#backlog.length > 0 && this.#running) {
      const [first] = this.#backlog;
      const table = first?.table as string;
      const batch = this.#backlog.filter((entry) => entry.table === table);
      const answer = await this.#post(table, `${batch.map((entry) => entry.line).join('\n')}\n`).catch(
        () => undefined,
      );
      if (answer?.status !== 200) return;
      for (const entry of batch) this.#backlog.splice(this.#backlog.indexOf(entry), 1);
    }
  }

  get backlog(): number {
    return this.#backlog.length;
  }

  #post(table: string, body: string, slowBytesPerSecond?: number): Promise<HttpAnswer> {
    return this.#send(
      'POST',
      `/iclock/cdata?SN=${encodeURIComponent(this.#serialOnWire)}&table=${table}&Stamp=9999`,
      body,
      slowBytesPerSecond,
    );
  }

  /** The terminal's clock, skewed as set, as its records write it (the zone the server gave at registration). */
  now(): string {
    const zone = Number(this.options.TimeZone ?? 0);
    // TimeZone is hours, or minutes for a zone off the hour (330 for +05:30).
    const offsetMinutes = Math.abs(zone) <= 14 ? zone * 60 : zone;
    return terminalClock(Date.now() + this.#clockSkewMs, offsetMinutes);
  }

  // --- fault knobs ----------------------------------------------------------------------------------------------

  /** Power cycle: stops polling, registers again, logs a Device Start (206), and polls again. */
  async reboot(): Promise<void> {
    this.#polling = false;
    clearTimeout(this.#timer);
    this.#running = true;
    const answer = await this.register();
    if (answer.status !== 200) throw new Error(`registration refused after reboot: ${answer.status}`);
    if (this.mode === 'access')
      await this.#rtlog({ event: 206, door: 1, pin: '0', card: '0', verify: 200, inOut: 2 });
    this.#polling = true;
    this.#schedulePoll();
  }

  /** The serial the terminal gives from now on (a wrong one: a terminal the hub does not know). */
  giveSerial(serial: string): void {
    this.#serialOnWire = serial;
  }

  skewClock(ms: number): void {
    this.#clockSkewMs = ms;
  }

  /** Sends lines that are no records of the table, with valid ones around them if given. */
  sendGarbage(
    table = 'rtlog',
    lines: readonly string[] = ['this is not a record', '\u0000\u0001garbage'],
  ): Promise<HttpAnswer> {
    return this.#post(table, `${lines.join('\n')}\n`);
  }

  /** An upload of `bytes` bytes of records (over the server's body limit, to test it). */
  oversizedUpload(bytes: number): Promise<HttpAnswer> {
    const line = rtlogLine({
      time: this.now(),
      pin: '0',
      card: '0',
      door: 1,
      event: 200,
      inOut: 2,
      verify: 200,
      index: 0,
    });
    const lines = Array.from({ length: Math.ceil(bytes / (line.length + 1)) }, () => line);
    return this.#post('rtlog', `${lines.join('\n')}\n`);
  }

  /** Uploads lines slowly: `bytesPerSecond` of body a second (a terminal on a bad link, or a slowloris). */
  slowUpload(table: string, lines: readonly string[], bytesPerSecond: number): Promise<HttpAnswer> {
    return this.#post(table, `${lines.join('\n')}\n`, bytesPerSecond);
  }

  /** The terminal keeps running but stops polling (its commands wait, its liveness lapses). */
  stopPolling(): void {
    this.#polling = false;
    clearTimeout(this.#timer);
  }

  resumePolling(): void {
    if (this.#polling) return;
    this.#polling = true;
    this.#schedulePoll();
  }

  // --- HTTP -----------------------------------------------------------------------------------------------------

  #send(method: string, path: string, body?: string, slowBytesPerSecond?: number): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(body);
      const request = httpRequest(
        `${this.#url}${path}`,
        {
          method,
          headers: {
            'user-agent': 'iClock Proxy/1.09',
            accept: 'application/push',
            ...(payload === undefined
              ? {}
              : { 'content-type': 'text/plain', 'content-length': String(payload.length) }),
          },
          timeout: this.#timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('request timed out')));
      request.on('error', reject);
      if (payload === undefined) {
        request.end();
        return;
      }
      if (slowBytesPerSecond === undefined) {
        request.end(payload);
        return;
      }
      // Trickled: one slice a tenth of a second.
      const slice = Math.max(1, Math.floor(slowBytesPerSecond / 10));
      let offset = 0;
      const trickle = (): void => {
        if (request.destroyed) return;
        if (offset >= payload.length) {
          request.end();
          return;
        }
        request.write(payload.subarray(offset, offset + slice));
        offset += slice;
        setTimeout(trickle, 100).unref?.();
      };
      trickle();
    });
  }
}
