/**
 * Real MANSCDP bodies, each with its provenance: what devices and the standard's published examples look like on
 * the wire, quirks included. test/devices/gb28181.fixtures.test.ts reads each with readManscdp and the typed
 * readers, and turns the alarms into the adapter's frames.
 *
 * Where a source printed a message inside a document or a code comment, it is copied as printed, with only the
 * line ends made CRLF as devices send them (the sources show them either way) unless said otherwise.
 */

export interface RealMessage {
  readonly name: string;
  /** Repository and file, or URL; what device or edition. */
  readonly source: string;
  readonly body: Buffer;
  readonly contentType?: string;
}

const crlf = (text: string): Buffer => Buffer.from(text.trim().split(/\r?\n/).join('\r\n'), 'utf8');

/**
 * A DVR's keepalive listing six faulty channels under <Info>, with Status OK all the same (devices do). Source:
 * ossrs/srs, trunk/src/protocol/srs_sip_stack.cpp, the comment in SrsSipStack::parse_xml (SRS 4.0's GB28181
 * support, logged from a device registering as 34020000001110000001, type 111 DVR). GB2312 declared, ASCII body.
 */
export const keepaliveWithFaults: RealMessage = {
  name: 'keepalive of a DVR with six faulty channels (SRS)',
  source: 'ossrs/srs trunk/src/protocol/srs_sip_stack.cpp (SrsSipStack::parse_xml comment), 2016 device',
  body: crlf(`<?xml version="1.0" encoding="gb2312"?>
<Notify>
<CmdType>Keepalive</CmdType>
<SN>2034</SN>
<DeviceID>34020000001110000001</DeviceID>
<Status>OK</Status>
<Info>
<DeviceID>34020000001320000002</DeviceID>
<DeviceID>34020000001320000003</DeviceID>
<DeviceID>34020000001320000005</DeviceID>
<DeviceID>34020000001320000006</DeviceID>
<DeviceID>34020000001320000007</DeviceID>
<DeviceID>34020000001320000008</DeviceID>
</Info>
</Notify>`),
};

/**
 * A Hikvision alarm input's device alarm (AlarmMethod 2, no AlarmType: the default alarm-input alarm), with the
 * unset 0.000/0.000 position devices send. Source: TSINGSEE's article "EasyCVR平台海康大华设备国标GB28181告警布防的
 * 报文说明" (http://mfbz.cn/a/59524.html), section 2. Printed with `<cmdType>` in lower camel case and the
 * declaration as `encoding-"gb2312"` (a typo that leaves no readable label): kept, a reader must survive both.
 */
export const hikvisionDeviceAlarm: RealMessage = {
  name: 'Hikvision alarm input: device alarm, method 2 (EasyCVR article)',
  source: 'http://mfbz.cn/a/59524.html, Hikvision/Dahua devices, GB/T 28181-2016',
  body: Buffer.from(
    '<?xml version="1.0" encoding-"gb2312"?>\r\n<Notify>\n<cmdType>Alarm</cmdType>\n<SN>51</SN>\n' +
      '<DeviceID>31010000001340000001</DeviceID>\n<AlarmPriority>4</AlarmPriority>\n' +
      '<AlarmTime>2017-07-19T10:19:14</AlarmTime>\n<Longitude>0.000</Longitude>\n<Latitude>0.000</Latitude>\n' +
      '<AlarmMethod>2</AlarmMethod>\n</Notify>\n',
    'utf8',
  ),
};

/**
 * The arming command the same article shows a platform sending to that alarm input: what the adapter's `guard`
 * command must produce (the connector adds the SN).
 */
export const setGuardControl: RealMessage = {
  name: 'DeviceControl SetGuard to an alarm input (EasyCVR article)',
  source: 'http://mfbz.cn/a/59524.html, section 1.1',
  body: crlf(`<?xml version="1.0"?>
<Control>
<CmdType>DeviceControl</CmdType>
<SN>0</SN>
<DeviceID>31010000001340000090</DeviceID>
<GuardCmd>SetGuard</GuardCmd>
</Control>`),
};

/**
 * A video alarm with the 2016 <Info> block: motion detection (AlarmType 2) with an AlarmTypeParam, described in
 * Dahua's words (视频动检). Source: Mocearan/notebook, its GB28181 notes (报警格式), captured 2023-10-20 from a device
 * whose User-Agent the notes print as "SIP UAS V.2016.xxxx". The notes redact the DeviceID as "xxx" and write
 * annotations after some elements; the annotations are removed here, the redaction kept.
 */
