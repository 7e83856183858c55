/**
 * aedes-persistence-redis 11 (CommonJS, no types of its own): the factory the clustered broker uses.
 * Options are ioredis' own plus these; `conn` hands it a connection the caller made.
 */
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';

  interface AedesPersistenceRedisOptions {
    readonly conn?: Redis;
    /** Offline messages delivered on CONNECT at most; default 1000. */
    readonly maxSessionDelivery?: number;
  }

  /** An aedes persistence; aedes' own types take it as `any`. */
  function aedesPersistenceRedis(options?: AedesPersistenceRedisOptions): unknown;
  export default aedesPersistenceRedis;
}
