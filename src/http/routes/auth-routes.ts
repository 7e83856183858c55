import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountError, type Accounts } from '../../auth/accounts.ts';
import type { GuessLimiter } from '../../auth/guess-limiter.ts';
import { passwordBounds } from '../../auth/passwords.ts';
import type { Sessions } from '../../auth/sessions.ts';
import type { TokenAuthenticator } from '../../auth/token-authenticator.ts';
import type { Logger } from '../../observability/logger.ts';
import type { HubMetrics } from '../../observability/metrics.ts';
import { HttpError, requirePrincipal, tooManyAttempts } from '../request-guards.ts';

export interface AuthRoutesOptions {
  readonly authenticator: TokenAuthenticator;
  readonly sessions: Sessions;
  readonly accounts: Accounts;
  /** Failed authentications per address and identity (limits.auth), shared with bearer tokens, Socket.IO, MQTT. */
  readonly guesses: GuessLimiter;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
}

/** A password someone chooses: bounded, so hashing it costs what it should. */
export const newPassword = z.string().min(passwordBounds.min).max(passwordBounds.max);

const loginBody = z.strictObject({
  username: z.string().min(1).max(128),
  password: z.string().min(1).max(passwordBounds.max),
});

const passwordChange = z.strictObject({
  oldPassword: z.string().min(1).max(passwordBounds.max),
  newPassword,
});

/** Every failed login gets this answer: it does not tell an unknown user from a wrong password or a locked name. */
const loginRefused = () =>
  new HttpError(
    401,
    'bad_credentials',
    'wrong username or password, or too many failed attempts: try again later',
  );

/**
 * Sessions: a JWT for an API token (a new session) or for the caller's JWT (a refresh within its session, never
 * past its end), and logout, which ends the session on the server.
 */
export function authRoutes(app: FastifyInstance, options: AuthRoutesOptions): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { authenticator, sessions, accounts } = options;
  api.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with a username and password',
        description:
          'Opens a session (it lasts hub.sessionMaxHours at most) and answers its first JWT, with who you are. Refresh the JWT with POST /api/auth/token before it expires. Repeated failures lock the username for a while.',
        body: loginBody,
        security: [],
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      // Guessing spread over many usernames from one address is stopped here; the account's own lockout
      // (hub.loginLockout) stops guessing one username from many addresses.
      const throttled = options.guesses.refuse('rest', request.ip, undefined);
      if (throttled !== undefined) throw tooManyAttempts(reply, throttled);
      const outcome = await accounts.login(username, password);
      if ('failure' in outcome) {
        options.guesses.failed('rest', request.ip, undefined);
        // The name only when an account has it: what is typed there is sometimes a password.
        const named = outcome.failure === 'unknown_user' ? {} : { username };
        options.logger.info(
          { ns: 'auth', address: request.ip, ...named, reason: outcome.failure },
          'login refused',
        );
        throw loginRefused();
      }
      const session = await sessions.open(outcome.principal.userId);
      options.metrics.logins.inc();
      options.logger.info({ ns: 'auth', address: request.ip, userId: outcome.principal.userId }, 'logged in');
      const issued = await authenticator.issue(outcome.principal, session);
      return { ...issued, me: outcome.principal };
    },
  );
  api.post(
    '/api/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change your own password',
        description:
          'The old password is required. Your other sessions end; the one you are in goes on. At least 10 characters.',
        body: passwordChange,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      try {
        await accounts.changeOwnPassword(principal, request.body.oldPassword, request.body.newPassword);
      } catch (error) {
        if (error instanceof AccountError) throw accountHttpError(error);
        throw error;
      }
      return { changed: true };
    },
  );
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

const accountStatuses = { not_found: 404, forbidden: 403, conflict: 409, invalid: 400 } as const;
const accountCodes = {
  not_found: 'not_found',
  forbidden: 'forbidden',
  conflict: 'conflict',
  invalid: 'invalid_request',
} as const;

/** An account operation's refusal, in the API's error shape. */
export function accountHttpError(error: AccountError): HttpError {
  return new HttpError(accountStatuses[error.kind], accountCodes[error.kind], error.message);
}
