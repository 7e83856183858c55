import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { AuditEntry } from '../core/audit.ts';
import type { ComponentState } from '../core/component.ts';
import { GridhubError } from '../core/errors.ts';
import {
  type Incident,
  incidentInScope,
  isOpen,
  type RelatedEvent,
  relatedEventsLimit,
  terminalStates,
} from '../core/incident.ts';
import type { DeadLetter } from '../core/refusals.ts';
import type { RosterDescription } from '../core/roster.ts';
import { EventKeys } from './event-keys.ts';
import {
  type AccountRecord,
  type AuditQuery,
  checkEventKey,
  checkRecordKey,
  type DeadLetterQuery,
  type DeliveryOutbox,
  type DeviceRecord,
  eventKeyRetentionMs,
  type IncidentQuery,
  type IncidentWrite,
  type IncidentWriteOutcome,
  type KeptRecord,
  type PendingDelivery,
  type SessionRecord,
  type Store,
} from './store.ts';

export interface LmdbStoreOptions {
  readonly dataDir: string;
  /** How many dead letters are kept; older ones are pruned. */
  readonly deadLetterLimit: number;
  /** How long a device event's key is kept at the most; eventKeyRetentionMs unless a test says otherwise. */
  readonly eventKeyRetentionMs?: number;
  /** How many event keys a generation takes before the older one is dropped (EventKeys); 500,000 by default. */
  readonly eventKeysPerGeneration?: number;
  /** The clock event keys are dated by; Date.now unless a test moves time on. */
  readonly clock?: () => number;
  /**
   * Group commit: writes wait up to this long and then commit together in one transaction (0: each event-loop turn's
   * writes commit at once, lmdb-js's own batching). See LmdbStore#batched.
   */
  readonly commitWindowMs?: number;
}

/** Where the n-th related event joined since the incident was written whole is kept (IncidentDelta.joins). */
function joinedSlot(incidentId: string, n: number): string {
  return `${incidentId}/${n % relatedEventsLimit}`;
}

/** Prune dead letters once per this many writes, not on every write: counting keys is not free. */
const PRUNE_EVERY = 256;
/** About 65 MB of keys a generation: at 1,000 events a second, redeliveries are recognised for 8 minutes at least. */
const EVENT_KEYS_PER_GENERATION = 500_000;

/**
 * What changed of an incident since it was last written whole: repeats (Store.saveRepeat) and joins (saveJoined),
 * kept beside it, so neither rewrites the incident. A whole write removes it, in the same transaction.
 */
interface IncidentDelta extends Pick<Incident, 'occurrences' | 'lastOccurredAt' | 'updatedAt'> {
  readonly severity?: Incident['severity'];
  readonly title?: string;
  /**
   * How many related events were joined since: the newest relatedEventsLimit of them are in the joined table, the
   * n-th (from 0) under `<incident id>/<n % relatedEventsLimit>`, a ring that each join overwrites a slot of.
   * Absent on a delta written by a hub before joins were deltas (a repeat only).
   */
  readonly joins?: number;
}

/** An incident's newest delta as issued, committed or not yet; `delta` undefined: removed by a whole write. */
interface IssuedDelta {
  readonly delta: IncidentDelta | undefined;
}

/**
 * The embedded default store, on LMDB (lmdb-js): a memory-mapped, transactional key-value store that needs no
 * server. Keys are time-ordered ids, so key order is creation order and listing newest-first is a reverse
 * range scan. lmdb-js batches every write made in one event-loop turn into one transaction, which is what
 * keeps the ingest path from being capped by commits.
 */
/** A record as the embedded store keeps it. */
interface StoredRecord {
  readonly value: unknown;
  readonly expiresAt: number | null;
}

/** Sweep records past their end every this many record writes. */
const recordSweepEvery = 500;

function ended(record: StoredRecord): boolean {
  return record.expiresAt !== null && record.expiresAt <= Date.now();
}

