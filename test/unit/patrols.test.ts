import gcoord from 'gcoord';
import { describe, expect, it } from 'vitest';
import { dueKinds, isMissed } from '../../src/patrols/duty-sweep.ts';
import { LocalDays } from '../../src/patrols/patrol-dates.ts';
import { patrolProblems, patrolsSchema } from '../../src/patrols/patrol-schema.ts';
import { judgeGeofence } from '../../src/patrols/patrol-service.ts';
import { workLogCsv, workLogText } from '../../src/patrols/work-log.ts';

const settings = patrolsSchema.parse({ patrolBy: '18:00', zeroReportBy: '20:00' });

describe('the geofence of a patrol point', () => {
  const point = { position: [116.3043, 39.932] as [number, number], radiusM: 50 };

  it('takes a position within the radius plus the fix’s accuracy, and not one beyond it', () => {
    // 0.0001° of latitude is about 11.1 m.
    expect(judgeGeofence(point, { lon: 116.3043, lat: 39.9324, accuracyM: 5 }, 'WGS84')).toEqual({
      distanceM: 44,
      within: true,
    });
    expect(judgeGeofence(point, { lon: 116.3043, lat: 39.9326, accuracyM: 5 }, 'WGS84')).toMatchObject({
      distanceM: 67,
      within: false,
    });
    // The same 67 m with a fix of ±20 m: it may well be there.
    expect(judgeGeofence(point, { lon: 116.3043, lat: 39.9326, accuracyM: 20 }, 'WGS84').within).toBe(true);
  });

  it('converts a GCJ-02 point to the phone’s WGS84 before measuring (the offset is hundreds of metres)', () => {
    const [lon, lat] = gcoord.transform([116.3043, 39.932], gcoord.GCJ02, gcoord.WGS84) as [number, number];
    expect(judgeGeofence(point, { lon, lat, accuracyM: 5 }, 'GCJ02')).toEqual({ distanceM: 0, within: true });
    // Read as if the point were WGS84, the phone standing at it would be far off.
    expect(judgeGeofence(point, { lon, lat, accuracyM: 5 }, 'WGS84').within).toBe(false);
  });
});

