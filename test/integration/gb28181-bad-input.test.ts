import { createHash } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GbDevice } from '../../simulators/gb28181/device.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { DeadLetter, RefusalReason } from '../../src/core/refusals.ts';
import type { RealMessage } from '../devices/gb28181.real-messages.ts';
import * as realMessages from '../devices/gb28181.real-messages.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * Bad input through a real hub's GB/T 28181 SIP server, as raw UDP datagrams and TCP bytes on loopback: garbage,
 * broken SIP, lying lengths, oversized messages, hostile or mis-encoded XML, messages from where no device
 * registered. Each is refused, counted in
 * gridhub_messages_refused_total by reason and dead-lettered without the sender's values, and answered where its
 * head still reads (400 for a bad body or length, 513 over maxMessageBytes, 403 from where no device registered;
 * nothing for garbage, a broken start line or a missing Call-ID, which cannot be answered), and the hub goes on
 * answering a good device. Then the real devices' MANSCDP bodies (test/devices/gb28181.real-messages.ts) are
 * replayed from a registered device and each is answered 200.
 */

const serverId = '34020000002000000001';
const domain = '3402000000';
const nvr = { id: 'nvr-bad-input', code: '34020000001180000301', password: 'nvr-bad-input-secret' };
const stranger = '34020000001320000399';
/** A second NVR, the simulator: it must still be answered after each bad input. */
const goodNvr = { id: 'nvr-good', code: '34020000001180000302', password: 'nvr-good-secret' };
/** A value a sender puts in its bad input: it must never come out of the hub. */
const senderValue = 'RESIDENT-13905551234';
const maxMessageBytes = 4096;

type GbSettings = NonNullable<ConfigFile['receivers']['gb28181']>;

function config(): ConfigFile {
  const config = demoConfig();
  config.receivers = {
    ...config.receivers,
    gb28181: {
      port: 0,
      serverId,
      domain,
      maxMessageBytes,
      queryTimeoutSeconds: 2,
      subscribeAlarms: false,
    } as GbSettings,
  };
  config.devices = [
    ...config.devices,
    {
      id: nvr.id,
      name: 'bad input NVR',
      adapter: 'gb28181',
      grid: 'grid-xijiao-01',
      offlineAfterSeconds: 86_400,
      gb28181: { id: nvr.code, password: nvr.password },
    },
    {
      id: goodNvr.id,
      name: 'good NVR',
      adapter: 'gb28181',
      grid: 'grid-xijiao-01',
      offlineAfterSeconds: 86_400,
      gb28181: { id: goodNvr.code, password: goodNvr.password },
    },
  ] as ConfigFile['devices'];
  return config;
}

let branches = 0;

