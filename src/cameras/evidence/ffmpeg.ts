import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The one module that knows ffmpeg, which it spawns directly (an argument vector, no shell; fluent-ffmpeg, which
 * it used before, was archived upstream in 2025). It grabs a frame and records a clip from an RTSP stream, each
 * into a temporary name renamed into place on success, so a partial file is never visible; a capture that runs
 * past its timeout, or whose signal aborts, has its ffmpeg killed. Only the tail of ffmpeg's stderr is kept.
 */

export type RtspTransport = 'udp' | 'tcp';

export interface CaptureOptions {
  /** Kill ffmpeg and reject past this. */
  readonly timeoutMs?: number;
  /** RTP over UDP (what our simulator's RTSP server speaks) or interleaved in the RTSP connection. */
  readonly transport?: RtspTransport;
  /** Aborting kills ffmpeg and rejects. */
  readonly signal?: AbortSignal;
}

export interface ClipOptions extends CaptureOptions {
  readonly seconds: number;
}

export interface FrameResult {
  readonly bytes: number;
}

export interface ClipResult {
  readonly bytes: number;
  /** As ffmpeg reported it written; the requested length when it did not say. */
  readonly durationSeconds: number;
}

export class FfmpegError extends Error {
  constructor(
    readonly kind: 'timeout' | 'aborted' | 'failed' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'FfmpegError';
  }
}

const defaultFrameTimeoutMs = 15_000;
/** A clip's timeout is its length plus this (connecting, probing, finishing the file). */
const clipOverheadMs = 20_000;
/**
 * Probing stops after a second of stream: cameras send H.264 parameters in the SDP or with each key frame, and
 * ffmpeg's default five seconds would delay every snapshot by as much (measured: 3.9 s → 1.5 s).
 */
const probeOptions = ['-analyzeduration', '1000000', '-probesize', '1000000'];
/**
 * The protocols an RTSP input may use, nested ones included. Defence in depth: a stream URI is checked against
 * network.outbound (rtsp: and rtsps: only) before ffmpeg starts, and `-rtsp_transport` already fails any other
 * demuxer; this keeps ffmpeg from opening anything but RTSP, RTP and their transports whatever a camera answers.
 */
const protocolOptions = ['-protocol_whitelist', 'rtsp,rtsps,rtp,srtp,udp,tcp,tls'];

/** An ffmpeg found on this machine; `bundled` when it is the 2018 static build of @ffmpeg-installer/ffmpeg. */
export interface FfmpegBinary {
  readonly path: string;
  readonly bundled: boolean;
}

let resolved: FfmpegBinary | undefined;

/** The ffmpeg every capture runs: located once, by {@link findFfmpeg} or {@link resolveFfmpeg}. */
export function ffmpegPath(): string {
  resolved ??= findFfmpeg();
  return resolved.path;
}

/** The path of the ffmpeg {@link findFfmpeg} finds. */
export function locateFfmpeg(searchPath: string = process.env.PATH ?? ''): string {
  return findFfmpeg(searchPath).path;
}

/**
 * The system's `ffmpeg` on the search path when there is one that runs (Debian's is current), else the static
 * build of December 2018 shipped in the optional @ffmpeg-installer/ffmpeg package, which no one patches any more:
 * a last resort, announced by {@link resolveFfmpeg}'s caller at start-up.
 */
export function findFfmpeg(searchPath: string = process.env.PATH ?? ''): FfmpegBinary {
  for (const candidate of ffmpegCandidates(searchPath)) {
    if (spawnSync(candidate.path, ['-version'], { stdio: 'ignore', timeout: 10_000 }).status === 0)
      return candidate;
  }
  throw noFfmpeg();
}

/**
 * {@link findFfmpeg} without holding the thread (the hub calls it at start-up, to warn before the first
 * capture); the captures then run what it found.
 */
