import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';

/**
 * Evidence files on disk: `<dataDir>/media/<incidentId>/<file>`. A file appears under its name only once it is
 * complete (written to a dot-named temporary file, then renamed), so nothing can serve half a clip. Names are
 * checked against strict patterns before they touch a path, so no request can reach outside the media folder.
 * Retention keeps the folder under a size and an age: the incident folders written to longest ago go first.
 */

export interface MediaRetention {
  /** The media folder is kept under this many bytes. */
  readonly maxBytes: number;
  /** An incident's media is removed once its newest file is this old. */
  readonly maxAgeDays: number;
}

/** 20 GiB and 30 days (video of public places is commonly kept 30 days). */
export const defaultRetention: MediaRetention = { maxBytes: 20 * 1024 ** 3, maxAgeDays: 30 };

/** What the media store counts, declared here so that it moves with the store. */
const mediaMetrics = declareMetrics((metrics) => ({
  bytes: metrics.gauge({
    name: 'gridhub_media_bytes',
    help: 'Bytes of evidence media kept on disk.',
  }),
  removed: metrics.counter({
    name: 'gridhub_media_removed_total',
    help: "Incidents' media folders removed by retention, by reason (age, size).",
    labelNames: ['reason'] as const,
  }),
}));

export interface MediaStoreOptions {
  readonly dataDir: string;
  /** Where the files live instead of `<dataDir>/media`: a folder several hub instances share. */
  readonly directory?: string;
  readonly retention?: MediaRetention;
  /** How often retention is enforced besides after each write (ms); 10 minutes by default. */
  readonly sweepMs?: number;
  readonly logger: Logger;
  readonly metrics?: MetricsRegistry;
  readonly now?: () => number;
}

export interface MediaFileInfo {
  readonly bytes: number;
  readonly modifiedAt: number;
}

/** A name that is not one the store will use: refused before it becomes a path. */
export class MediaNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MediaNameError';
  }
}

/** Incident ids as the hub makes them (`inc_…`), and nothing with a dot or a slash. */
export const incidentIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Letters, digits, `.`, `_`, `-`; starting with a letter or digit (dot names are temporary files); no `..`. */
export const mediaFilePattern = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isSafeIncidentId(incidentId: string): boolean {
  return incidentIdPattern.test(incidentId);
}

export function isSafeFileName(file: string): boolean {
  return mediaFilePattern.test(file);
}

interface FolderUsage {
  bytes: number;
  /** When its newest file was written (ms). */
  newest: number;
}

const dayMs = 86_400_000;
/** A temporary file this old is a crashed capture's: clips last seconds, and writing one never takes minutes. */
const abandonedAfterMs = 10 * 60_000;

export class MediaStore {
  /** `<dataDir>/media`, or the directory given. */
  readonly root: string;
  readonly #options: MediaStoreOptions;
  readonly #retention: MediaRetention;
  readonly #log: Logger;
  readonly #now: () => number;
  /** What is on disk, per incident folder; rebuilt by every full sweep. */
  readonly #usage = new Map<string, FolderUsage>();
  /** Folders with a capture in progress: retention leaves them alone until it ends. */
  readonly #busy = new Map<string, number>();
  readonly #bytesGauge: Gauge | undefined;
  readonly #removed: Counter<'reason'> | undefined;
  #total = 0;
  /** Set while a sweep re-reads the disk; #written collects the folders written to meanwhile. */
  #scanning = false;
  readonly #written = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** Sweeps run one at a time, in order. */
  #sweeping: Promise<unknown> = Promise.resolve();

  constructor(options: MediaStoreOptions) {
    this.#options = options;
    this.root = options.directory ?? path.join(options.dataDir, 'media');
    this.#retention = options.retention ?? defaultRetention;
    this.#log = options.logger.child({ ns: 'media' });
    this.#now = options.now ?? Date.now;
    const counted = options.metrics === undefined ? undefined : mediaMetrics(options.metrics);
    this.#bytesGauge = counted?.bytes;
    this.#removed = counted?.removed;
  }

  get retention(): MediaRetention {
    return this.#retention;
  }

