/**
 * Devices that keep a wall clock without a zone (ZKTeco terminals, GB/T 28181 devices: `2026-12-07T21:30:00`) are
 * read, and written to, in the hub's time zone (`hub.timezone`, an IANA name).
 */

/**
 * One formatter per zone, made once: making an Intl.DateTimeFormat costs far more than formatting with it (it was
 * a sixth of the hub's busy time for GB/T 28181 alarms, two calls each, in the connector bench).
 */
const offsetFormats = new Map<string, Intl.DateTimeFormat>();

function offsetFormat(timeZone: string): Intl.DateTimeFormat {
  let format = offsetFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormats.set(timeZone, format);
  }
  return format;
}

/** The offset (minutes east of UTC) of `timeZone` at `utcMs`, from Intl. */
export function zoneOffsetMinutes(timeZone: string, utcMs: number): number {
  const parts = offsetFormat(timeZone)
    .formatToParts(new Date(utcMs))
    .find((part) => part.type === 'timeZoneName')?.value;
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(parts ?? '');
  if (match === null) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/** `+08:00`, `-03:30`. */
export function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const absolute = Math.abs(minutes);
  return `${sign}${String(Math.floor(absolute / 60)).padStart(2, '0')}:${String(absolute % 60).padStart(2, '0')}`;
}

/**
 * A wall-clock time `YYYY-MM-DD[T ]HH:MM:SS[.fff]` read in `timeZone`, as ISO 8601 with its offset (the fraction
 * kept); undefined when the text is not one, or names no real time (month 13, second 61).
 */
export function wallClockIso(text: string, timeZone: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction] = match;
  const asUtc = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  );
  const check = new Date(asUtc);
  if (
    Number.isNaN(asUtc) ||
    check.getUTCDate() !== Number(day) ||
    check.getUTCHours() !== Number(hour) ||
    check.getUTCSeconds() !== Number(second)
  ) {
    return undefined;
  }
  // The offset at the wall time read as UTC, corrected once: right except within a transition's hour.
  const guess = zoneOffsetMinutes(timeZone, asUtc);
  const offset = zoneOffsetMinutes(timeZone, asUtc - guess * 60_000);
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction ?? ''}${offsetText(offset)}`;
}

/** `utcMs` as the wall clock of `timeZone`: `YYYY-MM-DDTHH:MM:SS`, with `.mmm` when `milliseconds`. */
export function wallClockText(utcMs: number, timeZone: string, milliseconds = false): string {
  const local = new Date(utcMs + zoneOffsetMinutes(timeZone, utcMs) * 60_000).toISOString();
  return milliseconds ? local.slice(0, 23) : local.slice(0, 19);
}
