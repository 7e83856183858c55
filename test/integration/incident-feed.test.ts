import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentRepeat } from '../../src/core/events.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { ThreadedBroker } from '../../src/ingest/threaded-broker.ts';
import type { Store } from '../../src/store/store.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  eventually,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

interface FeedMessage {
  type: 'new' | 'update' | 'end';
  before: Incident | null;
  after: Incident;
}

/** A user's MQTT subscription to the incident feed, recording what it is forwarded. */
async function subscribeAsUser(url: string, userId: string, token: string, clean = true, subscribe = true) {
  const received: FeedMessage[] = [];
  const client: MqttClient = connect(url, {
    clientId: userId,
    username: userId,
    password: token,
    reconnectPeriod: 0,
    clean,
  });
  // Before the CONNACK: a persistent session is sent what it missed right after it.
  client.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()) as FeedMessage));
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  if (subscribe) await client.subscribeAsync('gridhub/incidents', { qos: 1 });
  return { client, received };
}

describe('outbound: the MQTT incident feed and webhooks, from a running hub', () => {
  let hub: TestHub;
  let receiver: Server;
  const deliveries: { headers: IncomingMessage['headers']; body: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        deliveries.push({ headers: request.headers, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    // The config file's shape (defaults not yet applied), as a user would write it.
    const config = demoConfig() as unknown as Record<string, unknown>;
    config.outbound = {
      webhooks: [
        {
          id: 'city-platform',
          url: `http://127.0.0.1:${port}/hooks/gridhub`,
          secret: 'a-shared-secret-of-the-city',
          events: ['new', 'end'],
        },
      ],
    };
    hub = await startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    await hub?.stop();
    receiver?.close();
  });

  it('forwards each incident to the users who may see it, and to nobody else', async () => {
    const xijiao = await subscribeAsUser(hub.mqttUrl, 'officer-xijiao', 'demo-officer-xijiao');
    const tianmushan = await subscribeAsUser(hub.mqttUrl, 'officer-tianmushan', 'demo-officer-tianmushan');
    const luming = await subscribeAsUser(hub.mqttUrl, 'officer-luming', 'demo-officer-luming');
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-02-east');
    const lumingGate = demoGate(hub.mqttUrl, 'gate-luming-01-south');
    await gate.start();
    await lumingGate.start();
    await gate.forceDoor();
    await lumingGate.forceDoor();
    await eventually(
      () => xijiao.received.length === 1 && luming.received.length === 1 && tianmushan.received.length === 1,
    );
    expect(xijiao.received[0]).toMatchObject({
      type: 'new',
      before: null,
      after: { gridId: 'grid-xijiao-02' },
    });
    expect(luming.received[0]).toMatchObject({ type: 'new', after: { gridId: 'grid-luming-01' } });
    expect(tianmushan.received[0]?.after.gridId).toBe('grid-luming-01');
    for (const subscriber of [xijiao, tianmushan, luming]) await subscriber.client.endAsync();
    await gate.stop();
    await lumingGate.stop();
  });

  it('judges a user who takes over their own session (same client id) as that user still', async () => {
    // The first connection holds a persistent session with the feed; the second takes it over while the first is
    // still connected, and is sent what the session subscribed to: only what this officer may see.
    const first = await subscribeAsUser(hub.mqttUrl, 'officer-xijiao', 'demo-officer-xijiao', false);
    const firstClosed = new Promise<void>((resolve) => first.client.once('close', () => resolve()));
    const second = await subscribeAsUser(hub.mqttUrl, 'officer-xijiao', 'demo-officer-xijiao', false, false);
    await firstClosed;
    first.client.end(true);
    const outside = demoGate(hub.mqttUrl, 'gate-luming-03-east');
    const inside = demoGate(hub.mqttUrl, 'gate-xijiao-03-east');
    await outside.start();
    await inside.start();
    // In this order, the first committed before the second is sent: had it been forwarded, it would come first.
    const created = 'gridhub_incidents_created_total{severity="critical"}';
    const before = await metricValue(hub.httpUrl, created);
    await outside.forceDoor();
    await eventually(async () => (await metricValue(hub.httpUrl, created)) > before);
    await inside.forceDoor();
    await eventually(() => second.received.some((message) => message.after.gridId === 'grid-xijiao-03'));
    expect(second.received.map((message) => message.after.gridId)).not.toContain('grid-luming-03');
    await second.client.endAsync();
    await outside.stop();
    await inside.stop();
  });

  it('lets a user neither publish nor listen to device topics, and refuses a wrong token', async () => {
    const user = connect(hub.mqttUrl, {
      clientId: 'officer-xijiao',
      username: 'officer-xijiao',
      password: 'demo-officer-xijiao',
      reconnectPeriod: 0,
    });
    await new Promise((resolve) => user.once('connect', resolve));
    const granted = await user
      .subscribeAsync('gridhub/devices/gate-xijiao-02-east/commands', { qos: 1 })
      .catch((error: { packet: { granted: number[] } }) => error.packet.granted.map((qos) => ({ qos })));
    expect(granted.map((grant) => grant.qos)).toEqual([128]);
    const closed = new Promise<void>((resolve) => user.once('close', () => resolve()));
    user.publish('gridhub/devices/gate-xijiao-02-east/events', '{}', { qos: 1 });
    await closed;
    user.end(true);
    const impostor = connect(hub.mqttUrl, {
      clientId: 'gate-xijiao-02-east',
      username: 'officer-xijiao',
      password: 'demo-officer-xijiao',
      reconnectPeriod: 0,
    });
    const refusal = await new Promise<Error>((resolve) => impostor.once('error', resolve));
    impostor.end(true);
    expect(refusal.message).toMatch(/Bad username or password/);
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="client_id_mismatch"}')).toBe(
      1,
    );
  });

  it('posts new incidents to the configured webhook, signed with its secret', async () => {
    await eventually(() => deliveries.length >= 2);
    const delivery = deliveries.find((entry) => entry.body.includes('grid-xijiao-02'));
    expect(delivery).toBeDefined();
    const { headers, body } = delivery as { headers: IncomingMessage['headers']; body: string };
    const expected = createHmac('sha256', 'a-shared-secret-of-the-city')
      .update(`${headers['x-gridhub-timestamp']}.${body}`)
      .digest('hex');
    expect(headers['x-gridhub-signature']).toBe(`sha256=${expected}`);
    expect(headers['x-gridhub-event']).toBe('new');
    expect(JSON.parse(body)).toMatchObject({
      type: 'new',
      before: null,
      after: { device: { id: 'gate-xijiao-02-east' } },
    });
  });
});