describe('local days in Asia/Shanghai', () => {
  const days = new LocalDays('Asia/Shanghai');

  it('puts an instant on its local date, across UTC midnight', () => {
    // 15:59 UTC is 23:59 in Shanghai; 16:00 UTC is already the next day there.
    expect(days.date(Date.parse('2026-12-07T15:59:00Z'))).toBe('2026-12-07');
    expect(days.date(Date.parse('2026-12-07T16:00:00Z'))).toBe('2026-12-08');
    expect(days.minute(Date.parse('2026-12-07T16:00:00Z'))).toBe(0);
    expect(days.minute(Date.parse('2026-12-07T23:30:00Z'))).toBe(7 * 60 + 30);
  });

  it('spans a local date from its local midnight to the next', () => {
    expect(days.span('2026-12-08').map((ms) => new Date(ms).toISOString())).toEqual([
      '2026-12-07T16:00:00.000Z',
      '2026-12-08T16:00:00.000Z',
    ]);
    expect(days.previous('2026-03-01')).toBe('2026-02-28');
  });

  it('spans a day of a zone changing its offset (Europe/Berlin, 23 hours)', () => {
    const berlin = new LocalDays('Europe/Berlin');
    const [from, to] = berlin.span('2026-03-29');
    expect(new Date(from).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect((to - from) / 3600_000).toBe(23);
  });
});

describe('the missed-duty sweep’s decisions', () => {
  const days = new LocalDays('Asia/Shanghai');
  const at = (iso: string) => days.minute(Date.parse(iso));
  const nothing = { patrolCompleted: false, zeroReported: false, caseReported: false };

  it('judges nothing before 18:00 local, the patrol from 18:00, the zero report from 20:00', () => {
    expect(dueKinds(at('2026-12-08T09:59:00Z'), settings)).toEqual([]); // 17:59 in Shanghai
    expect(dueKinds(at('2026-12-08T10:00:00Z'), settings)).toEqual(['patrol']);
    expect(dueKinds(at('2026-12-08T12:00:00Z'), settings)).toEqual(['patrol', 'zero_report']);
    // 00:30 the next local day (16:30 UTC): a new day, nothing due yet.
    expect(dueKinds(at('2026-12-08T16:30:00Z'), settings)).toEqual([]);
  });

  it('misses a patrol not completed; a zero report neither made nor excused by a reported case', () => {
    expect(isMissed('patrol', nothing, settings)).toBe(true);
    expect(isMissed('patrol', { ...nothing, patrolCompleted: true }, settings)).toBe(false);
    expect(isMissed('zero_report', nothing, settings)).toBe(true);
    expect(isMissed('zero_report', { ...nothing, zeroReported: true }, settings)).toBe(false);
    // A worker who reported a case that day found something: no zero report is owed.
    expect(isMissed('zero_report', { ...nothing, caseReported: true }, settings)).toBe(false);
    expect(isMissed('zero_report', nothing, { ...settings, zeroReportRequired: false })).toBe(false);
  });
});

describe('patrol settings the schema cannot check', () => {
  it('names an unknown grid, a grid listed twice and a point id used twice', () => {
    const point = { id: 'p1', name: 'A', position: [116.3, 39.9] };
    const patrols = patrolsSchema.parse({
      grids: [
        { grid: 'grid-a', points: [point] },
        { grid: 'grid-a', points: [{ ...point, id: 'p2' }] },
        { grid: 'grid-x', points: [point] },
      ],
    });
    expect(patrolProblems(patrols, (id) => id === 'grid-a')).toEqual([
      'patrols.grids[1].grid: "grid-a" is listed more than once',
      'patrols.grids[2].grid: no grid "grid-x"',
      'patrols.grids[2].points[0].id: "p1" is used more than once',
    ]);
  });
});

describe('the work log printed', () => {
  const log = {
    userId: 'w1',
    name: '赵磊',
    date: '2026-12-08',
    grids: [
      {
        gridId: 'grid-a',
        name: '第1网格',
        required: 3,
        visited: ['p1', 'p2'],
        completed: false,
        zeroReport: false,
      },
    ],
    checkins: 2,
    cases: { report: 1, accept: 2, resolve: 1 },
    uploads: 1,
    positionsShared: 40,
    entries: [
      {
        at: '2026-12-08T01:00:00.000Z',
        kind: 'checkin' as const,
        action: 'qr',
        target: 'p1',
        text: '巡查签到(扫码):北门',
      },
      {
        at: '2026-12-08T02:00:00.000Z',
        kind: 'zero_report' as const,
        action: 'zero_report',
        target: 'grid-a',
        text: '=HYPERLINK("x"),备注',
      },
    ],
  };
  const time = (iso: string) => iso.slice(11, 16);

  it('as text: the summary lines, then each entry at its time', () => {
    expect(workLogText(log, time).split('\n')).toEqual([
      '网格员工作日志  赵磊  2026-12-08',
      '网格 第1网格:巡查 2/3 点,未完成;零报告:未报',
      '签到 2 次;上传照片/视频 1 件;共享位置 40 次',
      '案件:上报 1,受理 2,到达 0,处置 1',
      '',
      '01:00  巡查签到(扫码):北门',
      '02:00  =HYPERLINK("x"),备注',
      '',
    ]);
  });

  it('as CSV: quoted where needed, and a cell starting a formula defused', () => {
    expect(workLogCsv(log, time).split('\r\n')).toEqual([
      '\uFEFF时间,类别,内容,对象',
      '01:00,签到,巡查签到(扫码):北门,p1',
      `02:00,零报告,"'=HYPERLINK(""x""),备注",grid-a`,
      '',
    ]);
  });
});
