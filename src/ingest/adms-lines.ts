import { wallClockIso } from '../core/wall-clock.ts';
import { payloadShape } from './payload-shape.ts';

/**
 * The record lines a ZKTeco terminal uploads over ADMS (`POST /iclock/cdata?table=…`), read into the JSON frames
 * the zkteco-adms adapter validates. Pure: text in, frames out. What a line says is not checked here beyond its
 * framing (the adapter's schema does that, with a precise path): a field that is not a number stays a string, a
 * time that is not the terminal's `YYYY-MM-DD HH:MM:SS` stays as sent, and the schema refuses them.
 *
 * Formats (see devices/zkteco-adms/README.md for where each was read):
 * - rtlog   `time=2024-03-15 08:30:00\tpin=1001\tcardno=0\teventaddr=1\tevent=27\tinoutstatus=1\tverifytype=15\tindex=21`
 * - rtstate `time=…\tsensor=01\trelay=00\talarm=0000000000000000\tdoor=01`
 * - ATTLOG  `<pin>\t<time>\t<status>\t<verify>\t<workcode>\t<reserved>\t<reserved>…`
 * - OPERLOG `OPLOG <op>\t<operator>\t<time>\t<object>\t<value1>\t<value2>\t<value3>`; its USER, FP, FACE… lines
 *   carry enrolment data (names, templates) and are never read.
 */

/** The channel of the topic grammar a frame goes on. */
export type AdmsChannel = 'events' | 'heartbeat';

export type LineReading =
  | { readonly kind: 'frame'; readonly channel: AdmsChannel; readonly frame: Record<string, unknown> }
  /** Not an event: an enrolment record of OPERLOG. Dealt with (the terminal need not resend it), never read. */
  | { readonly kind: 'skipped' }
  /** Broken framing; `shape` is the line's structure without its values. */
  | { readonly kind: 'malformed'; readonly problem: string; readonly shape: unknown };

/** The tables whose lines become frames, each with its reader. */
export type AdmsTable = 'rtlog' | 'rtstate' | 'ATTLOG' | 'OPERLOG';

const deviceTime = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const integer = /^-?\d{1,10}$/;

/** A number where the field is one; otherwise the text as sent, for the adapter's schema to refuse by name. */
function numberOr(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  return integer.test(text) ? Number(text) : text;
}

/** `0` and empty mean "none" in the terminal's pin and card fields. */
function identifierOr(text: string | undefined): string | undefined {
  return text === undefined || text === '' || text === '0' ? undefined : text;
}

/** The terminal's `YYYY-MM-DD HH:MM:SS` in `timeZone` as ISO 8601 with its offset; other text as it was. */
export function terminalTime(text: string | undefined, timeZone: string): string | undefined {
  if (text === undefined) return undefined;
  return deviceTime.test(text) ? (wallClockIso(text, timeZone) ?? text) : text;
}

/** `key=value` fields separated by tabs, keys in lower case; undefined when a field has no `=`. */
function keyValues(line: string): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  for (const field of line.split('\t')) {
    if (field === '') continue;
    const equals = field.indexOf('=');
    if (equals <= 0) return undefined;
    fields.set(field.slice(0, equals).trim().toLowerCase(), field.slice(equals + 1).trim());
  }
  return fields;
}

/** A line's structure without its values, for a dead letter: its keys, or how many fields it has. */
function lineShape(line: string): unknown {
  const fields = line.split('\t');
  const keys = fields.map((field) => field.slice(0, Math.max(0, field.indexOf('='))));
  return keys.every((key) => key.length > 0 && key.length <= 32)
    ? payloadShape(Object.fromEntries(keys.map((key) => [key, ''])))
    : { fields: fields.length };
}

const malformed = (problem: string, line: string): LineReading => ({
  kind: 'malformed',
  problem,
  shape: lineShape(line),
});

