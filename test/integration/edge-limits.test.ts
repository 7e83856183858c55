import { request as httpRequest } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSecret,
  deploymentOf,
  eventually,
  getJson,
  type HubClientSocket,
  metricValue,
  movableClock,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, testKeyPrefix } from '../helpers/redis.ts';

/** MQTT's variable-length integer: the remaining length of a packet's fixed header. */
function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  let rest = length;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

const mqttString = (value: string) => {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
};

/** A whole MQTT 3.1.1 CONNECT (clean session, keepalive 60 s). */
function connectPacket(clientId: string, username: string, password: string): Buffer {
  const body = Buffer.concat([
    mqttString('MQTT'),
    Buffer.from([4, 0x02 | 0x80 | 0x40, 0, 60]),
    mqttString(clientId),
    mqttString(username),
    mqttString(password),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** The fixed header of a packet that announces `length` bytes, and the start of a CONNECT's body. */
function announcedConnect(length: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x10]),
    remainingLength(length),
    mqttString('MQTT'),
    Buffer.from([4, 0xc2]),
  ]);
}

const megabyte = 2 ** 20;
const junk = Buffer.alloc(64 * 1024, 0x61);

/**
 * Sends `header`, then junk as fast as the hub takes it, up to `upTo` bytes, and resolves once the hub closes the
 * connection: how long that took and how much of the junk went out. Never resolves if the hub keeps reading.
 */
function streamUntilClosed(
  socket: Socket,
  header: Buffer,
  upTo: number,
): Promise<{ ms: number; sent: number }> {
  const started = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    socket.on('error', () => {});
    socket.once('close', () => resolve({ ms: performance.now() - started, sent }));
    const pump = (): void => {
      while (!socket.destroyed && sent < upTo) {
        sent += junk.length;
        if (!socket.write(junk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.write(header, pump);
  });
}

/**
 * The same over MQTT over WebSocket, each chunk a binary message. The client runs in the hub's process: it sends
 * at a pace (32 MB/s) and keeps little of its own unsent, so what the process holds is the hub's.
 */
function streamOverWebSocket(
  url: string,
  header: Buffer,
  upTo: number,
): Promise<{ ms: number; sent: number }> {
  const ws = new WebSocket(url, 'mqtt');
  let sent = 0;
  return new Promise((resolve, reject) => {
    let started = 0;
    ws.once('error', () => {});
    ws.once('unexpected-response', () => reject(new Error('no MQTT WebSocket upgrade')));
    ws.once('close', () => resolve({ ms: performance.now() - started, sent }));
    ws.once('open', () => {
      started = performance.now();
      ws.send(header);
      // About 32 MB/s, as long as the hub takes it.
      const pump = (): void => {
        if (ws.readyState !== WebSocket.OPEN || sent >= upTo) return;
        if (ws.bufferedAmount < 256 * 1024) {
          sent += junk.length;
          ws.send(junk);
        }
        setTimeout(pump, 2);
      };
      pump();
    });
  });
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads from the socket until `bytes` bytes arrived. */
function readBytes(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length < bytes) return;
      socket.off('data', onData);
      resolve(got);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${got.length} bytes`)));
  });
}

function rssMegabytes(): number {
  return process.memoryUsage().rss / megabyte;
}

describe('MQTT packets at the network edge', () => {
  let hub: TestHub;
  let mqttPort: number;
  let httpPort: number;

  beforeAll(async () => {
    const config = demoConfig();
    Object.assign(config, { limits: { mqtt: { connectTimeoutSeconds: 1 } } });
    hub = await startTestHub({ deployment: deploymentOf(config) });
    mqttPort = hub.hub.mqttPort;
    httpPort = hub.hub.httpPort;
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const closes = (reason: string) =>
    metricValue(hub.httpUrl, `gridhub_mqtt_limit_closes_total{reason="${reason}"}`);

  it('closes four connections that announce a 200 MB CONNECT on its header, holding none of it', async () => {
    const before = rssMegabytes();
    const sockets = await Promise.all([1, 2, 3, 4].map(() => tcp(mqttPort)));
    // Each would send 32 MB of its 200 MB if the hub went on reading.
    const results = await Promise.all(
      sockets.map((socket) => streamUntilClosed(socket, announcedConnect(200 * megabyte), 32 * megabyte)),
    );
    const grown = rssMegabytes() - before;
    for (const { ms } of results) expect(ms).toBeLessThan(1000);
    expect(grown).toBeLessThan(16);
    expect(await closes('connect_too_large')).toBe(4);
    expect(hub.logs.text).toMatch(
      /"reason":"connect_too_large","address":"127\.0\.0\.1","cmd":"connect","bytes":209715200/,
    );
    console.info(
      `200 MB CONNECT ×4: closed after ${results.map(({ ms }) => ms.toFixed(0)).join('/')} ms, ${results.map(({ sent }) => (sent / megabyte).toFixed(1)).join('/')} MB sent, RSS ${grown.toFixed(1)} MB`,
    );
  });

  it('closes a connection whose first packet is not a CONNECT but as large', async () => {
    const socket = await tcp(mqttPort);
    const publish = Buffer.concat([Buffer.from([0x30]), remainingLength(megabyte)]);
    const { ms } = await streamUntilClosed(socket, publish, 8 * megabyte);
    expect(ms).toBeLessThan(1000);
    expect(await closes('connect_too_large')).toBe(5);
  });

  it('closes the same CONNECT over WebSocket (/mqtt), relayed to the broker thread', async () => {
    const before = rssMegabytes();
    const { ms, sent } = await streamOverWebSocket(
      `ws://127.0.0.1:${httpPort}/mqtt`,
      announcedConnect(200 * megabyte),
      32 * megabyte,
    );
    const grown = rssMegabytes() - before;
    console.info(
      `200 MB CONNECT over WebSocket: closed after ${ms.toFixed(0)} ms, ${(sent / megabyte).toFixed(1)} MB sent, RSS ${grown.toFixed(1)} MB`,
    );
    expect(ms).toBeLessThan(1000);
    expect(grown).toBeLessThan(16);
    expect(await closes('connect_too_large')).toBe(6);
  });

  it('lets a device connect, then closes it when a packet announces more than four times the payload limit', async () => {
    const id = 'gate-xijiao-01-north';
    const socket = await tcp(mqttPort);
    socket.write(connectPacket(id, id, demoSecret(id)));
    // CONNACK: accepted (return code 0).
    expect([...(await readBytes(socket, 4))]).toEqual([0x20, 2, 0, 0]);
    const publish = Buffer.concat([Buffer.from([0x30]), remainingLength(10 * megabyte)]);
    const { ms } = await streamUntilClosed(socket, publish, 16 * megabyte);
    expect(ms).toBeLessThan(1000);
    expect(await closes('packet_too_large')).toBe(1);
  });

  it('closes a connection that sends nothing once the connect timeout passes', async () => {
    const socket = await tcp(mqttPort);
    const started = performance.now();
    await new Promise((resolve) => socket.once('close', resolve));
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(2500);
    // The broker thread closes the socket before it tells the hub's thread why: the count may come a moment later.
    await eventually(async () => (await closes('connect_timeout')) === 1);
    expect(await closes('connect_timeout')).toBe(1);
  });
});

