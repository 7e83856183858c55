import { describe, expect, it } from 'vitest';
import type { RuleConfig, SuppressionConfig } from '../../src/config/schema.ts';
import {
  appendNewest,
  maxSeverity,
  RuleBook,
  SlidingWindow,
  scheduleMatches,
} from '../../src/incidents/rule-book.ts';

const forced: RuleConfig = {
  event: 'door.forced_open',
  category: 'intrusion',
  severity: 'critical',
  title: 'Door forced open',
  dedupeSeconds: 0,
};
const held: RuleConfig = {
  event: 'door.held_open',
  category: 'access_violation',
  severity: 'warning',
  title: 'Door held open too long',
  dedupeSeconds: 0,
};
const tailgating: RuleConfig = { ...held, event: 'access.tailgating', title: 'Tailgating' };
const offline: RuleConfig = {
  event: 'device.offline',
  category: 'device_offline',
  severity: 'major',
  title: 'Device offline',
  dedupeSeconds: 0,
  clearedBy: 'device.online',
};

/** Epoch ms of a local time in Asia/Shanghai (UTC+8, no daylight saving). 2026-11-23 is a Monday. */
function shanghai(isoLocal: string): number {
  return Date.parse(`${isoLocal}+08:00`);
}

describe('maxSeverity', () => {
  it('orders info < warning < major < critical and never lowers', () => {
    expect(maxSeverity('info', 'warning')).toBe('warning');
    expect(maxSeverity('warning', 'info')).toBe('warning');
    expect(maxSeverity('major', 'critical')).toBe('critical');
    expect(maxSeverity('critical', 'major')).toBe('critical');
    expect(maxSeverity('major', 'major')).toBe('major');
    expect(maxSeverity('info', 'info')).toBe('info');
  });
});

