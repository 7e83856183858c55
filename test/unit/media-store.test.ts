import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isSafeFileName, MediaNameError, MediaStore } from '../../src/cameras/evidence/media-store.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { temporaryDirectory } from '../helpers/hub.ts';

const logger = pino({ level: 'silent' });
const dayMs = 86_400_000;

/** Sets every file of an incident's folder to have been written `daysAgo` days before `now`. */
function age(store: MediaStore, incidentId: string, now: number, daysAgo: number): void {
  const folder = path.join(store.root, incidentId);
  const when = new Date(now - daysAgo * dayMs);
  for (const file of readdirSync(folder)) utimesSync(path.join(folder, file), when, when);
}

async function sample(
  metrics: MetricsRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await metrics.metric(name)?.get();
  const value = metric?.values.find((candidate) =>
    Object.entries(labels).every(([key, label]) => candidate.labels[key] === label),
  );
  return value?.value ?? 0;
}

describe('the media store', () => {
  let directory: ReturnType<typeof temporaryDirectory>;
  let store: MediaStore | undefined;

  beforeEach(() => {
    directory = temporaryDirectory('gridhub-media-');
  });

  afterEach(() => {
    store?.stop();
    store = undefined;
    vi.useRealTimers();
    directory.remove();
  });

  it('keeps files under <dataDir>/media/<incidentId>/<file> and reports their size', async () => {
    store = new MediaStore({ dataDir: directory.path, logger });
    await store.start();
    const info = await store.write('inc_0001', 'snapshot-cam-01.jpg', Buffer.from('jpeg bytes'));
    const file = path.join(directory.path, 'media', 'inc_0001', 'snapshot-cam-01.jpg');
    expect(store.path('inc_0001', 'snapshot-cam-01.jpg')).toBe(file);
    expect(readFileSync(file, 'utf8')).toBe('jpeg bytes');
    expect(info.bytes).toBe(10);
    expect(await store.stat('inc_0001', 'snapshot-cam-01.jpg')).toMatchObject({ bytes: 10 });
    expect(await store.stat('inc_0001', 'clip-cam-01.mp4')).toBeUndefined();
    expect(store.totalBytes).toBe(10);
  });

  it('replaces a file atomically: a reader sees the old or the new content, never part of one', async () => {
    store = new MediaStore({ dataDir: directory.path, logger });
    await store.start();
    const old = Buffer.alloc(1024 * 1024, 'a');
    const next = Buffer.alloc(8 * 1024 * 1024, 'b');
    await store.write('inc_0001', 'clip.mp4', old);
    const file = store.path('inc_0001', 'clip.mp4');
    const seen = new Set<string>();
    let done = false;
    const writing = store.write('inc_0001', 'clip.mp4', next).finally(() => {
      done = true;
    });
    while (!done) {
      const content = readFileSync(file);
      seen.add(content.equals(old) ? 'old' : content.equals(next) ? 'new' : `partial ${content.length}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writing;
    expect([...seen].filter((what) => what.startsWith('partial'))).toEqual([]);
    expect(readFileSync(file).equals(next)).toBe(true);
    expect(readdirSync(path.dirname(file))).toEqual(['clip.mp4']);
    expect(store.totalBytes).toBe(next.length);
  });

  it('leaves nothing under the name when producing the file fails', async () => {
    store = new MediaStore({ dataDir: directory.path, logger });
    await store.start();
    await expect(
      store.produce('inc_0002', 'clip-cam-01.mp4', async () => {
        throw new Error('ffmpeg failed');
      }),
    ).rejects.toThrow('ffmpeg failed');
    expect(await store.stat('inc_0002', 'clip-cam-01.mp4')).toBeUndefined();
    expect(store.totalBytes).toBe(0);
  });

  it.each([
    ['..', 'x.jpg'],
    ['inc_1', '../x.jpg'],
    ['inc_1', '..'],
    ['inc_1', 'a/b.jpg'],
    ['inc_1', 'a\\b.jpg'],
    ['inc_1', '.x.jpg.1234.part'],
    ['inc_1', 'x..jpg'],
    ['inc/../..', 'x.jpg'],
    ['', 'x.jpg'],
    ['inc_1', ''],
    ['inc_1', '%2e%2e%2fpasswd'],
    ['inc.1', 'x.jpg'],
  ])('refuses the incident id %j with file %j before it becomes a path', async (incidentId, file) => {
    store = new MediaStore({ dataDir: directory.path, logger });
    await store.start();
    expect(() => store?.path(incidentId, file)).toThrow(MediaNameError);
    expect(await store.stat(incidentId, file)).toBeUndefined();
    await expect(store.write(incidentId, file, Buffer.from('x'))).rejects.toThrow(MediaNameError);
    expect(readdirSync(directory.path)).toEqual(['media']);
    expect(readdirSync(store.root)).toEqual([]);
  });

  it('accepts the names the evidence pipeline makes', () => {
    expect(isSafeFileName('snapshot-cam.xijiao_01-north.jpg')).toBe(true);
    expect(isSafeFileName('clip-cam-xijiao-01.mp4')).toBe(true);
  });

  it('removes the folders written to longest ago while over the size limit, after a write', async () => {
    const metrics = new MetricsRegistry();
    store = new MediaStore({
      dataDir: directory.path,
      logger,
      metrics,
      retention: { maxBytes: 2_500, maxAgeDays: 30 },
    });
    await store.start();
    const now = Date.now();
    await store.write('inc_0001', 'a.jpg', Buffer.alloc(1_000));
    age(store, 'inc_0001', now, 3);
    await store.write('inc_0002', 'a.jpg', Buffer.alloc(1_000));
    age(store, 'inc_0002', now, 2);
    // Written to last, though created first: it stays, the others go oldest first.
    await store.write('inc_0000', 'a.jpg', Buffer.alloc(400));
    // Re-read from disk, so the ages above count; 2,400 bytes are under the limit.
    expect(await store.sweep()).toEqual({ removed: [] });
    expect(store.totalBytes).toBe(2_400);
    await store.write('inc_0003', 'a.jpg', Buffer.alloc(1_000));
    expect(readdirSync(store.root).sort()).toEqual(['inc_0000', 'inc_0002', 'inc_0003']);
    expect(store.totalBytes).toBe(2_400);
    await store.write('inc_0003', 'b.jpg', Buffer.alloc(400));
    expect(readdirSync(store.root).sort()).toEqual(['inc_0000', 'inc_0003']);
    expect(store.totalBytes).toBe(1_800);
    expect(await sample(metrics, 'gridhub_media_removed_total', { reason: 'size' })).toBe(2);
    expect(await sample(metrics, 'gridhub_media_bytes')).toBe(1_800);
  });

  it('removes the folders past the age limit on its periodic sweep', async () => {
    // Only the sweep's interval is faked: the test turns it by the default ten minutes instead of configuring a
    // short one and waiting. The files, the sweep's reads of them and the wait below stay real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const metrics = new MetricsRegistry();
    const now = Date.now();
    store = new MediaStore({
      dataDir: directory.path,
      logger,
      metrics,
      retention: { maxBytes: 1e9, maxAgeDays: 7 },
    });
    await store.start();
    await store.write('inc_old', 'a.jpg', Buffer.alloc(100));
    await store.write('inc_new', 'a.jpg', Buffer.alloc(100));
    age(store, 'inc_old', now, 8);
    age(store, 'inc_new', now, 6);
    vi.advanceTimersByTime(10 * 60_000);
    const deadline = Date.now() + 5_000;
    while (existsSync(path.join(store.root, 'inc_old')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(readdirSync(store.root)).toEqual(['inc_new']);
    expect(await sample(metrics, 'gridhub_media_removed_total', { reason: 'age' })).toBe(1);
    expect(store.totalBytes).toBe(100);
  });

  it('counts what is already on disk at start, and removes temporary files a crash left behind', async () => {
    const folder = path.join(directory.path, 'media', 'inc_0009');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'snapshot-cam-01.jpg'), Buffer.alloc(321));
    writeFileSync(path.join(folder, '.clip-cam-01.mp4.0a1b2c.part'), Buffer.alloc(999));
    // A temporary file of a capture a sibling instance (sharing the folder) is writing right now.
    writeFileSync(path.join(folder, '.clip-cam-02.mp4.3d4e5f.part'), Buffer.alloc(10));
    const crashedAt = new Date(Date.now() - 11 * 60_000);
    utimesSync(path.join(folder, '.clip-cam-01.mp4.0a1b2c.part'), crashedAt, crashedAt);
    store = new MediaStore({ dataDir: directory.path, logger });
    await store.start();
    expect(readdirSync(folder).sort()).toEqual(['.clip-cam-02.mp4.3d4e5f.part', 'snapshot-cam-01.jpg']);
    expect(store.totalBytes).toBe(321);
  });

  it('lives in the directory given, which several instances may share', async () => {
    const shared = path.join(directory.path, 'shared-media');
    store = new MediaStore({ dataDir: directory.path, directory: shared, logger });
    await store.start();
    await store.write('inc_0002', 'snapshot.jpg', Buffer.alloc(5));
    expect(store.root).toBe(shared);
    expect(readdirSync(path.join(shared, 'inc_0002'))).toEqual(['snapshot.jpg']);
  });

  it('leaves a folder alone while a capture into it is in progress', async () => {
    let now = Date.now();
    store = new MediaStore({
      dataDir: directory.path,
      logger,
      retention: { maxBytes: 1e9, maxAgeDays: 1 },
      now: () => now,
    });
    await store.start();
    await store.write('inc_0001', 'snapshot.jpg', Buffer.alloc(100));
    let finish: () => void = () => undefined;
    let started: () => void = () => undefined;
    const capture = new Promise<void>((resolve) => {
      started = resolve;
    });
    const capturing = store.produce('inc_0001', 'clip.mp4', async (target) => {
      await new Promise<void>((resolve) => {
        finish = resolve;
        started();
      });
      writeFileSync(target, Buffer.alloc(200));
    });
    // The capture is under way (produce may prepare its folder first): only then is `finish` its own.
    await capture;
    now += 2 * dayMs;
    expect(await store.sweep()).toEqual({ removed: [] });
    finish();
    await capturing;
    expect(await store.stat('inc_0001', 'clip.mp4')).toMatchObject({ bytes: 200 });
    now += 2 * dayMs;
    expect(await store.sweep()).toEqual({ removed: ['inc_0001'] });
    expect(readdirSync(store.root)).toEqual([]);
  });
});
