import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SipEndpoint, SipTimeoutError, type SipTransport } from '../../src/net/sip/sip-endpoint.ts';
import { newCallId, responseTo, SipHeaders, type SipRequest } from '../../src/net/sip/sip-message.ts';
import { freeSipPort, type SippExit, startSipp } from '../helpers/sipp.ts';

/**
 * Proof against an independent SIP implementation: Debian's SIPp (sip-tester) as a device sending a MESSAGE the
 * endpoint answers, and as a device answering a MESSAGE the endpoint sends, over UDP and TCP.
 */

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

/** Runs SIPp for one call (20 s at most); resolves with its exit code and, when it failed, its error trace. */
function runSipp(
  scenario: string,
  transport: SipTransport,
  port: number,
  remote?: number,
): Promise<SippExit> {
  const sipp = startSipp({
    scenario,
    transport,
    localPort: port,
    ...(remote === undefined ? {} : { remote: `127.0.0.1:${remote}` }),
    timeoutSeconds: 20,
  });
  running.push(sipp);
  return sipp.exit;
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
    const result = await runSipp('core-message-uac.xml', transport, await freeSipPort(), endpoint.port);
    expect(result.errors).not.toMatch(/Aborting call|unexpected/i);
    expect(result.code).toBe(0);
    expect(methods).toEqual(['MESSAGE']);
  }, 30_000);

  it('SIPp answers 200 to a MESSAGE the endpoint sends', async () => {
    const { endpoint } = await startEndpoint();
    const port = await freeSipPort();
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
