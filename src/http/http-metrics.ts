import { declareMetrics } from '../observability/metrics-registry.ts';

/** What the HTTP edge counts: the requests it refused before any route. */
export const httpEdgeMetrics = declareMetrics((metrics) => ({
  httpRefusals: metrics.counter({
    name: 'gridhub_http_refusals_total',
    help: 'HTTP requests the edge refused before any route, by reason.',
    labelNames: ['reason'] as const,
  }),
}));
