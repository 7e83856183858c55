import { mqttRefusalReasons } from '../core/reasons.ts';
import { declareMetrics } from '../observability/metrics-registry.ts';

/** What the fleet counts: devices online, commands sent, and who the MQTT access policy refused. */
export const fleetMetrics = declareMetrics((metrics) => {
  const mqttRefusals = metrics.counter({
    name: 'gridhub_mqtt_refusals_total',
    help: 'MQTT connections, publishes and subscriptions refused by the broker, by reason.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: mqttRefusalReasons },
  });
  return {
    devicesOnline: metrics.gauge({
      name: 'gridhub_devices_online',
      help: 'Devices the hub currently considers online.',
    }),
    commands: metrics.counter({
      name: 'gridhub_commands_total',
      help: 'Device commands sent, by outcome (ok, refused, failed, timeout).',
      labelNames: ['outcome'] as const,
    }),
    mqttRefusals,
  };
});
