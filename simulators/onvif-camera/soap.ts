import { createHash, timingSafeEqual } from 'node:crypto';
import type { Credentials } from '../shared/http-digest.ts';

/**
 * The SOAP 1.2 layer of the simulated camera: a small namespace-aware XML reader for what clients send, the
 * envelope and fault writers for what the camera answers, and WS-Security UsernameToken checking.
 *
 * The camera answers the way gSOAP-based firmware (Hikvision, Dahua, Uniview) does: every namespace it uses is
 * declared once on the Envelope, faults are SOAP 1.2 faults with ONVIF `ter:` subcodes, and a Sender fault goes
 * out with HTTP 400, a Receiver fault with HTTP 500 (SOAP 1.2 Part 2, 7.5.1.2; ONVIF Core 5.11.2).
 */

export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  xs: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  wsa: 'http://www.w3.org/2005/08/addressing',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  wstop: 'http://docs.oasis-open.org/wsn/t-1',
  wsrfr: 'http://docs.oasis-open.org/wsrf/r-2',
  wsrfbf: 'http://docs.oasis-open.org/wsrf/bf-2',
  tt: 'http://www.onvif.org/ver10/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  tptz: 'http://www.onvif.org/ver20/ptz/wsdl',
  ter: 'http://www.onvif.org/ver10/error',
  tns1: 'http://www.onvif.org/ver10/topics',
  dn: 'http://www.onvif.org/ver10/network/wsdl',
} as const;

/** Prefixes declared on every answer's Envelope (the `wsrf-r`/`wsrf-bf` spellings are the usual ones). */
const ENVELOPE_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['s', NS.s],
  ['xs', NS.xs],
  ['xsi', NS.xsi],
  ['wsa', NS.wsa],
  ['wsnt', NS.wsnt],
  ['wstop', NS.wstop],
  ['wsrf-r', NS.wsrfr],
  ['wsrf-bf', NS.wsrfbf],
  ['tt', NS.tt],
  ['tds', NS.tds],
  ['trt', NS.trt],
  ['tev', NS.tev],
  ['tptz', NS.tptz],
  ['ter', NS.ter],
  ['tns1', NS.tns1],
];

// ---------------------------------------------------------------------------------------------------------------
// Reading XML

export interface XmlElement {
  /** Local name, without prefix. */
  readonly name: string;
  /** Namespace URI, or '' when none is in scope. */
  readonly ns: string;
  /** Attributes by their name as written (prefix included), values decoded. */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** The element's own character data, concatenated and decoded. */
  text: string;
  /** Prefix → namespace bindings in scope here ('' is the default namespace). */
  readonly scope: ReadonlyMap<string, string>;
}

export class XmlError extends Error {}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function splitQName(qname: string): [prefix: string, local: string] {
  const colon = qname.indexOf(':');
  return colon < 0 ? ['', qname] : [qname.slice(0, colon), qname.slice(colon + 1)];
}

/**
 * Parses a whole document into its root element. Enough XML for SOAP: elements, attributes, namespaces,
 * character data, CDATA, comments and processing instructions. A DOCTYPE is refused, as camera firmware does
 * (no entity expansion from the network).
 */
