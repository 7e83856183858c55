import { describe, expect, it } from 'vitest';
import {
  encodeGb2312,
  ManscdpError,
  manscdpLimits,
  manscdpTime,
  readAlarm,
  readCatalogResponse,
  readKeepalive,
  readManscdp,
  readUploadSnapShotFinished,
  writeManscdp,
} from '../../src/ingest/gb28181/manscdp.ts';

/** MANSCDP bodies: charsets both ways, lying declarations, bounds, refusals, and the typed readers' strictness. */

const keepalive = (declaration: string, extra = '') =>
  `${declaration}<Notify><CmdType>Keepalive</CmdType><SN>7</SN><DeviceID>34020000001320000001</DeviceID>` +
  `<Status>OK</Status>${extra}</Notify>`;

const gbDecl = '<?xml version="1.0" encoding="GB2312"?>\r\n';
const utf8Decl = '<?xml version="1.0" encoding="UTF-8"?>\r\n';

/** 前门摄像头 in GB2312, from Python's codec ('前门摄像头'.encode('gb2312')): independent of the encoder under test. */
const frontGateGb = Buffer.from('c7b0c3c5c9e3cff1cdb7', 'hex');
const frontGate = '前门摄像头';

function catalogBytes(declaration: string, name: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `${declaration}<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>34020000001110000001</DeviceID>` +
        '<SumNum>1</SumNum><DeviceList Num="1"><Item><DeviceID>34020000001320000001</DeviceID><Name>',
      'latin1',
    ),
    name,
    Buffer.from('</Name><Status>ON</Status></Item></DeviceList></Response>', 'latin1'),
  ]);
}

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ManscdpError);
    return (error as ManscdpError).problem;
  }
  throw new Error('expected a ManscdpError');
}

describe('readManscdp: charsets', () => {
  it('reads GBK bytes declared GB2312 as GB18030', () => {
    const message = readManscdp(catalogBytes(gbDecl, frontGateGb));
    expect(message.charset).toBe('GB18030');
    expect(readCatalogResponse(message).items[0]?.name).toBe(frontGate);
  });

  it('reads UTF-8 bytes declared UTF-8', () => {
    const message = readManscdp(catalogBytes(utf8Decl, Buffer.from(frontGate, 'utf8')));
    expect(message.charset).toBe('UTF-8');
    expect(readCatalogResponse(message).items[0]?.name).toBe(frontGate);
  });

  it('sees through a declaration that lies: UTF-8 bytes declared GB2312', () => {
    const message = readManscdp(catalogBytes(gbDecl, Buffer.from(frontGate, 'utf8')));
    expect(message.charset).toBe('UTF-8');
    expect(readCatalogResponse(message).items[0]?.name).toBe(frontGate);
  });

  it('sees through a declaration that lies: GBK bytes declared UTF-8', () => {
    const message = readManscdp(catalogBytes(utf8Decl, frontGateGb));
    expect(message.charset).toBe('GB18030');
    expect(readCatalogResponse(message).items[0]?.name).toBe(frontGate);
  });

  it('reads GBK that happens to be valid UTF-8 as GBK when declared GB2312 (ó = C3 B3 is 贸 in GBK)', () => {
    const gbk = Buffer.from('c3b3', 'hex'); // 贸 in GB2312; also valid UTF-8 for "ó"
    const message = readManscdp(catalogBytes(gbDecl, gbk));
    expect(readCatalogResponse(message).items[0]?.name).toBe('贸');
  });

  it('takes the charset of the Content-Type when the body declares none', () => {
    const message = readManscdp(catalogBytes('', frontGateGb), 'Application/MANSCDP+xml; charset=GB2312');
    expect(message.charset).toBe('GB18030');
    expect(readCatalogResponse(message).items[0]?.name).toBe(frontGate);
  });

  it('reads undeclared GBK as GB18030 and undeclared UTF-8 as UTF-8', () => {
    expect(readManscdp(catalogBytes('', frontGateGb)).charset).toBe('GB18030');
    expect(readManscdp(catalogBytes('', Buffer.from(frontGate))).charset).toBe('UTF-8');
  });

  it('refuses bytes that are neither UTF-8 nor GB18030, and an encoding it does not read', () => {
    expect(problemOf(() => readManscdp(catalogBytes(gbDecl, Buffer.from([0xff, 0xfe, 0x80]))))).toMatch(
      /neither UTF-8 nor GB18030/,
    );
    expect(
      problemOf(() => readManscdp(Buffer.from(keepalive('<?xml version="1.0" encoding="Shift_JIS"?>')))),
    ).toMatch(/unsupported encoding/);
  });

  it('takes a UTF-8 byte order mark', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(keepalive(utf8Decl))]);
    expect(readManscdp(body).cmdType).toBe('Keepalive');
  });
});

