import { randomBytes } from 'node:crypto';

/**
 * The SIP message (RFC 3261 §7) as GB/T 28181 devices and platforms exchange it: a start line, headers, a body.
 * The parser is lenient where real devices differ from the letter of the RFC (header names in any case, compact
 * forms, folded lines, bare LF line ends, a missing Content-Length on UDP) and strict where a message could not be
 * routed or answered (start line, version, header syntax, the five headers every request and response carries,
 * Content-Length against the body, limits). Bodies stay bytes: their charset is the MANSCDP layer's business.
 */

/** Header name/value pairs, names in canonical lower-case long form. */
export type SipHeaderList = readonly (readonly [name: string, value: string])[];

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly headers: SipHeaders;
  readonly body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeaders;
  readonly body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export interface SipLimits {
  readonly maxMessageBytes: number;
  readonly maxHeaders: number;
}

export const defaultSipLimits: SipLimits = { maxMessageBytes: 65_536, maxHeaders: 64 };

/** Why bytes are not a SIP message. `problem` is in our words and never quotes the sender's bytes. */
export class SipParseError extends Error {
  constructor(readonly problem: string) {
    super(`not a SIP message: ${problem}`);
    this.name = 'SipParseError';
  }
}

/** RFC 3261 §7.3.3: the compact forms, plus RFC 3265's o (Event) and u (Allow-Events), RFC 3515's r (Refer-To). */
const compactForms: Readonly<Record<string, string>> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  e: 'content-encoding',
  o: 'event',
  u: 'allow-events',
  s: 'subject',
  r: 'refer-to',
};

/** How a header is written on the wire where the usual capitalisation of its words is not it. */
const wireNames: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'www-authorization': 'WWW-Authorization',
};

/** The canonical name of a header: lower case, compact form expanded. */
export function canonicalHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return compactForms[lower] ?? lower;
}

function wireName(name: string): string {
  return (
    wireNames[name] ??
    name
      .split('-')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join('-')
  );
}

/** Ordered headers, looked up case-insensitively by long or compact name. */
export class SipHeaders {
  readonly #entries: [string, string][] = [];

  constructor(entries: SipHeaderList = []) {
    for (const [name, value] of entries) this.append(name, value);
  }

  get(name: string): string | undefined {
    const wanted = canonicalHeaderName(name);
    return this.#entries.find(([entryName]) => entryName === wanted)?.[1];
  }

