import { open } from 'node:fs/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { incidentIdPattern, type MediaStore, mediaFilePattern } from '../../cameras/evidence/media-store.ts';
import { GridhubError } from '../../core/errors.ts';
import type { Visibility } from '../../incidents/visibility.ts';
import type { Store } from '../../store/store.ts';
import { authenticate, principalOf } from '../request-guards.ts';

export interface MediaRoutesOptions {
  readonly media: MediaStore;
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
 *
 * The incident is read from the store, never from the active incidents: evidence is committed there before it is
 * announced, and the incident list reads it there, so a link a client has is always found. The in-memory view can
 * lag the store: on one instance lmdb-js makes a commit visible to reads before its promise resolves (overlapping
 * sync: the flush comes between), so the list can show a clip while the writer has not yet kept it in memory; among
 * instances sharing Redis, a sibling's attachment reaches this instance's view only on its next reload.
 */
export const mediaRoutes: FastifyPluginAsyncZod<MediaRoutesOptions> = async (app, options) => {
  const { media, store, visibility } = options;
  app.addHook('preHandler', authenticate);

  const file = z.any().describe("The file's bytes, of the evidence item's contentType (a stream, not JSON).");
  app.get(
    '/:incidentId/:file',
    {
      config: { roles: 'signed_in', refusals: ['not_found', 'media_expired', 'range_not_satisfiable'] },
      schema: {
        tags: ['media'],
        summary: "A snapshot or clip of an incident's evidence (single byte ranges supported)",
        params: mediaParams,
        response: { 200: file, 206: file.describe('The requested byte range of the file.') },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { incidentId, file } = request.params;
      const incident = await store.getIncident(incidentId);
      const url = `/media/${incidentId}/${file}`;
      const item = incident?.evidence?.find((evidence) => evidence.url === url);
      if (incident === undefined || !visibility.canSee(principal, incident) || item === undefined) {
        throw new GridhubError('not_found', `no media ${url}`);
      }
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(media.path(incidentId, file), 'r');
      } catch {
        throw new GridhubError('media_expired', `${url} was removed by media retention`);
      }
      try {
        const { size, mtime } = await handle.stat();
        const range = parseRange(request.headers.range, size);
        if (range === 'unsatisfiable') {
          reply.header('content-range', `bytes */${size}`);
          throw new GridhubError('range_not_satisfiable', `the file has ${size} bytes`);
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
};
