import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, startTestHub, type TestHub } from '../helpers/hub.ts';

describe('the HTTP surface', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('reports every component up on /healthz', async () => {
    const { status, body } = await getJson(`${hub.httpUrl}/healthz`);
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      components: {
        store: { state: 'up', kind: 'embedded' },
        mqtt: {
          state: 'up',
          mode: 'embedded',
          // mqtt.brokerThread auto: a thread of its own where the process may use more than one CPU.
          thread: availableParallelism() > 1 ? 'broker' : 'hub',
          port: hub.hub.mqttPort,
          connectedDevices: 0,
        },
        http: { state: 'up', port: hub.hub.httpPort },
        realtime: { state: 'up' },
        // The demo has no cameras yet: the ONVIF side is up with no sessions.
        cameras: { state: 'up', sessions: {} },
        // Live video: up, nobody watching.
        'live video': { state: 'up', viewing: 0 },
        // Notifications: the demo configures no channel; nobody's steps are pending.
        notifications: { state: 'up', pending: 0, channels: {} },
        // The demo's alarm panels report to its SIA DC-09 receiver, on a port of its own choosing.
        'sia-dc09': { state: 'up', port: hub.hub.siaPort, udp: true, connections: 0 },
        // The demo's Hikvision devices (their alert streams) and the listener devices push to.
        hikvision: { state: 'up', streams: expect.any(Object) },
        // The listener devices push to (receivers.http): the demo's ZKTeco terminal reports there.
        'device http': { state: 'up', port: hub.hub.deviceHttpPort },
        // Nor Dahua devices: their event streams' side is up with no stream.
        dahua: { state: 'up', streams: {} },
        // The demo's GB/T 28181 NVR and camera register to the SIP server; in this test none does.
        gb28181: {
          state: 'up',
          port: hub.hub.gb28181Port,
          udp: true,
          tcp: true,
          connections: 0,
          pendingRequests: 0,
          registered: 0,
          pendingQueries: 0,
        },
      },
    });
  });

  it('exposes every metric the operators rely on in the Prometheus text format', async () => {
    const response = await fetch(`${hub.httpUrl}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const name of [
      'gridhub_messages_received_total',
      'gridhub_events_decoded_total',
      'gridhub_messages_refused_total',
      'gridhub_incidents_created_total',
      'gridhub_pushes_sent_total',
      'gridhub_ingest_to_push_seconds',
      'gridhub_connected_devices',
      'gridhub_connected_clients',
      'gridhub_push_recoveries_total',
      'gridhub_pushes_kept_for_recovery',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it("shows the process's CPU, memory, heap, event loop lag and GC beside the hub's own metrics", async () => {
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
      'gridhub_messages_received_total',
    ]) {
      // Once each: the process's metrics are served with the hub's, not declared again by it.
      expect(text.split('\n').filter((line) => line.startsWith(`# TYPE ${name} `))).toHaveLength(1);
    }
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it('serves the live feed page and the Socket.IO browser client from the hub itself', async () => {
    const page = await fetch(`${hub.httpUrl}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script src="/socket.io/socket.io.js"></script>');
    const client = await fetch(`${hub.httpUrl}/socket.io/socket.io.js`);
    expect(client.status).toBe(200);
    expect(await client.text()).toContain('Socket.IO');
  });

  it('tells a user who they are and what they see', async () => {
    const { body } = await getJson(`${hub.httpUrl}/api/me`, 'demo-worker-xijiao-relief');
    expect(body).toEqual({
      userId: 'worker-xijiao-relief',
      name: '罗霞 Luo Xia',
      role: 'grid_worker',
      scopeNodeIds: ['grid-xijiao-04', 'grid-xijiao-05'],
    });
    expect((await getJson(`${hub.httpUrl}/api/me`, 'wrong-token')).status).toBe(401);
  });

  it('answers unknown routes with the error shape', async () => {
    const { status, body } = await getJson(`${hub.httpUrl}/api/nothing`);
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'not_found', message: 'no route GET /api/nothing' } });
  });
});
