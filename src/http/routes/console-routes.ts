import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deadlineStages } from '../../core/incident.ts';
import type { ConsoleSettings } from '../../incidents/console-settings.ts';
import { authenticate } from '../request-guards.ts';
import { covering, list } from '../schemas.ts';

export interface ConsoleRoutesOptions {
  /** Fixed for the hub's life: worked out once from the deployment. */
  readonly consoleSettings: ConsoleSettings;
}

const stageDeadlines = z.object(
  Object.fromEntries(deadlineStages.map((stage) => [stage, z.number()])) as Record<
    (typeof deadlineStages)[number],
    z.ZodNumber
  >,
);

const consoleAnswer = covering<ConsoleSettings>()(
  z.object({
    timeZone: z.string().describe('IANA time zone of the hub (hub.timezone), e.g. Asia/Shanghai.'),
    categories: list(z.string()).describe('The categories incidents can be raised in, sorted.'),
    deadlinesMs: z
      .record(z.string(), stageDeadlines)
      .describe('Per category listed, the ms each stage may take (accept, arrive, resolve).'),
    map: z
      .object({
        coordinates: z
          .enum(['WGS84', 'GCJ02'])
          .describe("The system of the grids' and devices' coordinates."),
        tiles: z
          .object({
            url: z.string(),
            subdomains: z.string(),
            coordinates: z.enum(['WGS84', 'GCJ02']),
            attribution: z.string(),
            maxZoom: z.number(),
          })
          .nullable()
          .describe('Background tiles (config map.tiles); null: none.'),
      })
      .describe("The console map's settings."),
  }),
);

/** The settings the officer and worker pages read once on loading, for any signed-in user. */
export const consoleRoutes: FastifyPluginAsyncZod<ConsoleRoutesOptions> = async (app, options) => {
  app.addHook('preHandler', authenticate);

  app.get(
    '',
    {
      config: { roles: 'signed_in' },
      schema: {
        tags: ['console'],
        summary: "The pages' settings: time zone, incident categories and their deadlines, the map",
        response: { 200: consoleAnswer },
      },
    },
    async () => options.consoleSettings,
  );
};
