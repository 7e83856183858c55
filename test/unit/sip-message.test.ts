import { describe, expect, it } from 'vitest';
import {
  newBranch,
  newCallId,
  newTag,
  parseSipMessage,
  readCSeq,
  readNameAddr,
  readSipUri,
  readVia,
  responseTo,
  SipHeaders,
  SipParseError,
  type SipRequest,
  serializeSipMessage,
  splitHeaderValues,
} from '../../src/net/sip/sip-message.ts';
import { SipStreamReader } from '../../src/net/sip/sip-stream.ts';

/** A keepalive as a Hikvision NVR sends it (GB/T 28181-2016 §9.6): 20-digit ids, rport, MANSCDP body. */
const keepaliveBody =
  '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>43</SN>\r\n' +
  '<DeviceID>34020000001180000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n';
const keepalive = [
  'MESSAGE sip:34020000002000000001@3402000000 SIP/2.0',
  'Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1953717574',
  'From: <sip:34020000001180000001@3402000000>;tag=1093286485',
  'To: <sip:34020000002000000001@3402000000>',
  'Call-ID: 1421537245',
  'CSeq: 20 MESSAGE',
  'Content-Type: Application/MANSCDP+xml',
  'Max-Forwards: 70',
  'User-Agent: IP Camera',
  `Content-Length:   ${Buffer.byteLength(keepaliveBody)}`,
  '',
  keepaliveBody,
].join('\r\n');

function parse(text: string) {
  return parseSipMessage(Buffer.from(text, 'utf8'));
}

