import { declareMetrics } from '../observability/metrics-registry.ts';
import { type OutboundRefusalReason, outboundPurposes, outboundRefusalReasons } from './outbound-address.ts';

/** What network.outbound counts: the connections it refused on a caller's behalf (OutboundGuard's `refusals`). */
export const outboundGuardMetrics = declareMetrics((metrics) => {
  const refusals = metrics.counter({
    name: 'gridhub_outbound_refusals_total',
    help: "Connections the hub would have opened on a caller's behalf (camera xaddrs, stream and snapshot URIs, webhook targets) refused by network.outbound, by purpose and reason.",
    labelNames: ['purpose', 'reason'] as const,
    shownAtZero: {
      purpose: outboundPurposes,
      reason: Object.keys(outboundRefusalReasons) as OutboundRefusalReason[],
    },
  });
  return { refusals };
});
