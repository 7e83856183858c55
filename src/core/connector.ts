import type { Component } from './component.ts';
import type { RefusalReason } from './refusals.ts';

/**
 * Hands the hub one frame a device sent, addressed in the topic grammar (`<base>/devices/<id>/<channel>`), so the
 * device's identity travels with it: the one the connector authenticated (an MQTT client publishes only under its
 * own id; an HTTP or TCP receiver, or a SIP endpoint, addresses the frame to the id its credential names).
 * Resolves once everything the frame produced is committed: only then does the connector acknowledge it (PUBACK,
 * a 2xx answer, a TCP or SIP acknowledgement); a rejection leaves it unacknowledged, for the device to send again.
 * Undefined: not a frame of the hub's (acknowledged at once). Positional, so the hot path allocates nothing.
 */
export type FrameHandler = (
  address: string,
  payload: Buffer,
  receivedAt: number,
) => Promise<void> | undefined;

/**
 * Commands out to devices, where the protocol carries them (MQTT publishes, SIP MESSAGE, the queue ZKTeco terminals
 * collect on their ADMS poll). The hub routes each device's commands to the channel of its adapter's transport
 * (fleet/command-routes.ts).
 */
export interface CommandChannel {
  /**
   * Sends from the hub itself (a command, at QoS 1 on MQTT) to an address of the topic grammar. `timeoutMs`: how
   * long the command's caller waits; a channel that holds commands for the device to collect drops it after that.
   */
  publish(address: string, payload: string, timeoutMs?: number): Promise<void>;
  /** Whether the device can be reached now: connected here or, in a cluster, to a sibling. */
  isConnected(deviceId: string): boolean | Promise<boolean>;
  /** Ends a device's (or a feed subscriber's) connection, where the connector holds connections. */
  disconnect(deviceId: string): void;
}

/**
 * Everything that brings device frames into the hub: a component (start, stop, health) fed a {@link FrameHandler}
 * at construction, with commands out where its protocol has them. The MQTT modes are connectors today; HTTP push
 * receivers, HTTP event streams, TCP receivers and SIP endpoints are added as connectors too, each assembled in the
 * hub's component list with the same handler.
 */
export interface Connector extends Component {
  /** What runs, in words an operator reads (`mqtt broker thread`, `mqtt external client`). */
  readonly kind: string;
  /** Commands out; undefined for a connector that only receives. */
  readonly commands?: CommandChannel;
}

/**
 * What a connector refused before it had a frame of the topic grammar: a request or datagram failing its protocol's
 * framing, checksum or authentication. The hub counts it by reason (`gridhub_messages_refused_total`), logs it and
 * keeps it as a dead letter, as it does a frame its adapter refuses.
 */
export interface ConnectorRefusal {
  /** Where it came from, in words that carry no identifier: `sia-dc09/tcp`, `hikvision-isapi/push`. */
  readonly source: string;
  /** Only when the sender was identified (a known account or serial number). */
  readonly deviceId: string | null;
  readonly reason: RefusalReason;
  /** Each problem in words, with no value the sender sent (they are minimised again on the way in). */
  readonly problems: readonly string[];
  readonly payloadBytes: number;
  /** The frame's structure with its values replaced by their types (ingest/payload-shape.ts), when it had one. */
  readonly shape?: unknown;
}

/** Where a connector hands what it refused: resolves once the dead letter is stored. */
export type RefusalHandler = (refusal: ConnectorRefusal) => Promise<void>;
