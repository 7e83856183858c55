/**
 * Why the hub refused a device message. Each reason is a label of `gridhub_messages_refused_total`
 * and the `reason` of a dead-letter record, so an operator sees the same words in both places.
 */
export const refusalReasons = {
  unknown_device: 'the topic names a device that is not provisioned',
  unknown_channel: "the device's adapter does not decode this channel",
  oversized: 'the payload is larger than hub.maxPayloadBytes',
  not_json: 'the payload is not valid JSON',
  schema: "the payload does not match the adapter's schema",
  decode_failed: "the adapter's decoder failed on a payload its schema accepted",
  unauthenticated:
    'the sender did not prove it is a provisioned device: no credential, a wrong one, or a wrong key',
  malformed: "the frame breaks its protocol's framing or encoding (length, checksum, header, XML, multipart)",
  stale:
    "the frame's own timestamp lies outside the receiver's window (a replay, or the sender's clock is off)",
} as const;

export type RefusalReason = keyof typeof refusalReasons;

/** A refused device message as kept for operators: what and why, never the values it carried. */
export interface DeadLetter {
  readonly id: string;
  /** ISO 8601 time the hub received the message. */
  readonly receivedAt: string;
  readonly topic: string;
  readonly deviceId: string | null;
  readonly reason: RefusalReason;
  /** Each problem as `path: message`, e.g. `door: Invalid input: expected number, received string`. */
  readonly problems: readonly string[];
  readonly payloadBytes: number;
  /**
   * The payload's structure with every value replaced by its type (`{"card":"string"}`), so an integrator
   * can see what the device sent without the hub keeping residents' identifiers. Null when it is not JSON
   * or was too large to parse.
   */
  readonly payloadShape: unknown;
}

/**
 * The most a dead letter takes, as JSON (UTF-8 bytes). Its parts are bounded one by one (the shape's depth and
 * breadth, the problems' number and length, keys minimised); this bounds them together: a dead letter over it
 * leaves out its shape, then its last problems.
 */
export const maxDeadLetterBytes = 4096;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/** The dead letter within maxDeadLetterBytes (see there). */
export function boundDeadLetter(deadLetter: DeadLetter): DeadLetter {
  if (jsonBytes(deadLetter) <= maxDeadLetterBytes) return deadLetter;
  const shapeBytes = jsonBytes(deadLetter.payloadShape);
  const withoutShape: DeadLetter = {
    ...deadLetter,
    payloadShape: `<shape of ${shapeBytes} bytes left out: a dead letter keeps at most ${maxDeadLetterBytes}>`,
  };
  if (jsonBytes(withoutShape) <= maxDeadLetterBytes) return withoutShape;
  const problems = [...deadLetter.problems];
  let bounded = withoutShape;
  while (problems.length > 0 && jsonBytes(bounded) > maxDeadLetterBytes) {
    problems.pop();
    const left = deadLetter.problems.length - problems.length;
    bounded = { ...withoutShape, problems: [...problems, `…and ${left} more problems`] };
  }
  return bounded;
}
