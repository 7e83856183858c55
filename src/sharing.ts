import { CameraLeases, type CameraPartition } from './cameras/sessions/camera-leases.ts';
import { defaultInstanceId, RedisCoordinator } from './cluster/redis-coordinator.ts';
import { RedisLivenessLedger } from './cluster/shared-liveness.ts';
import { RedisPushDistribution } from './cluster/shared-pushes.ts';
import type { Deployment, RuntimeSettings } from './config/load.ts';
import { type Component, component } from './core/component.ts';
import type { DeviceRegistry } from './fleet/device-registry.ts';
import { type LivenessLedger, LoneLivenessLedger } from './fleet/liveness-ledger.ts';
import type { IncidentWriterFactory } from './incidents/incident-writer.ts';
import { loneIncidentWriter } from './incidents/lone-incident-writer.ts';
import { sharedIncidentWriter } from './incidents/shared-incident-writer.ts';
import type { Logger } from './observability/logger.ts';
import type { MetricsRegistry } from './observability/metrics-registry.ts';
import { inMemoryPushes, type PushDistribution } from './realtime/push-distribution.ts';
import { type EventLog, LmdbEventLog, RedisStreamEventLog } from './store/event-log.ts';
import { LmdbStore } from './store/lmdb-store.ts';
import { RedisStore } from './store/redis-store.ts';
import type { Store } from './store/store.ts';

/** A Redis the instances share: the store's, and their channel to each other. */
export interface SharedRedis {
  readonly redisUrl: string;
  readonly redisCa?: string | undefined;
  readonly keyPrefix: string;
}

/**
 * Everything that differs between a hub alone and hubs sharing one Redis, decided once ({@link sharingOf}): the
 * rest of the hub is assembled the same way over it, and no service asks whether it has siblings.
 */
export interface Sharing {
  readonly store: Store;
  /** Every accepted device event, newest first per device. */
  readonly eventLog: EventLog;
  /** How each change of an incident is written: in place, or as a compare-and-set over a fresh read. */
  readonly incidentWriter: IncidentWriterFactory;
  /** Siblings change accounts too: how often they are read again (their sessions end in the store at once). */
  readonly accountsRefreshMs?: number;
  /** Who heard a device last, and who raises its silence: this instance alone, or exactly one of the siblings. */
  readonly livenessLedger: LivenessLedger;
  /** How pushes reach clients: this instance's alone, or any sibling's through a Redis stream. */
  readonly pushes: PushDistribution;
  /** The Redis through which the clustered broker shares its state with the siblings' brokers. */
  readonly redis?: SharedRedis;
  /** Components only siblings have (their coordinator), started right after the store. */
  readonly components: readonly Component[];
  /**
   * Which dialled devices (ONVIF cameras, Dahua and Hikvision devices) this instance follows: all alone; those
   * whose lease it holds among siblings. The leases drive the connectors built with this partition: the caller
   * attaches them (`leases.attach({ followers, views })`).
   */
  cameraPartition(registry: DeviceRegistry): { partition?: CameraPartition; leases?: CameraLeases };
  /**
   * When a device frame is acknowledged: once committed alone; among siblings, once its pushes are in Redis too
   * (PushDistribution.delivered), so a client of any sibling hears of it before the device forgets it.
   */
  acknowledgeAfter(handled: Promise<void>): Promise<void>;
}

export interface SharingParts {
  readonly deployment: Deployment;
  readonly runtime: RuntimeSettings;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

/** The one place the deployment is chosen: the Redis store means siblings may share it. */
export function sharingOf(parts: SharingParts): Sharing {
  const store = parts.deployment.store;
  return store.kind === 'redis'
    ? sharedInstances(parts, { redisUrl: store.url, redisCa: store.ca, keyPrefix: store.keyPrefix })
    : loneInstance(parts, { dataDir: parts.runtime.dataDir, commitWindowMs: store.commitWindowMs });
}

const eventLogOptions = (deployment: Deployment) => ({
  perDevice: deployment.settings.eventLogPerDevice,
  flushMs: 100,
});

/** One hub: its store and event log in LMDB files, everything else in its memory. */
export function loneInstance(
  { deployment }: SharingParts,
  files: { readonly dataDir: string; readonly commitWindowMs: number },
): Sharing {
  return {
    store: new LmdbStore({
      dataDir: files.dataDir,
      deadLetterLimit: deployment.settings.deadLetterLimit,
      commitWindowMs: files.commitWindowMs,
    }),
    eventLog: new LmdbEventLog({ ...eventLogOptions(deployment), dataDir: files.dataDir }),
    incidentWriter: loneIncidentWriter,
    livenessLedger: new LoneLivenessLedger(),
    pushes: inMemoryPushes,
    components: [],
    cameraPartition: () => ({}),
    acknowledgeAfter: (handled) => handled,
  };
}

/** Hubs sharing one Redis: the store, the event log, pushes, leases and liveness go through it. */
export function sharedInstances(parts: SharingParts, redis: SharedRedis): Sharing {
  const { deployment, metrics, logger } = parts;
  const redisOptions = { url: redis.redisUrl, ca: redis.redisCa, keyPrefix: redis.keyPrefix };
  const coordinator = new RedisCoordinator({
    ...redisOptions,
    instanceId: deployment.cluster.instanceId ?? defaultInstanceId(),
  });
  const pushes = new RedisPushDistribution(redisOptions);
  const delivered = () => pushes.delivered();
  return {
    store: new RedisStore({ ...redisOptions, deadLetterLimit: deployment.settings.deadLetterLimit }),
    eventLog: new RedisStreamEventLog({ ...eventLogOptions(deployment), ...redisOptions }),
    incidentWriter: sharedIncidentWriter,
    accountsRefreshMs: 5_000,
    livenessLedger: new RedisLivenessLedger(coordinator),
    pushes,
    redis,
    components: [
      component('cluster', {
        start: () => coordinator.start(),
        stop: () => coordinator.stop(),
        health: () => ({ state: coordinator.state, instance: coordinator.instanceId }),
      }),
    ],
    cameraPartition: (registry) => {
      const leases = new CameraLeases({
        coordinator,
        registry,
        leaseMs: deployment.cluster.leaseSeconds * 1000,
        metrics,
        logger,
      });
      return { partition: leases, leases };
    },
    acknowledgeAfter: (handled) => handled.then(delivered),
  };
}
