import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { GridhubError } from '../../core/errors.ts';
import type { OutboundGuard } from '../../net/outbound-address.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import { type CameraDirectory, withCredentials } from '../camera-directory.ts';
import { type LiveStream, type RtspTransport, streamLive } from '../evidence/ffmpeg.ts';

/**
 * Live video in the browser, with no plugin: a camera's RTSP stream remuxed by ffmpeg into fragmented MP4, which a
 * <video> element plays from a plain URL. A <video> cannot send a bearer token, so a signed-in user first asks for a
 * ticket for a camera in their scope (POST /api/cameras/:id/live), and the stream's URL carries it: random, for that
 * user and camera, valid for a few seconds, good for one stream. Each view is one ffmpeg, killed when the viewer
 * goes, after `maxMinutes` (the page asks again), or when the hub stops; viewers are bounded per camera and in all.
 */

export interface LiveViewsOptions {
  readonly cameras: CameraDirectory;
  readonly guard: OutboundGuard;
  readonly transport?: RtspTransport;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** Viewers of one camera at once; 4 by default. */
  readonly perCamera?: number;
  /** Viewers hub-wide; 16 by default (each is an ffmpeg). */
  readonly total?: number;
  /** How long a ticket may wait for its stream; 30 s by default. */
  readonly ticketSeconds?: number;
  /** How long one view lasts before it is ended; 10 min by default. */
  readonly maxMinutes?: number;
  /** The stream of a camera (tests replace ffmpeg); streamLive by default. */
  readonly open?: (rtspUrl: string, transport: RtspTransport) => LiveStream;
}

interface Ticket {
  readonly cameraId: string;
  readonly userId: string;
  readonly expiresAt: number;
}

export type LiveRefusal = 'ticket' | 'camera_busy' | 'hub_busy' | 'no_stream' | 'address';

type ErrorCode = ConstructorParameters<typeof GridhubError>[0];

/** Each refusal's code in the catalogue and what it tells the viewer. */
const refusals: Record<LiveRefusal, readonly [ErrorCode, string]> = {
  ticket: ['not_found', 'no such live view ticket, or it was used or has expired: ask for another'],
  camera_busy: ['too_many_attempts', 'the camera has as many viewers as it may have'],
  hub_busy: ['too_many_attempts', 'the hub streams as many live views as it may'],
  no_stream: ['device_offline', 'the camera has no stream now (its session is not up)'],
  address: ['forbidden', "the camera's address is outside what network.outbound allows"],
};

const liveMetrics = declareMetrics((metrics) => ({
  active: metrics.gauge({ name: 'gridhub_live_views', help: 'Live views streaming now (one ffmpeg each).' }),
  started: metrics.counter({ name: 'gridhub_live_views_started_total', help: 'Live views started.' }),
  refused: metrics.counter({
    name: 'gridhub_live_view_refusals_total',
    help: 'Live views refused: unknown, used or expired ticket; the camera or the hub at its viewer limit; a camera with no stream; an address network.outbound forbids.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: ['ticket', 'camera_busy', 'hub_busy', 'no_stream', 'address'] },
  }),
}));

export class LiveViews {
  readonly name = 'live video';
  readonly #options: LiveViewsOptions;
  readonly #metrics: ReturnType<typeof liveMetrics>;
  readonly #tickets = new Map<string, Ticket>();
  /** The views streaming now, by camera. */
  readonly #views = new Map<string, Set<LiveStream>>();
  #viewing = 0;
  #stopped = false;

  constructor(options: LiveViewsOptions) {
    this.#options = options;
    this.#metrics = liveMetrics(options.metrics);
  }

  start(): void {
    this.#stopped = false;
  }

  /** Ends every view and forgets every ticket. */
  stop(): void {
    this.#stopped = true;
    this.#tickets.clear();
    for (const views of this.#views.values()) for (const view of views) view.stop();
  }

  health() {
    return { state: this.#stopped ? ('down' as const) : ('up' as const), viewing: this.#viewing };
  }

  /** A ticket for one stream of the camera, for this user; the caller has checked the camera is in their scope. */
  issue(userId: string, cameraId: string, now = Date.now()): { ticket: string; expiresAt: string } {
    if (this.#options.cameras.media(cameraId)?.streamUri === undefined)
      throw new GridhubError(...refusals.no_stream);
    this.#forgetExpired(now);
    // Bounded: a user asking in a loop cannot grow the map past a few per live view allowed.
    if (this.#tickets.size >= (this.#options.total ?? 16) * 8)
      throw new GridhubError(
        'too_many_attempts',
        'too many live views asked for at once; try again in a moment',
      );
    const ticket = randomBytes(24).toString('base64url');
    const expiresAt = now + (this.#options.ticketSeconds ?? 30) * 1000;
    this.#tickets.set(ticket, { cameraId, userId, expiresAt });
    return { ticket, expiresAt: new Date(expiresAt).toISOString() };
  }

  /**
   * The stream a ticket was issued for, once: ffmpeg started on the camera's checked address. The caller pipes it
   * and calls `stop()` when the viewer goes.
   */
  async open(
    ticket: string,
    now = Date.now(),
  ): Promise<{ cameraId: string; userId: string; view: LiveStream }> {
    const issued = this.#tickets.get(ticket);
    this.#tickets.delete(ticket);
    if (issued === undefined || issued.expiresAt < now || this.#stopped) throw this.#refuse('ticket');
    const { cameraId } = issued;
    const views = this.#views.get(cameraId) ?? new Set<LiveStream>();
    if (views.size >= (this.#options.perCamera ?? 4)) throw this.#refuse('camera_busy');
    if (this.#viewing >= (this.#options.total ?? 16)) throw this.#refuse('hub_busy');
    const media = this.#options.cameras.media(cameraId);
    if (media?.streamUri === undefined) throw this.#refuse('no_stream');
    let url: string;
    try {
      url = await this.#options.guard.pinnedUrl(withCredentials(media.streamUri, media), 'stream');
    } catch {
      throw this.#refuse('address');
    }
    const transport = this.#options.transport ?? 'tcp';
    const view = (this.#options.open ?? ((rtsp, how) => streamLive(rtsp, { transport: how })))(
      url,
      transport,
    );
    views.add(view);
    this.#views.set(cameraId, views);
    this.#viewing += 1;
    this.#metrics.started.inc();
    this.#metrics.active.set(this.#viewing);
    const limit = setTimeout(() => view.stop(), (this.#options.maxMinutes ?? 10) * 60_000);
    void view.ended.then((problem) => {
      clearTimeout(limit);
      views.delete(view);
      if (views.size === 0) this.#views.delete(cameraId);
      this.#viewing -= 1;
      this.#metrics.active.set(this.#viewing);
      if (problem !== undefined)
        this.#options.logger.warn({ camera: cameraId, problem }, 'live view ended by the camera or ffmpeg');
    });
    return { cameraId, userId: issued.userId, view };
  }

  #refuse(reason: LiveRefusal): GridhubError {
    this.#metrics.refused.labels(reason).inc();
    const [code, message] = refusals[reason];
    return new GridhubError(code, message);
  }

  #forgetExpired(now: number): void {
    for (const [ticket, { expiresAt }] of this.#tickets) if (expiresAt < now) this.#tickets.delete(ticket);
  }
}
