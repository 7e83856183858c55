import type {
  ChannelKind,
  ChannelStatus,
  DeliveryResult,
  Notification,
  NotificationChannel,
  Recipient,
} from './channel.ts';
import type { DeliveryConfig } from './policy-schema.ts';

/** At most `limit` deliveries in flight on one channel; the rest wait their turn, in order. */
class Gate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get active(): number {
    return this.#active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resume) => this.#waiting.push(resume));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

/**
 * Delivery through the channels: each channel by its id, bounded in deliveries at once (delivery.concurrencyPerChannel)
 * and each delivery in time (delivery.timeoutSeconds). A channel that throws or does not answer is a retryable
 * failure, never an exception: whom to tell and what follows a failure are not this module's business.
 */
export class ChannelDelivery {
  readonly #channels = new Map<string, NotificationChannel>();
  readonly #gates = new Map<string, Gate>();
  readonly #timeoutSeconds: number;

  constructor(channels: readonly NotificationChannel[], delivery: DeliveryConfig) {
    for (const channel of channels) {
      this.#channels.set(channel.id, channel);
      this.#gates.set(channel.id, new Gate(delivery.concurrencyPerChannel));
    }
    this.#timeoutSeconds = delivery.timeoutSeconds;
  }

  get size(): number {
    return this.#channels.size;
  }

  channel(id: string): NotificationChannel | undefined {
    return this.#channels.get(id);
  }

  async start(): Promise<void> {
    for (const channel of this.#channels.values()) await channel.start?.();
  }

  async stop(): Promise<void> {
    for (const channel of this.#channels.values()) await channel.stop?.();
  }

  /** Each channel's own account of itself, with its deliveries in flight now. */
  statuses(): (ChannelStatus & { id: string; kind: ChannelKind; inFlight: number })[] {
    return [...this.#channels.values()].map((channel) => ({
      id: channel.id,
      kind: channel.kind,
      inFlight: this.#gates.get(channel.id)?.active ?? 0,
      ...channel.status(),
    }));
  }

  /** Each channel's health, by id. */
  health(): Record<string, ChannelStatus['health']> {
    return Object.fromEntries(
      [...this.#channels.values()].map((channel) => [channel.id, channel.status().health]),
    );
  }

  /** Whether the channel has an address for the recipient; a channel that cannot say is tried. */
  reaches(channel: NotificationChannel, recipient: Recipient): Promise<boolean> {
    return Promise.resolve(channel.reaches(recipient)).catch(() => true);
  }

  /** One delivery, waiting its turn on the channel, and given up (retryably) past the timeout. */
  send(
    channel: NotificationChannel,
    recipient: Recipient,
    notification: Notification,
  ): Promise<DeliveryResult> {
    const gate = this.#gates.get(channel.id) as Gate;
    return gate.run(async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<DeliveryResult>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              outcome: 'failed',
              retryable: true,
              reason: `no answer within ${this.#timeoutSeconds} s`,
            }),
          this.#timeoutSeconds * 1000,
        );
      });
      try {
        return await Promise.race([
          channel.send(recipient, notification).catch(
            (error: unknown): DeliveryResult => ({
              outcome: 'failed',
              retryable: true,
              reason: String(error),
            }),
          ),
          timedOut,
        ]);
      } finally {
        clearTimeout(timer);
      }
    });
  }
}
