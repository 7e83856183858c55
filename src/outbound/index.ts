import type { AuditTrail } from '../audit/audit-trail.ts';
import type { TypedBus } from '../core/bus.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { OutboundGuard } from '../net/outbound-address.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { DeliveryOutbox } from '../store/store.ts';
import { type FeedPublish, MqttIncidentFeed } from './mqtt-feed.ts';
import type { OutboundConfig } from './outbound-schema.ts';
import { type Sleep, WebhookDispatcher } from './webhooks.ts';

export {
  type FeedMessage,
  type FeedType,
  feedMessage,
  isTerminal,
  terminalStates,
} from '../core/feed-message.ts';
export type { FeedPublish } from './mqtt-feed.ts';
export { type OutboundConfig, outboundSchema, type WebhookConfig } from './outbound-schema.ts';
export { type WebhookBody, webhookSignature } from './webhooks.ts';

export interface OutboundOptions {
  readonly bus: TypedBus<HubBusEvents>;
  /** Publishes from the hub on its broker, e.g. `(topic, payload) => broker.publish(topic, payload)`. */
  readonly publish: FeedPublish;
  /** Whether the feed topic has anyone to receive it (see MqttIncidentFeedOptions.hasSubscribers); left out, always. */
  readonly hasSubscribers?: (topic: string) => boolean;
  /** The hub's first topic level (`hub.topicBase`); the feed goes to `<topicBase>/<outbound.mqtt.topic>`. */
  readonly topicBase: string;
  /** The parsed `outbound:` section. */
  readonly config: OutboundConfig;
  readonly audit: AuditTrail;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** Checks every webhook target against network.outbound and connects to the checked address. */
  readonly guard: OutboundGuard;
  /** The webhooks' wait between attempts; for tests. */
  readonly sleep?: Sleep;
  /** Where webhook deliveries wait across restarts (Store.outbox); left out, in memory only. */
  readonly outbox?: DeliveryOutbox;
}

/**
 * Everything the hub sends out about incidents: the MQTT feed and the webhooks, both fed from the bus. The hub lists
 * the two as components of their own (`incident feed`, `webhooks`), each where its order below puts it.
 * Start it after the broker (the feed publishes on it). Stop the feed before the broker, and the rest once nothing
 * changes incidents any more but before the store (failed deliveries are audited there, waiting ones kept there).
 */
export class Outbound {
  /** Undefined when `outbound.mqtt.enabled` is false. */
  readonly feed: MqttIncidentFeed | undefined;
  readonly webhooks: WebhookDispatcher;

  constructor(options: OutboundOptions) {
    const { config } = options;
    this.feed = config.mqtt.enabled
      ? new MqttIncidentFeed({
          bus: options.bus,
          publish: options.publish,
          topic: `${options.topicBase}/${config.mqtt.topic}`,
          logger: options.logger,
          ...(options.hasSubscribers === undefined ? {} : { hasSubscribers: options.hasSubscribers }),
        })
      : undefined;
    this.webhooks = new WebhookDispatcher({
      bus: options.bus,
      webhooks: config.webhooks,
      audit: options.audit,
      metrics: options.metrics,
      logger: options.logger,
      guard: options.guard,
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      ...(options.outbox === undefined ? {} : { outbox: options.outbox }),
    });
  }

  async start(): Promise<void> {
    this.feed?.start();
    await this.webhooks.start();
  }

  /**
   * Unsubscribes both, cancels retry waits and aborts requests in flight; queued deliveries stay in the outbox for
   * the next start, or without one are dropped.
   */
  async stop(): Promise<void> {
    this.feed?.stop();
    await this.webhooks.stop();
  }
}
