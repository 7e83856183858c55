/** What an adapter makes of a raw device frame: vendor-neutral, JSON-safe, free of raw personal identifiers. */
export type AttributeValue = string | number | boolean;

export interface NormalizedEvent {
  /** Dotted, vendor-neutral type, e.g. `door.forced_open`. Incident rules are keyed by it. */
  readonly type: string;
  /** When the device says it happened (epoch milliseconds). */
  readonly occurredAt: number;
  /** Small flat facts about the event (door, zone, masked credential…). Never a raw card number or plate. */
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** A normalized event attributed to the device that produced it. */
export interface DeviceEvent extends NormalizedEvent {
  readonly deviceId: string;
}