describe('writeManscdp and encodeGb2312', () => {
  it('writes GB2312 bytes for Chinese names, the same as Python’s codec', () => {
    expect(encodeGb2312(frontGate).equals(frontGateGb)).toBe(true);
  });

  it('round-trips Chinese names through GB2312 and UTF-8', () => {
    const names = ['大门口', '东侧围墙', '3号楼电梯厅', '停车场入口', 'A&B <侧门> "东"'];
    for (const charset of ['GB2312', 'UTF-8'] as const) {
      const body = writeManscdp(
        'Response',
        {
          CmdType: 'Catalog',
          SN: 3,
          DeviceID: '34020000001110000001',
          SumNum: names.length,
          DeviceList: {
            attrs: { Num: String(names.length) },
            itemName: 'Item',
            items: names.map((name, index) => ({ DeviceID: `3402000000132000000${index}`, Name: name })),
          },
        },
        charset,
      );
      expect(body.subarray(0, 40).toString('latin1')).toContain(`encoding="${charset}"`);
      const message = readManscdp(body);
      expect(message.charset).toBe(charset === 'GB2312' ? 'GB18030' : 'UTF-8');
      expect(readCatalogResponse(message).items.map((item) => item.name)).toEqual(names);
    }
  });

  it('writes a character GB2312 lacks as a character reference, which reads back', () => {
    const body = writeManscdp('Notify', {
      CmdType: 'Keepalive',
      SN: 1,
      DeviceID: 'x1',
      Status: 'OK',
      Note: '堃😀',
    });
    expect(body.toString('latin1')).toContain('&#x5803;&#x1F600;');
    expect(readManscdp(body).body.children.at(-1)?.text).toBe('堃😀');
  });

  it('writes CmdType, SN and DeviceID first, one element a line, with CRLF', () => {
    const body = writeManscdp(
      'Control',
      { CmdType: 'DeviceControl', SN: 9, DeviceID: '34020000001320000001', TeleBoot: 'Boot' },
      'UTF-8',
    );
    expect(body.toString()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\r\n<Control>\r\n<CmdType>DeviceControl</CmdType>\r\n<SN>9</SN>\r\n' +
        '<DeviceID>34020000001320000001</DeviceID>\r\n<TeleBoot>Boot</TeleBoot>\r\n</Control>\r\n',
    );
  });

  it('refuses an element name that is not one', () => {
    expect(problemOf(() => writeManscdp('Notify', { 'bad name': 'x' }))).toMatch(/not an element name/);
  });
});

describe('readManscdp: refusals and bounds', () => {
  it('refuses a DOCTYPE', () => {
    const body = `<?xml version="1.0"?><!DOCTYPE Notify [<!ENTITY x "y">]>${keepalive('')}`;
    expect(problemOf(() => readManscdp(Buffer.from(body)))).toMatch(/DOCTYPE/);
  });

  it('refuses malformed XML in words', () => {
    expect(problemOf(() => readManscdp(Buffer.from('<Notify><CmdType>Keepalive</Notify>')))).toMatch(
      /not XML/,
    );
    expect(problemOf(() => readManscdp(Buffer.from('not xml at all')))).toMatch(/not XML/);
    expect(problemOf(() => readManscdp(Buffer.alloc(0)))).toMatch(/empty/);
  });

  it('refuses an oversized body before reading it', () => {
    const big = Buffer.from(keepalive(utf8Decl, `<Pad>${'x'.repeat(manscdpLimits.maxBytes)}</Pad>`));
    expect(problemOf(() => readManscdp(big))).toMatch(/more than 65536/);
    expect(problemOf(() => readManscdp(Buffer.from(keepalive('')), undefined, 64))).toMatch(/more than 64/);
  });

  it('refuses too many elements and too long a text', () => {
    const many = keepalive('', `<Info>${'<I/>'.repeat(manscdpLimits.maxElements)}</Info>`);
    expect(problemOf(() => readManscdp(Buffer.from(many)))).toMatch(/more than 4096 elements/);
    const long = keepalive('', `<Note>${'y'.repeat(manscdpLimits.maxTextLength + 1)}</Note>`);
    expect(problemOf(() => readManscdp(Buffer.from(long)))).toMatch(/longer than 4096/);
  });

  it('refuses a root, CmdType, SN or DeviceID that is not one', () => {
    expect(
      problemOf(() => readManscdp(Buffer.from('<Envelope><CmdType>Keepalive</CmdType></Envelope>'))),
    ).toMatch(/root element/);
    expect(
      problemOf(() => readManscdp(Buffer.from('<Notify><SN>1</SN><DeviceID>a</DeviceID></Notify>'))),
    ).toMatch(/CmdType/);
    expect(
      problemOf(() => readManscdp(Buffer.from(keepalive('').replace('<SN>7</SN>', '<SN>2147483648</SN>')))),
    ).toMatch(/SN/);
    expect(
      problemOf(() => readManscdp(Buffer.from(keepalive('').replace('34020000001320000001', 'a b')))),
    ).toMatch(/DeviceID/);
  });

  it('never puts the sender’s bytes in a problem', () => {
    const secret = 'SECRET-VALUE-42';
    const problems = [
      problemOf(() => readManscdp(Buffer.from(`<${secret}><CmdType>x</CmdType></${secret}>`))),
      problemOf(() =>
        readAlarm(
          readManscdp(
            Buffer.from(
              keepalive('')
                .replace(/Keepalive/g, 'Alarm')
                .replace('<Status>OK</Status>', `<AlarmPriority>${secret}</AlarmPriority>`),
            ),
          ),
        ),
      ),
    ];
    for (const problem of problems) expect(problem).not.toContain('VALUE-42');
  });
});

