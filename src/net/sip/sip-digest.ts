import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseChallenges } from '../digest-fetch.ts';

/**
 * SIP Digest authentication (RFC 3261 §22.4, RFC 2617, RFC 8760 for SHA-256) as GB/T 28181 uses it: a device
 * REGISTERs, the server answers 401 with a challenge, the device REGISTERs again with its credentials. The server
 * side keeps no state per challenge: a nonce is the time it was issued and an HMAC of that time and of the scope it
 * was issued to (the sender's address) under a secret of this process, so any nonce we issued is recognised until
 * it grows stale, and only from where it was sent. A REGISTER captured on the wire thus cannot be replayed from
 * another address to move the device's registration there; from the same address it is bounded by the lifetime.
 */

const defaultLifetimeMs = 5 * 60_000;
/** A nonce dated this far ahead of our clock was not issued by us (a clock step back is tolerated up to it). */
const futureSkewMs = 5_000;

export class NonceIssuer {
  readonly #secret = randomBytes(32);
  readonly #lifetimeMs: number;
  readonly #now: () => number;

  constructor(options: { lifetimeMs?: number; now?: () => number } = {}) {
    this.#lifetimeMs = options.lifetimeMs ?? defaultLifetimeMs;
    this.#now = options.now ?? Date.now;
  }

