import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import { nodeIdSchema } from '../../core/schema-parts.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import {
  countPositionRefusal,
  maxTrackPoints,
  maxTrackSpanMs,
  sharingRoles,
  supervisingRoles,
  type WorkerPositions,
} from '../../positions/worker-positions.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { list } from '../schemas.ts';

export interface PositionRoutesOptions {
  readonly positions: WorkerPositions;
  readonly metrics: MetricsRegistry;
}

/** A position report is a few numbers: anything bigger is not one. */
const maxReportBytes = 1024;

/** An ISO 8601 date-time with `Z` or an offset: a local time without one would be ambiguous. */
const instant = z.iso.datetime({ offset: true });

const sharingBody = z.strictObject({ enabled: z.boolean() });
const sharingAnswer = z.object({
  enabled: z.boolean(),
  minIntervalSeconds: z.number().describe('The least time between two positions: send no more often.'),
  onDuty: z.boolean().describe('Whether you are on one of your shifts now (only then are positions kept).'),
});
const positionBody = z.strictObject({
  lon: z.number().min(-180).max(180).describe('WGS-84 longitude, degrees (Geolocation coords.longitude).'),
  lat: z.number().min(-90).max(90).describe('WGS-84 latitude, degrees.'),
  accuracyM: z
    .number()
    .positive()
    .max(1_000_000)
    .describe('Radius of 68 % confidence, metres (coords.accuracy).'),
  at: instant
    .max(40)
    .describe('When the phone took it (ISO 8601): not in the future, at most 10 minutes ago.'),
});
const positionAnswer = z.object({
  userId: z.string(),
  name: z.string(),
  gridIds: list(z.string()),
  lon: z.number(),
  lat: z.number(),
  accuracyM: z.number(),
  at: z.string(),
});
const trackParams = z.strictObject({ userId: nodeIdSchema });
const trackQuery = z
  .strictObject({
    from: instant.optional().describe('Taken at or after; 24 hours before `to` when left out.'),
    to: instant.optional().describe('Taken before; now when left out.'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(maxTrackPoints)
      .default(maxTrackPoints)
      .describe('The most points answered, the newest when there are more.'),
  })
  .superRefine((query, context) => {
    if (query.from === undefined || query.to === undefined) return;
    if (!instant.safeParse(query.from).success || !instant.safeParse(query.to).success) return;
    const span = Date.parse(query.to) - Date.parse(query.from);
    if (span <= 0) context.addIssue({ code: 'custom', path: ['to'], message: 'must be later than from' });
    else if (span > maxTrackSpanMs)
      context.addIssue({ code: 'custom', path: ['to'], message: 'must be at most 24 hours after from' });
  });

/**
 * Grid workers' positions while on duty (#24): a worker opts in (`/me/position-sharing`) and sends positions
 * (`/me/position`); officers read the current ones of their scope (`/positions`) and one worker's track of a day
 * (`/positions/:userId/track`). Positions are personal data: no route logs them.
 */
export const positionRoutes: FastifyPluginAsyncZod<PositionRoutesOptions> = async (app, options) => {
  const { positions, metrics } = options;
  const tags = ['positions'];
  app.addHook('preHandler', authenticate);

  const sharingState = async (principal: ReturnType<typeof principalOf>) => ({
    enabled: await positions.sharing(principal.userId),
    minIntervalSeconds: positions.settings.minIntervalSeconds,
    onDuty: positions.onDuty(principal),
  });

  app.get(
    '/me/position-sharing',
    {
      config: { roles: sharingRoles },
      schema: {
        tags,
        summary: 'Whether you share your position while on duty (grid workers and chiefs)',
        response: { 200: sharingAnswer },
      },
    },
    async (request) => sharingState(principalOf(request)),
  );

  app.put(
    '/me/position-sharing',
    {
      config: { roles: sharingRoles, refusals: ['position_sharing_off'] },
      schema: {
        tags,
        summary: 'Turn sharing your position on or off (grid workers and chiefs)',
        description:
          'Off takes your position off the officers’ maps at once; the positions already kept go at positions.retentionHours.',
        body: sharingBody,
        response: { 200: sharingAnswer },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      await positions.setSharing(principal, request.body.enabled);
      return sharingState(principal);
    },
  );

  app.post(
    '/me/position',
    {
      bodyLimit: maxReportBytes,
      config: {
        roles: sharingRoles,
        refusals: [
          'position_sharing_off',
          'off_shift',
          'position_too_frequent',
          'position_inaccurate',
          'position_out_of_bounds',
          'position_time_out_of_range',
        ],
      },
      // Every refusal of a report counted by reason, the schema's and the body limit's included.
      onError: async (_request, _reply, error) => countPositionRefusal(metrics, error),
      schema: {
        tags,
        summary: 'Send your position while on duty (grid workers and chiefs who share it)',
        description:
          'Kept only while you share it and are on one of your shifts, at most once per positions.minIntervalSeconds (429 with retry-after sooner), no less accurate than positions.maxAccuracyM, inside the jurisdiction. Pushed to the officers over your grids as `worker:position`.',
        body: positionBody,
        response: { 201: positionAnswer },
      },
    },
    async (request, reply) => {
      const position = await positions.report(principalOf(request), request.body, (seconds) =>
        reply.header('retry-after', String(seconds)),
      );
      return reply.code(201).send(position);
    },
  );

  app.get(
    '/positions',
    {
      config: { roles: supervisingRoles },
      schema: {
        tags,
        summary: 'The current positions of the on-duty workers of your scope (officers, chiefs, admins)',
        description: 'Each worker’s latest position, not older than positions.staleMinutes.',
        response: {
          200: z.object({
            positions: list(positionAnswer),
            staleMinutes: z.number(),
            minIntervalSeconds: z.number(),
          }),
        },
      },
    },
    async (request) => ({
      positions: await positions.current(principalOf(request)),
      staleMinutes: positions.settings.staleMinutes,
      minIntervalSeconds: positions.settings.minIntervalSeconds,
    }),
  );

  app.get(
    '/positions/:userId/track',
    {
      config: { refusals: ['forbidden'] },
      schema: {
        tags,
        summary: "A worker's track: your own, or (officers, chiefs, admins) a worker's of your scope",
        description: `Positions taken in [from, to), oldest first; at most 24 hours and ${maxTrackPoints} points.`,
        params: trackParams,
        querystring: trackQuery,
        response: {
          200: z.object({ userId: z.string(), points: list(positionAnswer), truncated: z.boolean() }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { userId } = request.params;
      if (userId !== principal.userId && !supervisingRoles.includes(principal.role))
        throw new GridhubError('forbidden', 'you may read only your own track');
      const { from, to, limit } = request.query;
      const end = to === undefined ? positions.now() + 60_000 : Date.parse(to);
      const start = from === undefined ? end - maxTrackSpanMs : Date.parse(from);
      if (end - start > maxTrackSpanMs || end <= start)
        throw new GridhubError('invalid_request', 'a track covers at most 24 hours', {
          problems: ['query.from: must be at most 24 hours before to'],
        });
      return { userId, ...(await positions.track(principal, userId, start, end, limit)) };
    },
  );
};
