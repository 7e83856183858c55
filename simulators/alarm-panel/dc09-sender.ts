import { createCipheriv, createDecipheriv, randomInt } from 'node:crypto';

/**
 * A panel's side of ANSI/SIA DC-09, written from the standard for the simulator alone: it shares no code with the
 * hub's receiver (src/ingest/sia-dc09/), so each proves the other, and both are held to messages from real panels
 * and to an independent receiver (iobroker.sia) in the tests.
 *
 *   <LF> CRC(4 hex) 0LLL "id" seq Rrcvr Lpref #acct [ data ] [x-data]… _HH:MM:SS,MM-DD-YYYY <CR>
 */

/** What one message says; the sender adds the framing, the encryption and the timestamp. */
export interface Dc09Message {
  /** `ADM-CID`, `SIA-DCS`, `NULL`, or any other token (a fault: the receiver must answer DUH). */
  readonly token: string;
  readonly seq: number;
  readonly account: string;
  /** Receiver number in hex; none when not given. */
  readonly receiver?: string;
  /** Line prefix in hex. */
  readonly line: string;
  /** The data after `#acct|`: `1130 01 003`, `Nri1/BA003`; empty for NULL. */
  readonly data: string;
  readonly extended?: readonly string[];
  /** Epoch ms the message says it was sent; null sends no timestamp (allowed in the clear only). */
  readonly time: number | null;
}

export interface Dc09Encoding {
  /** The AES key (16, 24 or 32 bytes): the message is encrypted (`"*…"`). */
  readonly key?: Buffer;
  /** The pad of an encrypted message; random letters when not given (tests give one to compare bytes). */
  readonly pad?: (length: number) => string;
  /** Writes a CRC that does not match (a fault). */
  readonly badCrc?: boolean;
  /** The ciphertext in lowercase hexadecimal, as some panels write it (the standard does not say). */
  readonly lowercaseHex?: boolean;
}

/** CRC-16/ARC (polynomial 0xA001 reflected, initial 0), bit by bit, as the standard's appendix computes it. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const value of bytes) {
    let byte = value;
    for (let bit = 0; bit < 8; bit++) {
      const mix = (byte ^ crc) & 1;
      crc >>= 1;
      if (mix !== 0) crc ^= 0xa001;
      byte >>= 1;
    }
  }
  return crc;
}

export function sentTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => n.toString().padStart(2, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())},${p(d.getUTCMonth() + 1)}-${p(
    d.getUTCDate(),
  )}-${d.getUTCFullYear()}`;
}

function randomPad(length: number): string {
  return Array.from({ length }, () => String.fromCharCode(97 + randomInt(26))).join('');
}

function aes(key: Buffer): string {
  return `aes-${key.length * 8}-cbc`;
}

/** LF, CRC, length, body, CR. */
export function frame(body: string, badCrc = false): Buffer {
  const bytes = Buffer.from(body, 'latin1');
  const crc = crc16(bytes) ^ (badCrc ? 0x5a5a : 0);
  const head = `${crc.toString(16).toUpperCase().padStart(4, '0')}0${bytes.length.toString(16).toUpperCase().padStart(3, '0')}`;
  return Buffer.concat([Buffer.from('\n'), Buffer.from(head, 'latin1'), bytes, Buffer.from('\r')]);
}

/** The bytes a panel sends for a message. */
export function encodeMessage(message: Dc09Message, encoding: Dc09Encoding = {}): Buffer {
  const seq = String(message.seq).padStart(4, '0');
  const route = `${seq}${message.receiver === undefined ? '' : `R${message.receiver}`}L${message.line}#${message.account}`;
  const extended = (message.extended ?? []).map((block) => `[${block}]`).join('');
  const stamp = message.time === null ? '' : `_${sentTime(message.time)}`;
  const key = encoding.key;
  if (key === undefined) {
    const data = message.data === '' ? '' : `#${message.account}|${message.data}`;
    return frame(`"${message.token}"${route}[${data}]${extended}${stamp}`, encoding.badCrc);
  }
  // Encrypted: the pad, then `|` and the data (none for NULL), fills the plaintext to whole 16-byte blocks.
  const clear = `${message.data === '' ? '' : `|#${message.account}|${message.data}`}]${extended}${stamp}`;
  const padLength = 16 - (clear.length % 16);
  const plaintext = (encoding.pad ?? randomPad)(padLength) + clear;
  const cipher = createCipheriv(aes(key), key, Buffer.alloc(16));
  cipher.setAutoPadding(false);
  const hex = Buffer.concat([cipher.update(Buffer.from(plaintext, 'latin1')), cipher.final()]).toString(
    'hex',
  );
  return frame(
    `"*${message.token}"${route}[${encoding.lowercaseHex ? hex : hex.toUpperCase()}`,
    encoding.badCrc,
  );
}

/** What the receiver answered, as a panel reads it. */
export interface Dc09Answer {
  readonly kind: 'ACK' | 'NAK' | 'DUH' | 'other';
  readonly encrypted: boolean;
  readonly seq: string;
  readonly account?: string;
  /** The receiver's time in an encrypted ACK or a NAK (a panel sets its clock from a NAK's). */
  readonly time?: number;
  /** Whether the answer's CRC and length are right. */
  readonly intact: boolean;
  readonly raw: Buffer;
}

function parseSentTime(text: string): number | undefined {
  const parts = /(\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4})/.exec(text);
  if (parts === null) return undefined;
  const [, h, mi, s, mo, d, y] = parts.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
}

/** Reads an answer (ACK, NAK, DUH), decrypting an encrypted ACK with the panel's key. */
export function readAnswer(raw: Buffer, key?: Buffer): Dc09Answer {
  const text = raw.toString('latin1');
  const body = text.slice(9, -1);
  const intact =
    text.startsWith('\n') &&
    text.endsWith('\r') &&
    Number.parseInt(text.slice(1, 5), 16) === crc16(Buffer.from(body, 'latin1')) &&
    Number.parseInt(text.slice(5, 9), 16) === body.length;
  const head =
    /^"(\*?)(ACK|NAK|DUH)"(\d{4})(?:R[0-9A-F]+)?(?:L[0-9A-F]+)?(?:#([0-9A-F]+))?(?:A0)?\[(.*)$/.exec(body);
  if (head === null) return { kind: 'other', encrypted: false, seq: '', intact, raw };
  const [, star, kind, seq, account, rest] = head as unknown as string[];
  let time: number | undefined;
  if (star === '*' && key !== undefined) {
    const decipher = createDecipheriv(aes(key), key, Buffer.alloc(16));
    decipher.setAutoPadding(false);
    const clear = Buffer.concat([
      decipher.update(Buffer.from(rest as string, 'hex')),
      decipher.final(),
    ]).toString('latin1');
    time = parseSentTime(clear);
  } else {
    time = parseSentTime(rest as string);
  }
  return {
    kind: kind as Dc09Answer['kind'],
    encrypted: star === '*',
    seq: seq as string,
    ...(account === undefined ? {} : { account }),
    ...(time === undefined ? {} : { time }),
    intact,
    raw,
  };
}
