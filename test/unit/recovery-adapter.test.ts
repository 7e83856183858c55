import { describe, expect, it } from 'vitest';
import { recoveryAdapter } from '../../src/realtime/recovery-adapter.ts';

/**
 * The recovery buffer against a plain model of it, over long random runs: compaction, holes and the binary search
 * must never change what a returning client is sent. (test/integration/push-recovery.test.ts drives it through real
 * Socket.IO clients.)
 */

/** Just what the adapter reads of a namespace: its name, its server's options and encoder, and no sockets. */
function fakeNamespace(windowMs: number) {
  return {
    name: '/',
    sockets: new Map(),
    server: {
      opts: { connectionStateRecovery: { maxDisconnectionDuration: windowMs } },
      encoder: { encode: (packet: unknown) => [JSON.stringify(packet)] },
    },
  };
}

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ModelPush {
  readonly offset: string;
  readonly rooms: readonly string[];
  readonly key: string | undefined;
  readonly data: unknown[];
}

const roomSets = [['a'], ['b'], ['a', 'b'], ['c'], ['b', 'c']];

describe('the recovery buffer', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`sends a returning client exactly what the model says (seed ${seed})`, async () => {
      const next = random(seed);
      const Buffer = recoveryAdapter({
        supersedeKey: ([, payload]) => (payload as { key?: string }).key,
        maxReplay: Number.POSITIVE_INFINITY,
      });
      const adapter = new Buffer(fakeNamespace(60_000));
      await adapter.init();
      const model: ModelPush[] = [];
      for (let n = 0; n < 6_000; n++) {
        const rooms = roomSets[Math.floor(next() * roomSets.length)] as string[];
        // Few keys, so runs supersede often and the buffer compacts many times over.
        const key = next() < 0.8 ? `k${Math.floor(next() * 12)}` : undefined;
        const data: unknown[] = ['push', { n, key }];
        adapter.broadcast({ type: 2, data, nsp: '/' }, { rooms: new Set(rooms), except: new Set() });
        model.push({ offset: data.at(-1) as string, rooms, key, data });
      }
      // The model: a push is superseded when the next push of its key goes to the same rooms.
      const superseded = new Array<boolean>(model.length).fill(false);
      const nextOfKey = new Map<string, ModelPush>();
      for (let index = model.length - 1; index >= 0; index--) {
        const push = model[index] as ModelPush;
        if (push.key === undefined) continue;
        const later = nextOfKey.get(push.key);
        superseded[index] = later !== undefined && later.rooms.join() === push.rooms.join();
        nextOfKey.set(push.key, push);
      }
      for (let check = 0; check < 40; check++) {
        const from = Math.floor(next() * model.length);
        const rooms = roomSets[Math.floor(next() * roomSets.length)] as string[];
        const pid = `p${check}`;
        adapter.persistSession({ sid: `s${check}`, pid, rooms, data: {} });
        const session = await adapter.restoreSession(pid, (model[from] as ModelPush).offset);
        // Every later push to one of its rooms, in order, but the superseded.
        const expected = model
          .map((push, index) => ({ push, index }))
          .filter(({ index }) => index > from && !superseded[index])
          .filter(({ push }) => push.rooms.some((room) => rooms.includes(room)))
          .map(({ push }) => push.data);
        expect(session.missedPackets).toEqual(expected);
      }
      adapter.close();
    });
  }
});