  /** Bytes on disk as of the last write or sweep. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Creates the folder, removes temporary files a crash left behind, enforces retention, then keeps doing it. */
  async start(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await this.sweep({ removeTemporary: true });
    this.#timer = setInterval(
      () => {
        this.sweep().catch((error: unknown) =>
          this.#log.warn({ error: (error as Error).message }, 'media retention sweep failed'),
        );
      },
      this.#options.sweepMs ?? 10 * 60_000,
    );
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Where a media file lives. Throws MediaNameError for an unsafe incident id or file name. */
  path(incidentId: string, file: string): string {
    return path.join(this.#folder(incidentId), this.#checkFile(file));
  }

  /** A complete file's size and time; undefined when there is none (or the name is not one we use). */
  async stat(incidentId: string, file: string): Promise<MediaFileInfo | undefined> {
    if (!isSafeIncidentId(incidentId) || !isSafeFileName(file)) return undefined;
    try {
      const info = await stat(this.path(incidentId, file));
      return info.isFile() ? { bytes: info.size, modifiedAt: info.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes bytes atomically (temporary file, then rename), then enforces retention. */
  async write(incidentId: string, file: string, data: Uint8Array): Promise<MediaFileInfo> {
    return this.produce(incidentId, file, async (target) => {
      const temporary = path.join(
        path.dirname(target),
        `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`,
      );
      try {
        await writeFile(temporary, data);
        await rename(temporary, target);
      } catch (error) {
        await unlink(temporary).catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Lets `make` create the file at the path given (it must write it atomically, as ffmpeg.ts does), then counts
   * it and enforces retention. The folder is kept from retention meanwhile.
   */
  async produce(
    incidentId: string,
    file: string,
    make: (target: string) => Promise<void>,
  ): Promise<MediaFileInfo> {
    const target = this.path(incidentId, file);
    this.#busy.set(incidentId, (this.#busy.get(incidentId) ?? 0) + 1);
    let info: MediaFileInfo;
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const previous = await this.stat(incidentId, file);
      await make(target);
      const written = await stat(target);
      info = { bytes: written.size, modifiedAt: written.mtimeMs };
      this.#count(incidentId, info.bytes - (previous?.bytes ?? 0), info.modifiedAt);
    } finally {
      const busy = (this.#busy.get(incidentId) ?? 1) - 1;
      if (busy === 0) this.#busy.delete(incidentId);
      else this.#busy.set(incidentId, busy);
    }
    // Enforced on the in-memory count: over a limit, the oldest folders go now, not at the next periodic sweep.
    await this.#serially(() => this.#enforce(incidentId)).catch((error: unknown) =>
      this.#log.warn({ error: (error as Error).message }, 'media retention failed'),
    );
    return info;
  }

  /**
   * Re-reads the media folder, then removes incident folders past the age limit and, while over the size limit,
   * the ones written to longest ago. Folders with a capture in progress are left alone.
   */
  sweep(options: { removeTemporary?: boolean } = {}): Promise<{ removed: string[] }> {
    return this.#serially(async () => {
      await this.#scan(options.removeTemporary ?? false);
      return this.#enforce();
    });
  }

  #folder(incidentId: string): string {
    if (!isSafeIncidentId(incidentId))
      throw new MediaNameError(`not an incident id: ${JSON.stringify(incidentId)}`);
    return path.join(this.root, incidentId);
  }

  #checkFile(file: string): string {
    if (!isSafeFileName(file)) throw new MediaNameError(`not a media file name: ${JSON.stringify(file)}`);
    return file;
  }

  #count(incidentId: string, bytes: number, at: number): void {
    const usage = this.#usage.get(incidentId) ?? { bytes: 0, newest: 0 };
    usage.bytes += bytes;
    usage.newest = Math.max(usage.newest, at);
    this.#usage.set(incidentId, usage);
    this.#total += bytes;
    if (this.#scanning) this.#written.add(incidentId);
    this.#bytesGauge?.set(this.#total);
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#sweeping.then(work, work);
    this.#sweeping = next.catch(() => undefined);
    return next;
  }

  async #scan(removeTemporary: boolean): Promise<void> {
    this.#written.clear();
    this.#scanning = true;
    const usage = new Map<string, FolderUsage>();
    try {
      const folders = await readdir(this.root, { withFileTypes: true }).catch(() => []);
      for (const folder of folders) {
        if (folder.isDirectory() && isSafeIncidentId(folder.name)) {
          usage.set(folder.name, await this.#measure(folder.name, removeTemporary));
        }
      }
      // A capture that finished while the scan ran may have been missed by it: measure its folder again.
      for (const incidentId of this.#written) usage.set(incidentId, await this.#measure(incidentId, false));
    } finally {
      this.#scanning = false;
    }
    this.#usage.clear();
    this.#total = 0;
    for (const [incidentId, entry] of usage) {
      this.#usage.set(incidentId, entry);
      this.#total += entry.bytes;
    }
    this.#bytesGauge?.set(this.#total);
  }

  /** One incident folder's complete files; temporary (dot) files are removed when asked and no capture runs. */
  async #measure(incidentId: string, removeTemporary: boolean): Promise<FolderUsage> {
    const folderPath = path.join(this.root, incidentId);
    const entry: FolderUsage = { bytes: 0, newest: 0 };
    for (const file of await readdir(folderPath).catch(() => [])) {
      const filePath = path.join(folderPath, file);
      if (file.startsWith('.')) {
        // Only what a crash left behind: a sibling instance sharing the folder may be writing a newer one now.
        if (removeTemporary && !this.#busy.has(incidentId)) {
          const info = await stat(filePath).catch(() => undefined);
          if (info !== undefined && this.#now() - info.mtimeMs > abandonedAfterMs)
            await unlink(filePath).catch(() => undefined);
        }
        continue;
      }
      const info = await stat(filePath).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      entry.bytes += info.size;
      entry.newest = Math.max(entry.newest, info.mtimeMs);
    }
    // An empty folder counts from when it was made, so it ages out too.
    if (entry.newest === 0) entry.newest = (await stat(folderPath).catch(() => undefined))?.mtimeMs ?? 0;
    return entry;
  }

  /** `keep`: the folder just written to, whose file is about to be attached to its incident. */
  async #enforce(keep?: string): Promise<{ removed: string[] }> {
    const removed: string[] = [];
    const cutoff = this.#now() - this.#retention.maxAgeDays * dayMs;
    // Oldest first; ids sort by creation time, which breaks ties.
    const folders = [...this.#usage.entries()].sort(
      ([a, usageA], [b, usageB]) => usageA.newest - usageB.newest || a.localeCompare(b),
    );
    for (const [incidentId, usage] of folders) {
      if (this.#busy.has(incidentId) || incidentId === keep) continue;
      const reason =
        usage.newest < cutoff ? 'age' : this.#total > this.#retention.maxBytes ? 'size' : undefined;
      if (reason === undefined) continue;
      await rm(path.join(this.root, incidentId), { recursive: true, force: true });
      this.#usage.delete(incidentId);
      this.#total -= usage.bytes;
      this.#removed?.labels(reason).inc();
      removed.push(incidentId);
    }
    this.#bytesGauge?.set(this.#total);
    if (removed.length > 0) {
      this.#log.info({ removed: removed.length, bytes: this.#total }, 'media removed by retention');
    }
    return { removed };
  }
}
