import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SipEndpoint,
  type SipEndpointOptions,
  type SipInputProblem,
  type SipPeer,
  type SipRequestContext,
  SipTimeoutError,
} from '../../src/net/sip/sip-endpoint.ts';
import {
  newBranch,
  newCallId,
  parseSipMessage,
  readVia,
  responseTo,
  SipHeaders,
  type SipMessage,
  type SipRequest,
  serializeSipMessage,
} from '../../src/net/sip/sip-message.ts';
import { SipStreamReader } from '../../src/net/sip/sip-stream.ts';

const limits = { maxMessageBytes: 4096, maxHeaders: 64, maxConnections: 8, idleMs: 30_000 };
const running: { stop(): unknown }[] = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

interface Harness {
  readonly endpoint: SipEndpoint;
  readonly requests: { request: SipRequest; context: SipRequestContext }[];
  readonly problems: SipInputProblem[];
}

/** An endpoint on loopback; by default it answers every request 200, `answer` decides otherwise. */
async function startEndpoint(
  overrides: Partial<SipEndpointOptions> = {},
  answer: (request: SipRequest, context: SipRequestContext) => void = (request, context) =>
    context.respond(responseTo(request, 200)),
): Promise<Harness> {
  const requests: Harness['requests'] = [];
  const problems: SipInputProblem[] = [];
  const endpoint = new SipEndpoint({
    host: '127.0.0.1',
    port: 0,
    udp: true,
    tcp: true,
    limits,
    onRequest: (request, context) => {
      requests.push({ request, context });
      answer(request, context);
    },
    onProblem: (problem) => problems.push(problem),
    logger: pino({ level: 'silent' }),
    name: 'test',
    ...overrides,
  });
  running.push(endpoint);
  await endpoint.start();
  return { endpoint, requests, problems };
}

function message(method: string, options: { branch?: string; via?: string; body?: string } = {}): SipRequest {
  const branch = options.branch ?? newBranch();
  const headers = new SipHeaders([
    ...(options.via === undefined ? [] : [['via', `${options.via};rport;branch=${branch}`] as const]),
    ['from', '<sip:34020000001320000001@3402000000>;tag=1'],
    ['to', '<sip:34020000002000000001@3402000000>'],
    ['call-id', newCallId('127.0.0.1')],
    ['cseq', `1 ${method}`],
    ['content-type', 'Application/MANSCDP+xml'],
  ]);
  return {
    kind: 'request',
    method,
    uri: 'sip:34020000002000000001@3402000000',
    headers,
    body: Buffer.from(options.body ?? '<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType></Notify>'),
  };
}

/** A raw UDP peer: collects what it receives, in order. */
async function udpPeer(): Promise<{
  socket: UdpSocket;
  port: number;
  next: () => Promise<{ bytes: Buffer; port: number }>;
}> {
  const socket = createSocket('udp4');
  const queue: { bytes: Buffer; port: number }[] = [];
  const waiting: ((item: { bytes: Buffer; port: number }) => void)[] = [];
  socket.on('message', (bytes, remote) => {
    const item = { bytes, port: remote.port };
    const waiter = waiting.shift();
    if (waiter === undefined) queue.push(item);
    else waiter(item);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  running.push({ stop: () => new Promise<void>((resolve) => socket.close(() => resolve())) });
  const next = () => {
    const item = queue.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<{ bytes: Buffer; port: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('nothing received in 10 s')), 10_000);
      waiting.push((received) => {
        clearTimeout(timer);
        resolve(received);
      });
    });
  };
  return { socket, port: (socket.address() as { port: number }).port, next };
}

/** A raw TCP peer connected to `port`: the messages it receives, framed like the endpoint frames them. */
async function tcpPeer(
  port: number,
): Promise<{ socket: Socket; next: () => Promise<SipMessage>; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  running.push({ stop: () => socket.destroy() });
  const queue: SipMessage[] = [];
  const waiting: ((message: SipMessage) => void)[] = [];
  const reader = new SipStreamReader(
    limits,
    (bytes) => {
      const parsed = parseSipMessage(bytes);
      const waiter = waiting.shift();
      if (waiter === undefined) queue.push(parsed);
      else waiter(parsed);
    },
    () => undefined,
  );
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const next = () => {
    const item = queue.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<SipMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('nothing received in 10 s')), 10_000);
      waiting.push((received) => {
        clearTimeout(timer);
        resolve(received);
      });
    });
  };
  return { socket, next, closed };
}

