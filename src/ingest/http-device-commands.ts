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
 * No answer in time is no reply: the command service then says device_timeout, as for any silent device.
 */

/** What an adapter's encoder gives for an HTTP device: checked, since it becomes a request to the device. */
export const httpCommandRequest = z.strictObject({
  requestId: z.string().min(1).max(64),
  method: z.enum(['GET', 'PUT', 'POST', 'DELETE']),
  path: z.string().startsWith('/').max(2048),
  body: z
    .string()
    .max(64 * 1024)
    .optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(1024)).optional(),
});
export type HttpCommandRequest = z.infer<typeof httpCommandRequest>;

/** The most of a device's answer a reply frame carries. */
export const maxReplyBodyChars = 1024;

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
    if (device?.http === undefined) throw new Error(`no device with an HTTP API at ${address}`);
    const request = httpCommandRequest.parse(JSON.parse(payload));
    void this.#send(device, device.http, request).catch((error: unknown) =>
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
    const { guard, timeoutMs, onFrame, topics } = this.#options;
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
        },
      );
      status = response.status;
      body = (await response.text()).slice(0, maxReplyBodyChars);
    } catch (error) {
      if (error instanceof DigestFetchError && error.kind === 'timeout') return;
      // The device's refusal (401, 400 `Error`) is its answer; a failure to reach it is a reply that says so.
      status = error instanceof DigestFetchError && error.status !== undefined ? error.status : 599;
      body = `Error ${(error as Error).message}`.slice(0, maxReplyBodyChars);
    }
    const reply = JSON.stringify({ requestId: request.requestId, status, body });
    await onFrame(topics.deviceTopic(device.id, 'replies'), Buffer.from(reply), Date.now());
  }
}
