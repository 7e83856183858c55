import type { RoutingDescription } from '../core/dispatch.ts';
import { chainInScope, type GridChain } from '../core/jurisdiction.ts';
import type { RosterDescription, ShiftDescription } from '../core/roster.ts';
import type { People } from '../core/user.ts';

export interface Route {
  /** Who must act: user ids. Empty when nobody can be found and the responsible centre must dispatch by hand. */
  readonly assignees: readonly string[];
  /** The node whose centre answers for the case from the start: the grid, or the community when nobody is there. */
  readonly responsibleNodeId: string;
}

export interface RoutingTarget {
  readonly gridId: string;
  readonly chain: GridChain;
  readonly category: string;
}

/** A formatter of the weekday and time of day in a time zone, for localTime(). Rosters and schedules share it. */
export function localClock(timezone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
}

/** Local day (1 = Monday … 7 = Sunday) and minute of the day in a time zone. */
export function localTime(now: number, formatter: Intl.DateTimeFormat): { day: number; minute: number } {
  const parts = Object.fromEntries(formatter.formatToParts(now).map((part) => [part.type, part.value]));
  const days = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 } as Record<string, number>;
  return { day: days[parts.weekday ?? ''] ?? 1, minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

function minuteOf(clock: string): number {
  return Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
}

/** True when the shift covers this local time. A shift with to ≤ from runs across midnight (to = from: all day). */
export function shiftCovers(shift: ShiftDescription, day: number, minute: number): boolean {
  const from = minuteOf(shift.from);
  const to = minuteOf(shift.to);
  if (to > from) return (shift.days?.includes(day) ?? true) && minute >= from && minute < to;
  if (to === from) return shift.days?.includes(day) ?? true;
  // Across midnight: the evening part belongs to the day it starts on, the morning part to the day before.
  if (minute >= from) return shift.days?.includes(day) ?? true;
  const yesterday = day === 1 ? 7 : day - 1;
  return minute < to && (shift.days?.includes(yesterday) ?? true);
}

/**
 * Who a new device-triggered case goes to, as the documents' workflow says: the grid worker(s) on duty by the
 * roster; with nobody on duty, the grid chief, then the community centre. Emergencies go to the worker and to the
 * community and street centres at once. Device-health cases go to the integrators who maintain the area.
 */
export class Router {
  readonly #people: People;
  readonly #routing: RoutingDescription;
  readonly #rosters = new Map<string, RosterDescription>();
  readonly #clock: Intl.DateTimeFormat;

  constructor(
    people: People,
    rosters: readonly RosterDescription[],
    routing: RoutingDescription,
    timezone: string,
  ) {
    this.#people = people;
    this.#routing = routing;
    for (const roster of rosters) this.#rosters.set(roster.grid, roster);
    this.#clock = localClock(timezone);
  }

  isEmergency(category: string): boolean {
    return this.#routing.emergencyCategories.includes(category);
  }

  roster(gridId: string): RosterDescription | undefined {
    return this.#rosters.get(gridId);
  }

  setRoster(roster: RosterDescription): void {
    this.#rosters.set(roster.grid, roster);
  }

  /** Grid workers on duty in the grid now: by its roster, or all its workers when it has none. */
  onDuty(gridId: string, now: number): string[] {
    const roster = this.#rosters.get(gridId);
    if (roster === undefined) return this.#withGrid('grid_worker', gridId);
    return this.#onShift(roster, now);
  }

  /**
   * Duty officers on duty at a centre (a community, street or district node) now: by the centre's roster, or all
   * the officers of the centre when it has none.
   */
  officersOnDuty(nodeId: string, now: number): string[] {
    const roster = this.#rosters.get(nodeId);
    if (roster === undefined) return this.#officersOf(nodeId);
    return this.#onShift(roster, now);
  }

  /** Who the roster has on shift now, of the people the hub knows: a disabled or removed account is nobody's duty. */
  #onShift(roster: RosterDescription, now: number): string[] {
    const { day, minute } = localTime(now, this.#clock);
    const users = roster.shifts
      .filter((shift) => shiftCovers(shift, day, minute))
      .flatMap((shift) => shift.users);
    return [...new Set(users)].filter((userId) => this.#people.get(userId) !== undefined);
  }

  route(target: RoutingTarget, now: number): Route {
    const [grid, community, street] = target.chain;
    const gridId = grid?.id ?? target.gridId;
    const communityOfficers = community === undefined ? [] : this.#officersOf(community.id);
    if (this.#routing.deviceHealthCategories.includes(target.category)) {
      const integrators = this.#people
        .all()
        .filter((user) => user.role === 'integrator' && user.scope !== undefined)
        .filter((user) => chainInScope(target.chain, [user.scope as string]))
        .map((user) => user.id);
      if (integrators.length > 0) return { assignees: integrators, responsibleNodeId: gridId };
    }
    const workers = this.onDuty(gridId, now);
    const firstLine = workers.length > 0 ? workers : this.#withGrid('grid_chief', gridId);
    if (this.#routing.emergencyCategories.includes(target.category)) {
      const streetOfficers = street === undefined ? [] : this.#officersOf(street.id);
      return {
        assignees: [...new Set([...firstLine, ...communityOfficers, ...streetOfficers])],
        responsibleNodeId: gridId,
      };
    }
    if (firstLine.length > 0) return { assignees: firstLine, responsibleNodeId: gridId };
    // Nobody in the grid: the community acceptance centre answers for it and dispatches.
    return { assignees: [], responsibleNodeId: community?.id ?? gridId };
  }

  #withGrid(role: 'grid_worker' | 'grid_chief', gridId: string): string[] {
    return this.#people
      .all()
      .filter((user) => user.role === role && user.grids?.includes(gridId))
      .map((user) => user.id);
  }

  #officersOf(nodeId: string): string[] {
    return this.#people
      .all()
      .filter((user) => user.role === 'duty_officer' && user.scope === nodeId)
      .map((user) => user.id);
  }
}
