/**
 * EventNotificationAlert documents as Hikvision firmware writes them: XML in the `http://www.hikvision.com/ver20/
 * XMLSchema` namespace for cameras and NVRs, JSON for access controllers (AccessControllerEvent with its
 * majorEventType/subEventType codes). The shapes follow the public samples kept in test/devices/hikvision-isapi.
 * fixtures.ts; nothing here is imported from the hub.
 */

export interface DeviceIdentity {
  readonly ipAddress: string;
  readonly port: number;
  readonly mac: string;
  readonly serial: string;
  readonly model: string;
  readonly name: string;
}

export interface CameraAlert {
  readonly eventType: string;
  readonly eventState: 'active' | 'inactive';
  readonly description: string;
  readonly channel: number;
  readonly activePostCount: number;
  readonly inputPort?: number;
  readonly region?: { readonly id: number; readonly target?: string };
}

export interface AccessAlert {
  readonly major: number;
  readonly minor: number;
  readonly door?: number;
  readonly reader?: number;
  readonly cardNo?: string;
  readonly name?: string;
  readonly employeeNo?: string;
  readonly serialNo: number;
  readonly verifyMode?: string;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}

/** The device's local time with its offset (+08:00), as the firmware's dateTime reads, moved by any clock skew. */
export function deviceTime(now: number, offsetMinutes = 480): string {
  const local = new Date(now + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export function cameraAlertXml(device: DeviceIdentity, alert: CameraAlert, time: string): string {
  const region =
    alert.region === undefined
      ? ''
      : `<DetectionRegionList>\n<DetectionRegionEntry>\n<regionID>${alert.region.id}</regionID>\n<sensitivityLevel>50</sensitivityLevel>\n` +
        (alert.region.target === undefined
          ? ''
          : `<detectionTarget>${escapeXml(alert.region.target)}</detectionTarget>\n`) +
        '</DetectionRegionEntry>\n</DetectionRegionList>\n';
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n' +
    `<ipAddress>${escapeXml(device.ipAddress)}</ipAddress>\n` +
    `<portNo>${device.port}</portNo>\n` +
    '<protocol>HTTP</protocol>\n' +
    `<macAddress>${escapeXml(device.mac)}</macAddress>\n` +
    `<channelID>${alert.channel}</channelID>\n` +
    `<dateTime>${time}</dateTime>\n` +
    `<activePostCount>${alert.activePostCount}</activePostCount>\n` +
    `<eventType>${escapeXml(alert.eventType)}</eventType>\n` +
    `<eventState>${alert.eventState}</eventState>\n` +
    `<eventDescription>${escapeXml(alert.description)}</eventDescription>\n` +
    (alert.inputPort === undefined ? '' : `<inputIOPortID>${alert.inputPort}</inputIOPortID>\n`) +
    region +
    `<channelName>${escapeXml(device.name)}</channelName>\n` +
    '</EventNotificationAlert>\n'
  );
}

export function accessAlertJson(device: DeviceIdentity, alert: AccessAlert, time: string): string {
  return JSON.stringify({
    ipAddress: device.ipAddress,
    portNo: device.port,
    protocol: 'HTTP',
    macAddress: device.mac,
    channelID: 1,
    dateTime: time,
    activePostCount: 1,
    eventType: 'AccessControllerEvent',
    eventState: 'active',
    eventDescription: 'Access Controller Event',
    AccessControllerEvent: {
      deviceName: device.name,
      majorEventType: alert.major,
      subEventType: alert.minor,
      ...(alert.cardNo === undefined ? {} : { cardNo: alert.cardNo }),
      ...(alert.name === undefined ? {} : { name: alert.name }),
      ...(alert.reader === undefined ? {} : { cardReaderKind: 1, cardReaderNo: alert.reader }),
      ...(alert.door === undefined ? {} : { doorNo: alert.door }),
      ...(alert.employeeNo === undefined ? {} : { employeeNoString: alert.employeeNo }),
      serialNo: alert.serialNo,
      ...(alert.verifyMode === undefined ? {} : { currentVerifyMode: alert.verifyMode }),
      attendanceStatus: 'undefined',
      statusValue: 0,
      mask: 'unknown',
    },
  });
}

export function deviceInfoXml(device: DeviceIdentity, kind: 'camera' | 'access'): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n' +
    `<deviceName>${escapeXml(device.name)}</deviceName>\n` +
    '<deviceID>88888888-8888-8888-8888-888888888888</deviceID>\n' +
    `<model>${escapeXml(device.model)}</model>\n` +
    `<serialNumber>${escapeXml(device.serial)}</serialNumber>\n` +
    `<macAddress>${escapeXml(device.mac)}</macAddress>\n` +
    '<firmwareVersion>V5.7.3</firmwareVersion>\n' +
    '<firmwareReleasedDate>build 220112</firmwareReleasedDate>\n' +
    `<deviceType>${kind === 'camera' ? 'IPCamera' : 'ACS'}</deviceType>\n` +
    '</DeviceInfo>\n'
  );
}

/** ISAPI's answer to a request: statusCode 1 is OK; others say why not. */
export function responseStatusXml(
  requestURL: string,
  statusCode: number,
  statusString: string,
  subStatusCode: string,
): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ResponseStatus version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">\n' +
    `<requestURL>${escapeXml(requestURL)}</requestURL>\n` +
    `<statusCode>${statusCode}</statusCode>\n` +
    `<statusString>${escapeXml(statusString)}</statusString>\n` +
    `<subStatusCode>${escapeXml(subStatusCode)}</subStatusCode>\n` +
    '</ResponseStatus>\n'
  );
}
