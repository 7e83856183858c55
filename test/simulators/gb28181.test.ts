import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { GbDevice, type GbDeviceOptions } from '../../simulators/gb28181/device.ts';
import { decodeManscdp, encodeGb18030, readXml, textAt } from '../../simulators/gb28181/manscdp.ts';
import { GbSuperior, type GbSuperiorOptions } from '../../simulators/gb28181/superior.ts';
import {
  digestAuthorization,
  digestResponse,
  parseSip,
  readDigestParams,
  responseTo,
  SipDigestServer,
  SipNode,
  serializeSip,
} from '../../simulators/shared/sip.ts';
import { freeSipPort, startSipp } from '../helpers/sipp.ts';

/**
 * The GB/T 28181 simulators against each other on loopback (the simulated device registering to the simulated
 * superior platform over UDP and TCP), their fault knobs, and the device against an independent SIP server: SIPp.
 */

const platformId = '34020000002000000001';
const domain = '3402000000';
const nvrId = '34020000001180000001';
const password = '12345678';

/** Polls a condition (10 per second) until it holds or 8 s pass. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition() && waited < 8000; waited += 100)
    await new Promise((resolve) => setTimeout(resolve, 100));
}

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  // Last started first: a device unregisters while its platform still listens.
  for (const component of running.splice(0).reverse()) await component.stop().catch(() => undefined);
});

async function superior(options: Partial<GbSuperiorOptions> = {}): Promise<GbSuperior> {
  const platform = new GbSuperior({ id: platformId, domain, password, timeoutMs: 5000, ...options });
  await platform.start();
  running.push(platform);
  return platform;
}

function device(
  platform: GbSuperior,
  transport: 'udp' | 'tcp',
  options: Partial<GbDeviceOptions> = {},
): GbDevice {
  const sim = new GbDevice({
    server: { id: platformId, domain, host: '127.0.0.1', port: platform.port, transport },
    id: nvrId,
    password,
    kind: 'nvr',
    channels: 4,
    alarmInputs: 1,
    keepaliveSeconds: 1,
    timeoutMs: 3000,
    ...options,
  });
  running.push(sim);
  return sim;
}

describe('simulators/shared/sip.ts', () => {
  it('answers a retransmitted UDP request once, sending the same response again', async () => {
    const seen: string[] = [];
    const node = new SipNode({
      onRequest: (request, context) => {
        seen.push(request.method);
        context.respond(responseTo(request, 200));
      },
    });
    await node.start();
    running.push(node);
    const client = createSocket('udp4');
    running.push({ stop: () => new Promise<void>((resolve) => client.close(() => resolve())) });
    const answers: string[] = [];
    client.on('message', (bytes) => answers.push(bytes.toString()));
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const request = Buffer.from(
      'MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKretx\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: r1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n',
    );
    client.send(request, node.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.send(request, node.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen).toEqual(['MESSAGE']);
    expect(answers).toHaveLength(2);
    expect(answers[1]).toBe(answers[0]);
    expect(answers[0]).toMatch(/^SIP\/2\.0 200 OK\r\n/);
  });

  it('parses what it writes, compact headers and all', () => {
    const bytes = Buffer.from(
      'MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: c1\r\nCSeq: 3 MESSAGE\r\nl: 5\r\n\r\nhello',
    );
    const message = parseSip(bytes);
    expect(message.kind).toBe('request');
    expect(parseSip(serializeSip(message))).toEqual({ ...message, headers: expect.any(Array) });
    expect(message.body.toString()).toBe('hello');
    expect(() => parseSip(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nCSeq: 1 MESSAGE\r\n\r\n'))).toThrow(/via/);
  });

  it('computes RFC 2617 digests (its worked example) and its server accepts its client', () => {
    // RFC 2617 §3.5: Mufasa / Circle Of Life.
    expect(
      digestResponse({
        username: 'Mufasa',
        realm: 'testrealm@host.com',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        qop: 'auth',
        nc: '00000001',
        cnonce: '0a4f113b',
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
    const server = new SipDigestServer(domain);
    const authorization = digestAuthorization(
      server.challenge(),
      { method: 'REGISTER', uri: 'sip:x@y' },
      { username: nvrId, password },
    );
    expect(readDigestParams(authorization ?? '')?.username).toBe(nvrId);
    expect(server.verify(authorization, 'REGISTER', () => password)).toBe(nvrId);
    expect(server.verify(authorization, 'REGISTER', () => 'wrong')).toBeUndefined();
  });

  it('encodes Chinese as GB18030 the runtime decodes back', () => {
    const bytes = encodeGb18030('通道1 东门');
    expect(bytes.toString('hex')).toBe('cda8b5c03120b6abc3c5');
    expect(new TextDecoder('gb18030').decode(bytes)).toBe('通道1 东门');
    expect(
      decodeManscdp(
        Buffer.concat([
          Buffer.from('<?xml version="1.0" encoding="GB2312"?><a>'),
          bytes,
          Buffer.from('</a>'),
        ]),
      ),
    ).toContain('东门');
  });
});

describe.each(['udp', 'tcp'] as const)('a simulated NVR and a simulated superior over %s', (transport) => {
  it('registers with Digest, keeps alive, pages its catalog, and raises an alarm the platform acknowledges', async () => {
    const platform = await superior();
    const nvr = device(platform, transport);
    await nvr.start();
    expect(nvr.registered).toBe(true);
    expect(nvr.challenges).toHaveLength(1);
    expect(platform.registrations.map((r) => [r.id, r.status])).toEqual([
      [nvrId, 401],
      [nvrId, 200],
    ]);
    expect(platform.registrations[1]?.peer.transport).toBe(transport);
    expect(platform.isRegistered(nvrId)).toBe(true);

    await platform.waitFor(() => platform.keepalives.length >= 2, 8000);
    expect(textAt(platform.keepalives[0]?.message.node, 'Status')).toBe('OK');
    expect(nvr.keepalives.filter((k) => k.status === 200).length).toBeGreaterThanOrEqual(1);

    const catalog = await platform.queryCatalog(nvrId);
    expect(catalog.sumNum).toBe(5);
    expect(catalog.pages).toBe(3); // 2 + 2 + 1 items
    expect(catalog.items.map((item) => item.DeviceID)).toEqual(
      [...nvr.channels, ...nvr.alarmInputs].map((c) => c.id),
    );
    expect(catalog.items[0]).toMatchObject({
      Name: '通道1 东门',
      ParentID: nvrId,
      Status: 'ON',
      Longitude: '116.397',
    });
    expect(catalog.items[4]?.DeviceID?.slice(10, 13)).toBe('134');
    expect(nvr.received.map((r) => r.cmdType)).toContain('Catalog');

    const { sn, status } = await nvr.alarm({ method: 5, type: 2, priority: 2, description: '移动侦测' });
    expect(status).toBe(200);
    const ack = await nvr.ackFor(sn);
    expect(ack.result).toBe('OK');
    const alarm = platform.alarms.at(-1)?.message;
    expect(alarm?.sn).toBe(sn);
    expect(textAt(alarm?.node, 'AlarmMethod')).toBe('5');
    expect(textAt(alarm?.node, 'Info', 'AlarmType')).toBe('2');
    expect(textAt(alarm?.node, 'AlarmDescription')).toBe('移动侦测');
    expect(textAt(alarm?.node, 'Latitude')).toBe('39.909');
  });
});

describe('the simulated device answers the platform', () => {
  it('DeviceInfo, DeviceStatus, guard and reboot controls, an Alarm subscription, and a 2022 snapshot upload', async () => {
    const platform = await superior({ charset: 'UTF-8' });
    const nvr = device(platform, 'udp', { edition: '2022', keepaliveSeconds: 0 });
    await nvr.start();

    const info = await platform.queryDeviceInfo(nvrId);
    expect(textAt(info.node, 'Channel')).toBe('5');
    expect(textAt(info.node, 'DeviceName')).toBe('模拟录像机');

    const guard = await platform.control(nvrId, { GuardCmd: 'SetGuard' });
    expect(textAt(guard.node, 'Result')).toBe('OK');
    expect(nvr.guard).toBe('SetGuard');
    const status = await platform.queryDeviceStatus(nvrId);
    expect(textAt(status.node, 'Alarmstatus', 'Item', 'DutyStatus')).toBe('ONDUTY');
    await platform.control(nvrId, { TeleBoot: 'Boot' });
    expect(nvr.reboots).toBe(1);
    await platform.control(nvrId, { AlarmCmd: 'ResetAlarm' }, nvr.alarmInputs[0]?.id);
    expect(nvr.alarmResets).toBe(1);
    expect(nvr.received.filter((r) => r.cmdType === 'DeviceControl')).toHaveLength(3);

    const subscribed = await platform.subscribeAlarms(nvrId);
    expect(subscribed.status).toBe(200);
    const { sn } = await nvr.alarm({ method: 2, type: 1, eventType: 1 });
    await platform.waitFor(() => platform.alarms.some((a) => a.message.sn === sn));
    const notified = platform.alarms.find((a) => a.message.sn === sn);
    expect(notified?.method).toBe('NOTIFY');
    expect(textAt(notified?.message.node, 'Info', 'AlarmTypeParam', 'EventType')).toBe('1');
    expect((await nvr.ackFor(sn)).result).toBe('OK');

    const uploads: { length: number; fileId: string | undefined }[] = [];
    const http = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body[0] === 0xff && body[1] === 0xd8)
          uploads.push({ length: body.length, fileId: request.headers['x-snapshot-file-id'] as string });
        response.end();
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    running.push({ stop: () => new Promise<void>((resolve) => http.close(() => resolve())) });
    const port = (http.address() as { port: number }).port;
    const config = await platform.config(nvrId, {
      SnapShotConfig: {
        SnapNum: 2,
        Interval: 1,
        UploadURL: `http://127.0.0.1:${port}/snap`,
        SessionID: 'sess-42',
      },
    });
    expect(textAt(config.node, 'Result')).toBe('OK');
    await platform.waitFor(() =>
      platform.messages.some((m) => m.message.cmdType === 'UploadSnapShotFinished'),
    );
    const finished = platform.messages.find((m) => m.message.cmdType === 'UploadSnapShotFinished')?.message;
    expect(textAt(finished?.node, 'SessionID')).toBe('sess-42');
    expect(uploads).toHaveLength(2);
    expect(finished?.text).toContain(`<SnapShotFileID>${uploads[0]?.fileId}</SnapShotFileID>`);
  });
});

describe('fault knobs, each observable', () => {
  it('a wrong password is refused with 403 and start() rejects, leaving nothing open', async () => {
    const platform = await superior();
    const nvr = device(platform, 'udp', { faults: { wrongPassword: 'not-it' } });
    await expect(nvr.start()).rejects.toThrow(/403/);
    expect(platform.registrations.map((r) => r.status)).toEqual([401, 403]);
    expect(nvr.port).toBe(0);
  });

  it('the platform refusing registration: 403 without a challenge', async () => {
    const platform = await superior({ faults: { refuseRegistration: true } });
    const nvr = device(platform, 'tcp');
    await expect(nvr.start()).rejects.toThrow(/403/);
    expect(nvr.challenges).toHaveLength(0);
  });

  it('lost keepalives stop while the device stays registered; re-register on demand', async () => {
    const platform = await superior();
    const nvr = device(platform, 'udp');
    await nvr.start();
    await platform.waitFor(() => platform.keepalives.length >= 1);
    nvr.faults.lostKeepalives = true;
    await new Promise((resolve) => setTimeout(resolve, 1500)); // one in flight may still land
    const count = platform.keepalives.length;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(platform.keepalives.length).toBe(count);
    expect(nvr.registered).toBe(true);
    expect(await nvr.reRegister()).toBe(200);
    expect(platform.registrations.filter((r) => r.status === 200)).toHaveLength(2);
  });

  it('re-registers before its registration expires', async () => {
    const platform = await superior();
    const nvr = device(platform, 'tcp', { expiresSeconds: 2, keepaliveSeconds: 0 });
    await nvr.start();
    await platform.waitFor(() => platform.registrations.filter((r) => r.status === 200).length >= 2, 8000);
    await until(() => nvr.registrations.length >= 2);
    expect(
      nvr.registrations.filter((r) => r.status === 200 && r.expires === 2).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('keepalive answers dropped by the platform time out on the device', async () => {
    const platform = await superior({ faults: { dropKeepaliveAnswers: true } });
    const nvr = device(platform, 'udp', { keepaliveSeconds: 0, timeoutMs: 1500 });
    await nvr.start();
    expect(await nvr.keepalive()).toBe('timeout');
    expect(platform.keepalives.length).toBeGreaterThanOrEqual(1); // received (retransmitted), never answered
  });

  it('malformed XML, a skewed clock and a lying charset reach the platform as such', async () => {
    const platform = await superior();
    const nvr = device(platform, 'udp', { keepaliveSeconds: 0 });
    await nvr.start();
    nvr.faults.malformedXml = true;
    expect(await nvr.keepalive()).toBe(400);
    expect(platform.unreadable).toHaveLength(1);
    expect(await nvr.keepalive()).toBe(200); // the knob is one-shot

    nvr.faults.clockSkewSeconds = -3600;
    const { sn } = await nvr.alarm({ method: 5 });
    const alarmTime =
      textAt(platform.alarms.find((a) => a.message.sn === sn)?.message.node, 'AlarmTime') ?? '';
    const skew = (new Date(alarmTime).getTime() - Date.now()) / 1000;
    expect(skew).toBeGreaterThan(-3700);
    expect(skew).toBeLessThan(-3500);

    nvr.faults.lyingCharset = true;
    const { sn: lying } = await nvr.alarm({ description: '东门报警' });
    const text = platform.alarms.find((a) => a.message.sn === lying)?.message.text ?? '';
    expect(text).toContain('encoding="GB2312"');
    expect(text).not.toContain('东门报警'); // UTF-8 bytes read as GB18030: mojibake, as a hub would see
  });

  it('a silent platform: registration times out', async () => {
    const platform = await superior({ faults: { silent: true } });
    const nvr = device(platform, 'udp', { timeoutMs: 1500 });
    await expect(nvr.start()).rejects.toThrow(/no answer/);
  });
});

describe('the simulated device against SIPp as the SIP server', () => {
  async function runSipp(
    devicePassword: string,
    calls: number,
  ): Promise<{ code: number | null; nvr: GbDevice; started: unknown }> {
    const port = await freeSipPort();
    const sipp = startSipp({
      scenario: 'sim-register-keepalive-uas.xml',
      transport: 'udp',
      localPort: port,
      calls,
      timeoutSeconds: 20,
      timeoutIsError: false,
      args: ['-set', 'realm', domain, '-set', 'user', nvrId, '-set', 'password', password],
    });
    running.push({ stop: async () => sipp.stop() });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // SIPp binds its port
    const nvr = new GbDevice({
      server: { id: platformId, domain, host: '127.0.0.1', port, transport: 'udp' },
      id: nvrId,
      password: devicePassword,
      keepaliveSeconds: 1,
      timeoutMs: 8000, // UDP retransmissions cover SIPp still binding its port
    });
    running.push(nvr);
    const started = await nvr.start().then(
      () => 'registered',
      (error: Error) => error,
    );
    const { code, errors } = await sipp.exit;
    if (code !== 0 && devicePassword === password) process.stderr.write(`sipp: ${errors}\n`);
    return { code, nvr, started };
  }

  it('registers (answering its Digest challenge, checked by SIPp verifyauth) and sends a Keepalive: exit code 0', async () => {
    const { code, nvr, started } = await runSipp(password, 2);
    expect(started).toBe('registered');
    expect(nvr.challenges[0]).toMatchObject({ header: expect.stringContaining(`realm="${domain}"`) });
    expect(nvr.keepalives[0]?.status).toBe(200);
    expect(code).toBe(0);
  }, 30_000);

  it('a wrong password: SIPp verifyauth refuses it with 403, its call fails (exit code not 0)', async () => {
    const { code, nvr, started } = await runSipp('not-the-password', 1);
    expect(started).toBeInstanceOf(Error);
    expect(String(started)).toMatch(/403/);
    expect(nvr.keepalives).toHaveLength(0);
    expect(code).not.toBe(0);
  }, 30_000);
});

// readXml is the simulators' own reader: a broken document is an error, not a partial tree.
describe('simulators/gb28181/manscdp.ts', () => {
  it('refuses unclosed documents', () => {
    expect(() => readXml('<Notify><CmdType>Keepalive</CmdType><Notify')).toThrow();
    expect(textAt(readXml('<a><b><c> x </c></b></a>'), 'b', 'c')).toBe('x');
  });
});
