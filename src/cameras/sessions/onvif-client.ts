import { createHash, randomBytes } from 'node:crypto';
import {
  authorize,
  type Challenge,
  DigestFetchError,
  parseChallenges,
  readLimited,
} from '../../net/digest-fetch.ts';
import { type OutboundFetch, OutboundRefused } from '../../net/outbound-address.ts';
import {
  child,
  descendant,
  escapeXml,
  parseXml,
  textAt,
  type XmlElement,
  type XmlError,
} from '../../net/xml.ts';

/**
 * The hub's own lean ONVIF SOAP client: only the operations a camera session calls, written for what firmware
 * does rather than what the specification hopes. It replaced the `onvif` npm client in the sessions, whose
 * connect() dereferences the answer of an unauthenticated GetSystemDateAndTime the camera refused ("Cannot read
 * properties of undefined"), and which asks for a stream URI without a ProfileToken when it found no profile.
 *
 * - Authentication: WS-Security UsernameToken (PasswordDigest, its Created in the *camera's* clock) or HTTP
 *   Digest, whichever the camera accepts: a 401 with a Digest challenge switches to HTTP Digest, a NotAuthorized
 *   fault to the token, each tried once per request.
 * - The camera's clock: GetSystemDateAndTime without credentials (ONVIF Core 5.9.4 lets it be pre-auth), else with
 *   them; the offset seeded from the refusal's HTTP Date header so that a camera whose clock is hours off still
 *   accepts the token of the authenticated retry.
 * - Every failure is an {@link OnvifError} that names the operation and the camera's answer.
 */

export const soapNamespaces = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsa: 'http://www.w3.org/2005/08/addressing',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  tt: 'http://www.onvif.org/ver10/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  tptz: 'http://www.onvif.org/ver20/ptz/wsdl',
} as const;

const passwordDigestType =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const base64Encoding =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';

/** The most a camera's answer may take (a GetProfiles of a 16-channel NVR is tens of KiB). */
const maxAnswerBytes = 1024 * 1024;

/** A failed ONVIF operation: which one, and what the camera answered (a fault, an HTTP status, or nothing). */
export class OnvifError extends Error {
  override readonly name = 'OnvifError';
  constructor(
    readonly operation: string,
    readonly answer: string,
  ) {
    super(`${operation} failed: ${answer}`);
  }
}

/** How the camera took our credentials the last time it took them. */
export type OnvifAuthentication = 'ws-username-token' | 'http-digest';

/** A SOAP fault in words: `s:Sender/ter:NotAuthorized "Sender not Authorized"`. */
function faultText(fault: XmlElement): string {
  const codes: string[] = [];
  let code = child(fault, 'Code');
  while (code !== undefined) {
    const value = textAt(code, 'Value');
    if (value !== undefined) codes.push(value);
    code = child(code, 'Subcode');
  }
  // SOAP 1.1 faults (some older firmware): faultcode / faultstring.
  if (codes.length === 0) {
    const legacy = textAt(fault, 'faultcode');
    if (legacy !== undefined) codes.push(legacy);
  }
  const reason = textAt(fault, 'Reason', 'Text') ?? textAt(fault, 'faultstring') ?? '';
  return `fault ${codes.join('/') || 'without a code'}${reason === '' ? '' : ` "${reason}"`}`;
}

function isNotAuthorized(fault: XmlElement | undefined): boolean {
  if (fault === undefined) return false;
  const text = faultText(fault);
  return /NotAuthorized|FailedAuthentication|InvalidSecurity|not ?authori[sz]ed/i.test(text);
}

/** tt:DateTime (`<Date><Year/>…</Date><Time><Hour/>…</Time>`) → epoch ms. */
function dateTimeOf(element: XmlElement | undefined): number | undefined {
  if (element === undefined) return undefined;
  const part = (group: string, name: string): number => Number(textAt(element, group, name));
  const ms = Date.UTC(
    part('Date', 'Year'),
    part('Date', 'Month') - 1,
    part('Date', 'Day'),
    part('Time', 'Hour'),
    part('Time', 'Minute'),
    part('Time', 'Second'),
  );
  return Number.isNaN(ms) ? undefined : ms;
}

export interface CallOptions {
  /** Without credentials (GetSystemDateAndTime before the clock is known). Default true. */
  readonly authenticate?: boolean;
  /** WS-Addressing Action, for the event service's endpoints that dispatch on it. */
  readonly action?: string;
  /** This call's own timeout (a PullMessages waits for events). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface OnvifClientOptions {
  /** The device service URL as configured. */
  readonly xaddr: string;
  readonly username: string;
  readonly password: string;
  /** Checks every URL against network.outbound and connects to the checked address (OutboundGuard.fetcher). */
  readonly fetch: OutboundFetch;
  readonly timeoutMs: number;
  /** The hub's clock; Date.now by default. */
  readonly now?: () => number;
}