function problemOf(text: string | Buffer, limits?: { maxMessageBytes: number; maxHeaders: number }): string {
  try {
    parseSipMessage(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(SipParseError);
    return (error as SipParseError).problem;
  }
  throw new Error('parsed');
}

const minimal = (startLine: string, extra: string[] = [], body = '') =>
  [
    startLine,
    'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc',
    'From: <sip:a@b>;tag=1',
    'To: <sip:c@d>',
    'Call-ID: x',
    'CSeq: 1 MESSAGE',
    ...extra,
    '',
    body,
  ].join('\r\n');

describe('parseSipMessage', () => {
  it('reads a GB/T 28181 keepalive MESSAGE', () => {
    const message = parse(keepalive);
    expect(message.kind).toBe('request');
    if (message.kind !== 'request') return;
    expect(message.method).toBe('MESSAGE');
    expect(message.uri).toBe('sip:34020000002000000001@3402000000');
    expect(message.headers.get('content-type')).toBe('Application/MANSCDP+xml');
    expect(message.headers.get('Call-ID')).toBe('1421537245');
    expect(message.body.toString('utf8')).toBe(keepaliveBody);
    expect(readCSeq(message)).toEqual({ seq: 20, method: 'MESSAGE' });
    const via = readVia(message.headers.get('via') as string);
    expect(via).toEqual({
      transport: 'UDP',
      host: '192.168.1.64',
      port: 5060,
      branch: 'z9hG4bK1953717574',
      rport: true,
    });
    const from = readNameAddr(message.headers.get('from') as string);
    expect(readSipUri(from.uri)?.user).toBe('34020000001180000001');
    expect(from.params.get('tag')).toBe('1093286485');
  });

  it('takes header names in any case, compact forms, folded lines and bare LF line ends', () => {
    const text = [
      'REGISTER sip:34020000002000000001@3402000000 SIP/2.0',
      'v: SIP/2.0/TCP 10.1.1.2:5060;rport;branch=z9hG4bK1',
      'f: <sip:34020000001320000001@3402000000>;tag=9',
      't: <sip:34020000001320000001@3402000000>',
      'i: 77',
      'CSEQ: 1 REGISTER',
      'contact: <sip:34020000001320000001@10.1.1.2:5060>',
      'EXPIRES: 3600',
      'Subject: first line,',
      '\tsecond line',
      'l: 0',
      '',
      '',
    ].join('\n');
    const message = parse(text);
    expect(message.headers.get('Via')).toContain('SIP/2.0/TCP');
    expect(message.headers.get('from')).toContain('tag=9');
    expect(message.headers.get('call-id')).toBe('77');
    expect(message.headers.get('expires')).toBe('3600');
    expect(message.headers.get('m')).toBe('<sip:34020000001320000001@10.1.1.2:5060>');
    expect(message.headers.get('subject')).toBe('first line, second line');
    expect(message.body.length).toBe(0);
    expect([...message.headers.entries()].map(([name]) => name)).toContain('contact');
  });

  it('takes the rest of a datagram as the body without Content-Length, and drops what exceeds it', () => {
    expect(parse(minimal('MESSAGE sip:x@y SIP/2.0', [], 'hello')).body.toString()).toBe('hello');
    expect(parse(minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: 3'], 'hello')).body.toString()).toBe(
      'hel',
    );
    expect(parse(minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: 0'])).body.length).toBe(0);
  });

  it('skips CRLFs before the start line and reads responses', () => {
    const message = parse(
      `\r\n\r\n${minimal('SIP/2.0 401 Unauthorized', ['WWW-Authenticate: Digest realm="x"'])}`,
    );
    expect(message.kind).toBe('response');
    if (message.kind !== 'response') return;
    expect(message.status).toBe(401);
    expect(message.reason).toBe('Unauthorized');
    expect(message.headers.get('www-authenticate')).toBe('Digest realm="x"');
  });

  it.each([
    ['garbage', 'hello there\r\n\r\n', 'the start line is neither a request line nor a status line'],
    ['a wrong version', minimal('MESSAGE sip:x@y SIP/3.0'), 'not SIP/2.0'],
    [
      'a status line without a code',
      minimal('SIP/2.0 OK'),
      'the start line is neither a request line nor a status line',
    ],
    ['a status out of range', minimal('SIP/2.0 099 Odd'), 'status code outside 100..699'],
    [
      'a header line without a colon',
      minimal('MESSAGE sip:x@y SIP/2.0', ['Broken header']),
      'a header line is not "name: value"',
    ],
    [
      'a header name with a space',
      minimal('MESSAGE sip:x@y SIP/2.0', ['Bad Name: 1']),
      'a header line is not "name: value"',
    ],
    [
      'a fold before any header',
      'MESSAGE sip:x@y SIP/2.0\r\n folded\r\n\r\n',
      'a folded line continues no header',
    ],
    ['no end of headers', 'MESSAGE sip:x@y SIP/2.0\r\nVia: x', 'no empty line ends the headers'],
    [
      'a bad CSeq',
      minimal('MESSAGE sip:x@y SIP/2.0').replace('CSeq: 1 MESSAGE', 'CSeq: one MESSAGE'),
      'CSeq is not "number method"',
    ],
    [
      "a CSeq method not the request's",
      minimal('NOTIFY sip:x@y SIP/2.0'),
      'the CSeq method differs from the request method',
    ],
    [
      'a bad Content-Length',
      minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: -1']),
      'Content-Length is not a number',
    ],
    [
      'conflicting Content-Lengths',
      minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: 1', 'l: 2'], 'ab'),
      'conflicting Content-Length headers',
    ],
    [
      'a body short of Content-Length',
      minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: 10'], 'abc'),
      'the body is shorter than its Content-Length (3 < 10)',
    ],
  ])('refuses %s', (_name, text, problem) => {
    expect(problemOf(text)).toBe(problem);
  });

  it.each(['Via', 'From', 'To', 'Call-ID', 'CSeq'])('refuses a message without %s', (name) => {
    const text = minimal('MESSAGE sip:x@y SIP/2.0')
      .split('\r\n')
      .filter((line) => !line.startsWith(`${name}:`))
      .join('\r\n');
    expect(problemOf(text)).toBe(`no ${name} header`);
  });

  it('refuses more headers than the limit and a message over the size limit', () => {
    const many = Array.from({ length: 10 }, (_, index) => `X-H${index}: ${index}`);
    expect(
      problemOf(minimal('MESSAGE sip:x@y SIP/2.0', many), { maxMessageBytes: 65536, maxHeaders: 12 }),
    ).toBe('more than 12 headers');
    expect(problemOf(Buffer.alloc(2000, 0x41), { maxMessageBytes: 1000, maxHeaders: 64 })).toBe(
      'message of 2000 bytes, over the 1000-byte limit',
    );
  });

  it('never quotes the sender in a problem', () => {
    const secret = 'S3CR3T-payload';
    expect(problemOf(`${secret} ${secret}\r\n\r\n`)).not.toContain(secret);
  });
});

describe('serializeSipMessage and responseTo', () => {
  it('answers a request with its Vias, From, To with a tag, Call-ID and CSeq, and round-trips', () => {
    const request = parse(
      keepalive.replace('Via: SIP', 'Via: SIP/2.0/UDP proxy:5060;branch=z9hG4bKp\r\nVia: SIP'),
    ) as SipRequest;
    const response = responseTo(request, 200, undefined, {
      headers: [['user-agent', 'gridhub']],
      body: Buffer.from('<x/>'),
      contentType: 'Application/MANSCDP+xml',
      toTag: 'abc',
    });
    expect(response.reason).toBe('OK');
    const bytes = serializeSipMessage(response);
    const text = bytes.toString('utf8');
    expect(
      text.startsWith(
        'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP proxy:5060;branch=z9hG4bKp\r\nVia: SIP/2.0/UDP 192.168.1.64',
      ),
    ).toBe(true);
    expect(text).toContain('\r\nTo: <sip:34020000002000000001@3402000000>;tag=abc\r\n');
    expect(text).toContain('\r\nCall-ID: 1421537245\r\nCSeq: 20 MESSAGE\r\nUser-Agent: gridhub\r\n');
    expect(text).toContain('\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 4\r\n\r\n<x/>');
    const again = parseSipMessage(bytes);
    expect(again.kind === 'response' && again.status).toBe(200);
    expect(again.headers.getAll('via')).toHaveLength(2);
    expect(again.body.toString()).toBe('<x/>');
  });

  it('keeps an existing To tag, adds none to a 100, and makes one up when not given', () => {
    const request = parse(minimal('MESSAGE sip:x@y SIP/2.0')) as SipRequest;
    expect(responseTo(request, 100).headers.get('to')).toBe('<sip:c@d>');
    expect(responseTo(request, 404).headers.get('to')).toMatch(/^<sip:c@d>;tag=[0-9a-f]+$/);
    const tagged = parse(
      minimal('MESSAGE sip:x@y SIP/2.0').replace('To: <sip:c@d>', 'To: <sip:c@d>;tag=7'),
    ) as SipRequest;
    expect(responseTo(tagged, 200).headers.get('to')).toBe('<sip:c@d>;tag=7');
  });

  it('sets Content-Length from the body, whatever the headers said', () => {
    const request = parse(minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: 2'], 'ab')) as SipRequest;
    const text = serializeSipMessage({ ...request, body: Buffer.from('abcd') }).toString();
    expect(text.match(/Content-Length/g)).toHaveLength(1);
    expect(text.endsWith('Content-Length: 4\r\n\r\nabcd')).toBe(true);
  });
});

describe('header helpers', () => {
  it('SipHeaders: case-insensitive, compact forms, ordered set/append/delete, clone independent', () => {
    const headers = new SipHeaders([
      ['Via', 'a'],
      ['v', 'b'],
      ['X-Thing', '1'],
    ]);
    expect(headers.getAll('VIA')).toEqual(['a', 'b']);
    headers.set('via', 'c');
    expect([...headers.entries()]).toEqual([
      ['via', 'c'],
      ['x-thing', '1'],
    ]);
    const copy = headers.clone().append('i', 'call');
    expect(copy.get('call-id')).toBe('call');
    expect(headers.has('call-id')).toBe(false);
    headers.delete('X-THING');
    expect(headers.has('x-thing')).toBe(false);
  });

  it('readNameAddr: quoted display names, bare URIs with header parameters', () => {
    expect(readNameAddr('"Gate \\"A\\"" <sip:34020000001320000001@3402000000>;tag=5')).toEqual({
      display: 'Gate "A"',
      uri: 'sip:34020000001320000001@3402000000',
      params: new Map([['tag', '5']]),
    });
    expect(readNameAddr('sip:a@b;tag=9')).toEqual({ uri: 'sip:a@b', params: new Map([['tag', '9']]) });
  });

  it('readSipUri: user, host, port, IPv6, params; undefined for other schemes', () => {
    expect(readSipUri('sip:34020000001320000001@192.168.1.64:5060;transport=tcp')).toEqual({
      user: '34020000001320000001',
      host: '192.168.1.64',
      port: 5060,
      params: new Map([['transport', 'tcp']]),
    });
    expect(readSipUri('sip:3402000000')).toEqual({ host: '3402000000', params: new Map() });
    expect(readSipUri('sips:u:pw@[::1]:5061')).toEqual({
      user: 'u',
      host: '::1',
      port: 5061,
      params: new Map(),
    });
    expect(readSipUri('tel:+86123')).toBeUndefined();
    expect(readSipUri('sip:a@host:99999')).toBeUndefined();
  });

  it('readVia: rport with a value, received, several Vias in one header', () => {
    expect(
      readVia('SIP/2.0/udp 10.0.0.9;rport=5061;received=1.2.3.4;branch=z9hG4bKx, SIP/2.0/TCP other'),
    ).toEqual({
      transport: 'UDP',
      host: '10.0.0.9',
      branch: 'z9hG4bKx',
      rport: 5061,
      received: '1.2.3.4',
    });
    expect(splitHeaderValues('"a, b" <sip:x>, <sip:y>')).toEqual(['"a, b" <sip:x>', '<sip:y>']);
  });

  it('new branches carry the magic cookie; tags and Call-IDs are distinct', () => {
    expect(newBranch()).toMatch(/^z9hG4bK[0-9a-f]{24}$/);
    expect(newTag()).not.toBe(newTag());
    expect(newCallId('10.0.0.1')).toMatch(/^[0-9a-f]{24}@10\.0\.0\.1$/);
  });
});

describe('SipStreamReader', () => {
  const limits = { maxMessageBytes: 2048, maxHeaders: 64 };

  it('cuts messages by Content-Length across chunks, skipping CRLF keep-alives', () => {
    const one = Buffer.from(keepalive);
    const two = Buffer.from(minimal('MESSAGE sip:x@y SIP/2.0', ['l: 0']));
    const stream = Buffer.concat([
      Buffer.from('\r\n\r\n'),
      one,
      Buffer.from('\r\n\r\n'),
      two,
      Buffer.from('\r\n\r\n'),
    ]);
    const messages: Buffer[] = [];
    const problems: string[] = [];
    const reader = new SipStreamReader(
      limits,
      (bytes) => messages.push(bytes),
      (problem) => problems.push(problem),
    );
    for (let at = 0; at < stream.length; at += 7) reader.push(stream.subarray(at, at + 7));
    expect(problems).toEqual([]);
    expect(messages.map((bytes) => bytes.toString())).toEqual([one.toString(), two.toString()]);
    expect(parseSipMessage(messages[0] as Buffer).body.toString()).toBe(keepaliveBody);
  });

  it('reports an oversized message and stops', () => {
    const problems: [string, string][] = [];
    const reader = new SipStreamReader(
      limits,
      () => undefined,
      (problem, kind) => problems.push([problem, kind]),
    );
    reader.push(Buffer.from(minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: 5000'])));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.[0]).toMatch(/^a message of 5\d{3} bytes, over the 2048-byte limit$/);
    expect(problems[0]?.[1]).toBe('oversized');
    expect(reader.broken).toBe(true);
  });

  it('reports endless headers and a bad Content-Length', () => {
    const problems: string[] = [];
    const reader = new SipStreamReader(
      limits,
      () => undefined,
      (problem) => problems.push(problem),
    );
    reader.push(Buffer.alloc(3000, 0x41));
    expect(problems).toEqual(['no end of headers within 2048 bytes']);
    const other = new SipStreamReader(
      limits,
      () => undefined,
      (problem) => problems.push(problem),
    );
    other.push(Buffer.from(minimal('MESSAGE sip:x@y SIP/2.0', ['Content-Length: lots'])));
    expect(problems[1]).toBe('Content-Length is not a number');
  });
});