export function parseXml(xml: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const appendText = (raw: string, decode: boolean): void => {
    const top = stack.at(-1);
    if (top === undefined) {
      if (raw.trim() !== '') throw new XmlError('text outside the root element');
      return;
    }
    top.text += decode ? decodeEntities(raw) : raw;
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      appendText(xml.slice(i), true);
      break;
    }
    if (lt > i) appendText(xml.slice(i, lt), true);
    if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt);
      if (end < 0) throw new XmlError('unterminated processing instruction');
      i = end + 2;
    } else if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      if (end < 0) throw new XmlError('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt);
      if (end < 0) throw new XmlError('unterminated CDATA section');
      appendText(xml.slice(lt + 9, end), false);
      i = end + 3;
    } else if (xml.startsWith('<!', lt)) {
      throw new XmlError('DOCTYPE and other declarations are not accepted');
    } else if (xml.startsWith('</', lt)) {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw new XmlError('unterminated end tag');
      const qname = xml.slice(lt + 2, end).trim();
      const open = stack.pop();
      const [prefix, local] = splitQName(qname);
      if (open === undefined || open.name !== local || open.ns !== (open.scope.get(prefix) ?? '')) {
        throw new XmlError(`unexpected end tag </${qname}>`);
      }
      i = end + 1;
    } else {
      const end = findTagEnd(xml, lt);
      const selfClosing = xml[end - 1] === '/';
      const inner = xml.slice(lt + 1, selfClosing ? end - 1 : end);
      const nameMatch = /^[^\s/>]+/.exec(inner);
      if (nameMatch === null) throw new XmlError('element without a name');
      const qname = nameMatch[0];
      const attrs: Record<string, string> = {};
      const parent = stack.at(-1);
      const scope = new Map(parent?.scope ?? []);
      for (const m of inner.slice(qname.length).matchAll(ATTRIBUTE)) {
        const attrName = m[1] ?? '';
        const value = decodeEntities(m[2] ?? m[3] ?? '');
        attrs[attrName] = value;
        if (attrName === 'xmlns') scope.set('', value);
        else if (attrName.startsWith('xmlns:')) scope.set(attrName.slice(6), value);
      }
      const [prefix, local] = splitQName(qname);
      const ns = scope.get(prefix);
      if (ns === undefined && prefix !== '') throw new XmlError(`undeclared prefix ${prefix}`);
      const element: XmlElement = { name: local, ns: ns ?? '', attrs, children: [], text: '', scope };
      if (parent === undefined) {
        if (root !== undefined) throw new XmlError('more than one root element');
        root = element;
      } else {
        parent.children.push(element);
      }
      if (!selfClosing) stack.push(element);
      i = end + 1;
    }
  }
  if (stack.length > 0) throw new XmlError(`unclosed element <${stack.at(-1)?.name}>`);
  if (root === undefined) throw new XmlError('no root element');
  return root;
}

/** The index of the `>` closing a start tag, skipping quoted attribute values. */
function findTagEnd(xml: string, from: number): number {
  let quote: string | undefined;
  for (let j = from + 1; j < xml.length; j++) {
    const c = xml[j];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return j;
    }
  }
  throw new XmlError('unterminated start tag');
}

/** The first child with this local name (and namespace, when given). */
export function child(element: XmlElement | undefined, name: string, ns?: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name && (ns === undefined || c.ns === ns));
}

export function children(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((c) => c.name === name) ?? [];
}

/** The first descendant with this local name, depth first. */
export function descendant(element: XmlElement | undefined, name: string): XmlElement | undefined {
  if (element === undefined) return undefined;
  for (const c of element.children) {
    if (c.name === name) return c;
    const deeper = descendant(c, name);
    if (deeper !== undefined) return deeper;
  }
  return undefined;
}

/** Trimmed text of the first child with this local name. */
export function childText(element: XmlElement | undefined, name: string): string | undefined {
  return child(element, name)?.text.trim();
}

/** An attribute by local name, whatever its prefix. */
export function attr(element: XmlElement | undefined, localName: string): string | undefined {
  if (element === undefined) return undefined;
  for (const [name, value] of Object.entries(element.attrs)) {
    if (name === localName || name.endsWith(`:${localName}`)) return value;
  }
  return undefined;
}

