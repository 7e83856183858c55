import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TypedBus } from '../../src/core/bus.ts';
import type { ResolvedDevice } from '../../src/core/device.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import { createIdentifierPolicy } from '../../src/core/privacy.ts';
import { TopicGrammar } from '../../src/core/topics.ts';
import { fixedPeople } from '../../src/core/user.ts';
import { IncidentPipeline } from '../../src/incidents/incident-pipeline.ts';
import { IncidentService } from '../../src/incidents/incident-service.ts';
import { loneIncidentWriter } from '../../src/incidents/lone-incident-writer.ts';
import { Router } from '../../src/incidents/router.ts';
import { RuleBook } from '../../src/incidents/rule-book.ts';
import { Visibility } from '../../src/incidents/visibility.ts';
import { DeviceIngest } from '../../src/ingest/device-ingest.ts';
import { EventSink } from '../../src/ingest/event-sink.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { FakeStore } from '../helpers/fake-store.ts';
import { demoDeployment } from '../helpers/hub.ts';

/**
 * The ingest's refusals that the embedded broker's access policy keeps from reaching it (a device that is not
 * provisioned, a channel outside the grammar), but that an external broker (issue 8) would pass on.
 */
describe('DeviceIngest', () => {
  const deployment = demoDeployment();
  // The ingest's refusals land in the store's dead letters: an in-memory store holds them (the stores themselves
  // are tested in test/store).
  const store = new FakeStore();
  const heard: string[] = [];
  let ingest: DeviceIngest;
  let metrics: MetricsRegistry;

  beforeEach(async () => {
    await store.start();
    metrics = new MetricsRegistry();
    const bus = new TypedBus<HubBusEvents>();
    const devices = new Map<string, ResolvedDevice>(deployment.devices.map((device) => [device.id, device]));
    // A family whose schema leaves its envelope unbounded: the hub's own bound on what names an event still holds.
    const gate = devices.get('gate-xijiao-01-north') as ResolvedDevice;
    const loose = {
      ...gate.adapter,
      channels: {
        events: {
          schema: z.object({ seq: z.number(), time: z.string() }),
          decode: () => [{ type: 'door.forced_open', occurredAt: Date.now(), attributes: {} }],
        },
      },
    } as unknown as ResolvedDevice['adapter'];
    devices.set('loose-1', { ...gate, id: 'loose-1', adapter: loose });
    ingest = new DeviceIngest({
      topics: new TopicGrammar('gridhub'),
      devices,
      activity: { heard: (id) => heard.push(id), gone: () => undefined },
      maxPayloadBytes: 1024,
      decodeContext: { identifiers: createIdentifierPolicy('masked', 'k'.repeat(16)) },
      sink: new EventSink(
        bus,
        new IncidentPipeline(
          new RuleBook(deployment.rules),
          new IncidentService({
            store,
            bus,
            metrics,
            router: new Router(
              fixedPeople(deployment.users),
              deployment.rosters,
              deployment.routing,
              'Asia/Shanghai',
            ),
            visibility: new Visibility(deployment.routing.deviceHealthCategories),
            deadlines: deployment.deadlines,
            jurisdiction: deployment.jurisdiction,
            people: fixedPeople(deployment.users),
            logger: createLogger('silent'),
            sweepMs: 60_000,
            writer: loneIncidentWriter,
          }),
        ),
      ),
      store,
      bus,
      metrics,
      logger: createLogger('silent'),
    });
  });

  afterEach(async () => {
    await store.stop();
    heard.length = 0;
  });

  it('ignores topics outside the device grammar', () => {
    expect(ingest.handle('somewhere/else', Buffer.from('{}'), 0)).toBeUndefined();
    expect(ingest.handle('gridhub/devices/a/b/c', Buffer.from('{}'), 0)).toBeUndefined();
  });

  it('keeps a message from an unknown device as a dead letter', async () => {
    await ingest.handle('gridhub/devices/ghost-9/events', Buffer.from('{"card":"12345678"}'), 0);
    const [letter] = await store.listDeadLetters({ limit: 1 });
    expect(letter).toMatchObject({
      reason: 'unknown_device',
      deviceId: null,
      topic: 'gridhub/devices/ghost-9/events',
    });
    expect(JSON.stringify(letter)).not.toContain('12345678');
    expect(heard).toEqual([]);
  });

  it('keeps a message on a channel the adapter does not decode as a dead letter, and still hears the device', async () => {
    await ingest.handle('gridhub/devices/gate-xijiao-01-north/firmware', Buffer.from('{}'), 0);
    const [letter] = await store.listDeadLetters({ limit: 1 });
    expect(letter?.reason).toBe('unknown_channel');
    expect(letter?.problems).toEqual([
      'channel "firmware" is not one of: status, replies, events, heartbeat',
    ]);
    expect(await metrics.text()).toContain('gridhub_messages_refused_total{reason="unknown_channel"} 1');
    expect(heard).toEqual(['gate-xijiao-01-north']);
  });

  it('takes the hub-wide status channel: online hears the device, anything else is refused by schema', async () => {
    await ingest.handle('gridhub/devices/gate-xijiao-01-north/status', Buffer.from('{"state":"online"}'), 0);
    expect(heard).toEqual(['gate-xijiao-01-north']);
    await ingest.handle('gridhub/devices/gate-xijiao-01-north/status', Buffer.from('{"state":"sleepy"}'), 0);
    const [letter] = await store.listDeadLetters({ limit: 1 });
    expect(letter?.reason).toBe('schema');
    expect(letter?.problems).toEqual([expect.stringMatching(/^state: /)]);
  });

  it("refuses a frame whose envelope would make an unbounded event key, whatever the adapter's schema let through", async () => {
    const frame = { seq: 1, time: `2026-11-22T09:30:00.${'1'.repeat(900)}+08:00` };
    await ingest.handle('gridhub/devices/loose-1/events', Buffer.from(JSON.stringify(frame)), 0);
    await ingest.handle(
      'gridhub/devices/loose-1/events',
      Buffer.from('{"seq":1e300,"time":"2026-11-22T09:30:00Z"}'),
      0,
    );
    const letters = await store.listDeadLetters({ limit: 2 });
    expect(letters.map((letter) => [letter.reason, letter.problems]).sort()).toEqual([
      ['schema', ['seq: expected a non-negative safe integer']],
      ['schema', ['time: Too big: expected string to have <=40 characters']],
    ]);
    const text = await metrics.text();
    expect(text).toContain('gridhub_messages_refused_total{reason="schema"} 2');
    expect(text).toContain('gridhub_events_decoded_total 0');
    expect(await store.listIncidents({ limit: 5 })).toEqual([]);
  });
});
