import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes: scrypt (RFC 7914, node:crypto), a salt of its own per password, its parameters stored with it so
 * they can be raised later without invalidating older hashes:
 *
 *     scrypt$<N>$<r>$<p>$<salt, base64url>$<derived key, base64url>
 *
 * e.g. `scrypt$32768$8$1$3q2-7w…$Xk1…`. N = 2^15, r = 8, p = 1 and a 32-byte key are OWASP's minimum for scrypt
 * (about 64 ms and 32 MiB on a current core); a hash with other parameters (within the bounds below) verifies with
 * its own.
 */
export const passwordHashPattern =
  /^scrypt\$\d{1,8}\$\d{1,3}\$\d{1,3}\$[A-Za-z0-9_-]{16,128}\$[A-Za-z0-9_-]{32,256}$/;

const defaults = { N: 2 ** 15, r: 8, p: 1 };
const keyLength = 32;
const saltLength = 16;

/** Passwords people choose: long enough to resist guessing past the lockout, short enough to hash cheaply. */
export const passwordBounds = { min: 10, max: 256 } as const;

interface Parsed {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Parameters a stored hash may ask for: a config or store hash cannot make one verification cost the hub a second. */
function parse(hash: string): Parsed | undefined {
  if (!passwordHashPattern.test(hash)) return undefined;
  const [, n, r, p, salt, key] = hash.split('$') as [string, string, string, string, string, string];
  const parsed = {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt, 'base64url'),
    key: Buffer.from(key, 'base64url'),
  };
  const powerOfTwo = parsed.N >= 2 ** 10 && parsed.N <= 2 ** 20 && (parsed.N & (parsed.N - 1)) === 0;
  if (!powerOfTwo || parsed.r < 1 || parsed.r > 32 || parsed.p < 1 || parsed.p > 16) return undefined;
  if (parsed.key.length < 16) return undefined;
  return parsed;
}

/** True when the text is a password hash this module can verify. */
export function isPasswordHash(hash: string): boolean {
  return parse(hash) !== undefined;
}

function derive(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  // Off the event loop (libuv's pool); maxmem: scrypt needs 128·N·r bytes, with room.
  const maxmem = 256 * (options.N as number) * (options.r as number) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem }, (error, key) =>
      error === null ? resolve(key) : reject(error),
    );
  });
}

export async function hashPassword(password: string, params = defaults): Promise<string> {
  const salt = randomBytes(saltLength);
  const key = await derive(password, salt, keyLength, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
}

/** A hash no password matches, of the default parameters: checked against for an unknown user, to take as long. */
let decoy: Promise<string> | undefined;

/**
 * True when the password is the hash's. Compared in constant time; an unknown user (`hash` undefined) is checked
 * against a decoy, so the answer takes as long whether the user exists or not.
 */
export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
  const parsed = hash == null ? undefined : parse(hash);
  if (parsed === undefined) {
    decoy ??= hashPassword(randomBytes(16).toString('hex'));
    const fake = parse(await decoy) as Parsed;
    await derive(password, fake.salt, fake.key.length, { N: fake.N, r: fake.r, p: fake.p });
    return false;
  }
  const key = await derive(password, parsed.salt, parsed.key.length, {
    N: parsed.N,
    r: parsed.r,
    p: parsed.p,
  });
  return timingSafeEqual(key, parsed.key);
}
