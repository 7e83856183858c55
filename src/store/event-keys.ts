import type { Database, RootDatabase } from 'lmdb';

/** Where a generation keeps when it was started: before every event key (they start with a device id). */
const startedKey = '\u0000started';

/** One of the two tables of event keys: key → when it was recorded (ms). */
interface Generation {
  readonly db: Database<number, string>;
  /** When this generation became the one written to (0: never, or a store from before generations). */
  started: number;
  /** Event keys in it, as far as this process knows (counted on open, then kept). */
  count: number;
}

export interface EventKeysOptions {
  /** How long a key is recognised at the most. */
  readonly retentionMs: number;
  /** How many keys one generation takes before the older one is dropped: bounds the store's file at any rate. */
  readonly perGeneration: number;
  readonly clock: () => number;
}

/**
 * The keys of committed device events, for recognising a redelivery (Store.eventCommitted), in two generations: new
 * keys go to the current one; when it is half the retention old or holds `perGeneration` keys, the older one is
 * dropped whole (one LMDB operation, queued in order with the writes) and becomes the current one. A key is then
 * recognised for at least half the retention or the time `perGeneration` events take, whichever is shorter, and at
 * most for the retention (a lookup checks the key's age): the file holds at most two generations, whatever the
 * rate, where one table pruned by age grew by a day of events (8 MB a minute at 1,000 events/s). No scan per write.
 * A store written before generations has its keys in `events`, read as the older generation until it is dropped.
 */
export class EventKeys {
  readonly #options: EventKeysOptions;
  #current: Generation;
  #older: Generation;

  constructor(root: RootDatabase, options: EventKeysOptions) {
    this.#options = options;
    const open = (name: string): Generation => {
      const db = root.openDB<number, string>({ name, encoding: 'msgpack' });
      const started = db.get(startedKey) ?? 0;
      const { entryCount } = db.getStats() as { entryCount: number };
      return { db, started, count: entryCount - (started > 0 ? 1 : 0) };
    };
    const first = open('events');
    const second = open('events-next');
    // The one started later is written to; two never started (a new store, or one from before): the second.
    [this.#current, this.#older] = first.started > second.started ? [first, second] : [second, first];
  }

  /** Whether the key was recorded within the retention (a synchronous read of the memory map). */
  has(eventKey: string): boolean {
    // Asked of every keyed device event: two reads at most, nothing allocated.
    const recorded = this.#current.db.get(eventKey) ?? this.#older.db.get(eventKey);
    return recorded !== undefined && this.#options.clock() - recorded <= this.#options.retentionMs;
  }

  /**
   * Records a key, in the current event turn's transaction (a plain put: see LmdbStore#saveIncident). Inside a
   * transaction callback (`inTransaction`) the generations never turn: the clearing is queued with the asynchronous
   * writes, and the next plain write turns them instead.
   */
  record(eventKey: string, inTransaction = false): void {
    const now = this.#options.clock();
    const current = this.#current;
    if (current.started === 0) this.#start(current, now);
    else if (
      !inTransaction &&
      (now - current.started >= this.#options.retentionMs / 2 || current.count >= this.#options.perGeneration)
    )
      this.#turn(now);
    this.#current.db.put(eventKey, now);
    this.#current.count += 1;
  }

  /** The older generation is emptied and written to from now on; the current one becomes the older. */
  #turn(now: number): void {
    const emptied = this.#older;
    // Queued with the writes, in order: the puts after it land in the emptied table, after the clearing.
    void emptied.db.clearAsync();
    emptied.count = 0;
    this.#start(emptied, now);
    this.#older = this.#current;
    this.#current = emptied;
  }

  #start(generation: Generation, now: number): void {
    generation.started = now;
    generation.db.put(startedKey, now);
  }
}
