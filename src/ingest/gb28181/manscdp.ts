import { z } from 'zod';
import { escapeXml, parseXml, type XmlElement, XmlError } from '../../net/xml.ts';

/**
 * MANSCDP bodies (GB/T 28181 Appendix A): the XML a device and a platform exchange in SIP MESSAGE and NOTIFY, with
 * Content-Type `Application/MANSCDP+xml`. Four roots (Query, Control, Notify, Response), each with CmdType, SN and
 * DeviceID first, then the command's fields.
 *
 * Charsets. Devices declare `<?xml version="1.0" encoding="GB2312"?>` and send GBK bytes (Hikvision, Dahua), or
 * UTF-8; some declare one and send the other. GB2312 and GBK are read as GB18030, their superset. The body is read
 * as what it proves to be: bytes that are valid UTF-8 with multi-byte characters are UTF-8 whatever the label says,
 * unless the label says GB and the UTF-8 reading holds only two-byte characters (Latin, Greek, Cyrillic…), which is
 * what GBK Chinese looks like when it happens to be valid UTF-8; otherwise GB18030 when valid, else refused. Output
 * in GB2312 goes through a reverse table built once from the runtime's own GB18030 decoder (no dependency); a
 * character GB2312 lacks is written as an XML character reference, which every XML reader takes.
 *
 * Bounded: the body's size, its element count, each element's text; a DOCTYPE is refused (src/net/xml.ts).
 */

export type ManscdpRoot = 'Query' | 'Control' | 'Notify' | 'Response';
export type ManscdpCharset = 'GB18030' | 'UTF-8';

export interface ManscdpMessage {
  readonly root: ManscdpRoot;
  readonly cmdType: string;
  readonly sn: number;
  readonly deviceId: string;
  /** The root element, for the command's own fields. */
  readonly body: XmlElement;
  /** What the body was read as (GB2312 and GBK are read as GB18030). */
  readonly charset: ManscdpCharset;
}

export class ManscdpError extends Error {
  override readonly name = 'ManscdpError';
  /** In words, never the sender's bytes. */
  readonly problem: string;
  constructor(problem: string) {
    super(`MANSCDP: ${problem}`);
    this.problem = problem;
  }
}

export const manscdpContentType = 'Application/MANSCDP+xml';

/** Defaults: a catalog page of a big NVR stays far below these; anything above is not a device talking. */
export const manscdpLimits = {
  maxBytes: 65_536,
  maxElements: 4_096,
  maxTextLength: 4_096,
  maxSn: 0x7fff_ffff,
} as const;

const roots: ReadonlySet<string> = new Set<ManscdpRoot>(['Query', 'Control', 'Notify', 'Response']);

const gbLabels = /^(gb2312|gbk|gb18030|x-gbk|cp936|windows-936|euc-cn|csgb2312|gb_2312-80|iso-ir-58)$/i;
const utf8Labels = /^(utf-?8|unicode-1-1-utf-8)$/i;

/** The label of the XML declaration (`encoding="GB2312"`), read from its ASCII bytes. */
function declaredEncoding(body: Buffer): string | undefined {
  const head = body.subarray(0, 200).toString('latin1');
  return /^\uFEFF?\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']/i.exec(head)?.[1];
}

function contentTypeCharset(contentType: string | undefined): string | undefined {
  return contentType === undefined
    ? undefined
    : /;\s*charset\s*=\s*"?([A-Za-z0-9._:-]{1,40})/i.exec(contentType)?.[1];
}

