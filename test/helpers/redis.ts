import { Redis } from 'ioredis';
import type { Deployment } from '../../src/config/load.ts';
import { demoConfig, deploymentOf } from './hub.ts';

/** The real Redis the tests use (.ci/run makes sure it runs). */
export const redisUrl = process.env.GRIDHUB_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run shares. */
export function testKeyPrefix(name: string): string {
  return `gridhub-test:${name}:${process.pid}:`;
}

/** The demo on the Redis store under `keyPrefix`, with whatever else the test changes in the config. */
export function redisDeployment(
  keyPrefix: string,
  change: (config: Record<string, unknown>) => void = () => undefined,
): Deployment {
  const config = demoConfig() as unknown as Record<string, unknown>;
  config.store = { kind: 'redis', url: redisUrl, keyPrefix };
  change(config);
  return deploymentOf(config);
}

/** Deletes every key a test wrote under its prefix. */
export async function deleteRedisKeys(keyPrefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}
