/**
 * Real EventNotificationAlert payloads from public sources, verbatim, each with where it came from. They are what
 * the hikvision-isapi connector and adapter are proven against (test/devices/hikvision-isapi.fixtures.test.ts) and
 * what test/integration/hikvision-proof.test.ts replays to the hub over real HTTP, pushed and streamed.
 */

export interface RealPayload {
  readonly name: string;
  /** Where the payload was published: repository, path and commit, or the page. */
  readonly source: string;
  readonly contentType: string;
  readonly body: string;
  /** The normalized event types the hub makes of it (masked identifiers), in order; none for an ordinary log entry. */
  readonly expectedTypes: readonly string[];
  /** Attributes the first event must carry. */
  readonly expectedAttributes?: Readonly<Record<string, string | number>>;
  /** A resident's identifier the payload carries, which must never reach an event. */
  readonly identifier?: string;
}

const hikvisionNext = (path: string, commit: string) =>
  `https://github.com/maciej-or/hikvision_next/blob/${commit}/tests/fixtures/ISAPI/EventNotificationAlert/${path}`;

const accessTerminalCapture =
  'https://github.com/santanapedro/ha-hikvision-access/blob/4802cc0b0807d3fd3949fc73837b91f527644dda/tests/fixtures/alertStream.sample.txt';

/** One part of the DS-K1T342MWX capture below, as the terminal wrote it (tabs, LF line ends). */
function accessEvent(dateTime: string, event: string): string {
  return `{
\t"ipAddress":\t"192.0.2.10",
\t"portNo":\t443,
\t"protocol":\t"HTTPS",
\t"macAddress":\t"AA:BB:CC:DD:EE:FF",
\t"channelID":\t1,
\t"dateTime":\t"${dateTime}",
\t"activePostCount":\t1,
\t"eventType":\t"AccessControllerEvent",
\t"eventState":\t"active",
\t"eventDescription":\t"Access Controller Event",
\t"AccessControllerEvent":\t{
${event}
\t}
}`;
}