export const videoMotionAlarm: RealMessage = {
  name: 'video alarm with Info/AlarmType 2 and AlarmTypeParam (Mocearan notes)',
  source: 'Mocearan/notebook GB28181 notes (报警格式), device "SIP UAS V.2016", 2016 layout',
  body: crlf(`<?xml version="1.0" encoding="UTF-8" standalone="true"?>
<Notify>
	<CmdType>Alarm</CmdType>
	<SN>2</SN>
	<DeviceID>xxx</DeviceID>
	<AlarmPriority>1</AlarmPriority>
	<AlarmMethod>5</AlarmMethod>
	<AlarmTime>2023-10-20T09:19:12</AlarmTime>
	<AlarmDescription>视频动检</AlarmDescription>
	<AlarmInfo>11</AlarmInfo>
	<Info>
		<AlarmType>2</AlarmType>
		<AlarmTypeParam>
			<EventType>1</EventType>
		</AlarmTypeParam>
	</Info>
</Notify>`),
};

/**
 * A Hikvision NVR's DeviceInfo response (DS-7916N-R4, firmware V4.72.107). Source: go-av/gosip,
 * pkg/gb28181/query__device_info.go, the comment above GetDeviceInfo. Printed tab-indented, no declaration.
 */
export const hikvisionNvrDeviceInfo: RealMessage = {
  name: 'Hikvision NVR DS-7916N-R4 DeviceInfo (gosip)',
  source: 'go-av/gosip pkg/gb28181/query__device_info.go, Hikvision DS-7916N-R4 V4.72.107',
  body: crlf(`<Response>
	<CmdType>DeviceInfo</CmdType>
	<SN>1676965736</SN>
	<DeviceID>34020000001110000005</DeviceID>
	<DeviceName>Network Video Recorder</DeviceName>
	<Result>OK</Result>
	<DeviceType>DVR</DeviceType>
	<Manufacturer>HIKVISION</Manufacturer>
	<Model>DS-7916N-R4</Model>
	<Firmware>V4.72.107</Firmware>
	<MaxCamera>16</MaxCamera>
	<MaxAlarm>16</MaxAlarm>
</Response>`),
};

/**
 * A camera's DeviceStatus response, online, encoding and recording. Source: go-av/gosip,
 * pkg/gb28181/query__device_status.go, the comment above GetDeviceStatus (SN is the platform's Unix time).
 */
export const cameraDeviceStatus: RealMessage = {
  name: 'IP camera DeviceStatus (gosip)',
  source: 'go-av/gosip pkg/gb28181/query__device_status.go',
  body: crlf(`<?xml version="1.0" encoding="gb2312"?>
<Response>
	<CmdType>DeviceStatus</CmdType>
	<SN>1676968400</SN>
	<DeviceID>34020000001320000041</DeviceID>
	<Result>OK</Result>
	<Online>ONLINE</Online>
	<Status>OK</Status>
	<Encode>ON</Encode>
	<Record>ON</Record>
</Response>`),
};

/**
 * A voice-broadcast Response, standalone="yes", GB2312 declared: the Result-only answer a device gives to a
 * control, as readResult reads it. Source: Mocearan/notebook GB28181 notes (语音广播, step 3), DeviceID redacted.
 */
export const broadcastResponse: RealMessage = {
  name: 'Result-only Response, GB2312, standalone (Mocearan notes)',
  source: 'Mocearan/notebook GB28181 notes (语音广播 3), device "SIP UAS V.2016"',
  body: crlf(`<?xml version="1.0" encoding="GB2312" standalone="yes" ?>
<Response>
<CmdType>Broadcast</CmdType>
<SN>130</SN>
<DeviceID>xxx</DeviceID>
<Result>OK</Result>
</Response>`),
};

/**
 * A Hikvision IP camera's Catalog response (its default channel name IPdome), with a position, PTZType in <Info>
 * and an undocumented vendor element <a> beside it. Source: a Java project's test that parses it (testXml, with
 * Hutool's XmlUtil), found through the code index without its repository name; the device is a Hikvision IPC whose
 * national code the integrator set to 10000100001111111111 (type 111). Declared gb2312, ASCII.
 */
export const hikvisionCatalog: RealMessage = {
  name: 'Hikvision IPC catalog page: IPdome, Info/PTZType and a vendor extra',
  source: 'Java test parsing a Hikvision IPC catalog (repository not named by the index), 2016',
  body: crlf(`<?xml version="1.0" encoding="gb2312"?>
<Response>
<CmdType>Catalog</CmdType>
<SN>4</SN>
<DeviceID>10000100001111111111</DeviceID>
<SumNum>2</SumNum>
<DeviceList Num="1">
<Item>
<DeviceID>10000100001320000002</DeviceID>
<Name>IPdome</Name>
<Manufacturer>Manufacturer</Manufacturer>
<Model>Camera</Model>
<Owner>Owner</Owner>
<CivilCode>CivilCode</CivilCode>
<Address>192.168.31.143</Address>
<Parental>0</Parental>
<ParentID>10000100001111111111</ParentID>
<SafetyWay>0</SafetyWay>
<RegisterWay>1</RegisterWay>
<Secrecy>0</Secrecy>
<Status>ON</Status>
<Longitude>0.000</Longitude>
<Latitude>0.000</Latitude>
<Info>
<PTZType>2</PTZType>
<a>4</a>
</Info>
</Item>
</DeviceList>
</Response>`),
};

