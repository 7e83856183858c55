import { AuditTrail } from '../audit/audit-trail.ts';
import type { TypedBus } from '../core/bus.ts';
import { GridhubError } from '../core/errors.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { Bounds } from '../core/jurisdiction.ts';
import type { PositionStopReason, WorkerPosition } from '../core/position.ts';
import type { Principal, Role } from '../core/principal.ts';
import type { Router } from '../incidents/router.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import { type PositionRefusalReason, positionMetrics } from './position-metrics.ts';
import type { PositionSettings } from './position-schema.ts';

/** The store's collections: every position (a track), each worker's latest, and who opted in. */
export const positionCollections = {
  track: 'positions',
  latest: 'positions-latest',
  sharing: 'position-sharing',
} as const;

/** Who may share a position: the people who walk the grids. */
export const sharingRoles: readonly Role[] = ['grid_worker', 'grid_chief'];
/** Who may read the positions of others in their scope. */
export const supervisingRoles: readonly Role[] = ['duty_officer', 'grid_chief', 'admin'];

/** A phone's clock may run a little ahead of the hub's. */
const futureSkewMs = 60_000;
/** A position older than this when it arrives (a phone that queued it offline) no longer says where anyone is. */
const oldestMs = 10 * 60_000;
/** The most points one track read answers (a day at the shortest interval allowed fits). */
export const maxTrackPoints = 20_000;
/** The longest span one track read covers. */
export const maxTrackSpanMs = 24 * 3600_000;
/** Epoch ms padded so that keys sort by time. */
const keyDigits = 15;

/** A position as a phone reports it. */
export interface PositionReport {
  readonly lon: number;
  readonly lat: number;
  readonly accuracyM: number;
  readonly at: string;
}

/** A kept position: the report, whose it is, and when the hub received it (what the interval is measured by). */
interface KeptPosition extends WorkerPosition {
  readonly receivedAt: number;
}

interface SharingRecord {
  readonly enabled: boolean;
  readonly changedAt: string;
}

export interface WorkerPositionsOptions {
  readonly settings: PositionSettings;
  readonly store: Pick<Store, 'putRecord' | 'getRecord' | 'listRecords' | 'removeRecord' | 'appendAudit'>;
  /** Who is on duty in a grid now (rosters, those changed through the API included). */
  readonly router: Pick<Router, 'roster' | 'onDuty'>;
  readonly jurisdiction: Jurisdiction;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** The clock shifts, intervals, retention and staleness are read by; Date.now when not given. */
  readonly now?: (() => number) | undefined;
}

/** A refusal of a report, with the reason it is counted under. */
const refusals = {
  disabled: () =>
    new GridhubError('position_sharing_off', 'position sharing is turned off in this deployment'),
  not_shared: () => new GridhubError('position_sharing_off'),
  off_shift: () => new GridhubError('off_shift'),
  inaccurate: (settings: PositionSettings) =>
    new GridhubError(
      'position_inaccurate',
      `the position is less accurate than ${settings.maxAccuracyM} m: wait for a better fix`,
    ),
  out_of_bounds: () => new GridhubError('position_out_of_bounds'),
  bad_time: () =>
    new GridhubError(
      'position_time_out_of_range',
      'the position was taken in the future or more than 10 minutes ago',
    ),
} as const satisfies Partial<
  Record<PositionRefusalReason | 'disabled', (settings: PositionSettings) => GridhubError>
>;

/** The refusal reason of an error a position report was answered with, for the counter. */
const reasonsByCode: Partial<Record<string, PositionRefusalReason>> = {
  position_sharing_off: 'not_shared',
  off_shift: 'off_shift',
  position_too_frequent: 'too_frequent',
  position_inaccurate: 'inaccurate',
  position_out_of_bounds: 'out_of_bounds',
  position_time_out_of_range: 'bad_time',
  invalid_request: 'invalid',
  forbidden: 'forbidden',
  unauthorized: 'unauthorized',
  FST_ERR_CTP_BODY_TOO_LARGE: 'too_large',
  FST_ERR_VALIDATION: 'invalid',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'invalid',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid',
};

/**
 * The positions grid workers share while on duty (#24 point 3): each worker opts in; a position is kept only during
 * one of their shifts, at most once per `minIntervalSeconds`, accurate and inside the jurisdiction; kept for
 * `retentionHours` (the store drops it then, and reads never show it past then); pushed to the officers over the
 * worker's grids, and read only within the reader's scope. Positions are personal data: never logged.
 */
