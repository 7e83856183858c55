import { AuditTrail } from '../audit/audit-trail.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { TypedBus } from '../core/bus.ts';
import type { ComponentHealth } from '../core/component.ts';
import { GridhubError } from '../core/errors.ts';
import { type HubBusEvents, whenStored } from '../core/events.ts';
import type { Incident, IncidentChange } from '../core/incident.ts';
import type { People, UserDescription } from '../core/user.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import {
  type ChannelKind,
  type ChannelStatus,
  type DeliveryResult,
  maskPhone,
  type Notification,
  type NotificationChannel,
  type Recipient,
} from './channel.ts';
import { type AskReason, bundleMessage, caseMessage, type MessageContext } from './messages.ts';
import { type NotifyMetrics, notifyMetrics } from './notify-metrics.ts';
import type { NotifyConfig } from './notify-schema.ts';
import { askOver, BundleWindow, milestonesOf, nextStep, type Policy, PolicyBook } from './policy.ts';
import type { DeliveryConfig, Milestone } from './policy-schema.ts';

/** The store collection of the people asked to act whose steps are not all taken. */
export const pendingCollection = 'notify-pending';

/**
 * One person asked to act on one case, and how far their policy's steps have got: kept in the store at every turn,
 * so a restart sends what came due and never sends again what was sent.
 */
export interface PendingAsk {
  readonly key: string;
  readonly incidentId: string;
  readonly userId: string;
  readonly reason: AskReason;
  /** Epoch ms. */
  readonly askedAt: number;
  /** Duty officers asked at a centre (an escalation): its node. */
  readonly nodeId?: string;
  readonly baseline: readonly Milestone[];
  readonly policyId: string;
  /** The next step to take, and the attempts of it made so far. */
  step: number;
  attempt: number;
  /** Epoch ms. */
  dueAt: number;
  /**
   * Set while a delivery is under way. Found set after a restart, the delivery may or may not have left: it is not
   * sent again (audited as interrupted) and the steps go on.
   */
  inFlight: boolean;
}

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

/** A change from the bus waiting to be read: the listener only queues it. */
type Intake =
  | { readonly kind: 'created'; readonly incident: Incident }
  | { readonly kind: 'updated'; readonly change: IncidentChange };

/** Changes from the bus waiting to be read at most: past this they are counted as overflow and dropped. */
const maxIntake = 10_000;
/** The timer wakes at least this often, so a clock moved on (tests, a suspended machine) is caught up. */
const maxSleepMs = 1_000;
/** How long the claim of one delivery attempt holds among siblings sharing a store. */
const claimTtlMs = 10 * 60_000;
/** How long stop() waits for deliveries under way (each is bounded by the delivery timeout anyway). */
const stopWaitMs = 5_000;

/** The channel kinds that deliver to a phone number: their audit entries show it masked. */
const phoneKinds: ReadonlySet<string> = new Set(['sms_http', 'sms_aliyun', 'sms_tencent', 'voice_webhook']);

/** A phone number as it may appear in a provider's error text: masked before it is audited or logged. */
const phoneLike = /\+?\d{7,15}/g;

function scrub(text: string): string {
  return text.replace(phoneLike, (digits) => maskPhone(digits)).slice(0, 300);
}

/** At most `limit` deliveries in flight on one channel; the rest wait their turn, in order. */
class Gate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get active(): number {
    return this.#active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resume) => this.#waiting.push(resume));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

/** Messages held for one person on one channel during a storm, leaving as one when the window has passed. */
interface Bundle {
  readonly windowKey: string;
  readonly channel: NotificationChannel;
  readonly asks: PendingAsk[];
  readonly flushAt: number;
}

/**
 * The notifier: hears new and changed incidents on the bus, decides whom to tell (the assignees of a dispatch, the
 * officers on duty where a case climbed to, the handler of a rework), keeps each person's pending steps in the store
 * and takes them when due from one timer, through the channels, with retries, timeouts, bounds, bundling, audit
 * entries and metrics. The bus listener only queues: nothing of this runs on the ingest path.
 */
export class NotificationService {
  readonly #options: NotificationServiceOptions;
  readonly #delivery: DeliveryConfig;
  readonly #book: PolicyBook;
  readonly #channels = new Map<string, NotificationChannel>();
  readonly #gates = new Map<string, Gate>();
  readonly #metrics: NotifyMetrics;
  readonly #now: () => number;
  readonly #secondMs: number;
  readonly #asks = new Map<string, PendingAsk>();
  readonly #byIncident = new Map<string, Set<string>>();
  /** Keys of the asks waiting for their step, earliest due first; an ask being taken is in none. */
  #queue: string[] = [];
  readonly #busy = new Set<string>();
  readonly #windows = new Map<string, BundleWindow>();
  readonly #bundles = new Map<string, Bundle>();
  readonly #intake: Intake[] = [];
  #draining = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  readonly #running = new Set<Promise<unknown>>();
  #started = false;

