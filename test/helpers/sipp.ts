import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Debian's SIPp (package sip-tester; CI installs it). */
export const sippPath = '/usr/bin/sipp';

/** Where the scenarios live: a relative `scenario` or `outOfCall` is read from here. */
export const sippScenarios = resolve(import.meta.dirname, '../sipp');

/** SIPp's screen is redrawn on stdout again and again: only its end is worth keeping. */
const keptScreenChars = 20_000;

/** A port free for both TCP and UDP on 127.0.0.1 right now (SIPp binds a fixed one and cannot report a port 0). */
export async function freeSipPort(): Promise<number> {
  for (;;) {
    const tcp = createServer();
    await new Promise<void>((done) => tcp.listen(0, '127.0.0.1', done));
    const port = (tcp.address() as { port: number }).port;
    await new Promise<void>((done) => tcp.close(() => done()));
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((done) => {
      udp.once('error', () => done(false));
      udp.bind(port, '127.0.0.1', () => done(true));
    });
    await new Promise<void>((done) => udp.close(() => done()));
    if (free) return port;
  }
}

export interface SippOptions {
  /** The scenario file (-sf), relative to test/sipp unless absolute. */
  readonly scenario: string;
  /** The out-of-call scenario (-oocsf), relative to test/sipp unless absolute. */
  readonly outOfCall?: string;
  readonly transport: 'udp' | 'tcp';
  /** SIPp's own port on 127.0.0.1 (-p); see freeSipPort. */
  readonly localPort: number;
  /** host:port SIPp calls, when it is the client. */
  readonly remote?: string;
  /** Calls to run before exiting (-m); 1 unless told. */
  readonly calls?: number;
  /** SIPp gives up after this long (-timeout). */
  readonly timeoutSeconds: number;
  /** That give-up counts as a failure, exit code not 0 (-timeout_error); true unless told. */
  readonly timeoutIsError?: boolean;
  /** Anything else, passed as is: -au/-ap, -set, -key... */
  readonly args?: readonly string[];
  /** How to read the -trace_err files (latin1 keeps GB2312 bodies byte for byte); utf8 unless told. */
  readonly traceEncoding?: BufferEncoding;
  /** Also keep SIPp's screen (stdout), interleaved with stderr, its last 20 000 characters. */
  readonly screen?: boolean;
}

export interface SippExit {
  readonly code: number | null;
  /** stderr (and the screen, when asked for), then the -trace_err files: for an assertion's message. */
  readonly errors: string;
}

export interface SippRun {
  /** Resolves once SIPp has exited and its directory is removed; never rejects. */
  readonly exit: Promise<SippExit>;
  /** Kills SIPp if it still runs (for afterEach: a finished test has awaited `exit`). */
  stop(): void;
}

/**
 * Starts SIPp in a temp directory of its own (-i 127.0.0.1 -p localPort -t u1|t1 -m -timeout [-timeout_error]
 * -trace_err -nostdin), so its trace files never land in the repository.
 */
export function startSipp(options: SippOptions): SippRun {
  const directory = mkdtempSync(join(tmpdir(), 'gridhub-sipp-'));
  const args = [
    ...(options.remote === undefined ? [] : [options.remote]),
    ...['-sf', resolve(sippScenarios, options.scenario)],
    ...(options.outOfCall === undefined ? [] : ['-oocsf', resolve(sippScenarios, options.outOfCall)]),
    ...['-t', options.transport === 'udp' ? 'u1' : 't1'],
    ...['-i', '127.0.0.1', '-p', String(options.localPort)],
    ...['-m', String(options.calls ?? 1)],
    ...['-timeout', `${options.timeoutSeconds}s`],
    ...(options.timeoutIsError === false ? [] : ['-timeout_error']),
    ...(options.args ?? []),
    ...['-trace_err', '-nostdin'],
  ];
  const child = spawn(sippPath, args, {
    cwd: directory,
    stdio: ['ignore', options.screen === true ? 'pipe' : 'ignore', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (options.screen === true) output = output.slice(-keptScreenChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // 'close', not 'exit': by then stderr has been read to its end. A failed spawn reports 'error' instead.
  const ended = new Promise<{ code: number | null; spawnError: string }>((done) => {
    child.once('error', (error) => done({ code: null, spawnError: `${sippPath}: ${error.message}\n` }));
    child.once('close', (code) => done({ code, spawnError: '' }));
  });
  const exit = ended.then(async ({ code, spawnError }) => {
    const names = await readdir(directory).catch(() => []);
    const traces = await Promise.all(
      names.map((name) => readFile(join(directory, name), options.traceEncoding ?? 'utf8').catch(() => '')),
    );
    await rm(directory, { recursive: true, force: true });
    return { code, errors: `${spawnError}${output}\n${traces.join('\n')}` };
  });
  return {
    exit,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
