import { describe, expect, it } from 'vitest';
import { hashPassword, isPasswordHash, verifyPassword } from '../../src/auth/passwords.ts';

describe('password hashes (scrypt, salted, parameters kept with the hash)', () => {
  it('verifies the password it was made from and no other, with a salt of its own each time', async () => {
    const first = await hashPassword('correct horse battery');
    const second = await hashPassword('correct horse battery');
    expect(first).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(second).not.toBe(first);
    expect(await verifyPassword('correct horse battery', first)).toBe(true);
    expect(await verifyPassword('correct horse batterY', first)).toBe(false);
  });

  it('verifies a hash of other parameters with its own, and refuses parameters that would cost the hub too much', async () => {
    const cheaper = await hashPassword('a password', { N: 2 ** 12, r: 8, p: 1 });
    expect(cheaper.startsWith('scrypt$4096$8$1$')).toBe(true);
    expect(await verifyPassword('a password', cheaper)).toBe(true);
    const [, , , , salt, key] = cheaper.split('$');
    for (const costly of [
      `scrypt$${2 ** 22}$8$1$${salt}$${key}`,
      `scrypt$4096$64$1$${salt}$${key}`,
      `scrypt$4095$8$1$${salt}$${key}`,
    ]) {
      expect(isPasswordHash(costly)).toBe(false);
      expect(await verifyPassword('a password', costly)).toBe(false);
    }
  });

  it('answers false, after as long a check, when there is no hash (an unknown user)', async () => {
    expect(await verifyPassword('anything at all', undefined)).toBe(false);
    expect(await verifyPassword('anything at all', null)).toBe(false);
    expect(await verifyPassword('anything at all', 'plain-text-is-not-a-hash')).toBe(false);
  });
});
