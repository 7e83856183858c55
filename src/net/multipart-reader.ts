/**
 * Reads a multipart body as it arrives (RFC 2046 §5.1; `multipart/x-mixed-replace` and `multipart/mixed` as IP
 * cameras stream their events): each part's headers and body, handed on as soon as the part is whole. Devices
 * differ in what they send around a part, so the reader takes what real firmware does:
 * - a part with Content-Length is read by its length (a JPEG may contain the boundary's bytes); one without ends
 *   at the next delimiter line, its trailing line break removed (Dahua's text parts);
 * - line breaks are CRLF or bare LF; text before the first delimiter and between a part's end and the next
 *   delimiter (Hikvision's heartbeats, stray blank lines) is skipped;
 * - the close delimiter (`--boundary--`) ends the body.
 * Limits bound what one part may hold, so a broken or hostile device cannot grow the buffer without end.
 */

export interface MultipartPart {
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface MultipartLimits {
  /** The most a part's headers take; a longer header block is malformed. */
  readonly maxHeaderBytes: number;
  /** The most a part's body takes, declared or found. */
  readonly maxPartBytes: number;
}

export type MultipartProblem = 'headers_too_large' | 'part_too_large' | 'bad_content_length';

/** The body broke a limit or the grammar: the reader stops; the stream is to be dropped. */
export class MultipartError extends Error {
  constructor(
    readonly problem: MultipartProblem,
    message: string,
  ) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** The boundary parameter of a multipart Content-Type, unquoted; undefined when it has none or is not multipart. */
export function multipartBoundary(contentType: string | null | undefined): string | undefined {
  if (contentType === null || contentType === undefined) return undefined;
  if (!/^\s*multipart\//i.test(contentType)) return undefined;
  const match = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  // Some firmware writes the delimiter's dashes into the parameter (`boundary=--myboundary`) and sends
  // `--myboundary` on the wire: the reader accepts both spellings (see MultipartReader).
  return boundary;
}

type State = 'delimiter' | 'headers' | 'body';

const crlfcrlf = Buffer.from('\r\n\r\n');
const lflf = Buffer.from('\n\n');

export class MultipartReader {
  readonly #delimiter: Buffer;
  /** The delimiter a part without Content-Length ends at: a line break, then the delimiter. */
  readonly #limits: MultipartLimits;
  readonly #onPart: (part: MultipartPart) => void;
  #buffer: Buffer = Buffer.alloc(0);
  #state: State = 'delimiter';
  #headers: Record<string, string> = {};
  #length: number | undefined;
  #closed = false;

  constructor(boundary: string, limits: MultipartLimits, onPart: (part: MultipartPart) => void) {
    // `boundary=--x` with `--x` on the wire (some NVRs) and the standard `boundary=x` with `--x` both match `--x`.
    this.#delimiter = Buffer.from(boundary.startsWith('--') ? boundary : `--${boundary}`, 'latin1');
    this.#limits = limits;
    this.#onPart = onPart;
  }

  /** True once the close delimiter has been read: nothing after it is a part. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes held for a part not yet whole. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Feeds the next chunk; every part it completes is handed on before this returns. Throws MultipartError. */
  push(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    while (!this.#closed && this.#step()) {
      // each step consumes what it can; false: it needs more bytes
    }
  }

  #step(): boolean {
    if (this.#state === 'delimiter') return this.#readDelimiter();
    if (this.#state === 'headers') return this.#readHeaders();
    return this.#readBody();
  }

  /** Finds the next delimiter line, skipping what comes before it. */
  #readDelimiter(): boolean {
    const at = this.#buffer.indexOf(this.#delimiter);
    if (at < 0) {
      // Keep only what could be the start of a delimiter split across chunks.
      const keep = this.#delimiter.length - 1;
      if (this.#buffer.length > keep) this.#buffer = this.#buffer.subarray(this.#buffer.length - keep);
      return false;
    }
    const after = at + this.#delimiter.length;
    if (this.#buffer.length < after + 2) return false;
    if (this.#buffer[after] === 0x2d && this.#buffer[after + 1] === 0x2d) {
      this.#closed = true;
      this.#buffer = Buffer.alloc(0);
      return false;
    }
    const lineEnd = this.#buffer.indexOf(0x0a, after);
    if (lineEnd < 0) {
      if (this.#buffer.length - after > this.#limits.maxHeaderBytes) {
        throw new MultipartError('headers_too_large', 'a delimiter line longer than the header limit');
      }
      return false;
    }
    this.#buffer = this.#buffer.subarray(lineEnd + 1);
    this.#state = 'headers';
    return true;
  }

  #readHeaders(): boolean {
    // A part with no headers at all starts with its blank line.
    const startsBlank = this.#buffer[0] === 0x0a || (this.#buffer[0] === 0x0d && this.#buffer[1] === 0x0a);
    let end: number;
    let skip: number;
    if (startsBlank) {
      end = 0;
      skip = this.#buffer[0] === 0x0a ? 1 : 2;
    } else {
      const crlf = this.#buffer.indexOf(crlfcrlf);
      const lf = this.#buffer.indexOf(lflf);
      const candidates = [crlf, lf].filter((index) => index >= 0);
      if (candidates.length === 0) {
        if (this.#buffer.length > this.#limits.maxHeaderBytes) {
          throw new MultipartError(
            'headers_too_large',
            `a part's headers exceed ${this.#limits.maxHeaderBytes} bytes`,
          );
        }
        return false;
      }
      end = Math.min(...candidates);
      skip = end === crlf ? 4 : 2;
    }
    if (end > this.#limits.maxHeaderBytes) {
      throw new MultipartError(
        'headers_too_large',
        `a part's headers exceed ${this.#limits.maxHeaderBytes} bytes`,
      );
    }
    const headers: Record<string, string> = {};
    for (const line of this.#buffer.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.#headers = headers;
    this.#length = undefined;
    const declared = headers['content-length'];
    if (declared !== undefined) {
      if (!/^\d{1,12}$/.test(declared)) {
        throw new MultipartError(
          'bad_content_length',
          'a part declares a Content-Length that is not a number',
        );
      }
      const length = Number(declared);
      if (length > this.#limits.maxPartBytes) {
        throw new MultipartError(
          'part_too_large',
          `a part declares ${length} bytes, over ${this.#limits.maxPartBytes}`,
        );
      }
      this.#length = length;
    }
    this.#buffer = this.#buffer.subarray(end + skip);
    this.#state = 'body';
    return true;
  }

  #readBody(): boolean {
    let body: Buffer;
    if (this.#length !== undefined) {
      if (this.#buffer.length < this.#length) return false;
      body = this.#buffer.subarray(0, this.#length);
      this.#buffer = this.#buffer.subarray(this.#length);
    } else {
      const at = this.#buffer.indexOf(this.#delimiter);
      if (at < 0) {
        if (this.#buffer.length > this.#limits.maxPartBytes) {
          throw new MultipartError('part_too_large', `a part grew past ${this.#limits.maxPartBytes} bytes`);
        }
        return false;
      }
      let end = at;
      if (end > 0 && this.#buffer[end - 1] === 0x0a) end--;
      if (end > 0 && this.#buffer[end - 1] === 0x0d) end--;
      body = this.#buffer.subarray(0, end);
      this.#buffer = this.#buffer.subarray(at);
    }
    this.#state = 'delimiter';
    // The part owns its bytes: the buffer it was cut from is reused as chunks arrive.
    this.#onPart({ headers: this.#headers, body: Buffer.from(body) });
    return true;
  }
}
