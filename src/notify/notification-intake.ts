import type { TypedBus } from '../core/bus.ts';
import { type HubBusEvents, whenStored } from '../core/events.ts';
import type { Incident, IncidentChange } from '../core/incident.ts';
import type { AskReason } from './ask-reasons.ts';
import type { NotifyMetrics } from './notify-metrics.ts';

/** Changes from the bus waiting to be read at most: past this they are counted as overflow and dropped. */
const maxIntake = 10_000;

/** What the intake asks of the notifier: ask a person to act on a case, and end the asks a change settled. */
export interface AskSink {
  /** `round` tells one ask of the same person on the same case from another (a redispatch, a second escalation). */
  ask(incident: Incident, userId: string, reason: AskReason, round: string, nodeId?: string): Promise<void>;
  settle(incident: Incident): Promise<void>;
}

export interface NotificationIntakeOptions {
  readonly bus: TypedBus<HubBusEvents>;
  readonly sink: AskSink;
  /** The duty officers on duty now at a node (Router.officersOnDuty). */
  readonly officersOnDuty: (nodeId: string, now: number) => readonly string[];
  readonly now: () => number;
  readonly metrics: NotifyMetrics;
  /** Runs the reading of the queue off the bus listener, kept track of until done (stop waits for it). */
  readonly track: (work: Promise<unknown>) => void;
}

/** A change from the bus waiting to be read: the listener only queues it. */
type Intake =
  | { readonly kind: 'created'; readonly incident: Incident }
  | { readonly kind: 'updated'; readonly change: IncidentChange };

/**
 * Intake from the bus: hears new and changed incidents once committed and decides whom they ask to act (the
 * assignees of a dispatch, the officers on duty where a case climbed to, the handler of a rework, a department user
 * handed the case for coordination). The listener only queues, bounded: nothing of this runs on the ingest path.
 */
export class NotificationIntake {
  readonly #options: NotificationIntakeOptions;
  readonly #intake: Intake[] = [];
  #draining = false;
  #listening = false;
  #unsubscribe: (() => void)[] = [];

  constructor(options: NotificationIntakeOptions) {
    this.#options = options;
  }

  start(): void {
    const { bus } = this.#options;
    this.#listening = true;
    this.#unsubscribe = [
      bus.on('incident:created', (incident, _receivedAt, stored) => {
        if (incident.assignees.length === 0) return;
        whenStored(stored, () => this.#admit({ kind: 'created', incident }));
      }),
      bus.on('incident:updated', (change, repeat, stored) => {
        // A repeat only counts device events again: it never changes whom to tell or where the case stands.
        if (repeat !== undefined || !concerns(change)) return;
        whenStored(stored, () => this.#admit({ kind: 'updated', change }));
      }),
    ];
  }

  stop(): void {
    this.#listening = false;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    this.#intake.length = 0;
  }

  /** The bus listener's whole work: queue, bounded, and make sure the queue is read soon. */
  #admit(intake: Intake): void {
    if (!this.#listening) return;
    if (this.#intake.length >= maxIntake) {
      this.#options.metrics.overflow.labels('intake').inc();
      return;
    }
    this.#intake.push(intake);
    if (!this.#draining) {
      this.#draining = true;
      setImmediate(() => this.#options.track(this.#drain()));
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
      await this.#options.sink.ask(incident, userId, 'dispatched', `d${incident.escalations}`);
  }

  async #updated({ before, after }: IncidentChange): Promise<void> {
    const { sink } = this.#options;
    const now = this.#options.now();
    // A dispatch or a redispatch: those newly assigned.
    if (after.state === 'dispatched') {
      const earlier = new Set(before.assignees);
      for (const userId of after.assignees)
        if (!earlier.has(userId)) await sink.ask(after, userId, 'dispatched', `d${after.escalations}`);
    }
    // An escalation: the duty officers on duty now where the case climbed to.
    if (after.escalations > before.escalations && after.responsibleNodeId !== before.responsibleNodeId) {
      for (const userId of this.#options.officersOnDuty(after.responsibleNodeId, now))
        await sink.ask(after, userId, 'escalated', `e${after.escalations}`, after.responsibleNodeId);
    }
    // A verification rejected: the handler, to do it again.
    if (after.reworks > before.reworks && after.handler !== null)
      await sink.ask(after, after.handler, 'rework', `r${after.reworks}`);
    // A hand-off: each department user added to the coordinators, for their part (the entry's place is the round:
    // a user handed the case again once done is asked again).
    const coordinators = after.coordinators ?? [];
    for (let index = before.coordinators?.length ?? 0; index < coordinators.length; index++) {
      const entry = coordinators[index];
      if (entry !== undefined && entry.doneAt === undefined)
        await sink.ask(after, entry.userId, 'handed_off', `c${index}`);
    }
    await sink.settle(after);
  }
}

/** Only what may change whom to tell, or end someone's steps, is queued. */
function concerns({ before, after }: IncidentChange): boolean {
  return (
    before.state !== after.state ||
    before.handler !== after.handler ||
    before.assignees !== after.assignees ||
    before.escalations !== after.escalations ||
    before.reworks !== after.reworks ||
    before.responsibleNodeId !== after.responsibleNodeId ||
    (before.acknowledgements?.length ?? 0) !== (after.acknowledgements?.length ?? 0) ||
    before.coordinators !== after.coordinators
  );
}
