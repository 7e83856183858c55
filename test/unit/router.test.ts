import { describe, expect, it } from 'vitest';
import type { RosterConfig, UserConfig } from '../../src/config/schema.ts';
import type { GridChain } from '../../src/core/jurisdiction.ts';
import { fixedPeople } from '../../src/core/user.ts';
import { localTime, Router, shiftCovers } from '../../src/incidents/router.ts';

const chain: GridChain = [
  { id: 'g1', name: 'G1', level: 'grid' },
  { id: 'c1', name: 'C1', level: 'community' },
  { id: 's1', name: 'S1', level: 'street' },
  { id: 'd1', name: 'D1', level: 'district' },
];
const user = (
  id: string,
  role: UserConfig['role'],
  where: { grids?: string[]; scope?: string },
): UserConfig => ({
  id,
  name: id,
  role,
  token: `${id}-token`,
  ...where,
});
const users: UserConfig[] = [
  user('day', 'grid_worker', { grids: ['g1'] }),
  user('night', 'grid_worker', { grids: ['g1'] }),
  user('chief', 'grid_chief', { grids: ['g1'] }),
  user('community-officer', 'duty_officer', { scope: 'c1' }),
  user('street-officer', 'duty_officer', { scope: 's1' }),
  user('district-officer', 'duty_officer', { scope: 'd1' }),
  user('fixer', 'integrator', { scope: 's1' }),
  user('elsewhere-fixer', 'integrator', { scope: 's2' }),
];
const routing = { emergencyCategories: ['emergency'], deviceHealthCategories: ['device_offline'] };
// 2026-11-23 is a Monday; 02:00 UTC is 10:00 in Shanghai, 14:00 UTC is 22:00.
const mondayMorning = Date.parse('2026-11-23T02:00:00Z');
const mondayNight = Date.parse('2026-11-23T14:00:00Z');
const tuesdayEarly = Date.parse('2026-11-23T19:30:00Z'); // 03:30 Tuesday in Shanghai
const roster: RosterConfig = {
  grid: 'g1',
  shifts: [
    { users: ['day'], days: [1, 2, 3, 4, 5], from: '08:00', to: '20:00' },
    { users: ['night'], days: [1], from: '20:00', to: '08:00' },
  ],
};

describe('duty rosters', () => {
  it('reads the local weekday and minute in the hub’s time zone', () => {
    const clock = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Asia/Shanghai',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    expect(localTime(mondayMorning, clock)).toEqual({ day: 1, minute: 600 });
    expect(localTime(tuesdayEarly, clock)).toEqual({ day: 2, minute: 210 });
  });

  it('covers a day shift on its days only, and a night shift across midnight from the day it starts', () => {
    const [day, night] = roster.shifts as [RosterConfig['shifts'][number], RosterConfig['shifts'][number]];
    expect(shiftCovers(day, 1, 600)).toBe(true);
    expect(shiftCovers(day, 6, 600)).toBe(false);
    expect(shiftCovers(day, 1, 1200)).toBe(false);
    expect(shiftCovers(night, 1, 1320)).toBe(true);
    expect(shiftCovers(night, 2, 210)).toBe(true);
    expect(shiftCovers(night, 3, 210)).toBe(false);
    expect(shiftCovers({ users: ['x'], from: '00:00', to: '00:00' }, 4, 1439)).toBe(true);
  });

  it('puts the workers of the current shift on duty, and all workers of a grid without a roster', () => {
    const router = new Router(fixedPeople(users), [roster], routing, 'Asia/Shanghai');
    expect(router.onDuty('g1', mondayMorning)).toEqual(['day']);
    expect(router.onDuty('g1', mondayNight)).toEqual(['night']);
    expect(router.onDuty('g1', tuesdayEarly)).toEqual(['night']);
    expect(new Router(fixedPeople(users), [], routing, 'Asia/Shanghai').onDuty('g1', mondayNight)).toEqual([
      'day',
      'night',
    ]);
  });
});

describe('routing a new case', () => {
  const router = new Router(fixedPeople(users), [roster], routing, 'Asia/Shanghai');
  const saturdayMorning = Date.parse('2026-11-28T02:00:00Z');

  it('goes to the worker on duty in its grid', () => {
    expect(router.route({ gridId: 'g1', chain, category: 'intrusion' }, mondayMorning)).toEqual({
      assignees: ['day'],
      responsibleNodeId: 'g1',
    });
  });

  it('goes to the grid chief when nobody is on duty, and to the community centre without a chief', () => {
    expect(router.route({ gridId: 'g1', chain, category: 'intrusion' }, saturdayMorning)).toEqual({
      assignees: ['chief'],
      responsibleNodeId: 'g1',
    });
    const noChief = new Router(
      fixedPeople(users.filter((candidate) => candidate.role !== 'grid_chief')),
      [roster],
      routing,
      'Asia/Shanghai',
    );
    expect(noChief.route({ gridId: 'g1', chain, category: 'intrusion' }, saturdayMorning)).toEqual({
      assignees: [],
      responsibleNodeId: 'c1',
    });
  });

  it('sends an emergency to the worker and the community and street centres at once', () => {
    expect(router.route({ gridId: 'g1', chain, category: 'emergency' }, mondayMorning).assignees).toEqual([
      'day',
      'community-officer',
      'street-officer',
    ]);
  });

  it('sends device health to the integrators of the area, not to the worker', () => {
    expect(
      router.route({ gridId: 'g1', chain, category: 'device_offline' }, mondayMorning).assignees,
    ).toEqual(['fixer']);
  });
});
