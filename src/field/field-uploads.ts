import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FfmpegError, stripVideoMetadata } from '../cameras/evidence/ffmpeg.ts';
import type { MediaStore } from '../cameras/evidence/media-store.ts';
import { type ErrorCode, GridhubError } from '../core/errors.ts';
import {
  type EvidenceItem,
  type FieldPosition,
  type FieldStage,
  type Incident,
  type IncidentState,
  isOpen,
} from '../core/incident.ts';
import type { Principal, Role } from '../core/principal.ts';
import type { IncidentService } from '../incidents/incident-service.ts';
import type { Visibility } from '../incidents/visibility.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import type { FieldSettings } from './field-schema.ts';
import {
  extensions,
  isPhotoType,
  MalformedMediaError,
  sniffType,
  stripPhoto,
  type UploadType,
  uploadTypes,
  type VideoType,
} from './media-sanitizer.ts';

/** Why an upload was refused: each counted, each answered as the catalogue's code in {@link refusalAnswers}. */
export const uploadRefusals = [
  'not_found',
  'not_allowed',
  'state',
  'too_many',
  'too_large',
  'unsupported_type',
  'type_mismatch',
  'malformed',
] as const;
export type UploadRefusal = (typeof uploadRefusals)[number];

const refusalAnswers: Record<UploadRefusal, ErrorCode> = {
  not_found: 'not_found',
  not_allowed: 'forbidden',
  state: 'illegal_transition',
  too_many: 'too_many_uploads',
  too_large: 'payload_too_large',
  unsupported_type: 'unsupported_media_type',
  type_mismatch: 'unsupported_media_type',
  malformed: 'invalid_request',
};

const uploadMetrics = declareMetrics((metrics) => ({
  accepted: metrics.counter({
    name: 'gridhub_field_uploads_total',
    help: 'Photos and videos uploaded from the field and attached to their case, by kind (photo, video).',
    labelNames: ['kind'] as const,
    shownAtZero: { kind: ['photo', 'video'] },
  }),
  refused: metrics.counter({
    name: 'gridhub_field_upload_refusals_total',
    help: 'Field uploads refused, by reason: not_found, not_allowed, state, too_many, too_large, unsupported_type, type_mismatch (the bytes are not the claimed type), malformed.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: uploadRefusals },
  }),
  bytes: metrics.counter({
    name: 'gridhub_field_upload_bytes_total',
    help: 'Bytes of field uploads kept, after their metadata was stripped.',
  }),
}));

/** Videos copied by ffmpeg at once; the others wait their turn, already on disk (each copy takes about a second). */
const videoCopiesAtOnce = 2;

/** Officers may add evidence to any case they can see; everyone else only to a case that is theirs. */
const officers: ReadonlySet<Role> = new Set(['duty_officer', 'admin']);
/** Open cases, and resolved ones awaiting verification (请补充现场照片 is answered with photos). */
const acceptingStates = (state: IncidentState) => isOpen(state) || state === 'resolved';

export interface FieldUploadsOptions {
  readonly incidents: Pick<IncidentService, 'active' | 'attachEvidence'>;
  readonly store: Pick<Store, 'getIncident'>;
  readonly visibility: Visibility;
  readonly media: MediaStore;
  readonly settings: FieldSettings;
  readonly metrics: MetricsRegistry;
  readonly now?: () => number;
}

export interface UploadRequest {
  readonly incidentId: string;
  readonly stage: FieldStage;
  /** The request's content-type, without parameters. */
  readonly claimedType: string;
  /** The request's content-length, when it gave one. */
  readonly declaredBytes?: number;
  readonly body: Readable;
  /** The position the phone sent with the upload (WGS84). */
  readonly position?: FieldPosition;
}

/**
 * Photos and videos from the field as evidence of a case: who may add them, the size and type limits (the type
 * decided by the bytes), the metadata stripped (photos by media-sanitizer.ts, videos by ffmpeg), the file kept by the
 * media store and attached to the case as an `incident:update`. Every refusal is counted by reason.
 */
