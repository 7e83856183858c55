import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SipEndpoint, SipTimeoutError, type SipTransport } from '../../src/net/sip/sip-endpoint.ts';
import { newCallId, responseTo, SipHeaders, type SipRequest } from '../../src/net/sip/sip-message.ts';

/**
 * Proof against an independent SIP implementation: Debian's SIPp (sip-tester) as a device sending a MESSAGE the
 * endpoint answers, and as a device answering a MESSAGE the endpoint sends, over UDP and TCP.
 */

const sipp = '/usr/bin/sipp';
const scenarios = resolve(import.meta.dirname, '../sipp');
const running: { stop(): unknown }[] = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

async function startEndpoint(): Promise<{ endpoint: SipEndpoint; methods: string[] }> {
  const methods: string[] = [];
  const endpoint = new SipEndpoint({
    host: '127.0.0.1',
    port: 0,
    udp: true,
    tcp: true,
    limits: { maxMessageBytes: 65_536, maxHeaders: 64, maxConnections: 8, idleMs: 30_000 },
    onRequest: (request, context) => {
      methods.push(request.method);
      context.respond(responseTo(request, 200));
    },
    onProblem: () => undefined,
    logger: pino({ level: 'silent' }),
    name: 'sipp-test',
  });
  running.push(endpoint);
  await endpoint.start();
  return { endpoint, methods };
}

/** A port free for both TCP and UDP right now (SIPp binds its own and has no "pick one" option that reports it). */
async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((done) => server.close(() => done()));
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((done) => {
      udp.once('error', () => done(false));
      udp.bind(port, '127.0.0.1', () => done(true));
    });
    await new Promise<void>((done) => udp.close(() => done()));
    if (free) return port;
  }
}

/** Runs SIPp for one call; resolves with its exit code and, when it failed, its error trace. */
async function runSipp(
  scenario: string,
  transport: SipTransport,
  port: number,
  remote?: number,
): Promise<{ code: number | null; errors: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'gridhub-sipp-'));
  const args = [
    ...(remote === undefined ? [] : [`127.0.0.1:${remote}`]),
    '-sf',
    join(scenarios, scenario),
    '-t',
    transport === 'udp' ? 'u1' : 't1',
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-m',
    '1',
    '-timeout',
    '20s',
    '-timeout_error',
    '-trace_err',
    '-nostdin',
  ];
  const child = spawn(sipp, args, { cwd: directory, stdio: ['ignore', 'ignore', 'pipe'] });
  running.push({ stop: () => child.exitCode === null && child.kill() });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
  const traces = await Promise.all(
    (await readdir(directory)).map((name) => readFile(join(directory, name), 'utf8')),
  );
  await rm(directory, { recursive: true, force: true });
  return { code, errors: `${stderr}\n${traces.join('\n')}` };
}

function catalogQuery(port: number): SipRequest {
  return {
    kind: 'request',
    method: 'MESSAGE',
    uri: `sip:34020000001320000001@127.0.0.1:${port}`,
    headers: new SipHeaders([
      ['from', '<sip:34020000002000000001@3402000000>;tag=hub1'],
      ['to', '<sip:34020000001320000001@3402000000>'],
      ['call-id', newCallId('127.0.0.1')],
      ['cseq', '1 MESSAGE'],
      ['content-type', 'Application/MANSCDP+xml'],
    ]),
    body: Buffer.from(
      `<?xml version="1.0" encoding="GB2312"?>\r\n<Query>\r\n<CmdType>Catalog</CmdType>\r\n<SN>7</SN>\r\n` +
        `<DeviceID>34020000001320000001</DeviceID>\r\n</Query>\r\n`,
    ),
  };
}

describe.each(['udp', 'tcp'] as const)('SIPp against the SIP endpoint over %s', (transport) => {
  it('SIPp sends a MESSAGE the endpoint answers 200', async () => {
    const { endpoint, methods } = await startEndpoint();
    const result = await runSipp('core-message-uac.xml', transport, await freePort(), endpoint.port);
    expect(result.errors).not.toMatch(/Aborting call|unexpected/i);
    expect(result.code).toBe(0);
    expect(methods).toEqual(['MESSAGE']);
  }, 30_000);

  it('SIPp answers 200 to a MESSAGE the endpoint sends', async () => {
    const { endpoint } = await startEndpoint();
    const port = await freePort();
    const sipping = runSipp('core-message-uas.xml', transport, port);
    const peer = { transport, address: '127.0.0.1', port };
    // SIPp takes a moment to listen: UDP retransmits over it, a TCP connection refused is tried again.
    let response: Awaited<ReturnType<SipEndpoint['request']>> | undefined;
    for (let attempt = 0; response === undefined; attempt++) {
      try {
        response = await endpoint.request(catalogQuery(port), peer, { timeoutMs: 15_000 });
      } catch (error) {
        if (!(error instanceof SipTimeoutError) || transport === 'udp' || attempt >= 40) throw error;
        await new Promise((done) => setTimeout(done, 250));
      }
    }
    expect(response.status).toBe(200);
    expect(response.headers.get('to')).toMatch(/;tag=/);
    const result = await sipping;
    expect(result.errors).not.toMatch(/Aborting call|unexpected/i);
    expect(result.code).toBe(0);
  }, 30_000);
});