/** A hub whose limits on guessing are small: 5 failures per address, 8 per identity, each locking for 2 s. */
async function guessingHub(clock = movableClock()): Promise<TestHub> {
  const config = demoConfig();
  Object.assign(config, {
    limits: {
      auth: {
        perAddress: { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 2 },
        perIdentity: { maxFailures: 8, windowSeconds: 60, lockoutSeconds: 2 },
        trackedKeys: 100,
      },
    },
  });
  return startTestHub({ deployment: deploymentOf(config), clock: clock.now });
}

/** GET with a bearer token from one of the loopback addresses (127.0.0.x), as another client would. */
function getFrom(
  url: string,
  token: string,
  localAddress = '127.0.0.1',
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { headers: { authorization: `Bearer ${token}` }, localAddress },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body }),
        );
      },
    );
    request.once('error', reject);
    request.end();
  });
}

/** A JWT for `subject` signed with a key that is not the hub's: a forgery. */
function forgedJwt(subject: string): Promise<string> {
  return new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer('gridhub')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('not-the-hub-key-not-the-hub-key-'));
}

/** A raw MQTT CONNECT from a loopback address: the CONNACK's return code, or -1 when closed without one. */
async function mqttConnect(
  port: number,
  localAddress: string,
  id: string,
  password: string,
): Promise<number> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const connection = connectTcp({ port, host: '127.0.0.1', localAddress }, () => resolve(connection));
    connection.once('error', reject);
  });
  socket.write(connectPacket(id, id, password));
  try {
    const connack = await readBytes(socket, 4);
    return connack[3] ?? -1;
  } catch {
    return -1;
  } finally {
    socket.destroy();
  }
}

