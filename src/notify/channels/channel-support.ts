import type { Counter } from 'prom-client';
import { z } from 'zod';
import { LogThrottle } from '../../observability/logger.ts';
import { declareMetrics } from '../../observability/metrics-registry.ts';
import type {
  ChannelKind,
  ChannelStatus,
  DeliveryResult,
  Notification,
  NotificationChannel,
  Recipient,
} from '../channel.ts';
import type { ChannelDependencies } from './channel-dependencies.ts';
import { channelIdSchema } from './channel-id.ts';

/**
 * What every channel module shares: the settings each kind has (id, timeout), the one HTTP call with a deadline,
 * the counter of requests by outcome, and the status (ok / failing / credentials_refused) with secrets kept out.
 */

/** Outcomes of gridhub_notification_channel_requests_total: a delivery's, with a refused credential on its own. */
export const channelOutcomes = ['sent', 'retryable', 'failed', 'credentials_refused', 'unreachable'] as const;
export type ChannelOutcome = (typeof channelOutcomes)[number];

export const channelMetrics = declareMetrics((metrics) => ({
  requests: metrics.counter({
    name: 'gridhub_notification_channel_requests_total',
    help: 'Deliveries a notification channel attempted, by channel id and outcome (sent; retryable: timeout, 5xx, rate limit; failed; credentials_refused; unreachable: no address for the recipient).',
    labelNames: ['channel', 'outcome'] as const,
  }),
}));

/** The settings every kind has, spread into each kind's strictObject. */
export const commonChannelSettings = {
  id: channelIdSchema,
  timeoutMs: z
    .number()
    .int()
    .min(500)
    .max(60_000)
    .default(10_000)
    .describe('How long one request to the provider may take before it counts as failed (retryable).'),
};

/** A provider's base address: the real provider by default, a local one in tests or behind a proxy. */
export const providerBaseUrl = (real: string) =>
  z
    .url({ protocol: /^https?$/ })
    .max(300)
    .default(real)
    .describe(`The provider's base address (default ${real}); change it only for a proxy or a test double.`);

/** A credential: a plain string here, given in the file as {env: NAME} or {file: path} (secret-references.ts). */
export const credential = (what: string) =>
  z.string().min(1).max(512).describe(`${what}; give it as {env: NAME} or {file: path}.`);

/** How a provider answered one HTTP request: its status and body, or why it did not. */
export type ProviderAnswer =
  | { readonly answered: true; readonly status: number; readonly text: string; readonly json: unknown }
  | { readonly answered: false; readonly reason: string };

/** The most of a provider's answer read: their answers are a few hundred bytes. */
const maxAnswerBytes = 64 * 1024;

/**
 * One request with a deadline; never throws. The answer's body is read (bounded) and parsed as JSON when it is.
 * Reasons name no URL: query strings carry access tokens and keys.
 */
