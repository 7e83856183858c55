import { XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  MultipartError,
  type MultipartLimits,
  MultipartReader,
  multipartBoundary,
} from '../net/multipart-reader.ts';
import { payloadShape } from './payload-shape.ts';

/**
 * Hikvision's EventNotificationAlert, as a camera, NVR or access controller sends it on its alert stream or pushes
 * it to a listening host: XML (`<EventNotificationAlert xmlns="http://www.hikvision.com/ver20/XMLSchema">`, or
 * ISAPI's newer namespace, or the PSIA one of old NVRs) or JSON (access controllers), alone or as one part of a
 * multipart/form-data body beside its pictures. This module reads one into the JSON frame the hikvision-isapi
 * adapter decodes; it holds no rule about what an event means.
 *
 * XML is parsed with fast-xml-parser after its validator, entity expansion off: a document that declares a DOCTYPE
 * (and so could declare entities) is refused, and only XML's five predefined entities and character references
 * are decoded, by hand.
 */

/** Why an alert could not be read; `shape` is the document's structure without its values, when it had one. */
export class AlertUnreadable extends Error {
  constructor(
    message: string,
    readonly shape?: unknown,
  ) {
    super(message);
    this.name = 'AlertUnreadable';
  }
}

export type Alert = Readonly<Record<string, unknown>>;

const predefinedEntities: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

/** XML's predefined entities and character references; nothing else is expanded. */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return predefinedEntities[name] ?? whole;
  });
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  processEntities: false,
  trimValues: true,
  // An alert nests a handful of levels (DetectionRegionList › DetectionRegionEntry › RegionCoordinatesList …).
  maxNestedTags: 16,
  tagValueProcessor: (_name: string, value: string) => decodeEntities(value),
});

/** The most an alert document may take, whatever the listener and stream allow for pictures. */
export const maxAlertBytes = 256 * 1024;

/** Reads an XML or JSON document: the alert it carries (EventNotificationAlert's children). */
export function readAlert(body: Buffer): Alert {
  if (body.length > maxAlertBytes) {
    throw new AlertUnreadable(`the alert is ${body.length} bytes, more than ${maxAlertBytes}`);
  }
  const text = body
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trim();
  if (text.startsWith('<')) return readXmlAlert(text);
  if (text.startsWith('{')) return readJsonAlert(text);
  throw new AlertUnreadable('neither an XML nor a JSON document');
}

function readXmlAlert(text: string): Alert {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new AlertUnreadable('the XML declares a DOCTYPE: entity declarations are refused');
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new AlertUnreadable(`not well-formed XML (line ${valid.err.line}: ${valid.err.code})`);
  }
  let document: unknown;
  try {
    document = parser.parse(text);
  } catch (error) {
    throw new AlertUnreadable(`unreadable XML: ${(error as Error).message.slice(0, 80)}`);
  }
  const alert = (document as Record<string, unknown>).EventNotificationAlert;
  if (!isObject(alert)) {
    throw new AlertUnreadable('the XML is not an EventNotificationAlert', payloadShape(document));
  }
  return alert;
}

function readJsonAlert(text: string): Alert {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new AlertUnreadable('not valid JSON');
  }
  // Access controllers send the alert's fields at the top level; some firmware wraps them.
  const alert =
    isObject(document) && isObject(document.EventNotificationAlert)
      ? document.EventNotificationAlert
      : document;
  if (!isObject(alert) || typeof alert.eventType !== 'string') {
    throw new AlertUnreadable(
      'the JSON is not an EventNotificationAlert (no eventType)',
      payloadShape(document),
    );
  }
  return alert;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What one body a device pushed held: its alert, and how many pictures came with it. */
export interface PushedAlert {
  readonly alert: Alert;
  readonly pictures: number;
}

const alertTypes = /xml|json|text\/plain/i;

/**
 * A pushed body: a lone XML or JSON alert, or multipart/form-data with the alert in one part (named after the
 * event, `event_log`, `MoveDetection.xml`…) and its pictures in others. Pictures are counted and left: the hub
 * takes its evidence from the camera itself.
 */
