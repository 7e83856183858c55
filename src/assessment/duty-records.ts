import type { Store } from '../store/store.ts';
import { type DutyMiss, dutyMissesCollection, type PatrolDay, patrolDaysCollection } from './scores.ts';

const isText = (value: unknown): value is string => typeof value === 'string';
const isTexts = (value: unknown): boolean => Array.isArray(value) && value.every(isText);
const isDate = (value: unknown) => isText(value) && /^\d{4}-\d{2}-\d{2}$/.test(value);

function isPatrolDay(value: PatrolDay): boolean {
  return (
    isText(value?.gridId) &&
    isDate(value.date) &&
    typeof value.completed === 'boolean' &&
    isTexts(value.userIds)
  );
}

function isDutyMiss(value: DutyMiss): boolean {
  return (
    isText(value?.gridId) &&
    isDate(value.date) &&
    (value.kind === 'patrol' || value.kind === 'zero_report') &&
    isTexts(value.userIds)
  );
}

/** A collection's records of the grids in the month: keys start `${gridId}/${month}-` (dates are local). */
async function recordsOf<T>(
  store: Store,
  collection: string,
  gridIds: readonly string[],
  month: string,
  valid: (value: T) => boolean,
): Promise<T[]> {
  const lists = await Promise.all(
    gridIds.map((gridId) => store.listRecords<T>(collection, `${gridId}/${month}-`)),
  );
  return lists
    .flat()
    .map((record) => record.value)
    .filter((value) => valid(value));
}

/**
 * The patrols' records of the grids' month (written by the patrols, #25 point 5): the days patrolled and the duties
 * missed. A record without the documented shape is left out rather than misread, and counted in `malformed`.
 */
export async function dutyRecordsOf(
  store: Store,
  gridIds: readonly string[],
  month: string,
): Promise<{ patrolDays: PatrolDay[]; dutyMisses: DutyMiss[]; malformed: number }> {
  let malformed = 0;
  const check =
    <T>(valid: (value: T) => boolean) =>
    (value: T) => {
      const ok = valid(value);
      if (!ok) malformed += 1;
      return ok;
    };
  const [patrolDays, dutyMisses] = await Promise.all([
    recordsOf<PatrolDay>(store, patrolDaysCollection, gridIds, month, check(isPatrolDay)),
    recordsOf<DutyMiss>(store, dutyMissesCollection, gridIds, month, check(isDutyMiss)),
  ]);
  return { patrolDays, dutyMisses, malformed };
}
