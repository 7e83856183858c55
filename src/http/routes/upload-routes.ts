import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { fieldStages } from '../../core/incident.ts';
import type { FieldUploads } from '../../field/field-uploads.ts';
import { uploadTypes } from '../../field/media-sanitizer.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { incidentAnswer } from '../schemas.ts';

export interface UploadRoutesOptions {
  readonly uploads: FieldUploads;
}

const uploadParams = z.strictObject({ id: z.string().min(1).max(64) });
const uploadQuery = z
  .strictObject({
    stage: z.enum(fieldStages).describe('before (处置前) or after (处置后) the work.'),
    lon: z.coerce.number().min(-180).max(180).optional().describe("The phone's position (WGS84), with lat."),
    lat: z.coerce.number().min(-90).max(90).optional(),
    accuracyM: z.coerce.number().min(0).max(10_000).optional(),
  })
  .refine(({ lon, lat }) => (lon === undefined) === (lat === undefined), {
    message: 'give lon and lat together, or neither',
  });

/**
 * Field evidence (#24): a photo or a short video of a case, its raw bytes as the body with their content-type. The
 * body is handed to the upload service as a stream (no parser reads it here), which refuses it by content-length
 * before reading and past the limit while reading. A refusal closes the connection: what the phone still sends is
 * not read.
 */
export const uploadRoutes: FastifyPluginAsyncZod<UploadRoutesOptions> = async (app, options) => {
  app.removeAllContentTypeParsers();
  // Every type reaches the service, which counts the ones it refuses.
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  app.addHook('preHandler', authenticate);
  // A refusal (of the token, the size, the type) leaves the rest of the body unread: the connection ends with the
  // answer rather than Node reading and discarding up to field.maxVideoBytes.
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode >= 400 && !request.raw.readableEnded) reply.header('connection', 'close');
  });

  app.post(
    '/:id/uploads',
    {
      config: {
        refusals: [
          'not_found',
          'forbidden',
          'illegal_transition',
          'too_many_uploads',
          'payload_too_large',
          'unsupported_media_type',
        ],
      },
      schema: {
        tags: ['incidents'],
        summary: 'Upload a photo or a short video as evidence of a case',
        description:
          `The raw file as the body, with its content-type: one of ${uploadTypes.join(', ')}; the type is judged by ` +
          "the file's bytes, and one that is not what it claims is refused. Photos up to field.maxPhotoBytes, videos " +
          'up to field.maxVideoBytes. By the case’s handler or assignees, or a duty officer in scope, while the case is ' +
          'open or resolved awaiting verification. Metadata (EXIF, XMP, text chunks, video tags) is stripped; a ' +
          "photo's GPS position (or the one sent) is kept in the evidence item when field.keepPositions is true.",
        params: uploadParams,
        querystring: uploadQuery,
        response: { 200: incidentAnswer },
      },
    },
    async (request) => {
      const { stage, lon, lat, accuracyM } = request.query;
      const declared = Number(request.headers['content-length']);
      return options.uploads.upload(principalOf(request), {
        incidentId: request.params.id,
        stage,
        claimedType: (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '',
        ...(Number.isFinite(declared) ? { declaredBytes: declared } : {}),
        body: (request.body as Readable | undefined) ?? request.raw,
        ...(lon === undefined || lat === undefined
          ? {}
          : { position: { lon, lat, ...(accuracyM === undefined ? {} : { accuracyM }) } }),
      });
    },
  );
};
