import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Sessions } from '../../auth/sessions.ts';
import type { TokenAuthenticator } from '../../auth/token-authenticator.ts';
import { HttpError, requirePrincipal } from '../request-guards.ts';

export interface AuthRoutesOptions {
  readonly authenticator: TokenAuthenticator;
  readonly sessions: Sessions;
}

/**
 * Sessions: a JWT for an API token (a new session) or for the caller's JWT (a refresh within its session, never
 * past its end), and logout, which ends the session on the server.
 */
export function authRoutes(app: FastifyInstance, options: AuthRoutesOptions): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { authenticator, sessions } = options;
  api.post(
    '/api/auth/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Issue a session JWT, or refresh one',
        description:
          "With an API token as the bearer: a new session and its JWT. With a session's JWT: a fresh JWT of the same session, which never lasts past the session's end (`sessionExpiresAt`).",
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const session = principal.session ?? (await sessions.open(principal.userId));
      return authenticator.issue(principal, session);
    },
  );
  api.post(
    '/api/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End your session',
        description:
          'Ends the session of the bearer JWT on the server: its JWTs are refused from now on, and its live sockets are closed. An API token has no session to end (it lasts until it is removed or its user disabled).',
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      if (principal.session === undefined)
        throw new HttpError(
          400,
          'no_session',
          'an API token has no session to end; log out with a session JWT',
        );
      const session = await sessions.live(principal.session.id, principal.userId);
      if (session !== undefined) await sessions.end(session, 'logout');
      return { ended: true };
    },
  );
}