export const realPayloads: readonly RealPayload[] = [
  {
    name: 'camera motion (VMD), firmware v1.0 with dynChannelID',
    source: hikvisionNext('vmd.xml', '4392eb1e6e2573a79b525d8d72c7464a43423113'),
    contentType: 'application/xml',
    body: `<EventNotificationAlert version="1.0"
  xmlns="http://www.hikvision.com/ver20/XMLSchema">
  <ipAddress>1.0.0.255</ipAddress>
  <portNo>80</portNo>
  <protocol>HTTP</protocol>
  <macAddress>a6:63:9e:f8:01:09</macAddress>
  <dynChannelID>1</dynChannelID>
  <dateTime>2025-03-05T10:47:40+00:00</dateTime>
  <activePostCount>1</activePostCount>
  <eventType>VMD</eventType>
  <eventState>active</eventState>
  <eventDescription>Motion alarm</eventDescription>
</EventNotificationAlert>`,
    expectedTypes: ['camera.motion'],
    expectedAttributes: { channel: 1 },
  },
  {
    name: 'intrusion (fielddetection) of a human, with its region',
    source: hikvisionNext('fielddetection_human.xml', '3e22da855928f6b43b84d238b9767b9ccb0f5acc'),
    contentType: 'application/xml',
    body: `<EventNotificationAlert version="2.0"
  xmlns="http://www.hikvision.com/ver20/XMLSchema">
  <ipAddress>1.0.0.255</ipAddress>
  <ipv6Address>::ffff:192.168.2.5</ipv6Address>
  <portNo>80</portNo>
  <protocol>HTTP</protocol>
  <macAddress>ac:b9:2f:49:44:75</macAddress>
  <channelID>1</channelID>
  <dateTime>2022-01-31T13:53:05+01:00</dateTime>
  <activePostCount>1</activePostCount>
  <eventType>fielddetection</eventType>
  <eventState>active</eventState>
  <eventDescription>fielddetection alarm</eventDescription>
  <DetectionRegionList>
    <DetectionRegionEntry>
      <regionID>3</regionID>
      <sensitivityLevel>50</sensitivityLevel>
      <RegionCoordinatesList>
        <RegionCoordinates>
          <positionX>572</positionX>
          <positionY>100</positionY>
        </RegionCoordinates>
        <RegionCoordinates>
          <positionX>572</positionX>
          <positionY>995</positionY>
        </RegionCoordinates>
        <RegionCoordinates>
          <positionX>999</positionX>
          <positionY>998</positionY>
        </RegionCoordinates>
        <RegionCoordinates>
          <positionX>992</positionX>
          <positionY>210</positionY>
        </RegionCoordinates>
      </RegionCoordinatesList>
      <detectionTarget>human</detectionTarget>
      <TargetRect>
        <X>0.6</X>
        <Y>0.215278</Y>
        <width>0.135937</width>
        <height>0.505556</height>
      </TargetRect>
    </DetectionRegionEntry>
  </DetectionRegionList>
  <channelName>COUR NORD</channelName>
  <detectionPictureTransType>binary</detectionPictureTransType>
  <detectionPicturesNumber>1</detectionPicturesNumber>
  <isDataRetransmission>false</isDataRetransmission>
</EventNotificationAlert>
`,
    expectedTypes: ['camera.intrusion'],
    expectedAttributes: { channel: 1, region: 3, target: 'human' },
  },
  {
    name: 'alarm input (IO) of a DS-2CD2346G2-ISU',
    source: hikvisionNext(
      'cam1_DS-2CD2346G2-ISU_io_notification.xml',
      '39955dfbd76fad9150f73f4119260b6ec21fccf6',
    ),
    contentType: 'application/xml',
    body: `<EventNotificationAlert version="2.0" 
xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>192.168.1.151</ipAddress>
<portNo>443</portNo>
<protocol>HTTPS</protocol>
<macAddress>4f:e4:2f:81:cd:1b</macAddress>
<channelID>1</channelID>
<dateTime>2024-11-19T16:53:28+01:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>IO</eventType>
<eventState>active</eventState>
<eventDescription>IO alarm</eventDescription>
<inputIOPortID>1</inputIOPortID>
<channelName>Cam 1</channelName>
</EventNotificationAlert>`,
    expectedTypes: ['alarm.input'],
    expectedAttributes: { channel: 1, input: 1 },
  },
  {
    name: 'NVR intrusion, PSIA namespace, serial number in Extensions',
    source: hikvisionNext('nvr_home_fielddetection.xml', 'cab3c29eb3b536e84da88bc11636089131b977c6'),
    contentType: 'application/xml',
    body: `<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="1.0"
  xmlns="urn:psialliance-org">
  <channelID>34</channelID>
  <dateTime>2023-01-13T19:16:39+01:00</dateTime>
  <activePostCount>174</activePostCount>
  <eventType>fielddetection</eventType>
  <eventState>active</eventState>
  <Extensions>
    <serialNumber xmlns="urn:selfextension:psiaext-ver10-xsd">DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU
    </serialNumber>
    <eventPush xmlns="urn:selfextension:psiaext-ver10-xsd">fielddetection&amp;&amp;DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU,2023-01-13T19:16:39+01:00,34,1.0</eventPush>
  </Extensions>
</EventNotificationAlert>`,
    expectedTypes: ['camera.intrusion'],
    expectedAttributes: { channel: 34 },
  },
  {
    name: 'face terminal DS-K1T342MWX: face verified (5/75), name and employee number redacted by the publisher',
    source: accessTerminalCapture,
    contentType: 'application/json; charset="UTF-8"',
    body: accessEvent(
      '2025-06-22T10:37:34-04:00',
      `\t\t"deviceName":\t"LEITOR FUNDOS",
\t\t"majorEventType":\t5,
\t\t"subEventType":\t75,
\t\t"name":\t"REDACTED_NAME",
\t\t"cardReaderKind":\t1,
\t\t"cardReaderNo":\t1,
\t\t"verifyNo":\t162,
\t\t"employeeNoString":\t"REDACTED_EMP",
\t\t"serialNo":\t18,
\t\t"userType":\t"normal",
\t\t"currentVerifyMode":\t"cardOrFace",
\t\t"currentEvent":\tfalse,
\t\t"frontSerialNo":\t17,
\t\t"attendanceStatus":\t"undefined",
\t\t"label":\t"",
\t\t"statusValue":\t0,
\t\t"mask":\t"no",
\t\t"purePwdVerifyEnable":\ttrue,
\t\t"FaceRect":\t{
\t\t\t"height":\t0.196,
\t\t\t"width":\t0.111,
\t\t\t"x":\t0.5,
\t\t\t"y":\t0.049
\t\t}`,
    ),
    expectedTypes: ['access.granted'],
    expectedAttributes: { code: 'MINOR_FACE_VERIFY_PASS', reader: 1, credentialType: 'face' },
    identifier: 'REDACTED_NAME',
  },
  {
    name: 'face terminal DS-K1T342MWX: door button pressed (5/23), an ordinary log entry',
    source: accessTerminalCapture,
    contentType: 'application/json; charset="UTF-8"',
    body: accessEvent(
      '2025-06-22T10:26:24-04:00',
      `\t\t"deviceName":\t"LEITOR FUNDOS",
\t\t"majorEventType":\t5,
\t\t"subEventType":\t23,
\t\t"cardReaderKind":\t1,
\t\t"doorNo":\t1,
\t\t"serialNo":\t2,
\t\t"currentVerifyMode":\t"invalid",
\t\t"currentEvent":\tfalse,
\t\t"frontSerialNo":\t1,
\t\t"attendanceStatus":\t"undefined",
\t\t"label":\t"",
\t\t"statusValue":\t0,
\t\t"mask":\t"unknown",
\t\t"purePwdVerifyEnable":\ttrue`,
    ),
    expectedTypes: [],
  },
  {
    name: 'face terminal DS-K1T342MWX: remote login (3/112), an ordinary log entry',
    source: accessTerminalCapture,
    contentType: 'application/json; charset="UTF-8"',
    body: accessEvent(
      '2025-06-22T10:34:16-04:00',
      `\t\t"deviceName":\t"LEITOR FUNDOS",
\t\t"majorEventType":\t3,
\t\t"subEventType":\t112,
\t\t"remoteHostAddr":\t"192.0.2.100",
\t\t"verifyNo":\t146,
\t\t"serialNo":\t10,
\t\t"currentVerifyMode":\t"invalid",
\t\t"currentEvent":\tfalse,
\t\t"frontSerialNo":\t9,
\t\t"attendanceStatus":\t"undefined",
\t\t"label":\t"",
\t\t"statusValue":\t0,
\t\t"mask":\t"unknown",
\t\t"purePwdVerifyEnable":\ttrue`,
    ),
    expectedTypes: [],
  },
];
