import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestGuard } from '../../simulators/shared/http-digest.ts';
import {
  HttpEventStream,
  type HttpEventStreamOptions,
  type StreamDropReason,
} from '../../src/ingest/http-event-stream.ts';
import { eventually } from '../helpers/hub.ts';

/**
 * The shared event-stream client against a real HTTP server on loopback that behaves as cameras do: a Digest
 * challenge, then a multipart body that never ends. Each behaviour of a broken device is a handler of this server.
 */

const account = { username: 'admin', password: 'stream-password' };
type Behaviour = (request: IncomingMessage, response: ServerResponse) => void;

let server: Server;
let url: string;
let behaviour: Behaviour;
let connections: number;
const guard = new DigestGuard('IP Camera(test)');
const streams: HttpEventStream[] = [];

beforeEach(async () => {
  connections = 0;
  server = createServer((request, response) => {
    connections++;
    const verdict = guard.verify(request.headers.authorization, 'GET', request.url ?? '', account);
    if (verdict !== 'ok') {
      response.writeHead(401, { 'www-authenticate': guard.challenge(verdict === 'stale') });
      response.end();
      return;
    }
    behaviour(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cgi-bin/eventManager.cgi?action=attach&codes=[All]`;
});

afterEach(async () => {
  await Promise.all(streams.splice(0).map((stream) => stream.stop()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function part(text: string): string {
  return `--myboundary\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}\r\n\r\n`;
}

function openStream(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=myboundary' });
  response.flushHeaders();
}

interface Recorded {
  readonly parts: string[];
  readonly drops: { reason: StreamDropReason; detail: string }[];
  opens: number;
}

function follow(overrides: Partial<HttpEventStreamOptions> = {}): Recorded {
  const recorded: Recorded = { parts: [], drops: [], opens: 0 };
  const stream = new HttpEventStream({
    url,
    ...account,
    fetch,
    limits: { maxHeaderBytes: 1024, maxPartBytes: 8192 },
    connectTimeoutMs: 2_000,
    stallMs: 5_000,
    retry: { minMs: 20, maxMs: 200 },
    onPart: (received) => {
      recorded.parts.push(received.body.toString());
    },
    onOpen: () => {
      recorded.opens++;
    },
    onDrop: (reason, detail) => {
      recorded.drops.push({ reason, detail });
    },
    ...overrides,
  });
  streams.push(stream);
  stream.start();
  return recorded;
}

describe('following a device’s multipart event stream', () => {
  it('answers the Digest challenge and hands on each part in order as it arrives', async () => {
    behaviour = (_request, response) => {
      openStream(response);
      response.write(part('Code=VideoMotion;action=Start;index=0'));
      setTimeout(() => response.write(part('Heartbeat')), 20);
      setTimeout(() => response.write(part('Code=VideoMotion;action=Stop;index=0')), 40);
    };
    const recorded = follow();
    await eventually(() => recorded.parts.length === 3);
    expect(recorded.parts).toEqual([
      'Code=VideoMotion;action=Start;index=0',
      'Heartbeat',
      'Code=VideoMotion;action=Stop;index=0',
    ]);
    expect(recorded.opens).toBe(1);
    expect(recorded.drops).toEqual([]);
  });

  it('waits for each part to be handled before the next (the device is held back, nothing is reordered)', async () => {
    behaviour = (_request, response) => {
      openStream(response);
      response.write(part('one') + part('two') + part('three'));
    };
    const handled: string[] = [];
    let inFlight = 0;
    let most = 0;
    follow({
      onPart: async (received) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 15));
        handled.push(received.body.toString());
        inFlight--;
      },
    });
    await eventually(() => handled.length === 3);
    expect(handled).toEqual(['one', 'two', 'three']);
    expect(most).toBe(1);
  });

  it('drops a stream that stalls and connects again', async () => {
    let served = 0;
    behaviour = (_request, response) => {
      served++;
      openStream(response);
      response.write(part(`hello ${served}`));
      // …then nothing, and the connection stays open: a camera whose stream hung.
    };
    const recorded = follow({ stallMs: 150 });
    await eventually(() => recorded.parts.length >= 2);
    expect(recorded.parts.slice(0, 2)).toEqual(['hello 1', 'hello 2']);
    expect(recorded.drops[0]).toEqual({ reason: 'stalled', detail: 'nothing arrived for 150 ms' });
  });

  it('reconnects after the device ends the stream (a reboot)', async () => {
    let served = 0;
    behaviour = (_request, response) => {
      served++;
      openStream(response);
      response.end(part(`boot ${served}`));
    };
    const recorded = follow();
    await eventually(() => recorded.parts.length >= 2);
    expect(recorded.drops[0]?.reason).toBe('ended');
  });

  it('backs off further after each failure, with jitter, and names the refusal', async () => {
    const recorded = follow({ password: 'wrong', retry: { minMs: 40, maxMs: 160 }, random: () => 1 });
    behaviour = () => undefined;
    const started = Date.now();
    await eventually(() => recorded.drops.length >= 4, 5_000);
    // Delays of 40, 80, 160 ms (random() = 1 takes each ceiling whole): at least 280 ms before the fourth drop.
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(recorded.drops[0]).toEqual({
      reason: 'unauthorized',
      detail: 'the device refused the credentials (HTTP 401)',
    });
    expect(recorded.opens).toBe(0);
  });

  it('drops an answer that is not a multipart stream, and one whose part is over the limit', async () => {
    behaviour = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>login</html>');
    };
    const html = follow();
    await eventually(() => html.drops.length >= 1);
    expect(html.drops[0]).toEqual({ reason: 'not_multipart', detail: 'the device answered text/html' });
    await Promise.all(streams.splice(0).map((stream) => stream.stop()));

    behaviour = (_request, response) => {
      openStream(response);
      response.write(`--myboundary\r\nContent-Length: 100000\r\n\r\n`);
    };
    const huge = follow();
    await eventually(() => huge.drops.length >= 1);
    expect(huge.drops[0]?.reason).toBe('oversized');
    expect(huge.parts).toEqual([]);
  });

  it('stops at once, in the middle of a wait as of a stream, and connects no more', async () => {
    behaviour = (_request, response) => {
      openStream(response);
      response.write(part('x'));
    };
    const recorded = follow();
    await eventually(() => recorded.parts.length === 1);
    const stream = streams[0] as HttpEventStream;
    await stream.stop();
    expect(stream.state).toBe('stopped');
    const after = connections;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections).toBe(after);
  });
});