export class LmdbStore implements Store {
  readonly kind = 'embedded';
  readonly #options: LmdbStoreOptions;
  #root: RootDatabase | undefined;
  #incidents: Database<Incident, string> | undefined;
  #deadLetters: Database<DeadLetter, string> | undefined;
  #devices: Database<DeviceRecord, string> | undefined;
  #audit: Database<AuditEntry, string> | undefined;
  #rosters: Database<RosterDescription, string> | undefined;
  #sessions: Database<SessionRecord, string> | undefined;
  #accounts: Database<AccountRecord, string> | undefined;
  /** Device event key → when its change was committed (epoch ms), in two generations (EventKeys). */
  #eventKeys: EventKeys | undefined;
  /** Device condition → its open incident's id (Store.writeIncident's condition index). */
  #conditions: Database<string, string> | undefined;
  /** Incident id → what changed since it was written whole (see IncidentDelta). */
  #deltas: Database<IncidentDelta, string> | undefined;
  /** `<incident id>/<slot>` → a related event joined since the incident was written whole (IncidentDelta.joins). */
  #joined: Database<RelatedEvent, string> | undefined;
  /**
   * Per incident with a delta, that delta as last issued: the next one builds on it without a read of the store,
   * which would decode it and, before it commits, still see the one before (a fold issues several writes of one
   * incident in one turn). Active incidents only: a removal is kept until it commits, and ending an incident is a
   * whole write. A write that fails forgets its entry, and the store is read again.
   */
  readonly #issued = new Map<string, IssuedDelta>();
  /** Webhook deliveries waiting, by delivery id (see outbox). */
  #deliveries: Database<PendingDelivery, string> | undefined;
  /** `<collection>/<key>` → a record of a collection (see Store.putRecord). */
  #records: Database<StoredRecord, string> | undefined;
  /** Record writes since the last sweep of records past their end. */
  #recordWrites = 0;
  #deadLetterWrites = 0;
  /** Writes waiting for the commit window to close, in the order they were made (see #batched). */
  #window: (() => void)[] = [];
  #windowTimer: NodeJS.Timeout | undefined;
  /** When the last transaction's writes were issued (performance.now()), and whether its event turn is still on. */
  #issuedAt = Number.NEGATIVE_INFINITY;
  #turnOpen = false;
  readonly #closeTurn = (): void => {
    this.#turnOpen = false;
  };
  #state: ComponentState = 'down';

  constructor(options: LmdbStoreOptions) {
    this.#options = options;
  }

  get state(): ComponentState {
    return this.#state;
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const file = path.join(this.#options.dataDir, 'gridhub.lmdb');
    try {
      mkdirSync(this.#options.dataDir, { recursive: true });
      this.#root = open({ path: file, maxDbs: 32 });
      this.#incidents = this.#root.openDB<Incident, string>({ name: 'incidents', encoding: 'msgpack' });
      this.#deadLetters = this.#root.openDB<DeadLetter, string>({
        name: 'dead-letters',
        encoding: 'msgpack',
      });
      this.#devices = this.#root.openDB<DeviceRecord, string>({ name: 'devices', encoding: 'msgpack' });
      this.#audit = this.#root.openDB<AuditEntry, string>({ name: 'audit', encoding: 'msgpack' });
      this.#rosters = this.#root.openDB<RosterDescription, string>({ name: 'rosters', encoding: 'msgpack' });
      this.#eventKeys = new EventKeys(this.#root, {
        retentionMs: this.#options.eventKeyRetentionMs ?? eventKeyRetentionMs,
        perGeneration: this.#options.eventKeysPerGeneration ?? EVENT_KEYS_PER_GENERATION,
        clock: this.#options.clock ?? Date.now,
      });
      this.#sessions = this.#root.openDB<SessionRecord, string>({ name: 'sessions', encoding: 'msgpack' });
      this.#accounts = this.#root.openDB<AccountRecord, string>({ name: 'accounts', encoding: 'msgpack' });
      this.#conditions = this.#root.openDB<string, string>({ name: 'conditions', encoding: 'msgpack' });
      // 'repeats': the name it had when it held repeats only, so an existing store reads on.
      this.#deltas = this.#root.openDB<IncidentDelta, string>({ name: 'repeats', encoding: 'msgpack' });
      this.#joined = this.#root.openDB<RelatedEvent, string>({ name: 'joined', encoding: 'msgpack' });
      this.#deliveries = this.#root.openDB<PendingDelivery, string>({
        name: 'deliveries',
        encoding: 'msgpack',
      });
      this.#records = this.#root.openDB<StoredRecord, string>({ name: 'records', encoding: 'msgpack' });
    } catch (error) {
      this.#state = 'down';
      throw new GridhubError('GRIDHUB_STORE_FAILED', `cannot open ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    // What waits for the commit window is written now, before the store closes.
    this.#closeWindow();
    const root = this.#root;
    this.#root = undefined;
    this.#incidents = undefined;
    this.#deadLetters = undefined;
    this.#devices = undefined;
    this.#audit = undefined;
    this.#rosters = undefined;
    this.#sessions = undefined;
    this.#accounts = undefined;
    this.#eventKeys = undefined;
    this.#conditions = undefined;
    this.#deltas = undefined;
    this.#joined = undefined;
    this.#issued.clear();
    this.#deliveries = undefined;
    this.#state = 'down';
    // close() waits for pending writes to commit.
    await root?.close();
  }

  /**
   * Plain puts, not a transaction callback: lmdb-js commits every write of one event turn in one transaction (its
   * `eventTurnBatching`, and nothing here splits a batch with `transactionSync`), so the incident, its audit entry,
   * its event key and the removal of its delta commit together or not at all. The puts only encode on this
   * thread; lmdb-js's write thread does the B-tree work, where a transaction callback would do it here, holding the
   * event loop. A put that throws would leave the puts before it issued, to commit with the turn's others: so what
   * could make one throw (a key over LMDB's limit) is checked before the first (checkEventKey), and nothing of a
   * refused change is written.
   */
  async saveIncident(incident: Incident, audit?: AuditEntry, eventKey?: string): Promise<void> {
    checkEventKey(eventKey);
    await this.#batched(() => {
      const written = this.#db(this.#incidents).put(incident.id, incident);
      if (audit !== undefined) this.#db(this.#audit).put(audit.id, audit);
      if (eventKey !== undefined) this.#recordEvent(eventKey);
      this.#spendDelta(incident.id, written);
      return written;
    });
  }

  /**
   * Writes the few fields a repeat changes in the incident's delta: the incident itself is not rewritten, so a busy
   * device condition costs a few bytes a repeat, not a whole incident. Reads apply the delta.
   */
  async saveRepeat(incident: Incident, eventKey?: string): Promise<void> {
    const { id, occurrences, lastOccurredAt, updatedAt } = incident;
    checkEventKey(eventKey);
    await this.#batched(() => {
      const delta = { ...this.#lastDelta(id), occurrences, lastOccurredAt, updatedAt };
      const written = this.#putDelta(incident, delta);
      if (eventKey !== undefined) this.#recordEvent(eventKey);
      return written;
    });
  }

  /**
   * Writes a joined event in a slot of its own and the fields a join changes in the incident's delta: a storm
   * grouping or a correlation join costs two small records, not the incident with its related events re-encoded.
   */
  async saveJoined(
    incident: Incident,
    joined: RelatedEvent,
    audit?: AuditEntry,
    eventKey?: string,
  ): Promise<void> {
    const { id, occurrences, lastOccurredAt, updatedAt, severity, title } = incident;
    checkEventKey(eventKey);
    await this.#batched(() => {
      const joins = (this.#lastDelta(id)?.joins ?? 0) + 1;
      this.#db(this.#joined).put(joinedSlot(id, joins - 1), joined);
      const written = this.#putDelta(incident, {
        occurrences,
        lastOccurredAt,
        updatedAt,
        severity,
        title,
        joins,
      });
      if (audit !== undefined) this.#db(this.#audit).put(audit.id, audit);
      if (eventKey !== undefined) this.#recordEvent(eventKey);
      return written;
    });
  }

  async writeIncident(write: IncidentWrite): Promise<IncidentWriteOutcome> {
    const { incident, audit, condition, eventKey, expectedVersion } = write;
    checkEventKey(eventKey);
    const incidents = this.#db(this.#incidents);
    const conditions = this.#db(this.#conditions);
    const auditDb = this.#db(this.#audit);
    const eventKeys = this.#db(this.#eventKeys);
    // Reads inside the transaction see its own writes and no one else's: checks and writes are one step.
    const root = this.#db(this.#root as unknown as Database<unknown, string>);
    return this.#batched(() =>
      root.transaction((): IncidentWriteOutcome => {
        if (eventKey !== undefined && eventKeys.has(eventKey)) {
          return { written: false, refused: 'event' };
        }
        if (expectedVersion !== undefined && (this.#read(incident.id)?.version ?? 0) !== expectedVersion) {
          return { written: false, refused: 'version' };
        }
        if (condition !== undefined) {
          const holder = conditions.get(condition.key);
          if (!isOpen(incident.state)) {
            if (holder === incident.id) conditions.remove(condition.key);
          } else if (condition.claim === true) {
            const held = holder === undefined ? undefined : this.#read(holder);
            if (
              held !== undefined &&
              holder !== incident.id &&
              holder !== condition.replaces &&
              isOpen(held.state)
            ) {
              return { written: false, refused: 'condition', holder: held.id };
            }
            conditions.put(condition.key, incident.id);
          }
        }
        incidents.put(incident.id, incident);
        if (audit !== undefined) auditDb.put(audit.id, audit);
        if (eventKey !== undefined) this.#recordEvent(eventKey, true);
        // Several hubs write through here only, each change in its own transaction, whose reads see its writes.
        this.#removeDelta(incident.id, this.#db(this.#deltas).get(incident.id));
        this.#issued.delete(incident.id);
        return { written: true };
      }),
    );
  }

  async openCondition(conditionKey: string): Promise<string | undefined> {
    return this.#db(this.#conditions).get(conditionKey);
  }

  /** A synchronous read of the memory map: the embedded ingest path asks it of every keyed event. */
  eventCommitted(eventKey: string): boolean {
    return this.#db(this.#eventKeys).has(eventKey);
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    return this.#read(id);
  }

  async listIncidents(query: IncidentQuery): Promise<Incident[]> {
    const found: Incident[] = [];
    const range = this.#db(this.#incidents).getRange({
      reverse: true,
      ...(query.before ? { start: query.before } : {}),
    });
    for (const { key, value: stored } of range) {
      if (key === query.before) continue;
      if (query.after !== undefined && key < query.after) break;
      if (!incidentInScope(stored, query.scopeNodeIds)) continue;
      const value = this.#withDelta(stored);
      if (query.filter !== undefined && !query.filter(value)) continue;
      found.push(value);
      if (found.length >= query.limit) break;
    }
    return found;
  }

  /** One hub owns this store: its webhook deliveries wait here across restarts. */
  readonly outbox: DeliveryOutbox = {
    putDelivery: async (delivery) => {
      const deliveries = this.#db(this.#deliveries);
      await this.#batched(() => deliveries.put(delivery.id, delivery));
    },
    removeDelivery: async (id) => {
      const deliveries = this.#db(this.#deliveries);
      await this.#batched(() => deliveries.remove(id));
    },
    listDeliveries: async () =>
      this.#db(this.#deliveries)
        .getRange()
        .map(({ value }) => value).asArray,
  };

  async saveDeadLetter(deadLetter: DeadLetter): Promise<void> {
    const db = this.#db(this.#deadLetters);
    await this.#batched(() => db.put(deadLetter.id, deadLetter));
    if (++this.#deadLetterWrites % PRUNE_EVERY === 0) await this.#pruneDeadLetters(db);
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const range = this.#db(this.#deadLetters).getRange({
      reverse: true,
      ...(query.before ? { start: query.before } : {}),
    });
    const { filter } = query;
    return range
      .filter(({ key, value }) => key !== query.before && (filter === undefined || filter(value)))
      .map(({ value }) => value)
      .slice(0, query.limit).asArray;
  }

  async listActiveIncidents(): Promise<Incident[]> {
    return this.#db(this.#incidents)
      .getRange()
      .filter(({ value }) => !terminalStates.has(value.state))
      .map(({ value }) => this.#withDelta(value)).asArray;
  }

  async saveDeviceRecord(record: DeviceRecord): Promise<void> {
    const devices = this.#db(this.#devices);
    await this.#batched(() => devices.put(record.id, record));
  }

  async listDeviceRecords(): Promise<DeviceRecord[]> {
    return this.#db(this.#devices)
      .getRange()
      .map(({ value }) => value).asArray;
  }

  /** One hub owns an LMDB store: every claim is its own. */
  async claim(_key: string, _ttlMs: number): Promise<boolean> {
    return true;
  }

  async saveRoster(roster: RosterDescription): Promise<void> {
    const rosters = this.#db(this.#rosters);
    await this.#batched(() => rosters.put(roster.grid, roster));
  }

  async listRosters(): Promise<RosterDescription[]> {
    return this.#db(this.#rosters)
      .getRange()
      .map(({ value }) => value).asArray;
  }

  async saveSession(session: SessionRecord): Promise<void> {
    const sessions = this.#db(this.#sessions);
    await this.#batched(() => sessions.put(session.id, session));
    // Sessions past their end go as new ones come: a store sees a few logins a shift per person.
    const now = Date.now();
    for (const { key, value } of sessions.getRange()) {
      if (Date.parse(value.expiresAt) < now) sessions.remove(key);
    }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.#db(this.#sessions).get(id);
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const now = Date.now();
    return this.#db(this.#sessions)
      .getRange()
      .map(({ value }) => value)
      .filter((session) => session.userId === userId && Date.parse(session.expiresAt) >= now).asArray;
  }

  async saveAccount(account: AccountRecord): Promise<void> {
    const accounts = this.#db(this.#accounts);
    await this.#batched(() => accounts.put(account.id, account));
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    return this.#db(this.#accounts).get(id);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return this.#db(this.#accounts)
      .getRange()
      .map(({ value }) => value).asArray;
  }

  async putRecord(collection: string, key: string, value: unknown, expiresAt?: number): Promise<void> {
    checkRecordKey(collection, key);
    const records = this.#db(this.#records);
    const stored: StoredRecord = { value, expiresAt: expiresAt ?? null };
    await this.#batched(() => records.put(`${collection}/${key}`, stored));
    // Records past their end go every so often, in one pass over the keys (a write of a few hundred entries).
    this.#recordWrites += 1;
    if (this.#recordWrites % recordSweepEvery === 0) {
      const now = Date.now();
      const ended: string[] = [];
      for (const { key, value } of records.getRange()) {
        if (value.expiresAt !== null && value.expiresAt <= now) ended.push(key);
      }
      if (ended.length > 0) await this.#batched(() => Promise.all(ended.map((key) => records.remove(key))));
    }
  }

  async getRecord<T>(collection: string, key: string): Promise<T | undefined> {
    checkRecordKey(collection, key);
    const stored = this.#db(this.#records).get(`${collection}/${key}`);
    return stored === undefined || ended(stored) ? undefined : (stored.value as T);
  }

  async listRecords<T>(collection: string, prefix = ''): Promise<KeptRecord<T>[]> {
    checkRecordKey(collection, 'x');
    const start = `${collection}/${prefix}`;
    return this.#db(this.#records)
      .getRange({ start, end: `${start}\uffff` })
      .filter(({ value }) => !ended(value))
      .map(({ key, value }) => ({
        key: key.slice(collection.length + 1),
        value: value.value as T,
        expiresAt: value.expiresAt,
      })).asArray;
  }

  async removeRecord(collection: string, key: string): Promise<void> {
    checkRecordKey(collection, key);
    const records = this.#db(this.#records);
    await this.#batched(() => records.remove(`${collection}/${key}`));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const audit = this.#db(this.#audit);
    await this.#batched(() => audit.put(entry.id, entry));
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    const range = this.#db(this.#audit).getRange({
      reverse: true,
      ...(query.before ? { start: query.before } : {}),
    });
    for (const { key, value } of range) {
      if (key === query.before) continue;
      if (query.targetId !== undefined && value.target.id !== query.targetId) continue;
      found.push(value);
      if (found.length >= query.limit) break;
    }
    return found;
  }

  /**
   * Group commit. Every write of the store goes through here, so writes keep their order. lmdb-js commits each
   * event-loop turn's writes in one transaction, and a transaction costs far more than a put: LMDB's commit, a dozen
   * page writes and an `fdatasync`, and lmdb-js waking its write thread and being woken back, each a system call
   * (about 85 µs of the event loop and 230 µs of CPU in all for a transaction of one put on the bench machine,
   * against 7 and 16 µs a put in transactions of 50; on one core, a fifth of the hub's CPU at 1,000 events/s).
   * With a window, transactions start at most once per `commitWindowMs`: a write that comes when the last one
   * started longer ago than that is issued at once, with the rest of its turn's writes (a quiet hub adds no wait);
   * one that comes sooner waits for the window to close and goes with every write made meanwhile, all in one turn and
   * so in one transaction. Under load that bounds the transactions a second whatever the rate, for a wait of at most
   * the window. `issue` makes its puts synchronously and returns the promise of its commit.
   */
  #batched<T>(issue: () => Promise<T>): Promise<T> {
    const windowMs = this.#options.commitWindowMs ?? 0;
    if (windowMs <= 0 || this.#turnOpen) return issue();
    const now = performance.now();
    if (this.#windowTimer === undefined && now - this.#issuedAt >= windowMs) {
      this.#openTurn(now);
      return issue();
    }
    return new Promise<T>((resolve, reject) => {
      this.#window.push(() => {
        try {
          issue().then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      });
      this.#windowTimer ??= setTimeout(() => this.#closeWindow(), this.#issuedAt + windowMs - now);
    });
  }

  /** A transaction's writes are being issued: the rest of this event turn's writes join it (lmdb-js' batching). */
  #openTurn(now: number): void {
    this.#issuedAt = now;
    if (this.#turnOpen) return;
    this.#turnOpen = true;
    setImmediate(this.#closeTurn);
  }

  #closeWindow(): void {
    clearTimeout(this.#windowTimer);
    this.#windowTimer = undefined;
    const writes = this.#window;
    this.#window = [];
    if (writes.length > 0) this.#openTurn(performance.now());
    for (const write of writes) write();
  }

  #read(id: string): Incident | undefined {
    const stored = this.#db(this.#incidents).get(id);
    return stored === undefined ? undefined : this.#withDelta(stored);
  }

  /** The incident's newest delta as issued (#issued), else as the store holds it (after a restart). */
  #lastDelta(incidentId: string): IncidentDelta | undefined {
    const issued = this.#issued.get(incidentId);
    return issued === undefined ? this.#db(this.#deltas).get(incidentId) : issued.delta;
  }

  #putDelta(incident: Incident, delta: IncidentDelta): Promise<boolean> {
    const written = this.#db(this.#deltas).put(incident.id, delta);
    // An incident that ended while a change of it waited takes that change as a delta, and no whole write after it:
    // its delta is kept in memory only until committed.
    this.#issue(incident.id, { delta }, written, terminalStates.has(incident.state));
    return written;
  }

  /** `untilCommitted`: forgotten once committed, as well as when the write fails; else only then. */
  #issue(incidentId: string, issued: IssuedDelta, written: Promise<unknown>, untilCommitted: boolean): void {
    this.#issued.set(incidentId, issued);
    const forget = () => {
      if (this.#issued.get(incidentId) === issued) this.#issued.delete(incidentId);
    };
    written.then(untilCommitted ? forget : undefined, forget);
  }

  /**
   * The incident written whole carries everything its delta held: the delta and its joined slots are removed in the
   * same transaction, after any delta of the same transaction (writes apply in the order made). Until that commits,
   * reads see both as they were, the delta applied.
   */
  #spendDelta(incidentId: string, written: Promise<unknown>): void {
    const delta = this.#lastDelta(incidentId);
    if (delta === undefined) return;
    this.#removeDelta(incidentId, delta);
    this.#issue(incidentId, { delta: undefined }, written, true);
  }

  #removeDelta(incidentId: string, delta: IncidentDelta | undefined): void {
    if (delta === undefined) return;
    this.#db(this.#deltas).remove(incidentId);
    const slots = this.#db(this.#joined);
    for (let n = 0; n < Math.min(delta.joins ?? 0, relatedEventsLimit); n++)
      slots.remove(joinedSlot(incidentId, n));
  }

  /** The incident as stored, with its delta applied if it has one. */
  #withDelta(incident: Incident): Incident {
    const delta = this.#db(this.#deltas).get(incident.id);
    if (delta === undefined) return incident;
    const { joins, ...fields } = delta;
    // A repeat record left by a hub before deltas were spent on every whole write: occurrences only grow, so one no
    // newer than the incident is one a later whole write already carries.
    if (joins === undefined)
      return delta.occurrences <= incident.occurrences ? incident : { ...incident, ...fields };
    const slots = this.#db(this.#joined);
    const related = [...incident.related];
    for (let n = Math.max(0, joins - relatedEventsLimit); n < joins; n++) {
      const joined = slots.get(joinedSlot(incident.id, n));
      if (joined !== undefined) related.push(joined);
    }
    return { ...incident, ...fields, related: related.slice(-relatedEventsLimit) };
  }

  async #pruneDeadLetters(db: Database<DeadLetter, string>): Promise<void> {
    const excess = db.getCount() - this.#options.deadLetterLimit;
    if (excess <= 0) return;
    await db.transaction(() => {
      for (const key of db.getKeys({ limit: excess })) db.remove(key);
    });
  }

  #db<T>(db: T | undefined): T {
    if (db === undefined) throw new GridhubError('GRIDHUB_STORE_FAILED', 'the store is not started');
    return db;
  }

  /** Records a device event's key with the writes of its change (EventKeys: two generations, no scan). */
  #recordEvent(eventKey: string, inTransaction = false): void {
    this.#db(this.#eventKeys).record(eventKey, inTransaction);
  }
}
