import type { AuditEntry } from '../../src/core/audit.ts';
import type { ComponentState } from '../../src/core/component.ts';
import { GridhubError } from '../../src/core/errors.ts';
import {
  type Incident,
  incidentInScope,
  isOpen,
  type RelatedEvent,
  terminalStates,
} from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import type { RosterDescription } from '../../src/core/roster.ts';
import {
  type AccountRecord,
  type AuditQuery,
  checkEventKey,
  checkRecordKey,
  type DeadLetterQuery,
  type DeliveryOutbox,
  type DeviceRecord,
  type IncidentQuery,
  type IncidentWrite,
  type IncidentWriteOutcome,
  type KeptRecord,
  type PendingDelivery,
  type SessionRecord,
  type Store,
} from '../../src/store/store.ts';

/**
 * A Store in memory, for a unit test that needs somewhere to put a few records but tests no store: it opens no file
 * and starts no server. It answers as the embedded store does for one hub (records listed newest first by their
 * time-ordered ids, every claim granted, the same checks in writeIncident), with none of its machinery (no deltas,
 * no group commit) and no bounds: it lives for one test, so it keeps every dead letter and event key. What it keeps
 * is copied in and out, as a real store's encoding does, so a test cannot change a stored record by holding on to
 * it. test/store/store-contract.test.ts holds it to the real stores' contract, all but the cases on pruning.
 */
export class FakeStore implements Store {
  readonly kind = 'fake';
  #state: ComponentState = 'down';
  readonly #incidents = new Map<string, Incident>();
  readonly #deadLetters = new Map<string, DeadLetter>();
  readonly #devices = new Map<string, DeviceRecord>();
  readonly #audit = new Map<string, AuditEntry>();
  readonly #rosters = new Map<string, RosterDescription>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #accounts = new Map<string, AccountRecord>();
  readonly #records = new Map<string, { value: unknown; expiresAt: number | null }>();
  /** The device event keys written with a change (never forgotten: see the class's comment). */
  readonly #events = new Set<string>();
  /** Device condition → its open incident's id (see IncidentWrite.condition). */
  readonly #conditions = new Map<string, string>();
  readonly #deliveries = new Map<string, PendingDelivery>();

  get state(): ComponentState {
    return this.#state;
  }

  /** What it holds stays across a stop and a start, as on disk. */
  async start(): Promise<void> {
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    this.#state = 'down';
  }

  async saveIncident(incident: Incident, audit?: AuditEntry, eventKey?: string): Promise<void> {
    this.#started();
    checkEventKey(eventKey);
    this.#incidents.set(incident.id, copy(incident));
    if (audit !== undefined) this.#audit.set(audit.id, copy(audit));
    if (eventKey !== undefined) this.#events.add(eventKey);
  }

  /** The incident carries the repeat already: kept whole, it reads back with the repeat applied. */
  async saveRepeat(incident: Incident, eventKey?: string): Promise<void> {
    await this.saveIncident(incident, undefined, eventKey);
  }

  /** The incident carries the joined event already (related grown by `joined`): kept whole, as saveRepeat. */
  async saveJoined(
    incident: Incident,
    _joined: RelatedEvent,
    audit?: AuditEntry,
    eventKey?: string,
  ): Promise<void> {
    await this.saveIncident(incident, audit, eventKey);
  }

