import { declareMetrics } from '../observability/metrics-registry.ts';

/** What TLS counts (#18): certificate reloads and expiry, and the handshakes that failed on either listener. */
export const tlsMetrics = declareMetrics((metrics) => ({
  reloads: metrics.counter({
    name: 'gridhub_tls_reloads_total',
    help: 'Certificate files loaded again after they changed, by result (ok, or failed: the old ones kept).',
    labelNames: ['result'] as const,
  }),
  certificateExpiry: metrics.gauge({
    name: 'gridhub_tls_certificate_expiry_timestamp_seconds',
    help: "When the hub's certificate in use expires (Unix time).",
  }),
  handshakeFailures: metrics.counter({
    name: 'gridhub_tls_handshake_failures_total',
    help: 'TLS handshakes that failed (plain text on a TLS port, no shared cipher, a bad certificate), by listener.',
    labelNames: ['listener'] as const,
  }),
}));

export type TlsMetrics = ReturnType<typeof tlsMetrics>;
