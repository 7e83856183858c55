import { statSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CameraDirectory, CameraMedia } from '../../src/cameras/camera-directory.ts';
import {
  type CaptureTools,
  EvidenceService,
  type EvidenceServiceOptions,
} from '../../src/cameras/evidence/evidence-service.ts';
import { FfmpegError } from '../../src/cameras/evidence/ffmpeg.ts';
import { MediaStore } from '../../src/cameras/evidence/media-store.ts';
import { TypedBus } from '../../src/core/bus.ts';
import type { HubBusEvents } from '../../src/core/events.ts';
import type { EvidenceItem, Incident } from '../../src/core/incident.ts';
import { DigestFetchError } from '../../src/net/digest-fetch.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { LogCapture, temporaryDirectory } from '../helpers/hub.ts';

const jpeg = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.alloc(500, 7),
  Buffer.from([0xff, 0xd9]),
]);
const password = 'p@ss:w0rd/secret';

function incidentOf(id: string, deviceId: string, category = 'intrusion'): Incident {
  const at = new Date().toISOString();
  return {
    id,
    state: 'dispatched',
    title: 'Door forced open',
    category,
    severity: 'critical',
    device: { id: deviceId, name: deviceId, adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: at, attributes: {} },
    gridId: 'grid-xijiao-01',
    chain: [{ id: 'grid-xijiao-01', name: 'Grid 1', level: 'grid' }],
    createdAt: at,
    updatedAt: at,
    occurrences: 1,
    lastOccurredAt: at,
    related: [],
    assignees: [],
    handler: null,
    responsibleNodeId: 'grid-xijiao-01',
    escalations: 0,
    dueAt: null,
    dueStage: null,
    reworks: 0,
    timeline: {},
  };
}

function mediaOf(cameraId: string, parts: Partial<CameraMedia> = {}): CameraMedia {
  return {
    cameraId,
    snapshotUri: `http://10.0.0.9/onvif/snapshot/${cameraId}`,
    streamUri: `rtsp://10.0.0.9:554/${cameraId}/main`,
    username: 'admin',
    password,
    ...parts,
  };
}

/** A directory of stand-in cameras; `steps` records what was asked of them, in order. */
class FakeCameras implements CameraDirectory {
  readonly steps: string[] = [];
  readonly connected = new Map<string, CameraMedia>();
  readonly watches = new Map<string, { cameraId: string; preset?: string }[]>();
  presetFailure: Error | undefined;

  media(cameraId: string): CameraMedia | undefined {
    return this.connected.get(cameraId);
  }

  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[] {
    return this.watches.get(deviceId) ?? [];
  }

  async gotoPreset(cameraId: string, preset: string): Promise<void> {
    this.steps.push(`preset ${cameraId} ${preset}`);
    if (this.presetFailure !== undefined) throw this.presetFailure;
  }
}

