import type { Redis } from 'ioredis';
import type { AuditEntry } from '../core/audit.ts';
import type { ComponentState } from '../core/component.ts';
import { GridhubError } from '../core/errors.ts';
import {
  type Incident,
  incidentInScope,
  incidentStates,
  isOpen,
  type RelatedEvent,
  terminalStates,
} from '../core/incident.ts';
import type { DeadLetter } from '../core/refusals.ts';
import type { RosterDescription } from '../core/roster.ts';
import { createRedis } from './redis-connection.ts';
import {
  type AccountRecord,
  type AuditQuery,
  checkEventKey,
  checkRecordKey,
  type DeadLetterQuery,
  type DeviceRecord,
  eventKeyRetentionMs,
  type IncidentQuery,
  type IncidentWrite,
  type IncidentWriteOutcome,
  type KeptRecord,
  type SessionRecord,
  type Store,
} from './store.ts';

export interface RedisStoreOptions {
  readonly url: string;
  /** rediss://: the CA file of the server's certificate (see redis-connection.ts). */
  readonly ca?: string | undefined;
  /** Every key starts with it: several hubs (or test runs) can share one Redis. */
  readonly keyPrefix: string;
  readonly deadLetterLimit: number;
  /** How long a device event's key is kept; eventKeyRetentionMs unless a test says otherwise. */
  readonly eventKeyRetentionMs?: number;
}

/** Ids are time-ordered strings: a sorted set of them at score 0 lists them in creation order (ZRANGEBYLEX). */
const PAGE = 200;
const PRUNE_EVERY = 256;

/**
 * Store.writeIncident as one Lua script, so its checks and its writes are one atomic step in Redis (a script runs
 * alone). Refusals return {reason, detail} (detail: the stored version, the condition's holder, or the incident the
 * event's change went into); a write returns {'ok'}.
 * KEYS: incidents, incidents:order, incidents:active, conditions, events:<key>, audit, audit:order, audit:target:<id>
 * ARGV: id, json, expected version ('' for none), active, open, condition key, claim, replaces, event key,
 *       event retention ms, audit id ('' for none), audit json, the open states joined by ','
 */
const writeIncidentScript = `
local id = ARGV[1]
if ARGV[9] ~= '' then
  local committed = redis.call('GET', KEYS[5])
  if committed then return {'event', committed} end
end
local function isOpen(json)
  if not json then return false end
  local state = cjson.decode(json).state
  for open in string.gmatch(ARGV[13], '[^,]+') do
    if open == state then return true end
  end
  return false
end
if ARGV[3] ~= '' then
  local stored = redis.call('HGET', KEYS[1], id)
  local version = 0
  if stored then
    local decoded = cjson.decode(stored).version
    if type(decoded) == 'number' then version = decoded end
  end
  if version ~= tonumber(ARGV[3]) then return {'version', tostring(version)} end
end
if ARGV[6] ~= '' then
  local holder = redis.call('HGET', KEYS[4], ARGV[6])
  if ARGV[5] == '1' then
    if ARGV[7] == '1' then
      if holder and holder ~= id and holder ~= ARGV[8] and isOpen(redis.call('HGET', KEYS[1], holder)) then
        return {'condition', holder}
      end
      redis.call('HSET', KEYS[4], ARGV[6], id)
    end
  elseif holder == id then
    redis.call('HDEL', KEYS[4], ARGV[6])
  end
end
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('ZADD', KEYS[2], 0, id)
if ARGV[4] == '1' then redis.call('SADD', KEYS[3], id) else redis.call('SREM', KEYS[3], id) end
if ARGV[9] ~= '' then redis.call('SET', KEYS[5], id, 'PX', ARGV[10]) end
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[11], ARGV[12])
  redis.call('ZADD', KEYS[7], 0, ARGV[11])
  redis.call('ZADD', KEYS[8], 0, ARGV[11])
end
return {'ok', ''}
`;

const openStates = incidentStates.filter(isOpen).join(',');

type ScriptedRedis = Redis & {
  writeIncident(...args: (string | number)[]): Promise<[string, string]>;
};

/**
 * The store for several hub instances, on Redis (ioredis). Each kind of record is a hash of JSON by id with a
 * sorted set of its ids for order; active incidents have a set of their own. An incident change and its audit
 * entry go in one MULTI, so a change is never half-written, as in the embedded store.
 *
 * Durability is Redis's: with AOF (`appendonly yes`, `appendfsync everysec`) up to a second of acknowledged
 * changes can be lost in a crash of the Redis host; run it with `appendfsync always` where that matters.
 */
