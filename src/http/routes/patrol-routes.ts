import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import { nodeIdSchema } from '../../core/schema-parts.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import { patrolBoard } from '../../patrols/patrol-board.ts';
import { datePattern } from '../../patrols/patrol-dates.ts';
import { patrolMetrics, patrolRefusalReason } from '../../patrols/patrol-metrics.ts';
import { type PatrolService, patrollingRoles } from '../../patrols/patrol-service.ts';
import { type WorkLogs, workLogCsv, workLogText } from '../../patrols/work-log.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { list } from '../schemas.ts';

export interface PatrolRoutesOptions {
  readonly patrols: PatrolService;
  readonly workLogs: WorkLogs;
  readonly metrics: MetricsRegistry;
}

/** A check-in or a zero report is a few fields: anything bigger is not one. */
const maxBodyBytes = 2048;
const pointIdParam = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/);
const localDate = z.string().regex(datePattern, 'a local date yyyy-mm-dd').max(10);

const checkinBody = z.strictObject({
  pointId: pointIdParam,
  method: z.enum(['geofence', 'qr']),
  position: z
    .strictObject({
      lon: z.number().min(-180).max(180).describe('WGS-84 longitude (Geolocation coords.longitude).'),
      lat: z.number().min(-90).max(90),
      accuracyM: z.number().positive().max(100_000).describe('coords.accuracy, metres.'),
    })
    .optional()
    .describe('method geofence: the phone’s position.'),
  code: z.string().min(1).max(200).optional().describe('method qr: the code read at the point.'),
});
const checkinAnswer = z.object({
  checkin: z.object({
    userId: z.string(),
    gridId: z.string(),
    pointId: z.string(),
    at: z.string(),
    method: z.enum(['geofence', 'qr']),
  }),
  day: z.object({
    gridId: z.string(),
    date: z.string(),
    required: z.number(),
    visited: list(z.string()),
    completed: z.boolean(),
    userIds: list(z.string()),
  }),
});
const zeroReportBody = z.strictObject({
  gridId: nodeIdSchema,
  note: z.string().max(500).optional().describe('What was looked at, if anything worth saying.'),
});
const zeroReportAnswer = z.object({
  gridId: z.string(),
  date: z.string(),
  userId: z.string(),
  at: z.string(),
  note: z.string().optional(),
});
const pointAnswer = z.object({
  id: z.string(),
  name: z.string(),
  position: z.tuple([z.number(), z.number()]),
  radiusM: z.number(),
  qr: z.boolean(),
  visitedAt: z.string().nullable(),
  visitedBy: z.string().nullable(),
});
const trackPoint = z.object({ lon: z.number(), lat: z.number(), accuracyM: z.number(), at: z.string() });
const dayAnswer = z.object({
  gridId: z.string(),
  date: z.string(),
  required: z.number(),
  visited: list(z.string()),
  completed: z.boolean(),
  userIds: list(z.string()),
  points: list(pointAnswer),
  checkins: list(checkinAnswer.shape.checkin),
  tracks: list(z.object({ userId: z.string(), points: list(trackPoint) })),
  zeroReport: zeroReportAnswer.nullable(),
  patrolBy: z.string(),
  zeroReportBy: z.string(),
});
const workLogAnswer = z.object({
  userId: z.string(),
  name: z.string(),
  date: z.string(),
  grids: list(
    z.object({
      gridId: z.string(),
      name: z.string(),
      required: z.number(),
      visited: list(z.string()),
      completed: z.boolean(),
      zeroReport: z.boolean(),
    }),
  ),
  checkins: z.number(),
  cases: z.record(z.string(), z.number()),
  uploads: z.number(),
  positionsShared: z.number().describe('How many positions were shared that day (never where).'),
  entries: list(
    z.object({
      at: z.string(),
      kind: z.enum(['checkin', 'zero_report', 'case']),
      action: z.string(),
      target: z.string(),
      text: z.string(),
    }),
  ),
});

/**
 * Patrols and daily duty (#25 point 5): check-ins at a grid's patrol points (`/patrols/checkins`), the points of
 * your grids (`/patrols/points`), a point's QR code (`/patrols/points/:id/qr`), the day's patrol of a grid
 * (`/patrols/days/:gridId/:date`), the zero report (`/patrols/zero-report`) and the daily work log
 * (`/worklogs/:userId/:date`). No route logs a position.
 */