/**
 * The standard's Catalog response example as a PDF extraction prints it (GB/T 28181-2016 A.2.6.4), copied into
 * go-av/gosip pkg/gb28181/query__catalog.go: spaces inside end tags (`</ Name>`), `<? xmlversion`, an unquoted
 * attribute. Not well-formed XML; the hub's reader, like the devices' own lenient parsers, still reads what it says
 * (an end tag's name is trimmed, an unquoted attribute ignored). Cut to its first item's first fields.
 */
export const standardCatalogAsExtracted: RealMessage = {
  name: "the standard's catalog example as extracted from the PDF (gosip)",
  source: 'go-av/gosip pkg/gb28181/query__catalog.go (GB/T 28181-2016 A.2.6.4 example)',
  body: crlf(`<? xmlversion="1.0"?>
<Response>
    <CmdType>Catalog </CmdType>
    <SN>17430</SN>
    <DeviceID>64010000001110000001</DeviceID>
    <SumNum>100</SumNum>
    <DeviceList Num=1>
        <Item>
            <DeviceID>64010000001330000001</DeviceID>
            <Name>Camera1</ Name>
        </Item>
    </DeviceList>
</Response>`),
};

/**
 * A GB2312 catalog page of an NVR with Chinese channel names and positions, RECONSTRUCTED: no public capture with
 * GBK bytes was found, so the bytes are built here as a Hikvision NVR writes them (the element order and the
 * SRS-logged DVR's codes above, two channels of SumNum 4, DeviceList Num="2", Longitude/Latitude in degrees), the
 * names encoded to GB2312 by Python's own codec (`'大门口'.encode('gb2312')`), independent of this project's encoder.
 */
const gb = (hex: string) => Buffer.from(hex, 'hex');
export const gb2312CatalogNames = ['大门口', '东侧围墙'] as const;
export const reconstructedGb2312Catalog: RealMessage = {
  name: 'NVR catalog page in GB2312 with Chinese names and positions (reconstructed bytes)',
  source: 'reconstructed: element layout of Hikvision NVR catalogs, names encoded by Python gb2312 codec',
  contentType: 'Application/MANSCDP+xml',
  body: Buffer.concat([
    Buffer.from(
      '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n<SN>17</SN>\r\n' +
        '<DeviceID>34020000001110000001</DeviceID>\r\n<SumNum>4</SumNum>\r\n<DeviceList Num="2">\r\n' +
        '<Item>\r\n<DeviceID>34020000001320000002</DeviceID>\r\n<Name>',
      'latin1',
    ),
    gb('b4f3c3c5bfda'),
    Buffer.from(
      '</Name>\r\n<Manufacturer>Hikvision</Manufacturer>\r\n<Model>IP Camera</Model>\r\n<Owner>Owner</Owner>\r\n' +
        '<CivilCode>3402000000</CivilCode>\r\n<Address>Address</Address>\r\n<Parental>0</Parental>\r\n' +
        '<ParentID>34020000001110000001</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n' +
        '<Secrecy>0</Secrecy>\r\n<Status>ON</Status>\r\n<Longitude>117.2272</Longitude>\r\n' +
        '<Latitude>31.8206</Latitude>\r\n</Item>\r\n<Item>\r\n<DeviceID>34020000001340000001</DeviceID>\r\n<Name>',
      'latin1',
    ),
    gb('b6abb2e0cea7c7bd'),
    Buffer.from(
      '</Name>\r\n<Manufacturer>Hikvision</Manufacturer>\r\n<Model>Alarm Input</Model>\r\n<Owner>Owner</Owner>\r\n' +
        '<CivilCode>3402000000</CivilCode>\r\n<Address>Address</Address>\r\n<Parental>0</Parental>\r\n' +
        '<ParentID>34020000001110000001</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n' +
        '<Secrecy>0</Secrecy>\r\n<Status>OFF</Status>\r\n</Item>\r\n</DeviceList>\r\n</Response>\r\n',
      'latin1',
    ),
  ]),
};

/** A DeviceControl's Response: Result OK, as the same DVR answers a TeleBoot or GuardCmd (SRS's device, reconstructed). */
export const deviceControlResponse: RealMessage = {
  name: 'DeviceControl Response OK',
  source: 'GB/T 28181-2016 A.2.6.2 layout; Result-only like the Broadcast response above',
  body: crlf(`<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>DeviceControl</CmdType>
<SN>11</SN>
<DeviceID>34020000001340000001</DeviceID>
<Result>OK</Result>
</Response>`),
};
