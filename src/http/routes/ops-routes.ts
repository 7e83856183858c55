import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HubMetrics } from '../../observability/metrics.ts';
import type { ComponentState, Store } from '../../store/store.ts';
import { requirePrincipal } from '../request-guards.ts';

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly components: Readonly<Record<string, { state: ComponentState } & Record<string, unknown>>>;
}

export interface OpsRoutesOptions {
  readonly store: Store;
  readonly metrics: HubMetrics;
  readonly health: () => HealthReport;
  /** The live feed page served at `/`. */
  readonly dashboardIndex: string;
}

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().min(1).max(64).optional(),
});

const auditQuery = pageQuery.extend({ target: z.string().min(1).max(64).optional() });

/** What operators watch: health, metrics, the refused messages and the audit trail; and the live feed page. */
export function opsRoutes(app: FastifyInstance, options: OpsRoutesOptions): void {
  const { store, metrics } = options;

  app.get('/healthz', async (_request, reply) => {
    const report = options.health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));

  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/me',
    { schema: { tags: ['auth'], summary: 'Who your token belongs to and what you see' } },
    async (request) => requirePrincipal(request),
  );

  api.get(
    '/api/dead-letters',
    {
      schema: {
        tags: ['operations'],
        summary: 'Refused device messages, newest first (admins, integrators)',
        querystring: pageQuery,
      },
    },
    async (request) => {
      requirePrincipal(request, ['admin', 'integrator']);
      const deadLetters = await store.listDeadLetters(request.query);
      return {
        deadLetters,
        next: deadLetters.length === request.query.limit ? deadLetters.at(-1)?.id : null,
      };
    },
  );

  api.get(
    '/api/audit',
    {
      schema: {
        tags: ['operations'],
        summary: 'The audit trail, newest first (admins)',
        querystring: auditQuery,
      },
    },
    async (request) => {
      requirePrincipal(request, ['admin']);
      const { target, ...page } = request.query;
      const entries = await store.listAudit({
        ...page,
        ...(target === undefined ? {} : { targetId: target }),
      });
      return { entries, next: entries.length === page.limit ? entries.at(-1)?.id : null };
    },
  );
}
