import type { MovableClock } from './hub.ts';

/** The local date and minute in Asia/Shanghai (the demo's hub.timezone). */
export function shanghai(ms: number): { date: string; minute: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: 'Asia/Shanghai',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(ms)
      .map((part) => [part.type, part.value]),
  );
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** Moves the clock on to the next local time of day (minutes after midnight, Shanghai). */
export function moveTo(clock: MovableClock, minute: number): void {
  const now = shanghai(clock.now()).minute;
  const ahead = (minute - now + 24 * 60) % (24 * 60);
  clock.moveOn(ahead * 60_000);
}
