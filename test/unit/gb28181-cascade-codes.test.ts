import { describe, expect, it } from 'vitest';
import { resolveSecretReferences } from '../../src/config/secret-references.ts';
import type { GridEntry } from '../../src/core/jurisdiction.ts';
import { wallClockText } from '../../src/core/wall-clock.ts';
import { SipHeaders, type SipResponse } from '../../src/net/sip/sip-message.ts';
import {
  catalogName,
  grantedExpires,
  gridCentroid,
  outboundAlarmFor,
} from '../../src/outbound/gb28181-cascade.ts';
import { assignNationalCodes, hashedSerial, typeCodeOf } from '../../src/outbound/gb28181-codes.ts';
import { outboundSchema } from '../../src/outbound/outbound-schema.ts';

const settings = { codePrefix: '3402000000', networkDigit: 0 };

describe('national codes for gridhub devices', () => {
  it('gives a generated code the prefix, the adapter type code, the network digit and six hashed digits', () => {
    const codes = assignNationalCodes(
      [
        { id: 'cam-1', adapterId: 'onvif-camera' },
        { id: 'sentry-1', adapterId: 'sentry-box' },
        { id: 'thing-1', adapterId: 'some-new-adapter' },
      ],
      settings,
    );
    expect(codes.get('cam-1')).toBe(`3402000000131${'0'}${String(hashedSerial('cam-1')).padStart(6, '0')}`);
    expect(codes.get('sentry-1')?.slice(10, 13)).toBe('134');
    // Every gridhub device raises alarms: an unlisted adapter is an alarm input.
    expect(codes.get('thing-1')?.slice(10, 13)).toBe('134');
    for (const code of codes.values()) expect(code).toMatch(/^\d{20}$/);
  });

  it('is stable: the same devices in any order give the same codes, and another device does not move them', () => {
    const devices = [
      { id: 'gate-a', adapterId: 'gate-access' },
      { id: 'cam-b', adapterId: 'hikvision-isapi' },
    ];
    const first = assignNationalCodes(devices, settings);
    const reversed = assignNationalCodes([...devices].reverse(), settings);
    const more = assignNationalCodes([...devices, { id: 'panel-c', adapterId: 'alarm-panel-cid' }], settings);
    expect(reversed).toEqual(first);
    expect(more.get('gate-a')).toBe(first.get('gate-a'));
    expect(more.get('cam-b')).toBe(first.get('cam-b'));
  });

  it('keeps explicit codes, and moves a generated code that collides to the next free serial', () => {
    const serial = hashedSerial('cam-x');
    const clash = `34020000001310${String(serial).padStart(6, '0')}`;
    const codes = assignNationalCodes(
      [
        { id: 'cam-x', adapterId: 'onvif-camera' },
        { id: 'nvr-1', adapterId: 'gb28181', explicitCode: clash },
      ],
      settings,
    );
    expect(codes.get('nvr-1')).toBe(clash);
    expect(codes.get('cam-x')).toBe(`34020000001310${String((serial + 1) % 1_000_000).padStart(6, '0')}`);
  });

  it('resolves two generated codes that collide by the devices\u2019 id order', () => {
    // Find two ids whose hashes collide would take a million tries: reserve the first's code instead, which is the
    // same path (a taken code), and check the order rule with a code both would want.
    const code = `34020000001340${String(hashedSerial('a-device')).padStart(6, '0')}`;
    const codes = assignNationalCodes([{ id: 'a-device', adapterId: 'sentry-box' }], settings, [code]);
    expect(codes.get('a-device')).not.toBe(code);
    expect(codes.get('a-device')?.slice(0, 14)).toBe('34020000001340');
  });

  it('maps adapters to GB type codes as data', () => {
    expect(typeCodeOf('onvif-camera')).toBe(131);
    expect(typeCodeOf('dahua-cgi')).toBe(131);
    expect(typeCodeOf('alarm-panel-cid')).toBe(134);
    expect(typeCodeOf('gate-access')).toBe(134);
  });
});

describe('incident → GB alarm', () => {
  const incident = (category: string, type: string, severity = 'major') => ({
    category,
    severity,
    event: { type },
  });

  it('names a camera intrusion a video intrusion, a forced door a device alarm', () => {
    expect(outboundAlarmFor(incident('intrusion', 'camera.intrusion', 'critical'))).toEqual({
      method: 5,
      alarmType: 6,
      priority: 1,
    });
    expect(outboundAlarmFor(incident('intrusion', 'door.forced_open', 'critical'))).toEqual({
      method: 2,
      priority: 1,
    });
  });

  it("covers gridhub's own categories, falls back to other, and takes the priority from the severity", () => {
    expect(outboundAlarmFor(incident('device_tamper', 'camera.video_lost'))).toEqual({
      method: 2,
      alarmType: 1,
      priority: 2,
    });
    // By category when the event type has no code of its own.
    expect(outboundAlarmFor(incident('device_tamper', 'some.tamper', 'warning'))).toEqual({
      method: 2,
      alarmType: 2,
      priority: 3,
    });
    expect(outboundAlarmFor(incident('motion', 'some.motion', 'info'))).toEqual({
      method: 5,
      alarmType: 2,
      priority: 4,
    });
    expect(outboundAlarmFor(incident('device_offline', 'device.offline'))).toMatchObject({ method: 6 });
    expect(outboundAlarmFor(incident('no_such_category', 'x.y', 'info'))).toEqual({ method: 7, priority: 4 });
  });

  it('sends a 2016 superior the 2016 stand-in of a 2022 code', () => {
    const tamper = incident('device_tamper', 'camera.tamper');
    expect(outboundAlarmFor(tamper, {}, '2016')).toMatchObject({ method: 5, alarmType: 11 });
    expect(outboundAlarmFor(tamper, {}, '2022')).toMatchObject({ method: 5, alarmType: 13 });
  });

  it('lets the config override a category, priority included', () => {
    expect(
      outboundAlarmFor(incident('intrusion', 'camera.intrusion', 'info'), {
        intrusion: { method: 2, priority: 1 },
      }),
    ).toEqual({ method: 2, priority: 1 });
  });
});

