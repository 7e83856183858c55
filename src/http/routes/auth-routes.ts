import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TokenAuthenticator } from '../../auth/token-authenticator.ts';
import { requirePrincipal } from '../request-guards.ts';

/** Session tokens: a short-lived JWT for the caller's API token (or for a JWT about to expire). */
export function authRoutes(app: FastifyInstance, options: { authenticator: TokenAuthenticator }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(
    '/api/auth/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Issue a session JWT',
        description:
          'Send your API token as the bearer; use the JWT it returns for REST and Socket.IO until it expires.',
      },
    },
    async (request) => options.authenticator.issue(requirePrincipal(request)),
  );
}