export async function resolveFfmpeg(searchPath: string = process.env.PATH ?? ''): Promise<FfmpegBinary> {
  if (resolved !== undefined) return resolved;
  for (const candidate of ffmpegCandidates(searchPath)) {
    const ran = await new Promise<boolean>((resolve) => {
      execFile(candidate.path, ['-version'], { timeout: 10_000, maxBuffer: 1024 * 1024 }, (error) =>
        resolve(error === null),
      );
    });
    if (ran) {
      resolved ??= candidate;
      return resolved;
    }
  }
  throw noFfmpeg();
}

function noFfmpeg(): FfmpegError {
  return new FfmpegError(
    'unavailable',
    'no ffmpeg: install it (apt-get install ffmpeg) or the @ffmpeg-installer/ffmpeg package',
  );
}

function ffmpegCandidates(searchPath: string): FfmpegBinary[] {
  const candidates: FfmpegBinary[] = [];
  const system = onPath('ffmpeg', searchPath);
  if (system !== undefined) candidates.push({ path: system, bundled: false });
  try {
    const shipped = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    candidates.push({ path: shipped, bundled: true });
  } catch {
    // Not installed (an optional dependency), or no build for this platform.
  }
  return candidates;
}

function onPath(command: string, searchPath: string): string | undefined {
  for (const directory of searchPath.split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Strips credentials from URLs in ffmpeg's messages: `rtsp://user:secret@host/` → `rtsp://***@host/`. */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@');
}

/** One JPEG frame from an RTSP stream into `outFile`. */
export async function grabFrame(
  rtspUrl: string,
  outFile: string,
  options: CaptureOptions = {},
): Promise<FrameResult> {
  const { bytes } = await runToFile(rtspUrl, outFile, options.timeoutMs ?? defaultFrameTimeoutMs, options, [
    '-frames:v',
    '1',
    '-c:v',
    'mjpeg',
    '-q:v',
    '3',
    '-pix_fmt',
    'yuvj420p',
    '-f',
    'mjpeg',
  ]);
  return { bytes };
}

/**
 * A clip of `seconds` from an RTSP stream into `outFile` (MP4, moov atom first so it plays while it downloads).
 * The video is copied as the camera encodes it; when the container will not take that codec, it is re-encoded
 * to H.264 instead. Sound is left out: cameras in public places should not record residents' conversations,
 * and their G.711 audio does not fit MP4 anyway.
 */
export async function recordClip(
  rtspUrl: string,
  outFile: string,
  options: ClipOptions,
): Promise<ClipResult> {
  if (!(options.seconds > 0))
    throw new FfmpegError('failed', `a clip needs a positive length, not ${options.seconds}`);
  const timeoutMs = options.timeoutMs ?? options.seconds * 1000 + clipOverheadMs;
  const common = [
    '-map',
    '0:v:0',
    '-an',
    '-t',
    String(options.seconds),
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
  ];
  const started = Date.now();
  let result: { bytes: number; stderr: string };
  try {
    result = await runToFile(rtspUrl, outFile, timeoutMs, options, ['-c:v', 'copy', ...common]);
  } catch (error) {
    if (!(error instanceof FfmpegError && error.kind === 'failed' && codecRefused.test(error.message)))
      throw error;
    const left = timeoutMs - (Date.now() - started);
    if (left <= 0) throw new FfmpegError('timeout', `ffmpeg did not finish within ${timeoutMs} ms`);
    result = await runToFile(rtspUrl, outFile, left, options, [
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      ...common,
    ]);
  }
  return { bytes: result.bytes, durationSeconds: writtenSeconds(result.stderr) ?? options.seconds };
}

/** What ffmpeg says when the stream's codec cannot be copied into MP4. */
const codecRefused = /not currently supported in container|could not write header|codec tag/i;

/** The last `time=HH:MM:SS.ss` of ffmpeg's progress lines: how much it wrote. */
function writtenSeconds(stderr: string): number | undefined {
  const times = [...stderr.matchAll(/time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/g)];
  const last = times.at(-1);
  if (last === undefined) return undefined;
  const seconds = Number(last[1]) * 3600 + Number(last[2]) * 60 + Number(last[3]);
  return seconds > 0 ? Math.round(seconds * 100) / 100 : undefined;
}