describe('outbound: the feed is encoded only while someone can receive it', () => {
  let hub: TestHub;
  const topic = 'gridhub/incidents';

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(demoConfig()) });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('sees no subscriber, then a clean session until it leaves, then a persistent session even while it is away', async () => {
    const broker = hub.testHandle.broker as ThreadedBroker;
    await eventually(() => broker.hasSubscribers(topic) === false);

    // A user connected may subscribe at any moment, and the broker thread says so a message after the SUBACK.
    const connected = await subscribeAsUser(
      hub.mqttUrl,
      'officer-xijiao',
      'demo-officer-xijiao',
      true,
      false,
    );
    expect(broker.hasSubscribers(topic)).toBe(true);
    await connected.client.endAsync();
    await eventually(() => broker.hasSubscribers(topic) === false);

    const clean = await subscribeAsUser(hub.mqttUrl, 'officer-xijiao', 'demo-officer-xijiao');
    expect(broker.hasSubscribers(topic)).toBe(true);
    await clean.client.endAsync();
    await eventually(() => broker.hasSubscribers(topic) === false);

    // A persistent session keeps its subscription while away, and is sent what it missed once it is back.
    const away = await subscribeAsUser(hub.mqttUrl, 'officer-luming', 'demo-officer-luming', false);
    expect(broker.hasSubscribers(topic)).toBe(true);
    await away.client.endAsync();
    const gate = demoGate(hub.mqttUrl, 'gate-luming-01-south');
    await gate.start();
    await gate.forceDoor();
    await gate.stop();
    expect(broker.hasSubscribers(topic)).toBe(true);
    const back = await subscribeAsUser(hub.mqttUrl, 'officer-luming', 'demo-officer-luming', false, false);
    await eventually(() => back.received.length === 1);
    expect(back.received[0]).toMatchObject({
      type: 'new',
      after: { device: { id: 'gate-luming-01-south' } },
    });
    await back.client.endAsync();
  });
});