describe('guessing bearer tokens on REST', () => {
  let hub: TestHub;
  const clock = movableClock();

  beforeAll(async () => {
    hub = await guessingHub(clock);
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const incidents = () => `${hub.httpUrl}/api/incidents`;

  it('never locks out the user a forged JWT names: its claim is unverified, so anyone could mute anyone', async () => {
    const forged = await forgedJwt('officer-xijiao');
    // Nine forged tokens in her name from three addresses: more than perIdentity's eight, fewer than perAddress's
    // five from each.
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4'])
      for (let n = 1; n <= 3; n++) expect((await getFrom(incidents(), forged, address)).status).toBe(401);
    // Her own token, from yet another address, still works; each address's failures counted all the same.
    expect((await getFrom(incidents(), 'demo-officer-xijiao', '127.0.0.10')).status).toBe(200);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="rest",reason="identity"}'),
    ).toBe(0);
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}')).toBe(9);
    expect(hub.logs.text).toMatch(/"address":"127\.0\.0\.2".*authentication failed/);
  });

  it("does not count the hub's own JWTs it no longer takes as guesses: a tab left open overnight locks nobody out", async () => {
    // Signed with the demo's session key, expired an hour ago: what a page left open presents in the morning.
    const expired = await new SignJWT({ role: 'duty_officer', sid: 'a-session-long-gone' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('officer-luming')
      .setIssuer('gridhub')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(demoConfig().hub?.jwtSecret as string));
    const failuresBefore = await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}');
    for (let n = 1; n <= 12; n++) {
      expect((await getFrom(incidents(), expired, '127.0.0.9')).status).toBe(401);
    }
    await expect(connectClient(hub.httpUrl, expired)).rejects.toThrow(/unauthorized/);
    expect((await getFrom(incidents(), 'demo-officer-xijiao', '127.0.0.9')).status).toBe(200);
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}')).toBe(
      failuresBefore,
    );
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="socketio"}')).toBe(0);
  });

  it('answers 429 with Retry-After to an address that failed too often, good token included, until the lockout ends', async () => {
    for (let n = 1; n <= 5; n++) {
      expect((await getFrom(incidents(), `wrong-token-${n}`, '127.0.0.5')).status).toBe(401);
    }
    const refused = await getFrom(incidents(), 'demo-officer-xijiao', '127.0.0.5');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('2');
    // The token endpoint is one more way to try a token: the same lockout.
    const token = await fetch(`${hub.httpUrl}/api/auth/token`, { method: 'POST' });
    expect(token.status).toBe(401);
    // Other addresses go on as before, and nobody needs a token for the health check.
    expect((await getFrom(incidents(), 'demo-officer-xijiao', '127.0.0.6')).status).toBe(200);
    expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}')).toBe(14);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="rest",reason="address"}'),
    ).toBe(1);
    expect(hub.logs.text).toMatch(
      /"transport":"rest","address":"127\.0\.0\.5".*too many failed authentications/,
    );
    expect(hub.logs.text).not.toContain('wrong-token-');
    clock.moveOn(2100);
    expect((await getFrom(incidents(), 'demo-officer-xijiao', '127.0.0.5')).status).toBe(200);
  });
});