  constructor(options: NotificationServiceOptions) {
    this.#options = options;
    this.#delivery = options.config.delivery;
    for (const channel of options.channels) {
      this.#channels.set(channel.id, channel);
      this.#gates.set(channel.id, new Gate(this.#delivery.concurrencyPerChannel));
    }
    this.#book = new PolicyBook(options.config.policies, options.channels[0]?.id);
    this.#metrics = notifyMetrics(options.metrics);
    this.#now = options.now ?? Date.now;
    this.#secondMs = options.secondMs ?? 1000;
  }

  /** Every step a policy names must be a channel there is: a typo would otherwise silently tell nobody. */
  #checkPolicies(): void {
    const problems = this.#options.config.policies.flatMap((policy, index) =>
      policy.steps
        .map((step, stepIndex) => ({ step, stepIndex }))
        .filter(({ step }) => !this.#channels.has(step.channel))
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
    for (const channel of this.#channels.values()) await channel.start?.();
    // What was pending when the hub stopped: due steps go at once, the rest at their time.
    for (const { value } of await this.#options.store.listRecords<PendingAsk>(pendingCollection)) {
      this.#remember(value);
      if (value.inFlight) this.#interrupted(value);
      else this.#enqueue(value.key);
    }
    this.#metrics.pending.set(this.#asks.size);
    const { bus } = this.#options;
    this.#unsubscribe = [
      bus.on('incident:created', (incident, _receivedAt, stored) => {
        if (incident.assignees.length === 0) return;
        whenStored(stored, () => this.#admit({ kind: 'created', incident }));
      }),
      bus.on('incident:updated', (change, repeat, stored) => {
        // A repeat only counts device events again: it never changes whom to tell or where the case stands.
        if (repeat !== undefined || !this.#concerns(change)) return;
        whenStored(stored, () => this.#admit({ kind: 'updated', change }));
      }),
    ];
    this.#arm();
  }

  async stop(): Promise<void> {
    this.#started = false;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#intake.length = 0;
    // Deliveries under way end (each bounded by its timeout); held bundles stay pending in the store for the next start.
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((resolve) => {
        waited = setTimeout(resolve, stopWaitMs);
      }),
    ]);
    clearTimeout(waited);
    for (const channel of this.#channels.values()) await channel.stop?.();
    this.#asks.clear();
    this.#byIncident.clear();
    this.#queue = [];
    this.#busy.clear();
    this.#bundles.clear();
    this.#windows.clear();
  }

  /** How many people's steps are pending. */
  get pending(): number {
    return this.#asks.size;
  }

  /** Each channel's own account of itself, with its deliveries in flight now. */
  channelStatuses(): (ChannelStatus & { id: string; kind: ChannelKind; inFlight: number })[] {
    return [...this.#channels.values()].map((channel) => ({
      id: channel.id,
      kind: channel.kind,
      inFlight: this.#gates.get(channel.id)?.active ?? 0,
      ...channel.status(),
    }));
  }

  health(): ComponentHealth {
    return {
      state: this.#started ? 'up' : 'down',
      pending: this.#asks.size,
      channels: Object.fromEntries(
        [...this.#channels.values()].map((channel) => [channel.id, channel.status().health]),
      ),
    };
  }

  /** Only what may change whom to tell, or end someone's steps, is queued. */
  #concerns({ before, after }: IncidentChange): boolean {
    return (
      before.state !== after.state ||
      before.handler !== after.handler ||
      before.assignees !== after.assignees ||
      before.escalations !== after.escalations ||
      before.reworks !== after.reworks ||
      before.responsibleNodeId !== after.responsibleNodeId ||
      (before.acknowledgements?.length ?? 0) !== (after.acknowledgements?.length ?? 0)
    );
  }

