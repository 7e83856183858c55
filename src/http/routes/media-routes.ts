import { open } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { IncidentService } from '../../incidents/incident-service.ts';
import type { Visibility } from '../../incidents/visibility.ts';
import { incidentIdPattern, type MediaStore, mediaFilePattern } from '../../media/media-store.ts';
import type { Store } from '../../store/store.ts';
import { HttpError, requirePrincipal } from '../request-guards.ts';

export interface MediaRoutesOptions {
  readonly media: MediaStore;
  readonly incidents: Pick<IncidentService, 'active'>;
  readonly store: Store;
  readonly visibility: Visibility;
}

const mediaParams = z.strictObject({
  incidentId: z.string().regex(incidentIdPattern, 'must be an incident id'),
  file: z.string().regex(mediaFilePattern, 'must be a media file name'),
});

/**
 * RFC 9110 §14.1.2: one byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`, against a file of
 * `size` bytes. `undefined`: no usable Range (absent, another unit, several ranges, malformed), so the whole file
 * is sent (§14.2 lets a server ignore Range); `'unsatisfiable'`: answer 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Evidence files, to the users who may see their incident and only once attached to it (attached means
 * complete: see EvidenceService). Another grid's incident, an unknown one and a file not attached all answer
 * 404 alike, so nothing tells a caller what exists outside their scope.
 */
export function mediaRoutes(app: FastifyInstance, options: MediaRoutesOptions): void {
  const { media, incidents, store, visibility } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/media/:incidentId/:file',
    {
      schema: {
        tags: ['media'],
        summary: "A snapshot or clip of an incident's evidence (single byte ranges supported)",
        params: mediaParams,
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const { incidentId, file } = request.params;
      const incident = incidents.active(incidentId) ?? (await store.getIncident(incidentId));
      const url = `/media/${incidentId}/${file}`;
      const item = incident?.evidence?.find((evidence) => evidence.url === url);
      if (incident === undefined || !visibility.canSee(principal, incident) || item === undefined) {
        throw new HttpError(404, 'not_found', `no media ${url}`);
      }
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(media.path(incidentId, file), 'r');
      } catch {
        throw new HttpError(410, 'media_expired', `${url} was removed by media retention`);
      }
      try {
        const { size, mtime } = await handle.stat();
        const range = parseRange(request.headers.range, size);
        if (range === 'unsatisfiable') {
          await handle.close();
          return reply
            .code(416)
            .header('content-range', `bytes */${size}`)
            .send({ error: { code: 'range_not_satisfiable', message: `the file has ${size} bytes` } });
        }
        reply
          .header('content-type', item.contentType)
          .header('cache-control', 'private')
          .header('x-content-type-options', 'nosniff')
          .header('accept-ranges', 'bytes')
          .header('last-modified', mtime.toUTCString())
          .header('content-disposition', `inline; filename="${file}"`);
        if (range === undefined) {
          return reply.code(200).header('content-length', size).send(handle.createReadStream());
        }
        return reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
          .header('content-length', range.end - range.start + 1)
          .send(handle.createReadStream({ start: range.start, end: range.end }));
      } catch (error) {
        // The stream owns the handle once created (it closes it at its end); before that, it is ours.
        await handle.close().catch(() => undefined);
        throw error;
      }
    },
  );
}