export const patrolRoutes: FastifyPluginAsyncZod<PatrolRoutesOptions> = async (app, options) => {
  const { patrols, workLogs, metrics } = options;
  const tags = ['patrols'];
  app.addHook('preHandler', authenticate);
  const countRefusal = async (_request: unknown, _reply: unknown, error: unknown) =>
    patrolMetrics(metrics).refusals.labels(patrolRefusalReason(error)).inc();

  app.get(
    '/patrols/points',
    {
      schema: {
        tags,
        summary: 'The patrol points of your grids today, with the ones visited (any role, within its scope)',
        response: {
          200: z.object({
            date: z.string(),
            grids: list(
              z.object({
                gridId: z.string(),
                name: z.string(),
                required: z.number(),
                completed: z.boolean(),
                onDuty: z.boolean(),
                zeroReport: zeroReportAnswer.nullable(),
                points: list(pointAnswer),
              }),
            ),
            patrolBy: z.string(),
            zeroReportBy: z.string(),
          }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const date = patrols.days.date(patrols.now());
      const grids = patrols.grids.filter((grid) => patrols.mayRead(principal, grid.grid));
      return {
        date,
        grids: await Promise.all(
          grids.map(async (grid) => {
            const day = await patrols.dayView(principal, grid.grid, date, false);
            return {
              gridId: grid.grid,
              name: patrols.gridName(grid.grid),
              required: day.required,
              completed: day.completed,
              onDuty: patrols.onDuty(principal, grid.grid),
              zeroReport: day.zeroReport,
              points: day.points,
            };
          }),
        ),
        patrolBy: patrols.settings.patrolBy,
        zeroReportBy: patrols.settings.zeroReportBy,
      };
    },
  );

  app.post(
    '/patrols/checkins',
    {
      bodyLimit: maxBodyBytes,
      config: {
        roles: patrollingRoles,
        refusals: [
          'not_found',
          'patrol_not_your_grid',
          'patrol_off_duty',
          'patrol_too_far',
          'patrol_bad_code',
          'patrol_duplicate',
        ],
      },
      onError: countRefusal,
      schema: {
        tags,
        summary: 'Check in at a patrol point of your grid while on duty (grid workers and chiefs)',
        description:
          'method geofence: the phone’s position within the point’s radiusM plus the fix’s accuracy (at most patrols.maxAccuracyM); method qr: the code printed at the point. The same point again within patrols.duplicateMinutes is refused. Every refusal is counted in gridhub_patrol_refusals_total.',
        body: checkinBody,
        response: { 201: checkinAnswer },
      },
    },
    async (request, reply) => {
      const { checkin, day } = await patrols.checkIn(principalOf(request), request.body);
      const { position: _position, ...shown } = checkin;
      return reply.code(201).send({ checkin: shown, day });
    },
  );

  app.get(
    '/patrols/points/:id/qr',
    {
      config: { roles: ['grid_chief', 'duty_officer', 'admin'], refusals: ['not_found', 'forbidden'] },
      schema: {
        tags,
        summary: 'The signed code of a patrol point, to print as its QR code (chiefs, officers, admins)',
        description:
          '`url` opens the worker page and checks in at the point; print it as a QR image with any QR generator. `token` is what a worker may also type in.',
        params: z.strictObject({ id: pointIdParam }),
        response: {
          200: z.object({ pointId: z.string(), name: z.string(), token: z.string(), url: z.string() }),
        },
      },
    },
    async (request) => {
      const found = patrols.point(request.params.id);
      if (found === undefined || !found.point.qr)
        throw new GridhubError('not_found', 'no such patrol point with a QR code');
      if (!patrols.mayRead(principalOf(request), found.grid.grid))
        throw new GridhubError('forbidden', 'this point is outside your scope');
      const token = patrols.qrToken(found.point.id);
      return {
        pointId: found.point.id,
        name: found.point.name,
        token,
        url: `/dashboard/worker.html?patrolCode=${encodeURIComponent(token)}`,
      };
    },
  );

  app.get(
    '/patrols/days/:gridId/:date',
    {
      config: { refusals: ['forbidden', 'not_found'] },
      schema: {
        tags,
        summary: "A grid's patrol of a day: points visited, check-ins, the workers' tracks, completion",
        description:
          'For the grid’s workers, its chief, officers above it and admins. Tracks are the positions workers who opted in shared that day.',
        params: z.strictObject({ gridId: nodeIdSchema, date: localDate }),
        response: { 200: dayAnswer },
      },
    },
    async (request) => patrols.dayView(principalOf(request), request.params.gridId, request.params.date),
  );

  const dutyState = z.enum(['done', 'pending', 'overdue', 'missed', 'not_required']);
  app.get(
    '/patrols/board/:date',
    {
      config: { roles: ['grid_chief', 'duty_officer', 'admin'] },
      schema: {
        tags,
        summary:
          "The centre's patrol board: every patrol grid in your scope on a local date (chiefs, officers, admins)",
        description:
          'One answer for all the grids (most urgent first): points visited/required, the zero report (by whom, by name), the workers with their check-ins, and each duty’s state: done, pending (before its deadline), overdue (past it, no case raised yet, or a zero report not owed), missed (the duty sweep raised its case; `cases` names it).',
        params: z.strictObject({ date: localDate }),
        response: {
          200: z.object({
            date: z.string(),
            today: z.string(),
            patrolBy: z.string(),
            zeroReportBy: z.string(),
            grids: list(
              z.object({
                gridId: z.string(),
                name: z.string(),
                required: z.number(),
                visited: z.number(),
                completed: z.boolean(),
                patrol: dutyState,
                zeroReportState: dutyState,
                zeroReport: z
                  .object({
                    at: z.string(),
                    userId: z.string(),
                    name: z.string(),
                    note: z.string().optional(),
                  })
                  .nullable(),
                workers: list(z.object({ userId: z.string(), name: z.string(), checkins: z.number() })),
                cases: z.object({ patrol: z.string().optional(), zero_report: z.string().optional() }),
              }),
            ),
          }),
        },
      },
    },
    async (request) => patrolBoard(patrols, principalOf(request), request.params.date),
  );

  app.post(
    '/patrols/zero-report',
    {
      bodyLimit: maxBodyBytes,
      config: {
        roles: patrollingRoles,
        refusals: ['patrol_not_your_grid', 'patrol_off_duty', 'zero_report_done'],
      },
      onError: countRefusal,
      schema: {
        tags,
        summary: "Today's zero report (零报告) of your grid: nothing found (grid workers and chiefs on duty)",
        description: 'Once per grid and day; a second is refused as zero_report_done.',
        body: zeroReportBody,
        response: { 201: zeroReportAnswer },
      },
    },
    async (request, reply) => {
      const report = await patrols.zeroReport(principalOf(request), request.body.gridId, request.body.note);
      return reply.code(201).send(report);
    },
  );

  const clock = new Intl.DateTimeFormat('zh-CN', {
    timeZone: patrols.timezone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const time = (iso: string) => clock.format(Date.parse(iso));

  app.get(
    '/worklogs/:userId/:date',
    {
      config: { refusals: ['forbidden'] },
      schema: {
        tags,
        summary:
          "A worker's daily work log (工作日志): yours, or (chiefs, officers, admins) one of your grids'",
        description:
          'Generated from the day’s check-ins, patrols, zero reports, case actions and uploads (audit trail), and the count of positions shared. `format=text` answers printable Chinese text, `format=csv` a CSV download.',
        params: z.strictObject({ userId: nodeIdSchema, date: localDate }),
        querystring: z.strictObject({ format: z.enum(['json', 'text', 'csv']).default('json') }),
        response: { 200: z.union([workLogAnswer, z.string().describe('format=text or csv')]) },
      },
    },
    async (request, reply) => {
      const log = await workLogs.of(principalOf(request), request.params.userId, request.params.date);
      if (request.query.format === 'text')
        return reply.type('text/plain; charset=utf-8').send(workLogText(log, time));
      if (request.query.format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="worklog-${log.userId}-${log.date}.csv"`)
          .send(workLogCsv(log, time));
      return log;
    },
  );
};
