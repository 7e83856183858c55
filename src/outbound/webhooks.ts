import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Counter, Gauge } from 'prom-client';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { TypedBus } from '../core/bus.ts';
import { type HubBusEvents, whenStored } from '../core/events.ts';
import { type FeedMessage, type FeedType, feedMessage } from '../core/feed-message.ts';
import { timeOrderedId } from '../core/ids.ts';
import { type OutboundGuard, OutboundRefused } from '../net/outbound-address.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { DeliveryOutbox, PendingDelivery } from '../store/store.ts';
import { webhookMetrics } from './outbound-metrics.ts';
import { MAX_BACKOFF_SECONDS, type OutboundConfig, type WebhookConfig } from './outbound-schema.ts';

/** Pending deliveries kept per webhook; past this the oldest pending one is dropped (and audited). */
export const DEFAULT_QUEUE_LIMIT = 10_000;

/**
 * Deliveries of one webhook in flight at once, each for a different incident. More than one, so a receiver that
 * takes a second per request still keeps up, and one incident whose delivery is being retried does not hold up
 * every other incident's; few, so a struggling receiver is not flooded.
 */
export const MAX_IN_FLIGHT_PER_WEBHOOK = 4;

export const webhookOutcomes = ['delivered', 'retried', 'failed'] as const;
export type WebhookOutcome = (typeof webhookOutcomes)[number];

/** The JSON body of every delivery: the feed message, with the delivery's id and the time of this attempt. */
export interface WebhookBody extends FeedMessage {
  /** The same on every attempt of one delivery, so a receiver can drop repeats (deliveries are at-least-once). */
  readonly id: string;
  /** ISO 8601, this attempt; the same instant as x-gridhub-timestamp. */
  readonly sentAt: string;
}

/** Waits `ms`; resolves early when `signal` aborts. The default uses a timer that stop() clears. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface WebhookDispatcherOptions {
  readonly bus: TypedBus<HubBusEvents>;
  readonly webhooks: OutboundConfig['webhooks'];
  readonly audit: AuditTrail;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /**
   * The HTTP client: each attempt's target is resolved and checked against network.outbound.webhooks, and the
   * request goes to the checked address. A refused target fails the delivery at once (no retry) and is audited.
   */
  readonly guard: OutboundGuard;
  /** The wait between attempts; for tests. */
  readonly sleep?: Sleep;
  /** Pending deliveries kept per webhook; DEFAULT_QUEUE_LIMIT by default. */
  readonly queueLimit?: number;
  /** Where deliveries wait across restarts (the embedded store's); left out, they live in memory only. */
  readonly outbox?: DeliveryOutbox;
}

/** `x-gridhub-signature`'s value: HMAC-SHA256 with the webhook's secret over `<timestamp>.<raw body>`, in hex. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The wait after failed attempt `attempt` (1-based): backoffSeconds·2^(attempt-1), capped. */
export function backoffMs(backoffSeconds: number, attempt: number): number {
  return Math.min(backoffSeconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS) * 1000;
}

interface Delivery {
  readonly id: string;
  readonly message: FeedMessage;
}

/**
 * How one attempt ended: a status when the receiver answered, an error when it did not; `refused` when the
 * outbound policy refused the target (retrying cannot help until the config or the DNS changes).
 */
type AttemptResult = { readonly status: number } | { readonly error: string; readonly refused?: true };

/** One webhook's queue and the state that keeps its deliveries in order per incident. */
class Lane {
  readonly webhook: WebhookConfig;
  /** The URL fetched: the configured one without credentials. */
  readonly target: string;
  /** The URL as logs and audit entries show it: no credentials, no query, no fragment. */
  readonly safeUrl: string;
  readonly authorization: string | undefined;
  /** Waiting deliveries, oldest first. */
  readonly pending: Delivery[] = [];
  /** Incidents with a delivery in flight or waiting to be retried: their next delivery must wait. */
  readonly busy = new Set<string>();

  constructor(webhook: WebhookConfig) {
    this.webhook = webhook;
    const url = new URL(webhook.url);
    this.authorization =
      url.username === '' && url.password === ''
        ? undefined
        : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
    this.target = url.href;
    this.safeUrl = `${url.origin}${url.pathname}`;
  }

