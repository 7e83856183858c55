import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestFetchError, digestFetch, parseChallenges } from '../../src/net/digest-fetch.ts';

type Algorithm = 'MD5' | 'MD5-sess' | 'SHA-256';

/** How the camera below protects a path. */
interface Protection {
  readonly scheme: 'digest' | 'basic';
  /** Digest challenges offered, in order (one WWW-Authenticate header each). */
  readonly algorithms?: readonly Algorithm[];
  /** Digest with qop=auth (RFC 7616), or without (RFC 2069). */
  readonly qop?: boolean;
  /** Answers the first correct response once with 401 stale=true and a fresh nonce. */
  readonly staleOnce?: boolean;
}

const username = 'admin';
const password = 'camera-pass-123';
const realm = 'IP Camera(C6512)';
const snapshot = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  randomBytes(2000),
  Buffer.from([0xff, 0xd9]),
]);

/** The test's own reading of an Authorization header's parameters, independent of the code under test. */
function authParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of header.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[match[1] as string] = (match[2] ?? match[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return params;
}

function hashOf(algorithm: string, text: string): string {
  return createHash(algorithm.startsWith('SHA-256') ? 'sha256' : 'md5')
    .update(text)
    .digest('hex');
}

/** A loopback HTTP "camera" implementing Digest and Basic by the RFCs, recording what it was sent. */
class CameraServer {
  readonly requests: { url: string; authorization: string | undefined }[] = [];
  readonly #nonces = new Set<string>();
  readonly #staleServed = new Set<string>();
  #server: Server | undefined;
  port = 0;

  constructor(
    readonly routes: Record<string, { protection: Protection; serve: (res: ServerResponse) => void }>,
  ) {}

  async start(): Promise<void> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const route = this.routes[req.url ?? ''];
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    const verdict = this.#check(route.protection, req);
    if (verdict !== 'ok') {
      this.#challenge(route.protection, res, verdict === 'stale');
      return;
    }
    route.serve(res);
  }

  #check(protection: Protection, req: IncomingMessage): 'ok' | 'refused' | 'stale' {
    const header = req.headers.authorization;
    if (header === undefined) return 'refused';
    if (protection.scheme === 'basic') {
      const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      return header === expected ? 'ok' : 'refused';
    }
    if (!header.startsWith('Digest ')) return 'refused';
    const params = authParams(header.slice(7));
    const algorithm = params.algorithm ?? 'MD5';
    if (!(protection.algorithms ?? ['MD5']).includes(algorithm as Algorithm)) return 'refused';
    if (params.username !== username || params.realm !== realm || params.uri !== req.url) return 'refused';
    const nonce = params.nonce ?? '';
    if (!this.#nonces.has(nonce)) return 'refused';
    let ha1 = hashOf(algorithm, `${username}:${realm}:${password}`);
    if (algorithm.endsWith('-sess')) ha1 = hashOf(algorithm, `${ha1}:${nonce}:${params.cnonce}`);
    const ha2 = hashOf(algorithm, `GET:${req.url}`);
    const expected =
      protection.qop === false
        ? hashOf(algorithm, `${ha1}:${nonce}:${ha2}`)
        : params.qop === 'auth' && params.nc !== undefined && (params.cnonce ?? '').length >= 8
          ? hashOf(algorithm, `${ha1}:${nonce}:${params.nc}:${params.cnonce}:auth:${ha2}`)
          : undefined;
    if (params.response !== expected || params.opaque !== 'opaque-5ccc') return 'refused';
    if (protection.staleOnce && !this.#staleServed.has(req.url ?? '')) {
      this.#staleServed.add(req.url ?? '');
      return 'stale';
    }
    return 'ok';
  }

  #challenge(protection: Protection, res: ServerResponse, stale: boolean): void {
    if (protection.scheme === 'basic') {
      res.writeHead(401, { 'www-authenticate': `Basic realm="${realm}"` }).end('no');
      return;
    }
    const headers = (protection.algorithms ?? ['MD5']).map((algorithm) => {
      const nonce = randomBytes(12).toString('hex');
      this.#nonces.add(nonce);
      const qop = protection.qop === false ? '' : ', qop="auth"';
      return `Digest realm="${realm}"${qop}, nonce="${nonce}", opaque="opaque-5ccc", algorithm=${algorithm}${stale ? ', stale=true' : ''}`;
    });
    res.writeHead(401, { 'www-authenticate': headers }).end('authenticate first');
  }
}

const sendSnapshot = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'image/jpeg; charset=binary', 'content-length': snapshot.length });
  res.end(snapshot);
};

