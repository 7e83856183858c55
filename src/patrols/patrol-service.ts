import { createHmac, timingSafeEqual } from 'node:crypto';
import { GridhubError } from '../core/errors.ts';
import { KeyedSerial } from '../core/keyed-serial.ts';
import type { Principal } from '../core/principal.ts';
import type { People } from '../core/user.ts';
import { type CoordinateSystem, haversineM, toWgs84 } from '../field/geo.ts';
import type { Router } from '../incidents/router.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import { positionCollections } from '../positions/worker-positions.ts';
import type { Store } from '../store/store.ts';
import { LocalDays } from './patrol-dates.ts';
import { patrolMetrics } from './patrol-metrics.ts';
import type { GridPatrol, PatrolPoint, PatrolSettings } from './patrol-schema.ts';

/** The store's collections: the contract the monthly assessment (SCORING) reads. Keep them as they are. */
export const patrolCollections = {
  checkins: 'patrol-checkins',
  days: 'patrol-days',
  zeroReports: 'zero-reports',
  misses: 'duty-misses',
  /** The duty sweep's own progress: `judged`, the last local date whose deadlines were all judged. */
  sweeps: 'duty-sweeps',
} as const;

export type CheckinMethod = 'geofence' | 'qr';

export interface PatrolCheckin {
  readonly userId: string;
  readonly gridId: string;
  readonly pointId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly method: CheckinMethod;
  /** Geofence check-ins: where the phone was (WGS84). */
  readonly position?: { readonly lon: number; readonly lat: number; readonly accuracyM: number };
}

export interface PatrolDay {
  readonly gridId: string;
  readonly date: string;
  /** Points required that day. */
  readonly required: number;
  /** Point ids visited. */
  readonly visited: readonly string[];
  readonly completed: boolean;
  readonly userIds: readonly string[];
}

export interface ZeroReport {
  readonly gridId: string;
  readonly date: string;
  readonly userId: string;
  readonly at: string;
  readonly note?: string;
}

export type MissKind = 'patrol' | 'zero_report';

export interface DutyMiss {
  readonly gridId: string;
  readonly date: string;
  readonly kind: MissKind;
  /** The workers on duty that day. */
  readonly userIds: readonly string[];
  /** The case raised to the grid chief. */
  readonly incidentId: string;
  /**
   * Set while the case is being raised (the intent, written before it): a record still pending on a later sweep
   * is completed, the case created under this incidentId unless it exists. Absent once raised.
   */
  readonly pendingSince?: string;
}

export interface CheckinRequest {
  readonly pointId: string;
  readonly method: CheckinMethod;
  readonly position?: { readonly lon: number; readonly lat: number; readonly accuracyM: number } | undefined;
  readonly code?: string | undefined;
}

export interface PatrolServiceOptions {
  readonly settings: PatrolSettings;
  readonly store: Pick<Store, 'putRecord' | 'getRecord' | 'listRecords' | 'claim'>;
  readonly router: Pick<Router, 'roster' | 'onDuty'>;
  readonly jurisdiction: Jurisdiction;
  /** The people the hub knows now (accounts.people): a grid's workers and chiefs. */
  readonly people: People;
  /** map.coordinates: the system the points' positions are in. */
  readonly coordinates: CoordinateSystem;
  readonly timezone: string;
  /** The key the QR codes are signed with, when patrols.qrSecret is not set (hub.identifierHashKey). */
  readonly fallbackKey: string;
  readonly metrics: MetricsRegistry;
  readonly now?: (() => number) | undefined;
}

/** Epoch ms padded so that check-in keys sort by time. */
const keyDigits = 15;
/** The signature's length in a QR token (base64url characters: 132 bits). */
const signatureChars = 22;

/**
 * Whether a phone's position (WGS84) is at a patrol point (map.coordinates, converted as field/geo.ts does): within
 * its radius plus the fix's accuracy (a fix of ±30 m 60 m from a 50 m point may well be there).
 */
export function judgeGeofence(
  point: Pick<PatrolPoint, 'position' | 'radiusM'>,
  position: { readonly lon: number; readonly lat: number; readonly accuracyM: number },
  coordinates: CoordinateSystem,
): { distanceM: number; within: boolean } {
  const distanceM = Math.round(
    haversineM(toWgs84(point.position, coordinates), [position.lon, position.lat]),
  );
  return { distanceM, within: distanceM <= point.radiusM + position.accuracyM };
}