interface RawAnswer {
  readonly status: number;
  readonly body: XmlElement | undefined;
  readonly fault: XmlElement | undefined;
  readonly challenges: readonly Challenge[];
  readonly date: number | undefined;
}

export class OnvifClient {
  readonly #options: OnvifClientOptions;
  readonly #origin: URL;
  #authentication: OnvifAuthentication = 'ws-username-token';
  #challenges: readonly Challenge[] = [];
  /** The camera's clock minus ours, in ms. */
  #offsetMs = 0;

  constructor(options: OnvifClientOptions) {
    this.#options = options;
    this.#origin = new URL(options.xaddr);
  }

  get deviceUrl(): string {
    return this.#options.xaddr;
  }

  /** The camera's clock minus the hub's (ms), as GetSystemDateAndTime told it. */
  get clockOffsetMs(): number {
    return this.#offsetMs;
  }

  get authentication(): OnvifAuthentication {
    return this.#authentication;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** The camera's time now, by our clock and the offset. */
  cameraNow(): number {
    return this.#now() + this.#offsetMs;
  }

  /**
   * A service address the camera reported, moved onto the configured xaddr's scheme, host and port: cameras behind
   * NAT or port forwarding report addresses the hub cannot reach. Keeps the path (and query).
   */
  reachable(reported: string | undefined, fallbackPath: string): string {
    let path = fallbackPath;
    if (reported !== undefined && reported !== '') {
      try {
        const url = new URL(reported);
        path = `${url.pathname}${url.search}`;
      } catch {
        // Not a URL: the fallback path.
      }
    }
    return new URL(path, this.#origin).href;
  }

  /**
   * Reads the camera's clock and keeps its offset from ours: without credentials first; when the camera refuses,
   * with them, the offset first seeded from the refusal's HTTP Date header (the camera's own clock).
   */
  async synchronizeClock(): Promise<void> {
    const operation = 'GetSystemDateAndTime';
    const body = '<tds:GetSystemDateAndTime/>';
    const sentAt = this.#now();
    let answer: XmlElement;
    try {
      answer = await this.call(this.deviceUrl, operation, body, { authenticate: false });
    } catch (error) {
      if (!(error instanceof OnvifRefusal)) throw error;
      if (error.date !== undefined) this.#offsetMs = error.date - this.#now();
      try {
        answer = await this.call(this.deviceUrl, operation, body);
      } catch (retry) {
        if (retry instanceof OnvifError)
          throw new OnvifError(
            operation,
            `refused without credentials (${error.answer}), and with them: ${retry.answer}`,
          );
        throw retry;
      }
    }
    const receivedAt = this.#now();
    const camera = dateTimeOf(descendant(answer, 'UTCDateTime'));
    if (camera !== undefined) this.#offsetMs = camera - Math.round((sentAt + receivedAt) / 2);
  }

  /**
   * One SOAP request; resolves with the Body's first element. Throws {@link OnvifError} naming the operation and
   * the camera's answer (a fault, an HTTP status, no answer); without credentials, a refusal is an
   * {@link OnvifRefusal} (an OnvifError) that carries the answer's Date.
   */
  async call(url: string, operation: string, body: string, options: CallOptions = {}): Promise<XmlElement> {
    const authenticate = options.authenticate ?? true;
    const tried = new Set<OnvifAuthentication>();
    let renewedNonce = false;
    for (;;) {
      const mode = authenticate ? this.#authentication : undefined;
      if (mode !== undefined) tried.add(mode);
      const answer = await this.#post(url, operation, body, mode, options);
      if (answer.status >= 200 && answer.status < 300 && answer.fault === undefined) {
        const result = answer.body?.children[0];
        if (result === undefined)
          throw new OnvifError(operation, `HTTP ${answer.status} with an empty SOAP Body`);
        return result;
      }
      const described =
        answer.fault === undefined
          ? `HTTP ${answer.status}`
          : `HTTP ${answer.status}, ${faultText(answer.fault)}`;
      if (!authenticate) throw new OnvifRefusal(operation, described, answer.date);
      // The other scheme, once: a 401 with a Digest challenge asks for HTTP Digest, a NotAuthorized fault for the
      // token. In HTTP Digest, a new nonce (ours went stale, or the camera allows each one once) is tried once more.
      const digestOffered =
        answer.status === 401 && answer.challenges.some((challenge) => challenge.scheme === 'digest');
      if (digestOffered && !tried.has('http-digest')) {
        this.#authentication = 'http-digest';
        this.#challenges = answer.challenges;
        continue;
      }
      if (digestOffered && mode === 'http-digest' && !renewedNonce && this.#newNonce(answer.challenges)) {
        renewedNonce = true;
        this.#challenges = answer.challenges;
        continue;
      }
      if ((answer.status === 401 || isNotAuthorized(answer.fault)) && !tried.has('ws-username-token')) {
        this.#authentication = 'ws-username-token';
        continue;
      }
      throw new OnvifError(operation, described);
    }
  }

  /** Whether the camera's challenge carries another nonce than the one we answered. */
  #newNonce(challenges: readonly Challenge[]): boolean {
    const nonceOf = (list: readonly Challenge[]) =>
      list.find((challenge) => challenge.scheme === 'digest')?.params.get('nonce');
    return nonceOf(challenges) !== nonceOf(this.#challenges);
  }

  async #post(
    url: string,
    operation: string,
    body: string,
    mode: OnvifAuthentication | undefined,
    options: CallOptions,
  ): Promise<RawAnswer> {
    const headers: Record<string, string> = {
      'content-type': `application/soap+xml; charset=utf-8${options.action === undefined ? '' : `; action="${options.action}"`}`,
    };
    if (mode === 'http-digest') {
      try {
        headers.authorization = authorize(
          this.#challenges,
          'POST',
          new URL(url),
          this.#options.username,
          this.#options.password,
        );
      } catch (error) {
        throw new OnvifError(operation, (error as Error).message);
      }
    }
    const envelope = this.#envelope(url, body, mode === 'ws-username-token', options.action);
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let response: Response;
    try {
      response = await this.#options.fetch(url, { method: 'POST', headers, body: envelope, signal });
    } catch (error) {
      throw new OnvifError(operation, noAnswer(error, timeout, timeoutMs));
    }
    let text: string;
    try {
      text = (await readLimited(response, maxAnswerBytes, signal, timeout, timeoutMs)).toString('utf8');
    } catch (error) {
      throw new OnvifError(operation, `HTTP ${response.status}, ${(error as Error).message}`);
    }
    const date = Date.parse(response.headers.get('date') ?? '');
    const challenges = parseChallenges(response.headers.get('www-authenticate') ?? '');
    let document: XmlElement | undefined;
    if (text.trim() !== '') {
      try {
        document = parseXml(text);
      } catch (error) {
        if (response.ok)
          throw new OnvifError(
            operation,
            `HTTP ${response.status} with unreadable XML: ${(error as XmlError).message}`,
          );
      }
    }
    const soapBody = document?.name === 'Envelope' ? child(document, 'Body') : undefined;
    const fault = child(soapBody, 'Fault');
    return {
      status: response.status,
      body: soapBody,
      fault,
      challenges,
      date: Number.isNaN(date) ? undefined : date,
    };
  }

  #envelope(url: string, body: string, token: boolean, action: string | undefined): string {
    const declarations = Object.entries(soapNamespaces)
      .map(([prefix, uri]) => ` xmlns:${prefix}="${uri}"`)
      .join('');
    const addressing =
      action === undefined
        ? ''
        : `<wsa:Action>${escapeXml(action)}</wsa:Action><wsa:To>${escapeXml(url)}</wsa:To>`;
    const header = addressing + (token ? this.#usernameToken() : '');
    return (
      `<?xml version="1.0" encoding="UTF-8"?><s:Envelope${declarations}>` +
      (header === '' ? '' : `<s:Header>${header}</s:Header>`) +
      `<s:Body>${body}</s:Body></s:Envelope>`
    );
  }

  /** WS-Security UsernameToken with PasswordDigest = Base64(SHA-1(nonce + created + password)), Created in camera time. */
  #usernameToken(): string {
    const nonce = randomBytes(16);
    // Whole seconds: some firmware refuses fractional seconds in Created.
    const created = new Date(this.cameraNow()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const digest = createHash('sha1')
      .update(
        Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(this.#options.password, 'utf8')]),
      )
      .digest('base64');
    return (
      '<wsse:Security s:mustUnderstand="1"><wsse:UsernameToken>' +
      `<wsse:Username>${escapeXml(this.#options.username)}</wsse:Username>` +
      `<wsse:Password Type="${passwordDigestType}">${digest}</wsse:Password>` +
      `<wsse:Nonce EncodingType="${base64Encoding}">${nonce.toString('base64')}</wsse:Nonce>` +
      `<wsu:Created>${created}</wsu:Created>` +
      '</wsse:UsernameToken></wsse:Security>'
    );
  }
}

/** A refusal of a request sent without credentials, with the camera's clock from its HTTP Date header. */
export class OnvifRefusal extends OnvifError {
  constructor(
    operation: string,
    answer: string,
    readonly date: number | undefined,
  ) {
    super(operation, answer);
  }
}

/** No answer: why, in words that name no credential. */
function noAnswer(error: unknown, timeout: AbortSignal, timeoutMs: number): string {
  if (timeout.aborted) return `no answer within ${timeoutMs} ms`;
  if (error instanceof OutboundRefused) return `refused by network.outbound: ${error.message}`;
  if (error instanceof DigestFetchError) return error.message;
  if ((error as Error).name === 'AbortError') return 'aborted';
  const cause = (error as { cause?: { code?: string; message?: string }; code?: string }).cause;
  const code = cause?.code ?? (error as { code?: string }).code;
  return `no answer (${code ?? cause?.message ?? (error as Error).message})`;
}
