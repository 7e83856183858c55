import { createHash, randomBytes } from 'node:crypto';
import { type OutboundFetch, OutboundRefused } from './outbound-address.ts';

/**
 * An HTTP GET with the authentication IP cameras ask for: Digest (RFC 7616: MD5, MD5-sess, SHA-256,
 * SHA-256-sess; qop=auth, or RFC 2069's no-qop that old firmware still sends), or Basic (RFC 7617) when that is
 * all the camera offers. Used for ONVIF snapshot URIs, which ONVIF Profile S lets a camera protect either way.
 */

export interface DigestFetchOptions {
  readonly username: string;
  readonly password: string;
  /** For the whole exchange, both requests and the body. */
  readonly timeoutMs?: number;
  /** A larger body is refused (a snapshot is tens to hundreds of KiB). */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  /**
   * The HTTP client: the hub passes its outbound guard's (OutboundGuard.fetcher('snapshot')), which checks each
   * request's address against network.outbound and connects to the checked address; global fetch otherwise.
   */
  readonly fetch?: OutboundFetch;
}

export interface FetchedBody {
  readonly bytes: Buffer;
  /** The media type the server gave, parameters removed; application/octet-stream when it gave none. */
  readonly contentType: string;
}

export type DigestFetchErrorKind =
  | 'unauthorized'
  | 'unsupported'
  | 'http'
  | 'too_large'
  | 'timeout'
  | 'aborted'
  | 'network'
  | 'refused';

/** Why a fetch failed. Messages never carry the URL's credentials or the password. */
export class DigestFetchError extends Error {
  constructor(
    readonly kind: DigestFetchErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DigestFetchError';
  }
}

export const defaultMaxBytes = 10 * 1024 * 1024;
const defaultTimeoutMs = 10_000;

export interface Challenge {
  readonly scheme: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Digest algorithms by the name a challenge gives them [RFC 7616 §3.3], each with its hash. */
const algorithms: Record<string, { hash: 'md5' | 'sha256'; session: boolean }> = {
  MD5: { hash: 'md5', session: false },
  'MD5-SESS': { hash: 'md5', session: true },
  'SHA-256': { hash: 'sha256', session: false },
  'SHA-256-SESS': { hash: 'sha256', session: true },
};

/** Of several offers, the strongest first. */
const preference = ['SHA-256', 'SHA-256-SESS', 'MD5', 'MD5-SESS'];

/** A request to a device's HTTP API beyond a GET: a command (PUT, POST) with its body. */
export interface DeviceRequest {
  readonly method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Resolve with an error answer (4xx, 5xx other than 401) instead of throwing, its body unread: ISAPI and CGI
   * commands explain a refusal in the body (a ResponseStatus), which the caller reports.
   */
  readonly answerErrors?: boolean;
}

/** GETs `url`, answering a 401's Digest or Basic challenge once with the credentials, and reads the whole body. */
export async function digestFetch(url: string, options: DigestFetchOptions): Promise<FetchedBody> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  const response = await authenticatedRequest(url, { ...options, signal });
  const bytes = await readLimited(response, options.maxBytes ?? defaultMaxBytes, signal, timeout, timeoutMs);
  const contentType =
    response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() || 'application/octet-stream';
  return { bytes, contentType };
}

/**
 * Sends `request` to `url`, answering a 401's Digest or Basic challenge (and a stale nonce's second one), and
 * resolves with the 2xx response, its body not yet read: an event stream (Hikvision's alertStream, Dahua's
 * eventManager) is read as it arrives. `timeoutMs` bounds the wait for each response's head; `signal` the whole
 * exchange, body included (a stream's body may last for hours).
 */