/** The roles that patrol grids (and check in). */
export const patrollingRoles = ['grid_worker', 'grid_chief'] as const;

/**
 * Patrols (#25 point 5): each grid's points (config patrols.grids), check-ins by the phone's position inside a
 * point's geofence or by its posted QR code (an HMAC over the point id), the day's patrol of a grid kept as check-ins
 * come, and the zero report (零报告). Records are kept for patrols.retentionDays: the monthly assessment reads them.
 */
export class PatrolService {
  readonly #options: PatrolServiceOptions;
  readonly #settings: PatrolSettings;
  readonly #now: () => number;
  readonly days: LocalDays;
  readonly #metrics: ReturnType<typeof patrolMetrics>;
  readonly #points = new Map<string, { readonly grid: GridPatrol; readonly point: PatrolPoint }>();
  readonly #grids = new Map<string, GridPatrol>();
  readonly #key: string;
  /** One day-record update at a time per grid and date (this instance): check-ins racing do not lose a visit. */
  readonly #dayWrites = new KeyedSerial();

  constructor(options: PatrolServiceOptions) {
    this.#options = options;
    this.#settings = options.settings;
    this.#now = options.now ?? Date.now;
    this.days = new LocalDays(options.timezone);
    this.#metrics = patrolMetrics(options.metrics);
    this.#key = options.settings.qrSecret ?? `patrol-qr:${options.fallbackKey}`;
    for (const grid of options.settings.grids) {
      this.#grids.set(grid.grid, grid);
      for (const point of grid.points) this.#points.set(point.id, { grid, point });
    }
  }

  get timezone(): string {
    return this.#options.timezone;
  }

  get settings(): PatrolSettings {
    return this.#settings;
  }

  now(): number {
    return this.#now();
  }