  wants(type: FeedType): boolean {
    return this.webhook.events.includes(type);
  }

  /** Takes the oldest waiting delivery whose incident has none in flight, or undefined. */
  takeNext(): Delivery | undefined {
    const index = this.pending.findIndex((delivery) => !this.busy.has(delivery.message.after.id));
    if (index === -1) return undefined;
    const [delivery] = this.pending.splice(index, 1);
    return delivery;
  }
}

interface Failure {
  readonly attempts: number;
  readonly last?: AttemptResult;
  readonly message: string;
}

/**
 * POSTs every incident change to the configured webhooks, signed with HMAC, retried with exponential backoff,
 * and audited when it finally fails.
 *
 * Each webhook has its own bounded queue and at most MAX_IN_FLIGHT_PER_WEBHOOK deliveries in flight, so a slow
 * or dead receiver holds up only itself: the bus listener only enqueues. Within one webhook, an incident has at
 * most one delivery in flight or awaiting retry, so its changes arrive in the order they happened.
 *
 * Delivery is at-least-once (a receiver that processed a request but answered too late gets it again, with the same
 * id). With an outbox, each delivery is written there as it is queued and removed once delivered or given up, so
 * what was waiting or in flight when the hub stopped or died is sent at the next start, before anything new, with
 * its id, and within the queue limit. The window: a change committed in the last moments before a crash, whose
 * delivery was not yet written to the outbox (one commit, milliseconds). Kept deliveries go in the order of their
 * ids, which follow the clock of the run that made them. Without an outbox (a store several instances share), the
 * queue lives in memory and is lost when the hub stops.
 */
