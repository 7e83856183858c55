import { copyFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopicGrammar } from '../../src/core/topics.ts';
import { ExternalBrokerClient } from '../../src/ingest/external-broker.ts';
import { mqttMetrics } from '../../src/ingest/ingest-metrics.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { TestCertificates } from '../helpers/certificates.ts';
import { freePort, PrivateMosquitto } from '../helpers/cluster.ts';
import {
  demoConfig,
  demoSecret,
  deploymentOf,
  eventually,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';
import { deleteRedisKeys, redisDeployment, redisUrl, testKeyPrefix } from '../helpers/redis.ts';

const north = 'gate-xijiao-01-north';
const south = 'gate-xijiao-01-south';

/** One HTTPS request on a connection of its own (no agent): what it answered, and the certificate it was shown. */
function httpsGet(
  url: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, headers }, (response) => {
      const fingerprint = (response.socket as import('node:tls').TLSSocket).getPeerCertificate()
        .fingerprint256;
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The certificate a new TLS connection to the port is shown. */
function certificateAt(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

function metric(text: string, sample: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

describe('TLS on every listener', () => {
  const directory = temporaryDirectory('gridhub-tls-');
  const certificates = new TestCertificates(directory.path);
  let hub: TestHub;
  let ca: string;

  beforeAll(async () => {
    certificates.ca();
    certificates.server();
    certificates.client('north', north);
    certificates.ca('stranger-ca');
    certificates.client('stranger', north, 'stranger-ca');
    ca = certificates.read('ca.crt');
    const config = {
      ...demoConfig(),
      tls: {
        cert: certificates.file('server.crt'),
        key: certificates.file('server.key'),
        ca: certificates.file('ca.crt'),
        clientCertificates: 'required',
        reloadCheckSeconds: 0.1,
      },
    };
    hub = await startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    await hub?.stop();
    directory.remove();
  });

  it('answers HTTPS with the configured certificate, and nothing in plain HTTP', async () => {
    expect(hub.httpUrl).toMatch(/^https:/);
    const health = await httpsGet(`${hub.httpUrl}/healthz`, ca);
    expect(health.status).toBe(200);
    expect(health.fingerprint).toBe(certificates.fingerprint('server'));
    await expect(fetch(`http://127.0.0.1:${hub.hub.httpPort}/healthz`)).rejects.toThrow();
    await eventually(async () => {
      const metrics = await httpsGet(`${hub.httpUrl}/metrics`, ca);
      return metric(metrics.body, 'gridhub_tls_handshake_failures_total{listener="http"}') === 1;
    });
    expect(hub.logs.text).toMatch(/"listener":"http","address":"127\.0\.0\.1"[^\n]*TLS handshake failed/);
  });

  it('pushes over WSS to a Socket.IO client that trusts the CA', async () => {
    const socket = io(hub.httpUrl, {
      auth: { token: 'demo-officer-qinghe' },
      transports: ['websocket'],
      reconnection: false,
      ca,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      expect(socket.connected).toBe(true);
    } finally {
      socket.close();
    }
  });

  it('takes a device over MQTTS with its certificate', async () => {
    const device = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: north,
      username: north,
      password: demoSecret(north),
      ca,
      cert: certificates.read('north.crt'),
      key: certificates.read('north.key'),
      reconnectPeriod: 0,
    });
    await device.publishAsync(
      `gridhub/devices/${north}/events`,
      JSON.stringify({ seq: 1, time: new Date().toISOString(), event: 'DOOR_FORCED_OPEN', door: 1 }),
      { qos: 1 },
    );
    await device.endAsync();
    await eventually(async () => (await hub.testHandle.store.listIncidents({ limit: 5 })).length > 0);
  });

  it('refuses a device over MQTT on WSS, which can carry no certificate, where certificates are required', async () => {
    await expect(
      mqtt.connectAsync(`wss://127.0.0.1:${hub.hub.httpPort}/mqtt`, {
        clientId: south,
        username: south,
        password: demoSecret(south),
        ca,
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/);
    expect(hub.logs.text).toMatch(/"clientId":"gate-xijiao-01-south","reason":"certificate_invalid"/);
  });

  it("refuses an MQTTS CONNECT whose client id is not its certificate's, and counts it", async () => {
    const before = await httpsGet(`${hub.httpUrl}/metrics`, ca);
    await expect(
      mqtt.connectAsync(hub.mqttUrl, {
        clientId: south,
        username: south,
        password: demoSecret(south),
        ca,
        cert: certificates.read('north.crt'),
        key: certificates.read('north.key'),
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/);
    const after = await httpsGet(`${hub.httpUrl}/metrics`, ca);
    const sample = 'gridhub_mqtt_refusals_total{reason="certificate_mismatch"}';
    expect(metric(after.body, sample) - metric(before.body, sample)).toBe(1);
    expect(hub.logs.text).toMatch(/"clientId":"gate-xijiao-01-south","reason":"certificate_mismatch"/);
  });

  it('refuses a device without a certificate, or with one its CA did not sign, where one is required', async () => {
    const before = await httpsGet(`${hub.httpUrl}/metrics`, ca);
    const credentials = {
      clientId: north,
      username: north,
      password: demoSecret(north),
      ca,
      reconnectPeriod: 0,
    };
    await expect(mqtt.connectAsync(hub.mqttUrl, credentials)).rejects.toThrow(
      /Not authorized|Bad username or password/,
    );
    await expect(
      mqtt.connectAsync(hub.mqttUrl, {
        ...credentials,
        cert: certificates.read('stranger.crt'),
        key: certificates.read('stranger.key'),
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/);
    const after = await httpsGet(`${hub.httpUrl}/metrics`, ca);
    const sample = 'gridhub_mqtt_refusals_total{reason="certificate_invalid"}';
    expect(metric(after.body, sample) - metric(before.body, sample)).toBe(2);
  });

  it('counts a failed handshake (plain MQTT on the MQTTS port)', async () => {
    const before = await httpsGet(`${hub.httpUrl}/metrics`, ca);
    // An MQTT CONNECT in plain text where the server expects a TLS ClientHello.
    await new Promise<void>((resolve) => {
      const socket = netConnect(hub.hub.mqttPort, '127.0.0.1', () => {
        socket.write(Buffer.from('101000044d5154540402003c0004746573740000', 'hex'));
      });
      socket.on('error', () => undefined);
      socket.once('close', () => resolve());
    });
    await eventually(async () => {
      const after = await httpsGet(`${hub.httpUrl}/metrics`, ca);
      const sample = 'gridhub_tls_handshake_failures_total{listener="mqtt"}';
      return metric(after.body, sample) > metric(before.body, sample);
    });
  });

  it('keeps the certificate in use when changed files do not load, and counts it', async () => {
    const old = certificates.fingerprint('server');
    certificates.server('mismatched');
    // A renewal half done: the new certificate is there, its key is not.
    copyFileSync(certificates.file('mismatched.crt'), certificates.file('server.crt'));
    await eventually(async () => {
      const metrics = await httpsGet(`${hub.httpUrl}/metrics`, ca);
      return metric(metrics.body, 'gridhub_tls_reloads_total{result="failed"}') >= 1;
    });
    expect((await httpsGet(`${hub.httpUrl}/healthz`, ca)).fingerprint).toBe(old);
    expect(await certificateAt(hub.hub.mqttPort, ca)).toBe(old);
    expect(hub.logs.text).toContain('changed certificate files do not load');
  });

  it('serves renewed certificate files to new connections without a restart', async () => {
    const old = (await httpsGet(`${hub.httpUrl}/healthz`, ca)).fingerprint;
    certificates.server('renewed');
    const renewed = certificates.fingerprint('renewed');
    expect(renewed).not.toBe(old);
    // A renewal replaces the files, as certbot or an operator's cp does.
    copyFileSync(certificates.file('renewed.key'), certificates.file('server.key'));
    copyFileSync(certificates.file('renewed.crt'), certificates.file('server.crt'));
    await eventually(async () => (await httpsGet(`${hub.httpUrl}/healthz`, ca)).fingerprint === renewed);
    await eventually(async () => (await certificateAt(hub.hub.mqttPort, ca)) === renewed);
    const metrics = await httpsGet(`${hub.httpUrl}/metrics`, ca);
    expect(metric(metrics.body, 'gridhub_tls_reloads_total{result="ok"}')).toBeGreaterThanOrEqual(1);
    expect(hub.logs.text).toContain('certificate reloaded');
  });
});

describe('optional client certificates', () => {
  const directory = temporaryDirectory('gridhub-mtls-');
  const certificates = new TestCertificates(directory.path);
  let hub: TestHub;
  let ca: string;

  beforeAll(async () => {
    certificates.ca();
    certificates.server();
    certificates.client('north', north);
    ca = certificates.read('ca.crt');
    const tls = {
      cert: certificates.file('server.crt'),
      key: certificates.file('server.key'),
      ca: certificates.file('ca.crt'),
      clientCertificates: 'optional',
    };
    hub = await startTestHub({ deployment: deploymentOf({ ...demoConfig(), tls }) });
  });

  afterAll(async () => {
    await hub?.stop();
    directory.remove();
  });

  it('take a device without one on its secret alone, and bind one that has one to its id', async () => {
    const plain = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: south,
      username: south,
      password: demoSecret(south),
      ca,
      reconnectPeriod: 0,
    });
    await plain.endAsync();
    const bound = { cert: certificates.read('north.crt'), key: certificates.read('north.key'), ca };
    const device = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: north,
      username: north,
      password: demoSecret(north),
      ...bound,
      reconnectPeriod: 0,
    });
    await device.endAsync();
    await expect(
      mqtt.connectAsync(hub.mqttUrl, {
        clientId: south,
        username: south,
        password: demoSecret(south),
        ...bound,
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/);
    // MQTT over WSS goes through the HTTP listener's TLS, where no certificate is asked for.
    const webDevice = await mqtt.connectAsync(`wss://127.0.0.1:${hub.hub.httpPort}/mqtt`, {
      clientId: south,
      username: south,
      password: demoSecret(south),
      ca,
      reconnectPeriod: 0,
    });
    await webDevice.endAsync();
  });
});

describe('behind a reverse proxy', () => {
  let hub: TestHub;
  let plainHub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: deploymentOf({ ...demoConfig(), http: { trustProxy: ['127.0.0.1'] } }),
    });
    plainHub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
    await plainHub?.stop();
  });

  /** A Socket.IO handshake with a bad token, through a "proxy" that says the client is 203.0.113.7. */
  async function refusedHandshake(httpUrl: string): Promise<void> {
    const socket = io(httpUrl, {
      auth: { token: 'not-a-token' },
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { 'x-forwarded-for': '203.0.113.7' },
    });
    await new Promise<void>((resolve) => socket.once('connect_error', () => resolve()));
    socket.close();
  }

  it("logs the client's address from X-Forwarded-For when the proxy is trusted", async () => {
    await refusedHandshake(hub.httpUrl);
    await eventually(() => hub.logs.text.includes('socket refused'));
    expect(hub.logs.text).toMatch(/"address":"203\.0\.113\.7"[^\n]*socket refused/);
  });

  it("logs the client's address from X-Forwarded-For in the access log", async () => {
    const response = await fetch(`${hub.httpUrl}/healthz`, { headers: { 'x-forwarded-for': '203.0.113.8' } });
    const id = response.headers.get('x-request-id');
    await eventually(() => hub.logs.text.includes(`"reqId":"${id}"`));
    expect(hub.logs.text).toMatch(new RegExp(`"reqId":"${id}"[^\\n]*"remote":"203\\.0\\.113\\.8"`));
    const direct = await fetch(`${plainHub.httpUrl}/healthz`, {
      headers: { 'x-forwarded-for': '203.0.113.8' },
    });
    const directId = direct.headers.get('x-request-id');
    await eventually(() => plainHub.logs.text.includes(`"reqId":"${directId}"`));
    expect(plainHub.logs.text).toMatch(new RegExp(`"reqId":"${directId}"[^\\n]*"remote":"127\\.0\\.0\\.1"`));
  });

  it("takes an MQTT over WebSocket client's address from X-Forwarded-For, for its refusals and limits", async () => {
    const client = mqtt.connect(`ws://127.0.0.1:${hub.hub.httpPort}/mqtt`, {
      clientId: 'gate-xijiao-01-north',
      username: 'gate-xijiao-01-north',
      password: 'not-its-secret',
      reconnectPeriod: 0,
      wsOptions: { headers: { 'x-forwarded-for': '203.0.113.9' } },
    });
    await new Promise<void>((resolve) => client.once('error', () => resolve()));
    client.end(true);
    await eventually(() => hub.logs.text.includes('"transport":"mqtt"'));
    expect(hub.logs.text).toMatch(/"transport":"mqtt","address":"203\.0\.113\.9"[^\n]*authentication failed/);
  });

  it('ignores X-Forwarded-For from anyone else', async () => {
    await refusedHandshake(plainHub.httpUrl);
    await eventually(() => plainHub.logs.text.includes('socket refused'));
    expect(plainHub.logs.text).not.toContain('203.0.113.7');
  });
});

/** A TLS front for a plain TCP server (Redis, Mosquitto), as stunnel or a managed service would be. */
async function tlsFront(
  targetPort: number,
  certificates: TestCertificates,
): Promise<{ port: number; secured: () => number; close: () => Promise<void> }> {
  let secured = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createTlsServer(
    { cert: certificates.read('server.crt'), key: certificates.read('server.key') },
    (socket) => {
      secured++;
      const upstream = netConnect(targetPort, '127.0.0.1');
      sockets.add(socket);
      sockets.add(upstream);
      const end = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      socket.pipe(upstream).pipe(socket);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    secured: () => secured,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('the hub as a TLS client, trusting the CA it is given', () => {
  const directory = temporaryDirectory('gridhub-tls-clients-');
  const certificates = new TestCertificates(directory.path);
  const keyPrefix = testKeyPrefix('tls');

  beforeAll(() => {
    certificates.ca();
    certificates.server();
  });

  const cleanUp: (() => Promise<void>)[] = [];

  afterAll(async () => {
    for (const step of cleanUp) await step();
    await deleteRedisKeys(keyPrefix);
    directory.remove();
  });

  it('keeps its incidents on a rediss:// Redis whose certificate its CA signed', async () => {
    const front = await tlsFront(Number(new URL(redisUrl).port || 6379), certificates);
    const deployment = redisDeployment(keyPrefix, (config) => {
      config.store = {
        kind: 'redis',
        url: `rediss://127.0.0.1:${front.port}`,
        ca: certificates.file('ca.crt'),
        keyPrefix,
      };
    });
    const hub = await startTestHub({ deployment });
    try {
      const device = await mqtt.connectAsync(hub.mqttUrl, {
        clientId: north,
        username: north,
        password: demoSecret(north),
        reconnectPeriod: 0,
      });
      await device.publishAsync(
        `gridhub/devices/${north}/events`,
        JSON.stringify({ seq: 1, time: new Date().toISOString(), event: 'DOOR_FORCED_OPEN', door: 1 }),
        { qos: 1 },
      );
      await device.endAsync();
      expect((await hub.testHandle.store.listIncidents({ limit: 5 })).length).toBe(1);
      // The store, the event log, the coordinator and the pushes' adapter: every connection over TLS.
      expect(front.secured()).toBeGreaterThanOrEqual(4);
    } finally {
      await hub.stop();
      await front.close();
    }
  });

  it('subscribes on an mqtts:// external broker whose certificate its CA signed', async () => {
    const account = { username: 'gridhub-hub', password: 'hub-secret-for-tests' };
    const mosquitto = new PrivateMosquitto(
      await freePort(),
      [account],
      `user ${account.username}\ntopic read gridhub/#\n`,
    );
    // Removed after the suite too: a start that never ends leaves no broker behind.
    cleanUp.push(() => mosquitto.remove());
    await mosquitto.start();
    const front = await tlsFront(mosquitto.port, certificates);
    const client = new ExternalBrokerClient({
      url: `mqtts://127.0.0.1:${front.port}`,
      ...account,
      ca: certificates.file('ca.crt'),
      clientId: 'hub-over-tls',
      shareGroup: 'gridhub',
      protocolVersion: 5,
      sessionExpirySeconds: 60,
      topics: new TopicGrammar('gridhub'),
      onMessage: () => undefined,
      isOnline: () => false,
      metrics: mqttMetrics(new MetricsRegistry()),
      logger: pino({ level: 'silent' }),
    });
    try {
      await client.start();
      expect(client.state).toBe('up');
      expect(front.secured()).toBe(1);
    } finally {
      await client.stop();
      await front.close();
    }
  });
});