export class FieldUploads {
  readonly #options: FieldUploadsOptions;
  readonly #metrics: ReturnType<typeof uploadMetrics>;
  /** ffmpeg copies running, and the ones waiting for a slot. */
  #copying = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: FieldUploadsOptions) {
    this.#options = options;
    this.#metrics = uploadMetrics(options.metrics);
  }

  async upload(principal: Principal, request: UploadRequest): Promise<Incident> {
    const { incidents, store, visibility, settings } = this.#options;
    const incident = incidents.active(request.incidentId) ?? (await store.getIncident(request.incidentId));
    if (incident === undefined || !visibility.canSee(principal, incident))
      throw this.#refuse('not_found', `no incident ${request.incidentId}`);
    this.#admit(incident, principal);
    if (!(uploadTypes as readonly string[]).includes(request.claimedType))
      throw this.#refuse(
        'unsupported_type',
        `${request.claimedType || 'no content-type'}: send one of ${uploadTypes.join(', ')}`,
      );
    const claimed = request.claimedType as UploadType;
    const limit = isPhotoType(claimed) ? settings.maxPhotoBytes : settings.maxVideoBytes;
    if (request.declaredBytes !== undefined && request.declaredBytes > limit)
      throw this.#refuse('too_large', `${request.declaredBytes} bytes: at most ${limit} for ${claimed}`);
    const now = this.#options.now ?? Date.now;
    const file = `${isPhotoType(claimed) ? 'photo' : 'video'}-${request.stage}-${now().toString(36)}-${randomBytes(4).toString('hex')}.${extensions[claimed]}`;
    const received: { bytes: number; position?: FieldPosition } = isPhotoType(claimed)
      ? await this.#photo(request, claimed, limit, file)
      : await this.#video(request, claimed, limit, file);
    const keptPosition = settings.keepPositions ? (received.position ?? request.position) : undefined;
    const item: EvidenceItem = {
      kind: isPhotoType(claimed) ? 'photo' : 'video',
      cameraId: incident.device.id,
      url: `/media/${incident.id}/${file}`,
      contentType: claimed,
      bytes: received.bytes,
      capturedAt: new Date(now()).toISOString(),
      uploadedBy: principal.userId,
      stage: request.stage,
      ...(keptPosition === undefined ? {} : { position: keptPosition }),
    };
    let after: Incident | undefined;
    try {
      after = await incidents.attachEvidence(incident.id, item, {
        by: principal,
        admit: (current) => this.#admit(current, principal),
      });
    } catch (error) {
      await unlink(this.#options.media.path(incident.id, file)).catch(() => undefined);
      throw error;
    }
    if (after === undefined) throw this.#refuse('not_found', `no incident ${incident.id}`);
    this.#metrics.accepted.labels(item.kind).inc();
    this.#metrics.bytes.inc(item.bytes);
    return after;
  }

  /** Whether this user may add evidence to the case as it stands: theirs or an officer's, in a state that takes it. */
  #admit(incident: Incident, principal: Principal): void {
    const theirs = incident.handler === principal.userId || incident.assignees.includes(principal.userId);
    if (!theirs && !officers.has(principal.role))
      throw this.#refuse(
        'not_allowed',
        'only the case’s handler, its assignees or a duty officer may add evidence',
      );
    if (!acceptingStates(incident.state))
      throw this.#refuse(
        'state',
        `the case is ${incident.state}: evidence is added while it is open or resolved`,
      );
    const uploads = (incident.evidence ?? []).filter((item) => item.uploadedBy !== undefined).length;
    if (uploads >= this.#options.settings.maxUploadsPerIncident)
      throw this.#refuse('too_many', `the case has ${uploads} uploads already`);
  }

  /** A photo, read into memory (at most field.maxPhotoBytes), stripped, written whole. */
  async #photo(request: UploadRequest, claimed: UploadType, limit: number, file: string) {
    const chunks: Buffer[] = [];
    await this.#receive(request.body, limit, claimed, (chunk) => {
      chunks.push(chunk);
    });
    const raw = Buffer.concat(chunks);
    let stripped: ReturnType<typeof stripPhoto>;
    try {
      stripped = stripPhoto(claimed as Parameters<typeof stripPhoto>[0], raw);
    } catch (error) {
      if (error instanceof MalformedMediaError) throw this.#refuse('malformed', error.message);
      throw error;
    }
    await this.#options.media.write(request.incidentId, file, stripped.bytes);
    return {
      bytes: stripped.bytes.length,
      ...(stripped.position === undefined ? {} : { position: stripped.position }),
    };
  }

  /**
   * A video, streamed to a temporary file beside its target (never whole in memory), copied by ffmpeg without its
   * metadata to a second temporary file, renamed into place: the media store serves only the stripped copy.
   */
  async #video(
    request: UploadRequest,
    claimed: VideoType,
    limit: number,
    file: string,
  ): Promise<{ bytes: number }> {
    const info = await this.#options.media.produce(request.incidentId, file, async (target) => {
      const temporary = (what: string) =>
        path.join(
          path.dirname(target),
          `.${path.basename(target)}.${what}.${randomBytes(6).toString('hex')}.part`,
        );
      const raw = temporary('raw');
      const stripped = temporary('stripped');
      try {
        const out = createWriteStream(raw);
        const writing = new Promise<void>((resolve, reject) => {
          out.once('finish', resolve);
          out.once('error', reject);
        });
        try {
          await this.#receive(request.body, limit, claimed, (chunk) =>
            out.write(chunk) ? undefined : new Promise<void>((resolve) => out.once('drain', resolve)),
          );
        } finally {
          out.end();
          await writing.catch(() => undefined);
        }
        await this.#inTurn(() => stripVideoMetadata(raw, stripped, claimed)).catch((error: unknown) => {
          if (error instanceof FfmpegError && error.kind === 'failed')
            throw this.#refuse('malformed', 'the video cannot be read');
          throw error;
        });
        await rename(stripped, target);
      } finally {
        await unlink(raw).catch(() => undefined);
        await unlink(stripped).catch(() => undefined);
      }
    });
    return { bytes: info.bytes };
  }

  /**
   * Reads the body chunk by chunk into `sink`, refusing it once past `limit` bytes (however long it said it was) and
   * as soon as its first bytes show it is not the claimed type.
   */
  async #receive(
    body: Readable,
    limit: number,
    claimed: UploadType,
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void> {
    let total = 0;
    let head: Buffer | undefined = Buffer.alloc(0);
    const check = (final: boolean) => {
      if (head === undefined || (head.length < 12 && !final)) return;
      const sniffed = sniffType(head);
      if (sniffed !== claimed)
        throw this.#refuse(
          'type_mismatch',
          `the file is ${sniffed ?? 'of no accepted type'}, not the ${claimed} it claims`,
        );
      head = undefined;
    };
    await pipeline(body, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        total += chunk.length;
        if (total > limit) throw this.#refuse('too_large', `more than ${limit} bytes for ${claimed}`);
        if (head !== undefined) {
          head = Buffer.concat([head, chunk]);
          check(false);
        }
        await sink(chunk);
      }
    });
    check(true);
  }

  /** Runs `work` once fewer than videoCopiesAtOnce copies run: a burst of uploads never forks a burst of ffmpegs. */
  async #inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.#copying >= videoCopiesAtOnce) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#copying += 1;
    try {
      return await work();
    } finally {
      // The slot passes to the next in line, or is freed.
      const next = this.#waiting.shift();
      if (next === undefined) this.#copying -= 1;
      else next();
    }
  }

  #refuse(reason: UploadRefusal, message: string): GridhubError {
    this.#metrics.refused.labels(reason).inc();
    return new GridhubError(refusalAnswers[reason], message);
  }
}
