import type { Incident } from '../core/incident.ts';

const settled = Promise.resolve();

/** One change of a fold: what it makes of the incident, and how it commits that (with its event key, audit entry). */
interface FoldStep {
  change: (before: Incident) => Incident;
  commit: (before: Incident, after: Incident) => Promise<unknown>;
}

export interface ChangeQueueOptions {
  /** The incident as it stands when a fold runs (in memory while active, else as stored). */
  readonly current: (incidentId: string) => Promise<Incident | undefined>;
  /**
   * Sharing the store: runs `work` again, from a fresh read, while another instance beats it to the write
   * (SharedIncidents.retrying, used by SharedIncidentWriter). Left out, `work` runs once.
   */
  readonly retrying?: <T>(work: () => Promise<T>) => Promise<T>;
}

/**
 * The order of each incident's changes: one at a time, in the order they were asked for, so they never
 * interleave; and device events that arrive while an earlier change of their incident is committing, folded
 * into one turn of its queue.
 */
export class IncidentChangeQueue {
  readonly #options: ChangeQueueOptions;
  /** Per incident: the tail of its queue. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Per incident: the device events waiting to fold into it together (see fold). */
  readonly #folds = new Map<string, { readonly steps: FoldStep[]; readonly done: Promise<void> }>();

  constructor(options: ChangeQueueOptions) {
    this.#options = options;
  }

  /** Whether a change of the incident is running or waiting: a sweep leaves such an incident alone. */
  busy(incidentId: string): boolean {
    return this.#queues.has(incidentId);
  }

  /** Runs `work` after every earlier change of the same incident, so changes never interleave. */
  serial<T>(incidentId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(incidentId) ?? settled;
    const retrying = this.#options.retrying;
    // Sharing the store, a change another instance beat is made again, from a fresh read, in the same turn of the queue.
    const run = retrying === undefined ? work : () => retrying(work);
    const next = previous.then(run, run);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(incidentId, tail);
    void tail.then(() => {
      if (this.#queues.get(incidentId) === tail) this.#queues.delete(incidentId);
    });
    return next;
  }

  /**
   * A device event's change folded into the incident (a dedupe repeat, a storm grouping, a correlation join) with the
   * others that arrive while an earlier change of it is committing. The fold runs after every earlier change
   * (serial); each of its changes is made over the one before, and all their writes are issued at once, so they
   * commit together (lmdb-js puts one event turn's writes in one transaction): one store round trip per fold, not one
   * per event, so a busy incident (a grid's storm) never builds a queue that holds its devices' next messages. Each
   * event still resolves (and is acknowledged to its device) only once its own change, with its event key and audit
   * entry, is committed, and each is announced on its own. An incident found neither in memory nor in the store (its
   * creation failed to commit) fails every event of the fold: none is acknowledged, and each, sent again, is raised
   * anew instead of folding into an incident the store does not have.
   */
  fold(incidentId: string, change: FoldStep['change'], commit: FoldStep['commit']): Promise<void> {
    const pending = this.#folds.get(incidentId);
    if (pending !== undefined) {
      pending.steps.push({ change, commit });
      return pending.done;
    }
    const steps = [{ change, commit }];
    const done = this.serial(incidentId, async () => {
      // From here on, the incident's next events make the next fold.
      this.#folds.delete(incidentId);
      let before = await this.#options.current(incidentId);
      if (before === undefined) throw new Error(`incident ${incidentId} is not stored`);
      const commits: Promise<unknown>[] = [];
      for (const step of steps) {
        const after = step.change(before);
        commits.push(step.commit(before, after));
        before = after;
      }
      await Promise.all(commits);
    });
    this.#folds.set(incidentId, { steps, done });
    return done;
  }
}
