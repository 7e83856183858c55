import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpEventStream, type StreamDropReason } from '../../src/ingest/http-event-stream.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { eventually, loopbackGuard } from '../helpers/hub.ts';

/**
 * The shared event stream client through the hub's own HTTP client (the outbound guard's). A body delimited by the
 * connection's close (as cameras send theirs) ends rather than fails when the hub aborts the connection: a stall must
 * still be reported as a stall.
 */
describe('HttpEventStream through the outbound guard', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('reports a stream that goes silent as stalled, not as ended, and connects again', async () => {
    let connections = 0;
    server = createServer((_request, response) => {
      connections++;
      // Delimited by the connection's close, as camera firmware sends it: no chunked framing.
      response.useChunkedEncodingByDefault = false;
      response.writeHead(200, {
        connection: 'close',
        'content-type': 'multipart/x-mixed-replace; boundary=b',
      });
      // One part, then silence with the connection left open.
      response.write('--b\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const drops: StreamDropReason[] = [];
    const parts: string[] = [];
    const guard = loopbackGuard(new MetricsRegistry());
    const stream = new HttpEventStream({
      url: `http://127.0.0.1:${port}/events`,
      username: 'u',
      password: 'p',
      fetch: guard.fetcher('device'),
      limits: { maxHeaderBytes: 1024, maxPartBytes: 1024 },
      connectTimeoutMs: 1_000,
      stallMs: 300,
      retry: { minMs: 50, maxMs: 100 },
      onPart: (part) => {
        parts.push(part.body.toString());
      },
      onDrop: (reason) => drops.push(reason),
    });
    stream.start();
    try {
      await eventually(() => connections >= 2, 5_000);
      expect(drops[0]).toBe('stalled');
      expect(stream.lastDrop?.reason).toBe('stalled');
      expect(parts[0]).toBe('Heartbeat');
    } finally {
      await stream.stop();
      guard.close();
    }
  });
});
