import type { z } from 'zod';
import type { NormalizedEvent } from './device-event.ts';
import type { IdentifierPolicy } from './privacy.ts';

/**
 * The adapter contract, after zigbee-herdsman-converters: a device family is data. The hub holds no vendor
 * code; it validates a raw frame with the adapter's zod schema and hands it to a pure decoder.
 * An adapter imports only src/core; what it needs at run time arrives in the DecodeContext.
 */
export interface DecodeContext {
  /** How personal identifiers (card numbers, plates) are minimised before they leave the decoder. */
  readonly identifiers: IdentifierPolicy;
}

/** One kind of frame the device publishes on a channel of the topic grammar. */
export interface FrameDecoder<Raw> {
  readonly schema: z.ZodType<Raw>;
  /** Pure: raw frame in, normalized events out (none when the frame carries nothing to act on). */
  readonly decode: (raw: Raw, context: DecodeContext) => readonly NormalizedEvent[];
}

/** What an adapter says about each normalized event type it can emit (zigbee2mqtt's "exposes"). */
export interface EventDescription {
  readonly description: string;
  /** Attribute names the event carries, for documentation and the conformance kit. */
  readonly attributes: readonly string[];
}

export interface DeviceAdapter {
  /** Matches the folder name under devices/ and the `adapter` of a device in the config. */
  readonly id: string;
  readonly vendor: string;
  readonly models: readonly string[];
  readonly description: string;
  readonly events: Readonly<Record<string, EventDescription>>;
  // biome-ignore lint/suspicious/noExplicitAny: each channel has its own raw type; the schema narrows it at run time.
  readonly channels: Readonly<Record<string, FrameDecoder<any>>>;
}

/** Identity function that keeps the raw type of a frame decoder checked where it is written. */
export function frameDecoder<Raw>(decoder: FrameDecoder<Raw>): FrameDecoder<Raw> {
  return decoder;
}
