import { createHash } from 'node:crypto';
import type { UserConfig } from '../config/schema.ts';
import type { Principal } from '../core/principal.ts';
import { principalOf } from './principals.ts';

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Bearer tokens → principals, for REST and the Socket.IO handshake alike. Tokens are held only as SHA-256
 * digests and looked up by the digest of what was presented, so no comparison leaks a token's prefix through
 * timing and a heap dump shows no token.
 */
export class TokenAuthenticator {
  readonly #byDigest: ReadonlyMap<string, Principal>;

  constructor(users: readonly UserConfig[]) {
    this.#byDigest = new Map(users.map((user) => [digest(user.token), principalOf(user)]));
  }

  authenticate(token: unknown): Principal | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return undefined;
    return this.#byDigest.get(digest(token));
  }
}