const until = async (condition: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('SipEndpoint over UDP', () => {
  it('answers a request at the address and port it came from, the top Via marked with received and rport', async () => {
    const { endpoint, requests } = await startEndpoint();
    const peer = await udpPeer();
    peer.socket.send(
      serializeSipMessage(message('MESSAGE', { via: `SIP/2.0/UDP 10.9.9.9:5060` })),
      endpoint.port,
      '127.0.0.1',
    );
    const answer = parseSipMessage((await peer.next()).bytes);
    expect(answer.kind === 'response' && answer.status).toBe(200);
    expect(readVia(answer.headers.get('via') as string)).toMatchObject({
      rport: peer.port,
      received: '127.0.0.1',
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.context.peer).toEqual({ transport: 'udp', address: '127.0.0.1', port: peer.port });
    expect(endpoint.health()).toMatchObject({ state: 'up', udp: true, tcp: true, port: endpoint.port });
  });

  it('absorbs a retransmission while answering, and answers a later one with the same response', async () => {
    // Only the first request is answered, when the test says so.
    const pending: (() => void)[] = [];
    const { endpoint, requests } = await startEndpoint({}, (request, context) => {
      pending.push(() => context.respond(responseTo(request, 200, undefined, { toTag: 'once' })));
    });
    const peer = await udpPeer();
    const bytes = serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/UDP 127.0.0.1:1' }));
    peer.socket.send(bytes, endpoint.port, '127.0.0.1');
    await until(() => requests.length === 1);
    peer.socket.send(bytes, endpoint.port, '127.0.0.1');
    peer.socket.send(bytes, endpoint.port, '127.0.0.1');
    // A request after the retransmissions: once it arrives, they have been read (and absorbed).
    peer.socket.send(
      serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/UDP 127.0.0.1:1' })),
      endpoint.port,
      '127.0.0.1',
    );
    await until(() => requests.length === 2);
    pending[0]?.();
    const first = (await peer.next()).bytes;
    peer.socket.send(bytes, endpoint.port, '127.0.0.1');
    const again = (await peer.next()).bytes;
    expect(again.equals(first)).toBe(true);
    expect(parseSipMessage(again).headers.get('to')).toContain('tag=once');
    expect(requests).toHaveLength(2);
  });

  it('retransmits a request whose first datagram was lost, and resolves with the final response (1xx skipped)', async () => {
    const { endpoint } = await startEndpoint({ timers: { t1Ms: 100, t2Ms: 400, timeoutMs: 8000 } });
    const peer = await udpPeer();
    const sent = endpoint.request(message('MESSAGE'), {
      transport: 'udp',
      address: '127.0.0.1',
      port: peer.port,
    });
    const lost = parseSipMessage((await peer.next()).bytes);
    const second = await peer.next();
    const request = parseSipMessage(second.bytes) as SipRequest;
    expect(second.bytes.equals(serializeSipMessage(lost))).toBe(true);
    expect(request.headers.get('max-forwards')).toBe('70');
    const via = readVia(request.headers.get('via') as string);
    expect(via).toMatchObject({ transport: 'UDP', host: '127.0.0.1', port: endpoint.port, rport: true });
    expect(via.branch).toMatch(/^z9hG4bK/);
    peer.socket.send(serializeSipMessage(responseTo(request, 100)), second.port, '127.0.0.1');
    peer.socket.send(serializeSipMessage(responseTo(request, 202)), second.port, '127.0.0.1');
    const response = await sent;
    expect(response.status).toBe(202);
    expect(endpoint.health()).toMatchObject({ pendingRequests: 0 });
  });

  it('gives up with SipTimeoutError when no response comes, having retransmitted', async () => {
    const { endpoint } = await startEndpoint({ timers: { t1Ms: 100, t2Ms: 400, timeoutMs: 3000 } });
    const peer = await udpPeer();
    let datagrams = 0;
    peer.socket.on('message', () => datagrams++);
    await expect(
      endpoint.request(message('MESSAGE'), { transport: 'udp', address: '127.0.0.1', port: peer.port }),
    ).rejects.toBeInstanceOf(SipTimeoutError);
    // 0, 100, 300, 700, 1100, 1500 ms...: at least three are sent in 3 s however slow the machine.
    expect(datagrams).toBeGreaterThanOrEqual(3);
  });

  it('drops a response matching no request, and stop() rejects what is pending', async () => {
    const { endpoint } = await startEndpoint({ timers: { t1Ms: 100, t2Ms: 400, timeoutMs: 30_000 } });
    const peer = await udpPeer();
    const stray = message('MESSAGE', { via: `SIP/2.0/UDP 127.0.0.1:${endpoint.port}` });
    peer.socket.send(serializeSipMessage(responseTo(stray, 200)), endpoint.port, '127.0.0.1');
    const sent = endpoint.request(message('MESSAGE'), {
      transport: 'udp',
      address: '127.0.0.1',
      port: peer.port,
    });
    await peer.next();
    expect(endpoint.health()).toMatchObject({ pendingRequests: 1 });
    await endpoint.stop();
    await expect(sent).rejects.toBeInstanceOf(SipTimeoutError);
    expect(endpoint.port).toBe(0);
  });

  it('counts garbage and oversized datagrams through onProblem and goes on answering', async () => {
    const { endpoint, problems, requests } = await startEndpoint();
    const peer = await udpPeer();
    peer.socket.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), endpoint.port, '127.0.0.1');
    peer.socket.send(Buffer.alloc(5000, 0x41), endpoint.port, '127.0.0.1');
    peer.socket.send(Buffer.from('\r\n\r\n'), endpoint.port, '127.0.0.1');
    peer.socket.send(
      serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/UDP 127.0.0.1:1' })),
      endpoint.port,
      '127.0.0.1',
    );
    const answer = parseSipMessage((await peer.next()).bytes);
    expect(answer.kind === 'response' && answer.status).toBe(200);
    expect(requests).toHaveLength(1);
    expect(
      problems.map(({ kind, bytes, peer: from }) => ({ kind, bytes, transport: from.transport })),
    ).toEqual([
      { kind: 'malformed', bytes: 27, transport: 'udp' },
      { kind: 'oversized', bytes: 5000, transport: 'udp' },
    ]);
    expect(problems[0]?.problem).toBe('the start line is neither a request line nor a status line');
  });

  it('answers 500 when the request handler throws', async () => {
    const { endpoint } = await startEndpoint({}, () => {
      throw new Error('handler broke');
    });
    const peer = await udpPeer();
    peer.socket.send(
      serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/UDP 127.0.0.1:1' })),
      endpoint.port,
      '127.0.0.1',
    );
    const answer = parseSipMessage((await peer.next()).bytes);
    expect(answer.kind === 'response' && answer.status).toBe(500);
  });
});

