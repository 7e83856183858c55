import type { AuditEntry } from '../core/audit.ts';
import { GridhubError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import type { People, UserDescription } from '../core/user.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Store } from '../store/store.ts';
import type { PatrolCheckin, PatrolService } from './patrol-service.ts';

/** The case actions a work log lists, each with its Chinese label (the audit's `incident.<action>`). */
export const caseActivities: Readonly<Record<string, string>> = {
  'case.report': '上报案件',
  'incident.create': '上报案件',
  'incident.report': '上报案件',
  'incident.register': '登记案件',
  'incident.accept': '受理案件',
  'incident.arrive': '到达现场',
  'incident.resolve': '处置完成',
  'incident.evidence': '上传照片/视频',
};

export interface WorkLogEntry {
  /** ISO 8601. */
  readonly at: string;
  readonly kind: 'checkin' | 'zero_report' | 'case';
  /** The audit action for cases; the method for check-ins. */
  readonly action: string;
  /** What it was about: a point id, a grid id, an incident id. */
  readonly target: string;
  /** The Chinese line of the printed log. */
  readonly text: string;
}

export interface WorkLog {
  readonly userId: string;
  readonly name: string;
  readonly date: string;
  readonly grids: readonly {
    readonly gridId: string;
    /** The grid's name (the text log shows names, not ids). */
    readonly name: string;
    readonly required: number;
    readonly visited: readonly string[];
    readonly completed: boolean;
    readonly zeroReport: boolean;
  }[];
  readonly checkins: number;
  readonly cases: Readonly<Record<string, number>>;
  readonly uploads: number;
  /** How many positions the worker shared that day (never where). */
  readonly positionsShared: number;
  readonly entries: readonly WorkLogEntry[];
}

const auditPage = 1000;
const auditPages = 50;

/**
 * The daily work log (工作日志) of a grid worker (方案4: 认真填写网格责任人工作日志, 做到工作日清周结), generated from
 * what they did that day: check-ins, the patrol's completion, the zero report, case actions and uploads from the
 * audit trail, and the count of positions shared.
 */
export class WorkLogs {
  readonly #patrols: PatrolService;
  readonly #store: Pick<Store, 'listAudit' | 'listRecords' | 'getRecord'>;
  readonly #people: People;
  readonly #jurisdiction: Jurisdiction;

  constructor(options: {
    patrols: PatrolService;
    store: Pick<Store, 'listAudit' | 'listRecords' | 'getRecord'>;
    people: People;
    jurisdiction: Jurisdiction;
  }) {
    this.#patrols = options.patrols;
    this.#store = options.store;
    this.#people = options.people;
    this.#jurisdiction = options.jurisdiction;
  }

  /** The worker themself, a chief of one of their grids, officers above them, admins. */
  #mayRead(reader: Principal, user: UserDescription): boolean {
    if (reader.userId === user.id) return true;
    if (reader.role === 'grid_worker' || reader.role === 'integrator') return false;
    return (user.grids ?? []).some((gridId) =>
      reader.scopeNodeIds.some((scope) => this.#jurisdiction.isWithin(gridId, scope)),
    );
  }

  async of(reader: Principal, userId: string, date: string): Promise<WorkLog> {
    const user = this.#people.get(userId);
    if (user === undefined || !this.#mayRead(reader, user))
      throw new GridhubError(
        'forbidden',
        'you may read only your own work log or those of your grids’ workers',
      );
    const [from, to] = this.#patrols.days.span(date);
    const entries: WorkLogEntry[] = [];
    const grids: WorkLog['grids'][number][] = [];
    let checkinCount = 0;
    for (const gridId of user.grids ?? []) {
      const grid = this.#patrols.grid(gridId);
      const checkins = (await this.#patrols.checkins(gridId, date)).filter(
        (checkin) => checkin.userId === userId,
      );
      checkinCount += checkins.length;
      for (const checkin of checkins) entries.push(checkinEntry(checkin, this.#pointName(checkin.pointId)));
      const zero = await this.#patrols.zeroReportOf(gridId, date);
      if (zero?.userId === userId)
        entries.push({
          at: zero.at,
          kind: 'zero_report',
          action: 'zero_report',
          target: gridId,
          text: `零报告(${this.#patrols.gridName(gridId)})${zero.note === undefined ? '' : `:${zero.note}`}`,
        });
      if (grid !== undefined) {
        const day = await this.#patrols.computeDay(gridId, date);
        grids.push({
          gridId,
          name: this.#patrols.gridName(gridId),
          required: day.required,
          visited: day.visited,
          completed: day.completed,
          zeroReport: zero !== undefined,
        });
      }
    }
    const cases: Record<string, number> = {};
    let uploads = 0;
    for (const entry of await this.#auditOf(userId, from, to)) {
      const label = caseActivities[entry.action];
      if (label === undefined || entry.outcome !== 'ok') continue;
      if (entry.action === 'incident.evidence') uploads += 1;
      else
        cases[entry.action.slice('incident.'.length)] =
          (cases[entry.action.slice('incident.'.length)] ?? 0) + 1;
      entries.push({
        at: entry.at,
        kind: 'case',
        action: entry.action,
        target: entry.target.id,
        text: `${label} ${entry.target.id}`,
      });
    }
    const positionsShared = (await this.#patrols.positionsOf(userId, from, to)).length;
    entries.sort((a, b) => a.at.localeCompare(b.at));
    return {
      userId,
      name: user.name,
      date,
      grids,
      checkins: checkinCount,
      cases,
      uploads,
      positionsShared,
      entries,
    };
  }

  #pointName(pointId: string): string {
    return this.#patrols.point(pointId)?.point.name ?? pointId;
  }

  /** The user's audit entries in [from, to), newest pages first until older than `from`. */
  async #auditOf(userId: string, from: number, to: number): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    let before: string | undefined;
    for (let page = 0; page < auditPages; page++) {
      const entries = await this.#store.listAudit({
        limit: auditPage,
        ...(before === undefined ? {} : { before }),
      });
      for (const entry of entries) {
        const at = Date.parse(entry.at);
        if (entry.actor.userId === userId && at >= from && at < to) found.push(entry);
      }
      const oldest = entries.at(-1);
      if (oldest === undefined || entries.length < auditPage || Date.parse(oldest.at) < from) break;
      before = oldest.id;
    }
    return found;
  }
}

function checkinEntry(checkin: PatrolCheckin, pointName: string): WorkLogEntry {
  const how = checkin.method === 'qr' ? '扫码' : '定位';
  return {
    at: checkin.at,
    kind: 'checkin',
    action: checkin.method,
    target: checkin.pointId,
    text: `巡查签到(${how}):${pointName}`,
  };
}

/** A field for CSV: quoted when it holds a comma, quote or line break; a leading formula character defused. */
function csvField(value: string): string {
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The work log as printable Chinese text, times in the hub's zone. */
export function workLogText(log: WorkLog, time: (iso: string) => string): string {
  const lines = [
    `网格员工作日志  ${log.name}  ${log.date}`,
    ...log.grids.map(
      (grid) =>
        `网格 ${grid.name}:巡查 ${grid.visited.length}/${grid.required} 点,${grid.completed ? '已完成' : '未完成'};零报告:${grid.zeroReport ? '已报' : '未报'}`,
    ),
    `签到 ${log.checkins} 次;上传照片/视频 ${log.uploads} 件;共享位置 ${log.positionsShared} 次`,
    `案件:上报 ${(log.cases.create ?? 0) + (log.cases.report ?? 0) + (log.cases.register ?? 0)},受理 ${log.cases.accept ?? 0},到达 ${log.cases.arrive ?? 0},处置 ${log.cases.resolve ?? 0}`,
    '',
    ...log.entries.map((entry) => `${time(entry.at)}  ${entry.text}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The work log as CSV (时间, 类别, 内容), with a BOM so spreadsheet programs read it as UTF-8. */
export function workLogCsv(log: WorkLog, time: (iso: string) => string): string {
  const kinds: Record<WorkLogEntry['kind'], string> = {
    checkin: '签到',
    zero_report: '零报告',
    case: '案件',
  };
  const rows = [
    ['时间', '类别', '内容', '对象'],
    ...log.entries.map((entry) => [time(entry.at), kinds[entry.kind], entry.text, entry.target]),
  ];
  return `\uFEFF${rows.map((row) => row.map(csvField).join(',')).join('\r\n')}\r\n`;
}