export async function authenticatedRequest(
  url: string,
  options: DigestFetchOptions,
  request: DeviceRequest = {},
): Promise<Response> {
  const target = new URL(url);
  // fetch() refuses URLs with credentials; some cameras put them there, so take them as a fallback.
  const username = options.username || decodeURIComponent(target.username);
  const password = options.password || decodeURIComponent(target.password);
  target.username = '';
  target.password = '';
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const client: OutboundFetch = options.fetch ?? fetch;
  const method = request.method ?? 'GET';
  const send = async (authorization?: string): Promise<Response> => {
    const headers: Record<string, string> = { ...request.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    const head = new AbortController();
    const timer = setTimeout(
      () => head.abort(new DOMException('no answer in time', 'TimeoutError')),
      timeoutMs,
    );
    const signal =
      options.signal === undefined ? head.signal : AbortSignal.any([head.signal, options.signal]);
    try {
      return await client(target, {
        method,
        redirect: 'error',
        signal,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      });
    } catch (error) {
      if (error instanceof OutboundRefused) throw new DigestFetchError('refused', error.message);
      throw failure(error, signal, head.signal, timeoutMs);
    } finally {
      // The head has arrived (or failed): from here only the caller's signal ends the body.
      clearTimeout(timer);
    }
  };
  const answer = (challenges: readonly Challenge[]): string =>
    authorize(challenges, method, target, username, password);

  let response = await send();
  if (response.status === 401) {
    const challenges = parseChallenges(response.headers.get('www-authenticate') ?? '');
    await response.body?.cancel();
    response = await send(answer(challenges));
  }
  if (response.status === 401) {
    // A nonce that went stale between the two requests (RFC 7616 §3.3, stale=true) is answered once more.
    const challenges = parseChallenges(response.headers.get('www-authenticate') ?? '');
    if (
      challenges.some(
        (challenge) => challenge.scheme === 'digest' && challenge.params.get('stale') === 'true',
      )
    ) {
      await response.body?.cancel();
      response = await send(answer(challenges));
    }
  }
  if (response.status === 401) {
    await response.body?.cancel();
    throw new DigestFetchError('unauthorized', 'the device refused the credentials (HTTP 401)', 401);
  }
  if (!response.ok && request.answerErrors !== true) {
    await response.body?.cancel();
    throw new DigestFetchError('http', `the device answered HTTP ${response.status}`, response.status);
  }
  return response;
}

/** The Authorization header for the best challenge offered, for a request of `method` to `url`. */
export function authorize(
  challenges: readonly Challenge[],
  method: string,
  url: URL,
  username: string,
  password: string,
): string {
  const digests = challenges
    .filter((challenge) => challenge.scheme === 'digest')
    .map((challenge) => ({
      challenge,
      algorithm: (challenge.params.get('algorithm') ?? 'MD5').toUpperCase(),
    }))
    .filter(({ algorithm }) => algorithm in algorithms)
    .sort((a, b) => preference.indexOf(a.algorithm) - preference.indexOf(b.algorithm));
  const best = digests[0];
  if (best !== undefined)
    return digestAuthorization(best.challenge, best.algorithm, method, url, username, password);
  if (challenges.some((challenge) => challenge.scheme === 'basic')) {
    return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }
  const offered = challenges.map((challenge) => challenge.scheme).join(', ') || 'none';
  throw new DigestFetchError(
    'unsupported',
    `the camera asks for an authentication scheme not supported: ${offered}`,
  );
}

/** RFC 7616 §3.4: the response to a Digest challenge, for a request of `method` to `url`. */
function digestAuthorization(
  challenge: Challenge,
  algorithmName: string,
  method: string,
  url: URL,
  username: string,
  password: string,
): string {
  const algorithm = algorithms[algorithmName] as { hash: 'md5' | 'sha256'; session: boolean };
  const hash = (text: string): string => createHash(algorithm.hash).update(text, 'utf8').digest('hex');
  const realm = challenge.params.get('realm') ?? '';
  const nonce = challenge.params.get('nonce') ?? '';
  const opaque = challenge.params.get('opaque');
  const qops = (challenge.params.get('qop') ?? '').split(',').map((qop) => qop.trim().toLowerCase());
  const hasQop = challenge.params.has('qop');
  if (hasQop && !qops.includes('auth')) {
    throw new DigestFetchError(
      'unsupported',
      `the camera asks for qop=${challenge.params.get('qop')}, not auth`,
    );
  }
  const uri = `${url.pathname}${url.search}`;
  const cnonce = randomBytes(16).toString('hex');
  const nc = '00000001';
  let ha1 = hash(`${username}:${realm}:${password}`);
  if (algorithm.session) ha1 = hash(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = hash(`${method}:${uri}`);
  const response = hasQop
    ? hash(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)
    : hash(`${ha1}:${nonce}:${ha2}`);
  const fields = [
    `username=${quoted(username)}`,
    `realm=${quoted(realm)}`,
    `nonce=${quoted(nonce)}`,
    `uri=${quoted(uri)}`,
    `algorithm=${challenge.params.has('algorithm') ? (challenge.params.get('algorithm') as string) : 'MD5'}`,
    `response=${quoted(response)}`,
    ...(hasQop ? ['qop=auth', `nc=${nc}`, `cnonce=${quoted(cnonce)}`] : []),
    ...(opaque === undefined ? [] : [`opaque=${quoted(opaque)}`]),
  ];
  return `Digest ${fields.join(', ')}`;
}

function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

const tokenPattern = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

/**
 * RFC 9110 §11.6.1: WWW-Authenticate lists challenges, each a scheme and its comma-separated parameters; several
 * headers arrive joined with commas. A token followed by `=` is a parameter, otherwise it starts a new challenge.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Map<string, string> }[] = [];
  let at = 0;
  const skip = (pattern: RegExp): void => {
    while (at < header.length && pattern.test(header.charAt(at))) at++;
  };
  const token = (): string | undefined => {
    tokenPattern.lastIndex = at;
    const match = tokenPattern.exec(header);
    if (match === null) return undefined;
    at = tokenPattern.lastIndex;
    return match[0];
  };
  while (at < header.length) {
    skip(/[\s,]/);
    const name = token();
    if (name === undefined) {
      at++;
      continue;
    }
    skip(/\s/);
    const current = challenges.at(-1);
    if (header.charAt(at) !== '=' || current === undefined) {
      challenges.push({ scheme: name.toLowerCase(), params: new Map() });
      // A token68 (Negotiate, some Basic variants) may follow the scheme: it carries nothing we use.
      continue;
    }
    at++;
    skip(/\s/);
    let value: string;
    if (header.charAt(at) === '"') {
      value = '';
      at++;
      while (at < header.length && header.charAt(at) !== '"') {
        if (header.charAt(at) === '\\') at++;
        value += header.charAt(at);
        at++;
      }
      at++;
    } else {
      value = token() ?? '';
      // A token68's padding (`abc==`), or junk: keep what follows up to the next comma out of the way.
      while (at < header.length && header.charAt(at) !== ',') at++;
    }
    current.params.set(name.toLowerCase(), value);
  }
  return challenges;
}

/** The body, up to `maxBytes`: a declared or actual larger one is refused without reading it all. */
export async function readLimited(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
  timeout: AbortSignal,
  timeoutMs: number,
): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge(maxBytes);
  }
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof DigestFetchError) throw error;
    throw failure(error, signal, timeout, timeoutMs);
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(maxBytes: number): DigestFetchError {
  return new DigestFetchError('too_large', `the body is larger than ${maxBytes} bytes`);
}

/** A fetch failure as one of ours; the cause's message names an address at most, never credentials. */
function failure(
  error: unknown,
  signal: AbortSignal,
  timeout: AbortSignal,
  timeoutMs: number,
): DigestFetchError {
  const timedOut =
    timeout.aborted || (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
  if (timedOut) return new DigestFetchError('timeout', `no complete answer within ${timeoutMs} ms`);
  if (signal.aborted) return new DigestFetchError('aborted', 'fetch aborted');
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  return new DigestFetchError('network', `the camera could not be reached: ${reason}`);
}