describe('SipEndpoint with one transport', () => {
  it('a TCP-only endpoint binds no UDP and refuses to send over it; a UDP-only one answers', async () => {
    const tcpOnly = await startEndpoint({ udp: false });
    expect(tcpOnly.endpoint.health()).toMatchObject({ udp: false, tcp: true });
    await expect(
      tcpOnly.endpoint.request(message('MESSAGE'), { transport: 'udp', address: '127.0.0.1', port: 9 }),
    ).rejects.toThrow(/no UDP socket/);
    const udpOnly = await startEndpoint({ tcp: false });
    expect(udpOnly.endpoint.health()).toMatchObject({ udp: true, tcp: false });
    const peer = await udpPeer();
    const request = serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/UDP 127.0.0.1:1' }));
    peer.socket.send(request, udpOnly.endpoint.port, '127.0.0.1');
    const answer = parseSipMessage((await peer.next()).bytes);
    expect(answer.kind === 'response' && answer.status).toBe(200);
  });
});

describe('SipEndpoint over TCP', () => {
  it('answers on the connection, then sends its own request back over the same connection', async () => {
    const { endpoint, requests } = await startEndpoint();
    const device = await tcpPeer(endpoint.port);
    device.socket.write(serializeSipMessage(message('REGISTER', { via: 'SIP/2.0/TCP 10.1.1.1:5060' })));
    const answer = await device.next();
    expect(answer.kind === 'response' && answer.status).toBe(200);
    const from = requests[0]?.context.peer as SipPeer;
    expect(from).toEqual({ transport: 'tcp', address: '127.0.0.1', port: device.socket.localPort });

    const sent = endpoint.request(
      message('MESSAGE', { body: '<Query><CmdType>Catalog</CmdType></Query>' }),
      from,
    );
    const query = (await device.next()) as SipRequest;
    expect(query.kind).toBe('request');
    expect(query.body.toString()).toBe('<Query><CmdType>Catalog</CmdType></Query>');
    expect(readVia(query.headers.get('via') as string).transport).toBe('TCP');
    device.socket.write(serializeSipMessage(responseTo(query, 200)));
    expect((await sent).status).toBe(200);
    expect(endpoint.health()).toMatchObject({ connections: 1 });
  });

  it('answers an RFC 5626 double-CRLF ping with a CRLF pong', async () => {
    const { endpoint } = await startEndpoint();
    const device = connect({ host: '127.0.0.1', port: endpoint.port });
    running.push({ stop: () => device.destroy() });
    const pong = new Promise<Buffer>((done) => device.once('data', done));
    device.write('\r\n\r\n');
    expect((await pong).toString()).toBe('\r\n');
  });

  it('opens a connection to a peer it has none with, and reuses it', async () => {
    const { endpoint } = await startEndpoint();
    const other = await startEndpoint();
    const to: SipPeer = { transport: 'tcp', address: '127.0.0.1', port: other.endpoint.port };
    expect((await endpoint.request(message('MESSAGE'), to)).status).toBe(200);
    expect((await endpoint.request(message('MESSAGE'), to)).status).toBe(200);
    expect(other.requests.map(({ request }) => request.method)).toEqual(['MESSAGE', 'MESSAGE']);
    expect(new Set(other.requests.map(({ context }) => context.peer.port)).size).toBe(1);
    expect(endpoint.health()).toMatchObject({ connections: 1 });
  });

  it('counts a garbage message and keeps the connection; closes it on an oversized one', async () => {
    const { endpoint, problems } = await startEndpoint();
    const device = await tcpPeer(endpoint.port);
    device.socket.write('hello there\r\n\r\n');
    device.socket.write(serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/TCP 127.0.0.1:1' })));
    const answer = await device.next();
    expect(answer.kind === 'response' && answer.status).toBe(200);
    device.socket.write('MESSAGE sip:x@y SIP/2.0\r\nContent-Length: 100000\r\n\r\n');
    await device.closed;
    expect(problems.map(({ kind, problem }) => ({ kind, problem }))).toEqual([
      { kind: 'malformed', problem: 'the start line is neither a request line nor a status line' },
      { kind: 'oversized', problem: expect.stringMatching(/over the 4096-byte limit$/) },
    ]);
    const again = await tcpPeer(endpoint.port);
    again.socket.write(serializeSipMessage(message('MESSAGE', { via: 'SIP/2.0/TCP 127.0.0.1:1' })));
    const second = await again.next();
    expect(second.kind === 'response' && second.status).toBe(200);
  });

  it('closes an idle connection and fails the requests pending on it', async () => {
    const { endpoint } = await startEndpoint({ limits: { ...limits, idleMs: 1000 } });
    const device = await tcpPeer(endpoint.port);
    device.socket.write(serializeSipMessage(message('REGISTER', { via: 'SIP/2.0/TCP 127.0.0.1:1' })));
    await device.next();
    await until(() => endpoint.health().connections === 1);
    const peer: SipPeer = { transport: 'tcp', address: '127.0.0.1', port: device.socket.localPort as number };
    const sent = endpoint.request(message('MESSAGE'), peer);
    await device.next();
    await expect(sent).rejects.toBeInstanceOf(SipTimeoutError);
    await device.closed;
    expect(endpoint.health()).toMatchObject({ connections: 0 });
  });
});
