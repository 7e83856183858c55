import { z } from 'zod';
import type { CommandChannel, FrameHandler } from '../core/connector.ts';
import type { ResolvedDevice } from '../core/device.ts';
import type { TopicGrammar } from '../core/topics.ts';
import { authenticatedRequest, DigestFetchError } from '../net/digest-fetch.ts';
import type { OutboundGuard } from '../net/outbound-address.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * Commands to devices with an HTTP API (Dahua CGI, Hikvision ISAPI), as a CommandChannel: the adapter's encoder
 * writes the HTTP request itself as data, `{requestId, method, path, body?, headers?}` (a path on the device's
 * `http.url`), and this channel sends it with the device's login through the outbound guard. The device's answer
 * comes back through the hub's frame handler as a reply frame on `<base>/devices/<id>/replies`,
 * `{requestId, status, body}`, which the adapter's reply decoder reads (`OK`, `<ResponseStatus>`, its own words).
 * A refusal (400, 403, 500) is an answer too: its body is the device's reason (Dahua's `Error …`, ISAPI's
 * ResponseStatus), so the reply carries it, bounded and minimised, for the decoder to pass on. A failure to reach
 * the device, or a device without `http` access, is a reply in the hub's words (status 599, or 0 for not sent).
 * No answer in time is no reply: the command service then says device_timeout, as for any silent device.
 */

/** What an adapter's encoder gives for an HTTP device: checked, since it becomes a request to the device. */
export const httpCommandRequest = z.strictObject({
  requestId: z.string().min(1).max(64),
  method: z.enum(['GET', 'PUT', 'POST', 'DELETE']),
  // A path on the device, never `//host/…`, which would make it another address.
  path: z
    .string()
    .regex(/^\/(?!\/)/)
    .max(2048),
  body: z
    .string()
    .max(64 * 1024)
    .optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(1024)).optional(),
});
export type HttpCommandRequest = z.infer<typeof httpCommandRequest>;

/** The most of a device's answer a reply frame carries. */
export const maxReplyBodyChars = 1024;

/** The status of a reply to a command the hub could not send: the device has no `http` access configured. */
export const notSentStatus = 0;
/** The status of a reply to a command whose device could not be reached (no HTTP answer). */
export const unreachedStatus = 599;

export interface HttpDeviceCommandsOptions {
  readonly registry: { get(id: string): ResolvedDevice | undefined };
  readonly topics: TopicGrammar;
  readonly guard: OutboundGuard;
  /** The hub's frame handler: the reply frame goes through it, as a device's own reply would. */
  readonly onFrame: FrameHandler;
  /** The wait for the device's answer. */
  readonly timeoutMs: number;
  /** Whether the device can be reached now (its event stream is open, say). */
  readonly isConnected: (deviceId: string) => boolean;
  /** Ends and restarts what the connector holds of the device. */
  readonly disconnect: (deviceId: string) => void;
  readonly logger: Logger;
}

export class HttpDeviceCommands implements CommandChannel {
  readonly #options: HttpDeviceCommandsOptions;

  constructor(options: HttpDeviceCommandsOptions) {
    this.#options = options;
  }

  isConnected(deviceId: string): boolean {
    return this.#options.isConnected(deviceId);
  }

  disconnect(deviceId: string): void {
    this.#options.disconnect(deviceId);
  }

  /** Resolves once the request is on its way; its answer arrives later, as a reply frame. */
  async publish(address: string, payload: string): Promise<void> {
    const { topics, registry } = this.#options;
    const deviceId = topics.parseDeviceTopic(address)?.deviceId;
    const device = deviceId === undefined ? undefined : registry.get(deviceId);
    if (device === undefined) throw new Error(`no device at ${address}`);
    const request = httpCommandRequest.parse(JSON.parse(payload));
    // A device that only pushes (no `http` login) cannot be commanded: the reply says so rather than a timeout.
    const sent =
      device.http === undefined
        ? this.#reply(device, request, notSentStatus, 'the device has no http access configured')
        : this.#send(device, device.http, request);
    void sent.catch((error: unknown) =>
      this.#options.logger.error(
        { deviceId: device.id, error: (error as Error).message },
        'command reply not handled',
      ),
    );
  }

  async #send(
    device: ResolvedDevice,
    http: NonNullable<ResolvedDevice['http']>,
    request: HttpCommandRequest,
  ): Promise<void> {
    const { guard, timeoutMs } = this.#options;
    let status: number;
    let body: string;
    try {
      const response = await authenticatedRequest(
        new URL(request.path, http.url).toString(),
        {
          username: http.username,
          password: http.password,
          fetch: guard.fetcher('device', { deviceId: device.id }),
          timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        },
        {
          method: request.method,
          ...(request.body === undefined ? {} : { body: request.body }),
          ...(request.headers === undefined ? {} : { headers: request.headers }),
          // A refusal's body is the device's reason: read it rather than only its status.
          answerErrors: true,
        },
      );
      status = response.status;
      body = await readReplyBody(response);
    } catch (error) {
      if (error instanceof DigestFetchError && error.kind === 'timeout') return;
      // A refused login (401) or no answer at all: the reply says so in the hub's words.
      status =
        error instanceof DigestFetchError && error.status !== undefined ? error.status : unreachedStatus;
      body = (error as Error).message;
    }
    await this.#reply(device, request, status, body);
  }

  #reply(device: ResolvedDevice, request: HttpCommandRequest, status: number, body: string): Promise<void> {
    const { onFrame, topics } = this.#options;
    const reply = JSON.stringify({ requestId: request.requestId, status, body: minimised(body) });
    return (
      onFrame(topics.deviceTopic(device.id, 'replies'), Buffer.from(reply), Date.now()) ?? Promise.resolve()
    );
  }
}

/**
 * The start of the device's answer, no more than a reply carries: the rest is not read. A UTF-8 character is at
 * most 4 bytes, so that many bytes hold the characters kept.
 */
async function readReplyBody(response: Response): Promise<string> {
  const maxBytes = maxReplyBodyChars * 4;
  if (response.body === null) return '';
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    chunks.push(Buffer.from(chunk));
    total += chunk.length;
    if (total >= maxBytes) {
      await response.body.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/**
 * A device's words as a reply carries them: control characters out, whitespace runs as one space (a reason on one
 * line, XML still XML), long digit runs (a card or phone number a device might echo) masked, and bounded.
 */
export function minimised(text: string): string {
  return text
    .replace(/^\uFEFF/, '')
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .replace(/\d{8,}/g, (digits) => `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`)
    .trim()
    .slice(0, maxReplyBodyChars);
}