function readRtlog(line: string, timeZone: string): LineReading {
  const fields = keyValues(line);
  if (fields === undefined || !fields.has('event'))
    return malformed('not an rtlog record (key=value fields with event)', line);
  const frame = {
    table: 'rtlog',
    seq: numberOr(fields.get('index')),
    time: terminalTime(fields.get('time'), timeZone),
    event: numberOr(fields.get('event')),
    door: numberOr(fields.get('eventaddr')),
    inOut: numberOr(fields.get('inoutstatus')),
    verify: numberOr(fields.get('verifytype')),
    pin: identifierOr(fields.get('pin')),
    card: identifierOr(fields.get('cardno')),
  };
  return { kind: 'frame', channel: 'events', frame: withoutUndefined(frame) };
}

function readRtstate(line: string, timeZone: string): LineReading {
  const fields = keyValues(line);
  if (fields === undefined || !fields.has('time'))
    return malformed('not an rtstate record (key=value fields with time)', line);
  const frame = {
    table: 'rtstate',
    time: terminalTime(fields.get('time'), timeZone),
    sensor: fields.get('sensor') ?? '',
    relay: fields.get('relay') ?? '',
    alarm: fields.get('alarm') ?? '',
    door: fields.get('door'),
  };
  return { kind: 'frame', channel: 'heartbeat', frame: withoutUndefined(frame) };
}

function readAttlog(line: string, timeZone: string): LineReading {
  const [pin, time, status, verify] = line.split('\t').map((field) => field.trim());
  if (pin === undefined || time === undefined || !deviceTime.test(time))
    return malformed('not an ATTLOG record (pin, time, status, verify separated by tabs)', line);
  const frame = {
    table: 'ATTLOG',
    time: terminalTime(time, timeZone),
    pin,
    status: numberOr(status ?? '0'),
    verify: numberOr(verify ?? '0'),
  };
  return { kind: 'frame', channel: 'events', frame };
}

/** The OPERLOG operation whose second object is the alarm reason (appendix 4 of the Attendance PUSH protocol). */
const alarmOperation = 3;

function readOperlog(line: string, timeZone: string): LineReading {
  if (!line.startsWith('OPLOG ')) {
    // USER, FP, FACE, BIOPHOTO… lines: enrolment data, of which the hub keeps nothing.
    return /^[A-Z]{2,12}[ \t]/.test(line) ? { kind: 'skipped' } : malformed('not an OPERLOG record', line);
  }
  const [op, , time, , value1] = line
    .slice('OPLOG '.length)
    .split('\t')
    .map((field) => field.trim());
  if (op === undefined || time === undefined)
    return malformed('an OPLOG record without its operation and time', line);
  const operation = numberOr(op);
  const frame = {
    table: 'OPERLOG',
    time: terminalTime(time, timeZone),
    op: operation,
    reason: operation === alarmOperation ? numberOr(value1) : undefined,
  };
  return { kind: 'frame', channel: 'events', frame: withoutUndefined(frame) };
}

export const tableReaders: Readonly<Record<AdmsTable, (line: string, timeZone: string) => LineReading>> = {
  rtlog: readRtlog,
  rtstate: readRtstate,
  ATTLOG: readAttlog,
  OPERLOG: readOperlog,
};

/** The table a `table=` query names, matched as terminals spell it (`ATTLOG`, `attlog`, `rtlog`). */
export function admsTable(name: string | null): AdmsTable | undefined {
  if (name === null) return undefined;
  const byLowerCase: Readonly<Record<string, AdmsTable>> = {
    rtlog: 'rtlog',
    rtstate: 'rtstate',
    attlog: 'ATTLOG',
    operlog: 'OPERLOG',
  };
  return byLowerCase[name.toLowerCase()];
}

function withoutUndefined(frame: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(frame).filter(([, value]) => value !== undefined));
}

/** `ID=…&Return=…&CMD=…` lines of a devicecmd body. */
export interface CommandResult {
  readonly id: string;
  readonly returned: number | string;
  readonly cmd: string;
}

export function readCommandResults(body: string): { results: CommandResult[]; malformed: number } {
  const results: CommandResult[] = [];
  let broken = 0;
  for (const line of body.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const fields = new URLSearchParams(line.trim());
    const id = fields.get('ID');
    const returned = fields.get('Return');
    if (id === null || returned === null) {
      broken++;
      continue;
    }
    results.push({
      id,
      returned: numberOr(returned) ?? returned,
      cmd: (fields.get('CMD') ?? '').slice(0, 64),
    });
  }
  return { results, malformed: broken };
}
