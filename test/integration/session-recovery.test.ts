import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  demoGate,
  eventually,
  type HubClientSocket,
  metricValue,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

/** What socket.io-client keeps to ask for its session back: its private session id and the last offset it read. */
function sessionOf(client: RecordingClient): { pid: string; offset: string } {
  const internals = client.socket as unknown as { _pid?: string; _lastOffset?: string };
  return { pid: internals._pid as string, offset: internals._lastOffset as string };
}

/**
 * A client that presents a stolen session (`pid`, `offset`) with the token given, recording every packet that
 * reaches it on the wire (pushes written before a refusal are held by socket.io-client and never emitted, so they
 * are seen here and nowhere else), and how its connection ended.
 */
async function presentSession(url: string, token: string, session: { pid: string; offset: string }) {
  const socket: HubClientSocket = io(url, {
    auth: { token, ...session },
    transports: ['websocket'],
    reconnection: false,
  });
  const wire: string[] = [];
  socket.io.on('open', () => socket.io.engine.on('packet', (packet) => wire.push(String(packet.data))));
  const outcome = await new Promise<'connected' | 'refused'>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', () => resolve('refused'));
  });
  return { socket, wire, outcome };
}

/** The link under the client drops (not a clean leave): the hub keeps its session for it to come back to. */
async function dropLink(client: RecordingClient): Promise<void> {
  const gone = new Promise<void>((resolve) => client.socket.once('disconnect', () => resolve()));
  client.socket.io.engine.close();
  await gone;
}

const stores = [
  { name: 'one instance (in-memory recovery)', deployment: () => undefined },
  {
    name: 'several instances (Redis streams adapter)',
    deployment: () => redisDeployment(testKeyPrefix('session-recovery')),
  },
];

describe.each(stores)('Socket.IO session recovery belongs to its user: $name', ({ deployment }) => {
  let hub: TestHub;

  beforeAll(async () => {
    await deleteRedisKeys(testKeyPrefix('session-recovery'));
    const chosen = deployment();
    hub = await startTestHub(chosen === undefined ? {} : { deployment: chosen });
  });

  afterAll(async () => {
    await hub?.stop();
    await deleteRedisKeys(testKeyPrefix('session-recovery'));
  });

  async function forceDoor(gateId: string): Promise<void> {
    const gate = demoGate(hub.mqttUrl, gateId);
    await gate.start();
    await gate.forceDoor();
    await gate.stop();
  }

  /**
   * An officer sees one incident (so their client has an offset to come back from), then drops; an incident of
   * another grid of theirs comes while they are away. Gates of different grids: each is an incident of its own.
   */
  async function awayWhile(token: string, seenGate: string, missedGate: string) {
    const victim = await connectClient(hub.httpUrl, token);
    await forceDoor(seenGate);
    await victim.nth('incident:new', 1);
    const session = sessionOf(victim);
    expect(session.pid).toEqual(expect.any(String));
    await dropLink(victim);
    const created = 'gridhub_incidents_created_total{severity="critical"}';
    const before = await metricValue(hub.httpUrl, created);
    await forceDoor(missedGate);
    // The missed push is made before anyone comes back for it.
    await eventually(async () => (await metricValue(hub.httpUrl, created)) > before);
    victim.close();
    return session;
  }

  it('sends nothing of a stolen session to a client with an invalid token, and refuses it', async () => {
    const session = await awayWhile('demo-officer-xijiao', 'gate-xijiao-01-north', 'gate-xijiao-02-east');
    const refused = 'gridhub_realtime_refusals_total{reason="bad_token"}';
    const before = await metricValue(hub.httpUrl, refused);
    const thief = await presentSession(hub.httpUrl, 'not-a-valid-token', session);
    expect(thief.outcome).toBe('refused');
    expect(thief.wire.join('\n')).not.toContain('incident');
    expect(await metricValue(hub.httpUrl, refused)).toBe(before + 1);
    thief.socket.close();
  });

  it("gives another user's valid token nothing of the session: no missed push, none of its rooms, no live push", async () => {
    const session = await awayWhile('demo-officer-xijiao', 'gate-xijiao-03-east', 'gate-xijiao-04-south');
    // Luming's officer may see nothing of Xijiao.
    const thief = await presentSession(hub.httpUrl, 'demo-officer-luming', session);
    const live: unknown[] = [];
    thief.socket.onAny((_event, payload) => live.push(payload));
    // A watcher of Xijiao is sent the live push: by then it went wherever it was going.
    const witness = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    await forceDoor('gate-xijiao-05-west');
    await witness.nth('incident:new', 1);
    witness.close();
    expect(thief.outcome).toBe('refused');
    expect(thief.wire.join('\n')).not.toContain('incident');
    expect(live).toEqual([]);
    expect(await metricValue(hub.httpUrl, 'gridhub_realtime_refusals_total{reason="not_owner"}')).toBe(1);
    expect(hub.logs.text).toContain("another user's session");
    thief.socket.close();
  });

  it('restores its own session to the same user, with what they missed', async () => {
    const session = await awayWhile(
      'demo-officer-zhenxing',
      'gate-zhenxing-02-north',
      'gate-zhenxing-03-east',
    );
    const back = await presentSession(hub.httpUrl, 'demo-officer-zhenxing', session);
    expect(back.outcome).toBe('connected');
    // The hub answered with the same private session id: the session is restored, not a fresh one.
    expect(back.wire.join('\n')).toContain(`"pid":"${session.pid}"`);
    // Sent before the CONNECT packet, as Socket.IO does.
    await eventually(() => back.wire.some((packet) => packet.includes('grid-zhenxing-03')));
    back.socket.close();
  });
});
