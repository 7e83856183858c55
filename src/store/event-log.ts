import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { ComponentState } from '../core/component.ts';
import type { DeviceEvent } from '../core/device-event.ts';
import { GridhubError } from '../core/errors.ts';
import { createRedis } from './redis-connection.ts';

/** One device event as the log keeps it: what the adapter decoded (no raw identifiers), and when it was logged. */
export interface LoggedEvent {
  /** Orders the device's events; pass it as `before` for the next page. */
  readonly id: string;
  readonly deviceId: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly loggedAt: string;
  readonly attributes: DeviceEvent['attributes'];
}

export interface EventLogQuery {
  readonly limit: number;
  /** Only events logged before the one with this id. */
  readonly before?: string;
}

/**
 * Every device event the hub accepted, newest first per device: what integrators read to see what a device really
 * sends, and officers to see what led up to an incident. Appends are buffered and written in one batch every
 * `flushMs`: the log is a record, not part of the acknowledgement (incidents are), so up to `flushMs` of it can be
 * lost in a crash. Each device keeps its newest `perDevice` events (the LMDB log trims in steps: a few more
 * between).
 */
export interface EventLog {
  readonly kind: string;
  readonly state: ComponentState;
  start(): Promise<void>;
  /** Writes what is buffered and stops. */
  stop(): Promise<void>;
  /** Buffers the event; on the ingest path, so it costs a push. */
  append(event: DeviceEvent): void;
  /** Writes what is buffered now. */
  flush(): Promise<void>;
  list(deviceId: string, query: EventLogQuery): Promise<LoggedEvent[]>;
}

export interface EventLogOptions {
  readonly perDevice: number;
  readonly flushMs: number;
}

/** The buffering and timer both logs share: they differ only in how a batch is written and read. */
abstract class BufferedEventLog implements EventLog {
  abstract readonly kind: string;
  protected readonly options: EventLogOptions;
  #pending: { event: DeviceEvent; loggedAt: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  protected status: ComponentState = 'down';

  constructor(options: EventLogOptions) {
    this.options = options;
  }

  get state(): ComponentState {
    return this.status;
  }

  async start(): Promise<void> {
    await this.open();
    this.#timer = setInterval(() => void this.flush().catch(() => undefined), this.options.flushMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush().catch(() => undefined);
    await this.close();
  }

  append(event: DeviceEvent): void {
    this.#pending.push({ event, loggedAt: Date.now() });
  }

  flush(): Promise<void> {
    // One batch at a time, in order.
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.length === 0 || this.status !== 'up') return;
      const batch = this.#pending;
      this.#pending = [];
      await this.write(batch);
    });
    return this.#flushing;
  }

  abstract list(deviceId: string, query: EventLogQuery): Promise<LoggedEvent[]>;
  protected abstract open(): Promise<void>;
  protected abstract close(): Promise<void>;
  protected abstract write(batch: readonly { event: DeviceEvent; loggedAt: number }[]): Promise<void>;
}

function loggedEvent(id: string, event: DeviceEvent, loggedAt: number): LoggedEvent {
  return {
    id,
    deviceId: event.deviceId,
    type: event.type,
    occurredAt: new Date(event.occurredAt).toISOString(),
    loggedAt: new Date(loggedAt).toISOString(),
    attributes: event.attributes,
  };
}

/**
 * The event log in Redis Streams: a stream per device (`events:<device>`), trimmed to `perDevice` entries
 * (`XADD MAXLEN`: exact, which costs one deletion per append once full), its entry ids (milliseconds-sequence, given by Redis) ordering the device's events across every
 * instance that appends to it.
 */
export class RedisStreamEventLog extends BufferedEventLog {
  readonly kind = 'redis';
  readonly #url: string;
  readonly #ca: string | undefined;
  readonly #keyPrefix: string;
  #redis: Redis | undefined;

  constructor(options: EventLogOptions & { url: string; ca?: string | undefined; keyPrefix: string }) {
    super(options);
    this.#url = options.url;
    this.#ca = options.ca;
    this.#keyPrefix = options.keyPrefix;
  }

