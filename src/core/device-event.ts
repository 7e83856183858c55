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
  /**
   * This very event, the same on every delivery: the device, its event counter and its clock. A QoS 1 message the
   * broker sends again (its acknowledgement was lost, or the hub died before sending it) carries the same key, so
   * its incident change is not made twice. Absent when the device's frames carry no counter.
   */
  readonly key?: string;
}

/**
 * The longest `time` an envelope may carry, for every device family: ISO 8601 to the nanosecond with an offset is 35
 * characters. Adapters' schemas bound it too; this bound is the hub's own, since the time is part of the event key.
 */
export const maxEnvelopeTimeLength = 40;

/**
 * Why a schema-valid frame's envelope cannot name its events (see eventKeyOf), or undefined: a `time` past
 * maxEnvelopeTimeLength, a `seq` that is not a non-negative safe integer. The fields feed the event key the store
 * keeps, whose size must stay bounded whatever an adapter's schema lets through.
 */
export function envelopeProblems(frame: unknown): string[] | undefined {
  if (typeof frame !== 'object' || frame === null) return undefined;
  const { seq, time } = frame as { seq?: unknown; time?: unknown };
  const longTime = typeof time === 'string' && time.length > maxEnvelopeTimeLength;
  const badSeq = typeof seq === 'number' && !(Number.isSafeInteger(seq) && seq >= 0);
  if (!longTime && !badSeq) return undefined;
  return [
    ...(longTime ? [`time: Too big: expected string to have <=${maxEnvelopeTimeLength} characters`] : []),
    ...(badSeq ? ['seq: expected a non-negative safe integer'] : []),
  ];
}

/**
 * The key of a frame's events from its envelope (`seq` and `time`, as every MQTT device family here sends), the
 * frame's nth event when it decodes to several. Undefined for a frame without both.
 */
export function eventKeyOf(deviceId: string, frame: unknown, nth = 0): string | undefined {
  const { seq, time } = frame as { seq?: unknown; time?: unknown };
  if (typeof seq !== 'number' || typeof time !== 'string') return undefined;
  return nth === 0 ? `${deviceId}/${seq}/${time}` : `${deviceId}/${seq}/${time}/${nth}`;
}