  /** The bus listener's whole work: queue, bounded, and make sure the queue is read soon. */
  #admit(intake: Intake): void {
    if (!this.#started) return;
    if (this.#intake.length >= maxIntake) {
      this.#metrics.overflow.labels('intake').inc();
      return;
    }
    this.#intake.push(intake);
    if (!this.#draining) {
      this.#draining = true;
      setImmediate(() => this.#track(this.#drain()));
    }
  }

  async #drain(): Promise<void> {
    try {
      for (let intake = this.#intake.shift(); intake !== undefined; intake = this.#intake.shift()) {
        if (intake.kind === 'created') await this.#created(intake.incident);
        else await this.#updated(intake.change);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #created(incident: Incident): Promise<void> {
    if (incident.state !== 'dispatched') return;
    for (const userId of incident.assignees)
      await this.#ask(incident, userId, 'dispatched', `d${incident.escalations}`);
  }

  async #updated({ before, after }: IncidentChange): Promise<void> {
    const now = this.#now();
    // A dispatch or a redispatch: those newly assigned.
    if (after.state === 'dispatched') {
      const earlier = new Set(before.assignees);
      for (const userId of after.assignees)
        if (!earlier.has(userId)) await this.#ask(after, userId, 'dispatched', `d${after.escalations}`);
    }
    // An escalation: the duty officers on duty now where the case climbed to.
    if (after.escalations > before.escalations && after.responsibleNodeId !== before.responsibleNodeId) {
      for (const userId of this.#options.officersOnDuty(after.responsibleNodeId, now))
        await this.#ask(after, userId, 'escalated', `e${after.escalations}`, after.responsibleNodeId);
    }
    // A verification rejected: the handler, to do it again.
    if (after.reworks > before.reworks && after.handler !== null)
      await this.#ask(after, after.handler, 'rework', `r${after.reworks}`);
    await this.#settle(after);
  }

  /** Cancels the asks of the case that are over: the case got where their steps wait for, or moved past them. */
  async #settle(incident: Incident): Promise<void> {
    for (const key of [...(this.#byIncident.get(incident.id) ?? [])]) {
      const ask = this.#asks.get(key);
      if (ask === undefined || this.#busy.has(key)) continue;
      const policy = this.#policyOf(ask);
      if (
        policy === undefined ||
        !this.#stillConcerned(ask, incident) ||
        askOver(policy, ask, incident, ask.step)
      ) {
        this.#metrics.cancelled.inc();
        await this.#forget(ask);
      }
    }
  }

  /** A worker taken off the case, or officers of a centre the case climbed past, are no longer asked. */
  #stillConcerned(ask: PendingAsk, incident: Incident): boolean {
    if (ask.nodeId !== undefined) return incident.responsibleNodeId === ask.nodeId;
    return incident.assignees.includes(ask.userId) || incident.handler === ask.userId;
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
    if (this.#asks.has(key) || user === undefined) return;
    const policy = this.#book.policyFor(userId, user.role);
    if (policy === undefined) return;
    if (this.#asks.size >= this.#delivery.maxPending) {
      this.#metrics.overflow.labels('pending').inc();
      this.#options.logger.warn(
        { ns: 'notify', incident: incident.id, user: userId },
        'too many notifications pending: one refused',
      );
      return;
    }
    const askedAt = this.#now();
    const draft = {
      askedAt,
      baseline: milestonesOf(incident, nodeId),
      ...(nodeId === undefined ? {} : { nodeId }),
    };
    const due = nextStep(policy, draft, incident, 0, 0, this.#context());
    if (due === undefined) return;
    const ask: PendingAsk = {
      key,
      incidentId: incident.id,
      userId,
      reason,
      policyId: policy.id,
      ...draft,
      step: due.index,
      attempt: 0,
      dueAt: due.dueAt,
      inFlight: false,
    };
    this.#remember(ask);
    await this.#save(ask);
    this.#enqueue(key);
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

  #remember(ask: PendingAsk): void {
    this.#asks.set(ask.key, ask);
    let keys = this.#byIncident.get(ask.incidentId);
    if (keys === undefined) {
      keys = new Set();
      this.#byIncident.set(ask.incidentId, keys);
    }
    keys.add(ask.key);
    this.#metrics.pending.set(this.#asks.size);
  }

  async #forget(ask: PendingAsk): Promise<void> {
    this.#asks.delete(ask.key);
    this.#dequeue(ask.key);
    const keys = this.#byIncident.get(ask.incidentId);
    keys?.delete(ask.key);
    if (keys?.size === 0) this.#byIncident.delete(ask.incidentId);
    this.#metrics.pending.set(this.#asks.size);
    await this.#options.store.removeRecord(pendingCollection, ask.key);
  }

  #save(ask: PendingAsk): Promise<void> {
    return this.#options.store.putRecord(pendingCollection, ask.key, ask);
  }

  /** Into the sorted queue by due time (binary search), and the timer re-armed if it is now the earliest. */
  #enqueue(key: string): void {
    const ask = this.#asks.get(key);
    if (ask === undefined) return;
    this.#dequeue(key);
    let low = 0;
    let high = this.#queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#asks.get(this.#queue[middle] as string)?.dueAt ?? 0) <= ask.dueAt) low = middle + 1;
      else high = middle;
    }
    this.#queue.splice(low, 0, key);
    if (low === 0) this.#arm();
  }

