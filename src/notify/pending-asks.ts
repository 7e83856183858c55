import type { Store } from '../store/store.ts';
import { type AskReason, baselineOf, type Fact } from './ask-reasons.ts';
import type { NotifyMetrics } from './notify-metrics.ts';

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
  /** The facts of the case when they were asked (ask-reasons.ts): those do not end their steps. */
  readonly baseline: readonly Fact[];
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

/**
 * The pending queue: every ask kept, in memory and in the store, by key and by case, and the ones waiting for their
 * step ordered by due time. An ask being taken is busy: in no queue, and left alone by whatever would cancel it.
 */
export class PendingAsks {
  readonly #store: Store;
  readonly #metrics: NotifyMetrics;
  /** Called when an ask becomes the earliest due: the timer is armed again for it. */
  readonly #onEarliest: () => void;
  readonly #asks = new Map<string, PendingAsk>();
  readonly #byIncident = new Map<string, Set<string>>();
  /** Keys of the asks waiting for their step, earliest due first; an ask being taken is in none. */
  #queue: string[] = [];
  readonly #busy = new Set<string>();

  constructor(store: Store, metrics: NotifyMetrics, onEarliest: () => void) {
    this.#store = store;
    this.#metrics = metrics;
    this.#onEarliest = onEarliest;
  }

  get size(): number {
    return this.#asks.size;
  }

  has(key: string): boolean {
    return this.#asks.has(key);
  }

  /** What was pending when the hub stopped, kept again (not queued: the caller decides what each needs). */
  async load(): Promise<PendingAsk[]> {
    const stored = (await this.#store.listRecords<PendingAsk>(pendingCollection)).map(({ value }) => ({
      ...value,
      baseline: baselineOf(value.baseline),
    }));
    for (const ask of stored) this.remember(ask);
    this.#metrics.pending.set(this.#asks.size);
    return stored;
  }

  /** The keys of the case's asks, as they stand now. */
  keysOf(incidentId: string): string[] {
    return [...(this.#byIncident.get(incidentId) ?? [])];
  }

  /** The ask, unless it is gone or being taken now (then a change of its case leaves it alone). */
  idle(key: string): PendingAsk | undefined {
    return this.#busy.has(key) ? undefined : this.#asks.get(key);
  }

  remember(ask: PendingAsk): void {
    this.#asks.set(ask.key, ask);
    let keys = this.#byIncident.get(ask.incidentId);
    if (keys === undefined) {
      keys = new Set();
      this.#byIncident.set(ask.incidentId, keys);
    }
    keys.add(ask.key);
    this.#metrics.pending.set(this.#asks.size);
  }

  /** No longer kept here; the store's record is the caller's (another instance may have finished it there). */
  drop(ask: PendingAsk): void {
    this.#asks.delete(ask.key);
    this.#dequeue(ask.key);
    const keys = this.#byIncident.get(ask.incidentId);
    keys?.delete(ask.key);
    if (keys?.size === 0) this.#byIncident.delete(ask.incidentId);
    this.#metrics.pending.set(this.#asks.size);
  }

  /** Its steps are over: kept nowhere. */
  async forget(ask: PendingAsk): Promise<void> {
    this.drop(ask);
    await this.#store.removeRecord(pendingCollection, ask.key);
  }

  save(ask: PendingAsk): Promise<void> {
    return this.#store.putRecord(pendingCollection, ask.key, ask);
  }

  /** Into the sorted queue by due time (binary search); the timer re-armed if it is now the earliest. */
  enqueue(key: string): void {
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
    if (low === 0) this.#onEarliest();
  }

  /** When the earliest waiting step is due (epoch ms), if any waits. */
  nextDueAt(): number | undefined {
    const head = this.#queue[0];
    return head === undefined ? undefined : this.#asks.get(head)?.dueAt;
  }

  /** The asks due by `now`, out of the queue, in due order. */
  takeDue(now: number): PendingAsk[] {
    const due: PendingAsk[] = [];
    while (this.#queue.length > 0) {
      const ask = this.#asks.get(this.#queue[0] as string);
      if (ask !== undefined && ask.dueAt > now) break;
      this.#queue.shift();
      if (ask !== undefined) due.push(ask);
    }
    return due;
  }

  /** Runs `work` on the ask with the ask busy meanwhile: nothing else takes or cancels it. */
  busyWhile(ask: PendingAsk, work: () => Promise<void>): Promise<void> {
    this.#busy.add(ask.key);
    return work().finally(() => this.#busy.delete(ask.key));
  }

  clear(): void {
    this.#asks.clear();
    this.#byIncident.clear();
    this.#queue = [];
    this.#busy.clear();
  }

  #dequeue(key: string): void {
    const index = this.#queue.indexOf(key);
    if (index >= 0) this.#queue.splice(index, 1);
  }
}
