import { z } from 'zod';

/** A local time of day, HH:MM in hub.timezone. */
const clockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time HH:MM')
  .max(5);

const pointIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -');

/** A patrol point (巡查点) of a grid: where a worker checks in, by the phone's position or by its posted QR code. */
const patrolPointSchema = z.strictObject({
  id: pointIdSchema.describe('Unique across the deployment; printed in the QR code.'),
  name: z.string().min(1).max(100),
  position: z
    .tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)])
    .describe('[lon, lat] in map.coordinates (the system of the grids and devices).'),
  radiusM: z
    .number()
    .positive()
    .max(2000)
    .default(50)
    .describe("The geofence: a check-in by position counts within this plus the fix's accuracy."),
  qr: z.boolean().default(false).describe('Whether a QR code is posted at the point (check-in by code).'),
});

const gridPatrolSchema = z.strictObject({
  grid: z.string().min(1).max(64).describe('The grid id.'),
  points: z.array(patrolPointSchema).min(1).max(200),
  required: z
    .union([z.literal('all'), z.number().int().min(1).max(200)])
    .default('all')
    .describe('How many of its points must be visited each day for the day’s patrol to count as done.'),
});

/** `patrols` in the configuration: daily patrols, the zero report (零报告) and the work log (#25 point 5). */
export const patrolsSchema = z
  .strictObject({
    grids: z
      .array(gridPatrolSchema)
      .max(1000)
      .default([])
      .describe('Patrol points per grid; grids not listed have no patrol.'),
    patrolBy: clockTime.default('18:00').describe('Local time by which the day’s patrol must be complete.'),
    zeroReportBy: clockTime.default('20:00').describe('Local time by which the day’s zero report is due.'),
    zeroReportRequired: z
      .boolean()
      .default(true)
      .describe(
        'Whether a grid whose workers reported nothing that day owes a zero report (零报告); a day with a case reported in the grid owes none.',
      ),
    duplicateMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(10)
      .describe(
        'A second check-in at the same point by the same worker within this is refused as a duplicate.',
      ),
    maxAccuracyM: z
      .number()
      .positive()
      .max(1000)
      .default(100)
      .describe(
        'A geofence check-in whose fix is less accurate than this (metres) is refused: it would prove nothing.',
      ),
    qrSecret: z
      .string()
      .min(16)
      .max(256)
      .optional()
      .describe(
        'Key of the HMAC signing the points’ QR codes; derived from hub.identifierHashKey when left out.',
      ),
    sweepSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe('How often the missed-duty sweep runs.'),
    catchUpDays: z
      .number()
      .int()
      .min(0)
      .max(31)
      .default(7)
      .describe(
        'After the hub was down across deadlines, how many past days the first sweep judges (0: today only).',
      ),
    retentionDays: z
      .number()
      .int()
      .min(1)
      .max(3660)
      .default(400)
      .describe(
        'How long check-ins, patrol days, zero reports and misses are kept (a year’s assessment needs 366).',
      ),
  })
  .describe(
    'Daily patrols at points of the grids, the zero report, and the cases raised when either is missed.',
  );

export type PatrolSettings = z.infer<typeof patrolsSchema>;
export type PatrolPoint = z.infer<typeof patrolPointSchema>;
export type GridPatrol = z.infer<typeof gridPatrolSchema>;

/** What the schema cannot see: each grid named once and known, each point id used once across the deployment. */
export function patrolProblems(settings: PatrolSettings, isGrid: (id: string) => boolean): string[] {
  const problems: string[] = [];
  const grids = new Set<string>();
  const points = new Set<string>();
  settings.grids.forEach((grid, index) => {
    if (!isGrid(grid.grid)) problems.push(`patrols.grids[${index}].grid: no grid "${grid.grid}"`);
    if (grids.has(grid.grid))
      problems.push(`patrols.grids[${index}].grid: "${grid.grid}" is listed more than once`);
    grids.add(grid.grid);
    grid.points.forEach((point, pointIndex) => {
      if (points.has(point.id))
        problems.push(
          `patrols.grids[${index}].points[${pointIndex}].id: "${point.id}" is used more than once`,
        );
      points.add(point.id);
    });
  });
  return problems;
}
