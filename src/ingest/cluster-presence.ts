import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';
import { createRedis } from '../store/redis-connection.ts';

export interface ClusterPresenceOptions {
  readonly redisUrl: string;
  /** rediss://: the CA file of the server's certificate. */
  readonly redisCa?: string | undefined;
  /** The store's key prefix: this deployment's keys. */
  readonly keyPrefix: string;
  /** This broker's id among its siblings (aedes' broker id). */
  readonly brokerId: string;
  /** How often this broker says it is alive; it counts as dead after three missed beats. */
  readonly heartbeatMs: number;
  readonly logger: Logger;
}

/** Deletes the device's entry only if it still names this broker: the device may have moved on. */
const releaseScript = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/**
 * Which clustered broker holds each device's connection, in Redis, so that any instance can tell whether a
 * device is reachable before it sends a command (the command itself reaches the device through mqemitter-redis).
 *
 * A hash maps device → broker id; each broker keeps a key alive (three heartbeats long). An entry whose broker's
 * key has expired is a device of a dead instance: not reachable until it connects again, anywhere.
 */
export class ClusterPresence {
  readonly #options: ClusterPresenceOptions;
  readonly #log: Logger;
  #redis: Redis | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ClusterPresenceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'mqtt-presence' });
  }

  get #clientsKey(): string {
    return `${this.#options.keyPrefix}mqtt:clients`;
  }

  #aliveKey(brokerId: string): string {
    return `${this.#options.keyPrefix}mqtt:broker:${brokerId}`;
  }

  async start(): Promise<void> {
    const redis = createRedis(
      { url: this.#options.redisUrl, ca: this.#options.redisCa },
      { lazyConnect: true },
    );
    redis.on('error', (error: Error) => this.#log.debug({ error: error.message }, 'redis error'));
    this.#redis = redis;
    await redis.connect();
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beat().catch((error: unknown) =>
        this.#log.warn({ error: (error as Error).message }, 'presence heartbeat failed'),
      );
    }, this.#options.heartbeatMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const redis = this.#redis;
    this.#redis = undefined;
    if (redis === undefined) return;
    // A clean stop: this broker's devices are gone at once, not after the key expires.
    await redis.del(this.#aliveKey(this.#options.brokerId)).catch(() => undefined);
    redis.disconnect();
  }

  connected(deviceId: string): void {
    this.#redis
      ?.hset(this.#clientsKey, deviceId, this.#options.brokerId)
      .catch((error: unknown) => this.#warn(deviceId, error));
  }

  disconnected(deviceId: string): void {
    this.#redis
      ?.eval(releaseScript, 1, this.#clientsKey, deviceId, this.#options.brokerId)
      .catch((error: unknown) => this.#warn(deviceId, error));
  }

  /** Whether a live broker of the cluster holds the device's connection. */
  async isConnected(deviceId: string): Promise<boolean> {
    const redis = this.#redis;
    if (redis === undefined) return false;
    const brokerId = await redis.hget(this.#clientsKey, deviceId);
    if (brokerId === null) return false;
    return (await redis.exists(this.#aliveKey(brokerId))) === 1;
  }

  async #beat(): Promise<void> {
    await this.#redis?.set(this.#aliveKey(this.#options.brokerId), '1', 'PX', 3 * this.#options.heartbeatMs);
  }

  #warn(deviceId: string, error: unknown): void {
    this.#log.warn({ deviceId, error: (error as Error).message }, 'presence update failed');
  }
}