/** Every ffmpeg this module started and has not seen end, so none outlives the process. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  running.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const leftover of running) leftover.kill('SIGKILL');
  });
}

/**
 * How much of ffmpeg's stderr is kept: its last lines, enough for the final progress line and the error that
 * ended it. A stream that logs a warning per packet for a minute would otherwise fill the heap.
 */
export const stderrLimitBytes = 64 * 1024;

/** The last `limit` bytes of a stream, kept in the chunks it came in. */
export class TailBuffer {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#chunks.length > 1 && this.#bytes - (this.#chunks[0]?.length ?? 0) >= this.limit) {
      this.#bytes -= this.#chunks.shift()?.length ?? 0;
    }
  }

  toString(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/** Runs one ffmpeg from the stream to a temporary file beside `outFile`, renamed over it on success. */
function runToFile(
  rtspUrl: string,
  outFile: string,
  timeoutMs: number,
  options: CaptureOptions,
  outputOptions: readonly string[],
): Promise<{ bytes: number; stderr: string }> {
  // A dot name, which the media store neither serves nor counts as a finished file, in the same directory as
  // the target so the rename is atomic.
  const temporary = path.join(
    path.dirname(outFile),
    `.${path.basename(outFile)}.${randomBytes(6).toString('hex')}.part`,
  );
  return new Promise((resolve, reject) => {
    const signal = options.signal;
    if (signal?.aborted) {
      reject(new FfmpegError('aborted', 'capture aborted before ffmpeg started'));
      return;
    }
    let binary: string;
    try {
      binary = ffmpegPath();
    } catch (error) {
      reject(error);
      return;
    }
    const args = [
      ...[
        '-hide_banner',
        '-nostdin',
        ...probeOptions,
        ...protocolOptions,
        '-rtsp_transport',
        options.transport ?? 'udp',
      ],
      ...['-i', rtspUrl, ...outputOptions, '-y', temporary],
    ];
    // An argument vector, never a shell: the URL comes from a camera and is passed as one argument.
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], shell: false });
    track(child);
    const stderr = new TailBuffer(stderrLimitBytes);
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let cancelled: FfmpegError | undefined;
    let settled = false;
    const cancel = (reason: FfmpegError): void => {
      if (cancelled !== undefined) return;
      cancelled = reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => cancel(new FfmpegError('timeout', `ffmpeg did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => cancel(new FfmpegError('aborted', 'capture aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (outcome: { bytes: number; stderr: string } | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      running.delete(child);
      if (outcome instanceof Error) {
        unlink(temporary).catch(() => undefined);
        reject(outcome);
      } else {
        resolve(outcome);
      }
    };
    // Spawning failed (the binary vanished, no memory for a process): 'close' may not follow.
    child.once('error', (error: Error) => {
      finish(cancelled ?? new FfmpegError('failed', `ffmpeg failed: ${redactUrls(error.message)}`));
    });
    // 'close', not 'exit': stderr has been read to its end.
    child.once('close', (code: number | null, exitSignal: NodeJS.Signals | null) => {
      if (cancelled !== undefined) {
        finish(cancelled);
        return;
      }
      const text = stderr.toString();
      if (code !== 0) {
        const how = code === null ? `was killed by ${exitSignal}` : `exited with code ${code}`;
        finish(new FfmpegError('failed', `ffmpeg failed: ${lastLines(text, `ffmpeg ${how}`)}`));
        return;
      }
      stat(temporary)
        .then(async (info) => {
          if (info.size === 0) throw new FfmpegError('failed', 'ffmpeg wrote an empty file');
          await rename(temporary, outFile);
          finish({ bytes: info.size, stderr: text });
        })
        .catch((error: unknown) =>
          finish(
            error instanceof FfmpegError
              ? error
              : new FfmpegError('failed', `ffmpeg wrote no file: ${(error as Error).message}`),
          ),
        );
    });
  });
}

/** What ffmpeg says when something went wrong, as opposed to its progress and stream descriptions. */
const errorLine =
  /error|fail|invalid|could not|not found|not supported|unauthori[sz]ed|forbidden|refused|denied|timed out|no such|unable|\b[45]\d\d\b/i;
const noiseLine =
  /^(Last message repeated|Stream mapping|Stream #|Input #|Output #|Metadata|Duration|frame=|size=)/;

/** ffmpeg's last error lines, credentials removed, for an error message. */
function lastLines(stderr: string, fallback: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim().replace(/^\[([\w:-]+) @ 0x[0-9a-f]+\]\s*/, '$1: '))
    .filter((line) => line !== '' && !noiseLine.test(line));
  const errors = lines.filter((line) => errorLine.test(line));
  const tail = (errors.length > 0 ? errors : lines).slice(-2).join(' / ');
  return redactUrls((tail === '' ? fallback : tail).slice(0, 500));
}

/** A live view: ffmpeg's fragmented MP4 on `stream`, until `stop()` or the camera's stream ends. */
export interface LiveStream extends RunningCopy {
  readonly stream: NodeJS.ReadableStream;
}

/** An ffmpeg copying a camera's video somewhere, for as long as it runs. */
export interface RunningCopy {
  /** Ends it: ffmpeg is killed (idempotent). */
  stop(): void;
  /** Settles when ffmpeg has ended, with why when it was not stopped: the tail of its errors. */
  readonly ended: Promise<string | undefined>;
}

/**
 * An RTSP stream as fragmented MP4 on ffmpeg's stdout, for a browser's <video> (no plugin, no transcoding: the
 * camera's H.264 is copied; sound is left out, as in clips). Fragments start at key frames, with an empty moov first,
 * so the browser plays from the first fragment it gets; `-frag_duration` keeps them short when the camera's key
 * frames are far apart.
 */
export function streamLive(rtspUrl: string, options: { transport?: RtspTransport } = {}): LiveStream {
  const { child, copy } = copyVideo(rtspUrl, options.transport ?? 'tcp', 'pipe', [
    '-f',
    'mp4',
    '-movflags',
    'frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration',
    '500000',
    'pipe:1',
  ]);
  return { ...copy, stream: child.stdout as NodeJS.ReadableStream };
}

/**
 * An RTSP stream into a ring of MPEG-TS segments of about `segmentSeconds` (cut at key frames, copied, not decoded):
 * `directory/000.ts` … reused after `wrap` of them, each listed in `directory/segments.csv` as `name,start,end` once
 * finished. The pre-alarm buffer's recorder (pre-alarm-buffer.ts).
 */
export function recordSegments(
  rtspUrl: string,
  options: { directory: string; segmentSeconds: number; wrap: number; transport?: RtspTransport },
): RunningCopy {
  return copyVideo(rtspUrl, options.transport ?? 'tcp', 'ignore', [
    '-f',
    'segment',
    '-segment_time',
    String(options.segmentSeconds),
    '-segment_wrap',
    String(options.wrap),
    '-segment_format',
    'mpegts',
    '-segment_list',
    path.join(options.directory, 'segments.csv'),
    '-segment_list_type',
    'csv',
    '-reset_timestamps',
    '1',
    path.join(options.directory, '%03d.ts'),
  ]).copy;
}

/** One ffmpeg copying the stream's first video, without sound, to `output`; tracked so that none outlives the hub. */
function copyVideo(
  rtspUrl: string,
  transport: RtspTransport,
  stdout: 'pipe' | 'ignore',
  output: readonly string[],
): { child: ChildProcess; copy: RunningCopy } {
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', ...probeOptions, ...protocolOptions],
    ...['-rtsp_transport', transport, '-i', rtspUrl, '-map', '0:v:0', '-an', '-c:v', 'copy', ...output],
  ];
  // An argument vector, never a shell: the URL comes from a camera and is passed as one argument.
  const child = spawn(ffmpegPath(), args, { stdio: ['ignore', stdout, 'pipe'], shell: false });
  track(child);
  const stderr = new TailBuffer(stderrLimitBytes);
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  let stopped = false;
  const ended = new Promise<string | undefined>((resolve) => {
    child.once('error', (error: Error) => {
      running.delete(child);
      resolve(stopped ? undefined : redactUrls(error.message));
    });
    child.once('close', (code: number | null) => {
      running.delete(child);
      resolve(
        stopped || code === 0 ? undefined : lastLines(stderr.toString(), `ffmpeg exited with code ${code}`),
      );
    });
  });
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGKILL');
  };
  return { child, copy: { stop, ended } };
}

/** Video files (the ring's segments) joined into one MP4, copied, moov first so it plays while it downloads. */
export function joinVideo(files: readonly string[], outFile: string, timeoutMs = 30_000): Promise<void> {
  if (files.length === 0) return Promise.reject(new FfmpegError('failed', 'no video to join'));
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-protocol_whitelist', 'concat,file'],
    ...['-i', `concat:${files.join('|')}`, '-map', '0:v:0', '-c:v', 'copy', '-movflags', '+faststart'],
    ...['-f', 'mp4', '-y', outFile],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'], shell: false });
    track(child);
    const stderr = new TailBuffer(stderrLimitBytes);
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      running.delete(child);
      if (error === undefined) resolve();
      else reject(error);
    };
    child.once('error', (error: Error) =>
      finish(new FfmpegError('failed', `ffmpeg failed: ${error.message}`)),
    );
    child.once('close', (code: number | null) =>
      finish(
        code === 0
          ? undefined
          : new FfmpegError(
              'failed',
              `joining video failed: ${lastLines(stderr.toString(), `ffmpeg exited with code ${code}`)}`,
            ),
      ),
    );
  });
}

/** The container ffmpeg writes for each uploaded video type, as `-f` names it. */
const uploadFormats = { 'video/mp4': 'mp4', 'video/webm': 'webm', 'video/quicktime': 'mov' } as const;

/**
 * An uploaded video copied without its metadata (#24 field evidence): `-map_metadata -1` drops the global, stream
 * and chapter tags (a phone's location, make, model, creation time), `-map_chapters -1` the chapters, every stream
 * copied as it is (no re-encoding). The output is written to `outFile` as `make` of the media store wants it: the
 * caller gives a temporary name and renames. Tracked so that none outlives the hub; killed past `timeoutMs`.
 */
export function stripVideoMetadata(
  inFile: string,
  outFile: string,
  type: keyof typeof uploadFormats,
  timeoutMs = 60_000,
): Promise<void> {
  const format = uploadFormats[type];
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-protocol_whitelist', 'file'],
    ...['-i', inFile, '-map', '0', '-map_metadata', '-1', '-map_chapters', '-1', '-c', 'copy'],
    // bitexact: no encoder tag naming the ffmpeg build; faststart: the moov first, so it plays while it downloads.
    ...['-fflags', '+bitexact', ...(format === 'webm' ? [] : ['-movflags', '+faststart'])],
    ...['-f', format, '-y', outFile],
  ];
  return new Promise((resolve, reject) => {
    let binary: string;
    try {
      binary = ffmpegPath();
    } catch (error) {
      reject(error);
      return;
    }
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], shell: false });
    track(child);
    const stderr = new TailBuffer(stderrLimitBytes);
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(child);
      if (error === undefined) resolve();
      else reject(error);
    };
    child.once('error', (error: Error) =>
      finish(new FfmpegError('failed', `ffmpeg failed: ${error.message}`)),
    );
    child.once('close', (code: number | null) =>
      finish(
        timedOut
          ? new FfmpegError('timeout', `ffmpeg did not finish within ${timeoutMs} ms`)
          : code === 0
            ? undefined
            : new FfmpegError(
                'failed',
                `stripping the video failed: ${lastLines(stderr.toString(), `ffmpeg exited with code ${code}`)}`,
              ),
      ),
    );
  });
}
