import { createHmac } from 'node:crypto';

/**
 * Residents' identifiers (card numbers, plates) are minimised at the edge, in the decoder, so no later stage
 * ever holds the raw value: not the store, not a push, not a log line.
 *
 * - `masked`: keep the last four characters (`****5678`) of an identifier longer than six, enough for a worker to talk to the resident.
 * - `hashed`: a keyed HMAC-SHA-256 prefix, enough to tell two sightings of one card apart, not to recover it.
 * - `none`:   drop it.
 */
export const identifierModes = ['masked', 'hashed', 'none'] as const;
export type IdentifierMode = (typeof identifierModes)[number];

export interface IdentifierPolicy {
  readonly mode: IdentifierMode;
  /** Minimises one identifier under the policy; undefined when the policy drops it. */
  minimise(value: string): string | undefined;
}

export function createIdentifierPolicy(mode: IdentifierMode, hashKey: string): IdentifierPolicy {
  const minimisers: Record<IdentifierMode, (value: string) => string | undefined> = {
    // A short identifier keeps nothing: its last four characters would be most of it.
    masked: (value) => (value.length > 6 ? `****${value.slice(-4)}` : '****'),
    hashed: (value) => `h:${createHmac('sha256', hashKey).update(value).digest('hex').slice(0, 16)}`,
    none: () => undefined,
  };
  return { mode, minimise: minimisers[mode] };
}

/**
 * A device's free text (an alarm's description) can carry an identifier the device put there: a plate its
 * analytics read, a card or phone number. Each such run is minimised under the policy, the rest kept: Chinese
 * plates (a province, a letter, five or six letters and digits) and runs of six digits or more.
 */
const identifiersInText = /[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}|\d{6,}/gu;

export function minimiseFreeText(text: string, policy: IdentifierPolicy): string {
  return text.replace(identifiersInText, (identifier) => policy.minimise(identifier) ?? '');
}
