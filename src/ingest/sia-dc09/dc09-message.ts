import { createCipheriv, createDecipheriv, randomInt } from 'node:crypto';

/**
 * The framing of ANSI/SIA DC-09 ("Internet Protocol Event Reporting"), as a receiver reads and answers it. Pure:
 * bytes in, a parsed message or the problem with it out; the answers built from what was read and the receiver's
 * clock. What the payload means (Contact ID, SIA DCS) is the adapter's (devices/alarm-panel-cid).
 *
 *   <LF> crc(4 hex) 0LLL(length, 4 hex) "id" seq(4 digits) [Rrcvr] Lpref [#acct] [ data ] [x-data]… [_timestamp] <CR>
 *
 * The CRC (CRC-16/ARC: polynomial 0x8005 reflected, initial 0) and the length cover everything from the first `"`
 * to the end of the timestamp. An encrypted message (`"*SIA-DCS"`, `"*ADM-CID"`, `"*NULL"`) carries, after its
 * `[`, the hexadecimal AES-CBC ciphertext (zero IV, no padding) of `<pad>|data]` + x-data + timestamp, the pad
 * filling it to whole blocks. The timestamp is UTC: `_HH:MM:SS,MM-DD-YYYY`.
 */

/** Message tokens this receiver handles; any other, read correctly, is answered DUH. */
export const dc09Tokens = ['SIA-DCS', 'ADM-CID', 'NULL'] as const;
export type Dc09Token = (typeof dc09Tokens)[number];

/** What a well-framed message says in the clear: enough to answer it and to find its account's key. */
export interface Dc09Header {
  readonly token: string;
  readonly encrypted: boolean;
  /** Four digits, echoed in the answer. */
  readonly seq: string;
  /** Receiver number (hex, without its `R`), when the panel sent one. */
  readonly receiver?: string;
  /** Line prefix (hex, without its `L`). */
  readonly line: string;
  /** The account in the header (DC-09 2013 requires it; older panels put it only in the data). */
  readonly account?: string;
  /** After the `[`: the data, x-data and timestamp in the clear, or the ciphertext in hexadecimal. */
  readonly rest: string;
}

/** What the message carries once read (and decrypted). */
export interface Dc09Content {
  /** The account the message is from: the header's, or the data's `#acct|` when the header had none. */
  readonly account: string;
  /** The data field without its `#acct|` prefix: `1401 01 003` (Contact ID), `Nri1/BA003` (SIA DCS), or empty. */
  readonly data: string;
  /** Each `[…]` after the data, without its brackets (`X…` location, `H…` time, `M…` MAC, `V…` verification). */
  readonly extended: readonly string[];
  /** Epoch ms of the message's timestamp, when it has one. */
  readonly timestamp?: number;
}

export type Dc09Reading<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

const LF = 0x0a;
const CR = 0x0d;
const headerPattern =
  /^"(\*?)([A-Z0-9-]{1,16})"(\d{4})(?:R([0-9A-Fa-f]{1,6}))?L([0-9A-Fa-f]{1,6})(?:#([0-9A-Fa-f]{3,16}))?\[(.*)$/s;
const contentPattern = /^([^[\]]*)\]((?:\[[^[\]]*\])*)(?:_(\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4}))?$/;
const dataAccountPattern = /^#([0-9A-Fa-f]{3,16})\|/;
const printable = /^[\x20-\x7e]*$/;

/** CRC-16/ARC of the bytes, as DC-09 computes it. */
export function dc09Crc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

