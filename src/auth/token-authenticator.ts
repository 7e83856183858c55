import { createHash, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Principal } from '../core/principal.ts';
import type { UserDescription } from '../core/user.ts';
import type { SessionRecord } from '../store/store.ts';
import { principalOf } from './principals.ts';
import type { Sessions } from './sessions.ts';

/** The SHA-256 digest (hex) an API token is held and looked up as. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Who the hub's users are now: the accounts (auth/accounts.ts), or the config's users alone. */
export interface UserDirectory {
  /** The principal of an enabled user; undefined for one unknown, disabled or removed. */
  principal(userId: string): Principal | undefined;
  /** The enabled user whose API token has this digest. */
  byTokenDigest(digest: string): Principal | undefined;
}

/** The config's users as they are: for a hub without accounts, and tests of a route on an app of its own. */
export function configDirectory(users: readonly UserDescription[]): UserDirectory {
  const byDigest = new Map(
    users.flatMap((user) => {
      const digest = user.token === undefined ? user.tokenDigest : tokenDigest(user.token);
      return digest === undefined ? [] : [[digest, principalOf(user)] as const];
    }),
  );
  const byUserId = new Map(users.map((user) => [user.id, principalOf(user)]));
  return { principal: (userId) => byUserId.get(userId), byTokenDigest: (digest) => byDigest.get(digest) };
}

export interface TokenAuthenticatorOptions {
  /** The config's users, when no directory is given. */
  readonly users?: readonly UserDescription[];
  readonly directory?: UserDirectory;
  /** Where JWTs' sessions live; without it no JWT is issued or accepted (API tokens only). */
  readonly sessions?: Sessions;
  /** Key of the HS256 JWTs the hub issues; a random one (JWTs die with the process) when not configured. */
  readonly jwtSecret?: string;
  readonly jwtTtlMinutes: number;
  /** The clock JWTs are issued and checked by (ms since the epoch); Date.now unless a test moves it. */
  readonly now?: () => number;
}

/** What the hub issues: a JWT, when it expires, and when its session ends (no refresh goes past that). */
export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: string;
  readonly sessionExpiresAt: string;
}

const issuer = 'gridhub';

/**
 * Bearer tokens → principals, for REST, Socket.IO and MQTT alike. Two kinds:
 *
 * - a user's API token (for machines), held only as a SHA-256 digest and looked up by the digest of what was
 *   presented (no prefix leaks through timing; a heap dump shows no token);
 * - a short-lived JWT (HS256) of a login session (`POST /api/auth/login`, or `POST /api/auth/token` with an API
 *   token). Its subject is the user id and its `sid` the session: it is accepted only while the session lasts
 *   (not revoked, not past its absolute end) and the user is enabled, and the user's role and scope are read
 *   afresh on every request. A JWT is refreshed within its session, never past the session's end.
 */
export class TokenAuthenticator {
  readonly #directory: UserDirectory;
  readonly #sessions: Sessions | undefined;
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;
  readonly #now: (() => number) | undefined;

  constructor(options: TokenAuthenticatorOptions) {
    this.#directory = options.directory ?? configDirectory(options.users ?? []);
    this.#sessions = options.sessions;
    this.#key =
      options.jwtSecret === undefined ? randomBytes(32) : new TextEncoder().encode(options.jwtSecret);
    this.#ttlSeconds = Math.round(options.jwtTtlMinutes * 60);
    this.#now = options.now;
  }

  /** A user's API token only: synchronous, for the MQTT broker's CONNECT. */
  authenticateApiToken(token: unknown): Principal | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return undefined;
    return this.#directory.byTokenDigest(tokenDigest(token));
  }

  /** An API token, or a JWT the hub issued whose session lasts. */
  async authenticate(token: unknown): Promise<Principal | undefined> {
    const principal = this.authenticateApiToken(token);
    if (principal !== undefined || typeof token !== 'string' || token.split('.').length !== 3)
      return principal;
    const sessions = this.#sessions;
    if (sessions === undefined) return undefined;
    let claims: { sub?: unknown; sid?: unknown };
    try {
      claims = (
        await jwtVerify(token, this.#key, {
          issuer,
          algorithms: ['HS256'],
          // jose reads the time itself unless told it.
          ...(this.#now === undefined ? {} : { currentDate: new Date(this.#now()) }),
        })
      ).payload;
    } catch {
      return undefined;
    }
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string') return undefined;
    const user = this.#directory.principal(claims.sub);
    if (user === undefined) return undefined;
    const session = await sessions.live(claims.sid, claims.sub);
    if (session === undefined) return undefined;
    return Object.freeze({ ...user, session: { id: session.id, expiresAt: session.expiresAt } });
  }

  /**
   * Whether a token that did not authenticate is a guess, to count toward the limits on guessing: anything but a JWT
   * the hub signed. One it signed but no longer takes (expired, its session ended, its user disabled) is what a
   * page left open overnight presents; counted, a centre's officers behind one address would lock it out. Asked of
   * failures only: the signature is checked again, whatever the expiry.
   */
  async isGuess(token: unknown): Promise<boolean> {
    if (typeof token !== 'string' || token.split('.').length !== 3) return true;
    try {
      await jwtVerify(token, this.#key, {
        issuer,
        algorithms: ['HS256'],
        clockTolerance: Number.MAX_SAFE_INTEGER,
      });
      return false;
    } catch {
      return true;
    }
  }

  /**
   * A JWT of the session: for a login, or a refresh (the caller's own session). It expires after the JWT lifetime
   * or at the session's end, whichever comes first.
   */
  async issue(principal: Principal, session: Pick<SessionRecord, 'id' | 'expiresAt'>): Promise<IssuedToken> {
    const now = Math.floor((this.#now ?? Date.now)() / 1000);
    const sessionEnd = Math.floor(Date.parse(session.expiresAt) / 1000);
    const expiresAt = Math.min(now + this.#ttlSeconds, sessionEnd);
    const token = await new SignJWT({ role: principal.role, sid: session.id })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(principal.userId)
      .setIssuer(issuer)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .sign(this.#key);
    return {
      token,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
      sessionExpiresAt: new Date(sessionEnd * 1000).toISOString(),
    };
  }
}
