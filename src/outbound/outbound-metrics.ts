import { declareMetrics } from '../observability/metrics-registry.ts';

/** What the webhooks count; a second dispatcher on the same registry (a restart in one process) shares them. */
export const webhookMetrics = declareMetrics((metrics) => ({
  deliveries: metrics.counter({
    name: 'gridhub_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retried (an attempt failed, another follows) or failed (given up, or dropped from a full queue).',
    labelNames: ['outcome'] as const,
  }),
  queueDepth: metrics.gauge({
    name: 'gridhub_webhook_queue_depth',
    help: 'Webhook deliveries waiting to be sent, by webhook (in-flight ones not counted).',
    labelNames: ['webhook'] as const,
  }),
}));
