import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** An account on a simulated device. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * HTTP Digest access authentication (RFC 7616 with MD5 and qop=auth), the way IP cameras guard their HTTP side: the
 * ONVIF camera's snapshot and RTSP, Hikvision's ISAPI, Dahua's CGI. Basic credentials are refused with a Digest challenge, as on Hikvision/Dahua firmware.
 *
 * The challenge is written `Digest realm="…", qop="auth", nonce="…", opaque="…", algorithm=MD5`, realm first and
 * with hex nonces: node-onvif's parser looks for the literal `Digest realm` and splits on `,` and `=`.
 */

const NONCE_LIFETIME_MS = 5 * 60_000;

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** Parses `Digest k=v, k="v, with comma", …` into its parameters. */
export function parseDigestHeader(header: string): Record<string, string> | undefined {
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const m of (match[1] ?? '').matchAll(/([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) {
    const key = (m[1] ?? '').toLowerCase();
    params[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return params;
}

/**
 * Broken authentication as some firmware has it, for the fault knob:
 * - `stale`: every answer, right or wrong, is refused as if its nonce had expired (a camera whose clock or nonce
 *   table is broken): a client retries once with the new nonce and is refused again;
 * - `malformed`: the challenge carries no nonce, so no client can compute a response.
 */
export type DigestFault = 'stale' | 'malformed';

export interface DigestGuardOptions {
  /**
   * Offer qop="auth" (RFC 2617/7616, what web servers on cameras send; the default) or the RFC 2069 form without
   * qop, opaque and algorithm, what Hikvision and Dahua RTSP servers send.
   */
  readonly qop?: boolean;
}

export class DigestGuard {
  readonly realm: string;
  readonly #qop: boolean;
  readonly #opaque = randomBytes(8).toString('hex');
  readonly #nonces = new Map<string, number>();

  constructor(realm: string, options: DigestGuardOptions = {}) {
    this.realm = realm;
    this.#qop = options.qop ?? true;
  }

  /** A fresh WWW-Authenticate challenge (a broken one with the `malformed` fault). */
  challenge(stale = false, fault?: DigestFault): string {
    if (fault === 'malformed') return `Digest realm="${this.realm}"`;
    const now = Date.now();
    for (const [nonce, issued] of this.#nonces)
      if (now - issued > NONCE_LIFETIME_MS) this.#nonces.delete(nonce);
    const nonce = randomBytes(16).toString('hex');
    this.#nonces.set(nonce, now);
    if (!this.#qop)
      return `Digest realm="${this.realm}", nonce="${nonce}", stale="${stale ? 'TRUE' : 'FALSE'}"`;
    return (
      `Digest realm="${this.realm}", qop="auth", nonce="${nonce}", opaque="${this.#opaque}", algorithm=MD5` +
      (stale ? ', stale=TRUE' : '')
    );
  }

  /**
   * Checks an Authorization header for this method and request URI.
   * 'stale' means right credentials on an expired nonce (the client retries with the new one).
   */
  verify(
    authorization: string | undefined,
    method: string,
    requestUri: string,
    account: Credentials,
  ): 'ok' | 'missing' | 'stale' | 'denied' {
    if (authorization === undefined) return 'missing';
    const p = parseDigestHeader(authorization);
    if (p === undefined) return 'missing';
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase();
    if (
      username !== account.username ||
      realm !== this.realm ||
      nonce === undefined ||
      response === undefined
    ) {
      return 'denied';
    }
    if (algorithm !== 'MD5' || uri !== requestUri) return 'denied';
    const ha1 = md5(`${username}:${realm}:${account.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected =
      qop === undefined
        ? md5(`${ha1}:${nonce}:${ha2}`)
        : md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    const given = Buffer.from(response.toLowerCase(), 'utf8');
    const wanted = Buffer.from(expected, 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return 'denied';
    const issued = this.#nonces.get(nonce);
    if (issued === undefined || Date.now() - issued > NONCE_LIFETIME_MS) return 'stale';
    return 'ok';
  }

  /** Forgets issued nonces (a reboot). */
  reset(): void {
    this.#nonces.clear();
  }
}