function strictDecode(label: 'utf-8' | 'gb18030', bytes: Buffer): string | undefined {
  try {
    return new TextDecoder(label, { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Characters UTF-8 writes in two bytes: what GBK Chinese becomes when read as UTF-8 by chance. */
const twoByteRange = /[\u0080-\u07ff]/;
const nonAscii = /[^\u0020-\u007e\t\r\n]/;

function decodeBody(
  body: Buffer,
  contentType: string | undefined,
): { text: string; charset: ManscdpCharset } {
  const label = declaredEncoding(body) ?? contentTypeCharset(contentType);
  const labelledGb = label !== undefined && gbLabels.test(label);
  if (label !== undefined && !labelledGb && !utf8Labels.test(label))
    throw new ManscdpError('unsupported encoding: neither GB2312/GBK/GB18030 nor UTF-8');
  const utf8 = strictDecode('utf-8', body);
  if (utf8 !== undefined && !nonAscii.test(utf8))
    return { text: utf8, charset: labelledGb ? 'GB18030' : 'UTF-8' };
  if (utf8 !== undefined && !(labelledGb && twoByteRange.test(utf8))) return { text: utf8, charset: 'UTF-8' };
  const gb = strictDecode('gb18030', body);
  if (gb !== undefined) return { text: gb, charset: 'GB18030' };
  if (utf8 !== undefined) return { text: utf8, charset: 'UTF-8' };
  throw new ManscdpError('the body is neither UTF-8 nor GB18030');
}

/** A child by local name, ignoring case: devices write `cmdType`, `Alarmstatus`, `AlarmStatus`. */
export function field(element: XmlElement | undefined, name: string): XmlElement | undefined {
  const wanted = name.toLowerCase();
  return element?.children.find((candidate) => candidate.name.toLowerCase() === wanted);
}

export function fields(element: XmlElement | undefined, name: string): XmlElement[] {
  const wanted = name.toLowerCase();
  return element?.children.filter((candidate) => candidate.name.toLowerCase() === wanted) ?? [];
}

/** Trimmed text along a path of names, ignoring case; undefined when a step is missing or the text is empty. */
export function textOf(element: XmlElement | undefined, ...path: string[]): string | undefined {
  let node = element;
  for (const name of path) node = field(node, name);
  const text = node?.text.trim();
  return text === undefined || text === '' ? undefined : text;
}

function checkBounds(root: XmlElement): void {
  let count = 0;
  const visit = (element: XmlElement): void => {
    if (++count > manscdpLimits.maxElements)
      throw new ManscdpError(`more than ${manscdpLimits.maxElements} elements`);
    if (element.text.length > manscdpLimits.maxTextLength)
      throw new ManscdpError(
        `the text of ${element.name.slice(0, 40)} is longer than ${manscdpLimits.maxTextLength}`,
      );
    for (const child of element.children) visit(child);
  };
  visit(root);
}

/**
 * Reads a MANSCDP body: its charset (the declaration, then the Content-Type's charset, then what the bytes prove),
 * its XML, its root, CmdType, SN and DeviceID. Throws {@link ManscdpError} on anything else.
 */
export function readManscdp(
  body: Buffer,
  contentType?: string,
  maxBytes: number = manscdpLimits.maxBytes,
): ManscdpMessage {
  if (body.length === 0) throw new ManscdpError('empty body');
  if (body.length > maxBytes) throw new ManscdpError(`body of ${body.length} bytes, more than ${maxBytes}`);
  const { text, charset } = decodeBody(body, contentType);
  let root: XmlElement;
  try {
    root = parseXml(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    // The reader's words, without the element or prefix names it quotes from the body.
    const words =
      error instanceof XmlError
        ? error.message.replace(/^(unexpected end tag|undeclared prefix|unclosed element) .*$/, '$1')
        : '';
    throw new ManscdpError(words === '' ? 'not XML' : `not XML: ${words}`);
  }
  checkBounds(root);
  if (!roots.has(root.name))
    throw new ManscdpError('the root element is not Query, Control, Notify or Response');
  const cmdType = textOf(root, 'CmdType');
  if (cmdType === undefined || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(cmdType))
    throw new ManscdpError('CmdType missing or not a name');
  const snText = textOf(root, 'SN');
  const sn = snText !== undefined && /^\d{1,10}$/.test(snText) ? Number(snText) : Number.NaN;
  if (!(sn >= 0 && sn <= manscdpLimits.maxSn))
    throw new ManscdpError(`SN missing or not an integer 0..${manscdpLimits.maxSn}`);
  const deviceId = textOf(root, 'DeviceID');
  if (deviceId === undefined || !/^[A-Za-z0-9_.-]{1,64}$/.test(deviceId))
    throw new ManscdpError('DeviceID missing or not an identifier');
  return { root: root.name as ManscdpRoot, cmdType, sn, deviceId, body: root, charset };
}

// ——— Writing ———

export interface ManscdpList {
  readonly attrs: Readonly<Record<string, string>>;
  readonly items: readonly ManscdpFields[];
  readonly itemName: string;
}
export type ManscdpValue = string | number | ManscdpFields | readonly ManscdpFields[] | ManscdpList;
export type ManscdpFields = { readonly [name: string]: ManscdpValue };

function isList(value: ManscdpValue): value is ManscdpList {
  return (
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Array.isArray((value as ManscdpList).items) &&
    typeof (value as ManscdpList).itemName === 'string'
  );
}

const elementName = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

function writeElement(name: string, value: ManscdpValue, out: string[]): void {
  if (!elementName.test(name)) throw new ManscdpError(`not an element name: ${name.slice(0, 40)}`);
  if (typeof value === 'string' || typeof value === 'number') {
    out.push(`<${name}>${escapeXml(String(value))}</${name}>`);
  } else if (Array.isArray(value)) {
    for (const item of value as readonly ManscdpFields[]) writeElement(name, item, out);
  } else if (isList(value)) {
    const attrs = Object.entries(value.attrs)
      .map(([key, text]) => ` ${key}="${escapeXml(text)}"`)
      .join('');
    out.push(`<${name}${attrs}>`);
    for (const item of value.items) writeElement(value.itemName, item, out);
    out.push(`</${name}>`);
  } else {
    out.push(`<${name}>`);
    for (const [key, inner] of Object.entries(value as ManscdpFields)) writeElement(key, inner, out);
    out.push(`</${name}>`);
  }
}

/**
 * Writes a MANSCDP body: the declaration and the root with its fields in order (give CmdType, SN and DeviceID
 * first), one element a line, CRLF as devices write. GB2312 by default, as most devices expect.
 */
export function writeManscdp(
  root: ManscdpRoot,
  fields: ManscdpFields,
  charset: 'GB2312' | 'UTF-8' = 'GB2312',
): Buffer {
  const lines: string[] = [];
  writeElement(root, fields, lines);
  const xml = `<?xml version="1.0" encoding="${charset}"?>\r\n${lines.join('\r\n')}\r\n`;
  return charset === 'UTF-8' ? Buffer.from(xml, 'utf8') : encodeGb2312(xml);
}

let gb2312Table: Map<number, number> | undefined;

/**
 * Code point → GB2312 two bytes (high << 8 | low), from the runtime's GB18030 decoder: GB2312's rows are lead
 * 0xA1–0xF7 and trail 0xA1–0xFE, a subset of GBK's 0x81–0xFE × 0x40–0xFE. Built on first use, about 7,500 entries.
 */
function gb2312Codes(): Map<number, number> {
  if (gb2312Table !== undefined) return gb2312Table;
  const table = new Map<number, number>();
  const decoder = new TextDecoder('gb18030');
  for (let lead = 0xa1; lead <= 0xf7; lead++) {
    const row = Buffer.alloc(2 * 94);
    for (let trail = 0xa1; trail <= 0xfe; trail++) row.set([lead, trail], 2 * (trail - 0xa1));
    const text = decoder.decode(row);
    // Every pair of a row is one BMP character, so the text lines up with the pairs; check rather than assume.
    if (text.length === 94) {
      for (let at = 0; at < 94; at++) {
        const code = text.charCodeAt(at);
        if (code !== 0xfffd && !(code >= 0xe000 && code <= 0xf8ff) && !table.has(code))
          table.set(code, (lead << 8) | (0xa1 + at));
      }
    }
  }
  gb2312Table = table;
  return table;
}

/** Encodes text as GB2312; a character outside it becomes `&#x…;` (valid in XML text and attribute values). */
export function encodeGb2312(text: string): Buffer {
  const table = gb2312Codes();
  const bytes: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code < 0x80) {
      bytes.push(code);
      continue;
    }
    const pair = table.get(code);
    if (pair !== undefined) bytes.push(pair >> 8, pair & 0xff);
    else for (const ascii of `&#x${code.toString(16).toUpperCase()};`) bytes.push(ascii.charCodeAt(0));
  }
  return Buffer.from(bytes);
}

// ——— Typed readers for what the hub receives ———

const words = (max: number) => z.string().max(max);
const intText = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,10}$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const decimalText = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,3}(\.\d{1,12})?$/)
    .transform(Number)
    .pipe(z.number().min(min).max(max));
