import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import { eventually, temporaryDirectory } from '../helpers/hub.ts';

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server of this test's own, on an ephemeral port, fsyncing every write (appendfsync always). */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
      ...['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
    ],
    { stdio: 'ignore' },
  );
  const probe = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'probe:', deadLetterLimit: 1 });
  await eventually(async () => {
    try {
      await probe.start();
      await probe.stop();
      return true;
    } catch {
      return false;
    }
  }, 10_000);
  return child;
}

function incident(overrides: Partial<Incident> = {}): Incident {
  const at = '2026-11-22T08:00:00.000Z';
  return {
    id: 'inc_00001',
    state: 'dispatched',
    title: 'Door held open too long',
    category: 'access_violation',
    severity: 'warning',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'door.held_open', occurredAt: at, attributes: { door: 1 } },
    gridId: 'g',
    chain: [{ id: 'g', name: 'G', level: 'grid' }],
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: [],
    handler: null,
    responsibleNodeId: 'g',
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: 0,
    timeline: {},
    ...overrides,
  };
}

describe('the Redis store across a restart of Redis', () => {
  const directory = temporaryDirectory('gridhub-redis-restart-');
  let redis: ChildProcess | undefined;
  afterAll(() => {
    redis?.kill('SIGKILL');
    directory.remove();
  });

  it('keeps versions, condition holders and event keys, and writes with its script again once Redis is back', async () => {
    const port = await freePort();
    redis = await startRedis(port, directory.path);
    const store = new RedisStore({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: 'gridhub:',
      deadLetterLimit: 10,
    });
    await store.start();
    try {
      const condition = { key: 'gate-1/door.held_open', claim: true };
      const created = await store.writeIncident({
        incident: incident({ version: 1 }),
        expectedVersion: 0,
        condition,
        eventKey: 'gate-1/1/2026-11-22T08:00:00Z',
      });
      expect(created).toEqual({ written: true });

      // Killed outright: a new server has none of the old one's scripts loaded, only its fsynced data.
      const killed = redis;
      await new Promise((resolve) => {
        killed.once('exit', resolve);
        killed.kill('SIGKILL');
      });
      redis = await startRedis(port, directory.path);
      await eventually(() => store.state === 'up', 10_000);

      expect(await store.openCondition(condition.key)).toBe('inc_00001');
      expect(await store.eventCommitted('gate-1/1/2026-11-22T08:00:00Z')).toBe(true);
      const repeat = await store.writeIncident({
        incident: incident({ version: 2, occurrences: 2 }),
        expectedVersion: 1,
        eventKey: 'gate-1/2/2026-11-22T08:00:01Z',
      });
      expect(repeat).toEqual({ written: true });
      expect(await store.writeIncident({ incident: incident({ version: 2 }), expectedVersion: 1 })).toEqual({
        written: false,
        refused: 'version',
      });
      expect((await store.getIncident('inc_00001'))?.occurrences).toBe(2);
    } finally {
      await store.stop();
    }
  });
});
