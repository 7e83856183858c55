import {
  type Notification,
  notificationXml,
  type PullPoints,
  TOPICS,
  type TopicKey,
  topicSetXml,
} from './events.ts';
import {
  child,
  childText,
  escapeXml,
  faults,
  isoTime,
  NS,
  parseDuration,
  parseTerminationTime,
  type SoapFault,
  type XmlElement,
} from './soap.ts';

/**
 * The camera's SOAP operations, one lookup table per service (ONVIF Device 8.x, Media 5.x, Event 9.x, PTZ 5.x),
 * each handler turning the request's body element into the response's body element.
 * Only what clients use is there; anything else is answered with ter:ActionNotSupported by the dispatcher.
 */

export type ServiceName = 'device' | 'media' | 'events' | 'ptz' | 'subscription';

/** Namespaces a service's operations are in; a known name in another namespace is still unknown. */
export const SERVICE_NAMESPACES: Readonly<Record<ServiceName, readonly string[]>> = {
  device: [NS.tds],
  media: [NS.trt],
  events: [NS.tev],
  ptz: [NS.tptz],
  subscription: [NS.tev, NS.wsnt],
};

export interface PtzPreset {
  readonly token: string;
  readonly name: string;
}

export interface DeviceIdentity {
  readonly name: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly serialNumber: string;
  readonly firmwareVersion: string;
  readonly hardwareId: string;
  readonly hostname: string;
}

/** What the handlers see of the camera. */
export interface CameraContext {
  readonly identity: DeviceIdentity;
  readonly presets: readonly PtzPreset[];
  readonly scopes: readonly string[];
  /** The camera's one account (GetUsers lists it). */
  readonly username: string;
  readonly pullPoints: PullPoints;
  serviceUrl(service: 'device' | 'media' | 'events' | 'ptz'): string;
  subscriptionUrl(id: string): string;
  snapshotUri(): string;
  streamUri(): string;
  now(): Date;
  /** The current state of every property, as `Initialized` messages. */
  initialState(): Notification[];
  gotoPreset(token: string): void;
  readonly lastPreset: string | undefined;
  /** Reboots after the answer has gone out. */
  requestReboot(afterMs: number): void;
  /** Firmware limits: the longest subscription the camera grants, the longest a pull may wait (ms). */
  readonly maxSubscriptionMs: number | undefined;
  readonly maxPullWaitMs: number | undefined;
  /** Counts the Renew requests it answered. */
  renewed(): void;
}

/** Many cameras grant less than asked: cap a requested termination time at the firmware's limit. */
function granted(cam: CameraContext, requested: Date, now: Date): Date {
  const limit = cam.maxSubscriptionMs;
  return limit === undefined ? requested : new Date(Math.min(requested.getTime(), now.getTime() + limit));
}

export interface OperationTarget {
  /** For the subscription service: the id from the PullPoint address. */
  readonly subscriptionId?: string;
}

export type Handler = (
  op: XmlElement,
  cam: CameraContext,
  target: OperationTarget,
) => string | Promise<string>;

export const PROFILE_TOKEN = 'Profile_1';
const VIDEO_SOURCE = 'VideoSource_1';
const VIDEO_SOURCE_CONFIGURATION = 'VideoSourceConfig_1';
const VIDEO_ENCODER_CONFIGURATION = 'VideoEncoderConfig_1';
const PTZ_CONFIGURATION = 'PTZConfig_1';
const PTZ_NODE = 'PTZNode_1';
const WIDTH = 640;
const HEIGHT = 360;
const FRAME_RATE = 10;
const GOV_LENGTH = 10;

/** Default and bounds for subscriptions and pulls. */
const DEFAULT_TERMINATION = 'PT60S';
const MAX_PULL_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MESSAGE_LIMIT = 10;

const SPACE = {
  panTiltPosition: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace',
  zoomPosition: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace',
  panTiltTranslation: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace',
  zoomTranslation: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/TranslationGenericSpace',
  panTiltVelocity: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace',
  zoomVelocity: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace',
} as const;

const version = '<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>';

const range = (min: number, max: number): string => `<tt:Min>${min}</tt:Min><tt:Max>${max}</tt:Max>`;

/** Where preset i of n sits: spread across the pan range, level, wide. */
export function presetPosition(index: number, count: number): { x: number; y: number; zoom: number } {
  const x = count <= 1 ? 0 : Math.round((-1 + (2 * index) / (count - 1)) * 100) / 100;
  return { x, y: 0, zoom: 0 };
}

