import { z } from 'zod';
import type { DecodeContext, DecodedChannel } from '../core/adapter.ts';
import type { TypedBus } from '../core/bus.ts';
import type { ConnectorRefusal } from '../core/connector.ts';
import type { ResolvedDevice } from '../core/device.ts';
import {
  type DeviceEvent,
  envelopeProblems,
  eventKeyOf,
  type NormalizedEvent,
} from '../core/device-event.ts';
import type { HubBusEvents } from '../core/events.ts';
import { timeOrderedId } from '../core/ids.ts';
import { minimisedProblems, minimiseKey, minimiseText } from '../core/problems.ts';
import { boundDeadLetter, type DeadLetter, type RefusalReason } from '../core/refusals.ts';
import type { TopicGrammar } from '../core/topics.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import type { EventSink } from './event-sink.ts';
import { type IngestMetrics, ingestMetrics } from './ingest-metrics.ts';
import { payloadShape } from './payload-shape.ts';

/** Where the ingest reports signs of life; the liveness monitor in the hub. */
export interface DeviceActivity {
  heard(deviceId: string): void;
  gone(deviceId: string): void;
}

export interface DeviceIngestOptions {
  readonly topics: TopicGrammar;
  readonly devices: { get(id: string): ResolvedDevice | undefined };
  readonly activity: DeviceActivity;
  readonly maxPayloadBytes: number;
  readonly decodeContext: DecodeContext;
  /** Where decoded events go: the bus, then the incident pipeline. */
  readonly sink: EventSink;
  readonly store: Store;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

interface Refusal {
  readonly reason: RefusalReason;
  readonly problems: readonly string[];
  readonly shape: unknown;
}

/**
 * A channel's steps after JSON: its schema, `decode` (an adapter's decoder; a throw refuses the message as
 * decode_failed) and `deliver`, which acts on what was decoded and resolves when it is durable. Split so that only
 * the decoder's faults are the device's: a fault of what comes after it is the hub's, and the message is not
 * acknowledged, never refused.
 */
interface ChannelHandler {
  readonly schema: z.ZodType;
  // biome-ignore lint/suspicious/noExplicitAny: the frame's type is the schema's output, checked where each is built.
  readonly decode: (frame: any) => any;
  // biome-ignore lint/suspicious/noExplicitAny: what `decode` returned, checked where each is built.
  readonly deliver: (device: ResolvedDevice, decoded: any, frame: any, receivedAt: number) => Promise<void>;
}

const asIs = <T>(frame: T): T => frame;

/** The hub's own status frame, the same for every device family: the device's birth message and last will. */
const deviceStatusFrame = z.strictObject({ state: z.enum(['online', 'offline']) });

const settled = Promise.resolve();

/**
 * The edge where device bytes become device events. Each message goes through the same steps: topic →
 * device → size → JSON → the adapter's schema → the adapter's decoder → the event sink. A message that
 * fails a step is refused: counted by reason, logged (device id and reason, never the payload) and kept as a
 * dead letter. Nothing here throws on device input.
 *
 * `handle` resolves once everything the message produced is durable in the store; the broker acknowledges the
 * message only then, so an acknowledged event survives a crash of the hub.
 */
export class DeviceIngest {
  readonly #options: DeviceIngestOptions;
  readonly #logThrottle = new LogThrottle();
  /** Channel handlers by adapter, then channel; null where the adapter does not decode the channel. */
  readonly #handlers = new Map<ResolvedDevice['adapter'], Map<string, ChannelHandler | null>>();
  readonly #log: Logger;
  readonly #metrics: IngestMetrics;

  constructor(options: DeviceIngestOptions) {
    this.#options = options;
    this.#metrics = ingestMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'ingest' });
  }

