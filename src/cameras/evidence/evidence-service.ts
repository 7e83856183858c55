import type { Counter, Gauge } from 'prom-client';
import type { TypedBus } from '../../core/bus.ts';
import { type HubBusEvents, whenStored } from '../../core/events.ts';
import type { EvidenceItem, Incident } from '../../core/incident.ts';
import type { IncidentService } from '../../incidents/incident-service.ts';
import { type DigestFetchOptions, digestFetch, type FetchedBody } from '../../net/digest-fetch.ts';
import { isJpeg } from '../../net/jpeg.ts';
import type { OutboundGuard } from '../../net/outbound-address.ts';
import type { Logger } from '../../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import { type CameraDirectory, type CameraMedia, withCredentials } from '../camera-directory.ts';
import {
  type CaptureOptions,
  type ClipOptions,
  type ClipResult,
  type FfmpegBinary,
  type FrameResult,
  grabFrame,
  joinVideo,
  type RtspTransport,
  recordClip,
  redactUrls,
  resolveFfmpeg,
} from './ffmpeg.ts';
import type { MediaStore } from './media-store.ts';
import type { PreAlarmBuffers } from './pre-alarm-buffer.ts';

/** How evidence is taken from a camera; the real ones by default, stand-ins in tests. */
export interface CaptureTools {
  fetchSnapshot(url: string, options: DigestFetchOptions): Promise<FetchedBody>;
  grabFrame(rtspUrl: string, outFile: string, options: CaptureOptions): Promise<FrameResult>;
  recordClip(rtspUrl: string, outFile: string, options: ClipOptions): Promise<ClipResult>;
  /** The ffmpeg the captures will run, found at start so that a missing or outdated one is said at once. */
  resolveFfmpeg?(): Promise<FfmpegBinary>;
}

/**
 * The real tools behind the outbound guard: a snapshot URI's requests go to addresses network.outbound allows,
 * and ffmpeg is given the stream URI with its host replaced by the checked address, so it connects there.
 */
export function guardedCaptureTools(guard: OutboundGuard): CaptureTools {
  return {
    fetchSnapshot: (url, options) => digestFetch(url, { ...options, fetch: guard.fetcher('snapshot') }),
    grabFrame: async (rtspUrl, outFile, options) =>
      grabFrame(await guard.pinnedUrl(rtspUrl, 'stream'), outFile, options),
    recordClip: async (rtspUrl, outFile, options) =>
      recordClip(await guard.pinnedUrl(rtspUrl, 'stream'), outFile, options),
    resolveFfmpeg: () => resolveFfmpeg(),
  };
}

/** Alarm storms and device health say nothing a camera could show. */
export const defaultSkipCategories: readonly string[] = ['storm', 'device_offline', 'device_tamper', 'power'];

export interface EvidenceServiceOptions {
  readonly bus: TypedBus<HubBusEvents>;
  readonly cameras: CameraDirectory;
  readonly incidents: Pick<IncidentService, 'attachEvidence'>;
  readonly store: MediaStore;
  /** Whether a device is a camera (its own alarms are filmed by itself). */
  readonly cameraDeviceIds: (deviceId: string) => boolean;
  /** Length of each clip; 10 s by default. */
  readonly clipSeconds?: number;
  /** Incident categories that get no evidence; {@link defaultSkipCategories} by default. */
  readonly skipCategories?: readonly string[];
  /** Captures (one camera's snapshot then clip, for one incident) running at once, hub-wide; 4 by default. */
  readonly maxConcurrent?: number;
  /** Captures waiting past the running ones; more are dropped and counted; 100 by default. */
  readonly maxQueued?: number;
  /** For a snapshot, by URI or from the stream; 15 s by default. */
  readonly snapshotTimeoutMs?: number;
  /** After a PTZ camera accepts a preset, how long it is given to get there before the snapshot; 2 s by default. */
  readonly presetSettleMs?: number;
  /** How RTP is carried from the camera; UDP by default. */
  readonly rtspTransport?: RtspTransport;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** What every camera URI is checked against; required unless `tools` replaces all three tools. */
  readonly guard?: OutboundGuard;
  readonly tools?: Partial<CaptureTools>;
  /**
   * The rolling buffers of the cameras' recent video (media.preAlarmSeconds): a clip then reaches back this far
   * before the alarm, taken from the buffer; without one (or when it holds nothing yet) the clip starts at capture.
   */
  readonly preAlarm?: { readonly buffers: PreAlarmBuffers; readonly seconds: number };
}

