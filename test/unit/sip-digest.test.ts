import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/net/digest-fetch.ts';
import {
  authorizationFor,
  type DigestCredentials,
  digestChallenge,
  NonceIssuer,
  readDigestCredentials,
  verifyDigest,
} from '../../src/net/sip/sip-digest.ts';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('verifyDigest', () => {
  it('RFC 2617 §3.5 example (MD5, qop=auth): the RFC response is accepted', () => {
    const credentials: DigestCredentials = {
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      response: '6629fae49393a05397450978507c4ef1',
    };
    expect(verifyDigest(credentials, 'GET', 'Circle Of Life')).toBe(true);
    expect(
      verifyDigest({ ...credentials, response: credentials.response.toUpperCase() }, 'GET', 'Circle Of Life'),
    ).toBe(true);
    expect(verifyDigest(credentials, 'GET', 'Circle of Life')).toBe(false);
    expect(verifyDigest(credentials, 'POST', 'Circle Of Life')).toBe(false);
    expect(verifyDigest({ ...credentials, nc: '00000002' }, 'GET', 'Circle Of Life')).toBe(false);
  });

  it('a GB/T 28181 REGISTER without qop (RFC 2069 form), computed here independently', () => {
    const fields = {
      username: '34020000001320000001',
      realm: '3402000000',
      nonce: '9bd055',
      uri: 'sip:34020000002000000001@3402000000',
    };
    const ha1 = md5(`${fields.username}:${fields.realm}:12345678`);
    const ha2 = md5(`REGISTER:${fields.uri}`);
    const response = md5(`${ha1}:${fields.nonce}:${ha2}`);
    expect(verifyDigest({ ...fields, response, algorithm: 'MD5' }, 'REGISTER', '12345678')).toBe(true);
    expect(verifyDigest({ ...fields, response }, 'REGISTER', '12345678')).toBe(true);
    expect(verifyDigest({ ...fields, response }, 'MESSAGE', '12345678')).toBe(false);
    expect(verifyDigest({ ...fields, response: response.slice(1) }, 'REGISTER', '12345678')).toBe(false);
    expect(verifyDigest({ ...fields, response: '' }, 'REGISTER', '12345678')).toBe(false);
  });

  it('SHA-256 with qop=auth; unsupported algorithms and qops are refused', () => {
    const fields = { username: 'dev', realm: 'r', nonce: 'n', uri: 'sip:x@y', nc: '0000000a', cnonce: 'c' };
    const ha1 = sha256('dev:r:pw');
    const ha2 = sha256('MESSAGE:sip:x@y');
    const response = sha256(`${ha1}:n:0000000a:c:auth:${ha2}`);
    expect(verifyDigest({ ...fields, response, algorithm: 'SHA-256', qop: 'auth' }, 'MESSAGE', 'pw')).toBe(
      true,
    );
    expect(verifyDigest({ ...fields, response, algorithm: 'MD5', qop: 'auth' }, 'MESSAGE', 'pw')).toBe(false);
    expect(verifyDigest({ ...fields, response, algorithm: 'SHA-512', qop: 'auth' }, 'MESSAGE', 'pw')).toBe(
      false,
    );
    expect(
      verifyDigest({ ...fields, response, algorithm: 'SHA-256', qop: 'auth-int' }, 'MESSAGE', 'pw'),
    ).toBe(false);
  });
});

describe('readDigestCredentials', () => {
  it('reads an Authorization header as a device sends it', () => {
    const header =
      'Digest username="34020000001320000001", realm="3402000000", nonce="abc", ' +
      'uri="sip:34020000002000000001@3402000000", response="0123456789abcdef0123456789abcdef", algorithm=MD5';
    expect(readDigestCredentials(header)).toEqual({
      username: '34020000001320000001',
      realm: '3402000000',
      nonce: 'abc',
      uri: 'sip:34020000002000000001@3402000000',
      response: '0123456789abcdef0123456789abcdef',
      algorithm: 'MD5',
    });
  });

  it('refuses other schemes and incomplete credentials', () => {
    expect(readDigestCredentials('Basic dXNlcjpwdw==')).toBeUndefined();
    expect(readDigestCredentials('Digest username="a", realm="r", nonce="n", uri="u"')).toBeUndefined();
    expect(readDigestCredentials('')).toBeUndefined();
  });
});