describe('the typed readers', () => {
  it('read a keepalive whose Status is ERROR, and refuse an unknown status', () => {
    const error = keepalive('').replace('OK', 'ERROR');
    expect(readKeepalive(readManscdp(Buffer.from(error))).status).toBe('ERROR');
    const odd = keepalive('').replace('OK', 'MAYBE');
    expect(problemOf(() => readKeepalive(readManscdp(Buffer.from(odd))))).toMatch(/status/);
  });

  it('refuse a message of another command', () => {
    expect(problemOf(() => readAlarm(readManscdp(Buffer.from(keepalive('')))))).toMatch(
      /expected Notify Alarm, got another command/,
    );
  });

  it('read an alarm strictly: priority and method required and bounded, unknown elements ignored', () => {
    const alarm = (fields: string) =>
      Buffer.from(
        `<Notify><CmdType>Alarm</CmdType><SN>5</SN><DeviceID>34020000001340000001</DeviceID>${fields}</Notify>`,
      );
    expect(
      readAlarm(
        readManscdp(
          alarm(
            '<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmType>6</AlarmType><VendorThing>1</VendorThing><Longitude>117.5</Longitude><Latitude>31.5</Latitude>',
          ),
        ),
      ),
    ).toEqual({
      deviceId: '34020000001340000001',
      sn: 5,
      priority: 1,
      method: 5,
      alarmType: 6,
      longitude: 117.5,
      latitude: 31.5,
    });
    expect(problemOf(() => readAlarm(readManscdp(alarm('<AlarmMethod>5</AlarmMethod>'))))).toMatch(
      /priority/,
    );
    expect(
      problemOf(() =>
        readAlarm(readManscdp(alarm('<AlarmPriority>9</AlarmPriority><AlarmMethod>5</AlarmMethod>'))),
      ),
    ).toMatch(/priority/);
    expect(
      problemOf(() =>
        readAlarm(
          readManscdp(
            alarm(
              '<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><Longitude>200</Longitude><Latitude>1</Latitude>',
            ),
          ),
        ),
      ),
    ).toMatch(/longitude/);
  });

  it('read 2022’s UploadSnapShotFinished', () => {
    const body = Buffer.from(
      '<Notify><CmdType>UploadSnapShotFinished</CmdType><SN>102</SN><DeviceID>34020000001320000001</DeviceID>' +
        '<SessionID>9a7d3a146a1e420dbd00020ed01b39e7</SessionID><SnapShotList>' +
        '<SnapShotFileID>34020000001310000001022025081609220800000</SnapShotFileID></SnapShotList></Notify>',
    );
    expect(readUploadSnapShotFinished(readManscdp(body))).toEqual({
      deviceId: '34020000001320000001',
      sn: 102,
      sessionId: '9a7d3a146a1e420dbd00020ed01b39e7',
      files: ['34020000001310000001022025081609220800000'],
    });
  });
});

describe('manscdpTime', () => {
  it('gives a device’s local time its offset, keeps one it has, refuses what is no time', () => {
    expect(manscdpTime('2017-07-19T10:19:14')).toBe('2017-07-19T10:19:14+08:00');
    expect(manscdpTime('2026-9-16 10:30:00.123')).toBe('2026-09-16T10:30:00.123+08:00');
    expect(manscdpTime('2026-09-16T10:30:00Z')).toBe('2026-09-16T10:30:00Z');
    expect(manscdpTime('2026-09-16T10:30:00', '+00:00')).toBe('2026-09-16T10:30:00+00:00');
    expect(manscdpTime('yesterday')).toBeUndefined();
    expect(manscdpTime('2026-13-40T10:30:00')).toBeUndefined();
  });
});
