import type { TypedBus } from '../core/bus.ts';
import type { ComponentHealth } from '../core/component.ts';
import { GridhubError } from '../core/errors.ts';
import type { HubBusEvents } from '../core/events.ts';
import type { Incident } from '../core/incident.ts';
import type { People, UserDescription } from '../core/user.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import { factsOf, stillAsked } from './ask-reasons.ts';
import { type Bundle, Bundles } from './bundles.ts';
import type {
  ChannelKind,
  ChannelStatus,
  DeliveryResult,
  Notification,
  NotificationChannel,
  Recipient,
} from './channel.ts';
import { ChannelDelivery } from './channel-delivery.ts';
import { type AskReason, bundleMessage, caseMessage, type MessageContext } from './messages.ts';
import { NotificationAudit } from './notification-audit.ts';
import { NotificationIntake } from './notification-intake.ts';
import { type NotifyMetrics, notifyMetrics } from './notify-metrics.ts';
import type { NotifyConfig } from './notify-schema.ts';
import { type PendingAsk, PendingAsks, pendingCollection } from './pending-asks.ts';
import { askOver, nextStep, type Policy, PolicyBook } from './policy.ts';
import type { DeliveryConfig } from './policy-schema.ts';

export interface NotificationServiceOptions {
  readonly bus: TypedBus<HubBusEvents>;
  readonly store: Store;
  readonly channels: readonly NotificationChannel[];
  readonly config: Pick<NotifyConfig, 'policies' | 'delivery'>;
  /** The people the hub knows now (accounts.people): who is asked, by what policy, reached how. */
  readonly people: People;
  /** The duty officers on duty now at a node (Router.officersOnDuty). */
  readonly officersOnDuty: (nodeId: string, now: number) => readonly string[];
  readonly nodeName: (nodeId: string) => string | undefined;
  readonly timeZone: string;
  /** The hub's pages' address (notify.publicUrl, or the HTTP listener's own), read when a message is made. */
  readonly baseUrl: () => string;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** Epoch ms; Date.now when not given. */
  readonly now?: () => number;
  /** Ms one policy second lasts (afterSeconds, bundle windows, retry backoff): 1000; tests shorten it. */
  readonly secondMs?: number;
}

/** The timer wakes at least this often, so a clock moved on (tests, a suspended machine) is caught up. */
const maxSleepMs = 1_000;
/** How long the claim of one delivery attempt holds among siblings sharing a store. */
const claimTtlMs = 10 * 60_000;
/** How long stop() waits for deliveries under way (each is bounded by the delivery timeout anyway). */
const stopWaitMs = 5_000;

/**
 * The notifier: follows each person's policy (policy.ts) from the moment a case asks them to act to the moment the
 * case gets where the steps wait for, over its parts: the intake from the bus (notification-intake.ts), the pending
 * asks in the store and their queue (pending-asks.ts), the channels (channel-delivery.ts), storms' bundles
 * (bundles.ts) and the audit (notification-audit.ts). One timer takes the due steps and bundles.
 */
export class NotificationService {
  readonly #options: NotificationServiceOptions;
  readonly #delivery: DeliveryConfig;
  readonly #book: PolicyBook;
  readonly #channels: ChannelDelivery;
  readonly #metrics: NotifyMetrics;
  readonly #now: () => number;
  readonly #secondMs: number;
  readonly #pending: PendingAsks;
  readonly #bundles: Bundles;
  readonly #audit: NotificationAudit;
  readonly #intake: NotificationIntake;
  #timer: NodeJS.Timeout | undefined;
  readonly #running = new Set<Promise<unknown>>();
  #started = false;

