import { declareMetrics } from '../observability/metrics-registry.ts';

/** Why Socket.IO refused or closed a connection; labels of `gridhub_realtime_refusals_total`. */
const realtimeRefusalReasons = ['bad_token', 'not_owner', 'session_ended'] as const;

/** What the Socket.IO side counts: its clients, its pushes and their latency from the device, its refusals. */
export const realtimeMetrics = declareMetrics((metrics) => {
  const refusals = metrics.counter({
    name: 'gridhub_realtime_refusals_total',
    help: "Socket.IO connections refused or closed, by reason: bad_token (no valid token), not_owner (a restored session that was another user's or another login's), session_ended (the login session was revoked or reached its end).",
    labelNames: ['reason'] as const,
    shownAtZero: { reason: realtimeRefusalReasons },
  });
  return {
    pushesSent: metrics.counter({
      name: 'gridhub_pushes_sent_total',
      help: 'Socket.IO messages delivered to connected clients, by event.',
      labelNames: ['event'] as const,
    }),
    ingestToPush: metrics.histogram({
      name: 'gridhub_ingest_to_push_seconds',
      help: 'From a device message reaching the hub to its incident being pushed to clients.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    pushRecoveries: metrics.counter({
      name: 'gridhub_push_recoveries_total',
      help: 'Clients that came back after a drop, by outcome: restored (sent what they missed) or a fresh session because the session expired, was unknown, or missed too many pushes to replay.',
      labelNames: ['outcome'] as const,
    }),
    pushesKeptForRecovery: metrics.gauge({
      name: 'gridhub_pushes_kept_for_recovery',
      help: 'Pushes kept for clients that drop to catch up on (superseded ones dropped), as of the last sweep (every 10 s).',
    }),
    realtimeRefusals: refusals,
    slowClients: metrics.counter({
      name: 'gridhub_realtime_slow_clients_total',
      help: 'Socket.IO clients disconnected because pushes waiting for them passed limits.realtime.maxBufferedBytes (they did not read).',
    }),
    connectedClients: metrics.gauge({
      name: 'gridhub_connected_clients',
      help: 'Socket.IO clients connected.',
    }),
  };
});

export type RealtimeMetrics = ReturnType<typeof realtimeMetrics>;