  #dequeue(key: string): void {
    const index = this.#queue.indexOf(key);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  /** The one timer: at the earliest due step or bundle, and at least every maxSleepMs. */
  #arm(): void {
    if (!this.#started) return;
    clearTimeout(this.#timer);
    const head = this.#queue[0] === undefined ? undefined : this.#asks.get(this.#queue[0])?.dueAt;
    const bundles = [...this.#bundles.values()].map((bundle) => bundle.flushAt);
    const next = Math.min(head ?? Number.POSITIVE_INFINITY, ...bundles);
    const wait = Math.min(maxSleepMs, Math.max(0, next - this.#now()));
    this.#timer = setTimeout(() => this.#fire(), wait);
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#now();
    while (this.#queue.length > 0) {
      const key = this.#queue[0] as string;
      const ask = this.#asks.get(key);
      if (ask !== undefined && ask.dueAt > now) break;
      this.#queue.shift();
      if (ask === undefined) continue;
      this.#busy.add(key);
      this.#track(this.#take(ask).finally(() => this.#busy.delete(key)));
    }
    for (const bundle of [...this.#bundles.values()]) {
      if (bundle.flushAt > now) continue;
      this.#bundles.delete(bundle.windowKey);
      this.#track(this.#flush(bundle));
    }
    this.#arm();
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) =>
      this.#options.logger.error({ ns: 'notify', error: scrub(String(error)) }, 'notification step failed'),
    );
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  /** Takes an ask's due step: checks it still applies, then sends it (or holds it in a bundle). */
  async #take(ask: PendingAsk): Promise<void> {
    const incident = await this.#options.store.getIncident(ask.incidentId);
    const policy = this.#policyOf(ask);
    if (incident === undefined || policy === undefined || !this.#stillConcerned(ask, incident)) {
      this.#metrics.cancelled.inc();
      return this.#forget(ask);
    }
    const now = this.#now();
    // The step may no longer apply (the case moved on while it waited): the next one that does, at its time (never
    // before the time this one was due: a retry's backoff, a step taking a failed one's place at once).
    const due = nextStep(policy, ask, incident, ask.step, ask.dueAt, this.#context());
    if (due === undefined) {
      this.#metrics.cancelled.inc();
      return this.#forget(ask);
    }
    // The same step keeps the time it was given (its schedule, a retry's, a failed step's replacement's: at once).
    const dueAt = due.index === ask.step ? ask.dueAt : due.dueAt;
    if (due.index !== ask.step || dueAt > now) {
      if (due.index !== ask.step) ask.attempt = 0;
      ask.step = due.index;
      ask.dueAt = dueAt;
      await this.#save(ask);
      if (this.#asks.has(ask.key)) this.#enqueue(ask.key);
      return;
    }
    const step = policy.steps[ask.step];
    const channel = step === undefined ? undefined : this.#channels.get(step.channel);
    const user = this.#options.people.get(ask.userId);
    if (channel === undefined || user === undefined)
      return this.#outcome(ask, policy, [incident], undefined, {
        outcome: 'unreachable',
        // A user disabled or removed since they were asked is no longer reached.
        reason: channel === undefined ? 'no such channel' : 'no such user',
      });
    if (policy.bundle !== undefined && !this.#window(user.id, channel.id, policy).admits(now)) {
      return this.#hold(ask, channel, policy);
    }
    if (!(await this.#claim(ask))) return this.#adoptStored(ask);
    this.#window(user.id, channel.id, policy).left(now);
    const notification = caseMessage(
      `${ask.key}/${ask.step}`,
      incident,
      ask.reason,
      user.role,
      this.#messageContext(now),
    );
    await this.#deliver(ask, policy, channel, user, notification, [incident]);
  }

  #window(userId: string, channelId: string, policy: Policy): BundleWindow {
    const key = `${userId}|${channelId}`;
    let window = this.#windows.get(key);
    const bundle = policy.bundle;
    if (window === undefined) {
      window = new BundleWindow(
        bundle?.maxMessages ?? Number.POSITIVE_INFINITY,
        (bundle?.windowSeconds ?? 0) * this.#secondMs,
      );
      this.#windows.set(key, window);
    }
    return window;
  }

  /** Past the person's limit on this channel: held in their bundle, which leaves when its window has passed. */
  #hold(ask: PendingAsk, channel: NotificationChannel, policy: Policy): void {
    const windowKey = `${ask.userId}|${channel.id}`;
    let bundle = this.#bundles.get(windowKey);
    if (bundle === undefined) {
      bundle = {
        windowKey,
        channel,
        asks: [],
        flushAt: this.#now() + (policy.bundle?.windowSeconds ?? 0) * this.#secondMs,
      };
      this.#bundles.set(windowKey, bundle);
      this.#arm();
    }
    bundle.asks.push(ask);
  }

  async #flush(bundle: Bundle): Promise<void> {
    const now = this.#now();
    const user = this.#options.people.get(bundle.asks[0]?.userId ?? '');
    // A user disabled or removed while their notifications were held is no longer reached.
    if (user === undefined) {
      for (const ask of bundle.asks) await this.#forget(ask);
      return;
    }
    // Cases that moved on while held (accepted, say) leave the bundle.
    const held: { ask: PendingAsk; incident: Incident; policy: Policy }[] = [];
    for (const ask of bundle.asks) {
      if (!this.#asks.has(ask.key)) continue;
      const incident = await this.#options.store.getIncident(ask.incidentId);
      const policy = this.#policyOf(ask);
      if (incident === undefined || policy === undefined || askOver(policy, ask, incident, ask.step)) {
        this.#metrics.cancelled.inc();
        await this.#forget(ask);
      } else if (!(await this.#claim(ask))) await this.#adoptStored(ask);
      else held.push({ ask, incident, policy });
    }
    const first = held[0];
    if (first === undefined) return;
    this.#window(user.id, bundle.channel.id, first.policy).left(now);
    const context = this.#messageContext(now);
    const notification =
      held.length === 1
        ? caseMessage(
            `${first.ask.key}/${first.ask.step}`,
            first.incident,
            first.ask.reason,
            user.role,
            context,
          )
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
    const reachable = await Promise.resolve(channel.reaches(recipient)).catch(() => true);
    const result: DeliveryResult = reachable
      ? await this.#send(channel, recipient, notification, [ask])
      : { outcome: 'unreachable', reason: `no address on ${channel.id}` };
    await this.#outcome(ask, policy, incidents, channel, result, notification, user);
  }

  /** One delivery: marked in flight in the store first (never sent twice), bounded per channel and in time. */
  async #send(
    channel: NotificationChannel,
    recipient: Recipient,
    notification: Notification,
    asks: readonly PendingAsk[],
  ): Promise<DeliveryResult> {
    for (const ask of asks) {
      ask.inFlight = true;
      ask.attempt++;
      await this.#save(ask);
    }
    const timeoutMs = this.#delivery.timeoutSeconds * 1000;
    const gate = this.#gates.get(channel.id) as Gate;
    return gate.run(async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<DeliveryResult>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              outcome: 'failed',
              retryable: true,
              reason: `no answer within ${this.#delivery.timeoutSeconds} s`,
            }),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([
          channel.send(recipient, notification).catch(
            (error: unknown): DeliveryResult => ({
              outcome: 'failed',
              retryable: true,
              reason: String(error),
            }),
          ),
          timedOut,
        ]);
      } finally {
        clearTimeout(timer);
      }
    });
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
    const action = result.outcome === 'sent' ? 'notify.sent' : retry ? 'notify.retried' : 'notify.failed';
    const outcome =
      result.outcome === 'sent'
        ? bundled === undefined
          ? 'sent'
          : 'bundled'
        : retry
          ? 'retried'
          : result.outcome;
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
      ...(result.outcome === 'sent' && result.reference !== undefined
        ? { reference: scrub(result.reference) }
        : {}),
      ...(result.outcome === 'failed' ? { retryable: result.retryable } : {}),
      ...(result.outcome === 'unreachable' ? { unreachable: true } : {}),
    };
    for (const incident of incidents) {
      await this.#audit({
        action,
        target: { kind: 'incident', id: incident.id },
        outcome: result.outcome === 'sent' ? 'ok' : 'failed',
        detail,
        ...(result.outcome === 'sent' ? {} : { message: scrub(result.reason) }),
      });
    }
    if (result.outcome !== 'sent')
      this.#options.logger.warn(
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
    ask.inFlight = false;
    if (!this.#asks.has(ask.key)) return;
    if (retry) {
      ask.dueAt = now + this.#delivery.retryBackoffSeconds * this.#secondMs * 2 ** (ask.attempt - 1);
      await this.#save(ask);
      this.#enqueue(ask.key);
      return;
    }
    // Sent: the next step at its time. Given up on this channel (or no address there): the next step takes its
    // place at once.
    const incident = incidents[0] as Incident;
    const givenUp = result.outcome !== 'sent';
    const next = nextStep(policy, ask, incident, ask.step + 1, givenUp ? now : 0, this.#context(), givenUp);
    if (next === undefined) return this.#forget(ask);
    ask.step = next.index;
    ask.attempt = 0;
    ask.dueAt = next.dueAt;
    await this.#save(ask);
    this.#enqueue(ask.key);
  }

  /** Siblings sharing a store each keep the pending steps they read at start: one of them takes each attempt. */
  #claim(ask: PendingAsk): Promise<boolean> {
    return this.#options.store.claim(`notify:${ask.key}:${ask.step}:${ask.attempt}`, claimTtlMs);
  }

  /** Another instance took this attempt: go on from what it stored (nothing: it finished the steps). */
  async #adoptStored(ask: PendingAsk): Promise<void> {
    const stored = await this.#options.store.getRecord<PendingAsk>(pendingCollection, ask.key);
    if (stored === undefined) {
      this.#asks.delete(ask.key);
      this.#byIncident.get(ask.incidentId)?.delete(ask.key);
      this.#metrics.pending.set(this.#asks.size);
      return;
    }
    const unchanged = stored.step === ask.step && stored.attempt === ask.attempt;
    Object.assign(ask, stored);
    // Under way there, or about to be: look again once it must have ended (never a loop of claims).
    if (ask.inFlight || unchanged) ask.dueAt = this.#now() + 2 * this.#delivery.timeoutSeconds * 1000;
    ask.inFlight = false;
    this.#enqueue(ask.key);
  }

  /** A delivery under way when the hub stopped: it may have left, so it is not sent again; the steps go on. */
  #interrupted(ask: PendingAsk): void {
    this.#busy.add(ask.key);
    const work = (async () => {
      const incident = await this.#options.store.getIncident(ask.incidentId);
      const policy = this.#policyOf(ask);
      if (incident === undefined || policy === undefined) return this.#forget(ask);
      await this.#audit({
        action: 'notify.failed',
        target: { kind: 'incident', id: ask.incidentId },
        outcome: 'failed',
        detail: {
          channel: policy.steps[ask.step]?.channel ?? 'unknown',
          recipient: ask.userId,
          step: ask.step,
          attempt: ask.attempt,
          interrupted: true,
        },
        message: 'interrupted by a restart: not sent again, as it may have left',
      });
      const next = nextStep(policy, ask, incident, ask.step + 1, 0, this.#context());
      if (next === undefined) return this.#forget(ask);
      Object.assign(ask, { step: next.index, attempt: 0, dueAt: next.dueAt, inFlight: false });
      await this.#save(ask);
      this.#enqueue(ask.key);
    })().finally(() => this.#busy.delete(ask.key));
    this.#track(work);
  }

  async #audit(record: Parameters<typeof AuditTrail.entry>[1]): Promise<void> {
    const entry: AuditEntry = AuditTrail.entry('system', record);
    await this.#options.store
      .appendAudit(entry)
      .catch((error: unknown) =>
        this.#options.logger.error(
          { ns: 'notify', error: scrub(String(error)) },
          'notification audit entry not written',
        ),
      );
  }
}
