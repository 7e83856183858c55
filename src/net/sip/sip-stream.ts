import { headEnd, readContentLength, type SipLimits } from './sip-message.ts';

/** Why a stream's framing failed: its bytes can no longer be split into messages (the connection should close). */
export type SipStreamProblemKind = 'malformed' | 'oversized';

/**
 * RFC 3261 §18.3 framing for a stream transport (TCP): a message is its headers up to the empty line and then
 * Content-Length bytes of body. CRLFs between messages are keep-alives (RFC 5626 §3.5.1) and skipped. A message
 * without Content-Length is taken to have no body (the RFC requires the header on streams; some devices omit it
 * when there is no body). Once a problem is reported the reader ignores the rest: the framing is lost.
 */
export class SipStreamReader {
  readonly #limits: SipLimits;
  readonly #onMessage: (bytes: Buffer) => void;
  readonly #onProblem: (problem: string, kind: SipStreamProblemKind, bytes: number) => void;
  readonly #onPing: (() => void) | undefined;
  #buffered: Buffer = Buffer.alloc(0);
  #broken = false;

  /** `onPing` hears RFC 5626's double-CRLF ping, which the peer expects a single-CRLF pong to. */
  constructor(
    limits: SipLimits,
    onMessage: (bytes: Buffer) => void,
    onProblem: (problem: string, kind: SipStreamProblemKind, bytes: number) => void,
    onPing?: () => void,
  ) {
    this.#limits = limits;
    this.#onMessage = onMessage;
    this.#onProblem = onProblem;
    this.#onPing = onPing;
  }

  /** Whether a problem stopped the reader. */
  get broken(): boolean {
    return this.#broken;
  }

  push(chunk: Buffer): void {
    if (this.#broken) return;
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    while (!this.#broken) {
      let start = 0;
      while (
        start < this.#buffered.length &&
        (this.#buffered[start] === 0x0d || this.#buffered[start] === 0x0a)
      ) {
        start++;
      }
      if (start > 0) {
        if (this.#buffered.subarray(0, start).includes('\r\n\r\n')) this.#onPing?.();
        this.#buffered = this.#buffered.subarray(start);
      }
      if (this.#buffered.length === 0) return;
      const head = headEnd(this.#buffered);
      if (head === undefined) {
        if (this.#buffered.length > this.#limits.maxMessageBytes) {
          this.#fail(`no end of headers within ${this.#limits.maxMessageBytes} bytes`, 'oversized');
        }
        return;
      }
      const length = this.#bodyLength(this.#buffered.subarray(0, head.end));
      if (length === undefined) return;
      const total = head.bodyStart + length;
      if (total > this.#limits.maxMessageBytes) {
        this.#fail(
          `a message of ${total} bytes, over the ${this.#limits.maxMessageBytes}-byte limit`,
          'oversized',
        );
        return;
      }
      if (this.#buffered.length < total) return;
      // A copy: the rest of the buffer may be large and is kept no longer than needed.
      const message = Buffer.from(this.#buffered.subarray(0, total));
      this.#buffered = this.#buffered.subarray(total);
      this.#onMessage(message);
    }
  }

  /** The Content-Length the headers give (0 when none); undefined after reporting a bad one. */
  #bodyLength(head: Buffer): number | undefined {
    const values: string[] = [];
    for (const line of head.toString('latin1').split(/\r?\n/)) {
      const match = /^(content-length|l)[ \t]*:(.*)$/i.exec(line);
      if (match !== null) values.push(match[2] as string);
    }
    if (values.length === 0) return 0;
    try {
      return readContentLength(values);
    } catch (error) {
      this.#fail((error as { problem?: string }).problem ?? 'bad Content-Length', 'malformed');
      return undefined;
    }
  }

  #fail(problem: string, kind: SipStreamProblemKind): void {
    this.#broken = true;
    const bytes = this.#buffered.length;
    this.#buffered = Buffer.alloc(0);
    this.#onProblem(problem, kind, bytes);
  }
}
