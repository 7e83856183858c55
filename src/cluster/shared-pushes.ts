import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import type { AdapterConstructor, PushDistribution } from '../realtime/push-distribution.ts';
import { createRedis } from '../store/redis-connection.ts';

export interface RedisPushesOptions {
  readonly url: string;
  /** rediss://: the CA file of the server's certificate. */
  readonly ca?: string | undefined;
  /** The store's key prefix: the stream and the sessions kept for recovery are under it. */
  readonly keyPrefix: string;
}

/**
 * Pushes among siblings: through a Redis stream (Socket.IO's streams adapter, which also keeps them for clients
 * catching up after a reconnect to any instance, so the in-memory adapter is not used), on a connection of their own.
 */
export class RedisPushDistribution implements PushDistribution {
  readonly #options: RedisPushesOptions;
  #redis: Redis | undefined;

  constructor(options: RedisPushesOptions) {
    this.#options = options;
  }

  open(): AdapterConstructor {
    const { url, ca, keyPrefix } = this.#options;
    const redis = createRedis({ url, ca });
    this.#redis = redis;
    return createAdapter(redis, {
      streamName: `${keyPrefix}socket.io`,
      sessionKeyPrefix: `${keyPrefix}sio:session:`,
    });
  }

  /**
   * The adapter issues each push's XADD on this connection as the push is made, and Redis answers commands of one
   * connection in order, so a PING's answer comes after theirs.
   */
  async delivered(): Promise<void> {
    await this.#redis?.ping();
  }

  async close(): Promise<void> {
    const redis = this.#redis;
    this.#redis = undefined;
    await redis?.quit().catch(() => redis.disconnect());
  }
}
