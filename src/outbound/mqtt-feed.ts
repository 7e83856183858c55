import type { TypedBus } from '../core/bus.ts';
import { type HubBusEvents, whenStored } from '../core/events.ts';
import { type FeedMessage, feedMessage } from '../core/feed-message.ts';
import type { Incident, IncidentChange } from '../core/incident.ts';
import type { Logger } from '../observability/logger.ts';

/** Publishes on the hub's broker (QoS, retain and delivery to authorized subscribers are the publisher's business). */
export type FeedPublish = (topic: string, payload: string) => Promise<void>;

export interface MqttIncidentFeedOptions {
  readonly bus: TypedBus<HubBusEvents>;
  readonly publish: FeedPublish;
  /** The full topic, e.g. `gridhub/incidents`. */
  readonly topic: string;
  readonly logger: Logger;
  /**
   * Whether anyone may receive the topic now (the broker's subscriptions, persistent sessions away included). A
   * change nobody can receive is then not encoded at all: under load most changes are repeats, and encoding each
   * with both incidents for no reader cost more than anything else the feed does. Left out: always publish.
   */
  readonly hasSubscribers?: (topic: string) => boolean;
}

/**
 * Every incident change as one MQTT message `{type, before, after}` on one topic. A publish that fails is
 * logged and dropped: the bus is never made to wait for, or see an error from, a subscriber's transport.
 */
export class MqttIncidentFeed {
  readonly #options: MqttIncidentFeedOptions;
  readonly #log: Logger;
  #unsubscribe: (() => void)[] = [];

  constructor(options: MqttIncidentFeedOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'outbound.mqtt' });
  }

  get topic(): string {
    return this.#options.topic;
  }

  start(): void {
    if (this.#unsubscribe.length > 0) return;
    const { bus } = this.#options;
    this.#unsubscribe = [
      // A device's alarm may be announced before its commit (for the live views): the feed waits for it.
      bus.on('incident:created', (incident, _receivedAt, stored) => {
        if (this.#wanted()) whenStored(stored, () => this.#publish('created', incident));
      }),
      bus.on('incident:updated', (change, _repeat, stored) => {
        if (this.#wanted()) whenStored(stored, () => this.#publish('updated', change));
      }),
    ];
  }

  stop(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
  }

  /** Whether anyone can receive the feed: a message nobody can is not encoded. */
  #wanted(): boolean {
    const { topic, hasSubscribers } = this.#options;
    return hasSubscribers === undefined || hasSubscribers(topic);
  }

  #publish(kind: 'created', subject: Incident): void;
  #publish(kind: 'updated', subject: IncidentChange): void;
  #publish(kind: 'created' | 'updated', subject: Incident | IncidentChange): void {
    const { topic, publish } = this.#options;
    const message: FeedMessage = feedMessage(kind, subject);
    const fail = (error: unknown) =>
      this.#log.warn(
        {
          incidentId: message.after.id,
          type: message.type,
          topic,
          error: (error as Error)?.message ?? String(error),
        },
        'incident feed publish failed',
      );
    try {
      publish(topic, JSON.stringify(message)).catch(fail);
    } catch (error) {
      // A publish that throws instead of rejecting (say, the broker is already stopped) is a failure like any other.
      fail(error);
    }
  }
}
