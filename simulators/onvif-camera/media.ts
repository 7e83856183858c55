import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { encode as encodeJpeg } from 'jpeg-js';
import type { DigestFault } from '../shared/http-digest.ts';
import { RtspServer } from './rtsp-server.ts';
import type { Credentials } from './soap.ts';

/**
 * The camera's pictures: a JPEG snapshot made once at start, and optionally a live H.264 test pattern over RTSP.
 *
 * ffmpeg does the video. The machine's own ffmpeg (Debian's) is preferred; when there is none, the static build
 * inside the `@ffmpeg-installer/ffmpeg` npm package is used, so `npm install` alone is enough. Without any ffmpeg
 * the snapshot comes from a small built-in test pattern encoded with `jpeg-js`, and RTSP is unavailable.
 */

export const SNAPSHOT_WIDTH = 640;
export const SNAPSHOT_HEIGHT = 360;

// ---------------------------------------------------------------------------------------------------------------
// Finding ffmpeg

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The system's ffmpeg on PATH, or undefined. */
export async function systemFfmpeg(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'ffmpeg');
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The static ffmpeg shipped inside the `@ffmpeg-installer/ffmpeg` package, or undefined. */
export async function packagedFfmpeg(): Promise<string | undefined> {
  try {
    const installer = (await import('@ffmpeg-installer/ffmpeg')).default;
    return (await isExecutable(installer.path)) ? installer.path : undefined;
  } catch {
    // The package throws a plain string when its platform binary is missing.
    return undefined;
  }
}