  async writeIncident(write: IncidentWrite): Promise<IncidentWriteOutcome> {
    this.#started();
    const { incident, audit, condition, eventKey, expectedVersion } = write;
    checkEventKey(eventKey);
    if (eventKey !== undefined && this.#events.has(eventKey)) return { written: false, refused: 'event' };
    if (
      expectedVersion !== undefined &&
      (this.#incidents.get(incident.id)?.version ?? 0) !== expectedVersion
    ) {
      return { written: false, refused: 'version' };
    }
    if (condition !== undefined) {
      const holder = this.#conditions.get(condition.key);
      if (!isOpen(incident.state)) {
        if (holder === incident.id) this.#conditions.delete(condition.key);
      } else if (condition.claim === true) {
        const held = holder === undefined ? undefined : this.#incidents.get(holder);
        if (
          held !== undefined &&
          holder !== incident.id &&
          holder !== condition.replaces &&
          isOpen(held.state)
        ) {
          return { written: false, refused: 'condition', holder: held.id };
        }
        this.#conditions.set(condition.key, incident.id);
      }
    }
    await this.saveIncident(incident, audit, eventKey);
    return { written: true };
  }

  async openCondition(conditionKey: string): Promise<string | undefined> {
    this.#started();
    return this.#conditions.get(conditionKey);
  }

  eventCommitted(eventKey: string): boolean {
    this.#started();
    return this.#events.has(eventKey);
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    this.#started();
    return copyOf(this.#incidents.get(id));
  }

  async listIncidents(query: IncidentQuery): Promise<Incident[]> {
    const found: Incident[] = [];
    for (const [id, incident] of this.#newestFirst(this.#incidents, query.before)) {
      if (query.after !== undefined && id < query.after) break;
      if (!incidentInScope(incident, query.scopeNodeIds)) continue;
      if (query.filter !== undefined && !query.filter(incident)) continue;
      found.push(copy(incident));
      if (found.length >= query.limit) break;
    }
    return found;
  }

  /** One hub owns this store, as the embedded one: its webhook deliveries wait here. */
  readonly outbox: DeliveryOutbox = {
    putDelivery: async (delivery) => {
      this.#started();
      this.#deliveries.set(delivery.id, copy(delivery));
    },
    removeDelivery: async (id) => {
      this.#started();
      this.#deliveries.delete(id);
    },
    listDeliveries: async () => this.#oldestFirst(this.#deliveries),
  };

  async saveDeadLetter(deadLetter: DeadLetter): Promise<void> {
    this.#started();
    this.#deadLetters.set(deadLetter.id, copy(deadLetter));
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const found: DeadLetter[] = [];
    for (const [, deadLetter] of this.#newestFirst(this.#deadLetters, query.before)) {
      if (query.filter !== undefined && !query.filter(deadLetter)) continue;
      found.push(copy(deadLetter));
      if (found.length >= query.limit) break;
    }
    return found;
  }

  async listActiveIncidents(): Promise<Incident[]> {
    return this.#oldestFirst(this.#incidents).filter((incident) => !terminalStates.has(incident.state));
  }

  async saveDeviceRecord(record: DeviceRecord): Promise<void> {
    this.#started();
    this.#devices.set(record.id, copy(record));
  }

  async listDeviceRecords(): Promise<DeviceRecord[]> {
    return this.#oldestFirst(this.#devices);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.#started();
    this.#audit.set(entry.id, copy(entry));
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    for (const [, entry] of this.#newestFirst(this.#audit, query.before)) {
      if (query.targetId !== undefined && entry.target.id !== query.targetId) continue;
      found.push(copy(entry));
      if (found.length >= query.limit) break;
    }
    return found;
  }

  /** One hub owns this store: every claim is its own. */
  async claim(_key: string, _ttlMs: number): Promise<boolean> {
    this.#started();
    return true;
  }

  async saveRoster(roster: RosterDescription): Promise<void> {
    this.#started();
    this.#rosters.set(roster.grid, copy(roster));
  }

  async listRosters(): Promise<RosterDescription[]> {
    return this.#oldestFirst(this.#rosters);
  }

  async saveSession(session: SessionRecord): Promise<void> {
    this.#started();
    this.#sessions.set(session.id, copy(session));
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    this.#started();
    return copyOf(this.#sessions.get(id));
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const now = Date.now();
    return this.#oldestFirst(this.#sessions).filter(
      (session) => session.userId === userId && Date.parse(session.expiresAt) >= now,
    );
  }

  async saveAccount(account: AccountRecord): Promise<void> {
    this.#started();
    this.#accounts.set(account.id, copy(account));
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    this.#started();
    return copyOf(this.#accounts.get(id));
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return this.#oldestFirst(this.#accounts);
  }

  async putRecord(collection: string, key: string, value: unknown, expiresAt?: number): Promise<void> {
    this.#started();
    checkRecordKey(collection, key);
    this.#records.set(`${collection}/${key}`, { value: copy(value), expiresAt: expiresAt ?? null });
  }

  async getRecord<T>(collection: string, key: string): Promise<T | undefined> {
    this.#started();
    checkRecordKey(collection, key);
    const stored = this.#records.get(`${collection}/${key}`);
    if (stored === undefined || (stored.expiresAt !== null && stored.expiresAt <= Date.now()))
      return undefined;
    return copy(stored.value) as T;
  }

  async listRecords<T>(collection: string, prefix = ''): Promise<KeptRecord<T>[]> {
    const start = `${collection}/${prefix}`;
    const now = Date.now();
    return [...this.#records]
      .filter(
        ([key, stored]) => key.startsWith(start) && (stored.expiresAt === null || stored.expiresAt > now),
      )
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, stored]) => ({
        key: key.slice(collection.length + 1),
        value: copy(stored.value) as T,
        expiresAt: stored.expiresAt,
      }));
  }

  async removeRecord(collection: string, key: string): Promise<void> {
    this.#started();
    this.#records.delete(`${collection}/${key}`);
  }

  /** Entries with keys before `before` (all when undefined), the greatest key first: ids sort by creation. */
  #newestFirst<T>(records: Map<string, T>, before?: string): [string, T][] {
    this.#started();
    return [...records]
      .filter(([key]) => before === undefined || key < before)
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
  }

  /** Copies of the values in key order, as a real store's range scan lists them. */
  #oldestFirst<T>(records: Map<string, T>): T[] {
    this.#started();
    return [...records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, value]) => copy(value));
  }

  /** A store not started refuses, as the real ones do: a test forgetting to start it finds out. */
  #started(): void {
    if (this.#state !== 'up') throw new GridhubError('GRIDHUB_STORE_FAILED', 'the store is not started');
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

function copyOf<T>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : copy(value);
}
