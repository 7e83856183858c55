import { connect as connectTcp, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  demoConfig,
  demoSecret,
  deploymentOf,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

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
    expect(await closes('connect_timeout')).toBe(1);
  });
});