/** ffmpeg to use: the system's first, then the packaged one. */
export async function findFfmpeg(): Promise<string | undefined> {
  return (await systemFfmpeg()) ?? (await packagedFfmpeg());
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots

export function isJpeg(data: Buffer): boolean {
  return (
    data.length > 4 && data[0] === 0xff && data[1] === 0xd8 && data.at(-2) === 0xff && data.at(-1) === 0xd9
  );
}

/** One frame of ffmpeg's `testsrc2` pattern as a JPEG. */
export function ffmpegSnapshot(ffmpeg: string): Promise<Buffer> {
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${SNAPSHOT_WIDTH}x${SNAPSHOT_HEIGHT}:rate=1`,
    '-frames:v',
    '1',
    '-c:v',
    'mjpeg',
    '-f',
    'image2pipe',
    '-',
  ];
  return new Promise((resolve, reject) => {
    execFile(
      ffmpeg,
      args,
      { encoding: 'buffer', timeout: 15_000, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`ffmpeg snapshot failed: ${error.message} ${stderr.toString('utf8').trim()}`));
        } else if (!isJpeg(stdout)) {
          reject(new Error('ffmpeg snapshot is not a JPEG'));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** A 5×7 bitmap font: seven rows of five bits each, as hex pairs. Lower case is drawn as upper case. */
const FONT: Readonly<Record<string, string>> = {
  '0': '0e11131519110e',
  '1': '040c040404040e',
  '2': '0e11010204081f',
  '3': '1f02040201110e',
  '4': '02060a121f0202',
  '5': '1f101e0101110e',
  '6': '0608101e11110e',
  '7': '1f010204080808',
  '8': '0e11110e11110e',
  '9': '0e11110f01020c',
  A: '0e1111111f1111',
  B: '1e11111e11111e',
  C: '0e11101010110e',
  D: '1c12111111121c',
  E: '1f10101e10101f',
  F: '1f10101e101010',
  G: '0e11101711110f',
  H: '1111111f111111',
  I: '0e04040404040e',
  J: '0702020202120c',
  K: '11121418141211',
  L: '1010101010101f',
  M: '111b1515111111',
  N: '11111915131111',
  O: '0e11111111110e',
  P: '1e11111e101010',
  Q: '0e11111115120d',
  R: '1e11111e141211',
  S: '0f10100e01011e',
  T: '1f040404040404',
  U: '1111111111110e',
  V: '11111111110a04',
  W: '1111111515150a',
  X: '11110a040a1111',
  Y: '1111110a040404',
  Z: '1f01020408101f',
  ' ': '00000000000000',
  '-': '0000001f000000',
  ':': '000c0c000c0c00',
  '.': '00000000000c0c',
  '/': '00010204081000',
  _: '0000000000001f',
  '?': '0e110102040004',
};

function glyphRows(char: string): number[] {
  const hex = FONT[char.toUpperCase()] ?? FONT['?'] ?? '';
  const rows: number[] = [];
  for (let i = 0; i < 14; i += 2) rows.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return rows;
}

/**
 * A test card drawn in memory: seven colour bars over a dark band carrying the camera's name and the time,
 * encoded with jpeg-js. For machines with no ffmpeg at all.
 */
export function builtinSnapshot(name: string, time: Date): Buffer {
  const width = SNAPSHOT_WIDTH;
  const height = SNAPSHOT_HEIGHT;
  const rgba = Buffer.alloc(width * height * 4);
  const bars: ReadonlyArray<readonly [number, number, number]> = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
  ];
  const barsHeight = Math.round(height * (2 / 3));
  const setPixel = (x: number, y: number, [r, g, b]: readonly [number, number, number]): void => {
    const offset = (y * width + x) * 4;
    rgba[offset] = r;
    rgba[offset + 1] = g;
    rgba[offset + 2] = b;
    rgba[offset + 3] = 255;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bar = bars[Math.min(bars.length - 1, Math.floor((x * bars.length) / width))] ?? [0, 0, 0];
      setPixel(x, y, y < barsHeight ? bar : [32, 32, 32]);
    }
  }
  const scale = 4;
  const advance = 6 * scale;
  const drawText = (text: string, top: number): void => {
    const printable = [...text]
      .map((c) => (c.charCodeAt(0) < 128 ? c : '?'))
      .slice(0, Math.floor((width - 16) / advance));
    printable.forEach((char, index) => {
      glyphRows(char).forEach((bits, row) => {
        for (let column = 0; column < 5; column++) {
          if ((bits & (0x10 >> column)) === 0) continue;
          for (let dy = 0; dy < scale; dy++) {
            for (let dx = 0; dx < scale; dx++) {
              setPixel(8 + index * advance + column * scale + dx, top + row * scale + dy, [255, 255, 255]);
            }
          }
        }
      });
    });
  };
  drawText(name, barsHeight + 12);
  drawText(time.toISOString().slice(0, 19).replace('T', ' '), barsHeight + 12 + 9 * scale);
  return encodeJpeg({ data: rgba, width, height }, 85).data;
}

// ---------------------------------------------------------------------------------------------------------------
// RTSP

export interface RtspTestStreamOptions {
  /** Address the RTSP server listens on and the stream URL names. */
  readonly host: string;
  readonly ffmpeg: string;
  /** Mount path of the stream. */
  readonly path?: string;
  /** The viewers' account; undefined plays without credentials. */
  readonly account?: () => Credentials | undefined;
  /** A broken Digest authentication to act out (fault knob). */
  readonly digestFault?: () => DigestFault | undefined;
}

/**
 * The camera's own RTSP server (rtsp-server.ts: RTP over TCP interleaved or UDP, Digest authentication) fed by an
 * ffmpeg that publishes `testsrc2` as H.264 with a short GOP over TCP, so a viewer gets a key frame within a second.
 * The port is chosen on the first start and kept, so a restart (a camera reboot) comes back on the same URL.
 */
export class RtspTestStream {
  readonly options: RtspTestStreamOptions;
  readonly #server: RtspServer;
  #ffmpeg: ChildProcess | undefined;
  #ffmpegExit: Promise<void> | undefined;
  #stderr = '';
  #life = new AbortController();

  constructor(options: RtspTestStreamOptions) {
    this.options = options;
    this.#server = new RtspServer({
      host: options.host,
      path: options.path ?? '/stream',
      account: options.account ?? (() => undefined),
      digestFault: options.digestFault ?? (() => undefined),
    });
  }

  get path(): string {
    return this.options.path ?? '/stream';
  }

  /** The viewers' URL; only meaningful once started. */
  get url(): string {
    return this.#server.url;
  }

  /** The RTSP server, for what tests look at (viewers playing, 401s answered). */
  get server(): RtspServer {
    return this.#server;
  }

  /** The publishing ffmpeg's pid while it runs. */
  get pid(): number | undefined {
    const ffmpeg = this.#ffmpeg;
    return ffmpeg !== undefined && ffmpeg.exitCode === null && ffmpeg.signalCode === null
      ? ffmpeg.pid
      : undefined;
  }

  /** Starts the server and the publisher; resolves once the publisher's first packet arrived. */
  async start(): Promise<void> {
    this.#life = new AbortController();
    await this.#server.start();
    await this.#startPublisher(this.#server.publishUrl);
  }

  async stop(): Promise<void> {
    this.#life.abort();
    const ffmpeg = this.#ffmpeg;
    this.#ffmpeg = undefined;
    if (ffmpeg !== undefined && ffmpeg.exitCode === null && ffmpeg.signalCode === null) {
      ffmpeg.kill('SIGTERM');
      const killer = setTimeout(() => ffmpeg.kill('SIGKILL'), 3_000);
      await this.#ffmpegExit;
      clearTimeout(killer);
    }
    await this.#server.stop();
  }

  async #startPublisher(publishUrl: string): Promise<void> {
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-re',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${SNAPSHOT_WIDTH}x${SNAPSHOT_HEIGHT}:rate=10`,
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-g',
      '10',
      '-pix_fmt',
      'yuv420p',
      '-f',
      'rtsp',
      '-rtsp_transport',
      'tcp',
      publishUrl,
    ];
    const ffmpeg = spawn(this.options.ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#ffmpeg = ffmpeg;
    this.#stderr = '';
    ffmpeg.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.#ffmpegExit = new Promise((resolve) => {
      ffmpeg.once('exit', () => resolve());
      ffmpeg.once('error', () => resolve());
    });
    const exited = this.#ffmpegExit.then(() => {
      throw new Error(`ffmpeg publisher exited: ${this.#stderr.trim() || 'no output'}`);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('ffmpeg publisher did not start recording within 15 s')),
        15_000,
      );
    });
    try {
      await Promise.race([this.#server.recording(this.#life.signal), exited, late]);
    } finally {
      clearTimeout(timer);
      exited.catch(() => undefined);
    }
  }
}
