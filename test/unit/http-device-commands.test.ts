import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedDevice } from '../../src/core/device.ts';
import { TopicGrammar } from '../../src/core/topics.ts';
import { HttpDeviceCommands, maxReplyBodyChars, minimised } from '../../src/ingest/http-device-commands.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { eventually, loopbackGuard } from '../helpers/hub.ts';

/**
 * The generic HTTP command channel against a real device-like server on loopback: what the reply frame carries
 * when the device answers, refuses in its own words, or cannot be asked at all.
 */

const topics = new TopicGrammar('gridhub');
/** A card number a device might echo in its refusal: the reply keeps only its last digits. */
const card = '3302789145';

let server: Server;
let url: string;
const frames: { topic: string; reply: Record<string, unknown> }[] = [];
let channel: HttpDeviceCommands;

const device = (id: string, http?: ResolvedDevice['http']) =>
  ({ id, ...(http ? { http } : {}) }) as ResolvedDevice;

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/ok') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('OK\r\n');
      return;
    }
    // A refusal whose body is the device's reason, with a control character, an echoed card number, and far more
    // than a reply carries.
    response
      .writeHead(400, { 'content-type': 'text/plain' })
      .end(`Error\r\nNo door 3 for card ${card}\u0007\r\n${'x'.repeat(64 * 1024)}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const devices = new Map<string, ResolvedDevice>([
    ['door-1', device('door-1', { url, username: 'admin', password: 'secret-1' })],
    ['pusher-1', device('pusher-1')],
  ]);
  channel = new HttpDeviceCommands({
    registry: devices,
    topics,
    guard: loopbackGuard(new MetricsRegistry()),
    onFrame: async (topic, payload) => {
      frames.push({ topic, reply: JSON.parse(payload.toString('utf8')) as Record<string, unknown> });
    },
    timeoutMs: 5_000,
    isConnected: () => true,
    disconnect: () => undefined,
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const replyTo = async (requestId: string) => {
  await eventually(() => frames.some((frame) => frame.reply.requestId === requestId), 5_000);
  return frames.find((frame) => frame.reply.requestId === requestId) as (typeof frames)[number];
};

const command = (deviceId: string, fields: Record<string, unknown>) =>
  channel.publish(topics.deviceTopic(deviceId, 'commands'), JSON.stringify({ method: 'GET', ...fields }));

describe('HttpDeviceCommands', () => {
  it("hands the device's answer back as a reply frame", async () => {
    await command('door-1', { requestId: 'r-ok', path: '/ok' });
    const { topic, reply } = await replyTo('r-ok');
    expect(topic).toBe(topics.deviceTopic('door-1', 'replies'));
    expect(reply).toEqual({ requestId: 'r-ok', status: 200, body: 'OK' });
  });

  it("carries a refusal's own words, bounded and minimised", async () => {
    await command('door-1', { requestId: 'r-400', path: '/refuse' });
    const { reply } = await replyTo('r-400');
    expect(reply.status).toBe(400);
    const body = reply.body as string;
    expect(body.startsWith('Error No door 3 for card ******9145 x')).toBe(true);
    expect(body).not.toContain(card);
    expect(body).not.toMatch(/[\p{Cc}]/u);
    expect(body).toHaveLength(maxReplyBodyChars);
  });

  it('says so when the device has no http access, rather than leaving the command to time out', async () => {
    await command('pusher-1', { requestId: 'r-none', path: '/ok' });
    const { reply } = await replyTo('r-none');
    expect(reply).toEqual({
      requestId: 'r-none',
      status: 0,
      body: 'the device has no http access configured',
    });
  });

  it('refuses a path that would name another host, and a device it does not know', async () => {
    await expect(command('door-1', { requestId: 'r-host', path: '//127.0.0.1:1/x' })).rejects.toThrow();
    await expect(command('nobody', { requestId: 'r-who', path: '/ok' })).rejects.toThrow(/no device/);
    expect(frames.some((frame) => ['r-host', 'r-who'].includes(frame.reply.requestId as string))).toBe(false);
  });
});

describe('minimised', () => {
  it('keeps words on one line, masks long digit runs, and bounds the length', () => {
    expect(minimised('\uFEFF Error\r\n\tBad Request! \u0000')).toBe('Error Bad Request!');
    expect(minimised('phone 13812345678, door 12345')).toBe('phone *******5678, door 12345');
    expect(minimised('y'.repeat(5000))).toHaveLength(maxReplyBodyChars);
  });
});
