import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditEntry } from '../../core/audit.ts';
import type { ComponentState } from '../../core/component.ts';
import { chainInScope, type GridChain, type PlaceRef } from '../../core/jurisdiction.ts';
import type { Principal } from '../../core/principal.ts';
import type { DeadLetter } from '../../core/refusals.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { Store } from '../../store/store.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { auditAnswer, covering, deadLetterAnswer, list, nextPage } from '../schemas.ts';

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly components: Readonly<Record<string, { state: ComponentState } & Record<string, unknown>>>;
}

export interface OpsRoutesOptions {
  readonly store: Store;
  readonly metrics: MetricsRegistry;
  readonly health: () => HealthReport;
  /** True from the moment the hub begins to stop: it is then no longer ready, though it still answers. */
  readonly stopping?: () => boolean;
  /** The live feed page served at `/`. */
  readonly dashboardIndex: string;
  /** Whose dead letters a caller may read: a device's grid chain. */
  readonly registry: { get(deviceId: string): { readonly grid: { readonly chain: GridChain } } | undefined };
  /** `ancestry`: a node and those above it, to place an audit entry about a grid (a roster) or a user. */
  readonly jurisdiction: { readonly root: PlaceRef; ancestry(id: string): readonly PlaceRef[] };
  /** Where a user works (their scope node or grids; none when unknown), to place an audit entry about them. */
  readonly placeOfUser: (userId: string) => readonly string[];
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

/** The audit trail is read a page at a time and filtered, until the caller's page is full. */
const AUDIT_SCAN_PAGE = 200;
/** The most of the trail one request reads for a scoped caller: a narrow scope over a long trail costs bounded. */
const AUDIT_SCAN_LIMIT = 5_000;

/**
 * Which audit entries a caller may read: those whose target lies in their scope, as every other read is scoped.
 * Each kind of target is placed by a lookup: a device by its grid, an incident by its chain, a grid (rosters) by
 * its ancestry, a user by where they work. A target that can no longer be placed (a device whose provisioning was
 * refused, a user since removed) belongs to no grid, so only those who watch the whole jurisdiction see it.
 */
function auditVisibility(
  options: OpsRoutesOptions,
  principal: Principal,
): ((entry: AuditEntry) => Promise<boolean>) | undefined {
  const { registry, jurisdiction, placeOfUser, store } = options;
  const scope = principal.scopeNodeIds;
  if (scope.includes(jurisdiction.root.id)) return undefined;
  const nodeInScope = (id: string): boolean => chainInScope(jurisdiction.ancestry(id), scope);
  const incidents = new Map<string, Promise<boolean>>();
  const placed: Record<string, (id: string) => boolean | Promise<boolean>> = {
    device: (id) => {
      const device = registry.get(id);
      return device !== undefined && chainInScope(device.grid.chain, scope);
    },
    grid: nodeInScope,
    incident: (id) => {
      // One read per incident a page names, however many entries it has.
      let visible = incidents.get(id);
      if (visible === undefined) {
        visible = store
          .getIncident(id)
          .then((incident) => incident !== undefined && chainInScope(incident.chain, scope));
        incidents.set(id, visible);
      }
      return visible;
    },
    user: (id) => {
      const nodes = placeOfUser(id);
      return nodes.length > 0 && nodes.every(nodeInScope);
    },
  };
  return async ({ target }) =>
    Object.hasOwn(placed, target.kind) && (await placed[target.kind]?.(target.id)) === true;
}

const auditQuery = pageQuery.extend({ target: z.string().min(1).max(64).optional() });

const componentAnswer = z.looseObject({ state: z.enum(['starting', 'up', 'down']) });
const healthAnswer = covering<HealthReport>()(
  z.object({
    status: z.enum(['ok', 'degraded']),
    components: z
      .record(z.string(), componentAnswer)
      .describe("Each component's state and what it reports of itself (its port, mode, sessions)."),
  }),
);
const waitingAnswer = z.object({
  status: z.literal('not_ready'),
  waiting: list(z.object({ component: z.string(), state: z.string() })),
});

/**
 * What operators watch: health (`/healthz` the whole report; `/livez` and `/readyz` for supervisors and load
 * balancers) and metrics. Public: a supervisor has no token (the edge guards /metrics when the config says so).
 */
export const opsRoutes: FastifyPluginAsyncZod<OpsRoutesOptions> = async (app, options) => {
  const { metrics } = options;
  const tags = ['operations'];

  app.get(
    '/healthz',
    {
      config: { roles: 'public' },
      schema: {
        tags,
        summary: "Every component's state: 200 when all are up, 503 otherwise",
        security: [],
        response: { 200: healthAnswer, 503: healthAnswer },
      },
    },
    async (_request, reply) => {
      const report = options.health();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );

  // Liveness, for a process supervisor (Docker's HEALTHCHECK, Kubernetes' livenessProbe): the process answers.
  // Nothing else is checked, since restarting the hub would not bring back a Redis or a broker that is down.
  app.get(
    '/livez',
    {
      config: { roles: 'public' },
      schema: {
        tags,
        summary: 'Liveness: the process answers',
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  // Readiness, for a load balancer: every component up and the hub not stopping, or 503 with those that are not,
  // so traffic goes to another instance while this one waits for its store or broker, or drains.
  app.get(
    '/readyz',
    {
      config: { roles: 'public' },
      schema: {
        tags,
        summary: 'Readiness: every component up and the hub not stopping, or 503 with those that are not',
        security: [],
        response: { 200: z.object({ status: z.literal('ready') }), 503: waitingAnswer },
      },
    },
    async (_request, reply) => {
      const report = options.health();
      const waiting = Object.entries(report.components)
        .filter(([, component]) => component.state !== 'up')
        .map(([name, component]): { component: string; state: string } => ({
          component: name,
          state: component.state,
        }));
      if (options.stopping?.() === true) waiting.unshift({ component: 'hub', state: 'stopping' });
      return waiting.length === 0
        ? reply.code(200).send({ status: 'ready' as const })
        : reply.code(503).send({ status: 'not_ready' as const, waiting });
    },
  );

  app.get(
    '/metrics',
    {
      // Public here; the edge asks for the metrics token or an admin when http.metricsToken is set.
      config: { roles: 'public', refusals: ['unauthorized'] },
      schema: {
        tags,
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: z.string().describe('text/plain; version=0.0.4') },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()),
  );
};

/** The refused messages and the audit trail, each of the caller's area. */
export const operationsRoutes: FastifyPluginAsyncZod<OpsRoutesOptions> = async (app, options) => {
  const { store } = options;
  app.addHook('preHandler', authenticate);

  app.get(
    '/dead-letters',
    {
      config: { roles: ['admin', 'integrator'] },
      schema: {
        tags: ['operations'],
        summary: "Refused device messages of the caller's area, newest first (admins, integrators)",
        querystring: pageQuery,
        response: { 200: z.object({ deadLetters: list(deadLetterAnswer), next: nextPage }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const filter = deadLetterVisibility(options, principal);
      const deadLetters = await store.listDeadLetters({
        ...request.query,
        ...(filter === undefined ? {} : { filter }),
      });
      return {
        deadLetters,
        next: deadLetters.length === request.query.limit ? (deadLetters.at(-1)?.id ?? null) : null,
      };
    },
  );

  app.get(
    '/audit',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['operations'],
        summary: "The audit trail of the caller's scope, newest first (admins)",
        querystring: auditQuery,
        response: { 200: z.object({ entries: list(auditAnswer), next: nextPage }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { target, limit, before } = request.query;
      const visible = auditVisibility(options, principal);
      const query = target === undefined ? {} : { targetId: target };
      if (visible === undefined) {
        const entries = await store.listAudit({
          limit,
          ...query,
          ...(before === undefined ? {} : { before }),
        });
        return { entries, next: entries.length === limit ? (entries.at(-1)?.id ?? null) : null };
      }
      // Scoped: read on, a page at a time, until the caller's page is full or the trail ends, or this request has
      // read its share of the trail: then the page may be short, and `next` goes on from where it stopped.
      const entries: AuditEntry[] = [];
      let from = before;
      for (let read = 0; read < AUDIT_SCAN_LIMIT; read += AUDIT_SCAN_PAGE) {
        const scanned = await store.listAudit({
          limit: AUDIT_SCAN_PAGE,
          ...query,
          ...(from === undefined ? {} : { before: from }),
        });
        for (const entry of scanned) {
          if (!(await visible(entry))) continue;
          entries.push(entry);
          if (entries.length === limit) return { entries, next: entry.id };
        }
        if (scanned.length < AUDIT_SCAN_PAGE) return { entries, next: null };
        from = scanned.at(-1)?.id;
      }
      return { entries, next: from ?? null };
    },
  );
};
