import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { RtspServer } from 'rtsp-streaming-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FfmpegError,
  ffmpegPath,
  grabFrame,
  locateFfmpeg,
  recordClip,
  redactUrls,
  stderrLimitBytes,
  TailBuffer,
} from '../../src/cameras/evidence/ffmpeg.ts';
import { temporaryDirectory } from '../helpers/hub.ts';

const run = promisify(execFile);

/**
 * A live RTSP source on loopback: rtsp-streaming-server (RTP over UDP only) fed by ffmpeg's test pattern, in
 * H.264 at `/stream` (what cameras send) and in VP8 at `/vp8` (a codec MP4 will not take). Consumers read
 * `url(path)`.
 */
async function startRtspSource(): Promise<{ url: (path: string) => string; stop: () => Promise<void> }> {
  const server = new RtspServer({
    serverPort: 0,
    clientPort: 0,
    // An even start, away from other tests' ranges; the server walks on when a port is taken.
    rtpPortStart: 30_000 + 2 * Math.floor(Math.random() * 12_000),
    rtpPortCount: 40,
  });
  await server.start();
  const publishPort = (server.PublishServer.server.address() as { port: number }).port;
  const clientPort = (server.ClientServer.server.address() as { port: number }).port;
  const encodings: Record<string, string[]> = {
    '/stream': ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '10'],
    '/vp8': ['-c:v', 'libvpx', '-deadline', 'realtime', '-g', '10'],
  };
  const publishers = Object.entries(encodings).map(([mount, encoding]) => {
    const publisher: ChildProcess = spawn(
      ffmpegPath(),
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi'],
        ...['-i', 'testsrc2=size=320x240:rate=10', ...encoding],
        ...['-f', 'rtsp', `rtsp://127.0.0.1:${publishPort}${mount}`],
      ],
      { stdio: 'ignore' },
    );
    return { publisher, exited: new Promise<void>((resolve) => publisher.once('exit', () => resolve())) };
  });
  const deadline = Date.now() + 10_000;
  while (Object.keys(server.Mounts.mounts).length < publishers.length) {
    if (Date.now() > deadline) throw new Error('the test pattern never reached the RTSP server');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: (mount: string) => `rtsp://127.0.0.1:${clientPort}${mount}`,
    stop: async () => {
      for (const { publisher, exited } of publishers) {
        publisher.kill('SIGTERM');
        const killer = setTimeout(() => publisher.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(killer);
      }
      server.PublishServer.server.close();
      server.ClientServer.server.close();
    },
  };
}

/** Command lines of running processes that mention `text` (this test's own pgrep excluded). */
function processesMentioning(text: string): string[] {
  const result = spawnSync('pgrep', ['-af', text], { encoding: 'utf8' });
  return result.stdout.split('\n').filter((line) => line.trim() !== '' && !line.includes('pgrep'));
}

async function ffprobeDuration(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=noprint_wrappers=1:nokey=1'],
    file,
  ]);
  return Number(stdout.trim());
}

/** Counts the frames ffprobe can decode: a file that is not a playable video fails here. */
async function decodedFrames(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=nb_read_frames', '-of', 'default=noprint_wrappers=1:nokey=1', file],
  ]);
  return Number(stdout.trim());
}

/** A TCP server that accepts connections and never says a word: an RTSP camera that hangs. */
async function startSilentServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('locating ffmpeg', () => {
  it('prefers the system ffmpeg on the search path', () => {
    const which = spawnSync('which', ['ffmpeg'], { encoding: 'utf8' }).stdout.trim();
    expect(which).not.toBe('');
    expect(locateFfmpeg()).toBe(which);
    expect(ffmpegPath()).toBe(which);
  });

  it('falls back to the binary shipped in @ffmpeg-installer/ffmpeg when none is on the path', () => {
    const shipped = locateFfmpeg('');
    expect(shipped).toContain(`${path.sep}@ffmpeg-installer${path.sep}`);
    expect(spawnSync(shipped, ['-version']).status).toBe(0);
  });
});

describe("keeping ffmpeg's stderr", () => {
  it('keeps its last bytes only, however much it writes', () => {
    const tail = new TailBuffer(stderrLimitBytes);
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 100_000; i++) tail.push(Buffer.from(line));
    tail.push(Buffer.from('Server returned 404 Not Found\n'));
    const kept = tail.toString();
    expect(kept.length).toBe(stderrLimitBytes);
    expect(kept.endsWith('Server returned 404 Not Found\n')).toBe(true);
  });

  it('keeps all of a short stderr', () => {
    const tail = new TailBuffer(1024);
    tail.push(Buffer.from('a\n'));
    tail.push(Buffer.from('b\n'));
    expect(tail.toString()).toBe('a\nb\n');
  });
});

describe('redacting URLs', () => {
  it('removes the credentials from every URL in a message', () => {
    expect(redactUrls('rtsp://admin:s3cret@10.0.0.5:554/ch1: 401 and http://u:p@cam/x')).toBe(
      'rtsp://***@10.0.0.5:554/ch1: 401 and http://***@cam/x',
    );
  });
});

