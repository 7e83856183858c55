import { authenticatedRequest, DigestFetchError } from '../net/digest-fetch.ts';
import {
  MultipartError,
  type MultipartLimits,
  type MultipartPart,
  MultipartReader,
  multipartBoundary,
} from '../net/multipart-reader.ts';
import type { OutboundFetch } from '../net/outbound-address.ts';

/**
 * One long-lived HTTP event stream of one device, as Hikvision (`/ISAPI/Event/notification/alertStream`) and Dahua
 * (`/cgi-bin/eventManager.cgi?action=attach`) serve theirs: a GET answered with Digest or Basic authentication,
 * then a multipart body that never ends, one part per event (and heartbeats). The stream hands each part on in
 * order, waiting for the previous one to be handled (TCP's window holds the device back meanwhile); it notices a
 * stream that stalls (no byte for `stallMs`), a device that hangs up or reboots, garbage or a part over its
 * limits, and connects again after a jittered, growing delay, until stopped.
 */

/** Why a stream was dropped: labels of the connectors' drop counters, and what the device's status shows. */
export const streamDropReasons = {
  unauthorized: 'the device refused the credentials',
  http: 'the device answered with an HTTP error',
  network: 'the device could not be reached, or the connection broke',
  timeout: 'the device did not answer in time',
  refused: "the device's address is outside network.outbound",
  not_multipart: 'the device answered with something other than a multipart stream',
  malformed: 'the stream broke the multipart grammar',
  oversized: "a part, or a part's headers, larger than the stream's limits",
  stalled: 'nothing arrived for longer than the stall limit',
  ended: 'the device ended the stream',
  handler: 'the hub failed to handle a part',
} as const;
export type StreamDropReason = keyof typeof streamDropReasons;

/**
 * The drops that are the device's fault (not the network's, not the hub's): a connector keeps each as a dead letter,
 * counted under this refusal reason, as it does a part it refuses.
 */
export const refusalOfDrop: Readonly<Partial<Record<StreamDropReason, 'malformed' | 'oversized'>>> = {
  malformed: 'malformed',
  not_multipart: 'malformed',
  oversized: 'oversized',
};

export type StreamState = 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped';

export interface HttpEventStreamOptions {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The outbound guard's client (network.outbound), which pins the checked address. */
  readonly fetch: OutboundFetch;
  readonly limits: MultipartLimits;
  /** The wait for the answer's head. */
  readonly connectTimeoutMs: number;
  /** No byte for this long and the stream is dropped: devices send heartbeats well within it. */
  readonly stallMs: number;
  /** Delays between attempts: from minMs, doubling, up to maxMs, each jittered. */
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  /** Each part, in order; the next waits for the promise. A rejection drops the stream (`handler`). */
  readonly onPart: (part: MultipartPart) => Promise<void> | void;
  readonly onOpen?: () => void;
  readonly onDrop?: (reason: StreamDropReason, detail: string) => void;
  /** Math.random when not given; tests fix it. */
  readonly random?: () => number;
}

class StreamDrop extends Error {
  constructor(
    readonly reason: StreamDropReason,
    detail: string,
  ) {
    super(detail);
  }
}

const digestKinds: Readonly<Record<string, StreamDropReason>> = {
  unauthorized: 'unauthorized',
  unsupported: 'unauthorized',
  http: 'http',
  timeout: 'timeout',
  refused: 'refused',
  network: 'network',
  aborted: 'network',
  too_large: 'malformed',
};

export class HttpEventStream {
  readonly #options: HttpEventStreamOptions;
  #state: StreamState = 'idle';
  #lastDrop: { reason: StreamDropReason; detail: string; at: number } | undefined;
  #running: Promise<void> | undefined;
  #stop = new AbortController();

  constructor(options: HttpEventStreamOptions) {
    this.#options = options;
  }

  get state(): StreamState {
    return this.#state;
  }

  /** The last drop, for the device's status: why, in words, and when (epoch ms). */
  get lastDrop():
    | { readonly reason: StreamDropReason; readonly detail: string; readonly at: number }
    | undefined {
    return this.#lastDrop;
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#stop = new AbortController();
    this.#running = this.#run();
  }

  /** Ends the stream and any wait; resolves once nothing of it runs. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    this.#running = undefined;
    this.#state = 'stopped';
  }

  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    let failures = 0;
    while (!stop.aborted) {
      this.#state = 'connecting';
      let delivered = false;
      try {
        await this.#follow(stop, () => {
          delivered = true;
        });
        if (stop.aborted) break;
        throw new StreamDrop('ended', 'the device ended the stream');
      } catch (error) {
        if (stop.aborted) break;
        const drop = asDrop(error);
        this.#lastDrop = { reason: drop.reason, detail: drop.message, at: Date.now() };
        this.#options.onDrop?.(drop.reason, drop.message);
      }
      // A stream that delivered starts over from the shortest delay; one failing again and again waits longer.
      failures = delivered ? 1 : failures + 1;
      this.#state = 'waiting';
      await sleep(this.#delay(failures), stop);
    }
    this.#state = 'stopped';
  }

  /** Equal jitter: half the exponential delay, plus up to as much again at random, so devices do not stampede. */
  #delay(failures: number): number {
    const { minMs, maxMs } = this.#options.retry;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 20));
    const random = this.#options.random ?? Math.random;
    return ceiling / 2 + random() * (ceiling / 2);
  }

  async #follow(stop: AbortSignal, onDelivered: () => void): Promise<void> {
    const options = this.#options;
    const connection = new AbortController();
    const signal = AbortSignal.any([stop, connection.signal]);
    const response = await authenticatedRequest(options.url, {
      username: options.username,
      password: options.password,
      fetch: options.fetch,
      timeoutMs: options.connectTimeoutMs,
      signal,
    });
    const boundary = multipartBoundary(response.headers.get('content-type'));
    if (boundary === undefined || response.body === null) {
      await response.body?.cancel();
      throw new StreamDrop(
        'not_multipart',
        `the device answered ${response.headers.get('content-type') ?? 'without a content type'}`,
      );
    }
    this.#state = 'open';
    options.onOpen?.();
    const parts: MultipartPart[] = [];
    const reader = new MultipartReader(boundary, options.limits, (part) => parts.push(part));
    const body = response.body.getReader();
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    const watch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        connection.abort();
      }, options.stallMs);
    };
    watch();
    try {
      for (;;) {
        const { done, value } = await body.read();
        // The abort of a stalled stream may end its body rather than fail it (a body delimited by the connection).
        if (done && stalled) throw new StreamDrop('stalled', `nothing arrived for ${options.stallMs} ms`);
        if (done) return;
        watch();
        reader.push(value);
        for (const part of parts.splice(0)) {
          try {
            await options.onPart(part);
          } catch (error) {
            throw new StreamDrop('handler', (error as Error).message);
          }
          onDelivered();
        }
        if (reader.closed) return;
      }
    } catch (error) {
      if (stalled) throw new StreamDrop('stalled', `nothing arrived for ${options.stallMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
      connection.abort();
      body.cancel().catch(() => undefined);
    }
  }
}

function asDrop(error: unknown): StreamDrop {
  if (error instanceof StreamDrop) return error;
  if (error instanceof MultipartError) {
    return new StreamDrop(error.problem === 'bad_content_length' ? 'malformed' : 'oversized', error.message);
  }
  if (error instanceof DigestFetchError)
    return new StreamDrop(digestKinds[error.kind] ?? 'network', error.message);
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  return new StreamDrop('network', cause ?? (error as Error).message ?? String(error));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