  /** Hex only: some devices mishandle other characters in a nonce. `scope`: whom it is for (their address). */
  issue(scope = ''): string {
    const time = Math.max(0, Math.floor(this.#now())).toString(16).padStart(12, '0');
    return `${time}${this.#mac(time, scope)}`;
  }

  /** Whether we issued the nonce to this scope, and whether it is still fresh. */
  check(nonce: string, scope = ''): 'fresh' | 'stale' | 'invalid' {
    if (!/^[0-9a-f]{12}[0-9a-f]{32}$/.test(nonce)) return 'invalid';
    const time = nonce.slice(0, 12);
    if (!timingSafeEqual(Buffer.from(nonce.slice(12)), Buffer.from(this.#mac(time, scope)))) return 'invalid';
    const age = this.#now() - Number.parseInt(time, 16);
    if (age < -futureSkewMs) return 'invalid';
    return age > this.#lifetimeMs ? 'stale' : 'fresh';
  }

  #mac(time: string, scope: string): string {
    return createHmac('sha256', this.#secret).update(`${time}\u0000${scope}`).digest('hex').slice(0, 32);
  }
}

/** The WWW-Authenticate value of a 401: GB/T 28181's plain MD5 without qop unless asked otherwise. */
export function digestChallenge(
  realm: string,
  nonce: string,
  options: { stale?: boolean; algorithm?: 'MD5' | 'SHA-256'; qop?: boolean } = {},
): string {
  const fields = [
    `realm=${quoted(realm)}`,
    `nonce=${quoted(nonce)}`,
    `algorithm=${options.algorithm ?? 'MD5'}`,
    ...(options.qop === true ? ['qop="auth"'] : []),
    ...(options.stale === true ? ['stale=true'] : []),
  ];
  return `Digest ${fields.join(', ')}`;
}

export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  readonly algorithm?: string;
  readonly qop?: string;
  readonly nc?: string;
  readonly cnonce?: string;
}

/** The credentials of an Authorization (or Proxy-Authorization) value; undefined when not Digest or incomplete. */
export function readDigestCredentials(authorization: string): DigestCredentials | undefined {
  const [challenge] = parseChallenges(authorization);
  if (challenge === undefined || challenge.scheme !== 'digest') return undefined;
  const { params } = challenge;
  const username = params.get('username');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const uri = params.get('uri');
  const response = params.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined)
    return undefined;
  if (response === undefined || response === '') return undefined;
  const optional = (name: 'algorithm' | 'qop' | 'nc' | 'cnonce') => {
    const value = params.get(name);
    return value === undefined ? {} : { [name]: value };
  };
  return {
    username,
    realm,
    nonce,
    uri,
    response,
    ...optional('algorithm'),
    ...optional('qop'),
    ...optional('nc'),
    ...optional('cnonce'),
  };
}

const hashes: Readonly<Record<string, 'md5' | 'sha256'>> = { MD5: 'md5', 'SHA-256': 'sha256' };

/** RFC 2617 §3.2.2.1 (qop=auth) and RFC 2069 (no qop): the expected response, or undefined when unsupported. */
function expectedResponse(
  fields: {
    username: string;
    realm: string;
    nonce: string;
    uri: string;
    algorithm?: string | undefined;
    qop?: string | undefined;
    nc?: string | undefined;
    cnonce?: string | undefined;
  },
  method: string,
  password: string,
): string | undefined {
  const algorithm = hashes[(fields.algorithm ?? 'MD5').toUpperCase()];
  if (algorithm === undefined) return undefined;
  const hash = (text: string): string => createHash(algorithm).update(text, 'utf8').digest('hex');
  const ha1 = hash(`${fields.username}:${fields.realm}:${password}`);
  const ha2 = hash(`${method}:${fields.uri}`);
  if (fields.qop === undefined) return hash(`${ha1}:${fields.nonce}:${ha2}`);
  if (fields.qop.toLowerCase() !== 'auth' || fields.nc === undefined || fields.cnonce === undefined)
    return undefined;
  return hash(`${ha1}:${fields.nonce}:${fields.nc}:${fields.cnonce}:auth:${ha2}`);
}

/**
 * Whether the credentials answer a request of `method` with `password`. Only the response is checked here: the
 * caller checks the nonce (NonceIssuer.check), the realm and the username against its own. Constant time.
 */
export function verifyDigest(credentials: DigestCredentials, method: string, password: string): boolean {
  const expected = expectedResponse(credentials, method, password);
  if (expected === undefined) return false;
  const given = Buffer.from(credentials.response.toLowerCase(), 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  // timingSafeEqual wants equal lengths; comparing against itself keeps the time the same when they differ.
  if (given.length !== wanted.length) {
    timingSafeEqual(wanted, wanted);
    return false;
  }
  return timingSafeEqual(given, wanted);
}

/**
 * The client side: the Authorization value answering a WWW-Authenticate (or Proxy-Authenticate) `challenge` for
 * a request; undefined when the challenge is not a Digest we can answer (MD5 or SHA-256, qop auth or none).
 * `nc` counts the requests made with the same nonce.
 */
export function authorizationFor(
  challenge: string,
  request: { method: string; uri: string },
  login: { username: string; password: string },
  nc = 1,
): string | undefined {
  const offers = parseChallenges(challenge)
    .filter((offer) => offer.scheme === 'digest')
    .filter((offer) => (offer.params.get('algorithm') ?? 'MD5').toUpperCase() in hashes)
    .sort(
      (a, b) =>
        Number((a.params.get('algorithm') ?? '').toUpperCase() !== 'SHA-256') -
        Number((b.params.get('algorithm') ?? '').toUpperCase() !== 'SHA-256'),
    );
  for (const offer of offers) {
    const qops = offer.params.has('qop')
      ? (offer.params.get('qop') as string).split(',').map((qop) => qop.trim().toLowerCase())
      : undefined;
    if (qops !== undefined && !qops.includes('auth')) continue;
    const realm = offer.params.get('realm') ?? '';
    const nonce = offer.params.get('nonce') ?? '';
    const algorithm = offer.params.get('algorithm');
    const opaque = offer.params.get('opaque');
    const count = nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    const fields = {
      username: login.username,
      realm,
      nonce,
      uri: request.uri,
      algorithm,
      ...(qops === undefined ? {} : { qop: 'auth', nc: count, cnonce }),
    };
    const response = expectedResponse(fields, request.method, login.password) as string;
    const parts = [
      `username=${quoted(login.username)}`,
      `realm=${quoted(realm)}`,
      `nonce=${quoted(nonce)}`,
      `uri=${quoted(request.uri)}`,
      `response=${quoted(response)}`,
      `algorithm=${algorithm ?? 'MD5'}`,
      ...(qops === undefined ? [] : ['qop=auth', `nc=${count}`, `cnonce=${quoted(cnonce)}`]),
      ...(opaque === undefined ? [] : [`opaque=${quoted(opaque)}`]),
    ];
    return `Digest ${parts.join(', ')}`;
  }
  return undefined;
}

function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}