export async function callProvider(
  url: string,
  init: {
    readonly method: 'GET' | 'POST' | 'PUT';
    readonly headers?: Record<string, string>;
    readonly body?: string | Uint8Array;
    readonly timeoutMs: number;
  },
): Promise<ProviderAnswer> {
  try {
    const response = await fetch(url, {
      method: init.method,
      ...(init.headers === undefined ? {} : { headers: init.headers }),
      ...(init.body === undefined ? {} : { body: init.body }),
      redirect: 'manual',
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.subarray(0, maxAnswerBytes).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { answered: true, status: response.status, text, json };
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError')
      return { answered: false, reason: `no answer within ${init.timeoutMs} ms` };
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      answered: false,
      reason: `cannot reach the provider${cause === undefined ? '' : ` (${cause})`}`,
    };
  }
}

/** What a module concluded from one attempt; `credentialsRefused` marks the status until a later success. */
export type Attempt = DeliveryResult & { readonly credentialsRefused?: boolean };

export const sent = (reference?: string): Attempt =>
  reference === undefined ? { outcome: 'sent' } : { outcome: 'sent', reference };
export const retryable = (reason: string): Attempt => ({ outcome: 'failed', retryable: true, reason });
export const refused = (reason: string): Attempt => ({ outcome: 'failed', retryable: false, reason });
export const credentialsRefused = (reason: string): Attempt => ({
  outcome: 'failed',
  retryable: false,
  reason,
  credentialsRefused: true,
});
export const unreachable = (reason: string): Attempt => ({ outcome: 'unreachable', reason });

/** The failure of an HTTP exchange that did not get as far as the provider's own verdict. */
export function transportFailure(answer: ProviderAnswer): Attempt | undefined {
  if (!answer.answered) return retryable(answer.reason);
  if (answer.status >= 500 || answer.status === 429 || answer.status === 408)
    return retryable(`the provider answered HTTP ${answer.status}`);
  return undefined;
}

/** A field of a JSON answer, or undefined. */
export function field(json: unknown, ...path: string[]): unknown {
  let value: unknown = json;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** `text` cut to at most `maxBytes` of UTF-8 (providers limit fields in bytes), with an ellipsis when cut. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text;
  while (cut.length > 0 && Buffer.byteLength(`${cut}…`) > maxBytes) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** At most this many characters of a provider's message go into a reason. */
const maxReasonLength = 200;

/**
 * The part every channel shares: it counts each delivery by outcome, keeps the status, and scrubs the configured
 * secrets out of every reason (a provider may echo a key back in its error message). Subclasses implement
 * `deliver` and `reaches`; `send` never throws.
 */
export abstract class ProviderChannel implements NotificationChannel {
  readonly id: string;
  readonly kind: ChannelKind;
  readonly #requests: Counter<'channel' | 'outcome'>;
  readonly #secrets: readonly string[];
  readonly #dependencies: ChannelDependencies;
  #status: ChannelStatus = { health: 'ok' };
  readonly #throttle = new LogThrottle();

  constructor(
    id: string,
    kind: ChannelKind,
    dependencies: ChannelDependencies,
    secrets: readonly (string | undefined)[],
  ) {
    this.id = id;
    this.kind = kind;
    this.#dependencies = dependencies;
    this.#requests = channelMetrics(dependencies.metrics).requests;
    // Longest first, so a secret containing another is scrubbed whole.
    this.#secrets = secrets
      .filter((secret): secret is string => secret !== undefined && secret.length >= 4)
      .sort((a, b) => b.length - a.length);
    for (const outcome of channelOutcomes) this.#requests.labels(id, outcome).inc(0);
  }

  abstract reaches(recipient: Recipient): boolean | Promise<boolean>;
  protected abstract deliver(recipient: Recipient, notification: Notification): Promise<Attempt>;

  async send(recipient: Recipient, notification: Notification): Promise<DeliveryResult> {
    let attempt: Attempt;
    try {
      attempt = await this.deliver(recipient, notification);
    } catch (error) {
      // A fault of ours (a template that cannot be filled): reported as a failure, never thrown at the dispatcher.
      attempt = refused(`the channel failed: ${(error as Error).message}`);
    }
    return this.#settle(attempt, recipient);
  }

  status(): ChannelStatus {
    return this.#status;
  }

  protected get log() {
    return this.#dependencies.logger;
  }

  protected get store() {
    return this.#dependencies.store;
  }

  protected get metrics() {
    return this.#dependencies.metrics;
  }

  /** `text` with every configured secret replaced and cut to a readable length. */
  scrub(text: string): string {
    let clean = text;
    for (const secret of this.#secrets) clean = clean.split(secret).join('***');
    return clean.length > maxReasonLength ? `${clean.slice(0, maxReasonLength)}…` : clean;
  }

  /** `scrub`, and the recipient's phone and provider ids out too: personal identifiers never reach a log line. */
  #scrubFor(text: string, recipient: Recipient): string {
    let clean = text;
    const { phone, wecomUserId, dingtalkUserId } = recipient.contact;
    const digits = phone?.replace(/[^0-9]/g, '');
    for (const identifier of [phone, digits?.slice(-11), wecomUserId, dingtalkUserId])
      if (identifier !== undefined && identifier.length >= 3)
        clean = clean.split(identifier).join('<recipient>');
    return this.scrub(clean);
  }

  #settle(attempt: Attempt, recipient: Recipient): DeliveryResult {
    const now = new Date().toISOString();
    const outcome: ChannelOutcome =
      attempt.outcome === 'sent'
        ? 'sent'
        : attempt.outcome === 'unreachable'
          ? 'unreachable'
          : attempt.credentialsRefused === true
            ? 'credentials_refused'
            : attempt.retryable
              ? 'retryable'
              : 'failed';
    this.#requests.labels(this.id, outcome).inc();
    if (attempt.outcome === 'sent') {
      this.#status = { health: 'ok', lastSuccessAt: now };
      return attempt.reference === undefined
        ? { outcome: 'sent' }
        : { outcome: 'sent', reference: attempt.reference };
    }
    if (attempt.outcome === 'unreachable')
      return { outcome: 'unreachable', reason: this.#scrubFor(attempt.reason, recipient) };
    const reason = this.#scrubFor(attempt.reason, recipient);
    // A refused credential stays visible until a delivery succeeds: a later timeout does not hide it.
    const health =
      attempt.credentialsRefused === true || this.#status.health === 'credentials_refused'
        ? 'credentials_refused'
        : 'failing';
    this.#status = {
      health,
      lastError: reason,
      lastFailureAt: now,
      ...(this.#status.lastSuccessAt === undefined ? {} : { lastSuccessAt: this.#status.lastSuccessAt }),
    };
    // An outage fails every delivery: one line per channel and outcome every 10 s, with how many were held back.
    const suppressed = this.#throttle.admit(`${this.id}:${outcome}`);
    if (suppressed >= 0)
      this.log.warn(
        { channel: this.id, kind: this.kind, outcome, reason, suppressed },
        'notification not delivered',
      );
    return { outcome: 'failed', retryable: attempt.retryable, reason };
  }
}
