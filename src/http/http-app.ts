import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { TokenAuthenticator } from '../auth/token-authenticator.ts';
import type { Fleet } from '../fleet/fleet.ts';
import { HttpError } from './request-guards.ts';
import { deviceRoutes } from './routes/device-routes.ts';
import { incidentRoutes } from './routes/incident-routes.ts';
import { type OpsRoutesOptions, opsRoutes } from './routes/ops-routes.ts';

export type { HealthReport } from './routes/ops-routes.ts';

export interface HttpAppOptions extends OpsRoutesOptions {
  readonly authenticator: TokenAuthenticator;
  readonly fleet: Fleet;
}

/**
 * The HTTP surface. Every route validates its input with zod, checks the caller's token and scope, and answers
 * errors in one shape: `{error: {code, message, problems?}}`.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024 });
  app.decorateRequest('principal', undefined);

  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer '))
      request.principal = options.authenticator.authenticate(header.slice(7));
  });

  app.setErrorHandler((error: unknown, _request, reply: FastifyReply) => {
    if (error instanceof HttpError) {
      const problems = error.problems.length > 0 ? { problems: error.problems } : {};
      return reply
        .code(error.statusCode)
        .send({ error: { code: error.code, message: error.message, ...problems } });
    }
    // Fastify's own 4xx (a body that is not JSON, too large): its message is safe to show.
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const message = status < 500 ? (error as Error).message : 'internal error';
    return reply.code(status).send({ error: { code: status < 500 ? 'bad_request' : 'internal', message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } }),
  );

  opsRoutes(app, options);
  incidentRoutes(app, options);
  deviceRoutes(app, options);
  return app;
}
