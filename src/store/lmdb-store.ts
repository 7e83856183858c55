import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { RosterConfig } from '../config/schema.ts';
import type { AuditEntry } from '../core/audit.ts';
import { GridhubError } from '../core/errors.ts';
import { type Incident, incidentInScope, terminalStates } from '../core/incident.ts';
import type { DeadLetter } from '../core/refusals.ts';
import type {
  AuditQuery,
  ComponentState,
  DeadLetterQuery,
  DeviceRecord,
  IncidentQuery,
  Store,
} from './store.ts';

export interface LmdbStoreOptions {
  readonly dataDir: string;
  /** How many dead letters are kept; older ones are pruned. */
  readonly deadLetterLimit: number;
}

/** Prune dead letters once per this many writes, not on every write: counting keys is not free. */
const PRUNE_EVERY = 256;

/**
 * The embedded default store, on LMDB (lmdb-js): a memory-mapped, transactional key-value store that needs no
 * server. Keys are time-ordered ids, so key order is creation order and listing newest-first is a reverse
 * range scan. lmdb-js batches every write made in one event-loop turn into one transaction, which is what
 * keeps the ingest path from being capped by commits.
 */
export class LmdbStore implements Store {
  readonly kind = 'embedded';
  readonly #options: LmdbStoreOptions;
  #root: RootDatabase | undefined;
  #incidents: Database<Incident, string> | undefined;
  #deadLetters: Database<DeadLetter, string> | undefined;
  #devices: Database<DeviceRecord, string> | undefined;
  #audit: Database<AuditEntry, string> | undefined;
  #rosters: Database<RosterConfig, string> | undefined;
  #deadLetterWrites = 0;
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
      this.#root = open({ path: file, maxDbs: 8 });
      this.#incidents = this.#root.openDB<Incident, string>({ name: 'incidents', encoding: 'msgpack' });
      this.#deadLetters = this.#root.openDB<DeadLetter, string>({
        name: 'dead-letters',
        encoding: 'msgpack',
      });
      this.#devices = this.#root.openDB<DeviceRecord, string>({ name: 'devices', encoding: 'msgpack' });
      this.#audit = this.#root.openDB<AuditEntry, string>({ name: 'audit', encoding: 'msgpack' });
      this.#rosters = this.#root.openDB<RosterConfig, string>({ name: 'rosters', encoding: 'msgpack' });
    } catch (error) {
      this.#state = 'down';
      throw new GridhubError('GRIDHUB_STORE_FAILED', `cannot open ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    const root = this.#root;
    this.#root = undefined;
    this.#incidents = undefined;
    this.#deadLetters = undefined;
    this.#devices = undefined;
    this.#audit = undefined;
    this.#rosters = undefined;
    this.#state = 'down';
    // close() waits for pending writes to commit.
    await root?.close();
  }

  async saveIncident(incident: Incident, audit?: AuditEntry): Promise<void> {
    const incidents = this.#db(this.#incidents);
    if (audit === undefined) {
      await incidents.put(incident.id, incident);
      return;
    }
    const auditDb = this.#db(this.#audit);
    await this.#db(this.#root as unknown as Database<unknown, string>).transaction(() => {
      incidents.put(incident.id, incident);
      auditDb.put(audit.id, audit);
    });
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    return this.#db(this.#incidents).get(id);
  }

  async listIncidents(query: IncidentQuery): Promise<Incident[]> {
    const found: Incident[] = [];
    const range = this.#db(this.#incidents).getRange({
      reverse: true,
      ...(query.before ? { start: query.before } : {}),
    });
    for (const { key, value } of range) {
      if (key === query.before) continue;
      if (query.after !== undefined && key < query.after) break;
      if (!incidentInScope(value, query.scopeNodeIds)) continue;
      if (query.filter !== undefined && !query.filter(value)) continue;
      found.push(value);
      if (found.length >= query.limit) break;
    }
    return found;
  }

  async saveDeadLetter(deadLetter: DeadLetter): Promise<void> {
    const db = this.#db(this.#deadLetters);
    await db.put(deadLetter.id, deadLetter);
    if (++this.#deadLetterWrites % PRUNE_EVERY === 0) await this.#pruneDeadLetters(db);
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const range = this.#db(this.#deadLetters).getRange({
      reverse: true,
      ...(query.before ? { start: query.before } : {}),
    });
    return range
      .filter(({ key }) => key !== query.before)
      .map(({ value }) => value)
      .slice(0, query.limit).asArray;
  }

  async listActiveIncidents(): Promise<Incident[]> {
    return this.#db(this.#incidents)
      .getRange()
      .filter(({ value }) => !terminalStates.has(value.state))
      .map(({ value }) => value).asArray;
  }

  async saveDeviceRecord(record: DeviceRecord): Promise<void> {
    await this.#db(this.#devices).put(record.id, record);
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

  async saveRoster(roster: RosterConfig): Promise<void> {
    await this.#db(this.#rosters).put(roster.grid, roster);
  }

  async listRosters(): Promise<RosterConfig[]> {
    return this.#db(this.#rosters)
      .getRange()
      .map(({ value }) => value).asArray;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#db(this.#audit).put(entry.id, entry);
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

  async #pruneDeadLetters(db: Database<DeadLetter, string>): Promise<void> {
    const excess = db.getCount() - this.#options.deadLetterLimit;
    if (excess <= 0) return;
    await db.transaction(() => {
      for (const key of db.getKeys({ limit: excess })) db.remove(key);
    });
  }

  #db<T>(db: Database<T, string> | undefined): Database<T, string> {
    if (db === undefined) throw new GridhubError('GRIDHUB_STORE_FAILED', 'the store is not started');
    return db;
  }
}
