import { declareMetrics } from '../observability/metrics-registry.ts';

/** How deliveries end (or stand): the outcome label of gridhub_notifications_total. */
export const notificationOutcomes = ['sent', 'failed', 'retried', 'unreachable', 'bundled'] as const;
export type NotificationOutcome = (typeof notificationOutcomes)[number];

/** What the notifier refuses to keep: the intake from the bus full, or too many notifications pending. */
export const notificationOverflows = ['intake', 'pending'] as const;

export const notifyMetrics = declareMetrics((metrics) => ({
  deliveries: metrics.counter({
    name: 'gridhub_notifications_total',
    help: 'Notification deliveries by channel and outcome: sent, failed (given up on this channel), retried, unreachable (no address on the channel), bundled (sent as part of one message listing several cases).',
    labelNames: ['channel', 'outcome'] as const,
  }),
  pending: metrics.gauge({
    name: 'gridhub_notifications_pending',
    help: 'People asked to act whose notification steps are not all taken yet (kept in the store).',
  }),
  bundles: metrics.counter({
    name: 'gridhub_notification_bundles_total',
    help: 'Messages sent listing several cases at once, per person and channel, during storms.',
  }),
  cancelled: metrics.counter({
    name: 'gridhub_notification_steps_cancelled_total',
    help: "People's remaining notification steps cancelled because the case got where the steps wait for (accepted, acknowledged, arrived, resolved) or no longer concerns them.",
  }),
  overflow: metrics.counter({
    name: 'gridhub_notification_overflow_total',
    help: 'Notifications refused because a bound was reached: intake (changes from the bus waiting to be read), pending (notifications kept).',
    labelNames: ['queue'] as const,
    shownAtZero: { queue: notificationOverflows },
  }),
}));
export type NotifyMetrics = ReturnType<typeof notifyMetrics>;
