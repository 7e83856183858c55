/**
 * Local dates and times of day in the hub's time zone (hub.timezone): a patrol day is a local day, whatever UTC
 * says (in Asia/Shanghai, 23:30 UTC is the next morning's 07:30).
 */
export class LocalDays {
  readonly #format: Intl.DateTimeFormat;

  constructor(timeZone: string) {
    this.#format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
  }

  #parts(ms: number): Record<string, number> {
    return Object.fromEntries(
      this.#format
        .formatToParts(ms)
        .filter((part) => part.type !== 'literal')
        .map((part) => [part.type, Number(part.value)]),
    );
  }

  /** The local date (yyyy-mm-dd) of an instant. */
  date(ms: number): string {
    const p = this.#parts(ms);
    return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
  }

  /** The minute of the local day of an instant (0 … 1439). */
  minute(ms: number): number {
    const p = this.#parts(ms);
    return (p.hour ?? 0) * 60 + (p.minute ?? 0);
  }

  /** The local date before this one. */
  previous(date: string): string {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
  }

  /** The instant a local date starts (its local midnight), epoch ms. */
  start(date: string): number {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const wall = Date.UTC(y, m - 1, d);
    // The zone's offset at a guess, applied twice: right across a change of offset on the day too.
    let guess = wall;
    for (let i = 0; i < 2; i++) guess = wall - this.#offset(guess);
    return guess;
  }

  /** [start, end) of a local date, epoch ms. */
  span(date: string): [number, number] {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
    return [this.start(date), this.start(next)];
  }

  /** How far the zone's wall clock runs ahead of UTC at an instant, ms. */
  #offset(ms: number): number {
    const p = this.#parts(ms);
    const wall = Date.UTC(
      p.year ?? 0,
      (p.month ?? 1) - 1,
      p.day ?? 1,
      p.hour ?? 0,
      p.minute ?? 0,
      p.second ?? 0,
    );
    return wall - Math.floor(ms / 1000) * 1000;
  }
}

/** A local time of day HH:MM as minutes. */
export function minuteOfClock(clock: string): number {
  return Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
}

function pad(value: number | undefined): string {
  return String(value ?? 0).padStart(2, '0');
}

/** A local date as the API takes it. */
export const datePattern = /^\d{4}-\d{2}-\d{2}$/;
