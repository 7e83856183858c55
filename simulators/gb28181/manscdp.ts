/**
 * MANSCDP bodies (GB/T 28181 Annex A) as the simulators write and read them: a tiny XML writer and reader of their
 * own (simulators import nothing from `src/`), and the GB2312/GB18030 charset most devices declare.
 */

export type Charset = 'GB2312' | 'UTF-8';
export type ManscdpRoot = 'Query' | 'Control' | 'Notify' | 'Response';

/** A field value: text, a nested element, or a list written as `<Name Num="n"><Item>…</Item>…</Name>`. */
export type FieldValue = string | number | Fields | ItemList;
export interface Fields {
  readonly [name: string]: FieldValue | undefined;
}
export interface ItemList {
  readonly items: readonly Fields[];
  readonly itemName?: string; // default Item
}

export const manscdpContentType = 'Application/MANSCDP+xml';

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function isItemList(value: FieldValue): value is ItemList {
  return typeof value === 'object' && Array.isArray((value as ItemList).items);
}

function writeFields(fields: Fields, indent: string): string {
  return Object.entries(fields)
    .flatMap(([name, value]) => {
      if (value === undefined) return [];
      if (typeof value === 'string' || typeof value === 'number')
        return [`${indent}<${name}>${escapeText(String(value))}</${name}>`];
      if (isItemList(value)) {
        const itemName = value.itemName ?? 'Item';
        const items = value.items.map(
          (item) =>
            `${indent}  <${itemName}>\n${writeFields(item, `${indent}    `)}\n${indent}  </${itemName}>`,
        );
        return [`${indent}<${name} Num="${value.items.length}">`, ...items, `${indent}</${name}>`];
      }
      return [`${indent}<${name}>\n${writeFields(value, `${indent}  `)}\n${indent}</${name}>`];
    })
    .join('\n');
}

/** The XML text of a MANSCDP message with its declaration. */
export function manscdpText(root: ManscdpRoot, fields: Fields, declaredCharset: Charset): string {
  return `<?xml version="1.0" encoding="${declaredCharset}"?>\n<${root}>\n${writeFields(fields, '  ')}\n</${root}>\n`;
}

// ------------------------------------------------------------------ GB18030 (GB2312's superset) without a dependency

let gbTable: Map<number, number> | undefined;

/**
 * The two-byte GB18030 table, built once from the runtime's own decoder: every lead 0x81–0xFE and trail
 * 0x40–0xFE (not 0x7F) decoded, mapped back. GB2312 text (all Chinese a device names with) lies within it.
 */
function gb18030Table(): Map<number, number> {
  if (gbTable !== undefined) return gbTable;
  const decoder = new TextDecoder('gb18030');
  const table = new Map<number, number>();
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead++)
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      pair[0] = lead;
      pair[1] = trail;
      const text = decoder.decode(pair);
      const code = text.length === 1 ? text.charCodeAt(0) : -1;
      if (code >= 0 && code !== 0xfffd && !table.has(code)) table.set(code, (lead << 8) | trail);
    }
  gbTable = table;
  return table;
}

/** Text as GB18030 bytes (two-byte codes; a character outside them becomes `?`, as a device's firmware would). */
export function encodeGb18030(text: string): Buffer {
  const table = gb18030Table();
  const bytes: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0x3f;
    if (code < 0x80) bytes.push(code);
    else {
      const gb = table.get(code);
      if (gb === undefined) bytes.push(0x3f);
      else bytes.push(gb >> 8, gb & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** A body's text: GB18030 when declared GB2312/GBK/GB18030 (in the XML declaration or the Content-Type), else UTF-8. */
export function decodeManscdp(body: Buffer, contentType = ''): string {
  const head = body.subarray(0, 100).toString('latin1');
  const declared =
    /encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1] ?? /charset=([\w-]+)/i.exec(contentType)?.[1];
  return /^(gb2312|gbk|gb18030)$/i.test(declared ?? '')
    ? new TextDecoder('gb18030').decode(body)
    : body.toString('utf8');
}

// ------------------------------------------------------------------ a tiny XML reader

export interface XmlNode {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlNode[];
  text: string;
}

function unescapeText(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');
}

export class XmlError extends Error {}

/** The root element of an XML document (no DTDs, no namespaces: what MANSCDP needs). Throws XmlError. */
export function readXml(text: string): XmlNode {
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  const token =
    /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([\w:.-]+)([^>]*?)(\/?)>|([^<]+)/g;
  for (const m of text.matchAll(token)) {
    const [whole, cdata, closing, name, attrs, selfClosing, chars] = m;
    const top = stack[stack.length - 1];
    if (chars !== undefined || cdata !== undefined) {
      if (top !== undefined) top.text += cdata ?? unescapeText(chars ?? '');
      else if ((chars ?? '').trim() !== '') throw new XmlError('text outside the root element');
      continue;
    }
    if (name === undefined) {
      if (whole.startsWith('<') && !whole.startsWith('<?') && !whole.startsWith('<!--'))
        throw new XmlError('bad tag');
      continue;
    }
    if (closing === '/') {
      if (top?.name !== name) throw new XmlError(`</${name}> closes nothing open`);
      stack.pop();
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const a of (attrs ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
      attributes[a[1] ?? ''] = unescapeText(a[2] ?? a[3] ?? '');
    const node: XmlNode = { name, attributes, children: [], text: '' };
    if (top !== undefined) top.children.push(node);
    else if (root === undefined) root = node;
    else throw new XmlError('a second root element');
    if (selfClosing !== '/') stack.push(node);
  }
  if (root === undefined) throw new XmlError('no root element');
  if (stack.length > 0) throw new XmlError(`<${stack[stack.length - 1]?.name}> is never closed`);
  return root;
}

/** A child element by name (case-insensitive: devices differ in `DeviceID` vs `DeviceId`). */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name.toLowerCase() === name.toLowerCase());
}

/** The trimmed text of a path of children, e.g. textAt(root, 'Info', 'AlarmType'). */
export function textAt(node: XmlNode | undefined, ...path: string[]): string | undefined {
  let at = node;
  for (const name of path) at = child(at, name);
  return at?.text.trim();
}

/** A MANSCDP body read: its root, CmdType, SN and DeviceID, and the element for the rest. */
export interface Manscdp {
  readonly root: string;
  readonly cmdType: string;
  readonly sn: number;
  readonly deviceId: string;
  readonly node: XmlNode;
  readonly text: string;
}

export function readManscdp(body: Buffer, contentType?: string): Manscdp {
  const text = decodeManscdp(body, contentType);
  const node = readXml(text);
  return {
    root: node.name,
    cmdType: textAt(node, 'CmdType') ?? '',
    sn: Number(textAt(node, 'SN') ?? Number.NaN),
    deviceId: textAt(node, 'DeviceID') ?? '',
    node,
    text,
  };
}