/** A gate the clips wait at, so tests can hold captures running. */
class Gate {
  #open = false;
  readonly #waiting: (() => void)[] = [];
  wait(): Promise<void> {
    return this.#open ? Promise.resolve() : new Promise((resolve) => this.#waiting.push(resolve));
  }
  open(): void {
    this.#open = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }
}

async function eventually(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function counted(
  metrics: MetricsRegistry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await metrics.metric(name)?.get();
  return (
    metric?.values.find((value) =>
      Object.entries(labels).every(([key, label]) => value.labels[key] === label),
    )?.value ?? 0
  );
}

describe('taking evidence for new incidents', () => {
  let directory: ReturnType<typeof temporaryDirectory>;
  let bus: TypedBus<HubBusEvents>;
  let cameras: FakeCameras;
  let store: MediaStore;
  let metrics: MetricsRegistry;
  let logs: LogCapture;
  let attached: { incidentId: string; item: EvidenceItem; bytesOnDisk: number | undefined }[];
  let attachAnswer: Incident | undefined;
  let clipGate: Gate;
  let running: number;
  let mostRunning: number;
  let calls: { tool: string; url: string; options: unknown }[];
  let tools: CaptureTools;
  let service: EvidenceService | undefined;

  beforeEach(async () => {
    directory = temporaryDirectory('gridhub-evidence-');
    bus = new TypedBus<HubBusEvents>();
    cameras = new FakeCameras();
    metrics = new MetricsRegistry();
    logs = new LogCapture();
    store = new MediaStore({ dataDir: directory.path, logger: pino({ level: 'silent' }) });
    await store.start();
    attached = [];
    attachAnswer = incidentOf('inc_any', 'any');
    clipGate = new Gate();
    clipGate.open();
    running = 0;
    mostRunning = 0;
    calls = [];
    tools = {
      fetchSnapshot: async (url, options) => {
        calls.push({ tool: 'fetchSnapshot', url, options });
        cameras.steps.push(`snapshot ${url.split('/').at(-1)}`);
        return { bytes: jpeg, contentType: 'image/jpeg' };
      },
      grabFrame: async (url, outFile, options) => {
        calls.push({ tool: 'grabFrame', url, options });
        writeFileSync(outFile, jpeg.subarray(0, 300));
        return { bytes: 300 };
      },
      recordClip: async (url, outFile, options) => {
        calls.push({ tool: 'recordClip', url, options });
        running++;
        mostRunning = Math.max(mostRunning, running);
        try {
          await Promise.race([
            clipGate.wait(),
            new Promise((_, reject) =>
              options.signal?.addEventListener('abort', () =>
                reject(new FfmpegError('aborted', 'capture aborted')),
              ),
            ),
          ]);
        } finally {
          running--;
        }
        writeFileSync(outFile, Buffer.alloc(4_321, 1));
        return { bytes: 4_321, durationSeconds: 9.9 };
      },
    };
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    store.stop();
    directory.remove();
  });

  function startService(options: Partial<EvidenceServiceOptions> = {}): EvidenceService {
    service = new EvidenceService({
      bus,
      cameras,
      incidents: {
        attachEvidence: async (incidentId, item) => {
          const file = `${directory.path}/media${item.url.slice('/media'.length)}`;
          let bytesOnDisk: number | undefined;
          try {
            bytesOnDisk = statSync(file).size;
          } catch {
            bytesOnDisk = undefined;
          }
          attached.push({ incidentId, item, bytesOnDisk });
          return attachAnswer;
        },
      },
      store,
      cameraDeviceIds: (deviceId) => deviceId.startsWith('cam-'),
      presetSettleMs: 0,
      metrics,
      logger: pino({ level: 'debug' }, logs),
      tools,
      ...options,
    });
    service.start();
    return service;
  }

  it('films the device with the cameras watching it: preset first, then a snapshot, then a clip', async () => {
    cameras.connected.set('cam-a', mediaOf('cam-a'));
    cameras.connected.set('cam-b', mediaOf('cam-b'));
    cameras.watches.set('gate-01', [{ cameraId: 'cam-a', preset: 'north-gate' }, { cameraId: 'cam-b' }]);
    startService({ clipSeconds: 7 });
    bus.emit('incident:created', incidentOf('inc_0001', 'gate-01'), 0);
    await eventually(() => attached.length === 4);
    for (const cameraId of ['cam-a', 'cam-b']) {
      const items = attached.filter((entry) => entry.item.cameraId === cameraId);
      expect(items.map((entry) => entry.item.kind)).toEqual(['snapshot', 'clip']);
      expect(items[0]?.item).toEqual({
        kind: 'snapshot',
        cameraId,
        url: `/media/inc_0001/snapshot-${cameraId}.jpg`,
        contentType: 'image/jpeg',
        bytes: jpeg.length,
        capturedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(items[1]?.item).toEqual({
        kind: 'clip',
        cameraId,
        url: `/media/inc_0001/clip-${cameraId}.mp4`,
        contentType: 'video/mp4',
        bytes: 4_321,
        capturedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        durationSeconds: 9.9,
      });
    }
    // Each file was complete, at its stated size, when it was attached.
    expect(attached.every((entry) => entry.bytesOnDisk === entry.item.bytes)).toBe(true);
    expect(attached.every((entry) => entry.incidentId === 'inc_0001')).toBe(true);
    expect(cameras.steps.indexOf('preset cam-a north-gate')).toBeLessThan(
      cameras.steps.indexOf('snapshot cam-a'),
    );
    expect(cameras.steps.filter((step) => step.startsWith('preset'))).toEqual(['preset cam-a north-gate']);
    // The camera's credentials: for the snapshot as options, for ffmpeg in the URL (encoded).
    expect(calls.find((call) => call.tool === 'fetchSnapshot')?.options).toMatchObject({
      username: 'admin',
      password,
    });
    expect(calls.find((call) => call.tool === 'recordClip' && call.url.includes('cam-a'))).toMatchObject({
      url: 'rtsp://admin:p%40ss%3Aw0rd%2Fsecret@10.0.0.9:554/cam-a/main',
      options: { seconds: 7, transport: 'udp' },
    });
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'snapshot', outcome: 'ok' })).toBe(2);
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'clip', outcome: 'ok' })).toBe(2);
    expect(await counted(metrics, 'gridhub_ptz_preset_moves_total', { outcome: 'ok' })).toBe(1);
  });

  it('films an alarming camera with itself, once even when it also watches itself', async () => {
    cameras.connected.set('cam-c', mediaOf('cam-c'));
    cameras.watches.set('cam-c', [{ cameraId: 'cam-c' }]);
    startService();
    bus.emit('incident:created', incidentOf('inc_0002', 'cam-c', 'loitering'), 0);
    await eventually(() => attached.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(attached.map((entry) => `${entry.item.kind} ${entry.item.cameraId}`)).toEqual([
      'snapshot cam-c',
      'clip cam-c',
    ]);
  });

  it.each(['storm', 'device_offline', 'device_tamper', 'power'])(
    'takes nothing for a %s incident',
    async (category) => {
      cameras.connected.set('cam-c', mediaOf('cam-c'));
      startService();
      bus.emit('incident:created', incidentOf('inc_0003', 'cam-c', category), 0);
      bus.emit('incident:created', incidentOf('inc_0004', 'cam-c', 'loitering'), 0);
      await eventually(() => attached.length === 2);
      expect(attached.map((entry) => entry.incidentId)).toEqual(['inc_0004', 'inc_0004']);
    },
  );

  it('takes the categories to skip as an option', async () => {
    cameras.connected.set('cam-c', mediaOf('cam-c'));
    startService({ skipCategories: ['loitering'] });
    bus.emit('incident:created', incidentOf('inc_0005', 'cam-c', 'loitering'), 0);
    bus.emit('incident:created', incidentOf('inc_0006', 'cam-c', 'storm'), 0);
    await eventually(() => attached.length === 2);
    expect(attached.map((entry) => entry.incidentId)).toEqual(['inc_0006', 'inc_0006']);
  });

  it('takes a frame of the stream when the snapshot URI fails or answers something that is not a JPEG', async () => {
    cameras.connected.set('cam-a', mediaOf('cam-a'));
    cameras.connected.set('cam-b', mediaOf('cam-b'));
    cameras.connected.set('cam-n', mediaOf('cam-n', { snapshotUri: undefined }));
    cameras.watches.set('gate-01', [{ cameraId: 'cam-a' }, { cameraId: 'cam-b' }, { cameraId: 'cam-n' }]);
    tools.fetchSnapshot = async (url) => {
      if (url.endsWith('cam-a'))
        throw new DigestFetchError('unauthorized', 'the camera refused the credentials');
      return { bytes: Buffer.from('<html>login</html>'), contentType: 'text/html' };
    };
    startService();
    bus.emit('incident:created', incidentOf('inc_0007', 'gate-01'), 0);
    await eventually(() => attached.length === 6);
    const snapshots = attached.filter((entry) => entry.item.kind === 'snapshot');
    expect(snapshots.map((entry) => [entry.item.cameraId, entry.item.bytes, entry.bytesOnDisk])).toEqual(
      expect.arrayContaining([
        ['cam-a', 300, 300],
        ['cam-b', 300, 300],
        ['cam-n', 300, 300],
      ]),
    );
    expect(
      calls
        .filter((call) => call.tool === 'grabFrame')
        .map((call) => call.url)
        .sort(),
    ).toEqual(
      ['cam-a', 'cam-b', 'cam-n'].map((id) => `rtsp://admin:p%40ss%3Aw0rd%2Fsecret@10.0.0.9:554/${id}/main`),
    );
  });

  it('counts and logs a failed capture without throwing, and never logs credentials or URIs with them', async () => {
    cameras.connected.set('cam-a', mediaOf('cam-a'));
    cameras.watches.set('gate-01', [{ cameraId: 'cam-a' }]);
    tools.fetchSnapshot = async () => {
      throw new DigestFetchError('network', 'the camera could not be reached: ECONNREFUSED');
    };
    tools.grabFrame = async (url) => {
      throw new FfmpegError('failed', `ffmpeg failed: ${url}: 401 Unauthorized (password ${password})`);
    };
    tools.recordClip = async () => {
      throw new FfmpegError('timeout', 'ffmpeg did not finish within 30000 ms');
    };
    startService();
    bus.emit('incident:created', incidentOf('inc_0008', 'gate-01'), 0);
    await eventually(() => logs.text.includes('"no clip"'));
    expect(attached).toEqual([]);
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'snapshot', outcome: 'failed' })).toBe(1);
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'clip', outcome: 'failed' })).toBe(1);
    const lines = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.msg === 'no snapshot')).toMatchObject({
      ns: 'evidence',
      incidentId: 'inc_0008',
      cameraId: 'cam-a',
      reason: expect.stringContaining('401 Unauthorized'),
    });
    expect(lines.find((line) => line.msg === 'no clip')).toMatchObject({
      reason: 'ffmpeg did not finish within 30000 ms',
    });
    expect(logs.text).not.toContain(password);
    expect(logs.text).not.toContain(encodeURIComponent(password));
    expect(logs.text).not.toContain('admin:');
  });

  it('logs a failed preset and captures where the camera points', async () => {
    cameras.connected.set('cam-a', mediaOf('cam-a'));
    cameras.watches.set('gate-01', [{ cameraId: 'cam-a', preset: 'north-gate' }]);
    cameras.presetFailure = new Error('ONVIF fault: ter:NoSuchPreset');
    startService();
    bus.emit('incident:created', incidentOf('inc_0009', 'gate-01'), 0);
    await eventually(() => attached.length === 2);
    expect(await counted(metrics, 'gridhub_ptz_preset_moves_total', { outcome: 'failed' })).toBe(1);
    expect(logs.text).toContain('PTZ preset failed');
    expect(logs.text).toContain('ter:NoSuchPreset');
  });

  it('counts a camera that is not connected as unavailable', async () => {
    cameras.watches.set('gate-01', [{ cameraId: 'cam-gone' }]);
    startService();
    bus.emit('incident:created', incidentOf('inc_0010', 'gate-01'), 0);
    await eventually(() => logs.text.includes('camera not connected'));
    expect(attached).toEqual([]);
    expect(
      await counted(metrics, 'gridhub_evidence_total', { kind: 'snapshot', outcome: 'unavailable' }),
    ).toBe(1);
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'clip', outcome: 'unavailable' })).toBe(
      1,
    );
  });

  it('counts evidence of an incident that is gone as failed', async () => {
    cameras.connected.set('cam-a', mediaOf('cam-a'));
    cameras.watches.set('gate-01', [{ cameraId: 'cam-a' }]);
    attachAnswer = undefined;
    startService();
    bus.emit('incident:created', incidentOf('inc_0011', 'gate-01'), 0);
    await eventually(() => attached.length === 2);
    await eventually(() => logs.text.includes('"no clip"'));
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'clip', outcome: 'failed' })).toBe(1);
  });

  it('runs at most four captures at once, queues the next and drops what is past the queue', async () => {
    clipGate = new Gate();
    const ids = Array.from({ length: 8 }, (_, index) => `cam-${index}`);
    for (const id of ids) cameras.connected.set(id, mediaOf(id));
    cameras.watches.set(
      'gate-01',
      ids.map((cameraId) => ({ cameraId })),
    );
    const evidence = startService({ maxQueued: 2 });
    bus.emit('incident:created', incidentOf('inc_0012', 'gate-01'), 0);
    await eventually(() => running === 4);
    expect(evidence.load).toEqual({ running: 4, queued: 2 });
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'snapshot', outcome: 'dropped' })).toBe(
      2,
    );
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'clip', outcome: 'dropped' })).toBe(2);
    expect(logs.text).toContain('evidence capture dropped: too many waiting');
    clipGate.open();
    await eventually(() => attached.filter((entry) => entry.item.kind === 'clip').length === 6);
    expect(mostRunning).toBe(4);
    expect(evidence.load).toEqual({ running: 0, queued: 0 });
  });

  it('stops by killing running captures and dropping waiting ones; nothing is attached afterwards', async () => {
    clipGate = new Gate();
    const ids = Array.from({ length: 5 }, (_, index) => `cam-${index}`);
    for (const id of ids) cameras.connected.set(id, mediaOf(id));
    cameras.watches.set(
      'gate-01',
      ids.map((cameraId) => ({ cameraId })),
    );
    const evidence = startService();
    bus.emit('incident:created', incidentOf('inc_0013', 'gate-01'), 0);
    await eventually(() => running === 4);
    await evidence.stop();
    service = undefined;
    expect(running).toBe(0);
    expect(evidence.load).toEqual({ running: 0, queued: 0 });
    const attachedAtStop = attached.length;
    expect(attached.filter((entry) => entry.item.kind === 'clip')).toEqual([]);
    expect(await counted(metrics, 'gridhub_evidence_total', { kind: 'clip', outcome: 'aborted' })).toBe(5);
    // A new incident after stop is not listened to.
    bus.emit('incident:created', incidentOf('inc_0014', 'gate-01'), 0);
    clipGate.open();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(attached.length).toBe(attachedAtStop);
  });
});