export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #options: RedisStoreOptions;
  #redis: ScriptedRedis | undefined;
  #state: ComponentState = 'down';
  #deadLetterWrites = 0;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
  }

  get state(): ComponentState {
    return this.#state;
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const redis = createRedis(this.#options, {
      keyPrefix: this.#options.keyPrefix,
      lazyConnect: true,
      maxRetriesPerRequest: 3,
    });
    // ioredis sends the script by its digest and loads it again after a Redis restart; KEYS get the prefix.
    redis.defineCommand('writeIncident', { numberOfKeys: 8, lua: writeIncidentScript });
    redis.on('ready', () => {
      this.#state = 'up';
    });
    redis.on('end', () => {
      this.#state = 'down';
    });
    redis.on('error', () => {
      // ioredis reconnects by itself; the state says whether it is connected.
      if (redis.status !== 'ready') this.#state = 'down';
    });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      this.#state = 'down';
      throw new GridhubError(
        'GRIDHUB_STORE_FAILED',
        `cannot reach Redis at ${redactUrl(this.#options.url)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.#redis = redis as ScriptedRedis;
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    const redis = this.#redis;
    this.#redis = undefined;
    this.#state = 'down';
    await redis?.quit().catch(() => redis.disconnect());
  }

  /** Redis takes any key, but refuses what the embedded store would (checkEventKey), before queuing anything. */
  async saveIncident(incident: Incident, audit?: AuditEntry, eventKey?: string): Promise<void> {
    checkEventKey(eventKey);
    const multi = this.#client().multi();
    multi.hset('incidents', incident.id, JSON.stringify(incident));
    multi.zadd('incidents:order', 0, incident.id);
    if (terminalStates.has(incident.state)) multi.srem('incidents:active', incident.id);
    else multi.sadd('incidents:active', incident.id);
    if (audit !== undefined) this.#addAudit(multi, audit);
    if (eventKey !== undefined) multi.set(`events:${eventKey}`, incident.id, 'PX', this.#eventKeyRetentionMs);
    await exec(multi);
  }

  /** Instances sharing the store write repeats through writeIncident (versioned); this is the whole write. */
  saveRepeat(incident: Incident, eventKey?: string): Promise<void> {
    return this.saveIncident(incident, undefined, eventKey);
  }

  saveJoined(
    incident: Incident,
    _joined: RelatedEvent,
    audit?: AuditEntry,
    eventKey?: string,
  ): Promise<void> {
    return this.saveIncident(incident, audit, eventKey);
  }

  async writeIncident(write: IncidentWrite): Promise<IncidentWriteOutcome> {
    const { incident, audit, condition, eventKey, expectedVersion } = write;
    checkEventKey(eventKey);
    const [reason, detail] = await this.#client().writeIncident(
      'incidents',
      'incidents:order',
      'incidents:active',
      'conditions',
      `events:${eventKey ?? ''}`,
      'audit',
      'audit:order',
      `audit:target:${incident.id}`,
      incident.id,
      JSON.stringify(incident),
      expectedVersion === undefined ? '' : String(expectedVersion),
      terminalStates.has(incident.state) ? '0' : '1',
      isOpen(incident.state) ? '1' : '0',
      condition?.key ?? '',
      condition?.claim === true ? '1' : '0',
      condition?.replaces ?? '',
      eventKey ?? '',
      this.#eventKeyRetentionMs,
      audit?.id ?? '',
      audit === undefined ? '' : JSON.stringify(audit),
      openStates,
    );
    if (reason === 'ok') return { written: true };
    if (reason === 'condition') return { written: false, refused: 'condition', holder: detail };
    if (reason === 'event')
      return { written: false, refused: 'event', ...(detail ? { incidentId: detail } : {}) };
    return { written: false, refused: 'version' };
  }

  async openCondition(conditionKey: string): Promise<string | undefined> {
    return (await this.#client().hget('conditions', conditionKey)) ?? undefined;
  }

  async eventCommitted(eventKey: string): Promise<boolean> {
    return (await this.#client().exists(`events:${eventKey}`)) === 1;
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    const json = await this.#client().hget('incidents', id);
    return json === null ? undefined : (JSON.parse(json) as Incident);
  }

  async listIncidents(query: IncidentQuery): Promise<Incident[]> {
    const found: Incident[] = [];
    for await (const page of this.#pagesNewestFirst('incidents:order', 'incidents', query.before)) {
      for (const [id, json] of page) {
        if (query.after !== undefined && id < query.after) return found;
        const incident = JSON.parse(json) as Incident;
        if (!incidentInScope(incident, query.scopeNodeIds)) continue;
        if (query.filter !== undefined && !query.filter(incident)) continue;
        found.push(incident);
        if (found.length >= query.limit) return found;
      }
    }
    return found;
  }

  async listActiveIncidents(): Promise<Incident[]> {
    const ids = await this.#client().smembers('incidents:active');
    return (await this.#values('incidents', ids.sort())) as Incident[];
  }

  async saveDeadLetter(deadLetter: DeadLetter): Promise<void> {
    const multi = this.#client().multi();
    multi.hset('dead-letters', deadLetter.id, JSON.stringify(deadLetter));
    multi.zadd('dead-letters:order', 0, deadLetter.id);
    await exec(multi);
    if (++this.#deadLetterWrites % PRUNE_EVERY === 0) await this.#pruneDeadLetters();
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const found: DeadLetter[] = [];
    for await (const page of this.#pagesNewestFirst('dead-letters:order', 'dead-letters', query.before)) {
      for (const [, json] of page) {
        const deadLetter = JSON.parse(json) as DeadLetter;
        if (query.filter !== undefined && !query.filter(deadLetter)) continue;
        found.push(deadLetter);
        if (found.length >= query.limit) return found;
      }
    }
    return found;
  }

  async saveDeviceRecord(record: DeviceRecord): Promise<void> {
    await this.#client().hset('devices', record.id, JSON.stringify(record));
  }

  async listDeviceRecords(): Promise<DeviceRecord[]> {
    const all = await this.#client().hgetall('devices');
    return Object.keys(all)
      .sort()
      .map((id) => JSON.parse(all[id] as string) as DeviceRecord);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const multi = this.#client().multi();
    this.#addAudit(multi, entry);
    await exec(multi);
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const order = query.targetId === undefined ? 'audit:order' : `audit:target:${query.targetId}`;
    const found: AuditEntry[] = [];
    for await (const page of this.#pagesNewestFirst(order, 'audit', query.before)) {
      for (const [, json] of page) {
        found.push(JSON.parse(json) as AuditEntry);
        if (found.length >= query.limit) return found;
      }
    }
    return found;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    return (
      (await this.#client().set(`claims:${key}`, '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK'
    );
  }

  async saveRoster(roster: RosterDescription): Promise<void> {
    await this.#client().hset('rosters', roster.grid, JSON.stringify(roster));
  }

  async listRosters(): Promise<RosterDescription[]> {
    const all = await this.#client().hgetall('rosters');
    return Object.keys(all)
      .sort()
      .map((grid) => JSON.parse(all[grid] as string) as RosterDescription);
  }

  async saveSession(session: SessionRecord): Promise<void> {
    const endsAt = Date.parse(session.expiresAt);
    const multi = this.#client().multi();
    // Redis drops it at its end; the user's index lives as long as their last session.
    multi.set(`sessions:${session.id}`, JSON.stringify(session), 'PXAT', endsAt);
    multi.zadd(`sessions:user:${session.userId}`, endsAt, session.id);
    multi.zremrangebyscore(`sessions:user:${session.userId}`, '-inf', Date.now() - 1);
    multi.pexpireat(`sessions:user:${session.userId}`, endsAt, 'GT');
    multi.pexpireat(`sessions:user:${session.userId}`, endsAt, 'NX');
    await exec(multi);
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const json = await this.#client().get(`sessions:${id}`);
    return json === null ? undefined : (JSON.parse(json) as SessionRecord);
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const ids = await this.#client().zrangebyscore(`sessions:user:${userId}`, Date.now(), '+inf');
    if (ids.length === 0) return [];
    const found = await this.#client().mget(...ids.map((id) => `sessions:${id}`));
    return found.flatMap((json) => (json === null ? [] : [JSON.parse(json) as SessionRecord]));
  }

  // A collection is a hash of key → {value, expiresAt} with a sorted set of its keys (all scored 0, so ranged by
  // key): a prefix is listed without reading the whole collection.
  async putRecord(collection: string, key: string, value: unknown, expiresAt?: number): Promise<void> {
    checkRecordKey(collection, key);
    const multi = this.#client().multi();
    multi.hset(`records:${collection}`, key, JSON.stringify({ value, expiresAt: expiresAt ?? null }));
    multi.zadd(`records:${collection}:keys`, 0, key);
    await exec(multi);
  }

  async getRecord<T>(collection: string, key: string): Promise<T | undefined> {
    checkRecordKey(collection, key);
    const json = await this.#client().hget(`records:${collection}`, key);
    if (json === null) return undefined;
    const stored = JSON.parse(json) as { value: T; expiresAt: number | null };
    return stored.expiresAt !== null && stored.expiresAt <= Date.now() ? undefined : stored.value;
  }

  async listRecords<T>(collection: string, prefix = ''): Promise<KeptRecord<T>[]> {
    checkRecordKey(collection, 'x');
    const keys = await this.#client().zrangebylex(
      `records:${collection}:keys`,
      prefix === '' ? '-' : `[${prefix}`,
      prefix === '' ? '+' : `(${prefix}\uffff`,
    );
    if (keys.length === 0) return [];
    const found = await this.#client().hmget(`records:${collection}`, ...keys);
    const now = Date.now();
    const kept: KeptRecord<T>[] = [];
    const ended: string[] = [];
    keys.forEach((key, index) => {
      const json = found[index];
      if (json === null || json === undefined) return;
      const stored = JSON.parse(json) as { value: T; expiresAt: number | null };
      if (stored.expiresAt !== null && stored.expiresAt <= now) ended.push(key);
      else kept.push({ key, value: stored.value, expiresAt: stored.expiresAt });
    });
    // Records past their end go when a listing meets them.
    if (ended.length > 0) await this.#removeRecords(collection, ended);
    return kept;
  }

  async removeRecord(collection: string, key: string): Promise<void> {
    checkRecordKey(collection, key);
    await this.#removeRecords(collection, [key]);
  }

  async #removeRecords(collection: string, keys: readonly string[]): Promise<void> {
    const multi = this.#client().multi();
    multi.hdel(`records:${collection}`, ...keys);
    multi.zrem(`records:${collection}:keys`, ...keys);
    await exec(multi);
  }

  async saveAccount(account: AccountRecord): Promise<void> {
    await this.#client().hset('accounts', account.id, JSON.stringify(account));
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    const json = await this.#client().hget('accounts', id);
    return json === null ? undefined : (JSON.parse(json) as AccountRecord);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    const all = await this.#client().hgetall('accounts');
    return Object.keys(all)
      .sort()
      .map((id) => JSON.parse(all[id] as string) as AccountRecord);
  }

  #addAudit(multi: ReturnType<Redis['multi']>, entry: AuditEntry): void {
    multi.hset('audit', entry.id, JSON.stringify(entry));
    multi.zadd('audit:order', 0, entry.id);
    multi.zadd(`audit:target:${entry.target.id}`, 0, entry.id);
  }

  /** Pages of [id, json] from the newest id down, strictly before `before` when given. */
  async *#pagesNewestFirst(order: string, hash: string, before?: string): AsyncGenerator<[string, string][]> {
    const redis = this.#client();
    let max = before === undefined ? '+' : `(${before}`;
    for (;;) {
      const ids = await redis.zrevrangebylex(order, max, '-', 'LIMIT', 0, PAGE);
      if (ids.length === 0) return;
      const values = await redis.hmget(hash, ...ids);
      yield ids.flatMap((id, index) =>
        values[index] == null ? [] : [[id, values[index] as string] as [string, string]],
      );
      if (ids.length < PAGE) return;
      max = `(${ids.at(-1)}`;
    }
  }

  async #values(hash: string, ids: readonly string[]): Promise<unknown[]> {
    if (ids.length === 0) return [];
    const values = await this.#client().hmget(hash, ...ids);
    return values.flatMap((json) => (json === null ? [] : [JSON.parse(json)]));
  }

  async #pruneDeadLetters(): Promise<void> {
    const redis = this.#client();
    const excess = (await redis.zcard('dead-letters:order')) - this.#options.deadLetterLimit;
    if (excess <= 0) return;
    const oldest = await redis.zrangebylex('dead-letters:order', '-', '+', 'LIMIT', 0, excess);
    if (oldest.length === 0) return;
    await exec(
      redis
        .multi()
        .zrem('dead-letters:order', ...oldest)
        .hdel('dead-letters', ...oldest),
    );
  }

  get #eventKeyRetentionMs(): number {
    return this.#options.eventKeyRetentionMs ?? eventKeyRetentionMs;
  }

  #client(): ScriptedRedis {
    if (this.#redis === undefined) throw new GridhubError('GRIDHUB_STORE_FAILED', 'the store is not started');
    return this.#redis;
  }
}

/** A MULTI fails as a whole or not at all: surface the first error of its replies. */
async function exec(multi: ReturnType<Redis['multi']>): Promise<void> {
  const replies = await multi.exec();
  const failed = replies?.find(([error]) => error !== null);
  if (replies === null) throw new GridhubError('GRIDHUB_STORE_FAILED', 'a Redis transaction was aborted');
  if (failed !== undefined) throw failed[0] as Error;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}
