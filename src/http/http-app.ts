import { readFile } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { TokenAuthenticator } from '../auth/token-authenticator.ts';
import { incidentInScope } from '../core/incident.ts';
import type { Principal, Role } from '../core/principal.ts';
import type { HubMetrics } from '../observability/metrics.ts';
import type { ComponentState, Store } from '../store/store.ts';

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly components: Readonly<Record<string, { state: ComponentState } & Record<string, unknown>>>;
}

export interface HttpAppOptions {
  readonly store: Store;
  readonly metrics: HubMetrics;
  readonly authenticator: TokenAuthenticator;
  readonly health: () => HealthReport;
  /** The live feed page served at `/`. */
  readonly dashboardIndex: string;
}

/** An error with an HTTP status and a stable code, answered as `{error: {code, message, problems?}}`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/** Validates request input at the edge with a strict zod schema; every problem is reported at once. */
function parseInput<T>(schema: z.ZodType<T>, input: unknown, where: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${where}.${issue.path.map(String).join('.')}: ${issue.message}`,
  );
  throw new HttpError(400, 'invalid_request', `invalid ${where}`, problems);
}

function requirePrincipal(request: FastifyRequest, roles?: readonly Role[]): Principal {
  const principal = request.principal;
  if (principal === undefined) {
    throw new HttpError(
      401,
      'unauthorized',
      'a valid bearer token is required (Authorization: Bearer <token>)',
    );
  }
  if (roles !== undefined && !roles.includes(principal.role)) {
    throw new HttpError(403, 'forbidden', `this needs one of the roles: ${roles.join(', ')}`);
  }
  return principal;
}

const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().min(1).max(64).optional(),
});
const idParams = z.strictObject({ id: z.string().min(1).max(64) });

/**
 * The HTTP surface. Routes validate their input with zod, check the caller's token and scope, and answer
 * errors in one shape. Tests drive it with fastify.inject() or over a real socket.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const { store, metrics, authenticator } = options;
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024 });
  app.decorateRequest('principal', undefined);

  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) request.principal = authenticator.authenticate(header.slice(7));
  });

  app.setErrorHandler((error: unknown, _request, reply: FastifyReply) => {
    if (error instanceof HttpError) {
      const problems = error.problems.length > 0 ? { problems: error.problems } : {};
      return reply
        .code(error.statusCode)
        .send({ error: { code: error.code, message: error.message, ...problems } });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const message = status < 500 ? (error as Error).message : 'internal error';
    return reply.code(status).send({ error: { code: status < 500 ? 'bad_request' : 'internal', message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } }),
  );

  app.get('/healthz', async (_request, reply) => {
    const report = options.health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.get('/', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(await readFile(options.dashboardIndex, 'utf8')),
  );

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));

  app.get('/api/me', async (request) => requirePrincipal(request));

  app.get('/api/incidents', async (request) => {
    const principal = requirePrincipal(request);
    const query = parseInput(pageQuery, request.query, 'query');
    const incidents = await store.listIncidents({ ...query, scopeNodeIds: principal.scopeNodeIds });
    return { incidents, next: incidents.length === query.limit ? incidents.at(-1)?.id : null };
  });

  app.get('/api/incidents/:id', async (request) => {
    const principal = requirePrincipal(request);
    const { id } = parseInput(idParams, request.params, 'params');
    const incident = await store.getIncident(id);
    // Out of scope answers as not found: another grid's incidents do not exist for this user.
    if (incident === undefined || !incidentInScope(incident, principal.scopeNodeIds)) {
      throw new HttpError(404, 'not_found', `no incident ${id}`);
    }
    return incident;
  });

  app.get('/api/dead-letters', async (request) => {
    requirePrincipal(request, ['admin', 'integrator']);
    const query = parseInput(pageQuery, request.query, 'query');
    const deadLetters = await store.listDeadLetters(query);
    return { deadLetters, next: deadLetters.length === query.limit ? deadLetters.at(-1)?.id : null };
  });

  return app;
}
