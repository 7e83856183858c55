import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Accounts, loginMetrics } from '../../auth/accounts.ts';
import type { GuessLimiter } from '../../auth/guess-limiter.ts';
import { passwordBounds } from '../../auth/passwords.ts';
import type { Sessions } from '../../auth/sessions.ts';
import type { TokenAuthenticator } from '../../auth/token-authenticator.ts';
import { GridhubError } from '../../core/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import { authenticate, principalOf, tooManyAttempts } from '../request-guards.ts';
import { principalAnswer, tokenAnswer } from '../schemas.ts';

export interface AuthRoutesOptions {
  readonly authenticator: TokenAuthenticator;
  readonly sessions: Sessions;
  readonly accounts: Accounts;
  /** Failed authentications per address and identity (limits.auth), shared with bearer tokens, Socket.IO, MQTT. */
  readonly guesses: GuessLimiter;
  readonly metrics: MetricsRegistry;
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
  new GridhubError(
    'bad_credentials',
    'wrong username or password, or too many failed attempts: try again later',
  );

/**
 * Who you are (`/api/me`) and sessions: a JWT for an API token (a new session) or for the caller's JWT (a refresh within its session, never
 * past its end), and logout, which ends the session on the server.
 */
export const authRoutes: FastifyPluginAsyncZod<AuthRoutesOptions> = async (app, options) => {
  const { authenticator, sessions, accounts } = options;
  const { logins } = loginMetrics(options.metrics);
  app.addHook('preHandler', authenticate);

  app.get(
    '/me',
    {
      config: { roles: 'signed_in' },
      schema: {
        tags: ['auth'],
        summary: 'Who your token belongs to and what you see',
        response: { 200: principalAnswer },
      },
    },
    async (request) => principalOf(request),
  );

  app.post(
    '/auth/login',
    {
      config: { roles: 'public', refusals: ['bad_credentials', 'too_many_attempts'] },
      schema: {
        tags: ['auth'],
        summary: 'Log in with a username and password',
        description:
          'Opens a session (it lasts hub.sessionMaxHours at most) and answers its first JWT, with who you are. Refresh the JWT with POST /api/auth/token before it expires. Repeated failures lock the username for a while.',
        body: loginBody,
        security: [],
        response: { 200: tokenAnswer.extend({ me: principalAnswer }) },
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
      logins.inc();
      options.logger.info({ ns: 'auth', address: request.ip, userId: outcome.principal.userId }, 'logged in');
      const issued = await authenticator.issue(outcome.principal, session);
      return { ...issued, me: outcome.principal };
    },
  );
  app.post(
    '/auth/password',
    {
      config: { roles: 'signed_in', refusals: ['forbidden', 'not_found'] },
      schema: {
        tags: ['auth'],
        summary: 'Change your own password',
        description:
          'The old password is required. Your other sessions end; the one you are in goes on. At least 10 characters.',
        body: passwordChange,
        response: { 200: z.object({ changed: z.literal(true) }) },
      },
    },
    async (request) => {
      const { oldPassword, newPassword } = request.body;
      await accounts.changeOwnPassword(principalOf(request), oldPassword, newPassword);
      return { changed: true as const };
    },
  );
  app.post(
    '/auth/token',
    {
      config: { roles: 'signed_in' },
      schema: {
        tags: ['auth'],
        summary: 'Issue a session JWT, or refresh one',
        description:
          "With an API token as the bearer: a new session and its JWT. With a session's JWT: a fresh JWT of the same session, which never lasts past the session's end (`sessionExpiresAt`).",
        response: { 200: tokenAnswer },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const session = principal.session ?? (await sessions.open(principal.userId));
      return authenticator.issue(principal, session);
    },
  );
  app.post(
    '/auth/logout',
    {
      config: { roles: 'signed_in', refusals: ['no_session'] },
      schema: {
        tags: ['auth'],
        summary: 'End your session',
        description:
          'Ends the session of the bearer JWT on the server: its JWTs are refused from now on, and its live sockets are closed. An API token has no session to end (it lasts until it is removed or its user disabled).',
        response: { 200: z.object({ ended: z.literal(true) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      if (principal.session === undefined)
        throw new GridhubError(
          'no_session',
          'an API token has no session to end; log out with a session JWT',
        );
      const session = await sessions.live(principal.session.id, principal.userId);
      if (session !== undefined) await sessions.end(session, 'logout');
      return { ended: true as const };
    },
  );
};
