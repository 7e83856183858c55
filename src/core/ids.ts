import { randomBytes } from 'node:crypto';

/**
 * Time-ordered ids: 9 base-36 characters of milliseconds, a 4-character base-36 counter and 4 random
 * characters. Lexical order is creation order within one process, which the store's key order relies on;
 * the random tail keeps ids of two hub instances apart.
 */
const COUNTER_LIMIT = 36 ** 4;
let lastMillis = 0;
let counter = 0;
const randomTail = randomBytes(3).readUIntBE(0, 3).toString(36).padStart(5, '0').slice(-4);

export function timeOrderedId(prefix: string, now: number = Date.now()): string {
  if (now > lastMillis) {
    lastMillis = now;
    counter = 0;
  } else if (++counter >= COUNTER_LIMIT) {
    // The 4-character counter is spent within one millisecond: borrow the next millisecond rather than let a
    // fifth character break the lexical order.
    lastMillis++;
    counter = 0;
  }
  return `${prefix}_${lastMillis.toString(36).padStart(9, '0')}${counter.toString(36).padStart(4, '0')}${randomTail}`;
}

/** A time in ms since the epoch as the ISO 8601 text incidents and audit entries carry. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