describe('appendNewest', () => {
  it('appends while under the limit and keeps only the newest once full, without touching the input', () => {
    const three = [1, 2, 3] as const;
    expect(appendNewest(three, 4, 5)).toEqual([1, 2, 3, 4]);
    expect(appendNewest(three, 4, 3)).toEqual([2, 3, 4]);
    expect(appendNewest([], 'a', 20)).toEqual(['a']);
    expect(three).toEqual([1, 2, 3]);
    const twenty = Array.from({ length: 20 }, (_, index) => index);
    expect(appendNewest(twenty, 20, 20)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
  });
});

describe('SlidingWindow', () => {
  it('is full only once `capacity` things happened within the window', () => {
    const window = new SlidingWindow(3, 1000);
    expect(window.full(0)).toBe(false);
    window.add(0);
    window.add(100);
    expect(window.full(200)).toBe(false);
    window.add(200);
    expect(window.full(200)).toBe(true);
    expect(window.full(999)).toBe(true);
    // The oldest of the three slides out of the window: room for one more.
    expect(window.full(1000)).toBe(false);
    window.add(1000);
    expect(window.full(1000)).toBe(true);
    expect(window.full(1100)).toBe(false);
  });

  it('keeps only the newest times: a burst long ago does not count against a new one', () => {
    const window = new SlidingWindow(2, 500);
    for (const at of [0, 1, 2, 3, 4]) window.add(at);
    expect(window.full(10)).toBe(true);
    expect(window.full(600)).toBe(false);
    window.add(600);
    expect(window.full(600)).toBe(false);
    window.add(700);
    expect(window.full(700)).toBe(true);
  });

  it('is never full with capacity 0 (flood control off)', () => {
    const window = new SlidingWindow(0, 1000);
    window.add(0);
    expect(window.full(0)).toBe(false);
  });
});

describe('scheduleMatches', () => {
  const nights: SuppressionConfig = { id: 'nights', from: '22:00', to: '06:00', days: [5] };
  const monday = 1;

  it('filters by event type, category and grid; a missing filter lets everything through', () => {
    const schedule: SuppressionConfig = {
      id: 'deliveries',
      events: ['door.held_open'],
      grids: ['grid-a'],
      from: '06:30',
      to: '08:30',
    };
    const at = { day: monday, minute: 7 * 60 };
    expect(scheduleMatches(schedule, 'door.held_open', 'access_violation', 'grid-a', at)).toBe(true);
    expect(scheduleMatches(schedule, 'door.forced_open', 'intrusion', 'grid-a', at)).toBe(false);
    expect(scheduleMatches(schedule, 'door.held_open', 'access_violation', 'grid-b', at)).toBe(false);
    const byCategory: SuppressionConfig = {
      id: 'quiet',
      categories: ['intrusion'],
      from: '00:00',
      to: '00:00',
    };
    expect(scheduleMatches(byCategory, 'door.forced_open', 'intrusion', 'grid-z', at)).toBe(true);
    expect(scheduleMatches(byCategory, 'door.held_open', 'access_violation', 'grid-z', at)).toBe(false);
  });

  it('covers from (inclusive) to to (exclusive) within a day', () => {
    const schedule: SuppressionConfig = { id: 'morning', from: '06:30', to: '08:30' };
    const covers = (minute: number) => scheduleMatches(schedule, 'x', 'y', 'g', { day: monday, minute });
    expect(covers(6 * 60 + 29)).toBe(false);
    expect(covers(6 * 60 + 30)).toBe(true);
    expect(covers(8 * 60 + 29)).toBe(true);
    expect(covers(8 * 60 + 30)).toBe(false);
  });

  it('runs across midnight when to is earlier than from: the morning belongs to the day it started', () => {
    const friday = 5;
    const covers = (day: number, minute: number) => scheduleMatches(nights, 'x', 'y', 'g', { day, minute });
    expect(covers(friday, 23 * 60)).toBe(true);
    expect(covers(friday + 1, 5 * 60)).toBe(true);
    expect(covers(friday + 1, 6 * 60)).toBe(false);
    expect(covers(friday, 5 * 60)).toBe(false);
    expect(covers(friday + 1, 23 * 60)).toBe(false);
    expect(covers(1, 0)).toBe(false);
  });

  it('covers the whole of its days when to equals from', () => {
    const allDay: SuppressionConfig = { id: 'all-day', from: '00:00', to: '00:00', days: [7] };
    expect(scheduleMatches(allDay, 'x', 'y', 'g', { day: 7, minute: 0 })).toBe(true);
    expect(scheduleMatches(allDay, 'x', 'y', 'g', { day: 7, minute: 23 * 60 + 59 })).toBe(true);
    expect(scheduleMatches(allDay, 'x', 'y', 'g', { day: 1, minute: 0 })).toBe(false);
  });
});

describe('RuleBook', () => {
  const book = new RuleBook([forced, held, tailgating, offline], {
    correlations: [
      {
        id: 'breach',
        events: ['door.forced_open', 'access.tailgating'],
        windowSeconds: 120,
        severity: 'critical',
      },
      {
        id: 'propped',
        events: ['door.held_open', 'door.forced_open'],
        windowSeconds: 0.5,
        severity: 'major',
      },
    ],
    suppressions: [
      {
        id: 'deliveries',
        events: ['door.held_open'],
        grids: ['grid-a'],
        days: [1, 2, 3, 4, 5],
        from: '06:30',
        to: '08:30',
      },
      { id: 'health-at-night', categories: ['device_offline'], from: '23:00', to: '05:00' },
    ],
    timezone: 'Asia/Shanghai',
  });

  it('looks up rules and clearing events by type', () => {
    expect(book.ruleFor('door.forced_open')).toBe(forced);
    expect(book.ruleFor('access.granted')).toBeUndefined();
    expect(book.clearedBy('device.online')).toEqual([offline]);
    expect(book.clearedBy('door.forced_open')).toBeUndefined();
  });

  it('gives each event type the correlations it takes part in, with their windows in ms', () => {
    expect(book.correlationsOf('door.forced_open').map((correlation) => correlation.id)).toEqual([
      'breach',
      'propped',
    ]);
    const [breach] = book.correlationsOf('access.tailgating');
    expect(breach).toMatchObject({ id: 'breach', windowMs: 120_000, severity: 'critical', title: undefined });
    expect(breach?.events).toEqual(new Set(['door.forced_open', 'access.tailgating']));
    expect(book.correlationsOf('door.held_open').map((correlation) => correlation.windowMs)).toEqual([500]);
    expect(book.correlationsOf('device.offline')).toEqual([]);
  });

  it('suppresses by schedule in the hub time zone, for the event types, categories and grids it names', () => {
    const mondayMorning = shanghai('2026-11-23T07:15:00');
    expect(book.scheduledSuppression(held, 'grid-a', mondayMorning)?.id).toBe('deliveries');
    expect(book.scheduledSuppression(held, 'grid-b', mondayMorning)).toBeUndefined();
    expect(book.scheduledSuppression(forced, 'grid-a', mondayMorning)).toBeUndefined();
    expect(book.scheduledSuppression(held, 'grid-a', shanghai('2026-11-23T08:30:00'))).toBeUndefined();
    // Sunday 2026-11-29: not one of the schedule's days.
    expect(book.scheduledSuppression(held, 'grid-a', shanghai('2026-11-29T07:15:00'))).toBeUndefined();
    expect(book.scheduledSuppression(offline, 'grid-z', shanghai('2026-11-24T02:00:00'))?.id).toBe(
      'health-at-night',
    );
    expect(book.scheduledSuppression(offline, 'grid-z', shanghai('2026-11-24T12:00:00'))).toBeUndefined();
  });

  it('reads the local time afresh when the minute turns, and when the clock goes back', () => {
    const justBefore = shanghai('2026-11-23T06:29:59.999');
    expect(book.scheduledSuppression(held, 'grid-a', justBefore)).toBeUndefined();
    expect(book.scheduledSuppression(held, 'grid-a', justBefore + 1)?.id).toBe('deliveries');
    expect(book.scheduledSuppression(held, 'grid-a', justBefore)).toBeUndefined();
  });

  it('has no correlations or schedules when given only rules', () => {
    const plain = new RuleBook([forced]);
    expect(plain.correlationsOf('door.forced_open')).toEqual([]);
    expect(plain.scheduledSuppression(forced, 'grid-a', Date.now())).toBeUndefined();
  });
});