  constructor(options: NotificationServiceOptions) {
    this.#options = options;
    this.#delivery = options.config.delivery;
    this.#channels = new ChannelDelivery(options.channels, this.#delivery);
    this.#book = new PolicyBook(options.config.policies, options.channels[0]?.id);
    this.#metrics = notifyMetrics(options.metrics);
    this.#now = options.now ?? Date.now;
    this.#secondMs = options.secondMs ?? 1000;
    this.#pending = new PendingAsks(options.store, this.#metrics, () => this.#arm());
    this.#bundles = new Bundles(this.#secondMs);
    this.#audit = new NotificationAudit(options.store, this.#metrics, options.logger);
    this.#intake = new NotificationIntake({
      bus: options.bus,
      sink: { ask: (...ask) => this.#ask(...ask), settle: (incident) => this.#settle(incident) },
      officersOnDuty: options.officersOnDuty,
      now: this.#now,
      metrics: this.#metrics,
      track: (work) => this.#track(work),
    });
  }

  /** Every step a policy names must be a channel there is: a typo would otherwise silently tell nobody. */
  #checkPolicies(): void {
    const problems = this.#options.config.policies.flatMap((policy, index) =>
      policy.steps
        .map((step, stepIndex) => ({ step, stepIndex }))
        .filter(({ step }) => this.#channels.channel(step.channel) === undefined)
        .map(
          ({ step, stepIndex }) =>
            `notify.policies[${index}].steps[${stepIndex}].channel: no channel ${step.channel} in notify.channels`,
        ),
    );
    if (problems.length > 0)
      throw new GridhubError('GRIDHUB_CONFIG_INVALID', 'notification policies name unknown channels', {
        problems,
      });
  }

  async start(): Promise<void> {
    this.#checkPolicies();
    this.#started = true;
    // No channel, nobody to tell: the bus is not listened to, so the ingest path pays nothing for notifications.
    if (this.#channels.size === 0) return;
    await this.#channels.start();
    // What was pending when the hub stopped: due steps go at once, the rest at their time.
    for (const ask of await this.#pending.load()) {
      if (ask.inFlight) this.#interrupted(ask);
      else this.#pending.enqueue(ask.key);
    }
    this.#intake.start();
    this.#arm();
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#intake.stop();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Deliveries under way end (each bounded by its timeout); held bundles stay pending in the store for the next start.
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((resolve) => {
        waited = setTimeout(resolve, stopWaitMs);
      }),
    ]);
    clearTimeout(waited);
    await this.#channels.stop();
    this.#pending.clear();
    this.#bundles.clear();
  }

  /** How many people's steps are pending. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Each channel's own account of itself, with its deliveries in flight now. */
  channelStatuses(): (ChannelStatus & { id: string; kind: ChannelKind; inFlight: number })[] {
    return this.#channels.statuses();
  }

  health(): ComponentHealth {
    return {
      state: this.#started ? 'up' : 'down',
      pending: this.#pending.size,
      channels: this.#channels.health(),
    };
  }

  /** Cancels the asks of the case that are over: the case got where their steps wait for, or moved past them. */
  async #settle(incident: Incident): Promise<void> {
    for (const key of this.#pending.keysOf(incident.id)) {
      const ask = this.#pending.idle(key);
      if (ask === undefined) continue;
      const policy = this.#policyOf(ask);
      if (
        policy === undefined ||
        !this.#stillConcerned(ask, incident) ||
        askOver(policy, ask, incident, ask.step)
      ) {
        this.#metrics.cancelled.inc();
        await this.#pending.forget(ask);
      }
    }
  }

  /** Whoever the case no longer asks (taken off it, climbed past, no longer coordinating): see ask-reasons.ts. */
  #stillConcerned(ask: PendingAsk, incident: Incident): boolean {
    return stillAsked[ask.reason](incident, ask);
  }

  async #ask(
    incident: Incident,
    userId: string,
    reason: AskReason,
    round: string,
    nodeId?: string,
  ): Promise<void> {
    const key = `${incident.id}:${userId}:${round}`;
    const user = this.#options.people.get(userId);
    if (this.#pending.has(key) || user === undefined) return;
    const policy = this.#book.policyFor(userId, user.role);
    if (policy === undefined) return;
    if (this.#pending.size >= this.#delivery.maxPending) {
      this.#metrics.overflow.labels('pending').inc();
      this.#options.logger.warn(
        { ns: 'notify', incident: incident.id, user: userId },
        'too many notifications pending: one refused',
      );
      return;
    }
    const askedAt = this.#now();
    const where = nodeId === undefined ? {} : { nodeId };
    const draft = { userId, reason, askedAt, baseline: factsOf(incident, { userId, ...where }), ...where };
    const due = nextStep(policy, draft, incident, 0, 0, this.#context());
    if (due === undefined) return;
    const ask: PendingAsk = {
      key,
      incidentId: incident.id,
      policyId: policy.id,
      ...draft,
      step: due.index,
      attempt: 0,
      dueAt: due.dueAt,
      inFlight: false,
    };
    this.#pending.remember(ask);
    await this.#pending.save(ask);
    this.#pending.enqueue(key);
  }

  #context() {
    return { secondMs: this.#secondMs, timeZone: this.#options.timeZone };
  }

  #policyOf(ask: PendingAsk): Policy | undefined {
    const user = this.#options.people.get(ask.userId);
    return (
      this.#book.byId(ask.policyId) ??
      (user === undefined ? undefined : this.#book.policyFor(user.id, user.role))
    );
  }

  /** The one timer: at the earliest due step or bundle, and at least every maxSleepMs. */
  #arm(): void {
    if (!this.#started) return;
    clearTimeout(this.#timer);
    const next = Math.min(
      this.#pending.nextDueAt() ?? Number.POSITIVE_INFINITY,
      this.#bundles.nextFlushAt() ?? Number.POSITIVE_INFINITY,
    );
    const wait = Math.min(maxSleepMs, Math.max(0, next - this.#now()));
    this.#timer = setTimeout(() => this.#fire(), wait);
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#now();
    for (const ask of this.#pending.takeDue(now))
      this.#track(this.#pending.busyWhile(ask, () => this.#take(ask)));
    for (const bundle of this.#bundles.takeDue(now)) this.#track(this.#flush(bundle));
    this.#arm();
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.#audit.stepFailed(error));
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  /** Takes an ask's due step: checks it still applies, then sends it (or holds it in a bundle). */
  async #take(ask: PendingAsk): Promise<void> {
    const incident = await this.#options.store.getIncident(ask.incidentId);
    const policy = this.#policyOf(ask);
    if (incident === undefined || policy === undefined || !this.#stillConcerned(ask, incident)) {
      this.#metrics.cancelled.inc();
      return this.#pending.forget(ask);
    }
    const now = this.#now();
    // The step may no longer apply (the case moved on while it waited): the next one that does, at its time (never
    // before the time this one was due: a retry's backoff, a step taking a failed one's place at once).
    const due = nextStep(policy, ask, incident, ask.step, ask.dueAt, this.#context());
    if (due === undefined) {
      this.#metrics.cancelled.inc();
      return this.#pending.forget(ask);
    }
    // The same step keeps the time it was given (its schedule, a retry's, a failed step's replacement's: at once).
    const dueAt = due.index === ask.step ? ask.dueAt : due.dueAt;
    if (due.index !== ask.step || dueAt > now) {
      if (due.index !== ask.step) ask.attempt = 0;
      ask.step = due.index;
      ask.dueAt = dueAt;
      await this.#pending.save(ask);
      if (this.#pending.has(ask.key)) this.#pending.enqueue(ask.key);
      return;
    }
    const step = policy.steps[ask.step];
    const channel = step === undefined ? undefined : this.#channels.channel(step.channel);
    const user = this.#options.people.get(ask.userId);
    if (channel === undefined || user === undefined)
      return this.#outcome(ask, policy, [incident], undefined, {
        outcome: 'unreachable',
        // A user disabled or removed since they were asked is no longer reached.
        reason: channel === undefined ? 'no such channel' : 'no such user',
      });
    if (policy.bundle !== undefined && !this.#bundles.window(user.id, channel.id, policy).admits(now)) {
      // Past the person's limit on this channel: held in their bundle, which leaves when its window has passed.
      if (this.#bundles.hold(ask, channel, policy, now)) this.#arm();
      return;
    }
    if (!(await this.#claim(ask))) return this.#adoptStored(ask);
    this.#bundles.window(user.id, channel.id, policy).left(now);
    const notification = caseMessage(
      `${ask.key}/${ask.step}`,
      incident,
      ask.reason,
      user,
      this.#messageContext(now),
    );
    await this.#deliver(ask, policy, channel, user, notification, [incident]);
  }

  async #flush(bundle: Bundle): Promise<void> {
    const now = this.#now();
    const user = this.#options.people.get(bundle.asks[0]?.userId ?? '');
    // A user disabled or removed while their notifications were held is no longer reached.
    if (user === undefined) {
      for (const ask of bundle.asks) await this.#pending.forget(ask);
      return;
    }
    // Cases that moved on while held (accepted, say) leave the bundle.
    const held: { ask: PendingAsk; incident: Incident; policy: Policy }[] = [];
    for (const ask of bundle.asks) {
      if (!this.#pending.has(ask.key)) continue;
      const incident = await this.#options.store.getIncident(ask.incidentId);
      const policy = this.#policyOf(ask);
      if (incident === undefined || policy === undefined || askOver(policy, ask, incident, ask.step)) {
        this.#metrics.cancelled.inc();
        await this.#pending.forget(ask);
      } else if (!(await this.#claim(ask))) await this.#adoptStored(ask);
      else held.push({ ask, incident, policy });
    }
    const first = held[0];
    if (first === undefined) return;
    this.#bundles.window(user.id, bundle.channel.id, first.policy).left(now);
    const context = this.#messageContext(now);
    const notification =
      held.length === 1
        ? caseMessage(`${first.ask.key}/${first.ask.step}`, first.incident, first.ask.reason, user, context)
        : bundleMessage(
            `${first.ask.key}/${first.ask.step}+${held.length}`,
            held.map(({ incident }) => incident),
            user.role,
            context,
          );
    if (held.length > 1) this.#metrics.bundles.inc();
    const result = await this.#send(
      bundle.channel,
      this.#recipient(user),
      notification,
      held.map(({ ask }) => ask),
    );
    for (const { ask, incident, policy } of held) {
      await this.#outcome(
        ask,
        policy,
        [incident],
        bundle.channel,
        result,
        notification,
        user,
        held.length > 1 ? held.length : undefined,
      );
    }
  }

  #messageContext(now: number): MessageContext {
    return {
      baseUrl: this.#options.baseUrl().replace(/\/+$/, ''),
      timeZone: this.#options.timeZone,
      now,
      nodeName: this.#options.nodeName,
    };
  }

  #recipient(user: UserDescription): Recipient {
    return { userId: user.id, name: user.name, contact: user.contact ?? {} };
  }

  async #deliver(
    ask: PendingAsk,
    policy: Policy,
    channel: NotificationChannel,
    user: UserDescription,
    notification: Notification,
    incidents: readonly Incident[],
  ): Promise<void> {
    const recipient = this.#recipient(user);
    const result: DeliveryResult = (await this.#channels.reaches(channel, recipient))
      ? await this.#send(channel, recipient, notification, [ask])
      : { outcome: 'unreachable', reason: `no address on ${channel.id}` };
    await this.#outcome(ask, policy, incidents, channel, result, notification, user);
  }

  /** One delivery: marked in flight in the store first (never sent twice), then through its channel. */
  async #send(
    channel: NotificationChannel,
    recipient: Recipient,
    notification: Notification,
    asks: readonly PendingAsk[],
  ): Promise<DeliveryResult> {
    for (const ask of asks) {
      ask.inFlight = true;
      ask.attempt++;
      await this.#pending.save(ask);
    }
    return this.#channels.send(channel, recipient, notification);
  }

  /** Audits and counts how a step went, then schedules what follows: a retry, the next step, or nothing. */
  async #outcome(
    ask: PendingAsk,
    policy: Policy,
    incidents: readonly Incident[],
    channel: NotificationChannel | undefined,
    result: DeliveryResult,
    notification?: Notification,
    user?: UserDescription,
    bundled?: number,
  ): Promise<void> {
    const now = this.#now();
    const channelId = channel?.id ?? policy.steps[ask.step]?.channel ?? 'unknown';
    const retry = result.outcome === 'failed' && result.retryable && ask.attempt < this.#delivery.attempts;
    await this.#audit.outcome({
      ask,
      channelId,
      channel,
      result,
      retry,
      incidents,
      notification,
      user,
      bundled,
    });
    ask.inFlight = false;
    if (!this.#pending.has(ask.key)) return;
    if (retry) {
      ask.dueAt = now + this.#delivery.retryBackoffSeconds * this.#secondMs * 2 ** (ask.attempt - 1);
      await this.#pending.save(ask);
      this.#pending.enqueue(ask.key);
      return;
    }
    // Sent: the next step at its time. Given up on this channel (or no address there): the next step takes its
    // place at once.
    const incident = incidents[0] as Incident;
    const givenUp = result.outcome !== 'sent';
    const next = nextStep(policy, ask, incident, ask.step + 1, givenUp ? now : 0, this.#context(), givenUp);
    if (next === undefined) return this.#pending.forget(ask);
    ask.step = next.index;
    ask.attempt = 0;
    ask.dueAt = next.dueAt;
    await this.#pending.save(ask);
    this.#pending.enqueue(ask.key);
  }

  /** Siblings sharing a store each keep the pending steps they read at start: one of them takes each attempt. */
  #claim(ask: PendingAsk): Promise<boolean> {
    return this.#options.store.claim(`notify:${ask.key}:${ask.step}:${ask.attempt}`, claimTtlMs);
  }

  /** Another instance took this attempt: go on from what it stored (nothing: it finished the steps). */
  async #adoptStored(ask: PendingAsk): Promise<void> {
    const stored = await this.#options.store.getRecord<PendingAsk>(pendingCollection, ask.key);
    if (stored === undefined) {
      this.#pending.drop(ask);
      return;
    }
    const unchanged = stored.step === ask.step && stored.attempt === ask.attempt;
    Object.assign(ask, stored);
    // Under way there, or about to be: look again once it must have ended (never a loop of claims).
    if (ask.inFlight || unchanged) ask.dueAt = this.#now() + 2 * this.#delivery.timeoutSeconds * 1000;
    ask.inFlight = false;
    this.#pending.enqueue(ask.key);
  }

  /** A delivery under way when the hub stopped: it may have left, so it is not sent again; the steps go on. */
  #interrupted(ask: PendingAsk): void {
    const work = this.#pending.busyWhile(ask, async () => {
      const incident = await this.#options.store.getIncident(ask.incidentId);
      const policy = this.#policyOf(ask);
      if (incident === undefined || policy === undefined) return this.#pending.forget(ask);
      await this.#audit.interrupted(ask, policy.steps[ask.step]?.channel ?? 'unknown');
      const next = nextStep(policy, ask, incident, ask.step + 1, 0, this.#context());
      if (next === undefined) return this.#pending.forget(ask);
      Object.assign(ask, { step: next.index, attempt: 0, dueAt: next.dueAt, inFlight: false });
      await this.#pending.save(ask);
      this.#pending.enqueue(ask.key);
    });
    this.#track(work);
  }
}