/** A SIP request as a device writes it; `headers` replaces or (with undefined) removes the usual ones. */
function sipRequest(
  options: {
    method?: string;
    from?: string;
    transport?: 'UDP' | 'TCP';
    body?: Buffer | string;
    contentLength?: number;
    headers?: Record<string, string | undefined>;
    startLine?: string;
  } = {},
): Buffer {
  const method = options.method ?? 'MESSAGE';
  const body = Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body ?? '', 'utf8');
  const headers: Record<string, string | undefined> = {
    Via: `SIP/2.0/${options.transport ?? 'UDP'} 127.0.0.1:5060;rport;branch=z9hG4bKbad${++branches}`,
    From: `<sip:${options.from ?? nvr.code}@${domain}>;tag=bad${branches}`,
    To: `<sip:${serverId}@${domain}>`,
    'Call-ID': `bad-${branches}@127.0.0.1`,
    CSeq: `${branches} ${method}`,
    'Max-Forwards': '70',
    'Content-Type': 'Application/MANSCDP+xml',
    'Content-Length': String(options.contentLength ?? body.length),
    ...options.headers,
  };
  const lines = [
    options.startLine ?? `${method} sip:${serverId}@${domain} SIP/2.0`,
    ...Object.entries(headers).flatMap(([name, value]) => (value === undefined ? [] : [`${name}: ${value}`])),
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

/** A MANSCDP body: the declaration's encoding, then the XML in the given bytes. */
function manscdp(xml: string, declared = 'GB2312', encode: (text: string) => Buffer = utf8): Buffer {
  return encode(`<?xml version="1.0" encoding="${declared}"?>\r\n${xml}\r\n`);
}
const utf8 = (text: string) => Buffer.from(text, 'utf8');
/** GB2312 bytes, by a table independent of the hub's encoder: 视频丢失 and 东门. */
const gbBytes: Readonly<Record<string, Buffer>> = {
  视频丢失: Buffer.from('cad3c6b5b6aacaa7', 'hex'),
  东门: Buffer.from('b6abc3c5', 'hex'),
};
const gb2312 = (text: string): Buffer => {
  const parts: Buffer[] = [];
  let rest = text;
  while (rest.length > 0) {
    const word = Object.keys(gbBytes).find((candidate) => rest.startsWith(candidate));
    if (word !== undefined) {
      parts.push(gbBytes[word] as Buffer);
      rest = rest.slice(word.length);
    } else {
      const char = rest[0] as string;
      if (char.charCodeAt(0) > 0x7f) throw new Error(`no GB2312 bytes for ${char} in this table`);
      parts.push(Buffer.from(char, 'latin1'));
      rest = rest.slice(1);
    }
  }
  return Buffer.concat(parts);
};

let sns = 100;
const keepaliveXml = (deviceId = nvr.code) =>
  `<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>${++sns}</SN>\r\n<DeviceID>${deviceId}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>`;
const alarmXml = (description: string) =>
  `<Notify>\r\n<CmdType>Alarm</CmdType>\r\n<SN>${++sns}</SN>\r\n<DeviceID>${nvr.code}</DeviceID>\r\n` +
  `<AlarmPriority>2</AlarmPriority>\r\n<AlarmMethod>2</AlarmMethod>\r\n<AlarmDescription>${description}</AlarmDescription>\r\n` +
  '<Info>\r\n<AlarmType>1</AlarmType>\r\n</Info>\r\n</Notify>';

/** A UDP socket on a loopback address, that sends datagrams and reads the answers. */
class UdpPeer {
  readonly #socket: UdpSocket;
  readonly #answers: Buffer[] = [];
  readonly #waiters: (() => void)[] = [];

  private constructor(socket: UdpSocket) {
    this.#socket = socket;
    socket.on('message', (message) => {
      // The hub's own requests (its queries of the NVR this peer registered as) are not answers: left unanswered.
      if (!message.subarray(0, 8).equals(Buffer.from('SIP/2.0 '))) return;
      this.#answers.push(message);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async open(address = '127.0.0.1'): Promise<UdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((done) => socket.bind(0, address, () => done()));
    return new UdpPeer(socket);
  }

  /** Sends and resolves with the status of the answer, or undefined when none came within `waitMs`. */
  async exchange(bytes: Buffer, port: number, waitMs = 1_500): Promise<number | undefined> {
    const answer = await this.request(bytes, port, waitMs);
    return answer === undefined ? undefined : statusOf(answer);
  }

  /** Sends and resolves with the answer, or undefined when none came within `waitMs`. */
  async request(bytes: Buffer, port: number, waitMs = 1_500): Promise<Buffer | undefined> {
    this.#answers.length = 0;
    this.#socket.send(bytes, port, '127.0.0.1');
    const deadline = Date.now() + waitMs;
    while (this.#answers.length === 0 && Date.now() < deadline) {
      await new Promise<void>((wake) => {
        this.#waiters.push(wake);
        setTimeout(wake, 50);
      });
    }
    return this.#answers.shift();
  }

  close(): void {
    this.#socket.close();
  }
}

/**
 * Registers as a device from a raw UDP socket, with a digest computed here (RFC 2617, MD5, no qop): the challenge
 * is asked from `peer`, the answer sent from `from` (another address, to replay a nonce elsewhere). Resolves with
 * the final status.
 */
async function registerRaw(
  peer: UdpPeer,
  port: number,
  login: { readonly code: string; readonly password: string },
  from: UdpPeer = peer,
): Promise<number | undefined> {
  const register = (authorization?: string) =>
    sipRequest({
      method: 'REGISTER',
      from: login.code,
      headers: {
        To: `<sip:${login.code}@${domain}>`,
        Contact: `<sip:${login.code}@127.0.0.1:5060>`,
        Expires: '3600',
        'Content-Type': undefined,
        ...(authorization === undefined ? {} : { Authorization: authorization }),
      },
    });
  const challenge = (await peer.request(register(), port))?.toString('latin1') ?? '';
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1];
  if (nonce === undefined) return statusOf(Buffer.from(challenge, 'latin1'));
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const uri = `sip:${serverId}@${domain}`;
  const response = md5(
    `${md5(`${login.code}:${domain}:${login.password}`)}:${nonce}:${md5(`REGISTER:${uri}`)}`,
  );
  const authorization = `Digest username="${login.code}", realm="${domain}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5`;
  return from.exchange(register(authorization), port);
}

function statusOf(answer: Buffer): number | undefined {
  const status = /^SIP\/2\.0 (\d{3}) /.exec(answer.toString('latin1'))?.[1];
  return status === undefined ? undefined : Number(status);
}

/** Writes bytes on a new TCP connection; resolves with the first answer's status and whether the hub closed it. */
async function tcpExchange(
  port: number,
  bytes: Buffer,
  waitMs = 1_500,
): Promise<{ status: number | undefined; closed: boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((done, fail) => {
    socket.once('connect', done);
    socket.once('error', fail);
  });
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
  });
  socket.write(bytes);
  const deadline = Date.now() + waitMs;
  while (!closed && received.length === 0 && Date.now() < deadline)
    await new Promise((wake) => setTimeout(wake, 25));
  // A moment more: the hub may answer, then close.
  await new Promise((wake) => setTimeout(wake, 100));
  socket.destroy();
  return { status: received.length === 0 ? undefined : statusOf(received), closed };
}