describe('outbound.gb28181 config', () => {
  const valid = {
    local: { id: '34020000002000000001', domain: '3402000000' },
    superior: { id: '34000000002000000001', domain: '3400000000', host: '127.0.0.1', password: 'p' },
  };

  it('is optional, and fills its defaults when given', () => {
    expect(outboundSchema.parse({}).gb28181).toBeUndefined();
    const parsed = outboundSchema.parse({ gb28181: valid }).gb28181;
    expect(parsed).toMatchObject({
      enabled: true,
      local: { port: 0, transport: 'udp' },
      superior: { port: 5060 },
      registerExpiresSeconds: 3600,
      keepaliveSeconds: 60,
      keepaliveMissesBeforeReregister: 3,
      categories: {},
    });
  });

  it('refuses a local id that is not a platform, and unknown keys', () => {
    const notPlatform = { ...valid, local: { ...valid.local, id: '34020000001310000001' } };
    expect(outboundSchema.safeParse({ gb28181: notPlatform }).success).toBe(false);
    expect(outboundSchema.safeParse({ gb28181: { ...valid, extra: 1 } }).success).toBe(false);
    expect(
      outboundSchema.safeParse({ gb28181: { ...valid, categories: { intrusion: { method: 0 } } } }).success,
    ).toBe(false);
  });
});

describe('catalog helpers', () => {
  it('takes the Chinese part of a bilingual name', () => {
    expect(catalogName('西郊2网格东门海康摄像机 Xijiao Grid 2 east gate camera (Hikvision)')).toBe(
      '西郊2网格东门海康摄像机',
    );
    expect(catalogName('Gate 1')).toBe('Gate 1');
  });

  it("writes the hub's wall clock without a zone, and finds a grid centroid", () => {
    // 2026-12-07T13:30:00Z is 21:30 in Beijing, whatever the process's own zone.
    expect(wallClockText(Date.UTC(2026, 11, 7, 13, 30, 0), 'Asia/Shanghai')).toBe('2026-12-07T21:30:00');
    const grid = {
      boundary: [
        [
          [120, 30],
          [122, 30],
          [122, 32],
          [120, 32],
          [120, 30],
        ],
      ],
    } as unknown as GridEntry;
    expect(gridCentroid(grid)).toEqual([121, 31]);
  });
});

describe('the superior password kept out of the file', () => {
  it('is taken from {env} or {file} like every other secret', () => {
    const raw = {
      gb28181: {
        local: { id: '34020000002000000001', domain: '3402000000' },
        superior: {
          id: '34000000002000000001',
          domain: '3400000000',
          host: '127.0.0.1',
          password: { env: 'GB_SUPERIOR_PASSWORD' },
        },
      },
    };
    const resolved = resolveSecretReferences(raw, {
      env: { GB_SUPERIOR_PASSWORD: 'from-the-env' },
      baseDir: '.',
    });
    expect(resolved.problems).toEqual([]);
    expect(outboundSchema.parse(resolved.config).gb28181?.superior.password).toBe('from-the-env');
    const missing = resolveSecretReferences(raw, { env: {}, baseDir: '.' });
    expect(missing.problems).toEqual([
      'gb28181.superior.password: environment variable GB_SUPERIOR_PASSWORD is not set',
    ]);
  });
});

describe('the registration the superior granted', () => {
  const ours = 'sip:34020000002000000001@192.0.2.10:5060';
  const ok = (headers: [string, string][]): SipResponse => ({
    kind: 'response',
    status: 200,
    reason: 'OK',
    headers: new SipHeaders(headers),
    body: Buffer.alloc(0),
  });

  it("reads our Contact's expires before the Expires header (RFC 3261 §10.2.4)", () => {
    expect(
      grantedExpires(
        ok([
          ['contact', `<${ours}>;expires=120`],
          ['expires', '3600'],
        ]),
        ours,
      ),
    ).toBe(120);
    // Several bindings: ours, not another's.
    expect(
      grantedExpires(
        ok([
          [
            'contact',
            '<sip:34020000002000000001@192.0.2.99:5060>;expires=10, <sip:other@192.0.2.7>;expires=20',
          ],
          ['contact', `<${ours}>;expires=300`],
          ['expires', '3600'],
        ]),
        ours,
      ),
    ).toBe(300);
  });

  it('falls back to the Expires header, and to nothing', () => {
    expect(
      grantedExpires(
        ok([
          ['contact', `<${ours}>`],
          ['expires', '1800'],
        ]),
        ours,
      ),
    ).toBe(1800);
    expect(grantedExpires(ok([['expires', '900']]), ours)).toBe(900);
    expect(grantedExpires(ok([['contact', `<${ours}>;expires=soon`]]), ours)).toBeUndefined();
  });
});
