import type { Principal } from '../core/principal.ts';
import { minuteOfClock } from './patrol-dates.ts';
import type { MissKind, PatrolService } from './patrol-service.ts';

/**
 * Where a duty of a day stands: done; not yet (its deadline still ahead); overdue (the deadline passed and the duty
 * sweep has raised no case, yet: it runs every sweepSeconds, or a zero report was not owed because a person reported
 * a case that day); missed (the sweep raised its case to the chief); not required (zero reports switched off).
 */
export type DutyState = 'done' | 'pending' | 'overdue' | 'missed' | 'not_required';

/** What needs the centre's attention first: a missed duty, then an overdue one, then one still open. */
const attention: Readonly<Record<DutyState, number>> = {
  missed: 0,
  overdue: 1,
  pending: 2,
  done: 3,
  not_required: 3,
};

export interface BoardGrid {
  readonly gridId: string;
  readonly name: string;
  readonly required: number;
  readonly visited: number;
  readonly completed: boolean;
  readonly patrol: DutyState;
  readonly zeroReportState: DutyState;
  readonly zeroReport: {
    readonly at: string;
    readonly userId: string;
    readonly name: string;
    readonly note?: string;
  } | null;
  /** The grid's workers and whoever checked in there that day, with how many check-ins each. */
  readonly workers: readonly { readonly userId: string; readonly name: string; readonly checkins: number }[];
  /** The cases the duty sweep raised for the day's misses, by kind. */
  readonly cases: Partial<Record<MissKind, string>>;
}

/**
 * The centre's patrol board (the officer console's 巡查 view): every patrol grid the reader sees, for one local date,
 * in one answer (a district has dozens of grids: one call instead of one per grid), most urgent first. Names, not
 * ids, are in the answer so the page shows people as the officers know them.
 */
export async function patrolBoard(patrols: PatrolService, reader: Principal, date: string) {
  const now = patrols.now();
  const today = patrols.days.date(now);
  const minute = patrols.days.minute(now);
  const { settings } = patrols;
  const passed = (clock: string) => date < today || (date === today && minute >= minuteOfClock(clock));
  const state = (done: boolean, missed: boolean, deadline: string): DutyState =>
    done ? 'done' : missed ? 'missed' : passed(deadline) ? 'overdue' : 'pending';
  const grids = patrols.grids.filter((grid) => patrols.mayRead(reader, grid.grid));
  const rows: BoardGrid[] = await Promise.all(
    grids.map(async ({ grid: gridId }) => {
      const [day, checkins, report, patrolMiss, zeroMiss] = await Promise.all([
        patrols.computeDay(gridId, date),
        patrols.checkins(gridId, date),
        patrols.zeroReportOf(gridId, date),
        patrols.missOf(gridId, date, 'patrol'),
        patrols.missOf(gridId, date, 'zero_report'),
      ]);
      const counts = new Map(patrols.workersOf(gridId).map((userId) => [userId, 0]));
      for (const checkin of checkins) counts.set(checkin.userId, (counts.get(checkin.userId) ?? 0) + 1);
      const cases: Partial<Record<MissKind, string>> = {};
      if (patrolMiss) cases.patrol = patrolMiss.incidentId;
      if (zeroMiss) cases.zero_report = zeroMiss.incidentId;
      return {
        gridId,
        name: patrols.gridName(gridId),
        required: day.required,
        visited: day.visited.length,
        completed: day.completed,
        patrol: state(day.completed, patrolMiss !== undefined, settings.patrolBy),
        zeroReportState: settings.zeroReportRequired
          ? state(report !== undefined, zeroMiss !== undefined, settings.zeroReportBy)
          : report === undefined
            ? 'not_required'
            : 'done',
        zeroReport:
          report === undefined
            ? null
            : {
                at: report.at,
                userId: report.userId,
                name: patrols.nameOf(report.userId),
                ...(report.note === undefined ? {} : { note: report.note }),
              },
        workers: [...counts].map(([userId, count]) => ({
          userId,
          name: patrols.nameOf(userId),
          checkins: count,
        })),
        cases,
      };
    }),
  );
  const rank = (row: BoardGrid) => Math.min(attention[row.patrol], attention[row.zeroReportState]);
  rows.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.visited / (a.required || 1) - b.visited / (b.required || 1) ||
      a.name.localeCompare(b.name, 'zh-CN'),
  );
  return { date, today, patrolBy: settings.patrolBy, zeroReportBy: settings.zeroReportBy, grids: rows };
}