describe('GB/T 28181 bad input through a real hub', () => {
  let hub: TestHub;
  let good: GbDevice;
  let peer: UdpPeer;
  const refusals: DeadLetter[] = [];
  const events: DeviceEvent[] = [];

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(config()) });
    hub.hub.bus.on('message:refused', (deadLetter) => {
      refusals.push(deadLetter);
    });
    hub.hub.bus.on('device:event', (event) => {
      events.push(event);
    });
    good = new GbDevice({
      server: { id: serverId, domain, host: '127.0.0.1', port: hub.hub.gb28181Port, transport: 'udp' },
      id: goodNvr.code,
      password: goodNvr.password,
      kind: 'nvr',
      channels: 0,
      keepaliveSeconds: 0,
      timeoutMs: 4000,
    });
    await good.start();
    // The raw peer registers as the NVR (its own digest): the hub takes its messages, from its address and port.
    peer = await UdpPeer.open();
    expect(await registerRaw(peer, hub.hub.gb28181Port, nvr)).toBe(200);
  });

  afterAll(async () => {
    peer?.close();
    await good?.stop().catch(() => undefined);
    await hub?.stop();
  });

  const refusedCount = (reason: RefusalReason) =>
    metricValue(hub.httpUrl, `gridhub_messages_refused_total{reason="${reason}"}`);

  async function deadLetter(id: string): Promise<DeadLetter | undefined> {
    let found: DeadLetter | undefined;
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=200`, 'demo-admin');
      found = (body as { deadLetters: DeadLetter[] }).deadLetters.find((letter) => letter.id === id);
      return found !== undefined;
    });
    return found;
  }

  interface BadInput {
    readonly name: string;
    /** Sends it; resolves with the SIP status the sender got (undefined: none). */
    readonly send: () => Promise<number | undefined>;
    readonly status: number | undefined;
    readonly reason: RefusalReason;
    /** How the dead letter's problem begins. */
    readonly problem: string;
    readonly deviceId?: string | null;
  }

  const udp = (bytes: Buffer) => () => peer.exchange(bytes, hub.hub.gb28181Port);
  /** Over TCP, what breaks the framing ends the connection. */
  const tcp = (bytes: Buffer) => async () => {
    const { status, closed } = await tcpExchange(hub.hub.gb28181Port, bytes);
    expect(closed, 'the hub closed the connection').toBe(true);
    return status;
  };

  const badInputs: readonly BadInput[] = [
    {
      name: 'a garbage datagram',
      send: udp(Buffer.from(`\u0000\u0001\u00ff garbage ${senderValue}\r\n\r\n`, 'latin1')),
      status: undefined,
      reason: 'malformed',
      problem: 'the start line is neither a request line nor a status line',
      deviceId: null,
    },
    {
      name: 'a SIP message with a broken start line',
      send: udp(
        sipRequest({ startLine: `MESSAGE sip:${senderValue}@${domain} SIP/3.0`, body: keepaliveXml() }),
      ),
      status: undefined,
      reason: 'malformed',
      problem: 'not SIP/2.0',
      deviceId: null,
    },
    {
      name: 'a MESSAGE without Call-ID',
      send: udp(sipRequest({ headers: { 'Call-ID': undefined }, body: manscdp(keepaliveXml()) })),
      status: undefined,
      reason: 'malformed',
      problem: 'no Call-ID header',
      deviceId: null,
    },
    {
      name: 'a MESSAGE whose Content-Length is longer than its body (UDP)',
      send: udp(sipRequest({ body: manscdp(keepaliveXml()), contentLength: 4000 })),
      status: 400,
      reason: 'malformed',
      problem: 'the body is shorter than its Content-Length',
      deviceId: null,
    },
    {
      name: 'a MESSAGE whose Content-Length cuts its XML short (UDP)',
      send: udp(sipRequest({ body: manscdp(keepaliveXml()), contentLength: 60 })),
      status: 400,
      reason: 'malformed',
      problem: 'not XML',
      deviceId: nvr.id,
    },
    {
      name: 'a MESSAGE whose Content-Length is not a number',
      send: udp(sipRequest({ body: manscdp(keepaliveXml()), headers: { 'Content-Length': '12abc' } })),
      status: 400,
      reason: 'malformed',
      problem: 'Content-Length is not a number',
      deviceId: null,
    },
    {
      name: 'a TCP message whose Content-Length is negative (the framing is lost: the connection is closed)',
      send: tcp(
        sipRequest({ transport: 'TCP', body: manscdp(keepaliveXml()), headers: { 'Content-Length': '-5' } }),
      ),
      status: undefined,
      reason: 'malformed',
      problem: 'Content-Length is not a number',
      deviceId: null,
    },
    {
      name: `an oversized datagram (over maxMessageBytes ${maxMessageBytes})`,
      send: udp(sipRequest({ body: manscdp(`<Notify>${senderValue.repeat(300)}</Notify>`) })),
      status: 513,
      reason: 'oversized',
      problem: 'a message of',
      deviceId: null,
    },
    {
      name: `an oversized TCP message (over maxMessageBytes ${maxMessageBytes})`,
      send: tcp(
        sipRequest({ transport: 'TCP', body: manscdp(`<Notify>${senderValue.repeat(300)}</Notify>`) }),
      ),
      status: undefined,
      reason: 'oversized',
      problem: 'a message of',
      deviceId: null,
    },
    {
      name: 'an XML body with a DOCTYPE (entity expansion)',
      send: udp(
        sipRequest({
          body: utf8(
            `<?xml version="1.0" encoding="UTF-8"?>\r\n<!DOCTYPE Notify [<!ENTITY x "${senderValue}">]>\r\n${keepaliveXml().replace('OK', '&x;')}`,
          ),
        }),
      ),
      status: 400,
      reason: 'malformed',
      problem: 'not XML: DOCTYPE and other declarations are refused',
      deviceId: nvr.id,
    },
    {
      name: 'a body in neither GB18030 nor UTF-8',
      send: udp(
        sipRequest({
          body: Buffer.concat([
            utf8(
              `<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>9</SN>\r\n`,
            ),
            Buffer.from([0xff, 0xfe, 0x80, 0xff]),
            utf8(`<DeviceID>${nvr.code}</DeviceID>\r\n</Notify>\r\n`),
          ]),
        }),
      ),
      status: 400,
      reason: 'malformed',
      // The dead-letter store masks runs of digits, the charset's name among them.
      problem: 'the body is neither UTF-8 nor GB',
      deviceId: nvr.id,
    },
    {
      name: 'a body declaring a charset that is neither',
      send: udp(sipRequest({ body: manscdp(keepaliveXml(), 'ISO-8859-1') })),
      status: 400,
      reason: 'malformed',
      problem: 'unsupported encoding',
      deviceId: nvr.id,
    },
    {
      name: 'deeply nested XML',
      send: udp(
        sipRequest({
          body: manscdp(
            keepaliveXml().replace(
              '<Status>OK</Status>',
              `${'<a>'.repeat(400)}${senderValue}${'</a>'.repeat(400)}`,
            ),
          ),
        }),
      ),
      status: 400,
      reason: 'malformed',
      problem: 'not XML: nested deeper than 64',
      deviceId: nvr.id,
    },
    {
      name: 'a MESSAGE naming the registered device, from another address (127.0.0.2)',
      send: async () => {
        const elsewhere = await UdpPeer.open('127.0.0.2');
        try {
          return await elsewhere.exchange(sipRequest({ body: manscdp(keepaliveXml()) }), hub.hub.gb28181Port);
        } finally {
          elsewhere.close();
        }
      },
      status: 403,
      reason: 'unauthenticated',
      problem: 'MESSAGE from an address or port the device did not register from',
      deviceId: nvr.id,
    },
    {
      name: 'a MESSAGE naming the registered device, from its address but another port (another host behind its NAT)',
      send: async () => {
        const neighbour = await UdpPeer.open();
        try {
          return await neighbour.exchange(sipRequest({ body: manscdp(keepaliveXml()) }), hub.hub.gb28181Port);
        } finally {
          neighbour.close();
        }
      },
      status: 403,
      reason: 'unauthenticated',
      problem: 'MESSAGE from an address or port the device did not register from',
      deviceId: nvr.id,
    },
    {
      name: 'a MESSAGE from a device that is not registered',
      send: udp(sipRequest({ from: stranger, body: manscdp(keepaliveXml(stranger)) })),
      status: 403,
      reason: 'unauthenticated',
      problem: 'MESSAGE from a device that is not registered',
      deviceId: null,
    },
  ];

  for (const bad of badInputs) {
    it(`refuses ${bad.name}${bad.status === undefined ? ' (no answer)' : ` with ${bad.status}`}, counts and dead-letters it; the good device is still answered`, async () => {
      const counted = await refusedCount(bad.reason);
      const fromRefusal = refusals.length;
      const fromEvent = events.length;
      expect(await bad.send()).toBe(bad.status);
      await eventually(() => refusals.length > fromRefusal);
      const refused = refusals.slice(fromRefusal);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        reason: bad.reason,
        ...(bad.deviceId === undefined ? {} : { deviceId: bad.deviceId }),
      });
      expect(refused[0]?.topic).toMatch(/^gb28181\/(udp|tcp)$/);
      expect(await refusedCount(bad.reason)).toBe(counted + 1);
      const kept = await deadLetter(refused[0]?.id as string);
      expect(
        kept?.problems.some((problem) => problem.startsWith(bad.problem)),
        JSON.stringify(kept),
      ).toBe(true);
      // The sender's values stay out of the dead letter, the API and the logs.
      expect(JSON.stringify(kept)).not.toContain(senderValue);
      expect(JSON.stringify(kept)).not.toContain('RESIDENT');
      expect(hub.logs.text).not.toContain(senderValue);
      expect(events.slice(fromEvent)).toEqual([]);
      // The good device is still heard.
      expect(await good.keepalive()).toBe(200);
    });
  }

  it('reads a body declared GB2312 that carries UTF-8, and one declared UTF-8 that carries GB2312 (firmware that lies)', async () => {
    const fromRefusal = refusals.length;
    const lyingGb = manscdp(alarmXml('视频丢失'), 'GB2312', utf8);
    const lyingUtf8 = manscdp(alarmXml('东门视频丢失'), 'UTF-8', gb2312);
    expect(await peer.exchange(sipRequest({ body: lyingGb }), hub.hub.gb28181Port)).toBe(200);
    expect(await peer.exchange(sipRequest({ body: lyingUtf8 }), hub.hub.gb28181Port)).toBe(200);
    await eventually(() => events.filter((event) => event.deviceId === nvr.id).length >= 2);
    const descriptions = events
      .filter((event) => event.deviceId === nvr.id)
      .map((event) => event.attributes.description);
    expect(descriptions).toEqual(expect.arrayContaining(['视频丢失', '东门视频丢失']));
    expect(refusals.slice(fromRefusal)).toEqual([]);
  });

  const replayed = Object.values(realMessages).filter(
    (value): value is RealMessage => typeof value === 'object' && value !== null && 'body' in value,
  );

  it("a REGISTER's digest answered from another address (a captured nonce replayed) is challenged again, never taken", async () => {
    const before = await metricValue(hub.httpUrl, 'gridhub_gb28181_registrations_total{result="replaced"}');
    const elsewhere = await UdpPeer.open('127.0.0.2');
    try {
      // The nonce was issued to 127.0.0.1: from 127.0.0.2 the right digest over it is no credential.
      expect(await registerRaw(peer, hub.hub.gb28181Port, nvr, elsewhere)).toBe(401);
    } finally {
      elsewhere.close();
    }
    expect(await metricValue(hub.httpUrl, 'gridhub_gb28181_registrations_total{result="replaced"}')).toBe(
      before,
    );
    // The NVR is still registered where it was: its keepalive from there is answered.
    expect(await peer.exchange(sipRequest({ body: manscdp(keepaliveXml()) }), hub.hub.gb28181Port)).toBe(200);
  });

  it('has real MANSCDP messages to replay', () => {
    expect(replayed.length).toBeGreaterThanOrEqual(10);
  });

  for (const message of replayed) {
    it(`answers a registered device's real message 200: ${message.name}`, async () => {
      const fromRefusal = refusals.length;
      // Redacted ids become the test NVR's code; the others stay as the device sent them.
      const body = Buffer.from(
        message.body
          .toString('latin1')
          .replace(/<DeviceID>xxx<\/DeviceID>/g, `<DeviceID>${nvr.code}</DeviceID>`),
        'latin1',
      );
      const status = await peer.exchange(
        sipRequest({
          body,
          ...(message.contentType === undefined ? {} : { headers: { 'Content-Type': message.contentType } }),
        }),
        hub.hub.gb28181Port,
      );
      expect(status).toBe(200);
      expect(refusals.slice(fromRefusal)).toEqual([]);
    });
  }
});
