import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkSchema } from '../../src/config/schema.ts';
import { AddressPolicy, OutboundGuard, OutboundRefused } from '../../src/net/outbound-address.ts';
import { outboundGuardMetrics } from '../../src/net/outbound-metrics.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { LogCapture } from '../helpers/hub.ts';

const defaults = new AddressPolicy(networkSchema.parse({}).outbound);

describe('the outbound address policy', () => {
  it('by default lets cameras be on private networks only, and webhooks anywhere but the special ranges', () => {
    for (const address of ['10.1.2.3', '172.20.0.9', '192.168.1.64', 'fd12:3456::7'])
      expect(defaults.refusalOf(address, 'onvif'), address).toBeUndefined();
    expect(defaults.refusalOf('203.0.113.9', 'snapshot')).toBe('not_allowed');
    expect(defaults.refusalOf('100.64.1.1', 'stream')).toBe('not_allowed');
    expect(defaults.refusalOf('203.0.113.9', 'webhook')).toBeUndefined();
    expect(defaults.refusalOf('2001:db8::1', 'webhook')).toBeUndefined();
    expect(defaults.refusalOf('10.0.0.5', 'webhook')).toBeUndefined();
    // Carrier-grade NAT space is neither private nor public: clouds keep services there.
    expect(defaults.refusalOf('100.100.1.1', 'webhook')).toBe('not_allowed');
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.10.20', 'link_local'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
  ])('refuses %s as %s, for cameras and webhooks alike', (address, reason) => {
    expect(defaults.refusalOf(address, 'onvif')).toBe(reason);
    expect(defaults.refusalOf(address, 'webhook')).toBe(reason);
  });

  it('lets a special address through only when an entry names a network inside its range', () => {
    const policy = new AddressPolicy({
      cameras: ['0.0.0.0/0', '::/0', '127.0.0.2/32', '169.254.0.0/16'],
      webhooks: ['public', '127.0.0.0/8'],
    });
    expect(policy.refusalOf('127.0.0.2', 'onvif')).toBeUndefined();
    expect(policy.refusalOf('127.0.0.1', 'onvif')).toBe('loopback');
    expect(policy.refusalOf('::1', 'onvif')).toBe('loopback');
    expect(policy.refusalOf('169.254.3.4', 'stream')).toBeUndefined();
    // Metadata lies inside link-local, but link-local does not name it.
    expect(policy.refusalOf('169.254.169.254', 'stream')).toBe('metadata');
    expect(policy.refusalOf('8.8.8.8', 'onvif')).toBeUndefined();
    expect(policy.refusalOf('::ffff:127.0.0.1', 'webhook')).toBeUndefined();
    expect(policy.refusalOf('10.0.0.1', 'webhook')).toBe('not_allowed');
  });

  it('checks URLs whose host is an address, and their scheme; names wait for resolution', () => {
    expect(defaults.urlProblem('http://127.0.0.1:8080/onvif/device_service', 'onvif')).toBe(
      '127.0.0.1 is a loopback address, not allowed by network.outbound.cameras',
    );
    expect(defaults.urlProblem('http://[::ffff:a9fe:a9fe]/latest/meta-data/', 'webhook')).toBe(
      '::ffff:a9fe:a9fe is a cloud metadata address, not allowed by network.outbound.webhooks',
    );
    expect(defaults.urlProblem('http://2130706433/', 'webhook')).toMatch(/^127\.0\.0\.1 is a loopback/);
    expect(defaults.urlProblem('http://camera.example/', 'onvif')).toBeUndefined();
    expect(defaults.urlProblem('file:///etc/passwd', 'stream')).toBe(
      'the stream URL is not a URL with a host',
    );
    expect(defaults.urlProblem('http://10.0.0.9/stream', 'stream')).toBe(
      'http: is not allowed for stream URLs (allowed: rtsp: rtsps:)',
    );
    expect(defaults.urlProblem('rtsp://10.0.0.9:554/main', 'stream')).toBeUndefined();
  });

  it('explains wrong allow-list entries at their path', () => {
    const parsed = networkSchema.safeParse({
      outbound: { cameras: ['10.0.0.1/8', '10.0.0.0/33', 'everything', '192.168.0.0/16'] },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['outbound.cameras.0', '"10.0.0.1/8" has host bits set: its network is 10.0.0.0/8'],
      ['outbound.cameras.1', '"10.0.0.0/33": the prefix length must be 0 to 32'],
      ['outbound.cameras.2', '"everything" is not a CIDR (e.g. 10.0.0.0/8) nor private nor public'],
    ]);
  });
});

