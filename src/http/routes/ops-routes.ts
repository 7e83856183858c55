import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chainInScope, type GridChain, type PlaceRef } from '../../core/jurisdiction.ts';
import type { Principal } from '../../core/principal.ts';
import type { DeadLetter } from '../../core/refusals.ts';
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
  /** True from the moment the hub begins to stop: it is then no longer ready, though it still answers. */
  readonly stopping?: () => boolean;
  /** The live feed page served at `/`. */
  readonly dashboardIndex: string;
  /** Whose dead letters a caller may read: a device's grid chain. */
  readonly registry: { get(deviceId: string): { readonly grid: { readonly chain: GridChain } } | undefined };
  readonly jurisdiction: { readonly root: PlaceRef };
}

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().min(1).max(64).optional(),
});

/**
 * A refused message of a device in the caller's area; one naming no provisioned device belongs to no grid, so only
 * those who watch the whole jurisdiction see it.
 */
function deadLetterVisibility(
  options: OpsRoutesOptions,
  principal: Principal,
): ((deadLetter: DeadLetter) => boolean) | undefined {
  const { registry, jurisdiction } = options;
  if (principal.scopeNodeIds.includes(jurisdiction.root.id)) return undefined;
  return (deadLetter) => {
    const device = deadLetter.deviceId === null ? undefined : registry.get(deadLetter.deviceId);
    return device !== undefined && chainInScope(device.grid.chain, principal.scopeNodeIds);
  };
}

const auditQuery = pageQuery.extend({ target: z.string().min(1).max(64).optional() });

/**
 * What operators watch: health (`/healthz` the whole report; `/livez` and `/readyz` for supervisors and load
 * balancers), metrics, the refused messages and the audit trail; and the live feed page. */
export function opsRoutes(app: FastifyInstance, options: OpsRoutesOptions): void {
  const { store, metrics } = options;

  app.get('/healthz', async (_request, reply) => {
    const report = options.health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  // Liveness, for a process supervisor (Docker's HEALTHCHECK, Kubernetes' livenessProbe): the process answers.
  // Nothing else is checked, since restarting the hub would not bring back a Redis or a broker that is down.
  app.get('/livez', async () => ({ status: 'ok' }));

  // Readiness, for a load balancer: every component up and the hub not stopping, or 503 with those that are not,
  // so traffic goes to another instance while this one waits for its store or broker, or drains.
  app.get('/readyz', async (_request, reply) => {
    const report = options.health();
    const waiting = Object.entries(report.components)
      .filter(([, component]) => component.state !== 'up')
      .map(([name, component]): { component: string; state: string } => ({
        component: name,
        state: component.state,
      }));
    if (options.stopping?.() === true) waiting.unshift({ component: 'hub', state: 'stopping' });
    return waiting.length === 0
      ? reply.code(200).send({ status: 'ready' })
      : reply.code(503).send({ status: 'not_ready', waiting });
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
        summary: "Refused device messages of the caller's area, newest first (admins, integrators)",
        querystring: pageQuery,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request, ['admin', 'integrator']);
      const filter = deadLetterVisibility(options, principal);
      const deadLetters = await store.listDeadLetters({
        ...request.query,
        ...(filter === undefined ? {} : { filter }),
      });
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
