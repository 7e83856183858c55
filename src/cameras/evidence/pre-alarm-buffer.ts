import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { OutboundGuard } from '../../net/outbound-address.ts';
import { type CameraDirectory, withCredentials } from '../camera-directory.ts';
import { type RtspTransport, type RunningCopy, recordSegments } from './ffmpeg.ts';

/**
 * A rolling buffer of each camera's recent video, for clips that begin before the alarm (media.preAlarmSeconds):
 * one ffmpeg per camera copies its RTSP stream, without decoding, into short MPEG-TS segments in a ring of files
 * (the segment muxer cuts at key frames), and lists each finished segment with its length. A clip is then the
 * segments that cover [alarm − before, alarm + after], joined into one MP4: no second connection to the camera, and
 * the seconds before the alarm are there because they were being kept all along. It costs one ffmpeg and one stream
 * per camera while the hub runs, and the ring's files on disk; it is off unless configured.
 */

export interface PreAlarmBufferOptions {
  readonly cameras: CameraDirectory;
  /** The devices that are cameras: each gets a ring once its stream is known. */
  readonly cameraIds: () => readonly string[];
  readonly guard: OutboundGuard;
  /** Where the rings live, one directory per camera; emptied at start and stop. */
  readonly directory: string;
  /** How far back a clip may reach. */
  readonly beforeSeconds: number;
  /** The longest clip taken after an alarm (media.clipSeconds), so the ring holds before + after. */
  readonly afterSeconds: number;
  readonly segmentSeconds?: number;
  readonly transport?: RtspTransport;
  readonly logger: Logger;
  /** How often cameras are looked at for a stream to buffer (a session comes up later than the hub). */
  readonly scanMs?: number;
}

/** One finished segment: its file and when its video ends and starts, on the hub's clock. */
export interface Segment {
  readonly file: string;
  readonly startsAt: number;
  readonly endsAt: number;
}

interface Ring {
  readonly directory: string;
  recorder: RunningCopy | undefined;
  /** When its ffmpeg last started, for the backoff after a failure. */
  startedAt: number;
  failures: number;
}

export class PreAlarmBuffers {
  readonly #options: PreAlarmBufferOptions;
  readonly #rings = new Map<string, Ring>();
  #scan: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(options: PreAlarmBufferOptions) {
    this.#options = options;
  }

  get segmentSeconds(): number {
    return this.#options.segmentSeconds ?? 2;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await rm(this.#options.directory, { recursive: true, force: true });
    await mkdir(this.#options.directory, { recursive: true });
    this.#scan = setInterval(() => void this.#follow(), this.#options.scanMs ?? 2_000);
    this.#scan.unref();
    await this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#scan);
    for (const ring of this.#rings.values()) ring.recorder?.stop();
    this.#rings.clear();
    await rm(this.#options.directory, { recursive: true, force: true });
  }

  /** The cameras with a ring running, and how many segments each holds: for /healthz. */
  health() {
    return { state: this.#stopped ? ('down' as const) : ('up' as const), cameras: this.#rings.size };
  }

  /** The finished segments of a camera's ring, oldest first; none when it has no ring. */
  async segments(cameraId: string): Promise<Segment[]> {
    const ring = this.#rings.get(cameraId);
    if (ring === undefined) return [];
    let listing: string;
    try {
      listing = await readFile(path.join(ring.directory, 'segments.csv'), 'utf8');
    } catch {
      return [];
    }
    // "name,start,end" per finished segment, appended as each closes; the ring reuses names, so the newest line of
    // each name is the one on disk.
    const newest = new Map<string, number>();
    for (const line of listing.split('\n')) {
      const [name, start, end] = line.split(',');
      if (name === undefined || !/^\d{3}\.ts$/.test(name) || start === undefined || end === undefined)
        continue;
      newest.set(name, Number(end) - Number(start));
    }
    const found: Segment[] = [];
    for (const [name, seconds] of newest) {
      try {
        const info = await stat(path.join(ring.directory, name));
        if (!(seconds > 0) || info.size === 0) continue;
        found.push({
          file: path.join(ring.directory, name),
          startsAt: info.mtimeMs - seconds * 1000,
          endsAt: info.mtimeMs,
        });
      } catch {
        // Being replaced by the ring: left out.
      }
    }
    return found.sort((a, b) => a.endsAt - b.endsAt);
  }

  /** The segments covering [from, to] (hub clock, ms), in order; empty unless the ring reaches back to `from`. */
  async covering(cameraId: string, from: number, to: number): Promise<Segment[]> {
    return (await this.segments(cameraId)).filter(
      (segment) => segment.endsAt > from && segment.startsAt < to,
    );
  }

  /** Starts a ring for each camera whose stream is known, and again (after a pause) for one whose ffmpeg ended. */
  async #follow(): Promise<void> {
    if (this.#stopped) return;
    const now = Date.now();
    for (const [cameraId, ring] of this.#rings) {
      if (ring.recorder !== undefined || this.#stopped) continue;
      // Ended: again after 2 s, doubling to a minute while it keeps failing.
      if (now - ring.startedAt < Math.min(60_000, 2_000 * 2 ** ring.failures)) continue;
      await this.#run(cameraId, ring);
    }
    for (const cameraId of this.#cameraIds()) {
      if (this.#rings.has(cameraId)) continue;
      const ring: Ring = {
        directory: path.join(this.#options.directory, cameraId.replace(/[^\w.-]/g, '_')),
        recorder: undefined,
        startedAt: 0,
        failures: 0,
      };
      this.#rings.set(cameraId, ring);
      await mkdir(ring.directory, { recursive: true });
      await this.#run(cameraId, ring);
    }
  }

  #cameraIds(): string[] {
    return this.#options.cameraIds().filter((id) => this.#options.cameras.media(id)?.streamUri !== undefined);
  }

  async #run(cameraId: string, ring: Ring): Promise<void> {
    const media = this.#options.cameras.media(cameraId);
    if (media?.streamUri === undefined) return;
    let url: string;
    try {
      url = await this.#options.guard.pinnedUrl(withCredentials(media.streamUri, media), 'stream');
    } catch {
      ring.startedAt = Date.now();
      ring.failures += 1;
      return;
    }
    if (this.#stopped) return;
    // The ring: before + after, and three segments to spare for the one being written and the clip being joined.
    const wrap =
      Math.ceil((this.#options.beforeSeconds + this.#options.afterSeconds) / this.segmentSeconds) + 3;
    await rm(path.join(ring.directory, 'segments.csv'), { force: true });
    ring.startedAt = Date.now();
    let recorder: RunningCopy;
    try {
      recorder = recordSegments(url, {
        directory: ring.directory,
        segmentSeconds: this.segmentSeconds,
        wrap,
        ...(this.#options.transport === undefined ? {} : { transport: this.#options.transport }),
      });
    } catch (error) {
      // No ffmpeg: tried again later, like a recorder that failed.
      ring.failures += 1;
      this.#options.logger.warn(
        { camera: cameraId, reason: (error as Error).message },
        'pre-alarm buffer not started',
      );
      return;
    }
    ring.recorder = recorder;
    void recorder.ended.then((problem) => {
      ring.recorder = undefined;
      if (this.#stopped) return;
      ring.failures = Date.now() - ring.startedAt > 60_000 ? 0 : ring.failures + 1;
      this.#options.logger.warn(
        { camera: cameraId, reason: problem ?? 'the stream ended' },
        'pre-alarm buffer ended: starting it again',
      );
    });
  }
}