/**
 * Holds the store's writes of one kind until released, then makes them, in order, on the real store, and every later
 * one at once, as the hub issues it: what a slow commit looks like to the hub. `failNext` makes the next one fail
 * instead, as a full disk would.
 */
function holdWrites(store: Store, method: 'saveIncident' | 'saveRepeat' | 'saveJoined') {
  const write = store[method].bind(store) as (...args: unknown[]) => Promise<void>;
  let held: (() => void)[] | undefined = [];
  let failNext = false;
  (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('disk full'));
    }
    if (held === undefined) return write(...args);
    const queue = held;
    return new Promise<void>((resolve, reject) => queue.push(() => write(...args).then(resolve, reject)));
  };
  return {
    release: () => {
      const writes = held ?? [];
      held = undefined;
      for (const issue of writes) issue();
    },
    failNext: () => {
      failNext = true;
    },
  };
}

describe('a device event is shown live before its commit; its acknowledgement and the feed wait for the commit', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(demoConfig()) });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('pushes a new incident and its repeats to the officer while their writes are held, and nothing else', async () => {
    const officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    const feed = await subscribeAsUser(hub.mqttUrl, 'officer-xijiao', 'demo-officer-xijiao');
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
    const creations = holdWrites(hub.testHandle.store, 'saveIncident');
    const repeats = holdWrites(hub.testHandle.store, 'saveRepeat');

    let acknowledged = 0;
    const first = gate.deny().then(() => acknowledged++);
    const incident = (await officer.nth('incident:new', 1)) as Incident;
    expect(incident).toMatchObject({ device: { id: 'gate-xijiao-01-north' }, occurrences: 1 });
    // Shown, but not stored: the device has no PUBACK, the feed nothing, and the store does not have it.
    expect(acknowledged).toBe(0);
    expect(await hub.testHandle.store.getIncident(incident.id)).toBeUndefined();
    expect(feed.received).toEqual([]);
    creations.release();
    await first;
    expect(await hub.testHandle.store.getIncident(incident.id)).toMatchObject({ occurrences: 1 });
    await eventually(() => feed.received.length === 1);
    expect(feed.received[0]).toMatchObject({ type: 'new', after: { id: incident.id } });

    const second = gate.deny().then(() => acknowledged++);
    expect(await officer.nth('incident:repeat', 1)).toMatchObject({ id: incident.id, occurrences: 2 });
    expect(acknowledged).toBe(1);
    expect(await hub.testHandle.store.getIncident(incident.id)).toMatchObject({ occurrences: 1 });
    expect(feed.received).toHaveLength(1);
    repeats.release();
    await second;
    expect(await hub.testHandle.store.getIncident(incident.id)).toMatchObject({ occurrences: 2 });
    await eventually(() => feed.received.length === 2);
    expect(feed.received[1]).toMatchObject({ type: 'update', after: { id: incident.id, occurrences: 2 } });

    // A repeat whose commit fails was shown, but never counted: the device, not acknowledged, sends it again, and the
    // officer is shown the same count; the feed hears of it once, stored.
    const failures = 'gridhub_store_failures_total';
    const failedBefore = await metricValue(hub.httpUrl, failures);
    repeats.failNext();
    await gate.deny();
    expect(await metricValue(hub.httpUrl, failures)).toBe(failedBefore + 1);
    await eventually(() => officer.of('incident:repeat').length === 3);
    expect((officer.of('incident:repeat') as IncidentRepeat[]).map((repeat) => repeat.occurrences)).toEqual([
      2, 3, 3,
    ]);
    expect(await hub.testHandle.store.getIncident(incident.id)).toMatchObject({ occurrences: 3 });
    await eventually(() => feed.received.length === 3);
    expect(feed.received.map((message) => message.after.occurrences)).toEqual([1, 2, 3]);

    await feed.client.endAsync();
    officer.close();
    await gate.stop();
  });

  it('forgets a new incident whose commit failed: the event, sent again, raises it anew, and repeats fold into that', async () => {
    const officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    const feed = await subscribeAsUser(hub.mqttUrl, 'officer-xijiao', 'demo-officer-xijiao');
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-02-west');
    await gate.start();
    const creations = holdWrites(hub.testHandle.store, 'saveIncident');
    creations.release();
    creations.failNext();
    // Shown at once; its commit fails, so the device is not acknowledged and sends the event again: stored then.
    await gate.deny();
    await eventually(() => officer.of('incident:new').length === 2);
    const [lost, raised] = officer.of('incident:new') as Incident[];
    expect(lost?.id).not.toBe(raised?.id);
    expect(await hub.testHandle.store.getIncident(lost?.id ?? '')).toBeUndefined();
    expect(await hub.testHandle.store.getIncident(raised?.id ?? '')).toMatchObject({ occurrences: 1 });
    expect(hub.testHandle.incidents.active(lost?.id ?? '')).toBeUndefined();
    // The next denial folds into the stored incident, not the lost one; the feed heard only of what was stored.
    await gate.deny();
    expect(await officer.nth('incident:repeat', 1)).toMatchObject({ id: raised?.id, occurrences: 2 });
    await eventually(() => feed.received.length === 2);
    expect(feed.received.map((message) => [message.type, message.after.id])).toEqual([
      ['new', raised?.id],
      ['update', raised?.id],
    ]);
    await feed.client.endAsync();
    officer.close();
    await gate.stop();
  });
});