  getAll(name: string): string[] {
    const wanted = canonicalHeaderName(name);
    return this.#entries.filter(([entryName]) => entryName === wanted).map(([, value]) => value);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces the first header of that name (keeping its place) and removes the others; appends when absent. */
  set(name: string, value: string): this {
    const wanted = canonicalHeaderName(name);
    const first = this.#entries.findIndex(([entryName]) => entryName === wanted);
    if (first === -1) return this.append(name, value);
    this.#entries[first] = [wanted, value];
    for (let index = this.#entries.length - 1; index > first; index--) {
      if (this.#entries[index]?.[0] === wanted) this.#entries.splice(index, 1);
    }
    return this;
  }

  append(name: string, value: string): this {
    this.#entries.push([canonicalHeaderName(name), value]);
    return this;
  }

  /** Puts a header first (a proxy's or a client's own Via goes on top). */
  prepend(name: string, value: string): this {
    this.#entries.unshift([canonicalHeaderName(name), value]);
    return this;
  }

  delete(name: string): this {
    const wanted = canonicalHeaderName(name);
    for (let index = this.#entries.length - 1; index >= 0; index--) {
      if (this.#entries[index]?.[0] === wanted) this.#entries.splice(index, 1);
    }
    return this;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#entries.map(([name, value]): [string, string] => [name, value])[Symbol.iterator]();
  }

  get size(): number {
    return this.#entries.length;
  }

  clone(): SipHeaders {
    return new SipHeaders(this.#entries);
  }
}

const tokenPattern = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const requestLinePattern = /^([A-Za-z0-9.!%*_+`'~-]+) +(\S+) +(SIP\/\d+\.\d+)$/i;
const statusLinePattern = /^(SIP\/\d+\.\d+) +(\d{3})(?: +(.*))?$/i;
const mandatoryHeaders = ['via', 'from', 'to', 'call-id', 'cseq'] as const;

/**
 * Reads one message: a UDP datagram, or a message the TCP framing cut out (src/net/sip/sip-stream.ts). A body
 * beyond Content-Length is discarded (RFC 3261 §18.3, for UDP); without Content-Length the body is the rest.
 */
export function parseSipMessage(datagram: Buffer, limits: SipLimits = defaultSipLimits): SipMessage {
  if (datagram.length > limits.maxMessageBytes) {
    throw new SipParseError(
      `message of ${datagram.length} bytes, over the ${limits.maxMessageBytes}-byte limit`,
    );
  }
  // RFC 3261 §7.5: CRLFs before the start line are ignored (keep-alives, a previous message's trailing CRLF).
  let start = 0;
  while (start < datagram.length && (datagram[start] === 0x0d || datagram[start] === 0x0a)) start++;
  const head = headEnd(datagram, start);
  if (head === undefined) throw new SipParseError('no empty line ends the headers');
  const lines = unfold(datagram.toString('utf8', start, head.end).split(/\r?\n/));
  const first = readStartLine(lines.shift() ?? '');
  const headers = new SipHeaders();
  let count = 0;
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon).trimEnd();
    if (!tokenPattern.test(name)) throw new SipParseError('a header line is not "name: value"');
    count++;
    if (count > limits.maxHeaders) throw new SipParseError(`more than ${limits.maxHeaders} headers`);
    headers.append(name, line.slice(colon + 1).trim());
  }
  for (const name of mandatoryHeaders) {
    if (!headers.has(name)) throw new SipParseError(`no ${wireName(name)} header`);
  }
  const body = readBody(datagram.subarray(head.bodyStart), headers);
  const cseq = parseCSeq(headers.get('cseq') ?? '');
  if (cseq === undefined) throw new SipParseError('CSeq is not "number method"');

  if (first.kind === 'request' && cseq.method !== first.method) {
    throw new SipParseError('the CSeq method differs from the request method');
  }
  return { ...first, headers, body };
}

function readStartLine(
  line: string,
): { kind: 'request'; method: string; uri: string } | { kind: 'response'; status: number; reason: string } {
  const request = requestLinePattern.exec(line);
  if (request !== null) {
    const [, method = '', uri = '', version = ''] = request;
    checkVersion(version);
    return { kind: 'request', method, uri };
  }
  const status = statusLinePattern.exec(line);
  if (status !== null) {
    const [, version = '', code = '', reason = ''] = status;
    checkVersion(version);
    const statusCode = Number(code);
    if (statusCode < 100 || statusCode > 699) throw new SipParseError('status code outside 100..699');
    return { kind: 'response', status: statusCode, reason: reason.trim() };
  }
  throw new SipParseError('the start line is neither a request line nor a status line');
}

function checkVersion(version: string): void {
  if (version.toUpperCase() !== 'SIP/2.0') throw new SipParseError('not SIP/2.0');
}

/** Where the headers end (the empty line) and the body starts; CRLF CRLF, or LF LF from sloppy senders. */
export function headEnd(bytes: Buffer, from = 0): { end: number; bodyStart: number } | undefined {
  const crlf = bytes.indexOf('\r\n\r\n', from);
  const lf = bytes.indexOf('\n\n', from);
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { end: crlf, bodyStart: crlf + 4 };
  if (lf !== -1) return { end: lf, bodyStart: lf + 2 };
  return undefined;
}

/** RFC 3261 §7.3.1: a line starting with whitespace continues the previous header (LWS folding). */
function unfold(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 1) {
      out[out.length - 1] = `${out[out.length - 1]} ${line.trim()}`;
    } else if (line.startsWith(' ') || line.startsWith('\t')) {
      throw new SipParseError('a folded line continues no header');
    } else {
      out.push(line);
    }
  }
  return out;
}

function readBody(rest: Buffer, headers: SipHeaders): Buffer {
  const lengths = headers.getAll('content-length');
  if (lengths.length === 0) return rest;
  const length = readContentLength(lengths);
  if (length > rest.length) {
    throw new SipParseError(`the body is shorter than its Content-Length (${rest.length} < ${length})`);
  }
  return rest.subarray(0, length);
}

/** The one Content-Length several headers agree on; throws for a malformed or conflicting one. */
export function readContentLength(values: readonly string[]): number {
  const lengths = new Set(values.map((value) => value.trim()));
  if (lengths.size > 1) throw new SipParseError('conflicting Content-Length headers');
  const [text = ''] = lengths;
  if (!/^\d{1,9}$/.test(text)) throw new SipParseError('Content-Length is not a number');
  return Number(text);
}

function parseCSeq(value: string): { seq: number; method: string } | undefined {
  const match = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(value.trim());
  if (match === null) return undefined;
  const seq = Number(match[1]);
  // RFC 3261 §8.1.1.5: the sequence number is below 2^31.
  if (seq >= 2 ** 31) return undefined;
  return { seq, method: match[2] as string };
}

/** The message on the wire: Content-Length set from the body, header names in their usual capitalisation. */
export function serializeSipMessage(message: SipMessage): Buffer {
  const startLine =
    message.kind === 'request'
      ? `${message.method} ${message.uri} SIP/2.0`
      : `SIP/2.0 ${message.status} ${message.reason}`;
  const lines = [startLine];
  for (const [name, value] of message.headers.entries()) {
    if (name !== 'content-length') lines.push(`${wireName(name)}: ${value}`);
  }
  lines.push(`Content-Length: ${message.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), message.body]);
}

/** The usual reason phrases (RFC 3261 §21), for a response whose caller gives none. */
const reasons: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  489: 'Bad Event',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  513: 'Message Too Large',
};

/**
 * A response to `request` (RFC 3261 §8.2.6.2): its Vias (all, in order), From, To (with a tag added when To has
 * none and the status is above 100), Call-ID and CSeq, then `extra`'s headers and body.
 */
export function responseTo(
  request: SipRequest,
  status: number,
  reason?: string,
  extra: { headers?: SipHeaderList; body?: Buffer; contentType?: string; toTag?: string } = {},
): SipResponse {
  const headers = new SipHeaders();
  for (const via of request.headers.getAll('via')) headers.append('via', via);
  headers.append('from', request.headers.get('from') ?? '');
  let to = request.headers.get('to') ?? '';
  if (status > 100 && !readNameAddr(to).params.has('tag')) to = `${to};tag=${extra.toTag ?? newTag()}`;
  headers.append('to', to);
  headers.append('call-id', request.headers.get('call-id') ?? '');
  headers.append('cseq', request.headers.get('cseq') ?? '');
  for (const [name, value] of extra.headers ?? []) headers.append(name, value);
  const body = extra.body ?? Buffer.alloc(0);
  if (extra.contentType !== undefined) headers.set('content-type', extra.contentType);
  return { kind: 'response', status, reason: reason ?? reasons[status] ?? 'Unknown', headers, body };
}

/** Splits a header value at commas outside quotes and angle brackets (several Vias in one header, say). */
export function splitHeaderValues(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angled = false;
  for (let index = 0; index < value.length; index++) {
    const character = value.charAt(index);
    if (quoted && character === '\\') {
      current += character + value.charAt(index + 1);
      index++;
      continue;
    }
    if (character === '"') quoted = !quoted;
    else if (!quoted && character === '<') angled = true;
    else if (!quoted && character === '>') angled = false;
    if (character === ',' && !quoted && !angled) {
      parts.push(current.trim());
      current = '';
    } else {
      current += character;
    }
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}

/** `;name=value;flag` parameters, names lower-cased, a flag's value ''. Quoted values lose their quotes. */
function readParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of text.split(';')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const equals = trimmed.indexOf('=');
    const name = (equals === -1 ? trimmed : trimmed.slice(0, equals)).trim().toLowerCase();
    let value = equals === -1 ? '' : trimmed.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    params.set(name, value);
  }
  return params;
}

/**
 * A From, To or Contact value: `"display" <uri>;params`, `display <uri>;params` or `uri;params` (RFC 3261 §20.10:
 * without angle brackets, what follows `;` belongs to the header, not the URI).
 */
export function readNameAddr(value: string): {
  display?: string;
  uri: string;
  params: ReadonlyMap<string, string>;
} {
  const text = value.trim();
  const open = text.indexOf('<');
  const close = open === -1 ? -1 : text.indexOf('>', open);
  if (open !== -1 && close !== -1) {
    let display = text.slice(0, open).trim();
    if (display.startsWith('"') && display.endsWith('"') && display.length >= 2) {
      display = display.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const params = readParams(text.slice(close + 1));
    const uri = text.slice(open + 1, close).trim();
    return display === '' ? { uri, params } : { display, uri, params };
  }
  const semicolon = text.indexOf(';');
  if (semicolon === -1) return { uri: text, params: new Map() };
  return { uri: text.slice(0, semicolon).trim(), params: readParams(text.slice(semicolon)) };
}

/** A sip: or sips: URI's parts; undefined for another scheme or no host. A password in the user part is dropped. */
export function readSipUri(
  uri: string,
): { user?: string; host: string; port?: number; params: ReadonlyMap<string, string> } | undefined {
  const match = /^sips?:(.*)$/i.exec(uri.trim());
  if (match === null) return undefined;
  let rest = (match[1] as string).split('?')[0] as string;
  const at = rest.lastIndexOf('@');
  let user: string | undefined;
  if (at !== -1) {
    user = rest.slice(0, at).split(':')[0];
    rest = rest.slice(at + 1);
  }
  const semicolon = rest.indexOf(';');
  const hostPort = semicolon === -1 ? rest : rest.slice(0, semicolon);
  const params = semicolon === -1 ? new Map<string, string>() : readParams(rest.slice(semicolon));
  const address = readHostPort(hostPort);
  if (address === undefined) return undefined;
  return {
    ...(user === undefined || user === '' ? {} : { user: decodeURIComponent(user) }),
    ...address,
    params,
  };
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; undefined for an empty host or a bad port. */
function readHostPort(text: string): { host: string; port?: number } | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (match === null) return undefined;
  const host = (match[1] as string).replace(/^\[(.*)\]$/, '$1');
  if (match[2] === undefined) return { host };
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host, port };
}

/** The first (topmost) Via of a Via header value: `SIP/2.0/UDP host:port;branch=...;rport;received=...`. */
export function readVia(value: string): {
  transport: string;
  host: string;
  port?: number;
  branch?: string;
  rport?: number | true;
  received?: string;
} {
  const first = splitHeaderValues(value)[0] ?? '';
  const match = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;]+)(.*)$/i.exec(first);
  if (match === null) return { transport: '', host: '' };
  const address = readHostPort(match[2] as string) ?? { host: (match[2] as string).trim() };
  const params = readParams(match[3] as string);
  const rport = params.get('rport');
  const branch = params.get('branch');
  const received = params.get('received');
  return {
    transport: (match[1] as string).toUpperCase(),
    ...address,
    ...(branch === undefined || branch === '' ? {} : { branch }),
    ...(rport === undefined ? {} : { rport: /^\d+$/.test(rport) ? Number(rport) : true }),
    ...(received === undefined || received === '' ? {} : { received }),
  };
}

/** The topmost Via of a message (several may share one header, separated by commas). */
export function topVia(message: SipMessage): ReturnType<typeof readVia> | undefined {
  const first = message.headers.get('via');
  return first === undefined ? undefined : readVia(first);
}

export function readCSeq(message: SipMessage): { seq: number; method: string } | undefined {
  return parseCSeq(message.headers.get('cseq') ?? '');
}

/** A branch with RFC 3261's magic cookie, unique enough to name a transaction. */
export function newBranch(): string {
  return `z9hG4bK${randomBytes(12).toString('hex')}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

export function newCallId(host: string): string {
  return `${randomBytes(12).toString('hex')}@${host}`;
}