/** A password login from one of the loopback addresses: the status, and Retry-After when there is one. */
function loginFrom(
  httpUrl: string,
  username: string,
  password: string,
  localAddress: string,
): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${httpUrl}/api/auth/login`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, localAddress },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] }),
        );
      },
    );
    request.once('error', reject);
    request.end(JSON.stringify({ username, password }));
  });
}

describe('guessing passwords over many usernames', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await guessingHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('locks out an address that tries one password on many usernames, though no account reached its own lockout', async () => {
    const users = ['officer-xijiao', 'officer-zhenxing', 'officer-luming', 'worker-xijiao-01', 'admin'];
    for (const username of users) {
      expect((await loginFrom(hub.httpUrl, username, 'Password123', '127.0.0.7')).status).toBe(401);
    }
    const refused = await loginFrom(
      hub.httpUrl,
      'officer-xijiao',
      'demo-password-officer-xijiao',
      '127.0.0.7',
    );
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('2');
    // The same account from another address logs in: its own lockout was never reached.
    expect(
      (await loginFrom(hub.httpUrl, 'officer-xijiao', 'demo-password-officer-xijiao', '127.0.0.8')).status,
    ).toBe(200);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="rest",reason="address"}'),
    ).toBe(1);
    expect(hub.logs.text).toMatch(/"address":"127\.0\.0\.7","username":"admin".*login refused/);
    expect(hub.logs.text).not.toContain('Password123');
  });
});

describe('guessing on /metrics and /docs', () => {
  let hub: TestHub;
  const scrapeToken = 'the-scraper-token-of-the-limits';

  beforeAll(async () => {
    const config = demoConfig();
    Object.assign(config, {
      http: { metricsToken: scrapeToken, protectDocs: true },
      limits: { auth: { perAddress: { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 2 } } },
    });
    hub = await startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('limits wrong tokens there as anywhere, Basic included, and never counts the scraper', async () => {
    const metricsUrl = `${hub.httpUrl}/metrics`;
    for (let n = 1; n <= 5; n++)
      expect((await getFrom(metricsUrl, scrapeToken, '127.0.0.12')).status).toBe(200);
    for (let n = 1; n <= 5; n++)
      expect((await getFrom(metricsUrl, `wrong-${n}`, '127.0.0.11')).status).toBe(401);
    expect((await getFrom(metricsUrl, `wrong-6`, '127.0.0.11')).status).toBe(429);
    const basic = (password: string) =>
      fetch(`${hub.httpUrl}/docs/json`, {
        headers: { authorization: `Basic ${Buffer.from(`me:${password}`).toString('base64')}` },
      });
    for (let n = 1; n <= 5; n++) expect((await basic(`wrong-basic-${n}`)).status).toBe(401);
    expect((await basic('demo-officer-xijiao')).status).toBe(429);
    expect((await getFrom(metricsUrl, scrapeToken, '127.0.0.12')).status).toBe(200);
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="rest"}', scrapeToken)).toBe(
      10,
    );
  });
});

describe('guessing tokens in Socket.IO handshakes', () => {
  let hub: TestHub;
  const clock = movableClock();

  beforeAll(async () => {
    hub = await guessingHub(clock);
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('refuses every handshake from an address that failed too often, counted and logged with the address', async () => {
    for (let n = 1; n <= 5; n++) {
      await expect(connectClient(hub.httpUrl, `wrong-token-${n}`)).rejects.toThrow(/unauthorized/);
    }
    const refusal = await connectClient(hub.httpUrl, 'demo-officer-xijiao').then(
      (client) => {
        client.close();
        return undefined;
      },
      (error: Error & { data?: unknown }) => error,
    );
    expect(refusal?.message).toMatch(/too many failed authentications: try again in 2 s/);
    expect(refusal?.data).toEqual({ code: 'too_many_attempts', reason: 'address', retryAfterSeconds: 2 });
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="socketio"}')).toBe(5);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="socketio",reason="address"}'),
    ).toBe(1);
    expect(hub.logs.text).toMatch(/"transport":"socketio","address":"127\.0\.0\.1"/);
    expect(hub.logs.text).not.toContain('wrong-token-');
    clock.moveOn(2100);
    (await connectClient(hub.httpUrl, 'demo-officer-xijiao')).close();
  });
});

describe('guessing MQTT passwords', () => {
  let hub: TestHub;
  const clock = movableClock();
  let port: number;

  beforeAll(async () => {
    hub = await guessingHub(clock);
    port = hub.hub.mqttPort;
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const id = 'gate-xijiao-01-north';
  const other = 'gate-xijiao-01-south';

  it('refuses a device identity guessed at from several addresses with CONNACK 3, its right secret included', async () => {
    for (const address of [
      '127.0.0.2',
      '127.0.0.2',
      '127.0.0.2',
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.3',
      '127.0.0.3',
      '127.0.0.3',
    ]) {
      expect(await mqttConnect(port, address, id, 'guessed-secret-0000')).toBe(4);
    }
    expect(await mqttConnect(port, '127.0.0.4', id, demoSecret(id))).toBe(3);
    // Another device from the same addresses is not held back.
    expect(await mqttConnect(port, '127.0.0.2', other, demoSecret(other))).toBe(0);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="mqtt",reason="identity"}'),
    ).toBe(1);
  });

  it('refuses every CONNECT from an address that failed too often, then lets it in once the lockout ends', async () => {
    for (let n = 1; n <= 5; n++)
      expect(await mqttConnect(port, '127.0.0.5', other, `guessed-${n}-000000`)).toBe(4);
    expect(await mqttConnect(port, '127.0.0.5', other, demoSecret(other))).toBe(3);
    expect(await metricValue(hub.httpUrl, 'gridhub_auth_failures_total{transport="mqtt"}')).toBe(13);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="mqtt",reason="address"}'),
    ).toBe(1);
    expect(hub.logs.text).toMatch(
      /"transport":"mqtt","address":"127\.0\.0\.5","identity":"gate-xijiao-01-south"/,
    );
    expect(hub.logs.text).not.toContain('guessed-');
    clock.moveOn(2100);
    expect(await mqttConnect(port, '127.0.0.5', other, demoSecret(other))).toBe(0);
  });

  it('does the same over MQTT over WebSocket, where the hub relays the connection to its broker thread', async () => {
    // Past the lockout of the identity the first test guessed at.
    clock.moveOn(2100);
    const codes: number[] = [];
    for (let n = 1; n <= 6; n++) {
      codes.push(
        await webSocketConnack(
          `ws://127.0.0.1:${hub.hub.httpPort}/mqtt`,
          connectPacket(id, id, n < 6 ? `guessed-${n}-000000` : demoSecret(id)),
        ),
      );
    }
    expect(codes).toEqual([4, 4, 4, 4, 4, 3]);
  });
});