type EvidenceKind = EvidenceItem['kind'];
type Outcome = 'ok' | 'failed' | 'unavailable' | 'dropped' | 'aborted';
const evidenceKinds: readonly EvidenceKind[] = ['snapshot', 'clip'];
const outcomes: readonly Outcome[] = ['ok', 'failed', 'unavailable', 'dropped', 'aborted'];

/** What evidence capture counts, declared here so that it moves with the service. */
const evidenceMetrics = declareMetrics((metrics) => {
  const evidence = metrics.counter({
    name: 'gridhub_evidence_total',
    help: 'Snapshots and clips, by outcome: ok (attached), failed, unavailable (camera not connected or no URI), dropped (too many captures waiting), aborted (hub stopping).',
    labelNames: ['kind', 'outcome'] as const,
    shownAtZero: { kind: evidenceKinds, outcome: outcomes },
  });
  const presets = metrics.counter({
    name: 'gridhub_ptz_preset_moves_total',
    help: "PTZ cameras turned to an alarming device's preset, by outcome (ok, failed).",
    labelNames: ['outcome'] as const,
    shownAtZero: { outcome: ['ok', 'failed'] },
  });
  return {
    evidence,
    presets,
    queued: metrics.gauge({
      name: 'gridhub_evidence_captures_queued',
      help: 'Evidence captures waiting for one of the running ones to finish.',
    }),
  };
});

/** One camera's evidence for one incident. */
interface Capture {
  readonly incidentId: string;
  readonly cameraId: string;
  /** When the incident was raised (epoch ms): where a clip from the pre-alarm buffer is centred. */
  readonly raisedAt: number;
  /** Resolves once the camera turned to its preset (or failed to): the snapshot waits for it. */
  readonly turned: Promise<void>;
}

/** Why a capture could not even be tried; counted as `unavailable`, not as a failure. */
class Unavailable extends Error {}

/**
 * Takes the evidence of new incidents: for each camera that films the raising device (the device itself when it
 * is a camera, and the cameras the config has watching it), turns a PTZ camera to the device's preset, takes a
 * snapshot (the camera's snapshot URI, else one frame of its stream) and records a clip of its stream, and
 * attaches each to the incident once the file is complete, which pushes an `incident:update`: a client never
 * gets a link to a file that is not there yet. Captures are bounded hub-wide; failures are logged with the
 * camera and incident, never with credentials or URIs, counted, and never thrown.
 */
export class EvidenceService {
  readonly #options: EvidenceServiceOptions;
  readonly #tools: CaptureTools;
  readonly #log: Logger;
  readonly #skip: ReadonlySet<string>;
  readonly #evidence: Counter<'kind' | 'outcome'>;
  readonly #presets: Counter<'outcome'>;
  readonly #queuedGauge: Gauge;
  readonly #queue: Capture[] = [];
  readonly #running = new Set<Promise<void>>();
  #abort = new AbortController();
  #unsubscribe: (() => void) | undefined;

  constructor(options: EvidenceServiceOptions) {
    this.#options = options;
    const given = options.tools ?? {};
    if (options.guard === undefined) {
      if (
        given.fetchSnapshot === undefined ||
        given.grabFrame === undefined ||
        given.recordClip === undefined
      )
        throw new Error('the evidence service needs an outbound guard for the real capture tools');
      this.#tools = given as CaptureTools;
    } else this.#tools = { ...guardedCaptureTools(options.guard), ...given };
    this.#log = options.logger.child({ ns: 'evidence' });
    this.#skip = new Set(options.skipCategories ?? defaultSkipCategories);
    // A second service on the same registry (a restart in one process) shares the counters.
    const counted = evidenceMetrics(options.metrics);
    this.#evidence = counted.evidence;
    this.#presets = counted.presets;
    this.#queuedGauge = counted.queued;
  }