describe('a fold of a correlated join and a repeat reaches the live view in the order it was made', () => {
  let hub: TestHub;

  beforeAll(async () => {
    // Tailgating both correlates (perimeter breach) and, here, dedupes: one device's repeat and another's join can
    // fold into the same incident together.
    const config = demoConfig() as unknown as { rules: { event: string; dedupeSeconds?: number }[] };
    for (const rule of config.rules) if (rule.event === 'access.tailgating') rule.dedupeSeconds = 60;
    hub = await startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('shows, once the pushes are applied in order, what the store holds', async () => {
    const officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    const anchorGate = demoGate(hub.mqttUrl, 'gate-xijiao-03-north');
    const otherGate = demoGate(hub.mqttUrl, 'gate-xijiao-03-east');
    await anchorGate.start();
    await otherGate.start();
    await anchorGate.tailgate();
    const incident = (await officer.nth('incident:new', 1)) as Incident;
    const joins = holdWrites(hub.testHandle.store, 'saveJoined');
    // The first join commits (held); the next join and the anchor's repeat come meanwhile and fold together.
    const correlated = async () => metricValue(hub.httpUrl, 'gridhub_events_correlated_total');
    const sent = [otherGate.tailgate()];
    await eventually(async () => (await correlated()) === 1);
    sent.push(otherGate.tailgate());
    // The second join is in the waiting fold before the repeat is sent: the fold is [join, repeat].
    await eventually(async () => (await correlated()) === 2);
    sent.push(anchorGate.tailgate());
    joins.release();
    await Promise.all(sent);

    const stored = (await hub.testHandle.store.getIncident(incident.id)) as Incident;
    expect(stored).toMatchObject({ occurrences: 2, related: [{}, {}] });
    await eventually(() => officer.received.length >= 4);
    let shown: Incident = incident;
    for (const { event, payload } of officer.received) {
      if (event === 'incident:update') shown = (payload as { after: Incident }).after;
      if (event === 'incident:repeat') shown = { ...shown, ...(payload as IncidentRepeat) };
    }
    expect(shown.occurrences).toBe(stored.occurrences);
    expect(shown.related).toEqual(stored.related);
    officer.close();
    await anchorGate.stop();
    await otherGate.stop();
  });
});