describe('grabbing a frame and recording a clip from a live RTSP stream', () => {
  let source: Awaited<ReturnType<typeof startRtspSource>>;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  const directory = temporaryDirectory('gridhub-ffmpeg-');

  beforeAll(async () => {
    source = await startRtspSource();
    silent = await startSilentServer();
  });

  afterAll(async () => {
    await source?.stop();
    await silent?.stop();
    directory.remove();
    expect(processesMentioning('testsrc2')).toEqual([]);
  });

  it('writes one valid JPEG frame, renamed into place, and reports its size', async () => {
    const file = path.join(directory.path, 'frame.jpg');
    const result = await grabFrame(source.url('/stream'), file, { timeoutMs: 15_000 });
    const bytes = readFileSync(file);
    expect(result.bytes).toBe(bytes.length);
    expect(bytes.length).toBeGreaterThan(1000);
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    expect([bytes.at(-2), bytes.at(-1)]).toEqual([0xff, 0xd9]);
    // No temporary file is left beside it.
    expect(readdirSync(directory.path)).toEqual(['frame.jpg']);
  });

  it('records an MP4 of about the requested length that decodes, moov first', async () => {
    const file = path.join(directory.path, 'clip.mp4');
    const result = await recordClip(source.url('/stream'), file, { seconds: 2, timeoutMs: 20_000 });
    const bytes = readFileSync(file);
    expect(result.bytes).toBe(bytes.length);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    // +faststart: the index comes before the media data, so a browser plays it while it downloads.
    expect(bytes.indexOf('moov')).toBeGreaterThan(0);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));
    const duration = await ffprobeDuration(file);
    expect(duration).toBeGreaterThanOrEqual(1.5);
    expect(duration).toBeLessThanOrEqual(2.5);
    expect(result.durationSeconds).toBeGreaterThanOrEqual(1.5);
    expect(result.durationSeconds).toBeLessThanOrEqual(2.5);
    // 10 frames a second: about 20 frames decode. RTSP over UDP drops some on a loaded machine; the clip's length is
    // checked above, so here it is enough that a real run of frames decodes.
    expect(await decodedFrames(file)).toBeGreaterThanOrEqual(8);
    expect(readdirSync(directory.path).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('re-encodes to H.264 when the camera sends a codec MP4 will not take', async () => {
    const file = path.join(directory.path, 'vp8.mp4');
    const result = await recordClip(source.url('/vp8'), file, { seconds: 2, timeoutMs: 30_000 });
    expect(result.bytes).toBe(readFileSync(file).length);
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name'],
      ...['-of', 'default=noprint_wrappers=1:nokey=1', file],
    ]);
    expect(stdout.trim()).toBe('h264');
    const duration = await ffprobeDuration(file);
    expect(duration).toBeGreaterThanOrEqual(1.5);
    expect(duration).toBeLessThanOrEqual(2.5);
  });

  it('kills ffmpeg and rejects with a timeout when the camera never answers', async () => {
    const file = path.join(directory.path, 'hung.jpg');
    const url = `rtsp://127.0.0.1:${silent.port}/stream`;
    const started = Date.now();
    const failure = await grabFrame(url, file, { timeoutMs: 800 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FfmpegError);
    expect((failure as FfmpegError).kind).toBe('timeout');
    expect((failure as FfmpegError).message).toBe('ffmpeg did not finish within 800 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(processesMentioning(`127.0.0.1:${silent.port}`)).toEqual([]);
    expect(readdirSync(directory.path).filter((name) => name.includes('hung'))).toEqual([]);
  });

  it('kills a recording when its signal aborts, leaving no file', async () => {
    const file = path.join(directory.path, 'aborted.mp4');
    const controller = new AbortController();
    const recording = recordClip(source.url('/stream'), file, { seconds: 30, signal: controller.signal });
    setTimeout(() => controller.abort(), 1_000);
    const failure = await recording.catch((error: unknown) => error);
    expect((failure as FfmpegError).kind).toBe('aborted');
    // Give the kernel a moment to reap it, then nothing of ours reads the stream.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processesMentioning(source.url('/stream'))).toEqual([]);
    expect(readdirSync(directory.path).filter((name) => name.includes('aborted'))).toEqual([]);
  });

  it('hands a URL with shell syntax to ffmpeg as one argument, run by no shell', async () => {
    const file = path.join(directory.path, 'shell.jpg');
    const marker = path.join(directory.path, 'shell-ran');
    // Port 1: nothing listens, ffmpeg is refused at once.
    const url = `rtsp://127.0.0.1:1/x;touch ${marker};$(touch ${marker})`;
    const failure = await grabFrame(url, file, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    expect((failure as FfmpegError).kind).toBe('failed');
    expect(readdirSync(directory.path).filter((name) => name.startsWith('shell'))).toEqual([]);
  });

  it('rejects with what went wrong, and no credentials, when the stream does not exist', async () => {
    const file = path.join(directory.path, 'missing.jpg');
    const url = source.url('/nothing').replace('rtsp://', 'rtsp://admin:hunter22@');
    const failure = await grabFrame(url, file, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    expect((failure as FfmpegError).kind).toBe('failed');
    expect((failure as FfmpegError).message).toMatch(/^ffmpeg failed: .*404/);
    expect((failure as FfmpegError).message).not.toContain('hunter22');
    expect(readdirSync(directory.path).filter((name) => name.includes('missing'))).toEqual([]);
  });
});