function positionXml(position: { x: number; y: number; zoom: number }, element = 'tt:PTZPosition'): string {
  return (
    `<${element}>` +
    `<tt:PanTilt x="${position.x}" y="${position.y}" space="${SPACE.panTiltPosition}"/>` +
    `<tt:Zoom x="${position.zoom}" space="${SPACE.zoomPosition}"/>` +
    `</${element}>`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Service capabilities, shared by GetServices and each service's GetServiceCapabilities

const SERVICE_CAPABILITIES: Readonly<Record<'device' | 'media' | 'events' | 'ptz', string>> = {
  device:
    '<tds:Capabilities>' +
    '<tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false" Dot11Configuration="false" HostnameFromDHCP="false" NTP="0"/>' +
    '<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="false" OnboardKeyGeneration="false" AccessPolicyConfig="false" DefaultAccessPolicy="false" Dot1X="false" RemoteUserHandling="false" X.509Token="false" SAMLToken="false" KerberosToken="false" UsernameToken="true" HttpDigest="false" RELToken="false"/>' +
    '<tds:System DiscoveryResolve="false" DiscoveryBye="false" RemoteDiscovery="false" SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false" HttpFirmwareUpgrade="false" HttpSystemBackup="false" HttpSystemLogging="false" HttpSupportInformation="false"/>' +
    '</tds:Capabilities>',
  media:
    '<trt:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" OSD="false">' +
    '<trt:ProfileCapabilities MaximumNumberOfProfiles="1"/>' +
    '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="false" RTP_RTSP_TCP="true" NonAggregateControl="false"/>' +
    '</trt:Capabilities>',
  events:
    '<tev:Capabilities WSSubscriptionPolicySupport="false" WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0" MaxPullPoints="10" PersistentNotificationStorage="false"/>',
  ptz: '<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="false" MoveStatus="true" StatusPosition="true"/>',
};

const SERVICE_NAMESPACE: Readonly<Record<'device' | 'media' | 'events' | 'ptz', string>> = {
  device: NS.tds,
  media: NS.trt,
  events: NS.tev,
  ptz: NS.tptz,
};

function advertisedServices(cam: CameraContext): Array<'device' | 'media' | 'events' | 'ptz'> {
  return cam.presets.length > 0 ? ['device', 'media', 'events', 'ptz'] : ['device', 'media', 'events'];
}

function serviceCapabilitiesResponse(prefix: string, service: keyof typeof SERVICE_CAPABILITIES): Handler {
  return () =>
    `<${prefix}:GetServiceCapabilitiesResponse>${SERVICE_CAPABILITIES[service]}</${prefix}:GetServiceCapabilitiesResponse>`;
}

/** A category or service the device lacks; the answer does not name it (ONVIF Core words it for every case). */
function noSuchService(_what: string): SoapFault {
  return faults.noSuchService();
}

// ---------------------------------------------------------------------------------------------------------------
// Device service

function dateTimeXml(date: Date, element: string): string {
  return (
    `<tt:${element}>` +
    `<tt:Time><tt:Hour>${date.getUTCHours()}</tt:Hour><tt:Minute>${date.getUTCMinutes()}</tt:Minute><tt:Second>${date.getUTCSeconds()}</tt:Second></tt:Time>` +
    `<tt:Date><tt:Year>${date.getUTCFullYear()}</tt:Year><tt:Month>${date.getUTCMonth() + 1}</tt:Month><tt:Day>${date.getUTCDate()}</tt:Day></tt:Date>` +
    `</tt:${element}>`
  );
}

const CAPABILITY_CATEGORIES: Readonly<Record<string, (cam: CameraContext) => string>> = {
  Device: (cam) =>
    '<tt:Device>' +
    `<tt:XAddr>${escapeXml(cam.serviceUrl('device'))}</tt:XAddr>` +
    '<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>' +
    '<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>false</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>' +
    '<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System>' +
    '<tt:IO><tt:InputConnectors>1</tt:InputConnectors><tt:RelayOutputs>0</tt:RelayOutputs></tt:IO>' +
    '<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2><tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security>' +
    '</tt:Device>',
  Events: (cam) =>
    '<tt:Events>' +
    `<tt:XAddr>${escapeXml(cam.serviceUrl('events'))}</tt:XAddr>` +
    '<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport><tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>' +
    '</tt:Events>',
  Media: (cam) =>
    '<tt:Media>' +
    `<tt:XAddr>${escapeXml(cam.serviceUrl('media'))}</tt:XAddr>` +
    '<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>false</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities>' +
    '</tt:Media>',
  PTZ: (cam) =>
    cam.presets.length > 0 ? `<tt:PTZ><tt:XAddr>${escapeXml(cam.serviceUrl('ptz'))}</tt:XAddr></tt:PTZ>` : '',
};

const device: Readonly<Record<string, Handler>> = {
  GetSystemDateAndTime: (_op, cam) => {
    const now = cam.now();
    // Local time is China Standard Time, as a camera installed in a Chinese community would be set.
    const local = new Date(now.getTime() + 8 * 3_600_000);
    return (
      '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
      '<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
      '<tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone>' +
      dateTimeXml(now, 'UTCDateTime') +
      dateTimeXml(local, 'LocalDateTime') +
      '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>'
    );
  },
  GetCapabilities: (op, cam) => {
    const categories = op.children.filter((c) => c.name === 'Category').map((c) => c.text.trim());
    const wanted =
      categories.length === 0 || categories.includes('All') ? Object.keys(CAPABILITY_CATEGORIES) : categories;
    const parts = wanted.map((category) => {
      const write = CAPABILITY_CATEGORIES[category];
      const xml = write?.(cam) ?? '';
      if (xml === '') throw noSuchService(category);
      return xml;
    });
    return `<tds:GetCapabilitiesResponse><tds:Capabilities>${parts.join('')}</tds:Capabilities></tds:GetCapabilitiesResponse>`;
  },
  GetServices: (op, cam) => {
    const include = childText(op, 'IncludeCapability') === 'true';
    const services = advertisedServices(cam).map(
      (service) =>
        '<tds:Service>' +
        `<tds:Namespace>${SERVICE_NAMESPACE[service]}</tds:Namespace>` +
        `<tds:XAddr>${escapeXml(cam.serviceUrl(service))}</tds:XAddr>` +
        (include ? `<tds:Capabilities>${SERVICE_CAPABILITIES[service]}</tds:Capabilities>` : '') +
        version +
        '</tds:Service>',
    );
    return `<tds:GetServicesResponse>${services.join('')}</tds:GetServicesResponse>`;
  },
  GetServiceCapabilities: serviceCapabilitiesResponse('tds', 'device'),
  GetDeviceInformation: (_op, cam) => {
    const id = cam.identity;
    return (
      '<tds:GetDeviceInformationResponse>' +
      `<tds:Manufacturer>${escapeXml(id.manufacturer)}</tds:Manufacturer>` +
      `<tds:Model>${escapeXml(id.model)}</tds:Model>` +
      `<tds:FirmwareVersion>${escapeXml(id.firmwareVersion)}</tds:FirmwareVersion>` +
      `<tds:SerialNumber>${escapeXml(id.serialNumber)}</tds:SerialNumber>` +
      `<tds:HardwareId>${escapeXml(id.hardwareId)}</tds:HardwareId>` +
      '</tds:GetDeviceInformationResponse>'
    );
  },
  GetScopes: (_op, cam) =>
    '<tds:GetScopesResponse>' +
    cam.scopes
      .map(
        (scope) =>
          `<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>${escapeXml(scope)}</tt:ScopeItem></tds:Scopes>`,
      )
      .join('') +
    '</tds:GetScopesResponse>',
  GetHostname: (_op, cam) =>
    '<tds:GetHostnameResponse><tds:HostnameInformation>' +
    `<tt:FromDHCP>false</tt:FromDHCP><tt:Name>${escapeXml(cam.identity.hostname)}</tt:Name>` +
    '</tds:HostnameInformation></tds:GetHostnameResponse>',
  SystemReboot: (_op, cam) => {
    cam.requestReboot(1_000);
    return '<tds:SystemRebootResponse><tds:Message>Rebooting in 1 seconds</tds:Message></tds:SystemRebootResponse>';
  },
};

/** A stable MAC address from the serial number, under Hikvision's OUI (44:19:B6), as a real NIC would have. */
function macAddress(serialNumber: string): string {
  let hash = 0x811c9dc5;
  for (const char of serialNumber) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  const bytes = [0x44, 0x19, 0xb6, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The camera's own address and ports, from the URLs it hands out. */
function addressing(cam: CameraContext): { address: string; gateway: string; http: number; rtsp: number } {
  const device = new URL(cam.serviceUrl('device'));
  const address = device.hostname;
  const octets = address.split('.');
  const gateway = octets.length === 4 ? `${octets.slice(0, 3).join('.')}.1` : address;
  let rtsp = 554;
  try {
    rtsp = Number(new URL(cam.streamUri()).port || 554);
  } catch {
    // A handed-out URI that is not a URL: keep the default port.
  }
  return { address, gateway, http: Number(device.port || 80), rtsp };
}

/**
 * Network, time and account reads that Profile S clients make on connect (Home Assistant reads the MAC from
 * GetNetworkInterfaces, libonvif's onvif-util reads interfaces, gateway, DNS and NTP). All read only: the Set
 * counterparts are answered with ter:ActionNotSupported by the dispatcher, as a camera in a locked-down site would.
 */
const deviceConfiguration: Readonly<Record<string, Handler>> = {
  GetNetworkInterfaces: (_op, cam) => {
    const { address } = addressing(cam);
    return (
      '<tds:GetNetworkInterfacesResponse>' +
      '<tds:NetworkInterfaces token="eth0">' +
      '<tt:Enabled>true</tt:Enabled>' +
      `<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>${macAddress(cam.identity.serialNumber)}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>` +
      '<tt:Link><tt:AdminSettings><tt:AutoNegotiation>true</tt:AutoNegotiation><tt:Speed>100</tt:Speed><tt:Duplex>Full</tt:Duplex></tt:AdminSettings>' +
      '<tt:OperSettings><tt:AutoNegotiation>true</tt:AutoNegotiation><tt:Speed>100</tt:Speed><tt:Duplex>Full</tt:Duplex></tt:OperSettings>' +
      '<tt:InterfaceType>6</tt:InterfaceType></tt:Link>' +
      '<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>' +
      `<tt:Manual><tt:Address>${escapeXml(address)}</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>` +
      '<tt:DHCP>false</tt:DHCP>' +
      '</tt:Config></tt:IPv4>' +
      '</tds:NetworkInterfaces>' +
      '</tds:GetNetworkInterfacesResponse>'
    );
  },
  GetNetworkDefaultGateway: (_op, cam) =>
    '<tds:GetNetworkDefaultGatewayResponse><tds:NetworkGateway>' +
    `<tt:IPv4Address>${escapeXml(addressing(cam).gateway)}</tt:IPv4Address>` +
    '</tds:NetworkGateway></tds:GetNetworkDefaultGatewayResponse>',
  GetNetworkProtocols: (_op, cam) => {
    const { http, rtsp } = addressing(cam);
    const protocol = (name: string, port: number, enabled: boolean): string =>
      `<tds:NetworkProtocols><tt:Name>${name}</tt:Name><tt:Enabled>${enabled}</tt:Enabled><tt:Port>${port}</tt:Port></tds:NetworkProtocols>`;
    return `<tds:GetNetworkProtocolsResponse>${protocol('HTTP', http, true)}${protocol('HTTPS', 443, false)}${protocol('RTSP', rtsp, true)}</tds:GetNetworkProtocolsResponse>`;
  },
  GetDNS: () =>
    '<tds:GetDNSResponse><tds:DNSInformation>' +
    '<tt:FromDHCP>false</tt:FromDHCP>' +
    '<tt:DNSManual><tt:Type>IPv4</tt:Type><tt:IPv4Address>223.5.5.5</tt:IPv4Address></tt:DNSManual>' +
    '<tt:DNSManual><tt:Type>IPv4</tt:Type><tt:IPv4Address>114.114.114.114</tt:IPv4Address></tt:DNSManual>' +
    '</tds:DNSInformation></tds:GetDNSResponse>',
  GetNTP: () =>
    '<tds:GetNTPResponse><tds:NTPInformation>' +
    '<tt:FromDHCP>false</tt:FromDHCP>' +
    '<tt:NTPManual><tt:Type>DNS</tt:Type><tt:DNSname>ntp.aliyun.com</tt:DNSname></tt:NTPManual>' +
    '</tds:NTPInformation></tds:GetNTPResponse>',
  GetUsers: (_op, cam) =>
    '<tds:GetUsersResponse>' +
    `<tds:User><tt:Username>${escapeXml(cam.username)}</tt:Username><tt:UserLevel>Administrator</tt:UserLevel></tds:User>` +
    '</tds:GetUsersResponse>',
  GetDiscoveryMode: () =>
    '<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>Discoverable</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>',
};

// ---------------------------------------------------------------------------------------------------------------
// Media service

function requireProfile(op: XmlElement): void {
  const token = childText(op, 'ProfileToken');
  if (token !== PROFILE_TOKEN) throw faults.noProfile(token ?? '');
}

function profileXml(cam: CameraContext): string {
  const ptz =
    cam.presets.length === 0
      ? ''
      : `<tt:PTZConfiguration token="${PTZ_CONFIGURATION}">` +
        '<tt:Name>PTZ</tt:Name><tt:UseCount>1</tt:UseCount>' +
        `<tt:NodeToken>${PTZ_NODE}</tt:NodeToken>` +
        `<tt:DefaultAbsolutePantTiltPositionSpace>${SPACE.panTiltPosition}</tt:DefaultAbsolutePantTiltPositionSpace>` +
        `<tt:DefaultAbsoluteZoomPositionSpace>${SPACE.zoomPosition}</tt:DefaultAbsoluteZoomPositionSpace>` +
        `<tt:DefaultRelativePanTiltTranslationSpace>${SPACE.panTiltTranslation}</tt:DefaultRelativePanTiltTranslationSpace>` +
        `<tt:DefaultRelativeZoomTranslationSpace>${SPACE.zoomTranslation}</tt:DefaultRelativeZoomTranslationSpace>` +
        `<tt:DefaultContinuousPanTiltVelocitySpace>${SPACE.panTiltVelocity}</tt:DefaultContinuousPanTiltVelocitySpace>` +
        `<tt:DefaultContinuousZoomVelocitySpace>${SPACE.zoomVelocity}</tt:DefaultContinuousZoomVelocitySpace>` +
        '<tt:DefaultPTZTimeout>PT5S</tt:DefaultPTZTimeout>' +
        `<tt:PanTiltLimits><tt:Range><tt:URI>${SPACE.panTiltPosition}</tt:URI><tt:XRange>${range(-1, 1)}</tt:XRange><tt:YRange>${range(-1, 1)}</tt:YRange></tt:Range></tt:PanTiltLimits>` +
        `<tt:ZoomLimits><tt:Range><tt:URI>${SPACE.zoomPosition}</tt:URI><tt:XRange>${range(0, 1)}</tt:XRange></tt:Range></tt:ZoomLimits>` +
        '</tt:PTZConfiguration>';
  return (
    `<trt:Profiles token="${PROFILE_TOKEN}" fixed="true">` +
    '<tt:Name>mainStream</tt:Name>' +
    videoSourceConfigurationXml('tt:VideoSourceConfiguration') +
    videoEncoderConfigurationXml('tt:VideoEncoderConfiguration') +
    ptz +
    '</trt:Profiles>'
  );
}

/** The one video source configuration, as a profile holds it or GetVideoSourceConfiguration(s) lists it. */
function videoSourceConfigurationXml(element: string): string {
  return (
    `<${element} token="${VIDEO_SOURCE_CONFIGURATION}">` +
    '<tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>1</tt:UseCount>' +
    `<tt:SourceToken>${VIDEO_SOURCE}</tt:SourceToken>` +
    `<tt:Bounds x="0" y="0" width="${WIDTH}" height="${HEIGHT}"/>` +
    `</${element}>`
  );
}

/** The one H.264 encoder configuration (what the RTSP stream really is: 640×360, 10 fps, GOP 10). */
function videoEncoderConfigurationXml(element: string): string {
  return (
    `<${element} token="${VIDEO_ENCODER_CONFIGURATION}">` +
    '<tt:Name>VideoEncoder_1</tt:Name><tt:UseCount>1</tt:UseCount>' +
    '<tt:Encoding>H264</tt:Encoding>' +
    `<tt:Resolution><tt:Width>${WIDTH}</tt:Width><tt:Height>${HEIGHT}</tt:Height></tt:Resolution>` +
    '<tt:Quality>5</tt:Quality>' +
    `<tt:RateControl><tt:FrameRateLimit>${FRAME_RATE}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>1024</tt:BitrateLimit></tt:RateControl>` +
    `<tt:H264><tt:GovLength>${GOV_LENGTH}</tt:GovLength><tt:H264Profile>Baseline</tt:H264Profile></tt:H264>` +
    '<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>' +
    '<tt:SessionTimeout>PT60S</tt:SessionTimeout>' +
    `</${element}>`
  );
}

/** The H.264 choices of GetVideoEncoderConfigurationOptions (Media 5.x; H264Options2 adds the bitrate range). */
function h264OptionsXml(extension: boolean): string {
  return (
    '<tt:H264>' +
    `<tt:ResolutionsAvailable><tt:Width>${WIDTH}</tt:Width><tt:Height>${HEIGHT}</tt:Height></tt:ResolutionsAvailable>` +
    `<tt:GovLengthRange>${range(1, 150)}</tt:GovLengthRange>` +
    `<tt:FrameRateRange>${range(1, 25)}</tt:FrameRateRange>` +
    `<tt:EncodingIntervalRange>${range(1, 1)}</tt:EncodingIntervalRange>` +
    '<tt:H264ProfilesSupported>Baseline</tt:H264ProfilesSupported><tt:H264ProfilesSupported>Main</tt:H264ProfilesSupported>' +
    (extension ? `<tt:BitrateRange>${range(32, 4096)}</tt:BitrateRange>` : '') +
    '</tt:H264>'
  );
}

/** A configuration token in the request, when there is one, must be the camera's (ter:NoConfig otherwise). */
function requireConfiguration(op: XmlElement, token: string): void {
  const given = childText(op, 'ConfigurationToken');
  if (given !== undefined && given !== token) throw faults.noConfig(given);
}

function mediaUriXml(uri: string): string {
  return (
    '<trt:MediaUri>' +
    `<tt:Uri>${escapeXml(uri)}</tt:Uri>` +
    '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>' +
    '<tt:Timeout>PT0S</tt:Timeout>' +
    '</trt:MediaUri>'
  );
}

const media: Readonly<Record<string, Handler>> = {
  GetServiceCapabilities: serviceCapabilitiesResponse('trt', 'media'),
  GetProfiles: (_op, cam) => `<trt:GetProfilesResponse>${profileXml(cam)}</trt:GetProfilesResponse>`,
  GetProfile: (op, cam) => {
    requireProfile(op);
    return `<trt:GetProfileResponse>${profileXml(cam).replaceAll('trt:Profiles', 'trt:Profile')}</trt:GetProfileResponse>`;
  },
  GetVideoSources: () =>
    '<trt:GetVideoSourcesResponse>' +
    `<trt:VideoSources token="${VIDEO_SOURCE}">` +
    `<tt:Framerate>${FRAME_RATE}</tt:Framerate>` +
    `<tt:Resolution><tt:Width>${WIDTH}</tt:Width><tt:Height>${HEIGHT}</tt:Height></tt:Resolution>` +
    '</trt:VideoSources>' +
    '</trt:GetVideoSourcesResponse>',
  GetVideoSourceConfigurations: () =>
    '<trt:GetVideoSourceConfigurationsResponse>' +
    videoSourceConfigurationXml('trt:Configurations') +
    '</trt:GetVideoSourceConfigurationsResponse>',
  GetVideoSourceConfiguration: (op) => {
    requireConfiguration(op, VIDEO_SOURCE_CONFIGURATION);
    return (
      '<trt:GetVideoSourceConfigurationResponse>' +
      videoSourceConfigurationXml('trt:Configuration') +
      '</trt:GetVideoSourceConfigurationResponse>'
    );
  },
  GetVideoEncoderConfigurations: () =>
    '<trt:GetVideoEncoderConfigurationsResponse>' +
    videoEncoderConfigurationXml('trt:Configurations') +
    '</trt:GetVideoEncoderConfigurationsResponse>',
  GetVideoEncoderConfiguration: (op) => {
    if (childText(op, 'ConfigurationToken') === undefined) throw faults.noConfig('');
    requireConfiguration(op, VIDEO_ENCODER_CONFIGURATION);
    return (
      '<trt:GetVideoEncoderConfigurationResponse>' +
      videoEncoderConfigurationXml('trt:Configuration') +
      '</trt:GetVideoEncoderConfigurationResponse>'
    );
  },
  GetCompatibleVideoEncoderConfigurations: (op) => {
    requireProfile(op);
    return (
      '<trt:GetCompatibleVideoEncoderConfigurationsResponse>' +
      videoEncoderConfigurationXml('trt:Configurations') +
      '</trt:GetCompatibleVideoEncoderConfigurationsResponse>'
    );
  },
  GetVideoEncoderConfigurationOptions: (op) => {
    // Both tokens are optional (Media 5.6.x): without them, the options of every configuration.
    requireConfiguration(op, VIDEO_ENCODER_CONFIGURATION);
    if (childText(op, 'ProfileToken') !== undefined) requireProfile(op);
    return (
      '<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>' +
      `<tt:QualityRange>${range(1, 6)}</tt:QualityRange>` +
      h264OptionsXml(false) +
      `<tt:Extension>${h264OptionsXml(true)}</tt:Extension>` +
      '</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>'
    );
  },
  GetStreamUri: (op, cam) => {
    requireProfile(op);
    // Whatever transport is asked for (UDP, TCP, RTSP, HTTP), the answer is the camera's one RTSP URL, as on most
    // firmware; the viewer then chooses RTP over UDP or interleaved on the RTSP connection in SETUP.
    return `<trt:GetStreamUriResponse>${mediaUriXml(cam.streamUri())}</trt:GetStreamUriResponse>`;
  },
  GetSnapshotUri: (op, cam) => {
    requireProfile(op);
    return `<trt:GetSnapshotUriResponse>${mediaUriXml(cam.snapshotUri())}</trt:GetSnapshotUriResponse>`;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Event service and the PullPoint subscription manager

/**
 * A topic filter from `Filter/TopicExpression` (ConcreteSet dialect): `|`-separated topics, each optionally
 * ending in `//.` for the topic and everything below it. No filter passes everything.
 */
function topicFilter(op: XmlElement): ((topic: TopicKey) => boolean) | undefined {
  const expression = child(child(op, 'Filter'), 'TopicExpression');
  const text = expression?.text.trim();
  if (text === undefined || text === '') return undefined;
  const wanted = text.split('|').map((part) => {
    const trimmed = part.trim().replace(/^[\w.-]+:/, '');
    const subtree = trimmed.endsWith('//.');
    return { path: subtree ? trimmed.slice(0, -3) : trimmed, subtree };
  });
  return (topic) => {
    const path = TOPICS[topic].path;
    return wanted.some((w) => path === w.path || (w.subtree && path.startsWith(`${w.path}/`)));
  };
}

const events: Readonly<Record<string, Handler>> = {
  GetServiceCapabilities: serviceCapabilitiesResponse('tev', 'events'),
  GetEventProperties: () =>
    '<tev:GetEventPropertiesResponse>' +
    '<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>' +
    '<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>' +
    topicSetXml() +
    '<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet</wsnt:TopicExpressionDialect>' +
    '<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete</wsnt:TopicExpressionDialect>' +
    '<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</tev:MessageContentFilterDialect>' +
    '<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd</tev:MessageContentSchemaLocation>' +
    '</tev:GetEventPropertiesResponse>',
  CreatePullPointSubscription: (op, cam) => {
    const now = cam.now();
    const requested = childText(op, 'InitialTerminationTime') || DEFAULT_TERMINATION;
    const terminationTime = parseTerminationTime(requested, now);
    if (terminationTime === undefined || terminationTime.getTime() <= now.getTime()) {
      throw faults.invalidArgVal(`InitialTerminationTime ${requested} is not acceptable`);
    }
    const filter = topicFilter(op);
    // ONVIF Core 9.1: a new subscription first receives the current state of every property ("Initialized").
    const subscription = cam.pullPoints.create(
      granted(cam, terminationTime, now),
      cam.initialState(),
      filter,
    );
    return (
      '<tev:CreatePullPointSubscriptionResponse>' +
      `<tev:SubscriptionReference><wsa:Address>${escapeXml(cam.subscriptionUrl(subscription.id))}</wsa:Address></tev:SubscriptionReference>` +
      `<wsnt:CurrentTime>${isoTime(now)}</wsnt:CurrentTime>` +
      `<wsnt:TerminationTime>${isoTime(subscription.terminationTime)}</wsnt:TerminationTime>` +
      '</tev:CreatePullPointSubscriptionResponse>'
    );
  },
};

function liveSubscription(cam: CameraContext, target: OperationTarget) {
  const id = target.subscriptionId ?? '';
  const subscription = cam.pullPoints.get(id);
  if (subscription === undefined || subscription.terminationTime.getTime() <= cam.now().getTime()) {
    if (subscription !== undefined) cam.pullPoints.delete(id);
    throw faults.resourceUnknown(cam.subscriptionUrl(id), cam.now());
  }
  return subscription;
}

const subscription: Readonly<Record<string, Handler>> = {
  PullMessages: async (op, cam, target) => {
    const sub = liveSubscription(cam, target);
    const timeoutText = childText(op, 'Timeout') ?? 'PT10S';
    const timeoutMs = parseDuration(timeoutText);
    if (timeoutMs === undefined || timeoutMs < 0)
      throw faults.invalidArgVal(`Timeout ${timeoutText} is not a duration`);
    const limitText = childText(op, 'MessageLimit');
    const limit = limitText === undefined ? DEFAULT_MESSAGE_LIMIT : Number.parseInt(limitText, 10);
    if (!Number.isInteger(limit) || limit < 1)
      throw faults.invalidArgVal(`MessageLimit ${limitText} is not acceptable`);
    const longest = Math.min(MAX_PULL_TIMEOUT_MS, cam.maxPullWaitMs ?? MAX_PULL_TIMEOUT_MS);
    const messages = await cam.pullPoints.pull(sub, Math.min(timeoutMs, longest), limit);
    if (messages === undefined) throw faults.resourceUnknown(cam.subscriptionUrl(sub.id), cam.now());
    const address = cam.subscriptionUrl(sub.id);
    const producer = cam.serviceUrl('events');
    return (
      '<tev:PullMessagesResponse>' +
      `<tev:CurrentTime>${isoTime(cam.now())}</tev:CurrentTime>` +
      `<tev:TerminationTime>${isoTime(sub.terminationTime)}</tev:TerminationTime>` +
      messages.map((message) => notificationXml(message, address, producer)).join('') +
      '</tev:PullMessagesResponse>'
    );
  },
  SetSynchronizationPoint: (_op, cam, target) => {
    const sub = liveSubscription(cam, target);
    for (const message of cam.initialState()) cam.pullPoints.enqueue(sub, message);
    return '<tev:SetSynchronizationPointResponse/>';
  },
  Renew: (op, cam, target) => {
    const sub = liveSubscription(cam, target);
    const now = cam.now();
    const requested = childText(op, 'TerminationTime') || DEFAULT_TERMINATION;
    const terminationTime = parseTerminationTime(requested, now);
    if (terminationTime === undefined || terminationTime.getTime() <= now.getTime()) {
      throw faults.invalidArgVal(`TerminationTime ${requested} is not acceptable`);
    }
    sub.terminationTime = granted(cam, terminationTime, now);
    cam.renewed();
    return (
      '<wsnt:RenewResponse>' +
      `<wsnt:TerminationTime>${isoTime(sub.terminationTime)}</wsnt:TerminationTime>` +
      `<wsnt:CurrentTime>${isoTime(now)}</wsnt:CurrentTime>` +
      '</wsnt:RenewResponse>'
    );
  },
  Unsubscribe: (_op, cam, target) => {
    const sub = liveSubscription(cam, target);
    cam.pullPoints.delete(sub.id);
    return '<wsnt:UnsubscribeResponse/>';
  },
};

// ---------------------------------------------------------------------------------------------------------------
// PTZ service

function nodeXml(cam: CameraContext, element: string): string {
  return (
    `<${element} token="${PTZ_NODE}" FixedHomePosition="false">` +
    '<tt:Name>PTZNode</tt:Name>' +
    '<tt:SupportedPTZSpaces>' +
    `<tt:AbsolutePanTiltPositionSpace><tt:URI>${SPACE.panTiltPosition}</tt:URI><tt:XRange>${range(-1, 1)}</tt:XRange><tt:YRange>${range(-1, 1)}</tt:YRange></tt:AbsolutePanTiltPositionSpace>` +
    `<tt:AbsoluteZoomPositionSpace><tt:URI>${SPACE.zoomPosition}</tt:URI><tt:XRange>${range(0, 1)}</tt:XRange></tt:AbsoluteZoomPositionSpace>` +
    '</tt:SupportedPTZSpaces>' +
    `<tt:MaximumNumberOfPresets>${Math.max(cam.presets.length, 1)}</tt:MaximumNumberOfPresets>` +
    '<tt:HomeSupported>false</tt:HomeSupported>' +
    `</${element}>`
  );
}

function currentPosition(cam: CameraContext): { x: number; y: number; zoom: number } {
  const index = cam.presets.findIndex((p) => p.token === cam.lastPreset);
  return index < 0 ? { x: 0, y: 0, zoom: 0 } : presetPosition(index, cam.presets.length);
}

const ptz: Readonly<Record<string, Handler>> = {
  GetServiceCapabilities: serviceCapabilitiesResponse('tptz', 'ptz'),
  GetNodes: (_op, cam) => `<tptz:GetNodesResponse>${nodeXml(cam, 'tptz:PTZNode')}</tptz:GetNodesResponse>`,
  GetNode: (op, cam) => {
    const token = childText(op, 'NodeToken');
    if (token !== PTZ_NODE) throw faults.invalidArgVal(`No PTZ node ${token}`);
    return `<tptz:GetNodeResponse>${nodeXml(cam, 'tptz:PTZNode')}</tptz:GetNodeResponse>`;
  },
  GetConfigurations: (_op, cam) => {
    const profile = profileXml(cam);
    const configuration = /<tt:PTZConfiguration[\s\S]*<\/tt:PTZConfiguration>/.exec(profile)?.[0] ?? '';
    return `<tptz:GetConfigurationsResponse>${configuration.replaceAll('tt:PTZConfiguration', 'tptz:PTZConfiguration')}</tptz:GetConfigurationsResponse>`;
  },
  GetPresets: (op, cam) => {
    requireProfile(op);
    const presets = cam.presets.map(
      (preset, index) =>
        `<tptz:Preset token="${escapeXml(preset.token)}">` +
        `<tt:Name>${escapeXml(preset.name)}</tt:Name>` +
        positionXml(presetPosition(index, cam.presets.length)) +
        '</tptz:Preset>',
    );
    return `<tptz:GetPresetsResponse>${presets.join('')}</tptz:GetPresetsResponse>`;
  },
  GotoPreset: (op, cam) => {
    requireProfile(op);
    const token = childText(op, 'PresetToken') ?? '';
    if (!cam.presets.some((preset) => preset.token === token)) throw faults.noPreset(token);
    cam.gotoPreset(token);
    return '<tptz:GotoPresetResponse/>';
  },
  GetStatus: (op, cam) => {
    requireProfile(op);
    return (
      '<tptz:GetStatusResponse><tptz:PTZStatus>' +
      positionXml(currentPosition(cam), 'tt:Position') +
      '<tt:MoveStatus><tt:PanTilt>IDLE</tt:PanTilt><tt:Zoom>IDLE</tt:Zoom></tt:MoveStatus>' +
      `<tt:UtcTime>${isoTime(cam.now())}</tt:UtcTime>` +
      '</tptz:PTZStatus></tptz:GetStatusResponse>'
    );
  },
};

export const SERVICES: Readonly<Record<ServiceName, Readonly<Record<string, Handler>>>> = {
  device: { ...device, ...deviceConfiguration },
  media,
  events,
  ptz,
  subscription,
};

/** Operations any client may call without credentials (ONVIF Core 5.9.4: PRE_AUTH, here only the clock). */
export const UNAUTHENTICATED: ReadonlySet<string> = new Set(['device/GetSystemDateAndTime']);

/** Looks the operation up; throws the fault a camera answers for anything it does not do. */
export function findHandler(service: ServiceName, op: XmlElement, cam: CameraContext): Handler {
  if (service === 'ptz' && cam.presets.length === 0) throw noSuchService('PTZ');
  const handler = SERVICES[service][op.name];
  if (handler === undefined || !SERVICE_NAMESPACES[service].includes(op.ns)) {
    throw faults.actionNotSupported(`{${op.ns}}${op.name}`);
  }
  return handler;
}