export function readPushedBody(
  body: Buffer,
  contentType: string | undefined,
  limits: MultipartLimits,
): PushedAlert {
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) return { alert: readAlert(body), pictures: 0 };
  let alertPart: Buffer | undefined;
  let pictures = 0;
  const reader = new MultipartReader(boundary, limits, (part) => {
    const type = part.headers['content-type'] ?? '';
    if (/^image\//i.test(type)) pictures += 1;
    else if (
      alertPart === undefined &&
      (alertTypes.test(type) || /^\s*[<{]/.test(part.body.subarray(0, 16).toString('latin1')))
    )
      alertPart = part.body;
  });
  try {
    reader.push(body);
  } catch (error) {
    if (error instanceof MultipartError) throw new AlertUnreadable(`broken multipart body: ${error.message}`);
    throw error;
  }
  if (alertPart === undefined) throw new AlertUnreadable('the multipart body has no alert part');
  return { alert: readAlert(alertPart), pictures };
}

/** Who the alert says sent it: a serial number (old firmware's Extensions) and the MAC address. */
export interface AlertIdentity {
  readonly serial?: string;
  readonly mac?: string;
}

export function alertIdentity(alert: Alert): AlertIdentity {
  const extensions = alert.Extensions;
  const serial = text(isObject(extensions) ? extensions.serialNumber : undefined) ?? text(alert.serialNumber);
  const mac = text(alert.macAddress);
  return {
    ...(serial === undefined ? {} : { serial }),
    ...(mac === undefined ? {} : { mac: normaliseMac(mac) }),
  };
}

/** `44:19:B6:6D:24:85` → `44-19-b6-6d-24-85`, as a device's `serial` may be given when it only names its MAC. */
export function normaliseMac(mac: string): string {
  return mac.trim().toLowerCase().replace(/:/g, '-');
}

/**
 * Whether the identity the alert gives is the device's `serial`: a serial number (the full one, or the short one
 * Hikvision prints on the label, the end of the full one), or a MAC address when `serial` is given as one. What the
 * alert does not give, or the `serial` cannot be compared with, does not count against it: the credential proved
 * the device.
 */
export function identityMatches(identity: AlertIdentity, serial: string | undefined): boolean {
  if (serial === undefined) return true;
  const wanted = serial.toLowerCase();
  if (macPattern.test(wanted)) {
    return identity.mac === undefined || identity.mac === normaliseMac(wanted);
  }
  const fullSerial = identity.serial?.toLowerCase();
  return fullSerial === undefined || fullSerial === wanted || fullSerial.endsWith(wanted);
}

/** A MAC address as a `serial` may hold it (`44-19-b6-6d-24-85`; the config's serials take no colon). */
const macPattern = /^[0-9a-f]{2}([-:][0-9a-f]{2}){5}$/;

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * A number written as digits becomes a number; anything else is passed on as it came, so the adapter's schema
 * refuses it with its path rather than the hub guessing.
 */
function count(value: unknown): unknown {
  if (typeof value === 'number') return value;
  const written = text(value);
  if (written === undefined) return undefined;
  return /^\d{1,10}$/.test(written) ? Number(written) : written;
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** ISO 8601 with an offset, as the adapter takes it; firmware without a time zone gets the hub's receipt time. */
function alertTime(value: unknown, receivedAt: number): string {
  const written = text(value);
  if (
    written !== undefined &&
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(written)
  ) {
    return written;
  }
  return new Date(receivedAt).toISOString();
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

export type AlertVia = 'stream' | 'push';

/** The stream's keepalive (see isKeepalive): proves the device alive, carries no event. */
export function heartbeatFrame(alert: Alert, via: AlertVia, receivedAt: number): Record<string, unknown> {
  return withoutUndefined({
    via,
    time: alertTime(alert.dateTime, receivedAt),
    eventType: text(alert.eventType)?.toLowerCase() === 'heartbeat' ? 'heartBeat' : 'videoloss',
    channel: count(alert.channelID ?? alert.dynChannelID),
  });
}

/** The adapter's event frame of an alert (devices/hikvision-isapi): the fields the hub reads, nothing else. */
export function alertFrame(
  alert: Alert,
  via: AlertVia,
  receivedAt: number,
  pictures = 0,
): Record<string, unknown> {
  const region = first(
    (isObject(alert.DetectionRegionList) ? alert.DetectionRegionList : {}).DetectionRegionEntry,
  );
  const regionEntry = isObject(region) ? region : {};
  const access = isObject(alert.AccessControllerEvent) ? alert.AccessControllerEvent : undefined;
  return withoutUndefined({
    via,
    time: alertTime(alert.dateTime, receivedAt),
    seq: access === undefined ? undefined : count(access.serialNo),
    eventType: text(alert.eventType),
    // Access controllers leave it out: their events are momentary.
    eventState: text(alert.eventState) ?? 'active',
    channel: count(alert.channelID ?? alert.dynChannelID),
    inputPort: count(alert.inputIOPortID),
    target: text(alert.targetType) ?? text(regionEntry.detectionTarget),
    region: count(regionEntry.regionID),
    access:
      access === undefined
        ? undefined
        : withoutUndefined({
            major: count(access.majorEventType),
            minor: count(access.subEventType),
            door: count(access.doorNo),
            reader: count(access.cardReaderNo),
            card: text(access.cardNo),
            person: text(access.name),
            employee: text(access.employeeNoString) ?? text(access.employeeNo),
          }),
    pictures: pictures > 0 ? pictures : undefined,
  });
}

/**
 * Whether an alert is the stream's keepalive rather than an event: `heartBeat`, or `videoloss` inactive on a
 * channel whose video was not lost (Hikvision repeats it every few seconds on a healthy stream). A videoloss
 * inactive after a videoloss active is the real end of it, and an event.
 */
export function isKeepalive(alert: Alert, videoLost: boolean): boolean {
  const eventType = text(alert.eventType)?.toLowerCase();
  if (eventType === 'heartbeat') return true;
  return eventType === 'videoloss' && text(alert.eventState) === 'inactive' && !videoLost;
}