function hex4(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Reads one message, LF to CR (trailing NULs some panels add already dropped): its CRC, length and header. The
 * problems name what broke, never what the message said.
 */
export function readDc09Frame(frame: Buffer): Dc09Reading<Dc09Header> {
  if (frame.length < 10 || frame[0] !== LF || frame[frame.length - 1] !== CR) {
    return { ok: false, problem: 'not a DC-09 message: it must run from LF to CR' };
  }
  const crcText = frame.toString('latin1', 1, 5);
  const lengthText = frame.toString('latin1', 5, 9);
  if (!/^[0-9A-Fa-f]{4}$/.test(crcText)) return { ok: false, problem: 'the CRC is not 4 hexadecimal digits' };
  if (!/^0[0-9A-Fa-f]{3}$/.test(lengthText)) {
    return { ok: false, problem: 'the length is not "0" and 3 hexadecimal digits' };
  }
  const body = frame.subarray(9, frame.length - 1);
  const declared = Number.parseInt(lengthText, 16);
  if (declared !== body.length) {
    return { ok: false, problem: `the length says ${declared} bytes, the message has ${body.length}` };
  }
  if (Number.parseInt(crcText, 16) !== dc09Crc(body)) {
    return { ok: false, problem: 'the CRC does not match the message' };
  }
  const text = body.toString('latin1');
  if (!printable.test(text)) return { ok: false, problem: 'the message has bytes outside printable ASCII' };
  const header = headerPattern.exec(text);
  if (header === null) {
    return { ok: false, problem: 'the header is not "id" seq [Rrcvr] Lpref [#acct] [' };
  }
  const [, star, token, seq, receiver, line, account, rest] = header as unknown as string[];
  return {
    ok: true,
    value: {
      token: token as string,
      encrypted: star === '*',
      seq: seq as string,
      ...(receiver === undefined ? {} : { receiver: receiver.toUpperCase() }),
      line: (line as string).toUpperCase(),
      ...(account === undefined ? {} : { account: account.toUpperCase() }),
      rest: rest as string,
    },
  };
}

function cipherName(key: Buffer): string {
  return `aes-${key.length * 8}-cbc`;
}

/** AES-CBC with DC-09's zero IV and no padding of its own (the message pads itself). */
export function dc09Decrypt(key: Buffer, ciphertextHex: string): Buffer | undefined {
  if (
    ciphertextHex.length === 0 ||
    ciphertextHex.length % 32 !== 0 ||
    !/^[0-9A-Fa-f]+$/.test(ciphertextHex)
  ) {
    return undefined;
  }
  const decipher = createDecipheriv(cipherName(key), key, Buffer.alloc(16));
  decipher.setAutoPadding(false);
  return Buffer.concat([decipher.update(Buffer.from(ciphertextHex, 'hex')), decipher.final()]);
}

export function dc09Encrypt(key: Buffer, plaintext: string): string {
  const cipher = createCipheriv(cipherName(key), key, Buffer.alloc(16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.from(plaintext, 'latin1')), cipher.final()])
    .toString('hex')
    .toUpperCase();
}

/**
 * The decrypted content without its pad: the pad runs to the first `|` (the data follows it) or, in a message
 * without data (`*NULL`), to the `]`.
 */
function withoutPad(plaintext: Buffer): string {
  const bar = plaintext.indexOf(0x7c);
  const close = plaintext.indexOf(0x5d);
  if (bar !== -1 && (close === -1 || bar < close)) return plaintext.toString('latin1', bar + 1);
  return close === -1 ? '' : plaintext.toString('latin1', close);
}

/**
 * The content of a well-framed message: decrypted with the account's key when it is encrypted (a key that does not
 * fit leaves bytes that do not read as content), the data's `#acct|` checked against the header's account.
 */
