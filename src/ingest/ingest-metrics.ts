import { type RefusalReason, refusalReasons } from '../core/refusals.ts';
import { declareMetrics } from '../observability/metrics-registry.ts';

/** What device ingest counts, whichever connector brought the frame (MQTT, ONVIF). */
export const ingestMetrics = declareMetrics((metrics) => {
  const messagesRefused = metrics.counter({
    name: 'gridhub_messages_refused_total',
    help: 'Device messages refused, by reason; each one is kept as a dead letter.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: Object.keys(refusalReasons) as RefusalReason[] },
  });
  return {
    messagesReceived: metrics.counter({
      name: 'gridhub_messages_received_total',
      help: 'MQTT messages received on device topics.',
    }),
    eventsDecoded: metrics.counter({
      name: 'gridhub_events_decoded_total',
      help: 'Normalized device events decoded from accepted messages.',
    }),
    messagesAccepted: metrics.counter({
      name: 'gridhub_messages_accepted_total',
      help: 'Device messages accepted (valid and decoded); with the refused, every message received counts once.',
    }),
    messagesRefused,
  };
});

export type IngestMetrics = ReturnType<typeof ingestMetrics>;

/** Why the broker closed a connection at a limit; labels of `gridhub_mqtt_limit_closes_total`. */
export const mqttLimitReasons = ['connect_too_large', 'packet_too_large', 'connect_timeout'] as const;
export type MqttLimitReason = (typeof mqttLimitReasons)[number];

/**
 * What the MQTT connectors count: the hub's thread's, for whichever mode runs (a broker thread reports its counts
 * to it). The broker code itself takes these counters rather than the registry (BrokerMetrics): it is loaded in the
 * broker thread too, which needs no prom-client.
 */
export const mqttMetrics = declareMetrics((metrics) => {
  const limitCloses = metrics.counter({
    name: 'gridhub_mqtt_limit_closes_total',
    help: 'MQTT connections closed at a limit, by reason: connect_too_large (a packet before CONNACK over limits.mqtt.connectPacketBytes), packet_too_large (over limits.mqtt.packetBytes), connect_timeout (no CONNECT in time).',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: mqttLimitReasons },
  });
  return {
    connectedDevices: metrics.gauge({
      name: 'gridhub_connected_devices',
      help: 'MQTT clients connected to the embedded broker.',
    }),
    storeFailures: metrics.counter({
      name: 'gridhub_store_failures_total',
      help: 'Writes the store failed; the device message was not acknowledged.',
    }),
    limitCloses,
  };
});
export type MqttMetrics = ReturnType<typeof mqttMetrics>;