const digest: Protection = { scheme: 'digest', algorithms: ['MD5'], qop: true };
const camera = new CameraServer({
  '/onvif/snapshot?channel=1': { protection: digest, serve: sendSnapshot },
  '/sess.jpg': { protection: { scheme: 'digest', algorithms: ['MD5-sess'] }, serve: sendSnapshot },
  '/both.jpg': { protection: { scheme: 'digest', algorithms: ['MD5', 'SHA-256'] }, serve: sendSnapshot },
  '/rfc2069.jpg': { protection: { scheme: 'digest', qop: false }, serve: sendSnapshot },
  '/stale.jpg': { protection: { ...digest, staleOnce: true }, serve: sendSnapshot },
  '/basic.jpg': { protection: { scheme: 'basic' }, serve: sendSnapshot },
  '/declared-huge.jpg': {
    protection: digest,
    serve: (res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 11 * 1024 * 1024 });
      res.write(Buffer.alloc(64 * 1024));
    },
  },
  '/streamed-huge.jpg': {
    protection: digest,
    serve: (res) => {
      // Chunked, no length: the limit has to be enforced while reading.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(1024 * 1024, 1);
      let sent = 0;
      const more = (): void => {
        while (sent < 12 && !res.destroyed) {
          sent++;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
    },
  },
  '/hangs.jpg': { protection: digest, serve: () => undefined },
  '/gone.jpg': { protection: digest, serve: (res) => res.writeHead(503).end('busy') },
});

describe('fetching a camera snapshot with HTTP authentication', () => {
  beforeAll(() => camera.start());
  afterAll(() => camera.stop());

  it('answers an MD5 qop=auth Digest challenge and returns the bytes and media type', async () => {
    const before = camera.requests.length;
    const result = await digestFetch(camera.url('/onvif/snapshot?channel=1'), { username, password });
    expect(result.contentType).toBe('image/jpeg');
    expect(result.bytes.equals(snapshot)).toBe(true);
    const sent = camera.requests.slice(before);
    expect(sent.map((request) => request.authorization === undefined)).toEqual([true, false]);
    const params = authParams((sent[1]?.authorization ?? '').slice(7));
    expect(params).toMatchObject({
      username,
      realm,
      uri: '/onvif/snapshot?channel=1',
      algorithm: 'MD5',
      qop: 'auth',
      nc: '00000001',
      opaque: 'opaque-5ccc',
    });
    expect(sent[1]?.authorization).not.toContain(password);
  });

  it('answers MD5-sess', async () => {
    const result = await digestFetch(camera.url('/sess.jpg'), { username, password });
    expect(result.bytes.equals(snapshot)).toBe(true);
  });

  it('picks SHA-256 over MD5 when the camera offers both', async () => {
    const before = camera.requests.length;
    await digestFetch(camera.url('/both.jpg'), { username, password });
    expect(authParams(camera.requests[before + 1]?.authorization ?? '').algorithm).toBe('SHA-256');
  });

  it('answers an RFC 2069 challenge without qop', async () => {
    const result = await digestFetch(camera.url('/rfc2069.jpg'), { username, password });
    expect(result.bytes.equals(snapshot)).toBe(true);
  });

  it('answers once more when the nonce went stale', async () => {
    const before = camera.requests.length;
    const result = await digestFetch(camera.url('/stale.jpg'), { username, password });
    expect(result.bytes.equals(snapshot)).toBe(true);
    expect(camera.requests.length - before).toBe(3);
  });

  it('uses Basic when that is what the camera asks for', async () => {
    const result = await digestFetch(camera.url('/basic.jpg'), { username, password });
    expect(result.bytes.equals(snapshot)).toBe(true);
  });

  it('takes the credentials from the URL when none are given', async () => {
    const url = camera.url('/onvif/snapshot?channel=1').replace('http://', `http://${username}:${password}@`);
    const result = await digestFetch(url, { username: '', password: '' });
    expect(result.bytes.equals(snapshot)).toBe(true);
  });

  it('fails as unauthorized on a wrong password, without naming it', async () => {
    const failure = await digestFetch(camera.url('/onvif/snapshot?channel=1'), {
      username,
      password: 'not-the-password',
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DigestFetchError);
    expect(failure).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect((failure as Error).message).not.toContain('not-the-password');
  });

  it('refuses a body declared over 10 MiB', async () => {
    const failure = await digestFetch(camera.url('/declared-huge.jpg'), { username, password }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ kind: 'too_large', message: 'the body is larger than 10485760 bytes' });
  });

  it('refuses a body that grows past the limit while it is read', async () => {
    const failure = await digestFetch(camera.url('/streamed-huge.jpg'), {
      username,
      password,
      maxBytes: 3 * 1024 * 1024,
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: 'too_large' });
  });

  it('gives up at the timeout when the camera never answers', async () => {
    const started = Date.now();
    const failure = await digestFetch(camera.url('/hangs.jpg'), { username, password, timeoutMs: 300 }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ kind: 'timeout', message: 'no complete answer within 300 ms' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports another HTTP status as such', async () => {
    const failure = await digestFetch(camera.url('/gone.jpg'), { username, password }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ kind: 'http', status: 503 });
  });

  it('reports a camera that is not there as a network failure', async () => {
    const failure = await digestFetch('http://127.0.0.1:1/snapshot.jpg', { username, password }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ kind: 'network' });
  });
});

describe('reading WWW-Authenticate', () => {
  it('splits several challenges and unquotes their parameters', () => {
    const challenges = parseChallenges(
      'Digest realm="a, \\"b\\"", qop="auth,auth-int", nonce=abc123, algorithm=MD5-sess, Basic realm="cam"',
    );
    expect(challenges.map((challenge) => [challenge.scheme, Object.fromEntries(challenge.params)])).toEqual([
      ['digest', { realm: 'a, "b"', qop: 'auth,auth-int', nonce: 'abc123', algorithm: 'MD5-sess' }],
      ['basic', { realm: 'cam' }],
    ]);
  });
});