const id = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);

function parseOrThrow<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  throw new ManscdpError(`${what}: ${problems}`);
}

function expect(message: ManscdpMessage, roots: readonly ManscdpRoot[], cmdType: string): void {
  if (!roots.includes(message.root) || message.cmdType.toLowerCase() !== cmdType.toLowerCase())
    throw new ManscdpError(`expected ${roots.join('/')} ${cmdType}, got another command`);
}

/** Only the fields that are there: zod's optional fields then stay absent rather than undefined. */
function present<T extends Record<string, unknown>>(raw: T): Partial<T> {
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Devices write 0.000/0.000 when no position is set: no position. */
function position(longitude: number | undefined, latitude: number | undefined) {
  return longitude === undefined || latitude === undefined || (longitude === 0 && latitude === 0)
    ? {}
    : { longitude, latitude };
}

const okError = z
  .string()
  .transform((text) => text.toUpperCase())
  .pipe(z.enum(['OK', 'ON', 'ERROR', 'OFF']))
  .transform((text) => (text === 'OK' || text === 'ON' ? ('OK' as const) : ('ERROR' as const)));

export interface Keepalive {
  readonly deviceId: string;
  readonly sn: number;
  readonly status: 'OK' | 'ERROR';
  /** Channels the device reports faulty (<Info><DeviceID>…), at most 64. */
  readonly faults: readonly string[];
}

/** A Keepalive notify (A.2.5.2): Status OK or ERROR, and the faulty channels when ERROR. */
export function readKeepalive(message: ManscdpMessage): Keepalive {
  expect(message, ['Notify'], 'Keepalive');
  const raw = {
    status: textOf(message.body, 'Status') ?? 'OK',
    faults: fields(field(message.body, 'Info'), 'DeviceID').map((element) => element.text.trim()),
  };
  const parsed = parseOrThrow(z.object({ status: okError, faults: z.array(id).max(64) }), raw, 'Keepalive');
  return { deviceId: message.deviceId, sn: message.sn, ...parsed };
}

export interface AlarmNotify {
  readonly deviceId: string;
  readonly sn: number;
  readonly priority: number;
  readonly method: number;
  /** AlarmTime as written: local time, usually without an offset (`2017-07-19T10:19:14`). */
  readonly time?: string;
  readonly description?: string;
  readonly alarmType?: number;
  readonly eventType?: number;
  readonly longitude?: number;
  readonly latitude?: number;
}

const alarmSchema = z.object({
  priority: intText(1, 4).describe('AlarmPriority 1..4 (0, "all", is for queries only)'),
  method: intText(1, 99).describe('AlarmMethod 1..7; later editions and vendor extensions are kept'),
  time: words(40).optional(),
  description: words(256).optional(),
  alarmType: intText(0, 9999).optional(),
  eventType: intText(0, 9999).optional(),
  longitude: decimalText(-180, 180).optional(),
  latitude: decimalText(-90, 90).optional(),
});

/** An Alarm notify (A.2.5.4): priority, method, time, and AlarmType/EventType in <Info> (or, from some firmware, at the top). */
export function readAlarm(message: ManscdpMessage): AlarmNotify {
  expect(message, ['Notify'], 'Alarm');
  const body = message.body;
  const info = field(body, 'Info');
  const raw = present({
    priority: textOf(body, 'AlarmPriority'),
    method: textOf(body, 'AlarmMethod'),
    time: textOf(body, 'AlarmTime'),
    description: textOf(body, 'AlarmDescription'),
    alarmType: textOf(info, 'AlarmType') ?? textOf(body, 'AlarmType'),
    eventType: textOf(info, 'AlarmTypeParam', 'EventType') ?? textOf(body, 'AlarmTypeParam', 'EventType'),
    longitude: textOf(body, 'Longitude'),
    latitude: textOf(body, 'Latitude'),
  });
  const { longitude, latitude, ...rest } = parseOrThrow(alarmSchema, raw, 'Alarm');
  return { deviceId: message.deviceId, sn: message.sn, ...rest, ...position(longitude, latitude) };
}

export interface CatalogItem {
  readonly deviceId: string;
  readonly name?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly owner?: string;
  readonly civilCode?: string;
  readonly address?: string;
  readonly parental?: boolean;
  readonly parentId?: string;
  readonly status?: 'ON' | 'OFF';
  readonly longitude?: number;
  readonly latitude?: number;
  /** 1 ball, 2 dome, 3 fixed box, 4 remote-controlled box (<Info><PTZType> in 2016, top level in some firmware). */
  readonly ptzType?: number;
  /** In a catalog change notify: ON, OFF, VLOST, DEFECT, ADD, DEL, UPDATE. */
  readonly event?: string;
}

export interface CatalogResponse {
  readonly deviceId: string;
  readonly sn: number;
  /** Items the whole catalog has: the answer comes in pages, one MESSAGE each. */
  readonly sumNum: number;
  readonly items: readonly CatalogItem[];
}

const itemSchema = z.object({
  deviceId: id,
  name: words(256).optional(),
  manufacturer: words(128).optional(),
  model: words(128).optional(),
  owner: words(128).optional(),
  civilCode: words(64).optional(),
  address: words(256).optional(),
  parental: z
    .enum(['0', '1'])
    .transform((text) => text === '1')
    .optional(),
  parentId: words(256).optional(),
  status: z
    .string()
    .transform((text) => text.toUpperCase())
    .pipe(z.enum(['ON', 'OFF', 'ONLINE', 'OFFLINE']))
    .transform((text) => (text.startsWith('ON') ? ('ON' as const) : ('OFF' as const)))
    .optional(),
  longitude: decimalText(-180, 180).optional(),
  latitude: decimalText(-90, 90).optional(),
  ptzType: intText(0, 99).optional(),
  event: z
    .string()
    .regex(/^[A-Za-z]{1,16}$/)
    .optional(),
});

/** A Catalog response (A.2.6.4) or catalog change notify: SumNum and the page's DeviceList items. */
export function readCatalogResponse(message: ManscdpMessage): CatalogResponse {
  expect(message, ['Response', 'Notify'], 'Catalog');
  const body = message.body;
  const sumNum = parseOrThrow(intText(0, 1_000_000), textOf(body, 'SumNum') ?? '0', 'Catalog SumNum');
  const list = fields(field(body, 'DeviceList'), 'Item');
  if (list.length > 1024) throw new ManscdpError('Catalog: more than 1024 items in one page');
  const items = list.map((item, index) => {
    const raw = present({
      deviceId: textOf(item, 'DeviceID'),
      name: textOf(item, 'Name'),
      manufacturer: textOf(item, 'Manufacturer'),
      model: textOf(item, 'Model'),
      owner: textOf(item, 'Owner'),
      civilCode: textOf(item, 'CivilCode'),
      address: textOf(item, 'Address'),
      parental: textOf(item, 'Parental'),
      parentId: textOf(item, 'ParentID'),
      status: textOf(item, 'Status'),
      longitude: textOf(item, 'Longitude'),
      latitude: textOf(item, 'Latitude'),
      ptzType: textOf(item, 'Info', 'PTZType') ?? textOf(item, 'PTZType'),
      event: textOf(item, 'Event'),
    });
    const { longitude, latitude, ...rest } = parseOrThrow(itemSchema, raw, `Catalog item ${index}`);
    return { ...rest, ...position(longitude, latitude) } as CatalogItem;
  });
  return { deviceId: message.deviceId, sn: message.sn, sumNum, items };
}

export interface DeviceInfo {
  readonly deviceId: string;
  readonly sn: number;
  readonly result?: 'OK' | 'ERROR';
  readonly deviceName?: string;
  readonly deviceType?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly firmware?: string;
  readonly channel?: number;
  readonly maxCamera?: number;
  readonly maxAlarm?: number;
}

const resultSchema = z
  .string()
  .transform((text) => text.toUpperCase())
  .pipe(z.enum(['OK', 'ERROR']));

/** A DeviceInfo response (A.2.6.6). */
export function readDeviceInfo(message: ManscdpMessage): DeviceInfo {
  expect(message, ['Response'], 'DeviceInfo');
  const body = message.body;
  const raw = present({
    result: textOf(body, 'Result'),
    deviceName: textOf(body, 'DeviceName'),
    deviceType: textOf(body, 'DeviceType'),
    manufacturer: textOf(body, 'Manufacturer'),
    model: textOf(body, 'Model'),
    firmware: textOf(body, 'Firmware') ?? textOf(body, 'FirmwareVersion'),
    channel: textOf(body, 'Channel'),
    maxCamera: textOf(body, 'MaxCamera'),
    maxAlarm: textOf(body, 'MaxAlarm'),
  });
  const parsed = parseOrThrow(
    z.object({
      result: resultSchema.optional(),
      deviceName: words(256).optional(),
      deviceType: words(64).optional(),
      manufacturer: words(128).optional(),
      model: words(128).optional(),
      firmware: words(128).optional(),
      channel: intText(0, 65_535).optional(),
      maxCamera: intText(0, 65_535).optional(),
      maxAlarm: intText(0, 65_535).optional(),
    }),
    raw,
    'DeviceInfo',
  );
  return { deviceId: message.deviceId, sn: message.sn, ...parsed };
}

export interface DeviceStatus {
  readonly deviceId: string;
  readonly sn: number;
  readonly result?: 'OK' | 'ERROR';
  readonly online: boolean;
  readonly status: 'OK' | 'ERROR';
  readonly reason?: string;
  readonly encode?: boolean;
  readonly record?: boolean;
  readonly deviceTime?: string;
  /** Each alarm input's duty: ONDUTY (armed), OFFDUTY, ALARM (in alarm). */
  readonly alarmStatus: readonly { readonly deviceId: string; readonly status: string }[];
}

const onOff = z
  .string()
  .transform((text) => text.toUpperCase())
  .pipe(z.enum(['ON', 'OFF']))
  .transform((text) => text === 'ON');

/** A DeviceStatus response (A.2.6.7). */
export function readDeviceStatus(message: ManscdpMessage): DeviceStatus {
  expect(message, ['Response'], 'DeviceStatus');
  const body = message.body;
  const alarms = fields(field(body, 'Alarmstatus'), 'Item').map((item) =>
    present({ deviceId: textOf(item, 'DeviceID'), status: textOf(item, 'DutyStatus') }),
  );
  const raw = present({
    result: textOf(body, 'Result'),
    online: textOf(body, 'Online'),
    status: textOf(body, 'Status'),
    reason: textOf(body, 'Reason'),
    encode: textOf(body, 'Encode'),
    record: textOf(body, 'Record'),
    deviceTime: textOf(body, 'DeviceTime'),
    alarmStatus: alarms,
  });
  const parsed = parseOrThrow(
    z.object({
      result: resultSchema.optional(),
      online: z
        .string()
        .transform((text) => text.toUpperCase())
        .pipe(z.enum(['ONLINE', 'OFFLINE']))
        .transform((text) => text === 'ONLINE'),
      status: okError,
      reason: words(256).optional(),
      encode: onOff.optional(),
      record: onOff.optional(),
      deviceTime: words(40).optional(),
      alarmStatus: z
        .array(
          z.object({
            deviceId: id,
            status: z
              .string()
              .transform((text) => text.toUpperCase())
              .pipe(z.enum(['ONDUTY', 'OFFDUTY', 'ALARM'])),
          }),
        )
        .max(256),
    }),
    raw,
    'DeviceStatus',
  );
  return { deviceId: message.deviceId, sn: message.sn, ...parsed };
}

export interface ManscdpResult {
  readonly deviceId: string;
  readonly sn: number;
  readonly cmdType: string;
  readonly result: 'OK' | 'ERROR';
  readonly reason?: string;
}

/** The Result of a Response to a Control (DeviceControl, DeviceConfig) or any other command that answers only that. */
export function readResult(message: ManscdpMessage): ManscdpResult {
  if (message.root !== 'Response') throw new ManscdpError(`expected a Response, got ${message.root}`);
  const raw = present({ result: textOf(message.body, 'Result'), reason: textOf(message.body, 'Reason') });
  const parsed = parseOrThrow(
    z.object({ result: resultSchema, reason: words(256).optional() }),
    raw,
    `${message.cmdType} Result`,
  );
  return { deviceId: message.deviceId, sn: message.sn, cmdType: message.cmdType, ...parsed };
}

export interface UploadSnapShotFinished {
  readonly deviceId: string;
  readonly sn: number;
  readonly sessionId: string;
  /** The files uploaded, named as the device named them (<SnapShotList><SnapShotFileID>). */
  readonly files: readonly string[];
}

/** 2022's UploadSnapShotFinished notify (A.2.5.7): the snapshots of a SnapShotConfig session are uploaded. */
export function readUploadSnapShotFinished(message: ManscdpMessage): UploadSnapShotFinished {
  expect(message, ['Notify'], 'UploadSnapShotFinished');
  const raw = {
    sessionId: textOf(message.body, 'SessionID'),
    files: fields(field(message.body, 'SnapShotList'), 'SnapShotFileID').map((element) =>
      element.text.trim(),
    ),
  };
  const parsed = parseOrThrow(
    z.object({
      sessionId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
      files: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/)).max(64),
    }),
    raw,
    'UploadSnapShotFinished',
  );
  return { deviceId: message.deviceId, sn: message.sn, ...parsed };
}

/**
 * A MANSCDP time (`2017-07-19T10:19:14`, sometimes with a space or fractions, rarely with an offset) as ISO 8601 with
 * an offset: devices keep local time, Beijing time (+08:00) unless the deployment says otherwise. Undefined when
 * the text is not such a time.
 */
export function manscdpTime(text: string, offset = '+08:00'): string | undefined {
  const match =
    /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/.exec(
      text.trim(),
    );
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const two = (part: string | undefined) => (part ?? '').padStart(2, '0');
  const iso = `${year}-${two(month)}-${two(day)}T${two(hour)}:${minute}:${second}${fraction ?? ''}${zone ?? offset}`;
  return Number.isNaN(Date.parse(iso)) ? undefined : iso;
}
