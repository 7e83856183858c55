import { connect } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectorRefusal } from '../../src/core/connector.ts';
import { DeviceHttpListener, type DeviceHttpRequest } from '../../src/ingest/device-http-listener.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';

/** The listener devices push to, alone on a loopback port, with one route that echoes what it was given. */

let listener: DeviceHttpListener;
let metrics: MetricsRegistry;
let refusals: ConnectorRefusal[];
let seen: DeviceHttpRequest[];
let base: string;

const limits = { maxBodyBytes: 2048, maxHeaderBytes: 2048, requestTimeoutMs: 400, maxConnections: 4 };

beforeEach(async () => {
  metrics = new MetricsRegistry();
  refusals = [];
  seen = [];
  listener = new DeviceHttpListener({
    host: '127.0.0.1',
    port: 0,
    limits,
    refuse: async (refusal) => {
      refusals.push(refusal);
    },
    metrics,
    logger: pino({ level: 'silent' }),
  });
  listener.route('/iclock/', 'zkteco-adms', (request) => {
    seen.push(request);
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: `OK:${request.body.length}` };
  });
  listener.route('/iclock/broken', 'broken', () => {
    throw new Error('a store that refuses writes');
  });
  await listener.start();
  base = `http://127.0.0.1:${listener.port}`;
});

afterEach(async () => {
  await listener.stop();
});

async function counted(name: string): Promise<string> {
  return (await metrics.text())
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

/** Writes raw bytes on a fresh connection and resolves with what the server answered before closing. */
function raw(bytes: string, holdMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(listener.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
    socket.write(bytes);
    if (holdMs === 0) socket.end();
  });
}

describe('the listener devices push to over HTTP', () => {
  it('hands a route the path, query, headers, body and the sender’s address, and writes its answer', async () => {
    const response = await fetch(`${base}/iclock/cdata?SN=ABC123&table=rtlog`, {
      method: 'POST',
      body: 'time=2026-12-07 10:00:00\tpin=1',
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('OK:30');
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/iclock/cdata', remoteAddress: '127.0.0.1' });
    expect(seen[0]?.query.get('SN')).toBe('ABC123');
    expect(await counted('gridhub_device_http_requests_total')).toContain('protocol="zkteco-adms"} 1');
  });

  it('answers 404 where no protocol is registered, counted', async () => {
    const response = await fetch(`${base}/wp-login.php`);
    expect(response.status).toBe(404);
    expect(seen).toEqual([]);
    expect(await counted('gridhub_device_http_refusals_total')).toContain('reason="no_route"} 1');
  });

  it('refuses a body over the limit, declared or streamed, without reading it, and dead-letters it', async () => {
    const declared = await fetch(`${base}/iclock/cdata?SN=A`, { method: 'POST', body: 'x'.repeat(4096) });
    expect(declared.status).toBe(413);
    const chunk = `800\r\n${'y'.repeat(2048)}\r\n`;
    const streamed = await raw(
      `POST /iclock/cdata?SN=A HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${chunk}${chunk}0\r\n\r\n`,
    );
    expect(streamed).toMatch(/^HTTP\/1\.1 413/);
    expect(seen).toEqual([]);
    expect(refusals.map((refusal) => [refusal.source, refusal.reason])).toEqual([
      ['zkteco-adms/http', 'oversized'],
      ['zkteco-adms/http', 'oversized'],
    ]);
    expect(await counted('gridhub_device_http_refusals_total')).toContain('reason="body_too_large"} 2');
  });

  it('refuses a request head over the limit with 431', async () => {
    const answer = await raw(
      `GET /iclock/getrequest?SN=A HTTP/1.1\r\nhost: x\r\nx-junk: ${'j'.repeat(4096)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect(await counted('gridhub_device_http_refusals_total')).toContain('reason="head_too_large"} 1');
  });

  it('closes a request that does not arrive whole in time (a slow sender)', async () => {
    const started = Date.now();
    const answer = await raw(
      'POST /iclock/cdata?SN=A HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc',
      1,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answer === '' || /^HTTP\/1\.1 408/.test(answer)).toBe(true);
    expect(seen).toEqual([]);
  });

  it('answers 500 when a route fails, and keeps serving', async () => {
    expect((await fetch(`${base}/iclock/broken`)).status).toBe(500);
    expect((await fetch(`${base}/iclock/getrequest?SN=A`)).status).toBe(200);
    expect(await counted('gridhub_device_http_refusals_total')).toContain('reason="route_failed"} 1');
  });

  it('refuses connections past the limit at accept, counted', async () => {
    const held = await Promise.all(
      Array.from({ length: limits.maxConnections }, async () => {
        const socket = connect(listener.port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        return socket;
      }),
    );
    const extra = connect(listener.port, '127.0.0.1');
    await new Promise((resolve) => extra.once('close', resolve));
    expect(await counted('gridhub_device_http_refusals_total')).toContain('reason="connections"} 1');
    for (const socket of held) socket.destroy();
  });

  it('stops with devices’ kept-alive connections still open', async () => {
    const socket = connect(listener.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const started = Date.now();
    await listener.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(listener.port).toBe(0);
    socket.destroy();
  });
});