  start(): void {
    this.#abort = new AbortController();
    // Evidence is attached to a stored incident: an alarm announced before its commit is filmed once committed,
    // unless the service stopped meanwhile (nothing starts after stop()).
    const signal = this.#abort.signal;
    this.#unsubscribe = this.#options.bus.on('incident:created', (incident, _receivedAt, stored) =>
      whenStored(stored, () => {
        if (!signal.aborted) this.#onIncident(incident);
      }),
    );
    this.#announceFfmpeg();
  }

  /**
   * Says at start-up which ffmpeg the captures will run when it is not the system's: the static build bundled in
   * @ffmpeg-installer/ffmpeg dates from 2018 and has years of unpatched decoder vulnerabilities, and it decodes
   * what cameras send. Found off the start path (it runs `ffmpeg -version`).
   */
  #announceFfmpeg(): void {
    this.#tools.resolveFfmpeg?.().then(
      (binary) => {
        if (!binary.bundled) return;
        this.#log.warn(
          { path: binary.path },
          'NO SYSTEM FFMPEG: camera evidence runs the ffmpeg of 2018 bundled in @ffmpeg-installer/ffmpeg, unpatched since; install the system ffmpeg (apt-get install ffmpeg)',
        );
      },
      (error: unknown) =>
        this.#log.warn(
          { err: (error as Error).message },
          'no ffmpeg: camera snapshots over RTSP and clips will fail',
        ),
    );
  }

  /**
   * Stops taking evidence: waiting captures are dropped, running ones killed (ffmpeg included); resolves once
   * none is left, so no capture outlives the hub and nothing is attached after this resolves.
   */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#abort.abort();
    for (let waiting = this.#queue.splice(0).length; waiting > 0; waiting--) this.#countBoth('aborted');
    this.#queuedGauge.set(0);
    await Promise.allSettled([...this.#running]);
  }

  /** Captures running now and waiting, for health and tests. */
  get load(): { running: number; queued: number } {
    return { running: this.#running.size, queued: this.#queue.length };
  }

  #onIncident(incident: Incident): void {
    if (this.#skip.has(incident.category)) return;
    const { cameras, cameraDeviceIds } = this.#options;
    const deviceId = incident.device.id;
    const filming = new Map<string, string | undefined>();
    if (cameraDeviceIds(deviceId)) filming.set(deviceId, undefined);
    let watching: readonly { cameraId: string; preset?: string }[] = [];
    try {
      watching = cameras.camerasWatching(deviceId);
    } catch (error) {
      this.#log.warn(
        { incidentId: incident.id, deviceId, reason: (error as Error).message },
        'cameras unknown',
      );
    }
    for (const { cameraId, preset } of watching) {
      if (!filming.has(cameraId) || preset !== undefined) filming.set(cameraId, preset);
    }
    for (const [cameraId, preset] of filming) {
      // The camera turns at once, even when its capture has to wait: whoever watches it live sees the device.
      const turned = preset === undefined ? Promise.resolve() : this.#turn(incident.id, cameraId, preset);
      this.#enqueue({ incidentId: incident.id, cameraId, raisedAt: Date.parse(incident.createdAt), turned });
    }
  }

  #enqueue(capture: Capture): void {
    const { maxConcurrent = 4, maxQueued = 100 } = this.#options;
    if (this.#running.size < maxConcurrent) {
      this.#run(capture);
      return;
    }
    if (this.#queue.length >= maxQueued) {
      this.#countBoth('dropped');
      this.#log.warn(
        { incidentId: capture.incidentId, cameraId: capture.cameraId, queued: this.#queue.length },
        'evidence capture dropped: too many waiting',
      );
      return;
    }
    this.#queue.push(capture);
    this.#queuedGauge.set(this.#queue.length);
  }

  #run(capture: Capture): void {
    const running: Promise<void> = this.#capture(capture).finally(() => {
      this.#running.delete(running);
      const next = this.#queue.shift();
      this.#queuedGauge.set(this.#queue.length);
      if (next !== undefined && !this.#abort.signal.aborted) this.#run(next);
    });
    this.#running.add(running);
  }

  /** One camera's snapshot, then its clip, each attached once complete. Never throws. */
  async #capture(capture: Capture): Promise<void> {
    const signal = this.#abort.signal;
    await capture.turned;
    const media = this.#options.cameras.media(capture.cameraId);
    if (media === undefined) {
      this.#countBoth('unavailable');
      this.#log.warn(
        { incidentId: capture.incidentId, cameraId: capture.cameraId },
        'no evidence: camera not connected',
      );
      return;
    }
    await this.#take(capture, 'snapshot', media, () => this.#snapshot(capture, media, signal));
    await this.#take(capture, 'clip', media, () => this.#clip(capture, media, signal));
  }

  async #take(
    capture: Capture,
    kind: EvidenceKind,
    media: CameraMedia,
    make: () => Promise<EvidenceItem>,
  ): Promise<void> {
    const context = { incidentId: capture.incidentId, cameraId: capture.cameraId, kind };
    if (this.#abort.signal.aborted) {
      this.#evidence.labels(kind, 'aborted').inc();
      return;
    }
    try {
      const item = await make();
      const attached = await this.#options.incidents.attachEvidence(capture.incidentId, item);
      if (attached === undefined) throw new Error('the incident is gone');
      this.#evidence.labels(kind, 'ok').inc();
      this.#log.info({ ...context, bytes: item.bytes }, 'evidence attached');
    } catch (error) {
      const outcome: Outcome =
        error instanceof Unavailable ? 'unavailable' : this.#abort.signal.aborted ? 'aborted' : 'failed';
      this.#evidence.labels(kind, outcome).inc();
      const reason = scrub((error as Error).message, media);
      if (outcome === 'aborted') this.#log.info({ ...context, reason }, 'evidence capture aborted');
      else this.#log.warn({ ...context, reason }, `no ${kind}`);
    }
  }

  /** The camera's snapshot URI, answered with Digest or Basic; else, or when that fails, a frame of its stream. */
  async #snapshot(capture: Capture, media: CameraMedia, signal: AbortSignal): Promise<EvidenceItem> {
    const { store, snapshotTimeoutMs = 15_000, rtspTransport = 'udp' } = this.#options;
    const file = `snapshot-${capture.cameraId}.jpg`;
    const capturedAt = new Date().toISOString();
    let bytes: number | undefined;
    const direct = this.#directSnapshot(media, snapshotTimeoutMs);
    if (direct !== undefined) {
      try {
        const body = await direct(signal);
        if (!isJpeg(body.bytes)) throw new Error(`the camera's snapshot is ${body.contentType}, not a JPEG`);
        bytes = (await store.write(capture.incidentId, file, body.bytes)).bytes;
      } catch (error) {
        if (media.streamUri === undefined || signal.aborted) throw error;
        this.#log.info(
          {
            incidentId: capture.incidentId,
            cameraId: capture.cameraId,
            reason: scrub((error as Error).message, media),
          },
          'snapshot failed: taking a frame of the stream',
        );
      }
    }
    if (bytes === undefined) {
      const streamUri = media.streamUri;
      if (streamUri === undefined)
        throw new Unavailable('the camera has neither a snapshot URI nor a stream');
      const url = withCredentials(streamUri, media);
      bytes = (
        await store.produce(capture.incidentId, file, async (target) => {
          await this.#tools.grabFrame(url, target, {
            timeoutMs: snapshotTimeoutMs,
            transport: rtspTransport,
            signal,
          });
        })
      ).bytes;
    }
    return {
      kind: 'snapshot',
      cameraId: capture.cameraId,
      url: mediaUrl(capture.incidentId, file),
      contentType: 'image/jpeg',
      bytes,
      capturedAt,
    };
  }

  /** How the camera gives a still of its own: a command it answers with an upload (GB/T 28181), or its snapshot URI. */
  #directSnapshot(
    media: CameraMedia,
    timeoutMs: number,
  ): ((signal: AbortSignal) => Promise<FetchedBody>) | undefined {
    if (media.takeSnapshot !== undefined) return media.takeSnapshot;
    const uri = media.snapshotUri;
    if (uri === undefined) return undefined;
    return (signal) =>
      this.#tools.fetchSnapshot(uri, {
        username: media.username,
        password: media.password,
        timeoutMs,
        signal,
      });
  }

  async #clip(capture: Capture, media: CameraMedia, signal: AbortSignal): Promise<EvidenceItem> {
    const buffered = await this.#bufferedClip(capture, signal);
    if (buffered !== undefined) return buffered;
    const { store, clipSeconds = 10, rtspTransport = 'udp' } = this.#options;
    if (media.streamUri === undefined) throw new Unavailable('the camera has no stream');
    const url = withCredentials(media.streamUri, media);
    const file = `clip-${capture.cameraId}.mp4`;
    const capturedAt = new Date().toISOString();
    let durationSeconds = clipSeconds;
    const { bytes } = await store.produce(capture.incidentId, file, async (target) => {
      const result = await this.#tools.recordClip(url, target, {
        seconds: clipSeconds,
        transport: rtspTransport,
        signal,
      });
      durationSeconds = result.durationSeconds;
    });
    return clipItem(capture, file, bytes, { capturedAt, durationSeconds });
  }

  /**
   * The clip from the camera's pre-alarm buffer: the segments from `preAlarm.seconds` before the incident was raised
   * to `clipSeconds` after it, joined; undefined when there is no buffer or it does not reach back to the alarm
   * (just started, or its ffmpeg failing), and the clip is recorded from the stream instead.
   */
  async #bufferedClip(capture: Capture, signal: AbortSignal): Promise<EvidenceItem | undefined> {
    const { preAlarm, store, clipSeconds = 10 } = this.#options;
    if (preAlarm === undefined || preAlarm.seconds <= 0) return undefined;
    const from = capture.raisedAt - preAlarm.seconds * 1000;
    const to = capture.raisedAt + clipSeconds * 1000;
    // The segment holding the clip's end closes up to a segment's length after it.
    await settle(Math.max(0, to + preAlarm.buffers.segmentSeconds * 1000 + 500 - Date.now()), signal);
    const segments = await preAlarm.buffers.covering(capture.cameraId, from, to);
    const first = segments[0];
    if (first === undefined || first.startsAt > capture.raisedAt || signal.aborted) return undefined;
    const file = `clip-${capture.cameraId}.mp4`;
    const { bytes } = await store.produce(capture.incidentId, file, (target) =>
      joinVideo(
        segments.map((segment) => segment.file),
        target,
      ),
    );
    const last = segments.at(-1) ?? first;
    return clipItem(capture, file, bytes, {
      capturedAt: new Date(first.startsAt).toISOString(),
      durationSeconds: Math.round((last.endsAt - first.startsAt) / 100) / 10,
      preAlarmSeconds: Math.round((capture.raisedAt - first.startsAt) / 100) / 10,
    });
  }

  /** Turns a PTZ camera to a preset and gives it time to get there; a failure is logged, and capture goes on. */
  async #turn(incidentId: string, cameraId: string, preset: string): Promise<void> {
    const signal = this.#abort.signal;
    try {
      await this.#options.cameras.gotoPreset(cameraId, preset);
      this.#presets.labels('ok').inc();
    } catch (error) {
      this.#presets.labels('failed').inc();
      const media = this.#options.cameras.media(cameraId);
      this.#log.warn(
        { incidentId, cameraId, preset, reason: scrub((error as Error).message, media) },
        'PTZ preset failed: capturing where the camera points',
      );
      return;
    }
    await settle(this.#options.presetSettleMs ?? 2_000, signal);
  }

  /** A capture that never ran counts for both its snapshot and its clip. */
  #countBoth(outcome: Outcome): void {
    for (const kind of evidenceKinds) this.#evidence.labels(kind, outcome).inc();
  }
}

/** A clip's evidence item, as stored in the incident. */
function clipItem(
  capture: Capture,
  file: string,
  bytes: number,
  timing: Pick<EvidenceItem, 'capturedAt' | 'durationSeconds' | 'preAlarmSeconds'>,
): EvidenceItem {
  return {
    kind: 'clip',
    cameraId: capture.cameraId,
    url: mediaUrl(capture.incidentId, file),
    contentType: 'video/mp4',
    bytes,
    ...timing,
  };
}

/** The hub-relative URL media routes serve a file at. */
export function mediaUrl(incidentId: string, file: string): string {
  return `/media/${incidentId}/${file}`;
}

/** A reason fit for a log line: no URL credentials, and never the password itself. */
function scrub(message: string, media: CameraMedia | undefined): string {
  let text = redactUrls(message);
  for (const secret of [media?.password, media && encodeURIComponent(media.password)]) {
    if (secret !== undefined && secret.length >= 3) text = text.replaceAll(secret, '***');
  }
  return text;
}

function settle(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
