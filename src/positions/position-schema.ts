import { z } from 'zod';

/** `positions` in the configuration: the on-duty positions grid workers share with their duty officers (#24). */
export const positionsSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'Whether grid workers and grid chiefs may share their position while on duty (each still opts in).',
      ),
    minIntervalSeconds: z
      .number()
      .int()
      .min(5)
      .max(3600)
      .default(30)
      .describe(
        'The least time between two positions of one worker; one sooner is refused 429 with Retry-After.',
      ),
    retentionHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 31)
      .default(72)
      .describe(
        'How long a position is kept (a track is personal data): past it, it is neither listed nor read.',
      ),
    maxAccuracyM: z
      .number()
      .positive()
      .max(100_000)
      .default(500)
      .describe(
        'Positions less accurate than this (their radius in metres) are refused: they would mislead.',
      ),
    staleMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(15)
      .describe("A worker's latest position older than this is no longer shown as current."),
    boundsMarginM: z
      .number()
      .min(0)
      .max(100_000)
      .default(2000)
      .describe(
        "How far outside the jurisdiction's grids (their bounding box) a position may lie; farther is refused as out of bounds.",
      ),
  })
  .describe(
    "Grid workers' positions while on duty: opt-in, only during their shifts, shown to their officers.",
  );

export type PositionSettings = z.infer<typeof positionsSchema>;