  protected async open(): Promise<void> {
    const redis = createRedis(
      { url: this.#url, ca: this.#ca },
      {
        keyPrefix: this.#keyPrefix,
        lazyConnect: true,
        maxRetriesPerRequest: 2,
      },
    );
    redis.on('ready', () => {
      this.status = 'up';
    });
    redis.on('error', () => {
      if (redis.status !== 'ready') this.status = 'down';
    });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new GridhubError('GRIDHUB_STORE_FAILED', `event log: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#redis = redis;
    this.status = 'up';
  }

  protected async close(): Promise<void> {
    this.#redis?.disconnect();
    this.#redis = undefined;
    this.status = 'down';
  }

  protected async write(batch: readonly { event: DeviceEvent; loggedAt: number }[]): Promise<void> {
    const redis = this.#redis;
    if (redis === undefined) return;
    const pipeline = redis.pipeline();
    for (const { event, loggedAt } of batch) {
      pipeline.xadd(
        `events:${event.deviceId}`,
        'MAXLEN',
        String(this.options.perDevice),
        '*',
        'e',
        JSON.stringify({
          type: event.type,
          occurredAt: event.occurredAt,
          loggedAt,
          attributes: event.attributes,
        }),
      );
    }
    await pipeline.exec();
  }

  async list(deviceId: string, query: EventLogQuery): Promise<LoggedEvent[]> {
    const redis = this.#redis;
    if (redis === undefined) return [];
    const entries = await redis.xrevrange(
      `events:${deviceId}`,
      query.before === undefined ? '+' : `(${query.before}`,
      '-',
      'COUNT',
      query.limit,
    );
    return entries.flatMap(([id, fields]) => {
      try {
        const stored = JSON.parse(fields[1] ?? '') as Omit<DeviceEvent, 'deviceId'> & { loggedAt: number };
        return [loggedEvent(id, { ...stored, deviceId }, stored.loggedAt)];
      } catch {
        return [];
      }
    });
  }
}

interface StoredEvent {
  readonly type: string;
  readonly occurredAt: number;
  readonly loggedAt: number;
  readonly attributes: DeviceEvent['attributes'];
}

/** Above every id in key order: where a newest-first scan of one device starts. */
const newest = '\uffff';

/** The event log on LMDB, in its own file beside the store's: key `[device, time-ordered id]`. */
export class LmdbEventLog extends BufferedEventLog {
  readonly kind = 'embedded';
  readonly #dataDir: string;
  #root: RootDatabase | undefined;
  #events: Database<StoredEvent, [string, string]> | undefined;
  /** Per device: events written since its log last came due for a trim. */
  readonly #sinceTrim = new Map<string, number>();
  /**
   * Devices whose log is due a trim, in the order they came due. Each batch trims from the front until it has removed
   * about as many events as it wrote: devices that publish in step all come due in the same batch, and trimming them
   * all there held the hub's thread for tens of ms every few seconds (docs/benchmarks-log.md).
   */
  readonly #dueForTrim = new Set<string>();
  #sequence = 0;

  constructor(options: EventLogOptions & { dataDir: string }) {
    super(options);
    this.#dataDir = options.dataDir;
  }

  protected async open(): Promise<void> {
    try {
      mkdirSync(this.#dataDir, { recursive: true });
      this.#root = open({ path: path.join(this.#dataDir, 'events.lmdb'), maxDbs: 2 });
      this.#events = this.#root.openDB({ name: 'events', encoding: 'msgpack' });
    } catch (error) {
      throw new GridhubError('GRIDHUB_STORE_FAILED', `event log: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.status = 'up';
  }

  protected async close(): Promise<void> {
    this.status = 'down';
    await this.#root?.close();
    this.#root = undefined;
    this.#events = undefined;
  }

  protected async write(batch: readonly { event: DeviceEvent; loggedAt: number }[]): Promise<void> {
    const events = this.#events;
    if (events === undefined) return;
    // Plain puts, which lmdb-js commits in one transaction (one event turn's writes): this thread only encodes them,
    // and lmdb-js's write thread does the B-tree work that a transaction callback would do here, holding the loop.
    let written: Promise<boolean> | undefined;
    for (const { event, loggedAt } of batch) {
      // Milliseconds then a counter: ordered like a Redis stream id, unique within this process.
      const id = `${loggedAt.toString().padStart(14, '0')}-${(this.#sequence++ % 1_000_000).toString().padStart(6, '0')}`;
      written = events.put([event.deviceId, id], {
        type: event.type,
        occurredAt: event.occurredAt,
        loggedAt,
        attributes: event.attributes,
      });
      const count = (this.#sinceTrim.get(event.deviceId) ?? 0) + 1;
      // Trim in steps of a tenth: counting a device's keys is not free, so not on every write.
      if (count >= Math.max(1, Math.ceil(this.options.perDevice / 10))) {
        this.#sinceTrim.set(event.deviceId, 0);
        this.#dueForTrim.add(event.deviceId);
      } else {
        this.#sinceTrim.set(event.deviceId, count);
      }
    }
    await written;
    // A device counts at least one against the budget, so a batch never counts every device's keys either.
    let budget = batch.length;
    for (const deviceId of this.#dueForTrim) {
      if (budget <= 0) break;
      this.#dueForTrim.delete(deviceId);
      budget -= Math.max(1, await this.#trim(deviceId));
    }
  }

  /** Removes the device's oldest events past `perDevice`; resolves with how many, once removed. */
  async #trim(deviceId: string): Promise<number> {
    const events = this.#events;
    if (events === undefined) return 0;
    // Counted in LMDB's native cursor, and only the oldest surplus keys decoded: the rest stay untouched.
    // (lmdb-js marks the options object of a count: each call gets its own.)
    const range = () => ({ start: [deviceId, ''], end: [deviceId, newest] });
    const excess = events.getKeysCount(range()) - this.options.perDevice;
    if (excess <= 0) return 0;
    let removed: Promise<boolean> | undefined;
    for (const key of events.getKeys({ ...range(), limit: excess })) removed = events.remove(key);
    await removed;
    return excess;
  }

  async list(deviceId: string, query: EventLogQuery): Promise<LoggedEvent[]> {
    const events = this.#events;
    if (events === undefined) return [];
    const result: LoggedEvent[] = [];
    for (const { key, value } of events.getRange({
      start: [deviceId, query.before ?? newest],
      end: [deviceId, ''],
      reverse: true,
      limit: query.limit + 1,
    })) {
      const id = key[1];
      if (id === query.before) continue;
      result.push(loggedEvent(id, { ...value, deviceId }, value.loggedAt));
      if (result.length === query.limit) break;
    }
    return result;
  }
}