  /** The grids with a patrol. */
  get grids(): readonly GridPatrol[] {
    return [...this.#grids.values()];
  }

  grid(gridId: string): GridPatrol | undefined {
    return this.#grids.get(gridId);
  }

  point(pointId: string): { readonly grid: GridPatrol; readonly point: PatrolPoint } | undefined {
    return this.#points.get(pointId);
  }

  /** How many of a grid's points must be visited in a day. */
  required(grid: GridPatrol): number {
    return grid.required === 'all' ? grid.points.length : Math.min(grid.required, grid.points.length);
  }

  /** The signed code printed at a point: `pointId.signature`. */
  qrToken(pointId: string): string {
    return `${pointId}.${this.#sign(pointId)}`;
  }

  #sign(pointId: string): string {
    return createHmac('sha256', this.#key)
      .update(`patrol-point:${pointId}`)
      .digest('base64url')
      .slice(0, signatureChars);
  }

  #validCode(pointId: string, code: string): boolean {
    const expected = Buffer.from(this.qrToken(pointId));
    const given = Buffer.from(code);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** Whether the user is on duty in the grid now: a chief always is in theirs; a worker by the grid's roster. */
  onDuty(principal: Principal, gridId: string, now: number = this.#now()): boolean {
    if (!principal.scopeNodeIds.includes(gridId)) return false;
    if (principal.role === 'grid_chief') return true;
    const { router } = this.#options;
    return router.roster(gridId) === undefined || router.onDuty(gridId, now).includes(principal.userId);
  }

  /** The grid's workers on duty at some time of the day (the roster's, or all its workers). */
  workersOf(gridId: string): string[] {
    return this.#options.people
      .all()
      .filter((user) => user.role === 'grid_worker' && user.grids?.includes(gridId))
      .map((user) => user.id);
  }

  chiefsOf(gridId: string): string[] {
    return this.#options.people
      .all()
      .filter((user) => user.role === 'grid_chief' && user.grids?.includes(gridId))
      .map((user) => user.id);
  }

  /** Whether a reader may see a grid's patrol: its workers and chief (their grids), officers over it, admins. */
  mayRead(reader: Principal, gridId: string): boolean {
    if (reader.role === 'integrator') return false;
    return reader.scopeNodeIds.some((scope) => this.#options.jurisdiction.isWithin(gridId, scope));
  }

  /** Checks in at a patrol point, or refuses with the catalogue's error of why (the route counts it). */
  async checkIn(
    principal: Principal,
    request: CheckinRequest,
  ): Promise<{ checkin: PatrolCheckin; day: PatrolDay }> {
    const now = this.#now();
    const found = this.#points.get(request.pointId);
    if (found === undefined) throw new GridhubError('not_found', 'no such patrol point');
    const { grid, point } = found;
    const gridId = grid.grid;
    if (!principal.scopeNodeIds.includes(gridId)) throw new GridhubError('patrol_not_your_grid');
    if (!this.onDuty(principal, gridId, now)) throw new GridhubError('patrol_off_duty');
    let position: PatrolCheckin['position'];
    if (request.method === 'geofence') {
      position = request.position;
      if (position === undefined)
        throw new GridhubError('invalid_request', 'a geofence check-in needs the position', {
          problems: ['body.position: required for method geofence'],
        });
      if (position.accuracyM > this.#settings.maxAccuracyM)
        throw new GridhubError(
          'patrol_too_far',
          `the position is less accurate than ${this.#settings.maxAccuracyM} m: wait for a better fix`,
        );
      const fence = judgeGeofence(point, position, this.#options.coordinates);
      if (!fence.within)
        throw new GridhubError('patrol_too_far', `you are ${fence.distanceM} m from the point`);
    } else if (!point.qr || request.code === undefined || !this.#validCode(point.id, request.code)) {
      throw new GridhubError('patrol_bad_code');
    }
    const date = this.days.date(now);
    const prefix = `${gridId}/${date}/${principal.userId}/`;
    const mine = await this.#options.store.listRecords<PatrolCheckin>(patrolCollections.checkins, prefix);
    const windowMs = this.#settings.duplicateMinutes * 60_000;
    if (
      mine.some((record) => record.value.pointId === point.id && now - Date.parse(record.value.at) < windowMs)
    )
      throw new GridhubError('patrol_duplicate');
    const checkin: PatrolCheckin = {
      userId: principal.userId,
      gridId,
      pointId: point.id,
      at: new Date(now).toISOString(),
      method: request.method,
      ...(position === undefined
        ? {}
        : { position: { lon: position.lon, lat: position.lat, accuracyM: position.accuracyM } }),
    };
    await this.#options.store.putRecord(
      patrolCollections.checkins,
      `${prefix}${String(now).padStart(keyDigits, '0')}`,
      checkin,
      this.expiresAt(now),
    );
    this.#metrics.checkins.labels(request.method).inc();
    const day = await this.#updateDay(gridId, date);
    return { checkin, day };
  }

  /** When a record written now expires: patrols.retentionDays. */
  expiresAt(now: number): number {
    return now + this.#settings.retentionDays * 86_400_000;
  }

  /** The grid's check-ins of a local date, oldest first. */
  async checkins(gridId: string, date: string): Promise<PatrolCheckin[]> {
    const records = await this.#options.store.listRecords<PatrolCheckin>(
      patrolCollections.checkins,
      `${gridId}/${date}/`,
    );
    return records.map((record) => record.value).sort((a, b) => a.at.localeCompare(b.at));
  }

  /** The day's patrol of a grid as its check-ins make it (the record is written from this). */
  async computeDay(gridId: string, date: string): Promise<PatrolDay> {
    const grid = this.#grids.get(gridId);
    const checkins = await this.checkins(gridId, date);
    const known = new Set(grid?.points.map((point) => point.id) ?? []);
    const visited = [...new Set(checkins.map((checkin) => checkin.pointId))].filter((id) => known.has(id));
    const required = grid === undefined ? 0 : this.required(grid);
    return {
      gridId,
      date,
      required,
      visited,
      completed: required > 0 && visited.length >= required,
      userIds: [...new Set(checkins.map((checkin) => checkin.userId))],
    };
  }

  /** Writes the day's record again from its check-ins (as check-ins come, and finalised by the sweep). */
  #updateDay(gridId: string, date: string): Promise<PatrolDay> {
    const key = `${gridId}/${date}`;
    return this.#dayWrites.run(key, async () => {
      const day = await this.computeDay(gridId, date);
      await this.#options.store.putRecord(patrolCollections.days, key, day, this.expiresAt(this.#now()));
      return day;
    });
  }

  finaliseDay(gridId: string, date: string): Promise<PatrolDay> {
    return this.#updateDay(gridId, date);
  }

  /** The zero report (零报告) of a grid for today: once per grid and day. */
  async zeroReport(principal: Principal, gridId: string, note: string | undefined): Promise<ZeroReport> {
    const now = this.#now();
    if (!principal.scopeNodeIds.includes(gridId))
      throw new GridhubError('patrol_not_your_grid', 'this grid is not one of yours');
    if (!this.onDuty(principal, gridId, now)) throw new GridhubError('patrol_off_duty');
    const date = this.days.date(now);
    const key = `${gridId}/${date}`;
    const { store } = this.#options;
    // The record answers across restarts; the claim between siblings racing on one store.
    const done = await store.getRecord<ZeroReport>(patrolCollections.zeroReports, key);
    if (done !== undefined || !(await store.claim(`zero-report/${key}`, 60_000)))
      throw new GridhubError('zero_report_done');
    const report: ZeroReport = {
      gridId,
      date,
      userId: principal.userId,
      at: new Date(now).toISOString(),
      ...(note === undefined || note === '' ? {} : { note }),
    };
    await store.putRecord(patrolCollections.zeroReports, key, report, this.expiresAt(now));
    this.#metrics.zeroReports.inc();
    return report;
  }

  zeroReportOf(gridId: string, date: string): Promise<ZeroReport | undefined> {
    return this.#options.store.getRecord<ZeroReport>(patrolCollections.zeroReports, `${gridId}/${date}`);
  }

  /** The duty sweep's miss of a grid, date and kind, when it raised one (the record, pending or not). */
  missOf(gridId: string, date: string, kind: MissKind): Promise<DutyMiss | undefined> {
    return this.#options.store.getRecord<DutyMiss>(patrolCollections.misses, `${gridId}/${date}/${kind}`);
  }

  /** A person's name for a reader (their id when the hub no longer knows them). */
  nameOf(userId: string): string {
    return this.#options.people.get(userId)?.name ?? userId;
  }

  /** A grid's name from the jurisdiction tree (its id when absent). */
  gridName(gridId: string): string {
    return this.#options.jurisdiction.node(gridId)?.name ?? gridId;
  }

  /** A user's shared positions in [from, to) (only those who opted in have any), oldest first. */
  async positionsOf(
    userId: string,
    from: number,
    to: number,
  ): Promise<{ lon: number; lat: number; accuracyM: number; at: string; gridIds: readonly string[] }[]> {
    const now = this.#now();
    const records = await this.#options.store.listRecords<{
      lon: number;
      lat: number;
      accuracyM: number;
      at: string;
      gridIds: string[];
    }>(positionCollections.track, `${userId}/`);
    return records
      .filter((record) => record.expiresAt === null || record.expiresAt > now)
      .map((record) => record.value)
      .filter((kept) => {
        const taken = Date.parse(kept.at);
        return taken >= from && taken < to;
      })
      .map(({ lon, lat, accuracyM, at, gridIds }) => ({ lon, lat, accuracyM, at, gridIds }));
  }

  /**
   * The day's patrol of a grid as its readers see it: points with visits, check-ins, and (unless left out, as the
   * worker page's list does) each worker's track.
   */
  async dayView(reader: Principal, gridId: string, date: string, withTracks = true) {
    if (!this.mayRead(reader, gridId)) throw new GridhubError('forbidden', 'this grid is outside your scope');
    const grid = this.#grids.get(gridId);
    if (grid === undefined) throw new GridhubError('not_found', 'this grid has no patrol');
    const [day, checkins, zeroReport] = await Promise.all([
      this.computeDay(gridId, date),
      this.checkins(gridId, date),
      this.zeroReportOf(gridId, date),
    ]);
    const [from, to] = this.days.span(date);
    const walkers = [...new Set([...this.workersOf(gridId), ...day.userIds])];
    const tracks = await Promise.all(
      (withTracks ? walkers : []).map(async (userId) => ({
        userId,
        points: (await this.positionsOf(userId, from, to))
          .filter((position) => position.gridIds.includes(gridId))
          .map(({ lon, lat, accuracyM, at }) => ({ lon, lat, accuracyM, at })),
      })),
    );
    const visitedAt = new Map<string, PatrolCheckin>();
    for (const checkin of checkins)
      if (!visitedAt.has(checkin.pointId)) visitedAt.set(checkin.pointId, checkin);
    return {
      ...day,
      points: grid.points.map((point) => ({
        id: point.id,
        name: point.name,
        position: point.position,
        radiusM: point.radiusM,
        qr: point.qr,
        visitedAt: visitedAt.get(point.id)?.at ?? null,
        visitedBy: visitedAt.get(point.id)?.userId ?? null,
      })),
      checkins: checkins.map(({ position: _position, ...rest }) => rest),
      tracks: tracks.filter((track) => track.points.length > 0),
      zeroReport: zeroReport ?? null,
      patrolBy: this.#settings.patrolBy,
      zeroReportBy: this.#settings.zeroReportBy,
    };
  }
}
