import { declareMetrics } from '../observability/metrics-registry.ts';
import { type OutboundRefusalReason, outboundPurposes, outboundRefusalReasons } from './outbound-address.ts';

/** What network.outbound counts: the connections it refused on a caller's behalf (OutboundGuard's `refusals`). */
export const outboundGuardMetrics = declareMetrics((metrics) => {
  const refusals = metrics.counter({
    name: 'gridhub_outbound_refusals_total',
    help: "Connections the hub would have opened on a caller's behalf (camera xaddrs, stream and snapshot URIs, webhook targets) refused by network.outbound, by purpose and reason.",
    labelNames: ['purpose', 'reason'] as const,
  });
  // Every label set shows from the start, at zero, so a dashboard can tell "none" from "not reported".
  for (const purpose of outboundPurposes)
    for (const reason of Object.keys(outboundRefusalReasons) as OutboundRefusalReason[])
      refusals.labels(purpose, reason).inc(0);
  return { refusals };
});