export function readDc09Content(header: Dc09Header, key: Buffer | undefined): Dc09Reading<Dc09Content> {
  let content = header.rest;
  if (header.encrypted) {
    if (key === undefined) return { ok: false, problem: 'encrypted, and the account has no key' };
    const plaintext = dc09Decrypt(key, header.rest);
    if (plaintext === undefined) {
      return { ok: false, problem: 'the ciphertext is not whole AES blocks in hexadecimal' };
    }
    content = withoutPad(plaintext);
  }
  const parts = contentPattern.exec(content);
  if (parts === null || !printable.test(content)) {
    return {
      ok: false,
      problem: header.encrypted
        ? "the message does not decrypt with the account's key"
        : 'the data is not data] [x-data]… [_HH:MM:SS,MM-DD-YYYY]',
    };
  }
  const [, rawData, extendedText, hh, mi, ss, mo, dd, yyyy] = parts as unknown as (string | undefined)[];
  let data = rawData as string;
  let account = header.account;
  const inData = dataAccountPattern.exec(data);
  if (inData !== null) {
    const dataAccount = (inData[1] as string).toUpperCase();
    if (account !== undefined && dataAccount !== account) {
      return { ok: false, problem: "the data's account differs from the header's" };
    }
    account = dataAccount;
    data = data.slice(inData[0].length);
  } else if (data.startsWith('|')) {
    data = data.slice(1);
  }
  if (account === undefined) return { ok: false, problem: 'the message names no account' };
  const extended =
    (extendedText as string).length === 0 ? [] : (extendedText as string).slice(1, -1).split('][');
  let timestamp: number | undefined;
  if (hh !== undefined) {
    timestamp = Date.UTC(Number(yyyy), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss));
    const back = new Date(timestamp);
    // Date.UTC rolls 13:61 over into the next hour: a timestamp that does not come back as written is no time.
    if (back.getUTCMonth() + 1 !== Number(mo) || back.getUTCDate() !== Number(dd) || Number(hh) > 23) {
      return { ok: false, problem: 'the timestamp is not a time' };
    }
    if (Number(mi) > 59 || Number(ss) > 59) return { ok: false, problem: 'the timestamp is not a time' };
  }
  return {
    ok: true,
    value: { account, data, extended, ...(timestamp === undefined ? {} : { timestamp }) },
  };
}

/** `HH:MM:SS,MM-DD-YYYY` in UTC, as DC-09 writes times. */
export function dc09Timestamp(epochMs: number): string {
  const date = new Date(epochMs);
  const two = (value: number) => String(value).padStart(2, '0');
  return (
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())},` +
    `${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}-${date.getUTCFullYear()}`
  );
}

/** A message body between LF and CR, with its CRC and length in front. */
export function dc09Frame(body: string): Buffer {
  const bytes = Buffer.from(body, 'latin1');
  return Buffer.concat([
    Buffer.from([LF]),
    Buffer.from(hex4(dc09Crc(bytes)) + hex4(bytes.length), 'latin1'),
    bytes,
    Buffer.from([CR]),
  ]);
}

/** The pad of an encrypted answer: letters, never `|`, `[` or `]`, filling the plaintext to whole AES blocks. */
function padFor(length: number): string {
  const size = 16 - (length % 16);
  let pad = '';
  for (let index = 0; index < size; index++) pad += String.fromCharCode(65 + randomInt(26));
  return pad;
}

function route(header: Pick<Dc09Header, 'seq' | 'receiver' | 'line'>, account: string | undefined): string {
  return `${header.seq}${header.receiver === undefined ? '' : `R${header.receiver}`}L${header.line}${
    account === undefined ? '' : `#${account}`
  }`;
}

/**
 * ACK: the message is taken. It echoes the sequence, receiver, line and account; to an encrypted message it is
 * encrypted with the same key and carries the receiver's time (`"*ACK"…[<pad>|]_timestamp`, encrypted).
 */
export function dc09Ack(header: Dc09Header, account: string, key: Buffer | undefined, now: number): Buffer {
  if (!header.encrypted || key === undefined) return dc09Frame(`"ACK"${route(header, account)}[]`);
  const tail = `|]_${dc09Timestamp(now)}`;
  return dc09Frame(`"*ACK"${route(header, account)}[${dc09Encrypt(key, padFor(tail.length) + tail)}`);
}

/**
 * NAK: the message was not read (CRC, length, format, key, timestamp). It names no account, as the standard has it,
 * and carries the receiver's time so that a panel whose clock is off can set it.
 */
export function dc09Nak(now: number): Buffer {
  return dc09Frame(`"NAK"0000R0L0A0[]_${dc09Timestamp(now)}`);
}

/** DUH: the message was read but cannot be handled here (a token or an account this receiver does not serve). */
export function dc09Duh(header: Dc09Header, account: string | undefined): Buffer {
  return dc09Frame(`"DUH"${route(header, account)}[]`);
}
