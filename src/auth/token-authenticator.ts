import { createHash, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { UserConfig } from '../config/schema.ts';
import type { Principal } from '../core/principal.ts';
import { principalOf } from './principals.ts';

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface TokenAuthenticatorOptions {
  readonly users: readonly UserConfig[];
  /** Key of the HS256 JWTs the hub issues; a random one (JWTs die with the process) when not configured. */
  readonly jwtSecret?: string;
  readonly jwtTtlMinutes: number;
}

const issuer = 'gridhub';

/**
 * Bearer tokens → principals, for REST, Socket.IO and MQTT alike. Two kinds:
 *
 * - a user's API token from the config, held only as a SHA-256 digest and looked up by the digest of what was
 *   presented (no prefix leaks through timing; a heap dump shows no token);
 * - a short-lived JWT (HS256) the hub issues for an API token at `POST /api/auth/token`, so a browser session
 *   never keeps the long-lived token. Its subject is the user id; the user's role and scope are read from the
 *   config on every request, so removing a user from the config revokes their JWTs too.
 */
export class TokenAuthenticator {
  readonly #byDigest: ReadonlyMap<string, Principal>;
  readonly #byUserId: ReadonlyMap<string, Principal>;
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;

  constructor(options: TokenAuthenticatorOptions) {
    this.#byDigest = new Map(options.users.map((user) => [digest(user.token), principalOf(user)]));
    this.#byUserId = new Map(options.users.map((user) => [user.id, principalOf(user)]));
    this.#key =
      options.jwtSecret === undefined ? randomBytes(32) : new TextEncoder().encode(options.jwtSecret);
    this.#ttlSeconds = Math.round(options.jwtTtlMinutes * 60);
  }

  /** A user's API token only: synchronous, for the MQTT broker's CONNECT. */
  authenticateApiToken(token: unknown): Principal | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return undefined;
    return this.#byDigest.get(digest(token));
  }

  /** An API token or a JWT the hub issued. */
  async authenticate(token: unknown): Promise<Principal | undefined> {
    const principal = this.authenticateApiToken(token);
    if (principal !== undefined || typeof token !== 'string' || token.split('.').length !== 3)
      return principal;
    try {
      const { payload } = await jwtVerify(token, this.#key, { issuer, algorithms: ['HS256'] });
      return typeof payload.sub === 'string' ? this.#byUserId.get(payload.sub) : undefined;
    } catch {
      return undefined;
    }
  }

  async issue(principal: Principal): Promise<{ token: string; expiresAt: string }> {
    const expiresAt = Math.floor(Date.now() / 1000) + this.#ttlSeconds;
    const token = await new SignJWT({ role: principal.role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(principal.userId)
      .setIssuer(issuer)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(this.#key);
    return { token, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }
}