describe('the outbound guard', () => {
  let server: Server;
  let port: number;
  const requests: { host: string | undefined; url: string | undefined }[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push({ host: request.headers.host, url: request.url });
      if (request.url === '/redirect') {
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function guardWith(
    lists: { cameras: string[]; webhooks: string[] },
    lookup?: (host: string) => Promise<{ address: string; family: number }[]>,
  ) {
    const metrics = new MetricsRegistry();
    const logs = new LogCapture();
    const guard = new OutboundGuard({
      policy: new AddressPolicy(lists),
      refusals: outboundGuardMetrics(metrics).refusals,
      logger: pino({ level: 'debug' }, logs),
      ...(lookup === undefined ? {} : { lookup }),
    });
    const refusals = async () =>
      (await outboundGuardMetrics(metrics).refusals.get()).values
        .filter((value) => value.value > 0)
        .map((value) => `${value.labels.purpose}/${value.labels.reason}=${value.value}`);
    return { guard, logs, refusals };
  }

  it('refuses a name that resolves to loopback (localhost), counts it and logs it without credentials', async () => {
    const { guard, logs, refusals } = guardWith({ cameras: ['private'], webhooks: ['public'] });
    const before = requests.length;
    const refused = await guard
      .fetcher('webhook', { webhook: 'ops' })(`http://user:hunter22@localhost:${port}/hook`, {
        method: 'POST',
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OutboundRefused);
    expect((refused as OutboundRefused).reason).toBe('loopback');
    expect((refused as Error).message).toMatch(
      /^refused: localhost \((127\.0\.0\.1|::1)\) is a loopback address, not allowed by network\.outbound\.webhooks$/,
    );
    expect(requests.length).toBe(before);
    expect(await refusals()).toEqual(['webhook/loopback=1']);
    expect(logs.text).toContain('"webhook":"ops"');
    expect(logs.text).toContain('outbound connection refused');
    expect(logs.text).not.toContain('hunter22');
    guard.close();
  });

  it('refuses a name when any one of its addresses is refused', async () => {
    const { guard, refusals } = guardWith({ cameras: ['private'], webhooks: ['public'] }, async () => [
      { address: '203.0.113.7', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ]);
    await expect(guard.check('http://mixed.example/', 'webhook')).rejects.toThrow(/cloud metadata address/);
    expect(await refusals()).toEqual(['webhook/metadata=1']);
  });

  it('connects to the address it checked, so a second DNS answer (rebinding) is never used', async () => {
    let lookups = 0;
    // First answer allowed (the test server), later answers the metadata service.
    const { guard } = guardWith({ cameras: ['127.0.0.1/32'], webhooks: [] }, async () =>
      lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }],
    );
    const response = await guard.fetcher('snapshot')(`http://camera.rebind.example:${port}/snap`, {});
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
    expect(lookups).toBe(1);
    expect(requests.at(-1)).toEqual({ host: `camera.rebind.example:${port}`, url: '/snap' });
    guard.close();
  });

  it('does not follow redirects', async () => {
    const { guard } = guardWith({ cameras: ['127.0.0.1/32'], webhooks: [] });
    const response = await guard.fetcher('snapshot')(`http://127.0.0.1:${port}/redirect`, {});
    expect(response.status).toBe(302);
    expect(requests.at(-1)?.url).toBe('/redirect');
    guard.close();
  });

  it('pins a stream URI to its checked address for ffmpeg, keeping credentials and path', async () => {
    const { guard, refusals } = guardWith({ cameras: ['10.0.0.0/8'], webhooks: [] }, async () => [
      { address: '10.1.2.3', family: 4 },
    ]);
    expect(await guard.pinnedUrl('rtsp://admin:pw@cam-7.lan:554/main?x=1', 'stream')).toBe(
      'rtsp://admin:pw@10.1.2.3:554/main?x=1',
    );
    await expect(guard.pinnedUrl('file:///etc/passwd', 'stream')).rejects.toThrow(/not a URL with a host/);
    await expect(guard.pinnedUrl('http://10.1.2.3/', 'stream')).rejects.toThrow(/http: is not allowed/);
    expect(await refusals()).toEqual(['stream/scheme=1', 'stream/invalid=1']);
  });
});
