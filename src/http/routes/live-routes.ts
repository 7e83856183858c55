import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LiveViews } from '../../cameras/live/live-views.ts';

export interface LiveRoutesOptions {
  readonly live: LiveViews;
}

const ticketParams = z.strictObject({ ticket: z.string().regex(/^[\w-]{32}$/, 'a live view ticket') });

/**
 * The live streams themselves, at the URL a ticket was issued with (POST /api/cameras/:id/live). No bearer token:
 * the ticket is the credential, random, single-use and short-lived, as a <video> element can send nothing else.
 * The stream ends when the viewer goes: its ffmpeg is killed with the connection.
 */
export const liveRoutes: FastifyPluginAsyncZod<LiveRoutesOptions> = async (app, options) => {
  app.get(
    '/:ticket',
    {
      config: { refusals: ['not_found', 'too_many_attempts', 'device_offline', 'forbidden'] },
      schema: {
        tags: ['cameras'],
        summary: "A camera's live stream (fragmented MP4), by the ticket POST /api/cameras/:id/live gave",
        description:
          'No bearer token: the ticket in the URL is the credential (a <video> element can send no other).',
        // The ticket stands for the token.
        security: [],
        params: ticketParams,
        response: { 200: z.any().describe("The camera's video as fragmented MP4: a stream, not JSON.") },
      },
    },
    async (request, reply) => {
      const { view } = await options.live.open(request.params.ticket);
      const stop = () => view.stop();
      request.raw.once('close', stop);
      reply.raw.once('close', stop);
      return reply
        .type('video/mp4')
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        .send(view.stream);
    },
  );
};
