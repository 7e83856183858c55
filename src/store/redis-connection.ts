import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

/** Where a Redis is and how to trust it: a redis:// or rediss:// URL, and for rediss:// a CA file of its own. */
export interface RedisConnectionSettings {
  readonly url: string;
  /** PEM file of the CA that signs the Redis server's certificate, when not one Node trusts already. */
  readonly ca?: string | undefined;
}

/**
 * Every Redis connection of the hub is made here (the store, the event log, the coordinator, the clustered broker,
 * Socket.IO's adapter), so TLS is set the same way for all: rediss:// turns it on (ioredis), and `ca` adds the CA
 * the server's certificate is checked against. The CA file is read when the connection is made.
 */
export function createRedis(settings: RedisConnectionSettings, options: RedisOptions = {}): Redis {
  return new Redis(settings.url, { ...options, ...redisTlsOptions(settings) });
}

export function redisTlsOptions(settings: RedisConnectionSettings): Pick<RedisOptions, 'tls'> {
  if (settings.ca === undefined || !settings.url.startsWith('rediss:')) return {};
  return { tls: { ca: readFileSync(settings.ca, 'utf8') } };
}