export class WorkerPositions {
  readonly #options: WorkerPositionsOptions;
  readonly #settings: PositionSettings;
  readonly #now: () => number;
  readonly #metrics: ReturnType<typeof positionMetrics>;
  readonly #log: Logger;
  /** The jurisdiction's bounding box, widened by the margin: positions outside it are nobody's grid. */
  readonly #bounds: Bounds | undefined;
  /**
   * When each worker's last position was accepted here (epoch ms by the clock), taken before the store is written so
   * that two reports racing each other are not both kept; the store's latest answers for one not seen here.
   */
  readonly #lastAccepted = new Map<string, number>();

  constructor(options: WorkerPositionsOptions) {
    this.#options = options;
    this.#settings = options.settings;
    this.#now = options.now ?? Date.now;
    this.#metrics = positionMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'positions' });
    this.#bounds = widened(
      [...options.jurisdiction.grids].map((grid) => grid.bounds),
      options.settings,
    );
  }

  get settings(): PositionSettings {
    return this.#settings;
  }

  /** The hub's time, by the clock positions are judged by. */
  now(): number {
    return this.#now();
  }

  /** Whether this user shares their position. */
  async sharing(userId: string): Promise<boolean> {
    const record = await this.#options.store.getRecord<SharingRecord>(positionCollections.sharing, userId);
    return this.#settings.enabled && record?.enabled === true;
  }

  /** Turns a worker's sharing on or off; off also takes their position off the officers' maps at once. */
  async setSharing(principal: Principal, enabled: boolean): Promise<boolean> {
    if (enabled && !this.#settings.enabled) throw refusals.disabled();
    const changedAt = new Date(this.#now()).toISOString();
    await this.#options.store.putRecord(positionCollections.sharing, principal.userId, {
      enabled,
      changedAt,
    });
    // The worker's consent, and its withdrawal, are on the record (no position in it).
    await this.#options.store.appendAudit(
      AuditTrail.entry(principal, {
        action: 'position.sharing',
        target: { kind: 'user', id: principal.userId },
        outcome: 'ok',
        detail: { enabled },
      }),
    );
    this.#metrics.sharingChanges.labels(String(enabled)).inc();
    this.#log.info({ userId: principal.userId, enabled }, 'position sharing changed');
    if (!enabled) await this.#stop(principal, 'sharing_off');
    return enabled;
  }

  /**
   * Keeps a position of an on-duty worker who shares it, and pushes it to their officers; refuses it, counted by
   * reason, otherwise. `retryAfter` is told how many seconds to wait when it came too soon.
   */
  async report(
    principal: Principal,
    report: PositionReport,
    retryAfter: (seconds: number) => void,
  ): Promise<WorkerPosition> {
    const now = this.#now();
    const settings = this.#settings;
    if (!settings.enabled) throw refusals.disabled();
    const taken = Date.parse(report.at);
    if (!(taken <= now + futureSkewMs && taken >= now - oldestMs)) throw refusals.bad_time();
    if (report.accuracyM > settings.maxAccuracyM) throw refusals.inaccurate(settings);
    if (!this.#inBounds(report.lon, report.lat)) throw refusals.out_of_bounds();
    if (!(await this.sharing(principal.userId))) throw refusals.not_shared();
    if (!this.onDuty(principal, now)) {
      // Off shift: whatever the officers still show of them goes.
      await this.#stop(principal, 'off_shift');
      throw refusals.off_shift();
    }
    const last =
      this.#lastAccepted.get(principal.userId) ?? (await this.#latest(principal.userId))?.receivedAt;
    const wait = last === undefined ? 0 : last + settings.minIntervalSeconds * 1000 - now;
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      retryAfter(seconds);
      throw new GridhubError(
        'position_too_frequent',
        `at most one position every ${settings.minIntervalSeconds} s: try again in ${seconds} s`,
      );
    }
    this.#lastAccepted.set(principal.userId, now);
    const position: WorkerPosition = {
      userId: principal.userId,
      name: principal.name,
      gridIds: [...principal.scopeNodeIds],
      lon: report.lon,
      lat: report.lat,
      accuracyM: report.accuracyM,
      at: new Date(taken).toISOString(),
    };
    const kept: KeptPosition = { ...position, receivedAt: now };
    const expiresAt = now + settings.retentionHours * 3600_000;
    const { store } = this.#options;
    await Promise.all([
      store.putRecord(positionCollections.track, trackKey(principal.userId, taken), kept, expiresAt),
      store.putRecord(positionCollections.latest, principal.userId, kept, expiresAt),
    ]);
    this.#metrics.positionsAccepted.inc();
    this.#options.bus.emit('worker:position', position);
    return position;
  }

  /**
   * Whether the user is on duty now in one of their grids: named by a shift of its roster that covers now, or, in a
   * grid without a roster, as every worker of it is (router.ts' meaning, for accounts made through the API too).
   */
  onDuty(principal: Principal, now: number = this.#now()): boolean {
    const { router } = this.#options;
    return principal.scopeNodeIds.some(
      (gridId) =>
        router.roster(gridId) === undefined || router.onDuty(gridId, now).includes(principal.userId),
    );
  }

  /** The latest position of each worker in the reader's scope, not older than `staleMinutes`. */
  async current(reader: Principal): Promise<WorkerPosition[]> {
    const now = this.#now();
    const since = now - this.#settings.staleMinutes * 60_000;
    const records = await this.#options.store.listRecords<KeptPosition>(positionCollections.latest);
    return records
      .filter((record) => live(record.expiresAt, now))
      .map((record) => record.value)
      .filter((kept) => Date.parse(kept.at) >= since && this.#visible(reader, kept.gridIds))
      .map(shown);
  }

  /**
   * One worker's positions taken in [from, to), oldest first, those the reader may see: their own, or a worker of
   * their scope's. At most `limit`, the newest when there are more.
   */
  async track(
    reader: Principal,
    userId: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<{ points: WorkerPosition[]; truncated: boolean }> {
    const now = this.#now();
    const records = await this.#options.store.listRecords<KeptPosition>(
      positionCollections.track,
      `${userId}/`,
    );
    const own = reader.userId === userId;
    const points = records
      .filter((record) => live(record.expiresAt, now))
      .map((record) => record.value)
      .filter((kept) => {
        const taken = Date.parse(kept.at);
        return taken >= from && taken < to && (own || this.#visible(reader, kept.gridIds));
      })
      .map(shown);
    return { points: points.slice(-limit), truncated: points.length > limit };
  }

  /** Takes a worker's latest position off the officers' maps (and off GET /api/positions). */
  async #stop(principal: Principal, reason: PositionStopReason): Promise<void> {
    const latest = await this.#latest(principal.userId);
    if (latest === undefined) return;
    await this.#options.store.removeRecord(positionCollections.latest, principal.userId);
    this.#options.bus.emit('worker:position-stopped', {
      userId: principal.userId,
      gridIds: latest.gridIds,
      reason,
    });
  }

  async #latest(userId: string): Promise<KeptPosition | undefined> {
    return this.#options.store.getRecord<KeptPosition>(positionCollections.latest, userId);
  }

  /** A position of these grids is the reader's to see: one of them lies within one of the reader's scope nodes. */
  #visible(reader: Principal, gridIds: readonly string[]): boolean {
    const { jurisdiction } = this.#options;
    return gridIds.some((gridId) =>
      reader.scopeNodeIds.some((scope) => jurisdiction.isWithin(gridId, scope)),
    );
  }

  #inBounds(lon: number, lat: number): boolean {
    const bounds = this.#bounds;
    return (
      bounds !== undefined && lon >= bounds[0] && lat >= bounds[1] && lon <= bounds[2] && lat <= bounds[3]
    );
  }
}

