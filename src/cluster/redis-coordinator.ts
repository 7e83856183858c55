import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis, Result } from 'ioredis';
import type { ComponentState } from '../core/component.ts';
import { GridhubError } from '../core/errors.ts';
import { createRedis } from '../store/redis-connection.ts';

export interface RedisCoordinatorOptions {
  readonly url: string;
  /** rediss://: the CA file of the server's certificate. */
  readonly ca?: string | undefined;
  /** The store's key prefix: siblings of one deployment meet under it, other deployments never do. */
  readonly keyPrefix: string;
  /** This instance's name among its siblings. */
  readonly instanceId: string;
}

/**
 * This instance's default name, readable in logs and lease values: host, process and a random part, since a
 * restarted process (or a second hub in one process, as in tests) is a new member whose old leases must lapse.
 */
export function defaultInstanceId(): string {
  const host = hostname()
    .replace(/[^\w.-]/g, '-')
    .slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Extends a lease only when this instance still holds it: a lease that lapsed and was taken stays taken. */
const renewScript = `
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0`;

/** Gives a lease back only when this instance holds it. */
const releaseScript = `
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

/**
 * Keeps, for each field, the greatest value written by any instance: several instances report when they last heard
 * a device, in any order, and the newest must win.
 */
const keepNewestScript = `
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('hget', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > current then redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0`;

/**
 * How hub instances sharing one Redis coordinate what must happen on exactly one of them at a time: who is alive
 * (a sorted set of members by expiry), leases (a key per leased thing, holding its holder's id, with a TTL that the
 * holder renews), and small shared tables (hashes). Built on plain Redis commands and three short Lua scripts that
 * compare before they change, the usual single-instance Redis lock pattern; no home-made consensus.
 */
export class RedisCoordinator {
  readonly #options: RedisCoordinatorOptions;
  #redis: Redis | undefined;
  #state: ComponentState = 'down';

  constructor(options: RedisCoordinatorOptions) {
    this.#options = options;
  }

  get instanceId(): string {
    return this.#options.instanceId;
  }

  get state(): ComponentState {
    return this.#state;
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const redis = createRedis(this.#options, {
      keyPrefix: `${this.#options.keyPrefix}cluster:`,
      lazyConnect: true,
      maxRetriesPerRequest: 2,
    });
    redis.on('ready', () => {
      this.#state = 'up';
    });
    redis.on('error', () => {
      // ioredis reconnects by itself; leases held meanwhile lapse and are taken again on the next renewal.
      if (redis.status !== 'ready') this.#state = 'down';
    });
    redis.defineCommand('renewLease', { numberOfKeys: 1, lua: renewScript });
    redis.defineCommand('releaseLease', { numberOfKeys: 1, lua: releaseScript });
    redis.defineCommand('keepNewest', { numberOfKeys: 1, lua: keepNewestScript });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      this.#state = 'down';
      throw new GridhubError('GRIDHUB_STORE_FAILED', `cluster coordination: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#redis = redis;
    this.#state = 'up';
  }

  async stop(): Promise<void> {
    const redis = this.#redis;
    this.#redis = undefined;
    this.#state = 'down';
    if (redis === undefined) return;
    await redis.zrem('members', this.instanceId).catch(() => undefined);
    redis.disconnect();
  }

  /** Says this instance is alive for `ttlMs` more, and answers how many instances are (this one included). */
  async heartbeat(ttlMs: number, now: number = Date.now()): Promise<number> {
    const redis = this.#client();
    const [, , [, count] = []] =
      (await redis
        .multi()
        .zadd('members', now + ttlMs, this.instanceId)
        .zremrangebyscore('members', '-inf', now)
        .zcard('members')
        .exec()) ?? [];
    return Math.max(1, Number(count ?? 1));
  }

  /** Takes the lease when nobody holds it; true when this instance holds it now. */
  async acquire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.#client().set(`lease:${key}`, this.instanceId, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Renews the leases this instance still holds; answers the ones it does not hold any more. */
  async renew(keys: readonly string[], ttlMs: number): Promise<string[]> {
    if (keys.length === 0) return [];
    const pipeline = this.#client().pipeline();
    for (const key of keys) pipeline.renewLease(`lease:${key}`, this.instanceId, ttlMs);
    const results = (await pipeline.exec()) ?? [];
    return keys.filter((_, index) => {
      const [error, renewed] = results[index] ?? [null, 0];
      return error !== null || Number(renewed) !== 1;
    });
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const pipeline = this.#client().pipeline();
    for (const key of keys) pipeline.releaseLease(`lease:${key}`, this.instanceId);
    await pipeline.exec();
  }

  /** Who holds each of these leases (undefined: nobody). */
  async holders(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.#client().mget(keys.map((key) => `lease:${key}`));
    return values.map((value) => value ?? undefined);
  }

  /** Writes numbers into a shared table, each field keeping the greatest value any instance wrote. */
  async keepNewest(table: string, values: ReadonlyMap<string, number>): Promise<void> {
    if (values.size === 0) return;
    const flat: string[] = [];
    for (const [field, value] of values) flat.push(field, String(value));
    await this.#client().keepNewest(`table:${table}`, ...flat);
  }

  async readTable(table: string, fields?: readonly string[]): Promise<Map<string, string>> {
    const redis = this.#client();
    const result = new Map<string, string>();
    if (fields === undefined) {
      for (const [field, value] of Object.entries(await redis.hgetall(`table:${table}`)))
        result.set(field, value);
      return result;
    }
    if (fields.length === 0) return result;
    const values = await redis.hmget(`table:${table}`, ...fields);
    fields.forEach((field, index) => {
      const value = values[index];
      if (value !== null && value !== undefined) result.set(field, value);
    });
    return result;
  }

  /** Sets these fields of a shared table, in one command. */
  async writeTable(table: string, values: ReadonlyMap<string, string>): Promise<void> {
    if (values.size === 0) return;
    await this.#client().hset(`table:${table}`, values);
  }

  /** Sets the field only when it is absent: true for the one caller that set it. */
  async claimField(table: string, field: string, value: string): Promise<boolean> {
    return (await this.#client().hsetnx(`table:${table}`, field, value)) === 1;
  }

  /** Removes the field: true for the one caller that removed it. */
  async dropField(table: string, field: string): Promise<boolean> {
    return (await this.#client().hdel(`table:${table}`, field)) === 1;
  }

  #client(): Redis {
    if (this.#redis === undefined) throw new Error('cluster coordination is not started');
    return this.#redis;
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    renewLease(key: string, holder: string, ttlMs: number): Result<number, Context>;
    releaseLease(key: string, holder: string): Result<number, Context>;
    keepNewest(key: string, ...fieldsAndValues: string[]): Result<number, Context>;
  }
}