describe('NonceIssuer', () => {
  it('issues nonces it recognises as fresh, then stale after their lifetime', () => {
    let now = 1_700_000_000_000;
    const issuer = new NonceIssuer({ lifetimeMs: 60_000, now: () => now });
    const nonce = issuer.issue();
    expect(nonce).toMatch(/^[0-9a-f]+$/);
    expect(issuer.check(nonce)).toBe('fresh');
    now += 59_000;
    expect(issuer.check(nonce)).toBe('fresh');
    now += 2_000;
    expect(issuer.check(nonce)).toBe('stale');
  });

  it('recognises a nonce only for the scope (the address) it was issued to', () => {
    const issuer = new NonceIssuer();
    const nonce = issuer.issue('192.0.2.10');
    expect(issuer.check(nonce, '192.0.2.10')).toBe('fresh');
    expect(issuer.check(nonce, '192.0.2.11')).toBe('invalid');
    expect(issuer.check(nonce)).toBe('invalid');
  });

  it('calls forged, altered, foreign and future nonces invalid', () => {
    let now = 1_700_000_000_000;
    const issuer = new NonceIssuer({ now: () => now });
    const nonce = issuer.issue();
    const flipped = `${nonce.slice(0, -1)}${nonce.endsWith('0') ? '1' : '0'}`;
    expect(issuer.check(flipped)).toBe('invalid');
    // Claiming a later issue time with the old MAC.
    expect(issuer.check(`${(now + 1000).toString(16).padStart(12, '0')}${nonce.slice(12)}`)).toBe('invalid');
    expect(issuer.check('not a nonce')).toBe('invalid');
    expect(new NonceIssuer({ now: () => now }).check(nonce)).toBe('invalid');
    now -= 60_000;
    expect(issuer.check(nonce)).toBe('invalid');
  });
});

describe('challenge and client authorization', () => {
  it('digestChallenge writes a challenge authorizationFor answers, and the server verifies it (MD5, no qop)', () => {
    const issuer = new NonceIssuer();
    const nonce = issuer.issue();
    const challenge = digestChallenge('3402000000', nonce);
    expect(challenge).toBe(`Digest realm="3402000000", nonce="${nonce}", algorithm=MD5`);
    const request = { method: 'REGISTER', uri: 'sip:34020000002000000001@3402000000' };
    const authorization = authorizationFor(challenge, request, {
      username: '34020000001320000001',
      password: 'pw',
    });
    const credentials = readDigestCredentials(authorization as string) as DigestCredentials;
    expect(credentials.qop).toBeUndefined();
    expect(issuer.check(credentials.nonce)).toBe('fresh');
    expect(credentials.response).toBe(
      md5(`${md5('34020000001320000001:3402000000:pw')}:${nonce}:${md5(`REGISTER:${request.uri}`)}`),
    );
    expect(verifyDigest(credentials, 'REGISTER', 'pw')).toBe(true);
    expect(verifyDigest(credentials, 'REGISTER', 'other')).toBe(false);
  });

  it('answers qop=auth with nc and cnonce, SHA-256 preferred, opaque echoed; stale=true is written', () => {
    const challenge = `${digestChallenge('r', 'n1', { qop: true })}, ${digestChallenge('r', 'n2', {
      qop: true,
      algorithm: 'SHA-256',
      stale: true,
    })}, opaque="op"`;
    expect(parseChallenges(challenge).map((offer) => offer.params.get('stale'))).toEqual([undefined, 'true']);
    const authorization = authorizationFor(
      challenge,
      { method: 'MESSAGE', uri: 'sip:x@y' },
      { username: 'u', password: 'p' },
      3,
    );
    const credentials = readDigestCredentials(authorization as string) as DigestCredentials;
    expect(credentials).toMatchObject({ algorithm: 'SHA-256', nonce: 'n2', qop: 'auth', nc: '00000003' });
    expect(authorization).toContain('opaque="op"');
    const ha1 = sha256('u:r:p');
    const ha2 = sha256('MESSAGE:sip:x@y');
    expect(credentials.response).toBe(sha256(`${ha1}:n2:00000003:${credentials.cnonce}:auth:${ha2}`));
  });

  it('gives nothing for a challenge it cannot answer', () => {
    const login = { username: 'u', password: 'p' };
    const request = { method: 'REGISTER', uri: 'sip:x' };
    expect(authorizationFor('Basic realm="x"', request, login)).toBeUndefined();
    expect(authorizationFor('Digest realm="x", nonce="n", qop="auth-int"', request, login)).toBeUndefined();
    expect(
      authorizationFor('Digest realm="x", nonce="n", algorithm=SHA-512', request, login),
    ).toBeUndefined();
  });
});
