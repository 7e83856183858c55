import { declareMetrics } from '../observability/metrics-registry.ts';

/** Why a check-in or a zero report was refused: the labels of `gridhub_patrol_refusals_total`. */
export const patrolRefusalReasons = [
  'off_duty',
  'not_your_grid',
  'too_far',
  'bad_code',
  'duplicate',
  'already_reported',
  'unknown_point',
  'invalid',
  'forbidden',
  'unauthorized',
  'other',
] as const;
export type PatrolRefusalReason = (typeof patrolRefusalReasons)[number];

/** What patrols count: check-ins by method, refusals by reason, zero reports, misses raised as cases by kind. */
export const patrolMetrics = declareMetrics((metrics) => ({
  checkins: metrics.counter({
    name: 'gridhub_patrol_checkins_total',
    help: 'Patrol check-ins kept, by method (geofence, qr).',
    labelNames: ['method'] as const,
    shownAtZero: { method: ['geofence', 'qr'] },
  }),
  refusals: metrics.counter({
    name: 'gridhub_patrol_refusals_total',
    help: 'Patrol check-ins and zero reports refused, by reason: off_duty, not_your_grid, too_far, bad_code, duplicate, already_reported, unknown_point, invalid, forbidden, unauthorized, other.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: patrolRefusalReasons },
  }),
  zeroReports: metrics.counter({
    name: 'gridhub_zero_reports_total',
    help: 'Zero reports (零报告) kept.',
  }),
  misses: metrics.counter({
    name: 'gridhub_duty_misses_total',
    help: 'Missed patrols and zero reports raised as cases to the grid chief, by kind (patrol, zero_report).',
    labelNames: ['kind'] as const,
    shownAtZero: { kind: ['patrol', 'zero_report'] },
  }),
}));

const reasonsByCode: Partial<Record<string, PatrolRefusalReason>> = {
  patrol_off_duty: 'off_duty',
  patrol_not_your_grid: 'not_your_grid',
  patrol_too_far: 'too_far',
  patrol_bad_code: 'bad_code',
  patrol_duplicate: 'duplicate',
  zero_report_done: 'already_reported',
  not_found: 'unknown_point',
  invalid_request: 'invalid',
  forbidden: 'forbidden',
  unauthorized: 'unauthorized',
  FST_ERR_VALIDATION: 'invalid',
  FST_ERR_CTP_BODY_TOO_LARGE: 'invalid',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'invalid',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid',
};

/** The reason to count an error answering a check-in or zero report under. */
export function patrolRefusalReason(error: unknown): PatrolRefusalReason {
  if ((error as { validation?: unknown } | null)?.validation !== undefined) return 'invalid';
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' ? reasonsByCode[code] : undefined) ?? 'other';
}
