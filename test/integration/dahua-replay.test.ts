import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestGuard } from '../../simulators/shared/http-digest.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import { wireFixtures } from '../devices/dahua-cgi.wire-fixtures.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * The real payloads of the fixture table (the Dahua HTTP API's own example, Home Assistant's Dahua integration's test
 * data, a door station's events as DahuaVTO2MQTT publishes them), replayed byte for byte as an eventManager attach
 * stream over real HTTP with Digest, against a real hub: the hub must make of them exactly the events the table
 * says, in order, and refuse none. No simulator of ours writes these bytes.
 */

const account = { username: 'admin', password: 'replay-pass' };

/** A device that answers attach with the given parts, once each, in order, then holds the stream open. */
async function replayDevice(
  boundary: string,
  parts: readonly string[],
): Promise<{ server: Server; url: string }> {
  const digest = new DigestGuard('Login to REPLAY');
  const server = createServer((request, response) => {
    const verdict = digest.verify(request.headers.authorization, 'GET', request.url ?? '', account);
    if (verdict !== 'ok') {
      response.writeHead(401, { 'WWW-Authenticate': digest.challenge(verdict === 'stale') }).end();
      return;
    }
    response.useChunkedEncodingByDefault = false;
    response.writeHead(200, {
      'Cache-Control': 'no-cache',
      Connection: 'close',
      'Content-Type': `multipart/x-mixed-replace; boundary=${boundary}`,
    });
    // Each part in its own write, and the next delimiter line closes the last one that has no trailing CRLF.
    for (const part of parts) response.write(Buffer.from(part, 'latin1'));
    response.write(`\r\n--${boundary}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('real Dahua payloads replayed over HTTP against the hub', () => {
  let hub: TestHub;
  const devices: { server: Server; url: string }[] = [];
  const events: DeviceEvent[] = [];
  const boundaries = [...new Set(wireFixtures.map((fixture) => fixture.boundary))];
  const deviceOf = (boundary: string) => `dahua-replay-${boundaries.indexOf(boundary) + 1}`;

  beforeAll(async () => {
    const config = demoConfig() as unknown as { devices: Record<string, unknown>[] };
    for (const boundary of boundaries) {
      const parts = wireFixtures
        .filter((fixture) => fixture.boundary === boundary)
        .map((fixture) => fixture.part);
      const device = await replayDevice(boundary, parts);
      devices.push(device);
      config.devices.push({
        id: deviceOf(boundary),
        name: `Replayed Dahua device (${boundary})`,
        adapter: 'dahua-cgi',
        grid: 'grid-luming-01',
        http: { url: device.url, ...account },
      });
    }
    hub = await startTestHub({
      deployment: deploymentOf(config),
      dahuaTiming: {
        heartbeatSeconds: 30,
        connectTimeoutMs: 2_000,
        retryMinMs: 5_000,
        retryMaxMs: 10_000,
        commandTimeoutMs: 2_000,
      },
    });
    hub.hub.bus.on('device:event', (event) => {
      if (event.deviceId.startsWith('dahua-replay-')) events.push(event);
    });
  });

  afterAll(async () => {
    await hub?.stop();
    for (const { server } of devices) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('makes exactly the events of the fixture table, in order, and refuses nothing', async () => {
    for (const boundary of boundaries) {
      const expected = wireFixtures
        .filter((fixture) => fixture.boundary === boundary)
        .flatMap((fixture) => fixture.events);
      const deviceId = deviceOf(boundary);
      await eventually(() => events.filter((event) => event.deviceId === deviceId).length >= expected.length);
      const seen = events.filter((event) => event.deviceId === deviceId);
      expect(seen.map(({ type, attributes }) => ({ type, attributes }))).toEqual(expected);
    }
    const heartbeats = wireFixtures.filter((fixture) => fixture.frames === 'heartbeat').length;
    expect(await metricValue(hub.httpUrl, 'gridhub_dahua_parts_total{kind="heartbeat"}', 'demo-admin')).toBe(
      heartbeats,
    );
    expect(await metricValue(hub.httpUrl, 'gridhub_dahua_parts_total{kind="malformed"}', 'demo-admin')).toBe(
      0,
    );
    expect(
      await metricValue(hub.httpUrl, 'gridhub_messages_refused_total{reason="schema"}', 'demo-admin'),
    ).toBe(0);
  });
});
