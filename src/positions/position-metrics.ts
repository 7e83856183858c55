import { declareMetrics } from '../observability/metrics-registry.ts';

/** Why a position report was refused: the labels of `gridhub_position_refusals_total`. */
export const positionRefusalReasons = [
  // Sharing off, the worker's or the deployment's (positions.enabled).
  'not_shared',
  'off_shift',
  'too_frequent',
  'inaccurate',
  'out_of_bounds',
  'bad_time',
  'invalid',
  'too_large',
  'forbidden',
  'unauthorized',
  'other',
] as const;
export type PositionRefusalReason = (typeof positionRefusalReasons)[number];

/** What position sharing counts: reports kept, reports refused by reason, workers turning sharing on and off. */
export const positionMetrics = declareMetrics((metrics) => ({
  positionsAccepted: metrics.counter({
    name: 'gridhub_positions_accepted_total',
    help: 'Worker positions kept and pushed to their officers.',
  }),
  positionRefusals: metrics.counter({
    name: 'gridhub_position_refusals_total',
    help: 'Worker positions refused, by reason: not_shared (off for the worker or the deployment), off_shift, too_frequent, inaccurate, out_of_bounds, bad_time, invalid, too_large, forbidden, unauthorized, other.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: positionRefusalReasons },
  }),
  sharingChanges: metrics.counter({
    name: 'gridhub_position_sharing_changes_total',
    help: 'Workers turning position sharing on or off.',
    labelNames: ['enabled'] as const,
    shownAtZero: { enabled: ['true', 'false'] },
  }),
}));