export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #deliveries: Counter<'outcome'>;
  readonly #queueDepth: Gauge<'webhook'>;
  #lanes: Lane[] = [];
  #unsubscribe: (() => void)[] = [];
  #stopController: AbortController | undefined;
  /** Resolves when the current run is stopped; raced against waits that might not honour the signal. */
  #stopped: Promise<void> = Promise.resolve();
  readonly #tasks = new Set<Promise<void>>();
  readonly #auditWrites = new Set<Promise<void>>();
  /** Outbox writes under way: settled before stop() resolves, since the store closes after. */
  readonly #outboxWrites = new Set<Promise<void>>();
  /** While start() reads the outbox: deliveries are queued, none is sent. */
  #resuming = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'outbound.webhooks' });
    const counted = webhookMetrics(options.metrics);
    this.#deliveries = counted.deliveries;
    this.#queueDepth = counted.queueDepth;
  }

  /** Resumes what the outbox kept from the last run, then takes the bus's changes. */
  async start(): Promise<void> {
    if (this.#stopController !== undefined) return;
    const controller = new AbortController();
    this.#stopController = controller;
    this.#stopped = new Promise((resolve) => controller.signal.addEventListener('abort', () => resolve()));
    // Every outcome shows from the start, at zero, so a dashboard can tell "none" from "not reported".
    for (const outcome of webhookOutcomes) this.#deliveries.labels(outcome).inc(0);
    this.#lanes = this.#options.webhooks.map((webhook) => new Lane(webhook));
    for (const lane of this.#lanes) this.#queueDepth.labels(lane.webhook.id).set(0);
    if (this.#lanes.length === 0) {
      await this.#resume();
      return;
    }
    const { bus } = this.#options;
    // Changes made while the outbox is read are queued behind what it kept, and nothing is sent until it is read:
    // an incident's kept delivery goes before its newer ones.
    this.#resuming = true;
    this.#unsubscribe = [
      // A device's alarm may be announced before its commit (for the live views): a webhook hears of it once stored.
      bus.on('incident:created', (incident, _receivedAt, stored) =>
        whenStored(stored, () => this.#dispatch(feedMessage('created', incident))),
      ),
      bus.on('incident:updated', (change, _repeat, stored) =>
        whenStored(stored, () => this.#dispatch(feedMessage('updated', change))),
      ),
    ];
    try {
      await this.#resume();
    } finally {
      this.#resuming = false;
    }
    this.#log.info(
      { webhooks: this.#lanes.map((lane) => ({ id: lane.webhook.id, url: lane.safeUrl })) },
      'webhooks ready',
    );
    for (const lane of this.#lanes) this.#pump(lane);
  }

  /**
   * Queues the deliveries the outbox kept, oldest first, ahead of anything new. One whose webhook is no longer
   * configured, or no longer wants its type, is removed and logged: there is nowhere to send it.
   */
  async #resume(): Promise<void> {
    const outbox = this.#options.outbox;
    const signal = this.#stopController?.signal;
    if (outbox === undefined || signal === undefined) return;
    let kept: PendingDelivery[];
    try {
      kept = await outbox.listDeliveries();
    } catch (error) {
      // The hub's alarms matter more than its webhook backlog: it starts, with what it could not read left there.
      this.#log.error(
        { error: (error as Error).message },
        'cannot read the webhook outbox; starting without it',
      );
      return;
    }
    // Stopped while reading: what was kept stays kept.
    if (signal.aborted) return;
    const resumedBy = new Map<Lane, Delivery[]>(this.#lanes.map((lane) => [lane, []]));
    // A store whose read is truly asynchronous may already hold deliveries this run queued meanwhile.
    const queued = new Set(this.#lanes.flatMap((lane) => lane.pending.map((delivery) => delivery.id)));
    let resumed = 0;
    const dropped = new Map<string, number>();
    for (const { id, webhookId, message } of kept) {
      if (queued.has(id)) continue;
      const lane = this.#lanes.find((candidate) => candidate.webhook.id === webhookId);
      if (lane === undefined || !lane.wants(message.type)) {
        dropped.set(webhookId, (dropped.get(webhookId) ?? 0) + 1);
        this.#outboxWrite(() => outbox.removeDelivery(id), webhookId);
        continue;
      }
      resumedBy.get(lane)?.push({ id, message });
      resumed += 1;
    }
    for (const [lane, deliveries] of resumedBy) {
      lane.pending.unshift(...deliveries);
      this.#trim(lane);
      this.#queueDepth.labels(lane.webhook.id).set(lane.pending.length);
    }
    if (resumed > 0) this.#log.info({ resumed }, 'webhook deliveries kept from the last run resumed');
    if (dropped.size > 0)
      this.#log.warn(
        { dropped: Object.fromEntries(dropped) },
        'webhook deliveries kept for webhooks no longer configured (or no longer wanting them) dropped',
      );
  }

  /**
   * An outbox write, awaited by stop(); a failure is logged and thrown nowhere. A put that failed leaves the
   * delivery to this run's memory; a removal that failed means it is sent again at the next start.
   */
  #outboxWrite(write: () => Promise<void>, webhookId: string): void {
    const tracked = Promise.resolve()
      .then(write)
      .catch((error: unknown) =>
        this.#log.error(
          { webhook: webhookId, error: (error as Error).message },
          'webhook outbox write failed',
        ),
      )
      .finally(() => this.#outboxWrites.delete(tracked));
    this.#outboxWrites.add(tracked);
  }

  /** A delivery delivered or given up leaves the outbox. */
  #settled(lane: Lane, delivery: Delivery): void {
    const outbox = this.#options.outbox;
    if (outbox !== undefined) this.#outboxWrite(() => outbox.removeDelivery(delivery.id), lane.webhook.id);
  }

  /**
   * Stops at once: no new deliveries, retry waits cancelled, requests in flight aborted. What was still queued or in
   * flight stays in the outbox for the next start (without one, it is abandoned); either is logged. Resolves once
   * every delivery task, audit write and outbox write has settled.
   */
  async stop(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    const controller = this.#stopController;
    if (controller === undefined) return;
    this.#stopController = undefined;
    controller.abort();
    for (const lane of this.#lanes) {
      const waiting = lane.pending.length + lane.busy.size;
      if (waiting > 0 && this.#options.outbox !== undefined)
        this.#log.info(
          { webhook: lane.webhook.id, kept: waiting },
          'webhook deliveries left in the outbox for the next start',
        );
      else if (waiting > 0)
        this.#log.warn(
          { webhook: lane.webhook.id, abandoned: waiting },
          'webhook deliveries abandoned at stop',
        );
      lane.pending.length = 0;
      this.#queueDepth.labels(lane.webhook.id).set(0);
    }
    this.#lanes = [];
    await Promise.allSettled([...this.#tasks]);
    await Promise.allSettled([...this.#auditWrites]);
    await Promise.allSettled([...this.#outboxWrites]);
  }

  #dispatch(message: FeedMessage): void {
    for (const lane of this.#lanes) {
      if (!lane.wants(message.type)) continue;
      const delivery = { id: timeOrderedId('whd'), message };
      lane.pending.push(delivery);
      const outbox = this.#options.outbox;
      if (outbox !== undefined)
        this.#outboxWrite(
          () => outbox.putDelivery({ ...delivery, webhookId: lane.webhook.id }),
          lane.webhook.id,
        );
      this.#trim(lane);
      this.#queueDepth.labels(lane.webhook.id).set(lane.pending.length);
      this.#pump(lane);
    }
  }

  /** Drops the oldest waiting deliveries past the queue limit, each recorded as a failure. */
  #trim(lane: Lane): void {
    const limit = this.#options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    while (lane.pending.length > limit) {
      const dropped = lane.pending.shift() as Delivery;
      this.#fail(lane, dropped, { attempts: 0, message: 'queue full' });
    }
  }

  /** Starts what may start: deliveries of incidents with none in flight, up to the webhook's limit. */
  #pump(lane: Lane): void {
    const signal = this.#stopController?.signal;
    if (signal === undefined || signal.aborted || this.#resuming) return;
    while (lane.busy.size < MAX_IN_FLIGHT_PER_WEBHOOK) {
      const delivery = lane.takeNext();
      if (delivery === undefined) break;
      const incidentId = delivery.message.after.id;
      lane.busy.add(incidentId);
      const task = this.#deliver(lane, delivery, signal)
        .catch((error: unknown) =>
          this.#log.error(
            { webhook: lane.webhook.id, incidentId, error: (error as Error).message },
            'webhook delivery crashed',
          ),
        )
        .finally(() => {
          this.#tasks.delete(task);
          lane.busy.delete(incidentId);
          this.#pump(lane);
        });
      this.#tasks.add(task);
    }
    this.#queueDepth.labels(lane.webhook.id).set(lane.pending.length);
  }

  async #deliver(lane: Lane, delivery: Delivery, stop: AbortSignal): Promise<void> {
    const { webhook } = lane;
    const incidentId = delivery.message.after.id;
    for (let attempt = 1; ; attempt++) {
      const result = await this.#attempt(lane, delivery, stop);
      if (stop.aborted) return;
      if ('status' in result && result.status >= 200 && result.status < 300) {
        this.#deliveries.labels('delivered').inc();
        this.#settled(lane, delivery);
        this.#log.debug(
          { webhook: webhook.id, incidentId, delivery: delivery.id, attempt, status: result.status },
          'webhook delivered',
        );
        return;
      }
      if (attempt >= webhook.maxAttempts || ('refused' in result && result.refused)) {
        this.#fail(lane, delivery, {
          attempts: attempt,
          last: result,
          message: `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${failureText(result)}`,
        });
        return;
      }
      this.#deliveries.labels('retried').inc();
      const waitMs = backoffMs(webhook.backoffSeconds, attempt);
      const suppressed = this.#throttle.admit(`${webhook.id}:retry`);
      if (suppressed >= 0)
        this.#log.warn(
          {
            webhook: webhook.id,
            incidentId,
            delivery: delivery.id,
            attempt,
            ...result,
            retryInMs: waitMs,
            suppressed,
          },
          'webhook attempt failed, will retry',
        );
      const sleep = this.#options.sleep ?? defaultSleep;
      await Promise.race([sleep(waitMs, stop), this.#stopped]);
      if (stop.aborted) return;
    }
  }

  async #attempt(lane: Lane, delivery: Delivery, stop: AbortSignal): Promise<AttemptResult> {
    const { webhook } = lane;
    const now = Date.now();
    const timestamp = Math.floor(now / 1000);
    const { type, before, after } = delivery.message;
    const body: WebhookBody = { id: delivery.id, type, before, after, sentAt: new Date(now).toISOString() };
    const raw = JSON.stringify(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'gridhub-webhooks',
      'x-gridhub-delivery': delivery.id,
      'x-gridhub-event': type,
      'x-gridhub-timestamp': String(timestamp),
      'x-gridhub-signature': webhookSignature(webhook.secret, timestamp, raw),
    };
    if (lane.authorization !== undefined) headers.authorization = lane.authorization;

    // One controller per attempt, aborted by its own timer or by stop(); both are removed when the attempt ends,
    // so nothing of an attempt outlives it (AbortSignal.timeout's timer would, until it fired).
    const controller = new AbortController();
    const timeoutMs = webhook.timeoutSeconds * 1000;
    const timer = setTimeout(() => controller.abort(new TimeoutError(webhook.timeoutSeconds)), timeoutMs);
    const onStop = () => controller.abort(new Error('stopped'));
    stop.addEventListener('abort', onStop, { once: true });
    const aborted = new Promise<never>((_resolve, reject) =>
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }),
    );
    aborted.catch(() => {});
    try {
      const fetchImpl = this.#options.guard.fetcher('webhook', { webhook: webhook.id });
      // Raced against the abort too, so even an HTTP client that ignores the signal cannot hold a delivery.
      const response = await Promise.race([
        fetchImpl(lane.target, {
          method: 'POST',
          headers,
          body: raw,
          // A redirect is not followed (a POST turned into a GET would lose the body): it counts as a failure.
          redirect: 'manual',
          signal: controller.signal,
        }),
        aborted,
      ]);
      // The receiver's answer body is not read; cancelling it frees the connection.
      response.body?.cancel().catch(() => {});
      return { status: response.status };
    } catch (error) {
      if (error instanceof OutboundRefused) return { error: error.message, refused: true };
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      return { error: errorText(reason) };
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }

  /** A delivery given up: counted, logged (throttled) and recorded in the audit trail of its incident. */
  #fail(lane: Lane, delivery: Delivery, failure: Failure): void {
    const { webhook } = lane;
    const incidentId = delivery.message.after.id;
    this.#deliveries.labels('failed').inc();
    this.#settled(lane, delivery);
    const last =
      failure.last === undefined
        ? {}
        : 'status' in failure.last
          ? { lastStatus: failure.last.status }
          : { lastError: failure.last.error };
    const suppressed = this.#throttle.admit(`${webhook.id}:failed`);
    if (suppressed >= 0)
      this.#log.warn(
        {
          webhook: webhook.id,
          incidentId,
          delivery: delivery.id,
          attempts: failure.attempts,
          ...last,
          suppressed,
        },
        `webhook delivery failed: ${failure.message}`,
      );
    const write = this.#options.audit
      .record('system', {
        action: 'webhook.delivery',
        target: { kind: 'incident', id: incidentId },
        outcome: 'failed',
        detail: {
          webhook: webhook.id,
          url: lane.safeUrl,
          delivery: delivery.id,
          type: delivery.message.type,
          attempts: failure.attempts,
          ...last,
        },
        message: failure.message,
      })
      .catch((error: unknown) =>
        this.#log.error(
          { webhook: webhook.id, incidentId, error: (error as Error).message },
          'cannot record a failed webhook delivery',
        ),
      )
      .finally(() => this.#auditWrites.delete(write));
    this.#auditWrites.add(write);
  }
}

class TimeoutError extends Error {
  constructor(seconds: number) {
    super(`timeout after ${seconds} s`);
    this.name = 'TimeoutError';
  }
}

async function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => {});
}

function failureText(result: AttemptResult): string {
  return 'status' in result ? `HTTP ${result.status}` : result.error;
}

/** fetch's errors say "fetch failed"; the reason (ECONNREFUSED, a TLS error…) is in their cause. */
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error.message;
}