/**
 * A CONNECT over MQTT over WebSocket: the CONNACK's return code, or -1 when closed without one. The broker writes
 * a packet in several pieces, each its own WebSocket message.
 */
function webSocketConnack(url: string, connect: Buffer): Promise<number> {
  const ws = new WebSocket(url, 'mqtt');
  let received = Buffer.alloc(0);
  return new Promise((resolve) => {
    ws.once('error', () => resolve(-1));
    ws.once('close', () => resolve(-1));
    ws.once('open', () => ws.send(connect));
    ws.on('message', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (received.length < 4) return;
      resolve(received[3] ?? -1);
      ws.terminate();
    });
  });
}

/** A full collection where the test can ask for one (V8's own gc, exposed at run time), then the heap in use. */
function heapAfterCollection(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

/**
 * A Socket.IO client speaking the protocol on a raw WebSocket (Engine.IO 4 over ws), which stops reading its TCP
 * socket once connected: the client that stops reading, and whose pushes pile up on the hub's side.
 */
function stalledClient(httpPort: number, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/socket.io/?EIO=4&transport=websocket`);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (text.startsWith('40')) {
        ws.pause();
        resolve(ws);
      } else if (text.startsWith('44')) reject(new Error(text));
    });
  });
}

describe('Socket.IO clients that stop reading', () => {
  let hub: TestHub;
  /** Closes the clients a test opened, however it ended: a stalled one would hold the hub's stop. */
  const clients: (() => void)[] = [];

  beforeAll(async () => {
    const config = demoConfig();
    Object.assign(config, { limits: { realtime: { maxBufferedBytes: 256 * 1024 } } });
    // Nothing kept for clients that drop, so the heap holds only what waits for the clients connected.
    Object.assign(config.hub, { pushRecoverySeconds: 0 });
    hub = await startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    for (const close of clients) close();
    await hub?.stop();
  });

  it('disconnects a client that stops reading while 40 MB of pushes flow, the heap bounded, the rest served whole', async () => {
    const watching = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    // A client that reads on and keeps nothing: counts the changes.
    const reading: HubClientSocket = io(hub.httpUrl, {
      auth: { token: 'demo-officer-xijiao' },
      transports: ['websocket'],
      reconnection: false,
    });
    let updates = 0;
    reading.on('incident:update', () => {
      updates += 1;
    });
    await new Promise((resolve) => reading.once('connect', () => resolve(undefined)));
    const stalled = await stalledClient(hub.hub.httpPort, 'demo-officer-xijiao');
    clients.push(
      () => stalled.terminate(),
      () => reading.close(),
    );
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
    await gate.forceDoor();
    const incident = (await watching.nth('incident:new', 1)) as Incident;
    await gate.stop();
    watching.close();

    const before = heapAfterCollection();
    // 800 changes of about 50 KB each (before and after, each with a 25 KB title), a turn of the loop apart.
    const title = 'x'.repeat(25_000);
    let previous: Incident = incident;
    for (let n = 1; n <= 800; n++) {
      const after: Incident = { ...previous, title: `${n} ${title}`, updatedAt: new Date().toISOString() };
      hub.hub.bus.emit('incident:updated', { before: previous, after }, undefined);
      previous = after;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await eventually(() => updates === 800, 15_000);
    const grown = (heapAfterCollection() - before) / megabyte;
    console.info(`stalled Socket.IO client, 40 MB pushed: heap ${grown.toFixed(1)} MB`);
    expect(grown).toBeLessThan(8);
    expect(await metricValue(hub.httpUrl, 'gridhub_realtime_slow_clients_total')).toBe(1);
    expect(hub.logs.text).toMatch(/"address":"127\.0\.0\.1".*socket not reading its pushes: disconnected/);
    // The client reading on was never cut off; the stalled one finds its connection gone once it reads again.
    expect(reading.connected).toBe(true);
    const closed = new Promise((resolve) => stalled.once('close', resolve));
    stalled.resume();
    await closed;
  });

  it('closes a long-polling client that stops polling, not a reading one that gets the same burst at once', async () => {
    const reading = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    clients.push(() => reading.close());
    const base = `${hub.httpUrl}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    const { sid } = JSON.parse(open.slice(1)) as { sid: string };
    const session = `${base}&sid=${sid}`;
    await fetch(session, { method: 'POST', body: `40${JSON.stringify({ token: 'demo-officer-xijiao' })}` });
    expect(await (await fetch(session)).text()).toMatch(/^40/);
    // It polls no more: 12 changes of about 50 KB, made in one turn, wait for it (and for a moment, for the other).
    const { body } = await getJson(`${hub.httpUrl}/api/incidents`, 'demo-officer-xijiao');
    let previous = (body as { incidents: Incident[] }).incidents[0] as Incident;
    for (let n = 1; n <= 12; n++) {
      const after: Incident = { ...previous, title: `${n} ${'y'.repeat(25_000)}` };
      hub.hub.bus.emit('incident:updated', { before: previous, after }, undefined);
      previous = after;
    }
    await eventually(
      async () => (await metricValue(hub.httpUrl, 'gridhub_realtime_slow_clients_total')) === 2,
    );
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await metricValue(hub.httpUrl, 'gridhub_realtime_slow_clients_total')).toBe(2);
    expect(reading.of('incident:update')).toHaveLength(12);
    expect(reading.socket.connected).toBe(true);
    // Its session is gone: the next poll is refused, and the client starts afresh.
    expect((await fetch(session)).status).toBe(400);
  });
});

