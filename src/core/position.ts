/**
 * A grid worker's position while on duty, as the worker's phone reported it (WGS-84, the browser's Geolocation
 * API) and as the hub pushes it to the officers whose scope covers one of the worker's grids. Personal data: never
 * logged, kept only for `positions.retentionHours`.
 */
export interface WorkerPosition {
  readonly userId: string;
  readonly name: string;
  /** The worker's grids: who may see the position (the officers over any of them). */
  readonly gridIds: readonly string[];
  /** WGS-84 degrees. */
  readonly lon: number;
  readonly lat: number;
  /** The radius of 68 % confidence, in metres (Geolocation's `coords.accuracy`). */
  readonly accuracyM: number;
  /** ISO 8601: when the phone took it. */
  readonly at: string;
}

/** Why a worker's position left the officers' maps before it went stale. */
export const positionStopReasons = ['sharing_off', 'off_shift'] as const;
export type PositionStopReason = (typeof positionStopReasons)[number];

/** A worker stopped sharing (or went off shift): their marker goes. */
export interface WorkerPositionStopped {
  readonly userId: string;
  readonly gridIds: readonly string[];
  readonly reason: PositionStopReason;
}