/** Resolves a QName written in content (`dn:NetworkVideoTransmitter`) against the element's scope. */
export function resolveQName(element: XmlElement, qname: string): { ns: string; name: string } {
  const [prefix, name] = splitQName(qname);
  return { ns: element.scope.get(prefix) ?? '', name };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing XML

export function escapeXml(value: string | number | boolean): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function envelope(body: string, header = ''): string {
  const xmlns = ENVELOPE_PREFIXES.map(([prefix, uri]) => ` xmlns:${prefix}="${uri}"`).join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope${xmlns}>` +
    (header === '' ? '' : `<s:Header>${header}</s:Header>`) +
    `<s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** ISO 8601 in UTC with milliseconds, the form every client here parses (`2026-01-02T03:04:05.678Z`). */
export function isoTime(date: Date): string {
  return date.toISOString();
}

// ---------------------------------------------------------------------------------------------------------------
// Faults

export interface SoapFaultSpec {
  /** SOAP 1.2 fault code (the `s:` value). */
  readonly code: 'Sender' | 'Receiver' | 'VersionMismatch' | 'MustUnderstand';
  /** Nested subcodes as QNames, outermost first (`ter:InvalidArgVal`, `ter:NoProfile`). */
  readonly subcodes: readonly string[];
  readonly reason: string;
  /** Extra XML inside s:Detail. */
  readonly detail?: string;
}

/** A fault the camera answers with; thrown by operation handlers. */
export class SoapFault extends Error {
  readonly spec: SoapFaultSpec;
  constructor(spec: SoapFaultSpec) {
    super(`${spec.subcodes.at(-1) ?? spec.code}: ${spec.reason}`);
    this.spec = spec;
  }

  /** Sender faults are the client's doing: 400. Receiver faults are the device's: 500. */
  get httpStatus(): number {
    return this.spec.code === 'Receiver' ? 500 : 400;
  }

  toXml(): string {
    const { code, subcodes, reason, detail } = this.spec;
    const nested = subcodes.reduceRight(
      (inner, subcode) => `<s:Subcode><s:Value>${subcode}</s:Value>${inner}</s:Subcode>`,
      '',
    );
    return envelope(
      '<s:Fault>' +
        `<s:Code><s:Value>s:${code}</s:Value>${nested}</s:Code>` +
        `<s:Reason><s:Text xml:lang="en">${escapeXml(reason)}</s:Text></s:Reason>` +
        (detail === undefined ? '' : `<s:Detail>${detail}</s:Detail>`) +
        '</s:Fault>',
    );
  }
}

/**
 * The faults this camera produces, worded as ONVIF Core 5.11.2 words them (code, subcodes, reason) and WS-BaseNotification
 * / WS-ResourceFramework for subscriptions. Like real firmware, the generic faults carry no s:Detail: clients match
 * on subcodes and reason text (Home Assistant looks for `NotAuthorized` or "auth", and for "Action Not Implemented"),
 * and some older clients cannot even print a fault whose Detail is an element.
 */
export const faults = {
  notAuthorized: () =>
    new SoapFault({ code: 'Sender', subcodes: ['ter:NotAuthorized'], reason: 'Sender not Authorized' }),
  /** `action` is for readers of the code: like real firmware, the answer does not name it. */
  actionNotSupported: (_action?: string) =>
    new SoapFault({
      code: 'Receiver',
      subcodes: ['ter:ActionNotSupported'],
      reason: 'Optional Action Not Implemented',
    }),
  /** `why` is for readers of the code: the answer only says the request was not well formed. */
  wellFormed: (_why?: string) =>
    new SoapFault({ code: 'Sender', subcodes: ['ter:WellFormed'], reason: 'Well-formed Error' }),
  versionMismatch: () =>
    new SoapFault({
      code: 'VersionMismatch',
      subcodes: [],
      reason: 'SOAP version mismatch: SOAP 1.2 expected',
    }),
  invalidArgVal: (why: string) =>
    new SoapFault({
      code: 'Sender',
      subcodes: ['ter:InvalidArgVal'],
      reason: `Argument Value Invalid: ${why}`,
    }),
  noProfile: (token: string) =>
    new SoapFault({
      code: 'Sender',
      subcodes: ['ter:InvalidArgVal', 'ter:NoProfile'],
      reason: `The requested profile token ${token} does not exist`,
    }),
  noConfig: (token: string) =>
    new SoapFault({
      code: 'Sender',
      subcodes: ['ter:InvalidArgVal', 'ter:NoConfig'],
      reason: `The requested configuration indicated with ConfigurationToken ${token} does not exist`,
    }),
  noPreset: (token: string) =>
    new SoapFault({
      code: 'Sender',
      subcodes: ['ter:InvalidArgVal', 'ter:NoToken'],
      reason: `The requested preset token ${token} does not exist`,
    }),
  /** The device has no such service (GetCapabilities of a category it lacks, a call to an absent service). */
  noSuchService: () =>
    new SoapFault({
      code: 'Receiver',
      subcodes: ['ter:ActionNotSupported', 'ter:NoSuchService'],
      reason: 'The requested WSDL service category is not supported by the device',
    }),
  /** WS-ResourceFramework: the subscription (a WS-Resource) is unknown, expired or gone after a reboot. */
  resourceUnknown: (address: string, now: Date) =>
    new SoapFault({
      code: 'Sender',
      subcodes: ['wsrf-r:ResourceUnknownFault'],
      reason: 'Subscription unknown or expired',
      detail:
        '<wsrf-r:ResourceUnknownFault>' +
        `<wsrf-bf:Timestamp>${isoTime(now)}</wsrf-bf:Timestamp>` +
        `<wsrf-bf:Originator><wsa:Address>${escapeXml(address)}</wsa:Address></wsrf-bf:Originator>` +
        '<wsrf-bf:Description>The subscription does not exist (it expired, was unsubscribed, or the device restarted)</wsrf-bf:Description>' +
        '</wsrf-r:ResourceUnknownFault>',
    }),
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Durations and times

const DURATION =
  /^(-)?P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** xs:duration to milliseconds (years as 365 days, months as 30); undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (m === null || text.trim() === 'P' || text.trim().endsWith('T')) return undefined;
  const n = (i: number): number => Number(m[i] ?? 0);
  const ms = (((n(2) * 365 + n(3) * 30 + n(4)) * 24 + n(5)) * 60 + n(6)) * 60_000 + Math.round(n(7) * 1000);
  return m[1] === '-' ? -ms : ms;
}

/**
 * WS-BaseNotification's termination time: either a duration from now or an absolute xs:dateTime
 * ([WS-BaseNotification 4.1] InitialTerminationTime, [6.1.1] Renew/TerminationTime).
 */
export function parseTerminationTime(text: string, now: Date): Date | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith('P') || trimmed.startsWith('-P')) {
    const ms = parseDuration(trimmed);
    return ms === undefined ? undefined : new Date(now.getTime() + ms);
  }
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

// ---------------------------------------------------------------------------------------------------------------
// WS-Security UsernameToken (OASIS Username Token Profile 1.0; ONVIF Core 5.12.2)

const PASSWORD_DIGEST = '#PasswordDigest';
const PASSWORD_TEXT = '#PasswordText';

/** How far a token's Created may be from the camera's clock, either way. */
export const CREATED_WINDOW_MS = 5 * 60_000;

/** Nonces seen recently: a digest replayed inside the window is refused (Username Token Profile 1.0, 3.2.1). */
export class NonceCache {
  readonly #seen = new Map<string, number>();

  /** Records the nonce; false when it was already used. */
  remember(nonce: string, now: number): boolean {
    for (const [key, expiry] of this.#seen) if (expiry < now) this.#seen.delete(key);
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, now + 2 * CREATED_WINDOW_MS);
    return true;
  }

  clear(): void {
    this.#seen.clear();
  }
}

export type AuthVerdict =
  | { readonly ok: true; readonly username: string }
  | { readonly ok: false; readonly why: string };

export type { Credentials };

/** PasswordDigest = Base64(SHA-1(nonce + created + password)), nonce as raw bytes. */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')]))
    .digest('base64');
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Checks the wsse:Security header of a request against the camera's one account. */
export function verifyUsernameToken(
  header: XmlElement | undefined,
  account: Credentials,
  now: Date,
  nonces: NonceCache,
): AuthVerdict {
  const token = child(child(header, 'Security', NS.wsse), 'UsernameToken', NS.wsse);
  if (token === undefined) return { ok: false, why: 'no UsernameToken' };
  const username = childText(token, 'Username') ?? '';
  const passwordElement = child(token, 'Password');
  const password = passwordElement?.text.trim() ?? '';
  const type = attr(passwordElement, 'Type') ?? PASSWORD_TEXT;
  if (!sameString(username, account.username)) return { ok: false, why: 'unknown user' };
  if (type.endsWith(PASSWORD_TEXT)) {
    return sameString(password, account.password)
      ? { ok: true, username }
      : { ok: false, why: 'wrong password' };
  }
  if (!type.endsWith(PASSWORD_DIGEST)) return { ok: false, why: `unsupported password type ${type}` };
  const nonceText = childText(token, 'Nonce');
  const created = child(token, 'Created')?.text.trim();
  if (nonceText === undefined || created === undefined)
    return { ok: false, why: 'digest without nonce or created' };
  const createdMs = Date.parse(created);
  if (Number.isNaN(createdMs)) return { ok: false, why: 'unreadable Created' };
  if (Math.abs(createdMs - now.getTime()) > CREATED_WINDOW_MS)
    return { ok: false, why: 'Created outside the window' };
  const expected = passwordDigest(Buffer.from(nonceText, 'base64'), created, account.password);
  if (!sameString(password, expected)) return { ok: false, why: 'wrong password' };
  if (!nonces.remember(`${nonceText}|${created}`, now.getTime())) return { ok: false, why: 'replayed nonce' };
  return { ok: true, username };
}