describe('the same limits on the clustered broker, which runs in the hub’s thread', () => {
  const keyPrefix = testKeyPrefix('edge-limits');
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: redisDeployment(keyPrefix, (config) => {
        config.mqtt = { mode: 'clustered' };
        config.limits = {
          mqtt: { connectTimeoutSeconds: 1 },
          auth: { perAddress: { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 2 } },
        };
      }),
    });
  });

  afterAll(async () => {
    await hub?.stop();
    await deleteRedisKeys(keyPrefix);
  });

  it('closes a 200 MB CONNECT on TCP and on WebSocket, and a silent connection at the connect timeout', async () => {
    const { ms } = await streamUntilClosed(
      await tcp(hub.hub.mqttPort),
      announcedConnect(200 * megabyte),
      32 * megabyte,
    );
    expect(ms).toBeLessThan(1000);
    const overWebSocket = await streamOverWebSocket(
      `ws://127.0.0.1:${hub.hub.httpPort}/mqtt`,
      announcedConnect(200 * megabyte),
      32 * megabyte,
    );
    expect(overWebSocket.ms).toBeLessThan(1000);
    const silent = await tcp(hub.hub.mqttPort);
    await new Promise((resolve) => silent.once('close', resolve));
    expect(
      await metricValue(hub.httpUrl, 'gridhub_mqtt_limit_closes_total{reason="connect_too_large"}'),
    ).toBe(2);
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_limit_closes_total{reason="connect_timeout"}')).toBe(
      1,
    );
  });

  it('refuses the right secret with CONNACK 3 from an address that guessed too often', async () => {
    const id = 'gate-xijiao-02-east';
    for (let n = 1; n <= 5; n++)
      expect(await mqttConnect(hub.hub.mqttPort, '127.0.0.7', id, `guessed-${n}-000000`)).toBe(4);
    expect(await mqttConnect(hub.hub.mqttPort, '127.0.0.7', id, demoSecret(id))).toBe(3);
    expect(await mqttConnect(hub.hub.mqttPort, '127.0.0.8', id, demoSecret(id))).toBe(0);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_auth_throttled_total{transport="mqtt",reason="address"}'),
    ).toBe(1);
  });
});