  /** Returns undefined for topics that are not device topics: they are none of the ingest's business. */
  handle(topic: string, payload: Buffer, receivedAt: number): Promise<void> | undefined {
    const { topics, devices } = this.#options;
    const metrics = this.#metrics;
    const address = topics.parseDeviceTopic(topic);
    if (address === undefined) return undefined;
    metrics.messagesReceived.inc();

    const device = devices.get(address.deviceId);
    if (device === undefined) {
      return this.#refuse(topic, null, payload, { reason: 'unknown_device', problems: [], shape: null });
    }
    // Any message proves the device alive, garbage included; its status channel speaks for itself.
    if (address.channel !== 'status') this.#options.activity.heard(device.id);
    const channel = this.#channelFor(device, address.channel);
    if (channel === undefined) {
      const known = ['status', 'replies', ...Object.keys(device.adapter.channels)].filter(
        (name) => name !== 'replies' || device.adapter.replies !== undefined,
      );
      const problems = [`channel "${minimiseKey(address.channel)}" is not one of: ${known.join(', ')}`];
      return this.#refuse(topic, device.id, payload, { reason: 'unknown_channel', problems, shape: null });
    }
    if (payload.length > this.#options.maxPayloadBytes) {
      const problems = [`${payload.length} bytes, the limit is ${this.#options.maxPayloadBytes}`];
      return this.#refuse(topic, device.id, payload, { reason: 'oversized', problems, shape: null });
    }

    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      // JSON.parse's message quotes the payload, which may carry an identifier: keep only where it broke.
      const position = /position (\d+)/.exec((error as Error).message)?.[1];
      const problems = [position === undefined ? 'not valid JSON' : `not valid JSON at byte ${position}`];
      return this.#refuse(topic, device.id, payload, { reason: 'not_json', problems, shape: null });
    }
    const parsed = channel.schema.safeParse(json);
    if (!parsed.success) {
      const problems = minimisedProblems(parsed.error);
      return this.#refuse(topic, device.id, payload, {
        reason: 'schema',
        problems,
        shape: payloadShape(json),
      });
    }
    const envelope = envelopeProblems(parsed.data);
    if (envelope !== undefined) {
      return this.#refuse(topic, device.id, payload, {
        reason: 'schema',
        problems: envelope,
        shape: payloadShape(json),
      });
    }
    let decoded: unknown;
    try {
      decoded = channel.decode(parsed.data);
    } catch (error) {
      const problems = [minimiseText(`decoder threw: ${(error as Error).message}`)];
      return this.#refuse(topic, device.id, payload, {
        reason: 'decode_failed',
        problems,
        shape: payloadShape(json),
      });
    }
    metrics.messagesAccepted.inc();
    try {
      return channel.deliver(device, decoded, parsed.data, receivedAt);
    } catch (error) {
      // The hub's fault, not the device's (a store refusing a write): not acknowledged, so the device sends again.
      return Promise.reject(error);
    }
  }

  /**
   * What to do with a valid frame on each channel: adapter-decoded events and heartbeats become device events;
   * replies go to the command that waits for them; status is the hub's own (the device's birth and last will).
   */
  #channelFor(device: ResolvedDevice, channel: string): ChannelHandler | undefined {
    // Built once per adapter and channel: the ingest path allocates no handler per message.
    let byChannel = this.#handlers.get(device.adapter);
    if (byChannel === undefined) {
      byChannel = new Map();
      this.#handlers.set(device.adapter, byChannel);
    }
    let handler = byChannel.get(channel);
    if (handler === undefined) {
      handler = this.#buildHandler(device.adapter, channel) ?? null;
      byChannel.set(channel, handler);
    }
    return handler ?? undefined;
  }

  #buildHandler(adapter: ResolvedDevice['adapter'], channel: string): ChannelHandler | undefined {
    const { activity, bus } = this.#options;
    if (channel === 'status') {
      return {
        schema: deviceStatusFrame,
        decode: asIs,
        deliver: (device, frame: z.infer<typeof deviceStatusFrame>) => {
          if (frame.state === 'online') activity.heard(device.id);
          else activity.gone(device.id);
          return settled;
        },
      };
    }
    if (channel === 'replies') {
      const replies = adapter.replies;
      if (replies === undefined) return undefined;
      return {
        schema: replies.schema,
        decode: (frame: unknown) => replies.decode(frame),
        deliver: (device, reply) => {
          bus.emit('command:reply', device.id, reply);
          return settled;
        },
      };
    }
    const decoder = adapter.channels[channel as DecodedChannel];
    if (decoder === undefined) return undefined;
    const { decodeContext } = this.#options;
    return {
      schema: decoder.schema,
      decode: (frame: unknown) => decoder.decode(frame, decodeContext),
      deliver: (device, events: readonly NormalizedEvent[], frame: unknown, receivedAt) =>
        this.#accept(device, events, receivedAt, frame),
    };
  }

  /** `frame` names the events (its envelope's counter and clock), so a redelivered frame is known as such. */
  #accept(
    device: ResolvedDevice,
    events: readonly NormalizedEvent[],
    receivedAt: number,
    frame: unknown,
  ): Promise<void> {
    const { sink } = this.#options;
    const metrics = this.#metrics;
    if (events.length === 0) return settled;
    if (events.length === 1) {
      const deviceEvent: DeviceEvent = {
        ...(events[0] as NormalizedEvent),
        deviceId: device.id,
        key: eventKeyOf(device.id, frame),
      };
      metrics.eventsDecoded.inc();
      return sink.accept(deviceEvent, device, receivedAt);
    }
    const pending: Promise<void>[] = [];
    for (const [nth, event] of events.entries()) {
      const deviceEvent: DeviceEvent = {
        ...event,
        deviceId: device.id,
        key: eventKeyOf(device.id, frame, nth),
      };
      metrics.eventsDecoded.inc();
      pending.push(sink.accept(deviceEvent, device, receivedAt));
    }
    return Promise.all(pending).then(() => undefined);
  }

  /**
   * Refuses what a connector received before it became a frame of the topic grammar: a request or datagram that
   * fails its protocol's framing, checksum or authentication. Counted, logged and dead-lettered as the ingest's own
   * refusals are, so an operator finds every refusal in one place. `source` says where it came from in words that
   * carry no identifier (`sia-dc09/tcp`, `hikvision-isapi/push`); `deviceId` only when the sender was identified.
   * Resolves once the dead letter is stored.
   */
  refuseFrame(frame: ConnectorRefusal): Promise<void> {
    this.#metrics.messagesReceived.inc();
    return this.#deadLetter(frame.source, frame.deviceId, frame.payloadBytes, {
      reason: frame.reason,
      problems: frame.problems.map(minimiseText),
      shape: frame.shape ?? null,
    });
  }

  #refuse(topic: string, deviceId: string | null, payload: Buffer, refusal: Refusal): Promise<void> {
    // The topic's device id and channel are the sender's own words when refused: minimised as the payload's keys.
    const address = this.#options.topics.parseDeviceTopic(topic);
    const keptTopic =
      address === undefined
        ? topic
        : `${this.#options.topics.base}/devices/${minimiseKey(address.deviceId)}/${minimiseKey(address.channel)}`;
    return this.#deadLetter(keptTopic, deviceId, payload.length, refusal);
  }

  #deadLetter(
    keptTopic: string,
    deviceId: string | null,
    payloadBytes: number,
    refusal: Refusal,
  ): Promise<void> {
    const { store, bus } = this.#options;
    this.#metrics.messagesRefused.labels(refusal.reason).inc();
    const deadLetter: DeadLetter = boundDeadLetter({
      id: timeOrderedId('dl'),
      receivedAt: new Date().toISOString(),
      topic: keptTopic,
      deviceId,
      reason: refusal.reason,
      problems: refusal.problems,
      payloadBytes,
      payloadShape: refusal.shape,
    });
    const suppressed = this.#logThrottle.admit(`${deviceId ?? keptTopic}:${refusal.reason}`);
    if (suppressed >= 0) {
      this.#log.warn(
        {
          deviceId,
          topic: deviceId === null ? keptTopic : undefined,
          reason: refusal.reason,
          problems: deadLetter.problems,
          suppressed,
        },
        'device message refused',
      );
    }
    bus.emit('message:refused', deadLetter);
    return store.saveDeadLetter(deadLetter);
  }
}