/** The refusal reason to count an error answering a position report under. */
export function positionRefusalReason(error: unknown): PositionRefusalReason {
  const code = (error as { code?: unknown } | null)?.code;
  if ((error as { validation?: unknown } | null)?.validation !== undefined) return 'invalid';
  return (typeof code === 'string' ? reasonsByCode[code] : undefined) ?? 'other';
}

/** Counts a refused position report. */
export function countPositionRefusal(metrics: MetricsRegistry, error: unknown): void {
  positionMetrics(metrics).positionRefusals.labels(positionRefusalReason(error)).inc();
}

function trackKey(userId: string, taken: number): string {
  return `${userId}/${String(taken).padStart(keyDigits, '0')}`;
}

/** Past its end by the hub's clock, a record is gone for readers even before the store sweeps it. */
function live(expiresAt: number | null, now: number): boolean {
  return expiresAt === null || expiresAt > now;
}

/** What readers are told of a kept position: not when the hub received it. */
function shown(kept: KeptPosition): WorkerPosition {
  const { receivedAt: _receivedAt, ...position } = kept;
  return position;
}

/** Metres per degree of latitude, near enough for a margin. */
const metresPerDegree = 111_320;

/** The bounding box of all the grids, widened by the margin (in degrees at the box's latitude). */
function widened(all: readonly Bounds[], settings: PositionSettings): Bounds | undefined {
  if (all.length === 0) return undefined;
  const box = [
    Math.min(...all.map((bounds) => bounds[0])),
    Math.min(...all.map((bounds) => bounds[1])),
    Math.max(...all.map((bounds) => bounds[2])),
    Math.max(...all.map((bounds) => bounds[3])),
  ] as const;
  const latMargin = settings.boundsMarginM / metresPerDegree;
  const midLat = ((box[1] + box[3]) / 2) * (Math.PI / 180);
  const lonMargin = settings.boundsMarginM / (metresPerDegree * Math.max(0.01, Math.cos(midLat)));
  return [box[0] - lonMargin, box[1] - latMargin, box[2] + lonMargin, box[3] + latMargin];
}
