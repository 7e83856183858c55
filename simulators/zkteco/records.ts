/**
 * The record lines a ZKTeco terminal uploads over ADMS, written as the vendor's PUSH protocol documents give them
 * (see README.md beside this file). Pure: a record in, the exact bytes of its line out, so the simulator can be
 * checked against public payloads byte for byte.
 */

/** A real-time access event (Security PUSH `table=rtlog`). */
export interface RtlogRecord {
  /** The terminal's wall clock, `YYYY-MM-DD HH:MM:SS`. */
  readonly time: string;
  /** The user's number; `0` when no user was identified. */
  readonly pin: string;
  /** The card read; `0` when none. */
  readonly card: string;
  readonly door: number;
  readonly event: number;
  /** 0 in, 1 out, 2 none. */
  readonly inOut: number;
  readonly verify: number;
  readonly index: number;
  /** Newer firmware (SpeedFace, ProFace) appends site code, link id, mask flag and temperatures. */
  readonly extended?: boolean;
}

/** The door and alarm state (Security PUSH `table=rtstate`). */
export interface RtstateRecord {
  readonly time: string;
  readonly sensor: string;
  readonly relay: string;
  readonly alarm: string;
  readonly door: string;
}

/** An attendance punch (Attendance PUSH `table=ATTLOG`). */
export interface AttlogRecord {
  readonly pin: string;
  readonly time: string;
  readonly status: number;
  readonly verify: number;
  readonly workcode?: string;
  /** The fields after the work code; firmware differ (two reserved fields, then mask and temperature on some). */
  readonly rest?: readonly string[];
}

/** An operation log entry (Attendance PUSH `table=OPERLOG`, an `OPLOG` line). */
export interface OplogRecord {
  readonly op: number;
  readonly operator: string;
  readonly time: string;
  readonly objects: readonly [string, string, string, string];
}

export function rtlogLine(record: RtlogRecord): string {
  const fields = [
    `time=${record.time}`,
    `pin=${record.pin}`,
    `cardno=${record.card}`,
    `eventaddr=${record.door}`,
    `event=${record.event}`,
    `inoutstatus=${record.inOut}`,
    `verifytype=${record.verify}`,
    `index=${record.index}`,
    ...(record.extended
      ? ['sitecode=0', 'linkid=0', 'maskflag=0', 'temperature=0', 'convtemperature=0']
      : []),
  ];
  return fields.join('\t');
}

export function rtstateLine(record: RtstateRecord): string {
  return [
    `time=${record.time}`,
    `sensor=${record.sensor}`,
    `relay=${record.relay}`,
    `alarm=${record.alarm}`,
    `door=${record.door}`,
  ].join('\t');
}

export function attlogLine(record: AttlogRecord): string {
  return [
    record.pin,
    record.time,
    String(record.status),
    String(record.verify),
    ...(record.workcode === undefined ? [] : [record.workcode]),
    ...(record.rest ?? []),
  ].join('\t');
}

export function oplogLine(record: OplogRecord): string {
  return `OPLOG ${[String(record.op), record.operator, record.time, ...record.objects].join('\t')}`;
}

/** The terminal's wall clock in the zone it was given (hours east of UTC), as its records write it. */
export function terminalClock(epochMs: number, offsetMinutes: number): string {
  const local = new Date(epochMs + offsetMinutes * 60_000);
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`
  );
}
