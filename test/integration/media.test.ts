import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { RtspServer } from 'rtsp-streaming-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import { TokenAuthenticator } from '../../src/auth/token-authenticator.ts';
import type { CameraDirectory, CameraMedia } from '../../src/cameras/camera-directory.ts';
import { EvidenceService } from '../../src/cameras/evidence/evidence-service.ts';
import { ffmpegPath } from '../../src/cameras/evidence/ffmpeg.ts';
import { MediaStore } from '../../src/cameras/evidence/media-store.ts';
import type { EvidenceItem, Incident, IncidentChange } from '../../src/core/incident.ts';
import { registerErrorAnswers } from '../../src/http/http-app.ts';
import { mediaRoutes } from '../../src/http/routes/media-routes.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import {
  attachSnapshot,
  connectClient,
  demoDeployment,
  demoGate,
  eventually,
  getJson,
  LogCapture,
  loopbackGuard,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

const run = promisify(execFile);

// Cameras' credentials with characters a URL must escape, so the escaping is exercised end to end.
const cameraUser = 'admin';
const cameraPassword = 'cam:p@ss/42';
const realm = 'IPC';

/** The RTSP source of the ffmpeg unit tests, here asking consumers for Basic credentials. */
async function startRtspSource(): Promise<{ url: string; logins: string[]; stop: () => Promise<void> }> {
  const logins: string[] = [];
  const server = new RtspServer({
    serverPort: 0,
    clientPort: 0,
    rtpPortStart: 30_000 + 2 * Math.floor(Math.random() * 12_000),
    rtpPortCount: 40,
    clientServerHooks: {
      authentication: async (username: string, password: string) => {
        logins.push(`${username}:${password}`);
        return username === cameraUser && password === cameraPassword;
      },
    },
  });
  await server.start();
  const publishPort = (server.PublishServer.server.address() as { port: number }).port;
  const clientPort = (server.ClientServer.server.address() as { port: number }).port;
  const publisher: ChildProcess = spawn(
    ffmpegPath(),
    [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi'],
      ...['-i', 'testsrc2=size=320x240:rate=10', '-c:v', 'libx264', '-preset', 'ultrafast'],
      ...['-tune', 'zerolatency', '-g', '10', '-f', 'rtsp', `rtsp://127.0.0.1:${publishPort}/stream`],
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => publisher.once('exit', () => resolve()));
  await eventually(() => Object.keys(server.Mounts.mounts).length > 0, 10_000);
  return {
    url: `rtsp://127.0.0.1:${clientPort}/stream`,
    logins,
    stop: async () => {
      publisher.kill('SIGTERM');
      const killer = setTimeout(() => publisher.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killer);
      server.PublishServer.server.close();
      server.ClientServer.server.close();
    },
  };
}

/** A camera's snapshot endpoint behind Digest (MD5, qop=auth), serving one JPEG. */
async function startSnapshotServer(jpeg: Buffer): Promise<{ url: string; stop: () => Promise<void> }> {
  const nonces = new Set<string>();
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
  const server: Server = createServer((req, res) => {
    const params: Record<string, string> = {};
    for (const match of (req.headers.authorization ?? '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) {
      params[match[1] as string] = match[2] ?? match[3] ?? '';
    }
    const ha1 = md5(`${cameraUser}:${realm}:${cameraPassword}`);
    const expected = md5(
      `${ha1}:${params.nonce}:${params.nc}:${params.cnonce}:auth:${md5(`GET:${req.url}`)}`,
    );
    if (!nonces.has(params.nonce ?? '') || params.username !== cameraUser || params.response !== expected) {
      const nonce = randomBytes(8).toString('hex');
      nonces.add(nonce);
      res
        .writeHead(401, { 'www-authenticate': `Digest realm="${realm}", qop="auth", nonce="${nonce}"` })
        .end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/onvif-http/snapshot?Profile_1`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The camera directory the ONVIF sessions would provide: two cameras watching the north gate, one PTZ. */
class TestCameras implements CameraDirectory {
  readonly presets: string[] = [];
  constructor(readonly cameras: Record<string, CameraMedia>) {}
  media(cameraId: string): CameraMedia | undefined {
    return this.cameras[cameraId];
  }
  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[] {
    return deviceId === 'gate-xijiao-01-north'
      ? [{ cameraId: 'cam-test-ptz', preset: 'north-gate' }, { cameraId: 'cam-test-fixed' }]
      : [];
  }
  async gotoPreset(cameraId: string, preset: string): Promise<void> {
    this.presets.push(`${cameraId}:${preset}`);
  }
}

/** A Fastify app with the hub's auth hook and error shape, serving only the media routes. */
async function mediaApp(hub: TestHub, media: MediaStore): Promise<FastifyInstance> {
  const authenticator = new TokenAuthenticator({ users: demoDeployment().users, jwtTtlMinutes: 60 });
  const app = Fastify({ logger: false });
  registerErrorAnswers(app);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) request.principal = await authenticator.authenticate(header.slice(7));
  });
  await app.register(mediaRoutes, {
    prefix: '/media',
    media,
    store: hub.testHandle.store,
    visibility: hub.testHandle.visibility,
  });
  await app.ready();
  return app;
}

describe('evidence of a forced gate: snapshots and clips attached when complete, served to who may see them', () => {
  let hub: TestHub;
  let source: Awaited<ReturnType<typeof startRtspSource>>;
  let snapshotServer: Awaited<ReturnType<typeof startSnapshotServer>>;
  let officer: RecordingClient;
  let gate: GateSimulator;
  let media: MediaStore;
  let evidence: EvidenceService;
  let cameras: TestCameras;
  let app: FastifyInstance;
  let jpeg: Buffer;
  const metrics = new MetricsRegistry();
  const logs = new LogCapture();
  const directory = temporaryDirectory('gridhub-media-it-');
  /** Every evidence item pushed, with the size of its file on disk at the moment of the push. */
  const pushed: { item: EvidenceItem; bytesOnDisk: number | undefined }[] = [];
  let incident: Incident;

  beforeAll(async () => {
    const frame = await run(
      ffmpegPath(),
      [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240',
        '-frames:v',
        '1',
        '-f',
        'mjpeg',
        'pipe:1',
      ],
      { encoding: 'buffer' },
    );
    jpeg = frame.stdout;
    hub = await startTestHub();
    source = await startRtspSource();
    snapshotServer = await startSnapshotServer(jpeg);
    const logger = pino({ level: 'debug' }, logs);
    media = new MediaStore({ dataDir: directory.path, logger, metrics });
    await media.start();
    cameras = new TestCameras({
      'cam-test-ptz': {
        cameraId: 'cam-test-ptz',
        snapshotUri: snapshotServer.url,
        streamUri: source.url,
        username: cameraUser,
        password: cameraPassword,
      },
      // No snapshot URI: its snapshot is a frame of its stream.
      'cam-test-fixed': {
        cameraId: 'cam-test-fixed',
        snapshotUri: undefined,
        streamUri: source.url,
        username: cameraUser,
        password: cameraPassword,
      },
    });
    evidence = new EvidenceService({
      bus: hub.hub.bus,
      cameras,
      incidents: hub.testHandle.incidents,
      store: media,
      cameraDeviceIds: (deviceId) => deviceId.startsWith('cam-'),
      clipSeconds: 2,
      presetSettleMs: 100,
      metrics,
      logger,
      guard: loopbackGuard(metrics),
    });
    evidence.start();
    hub.hub.bus.on('incident:updated', ({ after }) => {
      for (const item of after.evidence ?? []) {
        if (pushed.some((seen) => seen.item.url === item.url)) continue;
        let bytesOnDisk: number | undefined;
        try {
          bytesOnDisk = statSync(`${media.root}${item.url.slice('/media'.length)}`).size;
        } catch {
          bytesOnDisk = undefined;
        }
        pushed.push({ item, bytesOnDisk });
      }
    });
    app = await mediaApp(hub, media);
    officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
  });

  afterAll(async () => {
    officer?.close();
    await gate?.stop();
    await evidence?.stop();
    media?.stop();
    await app?.close();
    await snapshotServer?.stop();
    await source?.stop();
    await hub?.stop();
    directory.remove();
    expect(spawnSync('pgrep', ['-f', 'testsrc2']).stdout.toString()).toBe('');
  });

  it('pushes incident:update with the snapshot, then with the clip, each complete on disk when pushed', async () => {
    await gate.forceDoor(2);
    incident = (await officer.nth('incident:new', 1)) as Incident;
    expect(incident.device.id).toBe('gate-xijiao-01-north');
    const evidenceOf = (change: unknown): readonly EvidenceItem[] =>
      (change as IncidentChange).after.evidence ?? [];
    // Four updates, one per attached file: two cameras, a snapshot and a clip each.
    const updates: unknown[] = [];
    for (let n = 1; n <= 4; n++) updates.push(await officer.nth('incident:update', n));
    expect(updates.map((change) => (change as IncidentChange).after.id)).toEqual(Array(4).fill(incident.id));
    expect(updates.map((change) => evidenceOf(change).length)).toEqual([1, 2, 3, 4]);
    const final = evidenceOf(updates[3]);
    for (const cameraId of ['cam-test-ptz', 'cam-test-fixed']) {
      const mine = final.filter((item) => item.cameraId === cameraId);
      expect(mine.map((item) => item.kind)).toEqual(['snapshot', 'clip']);
      expect(mine[0]).toMatchObject({
        url: `/media/${incident.id}/snapshot-${cameraId}.jpg`,
        contentType: 'image/jpeg',
      });
      expect(mine[1]).toMatchObject({
        url: `/media/${incident.id}/clip-${cameraId}.mp4`,
        contentType: 'video/mp4',
      });
      expect(mine[1]?.durationSeconds).toBeGreaterThanOrEqual(1.5);
      expect(mine[1]?.durationSeconds).toBeLessThanOrEqual(2.5);
    }
    // The camera with a snapshot URI gave exactly its JPEG, fetched with Digest.
    expect(final.find((item) => item.cameraId === 'cam-test-ptz' && item.kind === 'snapshot')?.bytes).toBe(
      jpeg.length,
    );
    // Never a link to a file that is not there yet: at each push, every file listed was complete.
    expect(pushed).toHaveLength(4);
    for (const { item, bytesOnDisk } of pushed) expect(bytesOnDisk).toBe(item.bytes);
    expect(cameras.presets).toEqual(['cam-test-ptz:north-gate']);
  });

  it('keeps the files at the stated sizes, decodable, and commits the evidence with its audit entries', async () => {
    const stored = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-xijiao');
    const evidenceItems = (stored.body as Incident).evidence ?? [];
    expect(evidenceItems).toHaveLength(4);
    for (const item of evidenceItems) {
      const file = `${media.root}${item.url.slice('/media'.length)}`;
      expect(statSync(file).size).toBe(item.bytes);
      const bytes = readFileSync(file);
      if (item.kind === 'snapshot') {
        expect([bytes[0], bytes[1], bytes.at(-2), bytes.at(-1)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
      } else {
        const { stdout } = await run('ffprobe', [
          ...['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=noprint_wrappers=1:nokey=1'],
          file,
        ]);
        expect(Number(stdout)).toBeGreaterThanOrEqual(1.5);
        expect(Number(stdout)).toBeLessThanOrEqual(2.5);
      }
    }
    const audit = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}/audit`, 'demo-officer-xijiao');
    const entries = (audit.body as { entries: { action: string }[] }).entries;
    expect(entries.filter((entry) => entry.action === 'incident.evidence')).toHaveLength(4);
    // The stream was read with the camera's credentials, escaped in the URL and unescaped by ffmpeg.
    expect(source.logins).toContain(`${cameraUser}:${cameraPassword}`);
    expect(await metrics.text()).toContain('gridhub_evidence_total{kind="clip",outcome="ok"} 2');
  });

  it('serves the files to the officer and to the worker of that grid, whole and with their type', async () => {
    for (const token of ['demo-officer-xijiao', 'demo-worker-xijiao-01']) {
      for (const kind of ['snapshot', 'clip'] as const) {
        const item = await evidenceItem(kind, 'cam-test-fixed');
        const response = await app.inject({
          method: 'GET',
          url: item.url,
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.statusCode).toBe(200);
        expect(response.headers['content-type']).toBe(item.contentType);
        expect(response.headers['cache-control']).toBe('private');
        expect(response.headers['accept-ranges']).toBe('bytes');
        expect(response.rawPayload.length).toBe(item.bytes);
        expect(
          response.rawPayload.equals(readFileSync(`${media.root}${item.url.slice('/media'.length)}`)),
        ).toBe(true);
      }
    }
  });

  it("answers 404 to another grid's worker and to another street's officer, 401 without a token", async () => {
    const item = await evidenceItem('snapshot', 'cam-test-ptz');
    for (const token of ['demo-worker-xijiao-02', 'demo-officer-tianmushan']) {
      const response = await app.inject({
        method: 'GET',
        url: item.url,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: { code: 'not_found', message: `no media ${item.url}` } });
    }
    const anonymous = await app.inject({ method: 'GET', url: item.url });
    expect(anonymous.statusCode).toBe(401);
  });

  it('answers 404 for a file on disk that is not attached, an unknown incident, and 400 for unsafe names', async () => {
    // On disk in the incident's folder, but never attached: not served.
    await media.write(incident.id, 'snapshot-cam-stray.jpg', jpeg);
    const headers = { authorization: 'Bearer demo-officer-xijiao' };
    const stray = await app.inject({
      method: 'GET',
      url: `/media/${incident.id}/snapshot-cam-stray.jpg`,
      headers,
    });
    expect(stray.statusCode).toBe(404);
    const unknown = await app.inject({
      method: 'GET',
      url: '/media/inc_000000000000000000/clip-x.mp4',
      headers,
    });
    expect(unknown.statusCode).toBe(404);
    const traversal = await app.inject({
      method: 'GET',
      url: `/media/${incident.id}/..%2F..%2Fdata.mdb`,
      headers,
    });
    expect(traversal.statusCode).toBe(400);
  });

  it('answers a byte range of the clip with 206, and an unsatisfiable one with 416', async () => {
    const item = await evidenceItem('clip', 'cam-test-ptz');
    const file = readFileSync(`${media.root}${item.url.slice('/media'.length)}`);
    const headers = { authorization: 'Bearer demo-worker-xijiao-01' };
    const partial = await app.inject({
      method: 'GET',
      url: item.url,
      headers: { ...headers, range: 'bytes=100-1123' },
    });
    expect(partial.statusCode).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 100-1123/${item.bytes}`);
    expect(partial.headers['content-length']).toBe('1024');
    expect(partial.rawPayload.equals(file.subarray(100, 1124))).toBe(true);
    const tail = await app.inject({
      method: 'GET',
      url: item.url,
      headers: { ...headers, range: 'bytes=-10' },
    });
    expect(tail.statusCode).toBe(206);
    expect(tail.rawPayload.equals(file.subarray(file.length - 10))).toBe(true);
    const beyond = await app.inject({
      method: 'GET',
      url: item.url,
      headers: { ...headers, range: `bytes=${item.bytes}-` },
    });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${item.bytes}`);
  });

  it("never logs the cameras' credentials", () => {
    expect(logs.text).toContain('evidence attached');
    expect(logs.text).not.toContain(cameraPassword);
    expect(logs.text).not.toContain(encodeURIComponent(cameraPassword));
    expect(hub.logs.text).not.toContain(cameraPassword);
  });

  async function evidenceItem(kind: EvidenceItem['kind'], cameraId: string): Promise<EvidenceItem> {
    const current =
      hub.testHandle.incidents.active(incident.id) ?? (await hub.testHandle.store.getIncident(incident.id));
    const item = current?.evidence?.find(
      (candidate) => candidate.kind === kind && candidate.cameraId === cameraId,
    );
    if (item === undefined) throw new Error(`no ${kind} of ${cameraId}`);
    return item;
  }
});

describe('a file the incident list links to is served at once', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  let gate: GateSimulator;

  beforeAll(async () => {
    hub = await startTestHub();
    officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
  });

  afterAll(async () => {
    officer?.close();
    await gate?.stop();
    await hub?.stop();
  });

  it('while the store has committed the attachment and the writer has not yet heard so', async () => {
    await gate.forceDoor();
    const incident = (await officer.nth('incident:new', 1)) as Incident;
    const { store, incidents } = hub.testHandle;
    // lmdb-js makes a commit visible to reads before its promise resolves (overlapping sync: the flush comes
    // between, milliseconds, longer under load). Held open here: the commit is real, only its promise waits.
    let release = (): void => undefined;
    const flushed = new Promise<void>((resolve) => {
      release = resolve;
    });
    const saveIncident = store.saveIncident.bind(store);
    store.saveIncident = async (...args) => {
      await saveIncident(...args);
      await flushed;
    };
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 0xff, 0xd9]);
    try {
      const { url, attached } = await attachSnapshot(hub, incident.id, jpeg);
      await eventually(async () => {
        const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=5`, 'demo-officer-xijiao');
        const listed = (body as { incidents: Incident[] }).incidents.find(({ id }) => id === incident.id);
        return listed?.evidence?.some((item) => item.url === url) === true;
      });
      // The active incidents do not hold the attachment yet: the moment the CI run met.
      expect(incidents.active(incident.id)?.evidence ?? []).toEqual([]);
      const response = await fetch(`${hub.httpUrl}${url}`, {
        headers: { authorization: 'Bearer demo-officer-xijiao' },
      });
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(jpeg);
      release();
      expect((await attached)?.evidence).toHaveLength(1);
    } finally {
      release();
      store.saveIncident = saveIncident;
    }
  });
});
