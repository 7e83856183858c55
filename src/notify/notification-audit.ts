import { AuditTrail } from '../audit/audit-trail.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { Incident } from '../core/incident.ts';
import type { UserDescription } from '../core/user.ts';
import type { Logger } from '../observability/logger.ts';
import type { Store } from '../store/store.ts';
import { type DeliveryResult, maskPhone, type Notification, type NotificationChannel } from './channel.ts';
import type { NotificationOutcome, NotifyMetrics } from './notify-metrics.ts';
import type { PendingAsk } from './pending-asks.ts';

/** The channel kinds that deliver to a phone number: their audit entries show it masked. */
const phoneKinds: ReadonlySet<string> = new Set(['sms_http', 'sms_aliyun', 'sms_tencent', 'voice_webhook']);

/** A phone number as it may appear in a provider's error text: masked before it is audited or logged. */
const phoneLike = /\+?\d{7,15}/g;

/** A provider's text fit for an audit entry or a log line: phone numbers masked, and bounded. */
export function scrub(text: string): string {
  return text.replace(phoneLike, (digits) => maskPhone(digits)).slice(0, 300);
}

/** The audit action of each outcome: a bundled message was sent; unreachable is a step given up. */
const actionOf: Record<NotificationOutcome, string> = {
  sent: 'notify.sent',
  bundled: 'notify.sent',
  retried: 'notify.retried',
  failed: 'notify.failed',
  unreachable: 'notify.failed',
};

/** What each kind of delivery result adds to the audit entry's detail. */
const resultDetail: {
  [Outcome in DeliveryResult['outcome']]: (
    result: Extract<DeliveryResult, { outcome: Outcome }>,
  ) => Record<string, unknown>;
} = {
  sent: (result) => (result.reference === undefined ? {} : { reference: scrub(result.reference) }),
  failed: (result) => ({ retryable: result.retryable }),
  unreachable: () => ({ unreachable: true }),
};

/** One step's delivery as it went, to be audited and counted. */
export interface StepOutcome {
  readonly ask: PendingAsk;
  /** The channel the step names, when there is no such channel to have tried. */
  readonly channelId: string;
  readonly channel: NotificationChannel | undefined;
  readonly result: DeliveryResult;
  /** Whether the step is tried again on the same channel. */
  readonly retry: boolean;
  /** The cases the message was about: one entry each. */
  readonly incidents: readonly Incident[];
  readonly notification?: Notification;
  readonly user?: UserDescription;
  /** How many cases the message listed, when it was a bundle. */
  readonly bundled?: number;
}

/**
 * The notifier's record: an audit entry per case for every step taken (who, on which channel, how it went, the
 * phone masked), its count in gridhub_notifications_total, and a warning for each not delivered. An audit entry
 * that cannot be written is logged, never thrown: the steps go on.
 */
export class NotificationAudit {
  readonly #store: Store;
  readonly #metrics: NotifyMetrics;
  readonly #logger: Logger;

  constructor(store: Store, metrics: NotifyMetrics, logger: Logger) {
    this.#store = store;
    this.#metrics = metrics;
    this.#logger = logger;
  }

  async outcome(step: StepOutcome): Promise<void> {
    const { ask, channelId, channel, result, incidents, notification, user, bundled } = step;
    const outcome = outcomeOf(step);
    this.#metrics.deliveries.labels(channelId, outcome).inc();
    const phone = user?.contact?.phone;
    const detail = {
      channel: channelId,
      recipient: ask.userId,
      reason: ask.reason,
      step: ask.step,
      attempt: ask.attempt,
      ...(notification === undefined ? {} : { notification: notification.id }),
      ...(phone !== undefined && channel !== undefined && phoneKinds.has(channel.kind)
        ? { phone: maskPhone(phone) }
        : {}),
      ...(bundled === undefined ? {} : { bundled }),
      ...(resultDetail[result.outcome] as (result: DeliveryResult) => Record<string, unknown>)(result),
    };
    for (const incident of incidents) {
      await this.#append({
        action: actionOf[outcome],
        target: { kind: 'incident', id: incident.id },
        outcome: result.outcome === 'sent' ? 'ok' : 'failed',
        detail,
        ...(result.outcome === 'sent' ? {} : { message: scrub(result.reason) }),
      });
    }
    if (result.outcome !== 'sent')
      this.#logger.warn(
        {
          ns: 'notify',
          channel: channelId,
          user: ask.userId,
          incident: ask.incidentId,
          outcome,
          reason: scrub(result.reason),
        },
        'notification not delivered',
      );
  }

  /** A delivery under way when the hub stopped: audited as failed, for it is not sent again (it may have left). */
  interrupted(ask: PendingAsk, channelId: string): Promise<void> {
    return this.#append({
      action: 'notify.failed',
      target: { kind: 'incident', id: ask.incidentId },
      outcome: 'failed',
      detail: {
        channel: channelId,
        recipient: ask.userId,
        step: ask.step,
        attempt: ask.attempt,
        interrupted: true,
      },
      message: 'interrupted by a restart: not sent again, as it may have left',
    });
  }

  /** A step that threw (the store failing, say): logged, scrubbed. */
  stepFailed(error: unknown): void {
    this.#logger.error({ ns: 'notify', error: scrub(String(error)) }, 'notification step failed');
  }

  async #append(record: Parameters<typeof AuditTrail.entry>[1]): Promise<void> {
    const entry: AuditEntry = AuditTrail.entry('system', record);
    await this.#store
      .appendAudit(entry)
      .catch((error: unknown) =>
        this.#logger.error(
          { ns: 'notify', error: scrub(String(error)) },
          'notification audit entry not written',
        ),
      );
  }
}

/** The outcome label: a sent bundle is `bundled`; a failure tried again is `retried`. */
function outcomeOf({ result, retry, bundled }: StepOutcome): NotificationOutcome {
  if (result.outcome === 'sent') return bundled === undefined ? 'sent' : 'bundled';
  return retry ? 'retried' : result.outcome;
}
