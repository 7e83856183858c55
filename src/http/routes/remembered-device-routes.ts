import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Accounts } from '../../auth/accounts.ts';
import type { GuessLimiter } from '../../auth/guess-limiter.ts';
import type { RememberedDevices } from '../../auth/remembered-devices.ts';
import type { Sessions } from '../../auth/sessions.ts';
import type { TokenAuthenticator } from '../../auth/token-authenticator.ts';
import { GridhubError } from '../../core/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import { authenticate, principalOf, tooManyAttempts } from '../request-guards.ts';
import { principalAnswer, tokenAnswer } from '../schemas.ts';

const instant = z.string().describe('ISO 8601');

export interface RememberedDeviceRoutesOptions {
  readonly rememberedDevices: RememberedDevices;
  readonly authenticator: TokenAuthenticator;
  readonly sessions: Sessions;
  readonly accounts: Accounts;
  readonly guesses: GuessLimiter;
  readonly logger: Logger;
}

/** A device id and a secret as the hub makes them (base64url of 16 and 32 random bytes); bounded anyway. */
const deviceId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,64}$/)
  .describe('The remembered phone’s id.');
const credentialAnswer = z.object({
  deviceId: z.string(),
  secret: z.string().describe('Keep it on the phone only: each login with it answers the next one.'),
});
const deviceAnswer = z.object({
  deviceId: z.string(),
  userId: z.string(),
  label: z.string().describe("From the phone's user agent when it was remembered."),
  createdAt: instant,
  lastUsedAt: instant,
});
const deviceParams = z.strictObject({ id: deviceId });
const userParams = z.strictObject({ id: z.string().min(1).max(64) });

/** Every failed device login gets this answer: it does not tell an unknown device from a wrong or reused secret. */
const deviceLoginRefused = () =>
  new GridhubError('bad_credentials', 'this phone is no longer remembered: log in with your password');

/**
 * Remembered phones: a worker's phone stays logged in until revoked. Remember the phone a session runs on, log in
 * with its credential (rotating its secret), list and revoke one's own; admins revoke a user's.
 */
export const rememberedDeviceRoutes: FastifyPluginAsyncZod<RememberedDeviceRoutesOptions> = async (
  app,
  options,
) => {
  const { rememberedDevices, authenticator, sessions, accounts } = options;
  const tags = ['auth'];
  app.addHook('preHandler', authenticate);

  app.post(
    '/auth/devices',
    {
      config: { roles: 'signed_in', refusals: ['no_session'] },
      schema: {
        tags,
        summary: 'Remember this phone',
        description:
          'With a session JWT: remembers the phone it runs on, until revoked (or 90 days unused). Answers its id and a secret, whose only copy the phone keeps; POST /api/auth/device-login exchanges them for a new session.',
        response: { 200: credentialAnswer },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const session =
        principal.session === undefined
          ? undefined
          : await sessions.live(principal.session.id, principal.userId);
      if (session === undefined)
        throw new GridhubError('no_session', 'only a login session (a JWT) can remember its phone');
      return rememberedDevices.remember(session, request.headers['user-agent']);
    },
  );

  app.post(
    '/auth/device-login',
    {
      config: { roles: 'public', refusals: ['bad_credentials', 'too_many_attempts'] },
      schema: {
        tags,
        summary: "Log in with a remembered phone's credential",
        description:
          'Opens a session and answers as POST /api/auth/login does, with the phone’s next secret in `device` (the one sent is retired). A retired secret presented again revokes the phone: someone else holds a copy. Failures count towards the limits on guessing (limits.auth).',
        body: z.strictObject({ deviceId, secret: z.string().min(16).max(128) }),
        security: [],
        response: { 200: tokenAnswer.extend({ me: principalAnswer, device: credentialAnswer }) },
      },
    },
    async (request, reply) => {
      const throttled = options.guesses.refuse('rest', request.ip, undefined);
      if (throttled !== undefined) throw tooManyAttempts(reply, throttled);
      const outcome = await rememberedDevices.login(request.body, (userId) => sessions.open(userId));
      const me = 'failure' in outcome ? undefined : accounts.principal(outcome.userId);
      if ('failure' in outcome || me === undefined) {
        options.guesses.failed('rest', request.ip, undefined);
        options.logger.info(
          {
            ns: 'auth',
            address: request.ip,
            reason: 'failure' in outcome ? outcome.failure : 'user_unavailable',
          },
          'device login refused',
        );
        throw deviceLoginRefused();
      }
      options.logger.info({ ns: 'auth', address: request.ip, userId: me.userId }, 'logged in by a phone');
      const issued = await authenticator.issue(me, outcome.session);
      return { ...issued, me, device: { deviceId: request.body.deviceId, secret: outcome.secret } };
    },
  );

  app.get(
    '/me/devices',
    {
      config: { roles: 'signed_in' },
      schema: {
        tags,
        summary: 'Your remembered phones',
        response: { 200: z.object({ devices: z.array(deviceAnswer) }) },
      },
    },
    async (request) => ({ devices: await rememberedDevices.listOf(principalOf(request).userId) }),
  );

  app.delete(
    '/me/devices/:id',
    {
      config: { roles: 'signed_in', refusals: ['not_found'] },
      schema: {
        tags,
        summary: 'Forget one of your phones',
        description: 'Its credential is refused from now on, and the sessions it opened end.',
        params: deviceParams,
        response: { 200: z.object({ revoked: z.literal(true) }) },
      },
    },
    async (request) => {
      const revoked = await rememberedDevices.revokeOne(
        principalOf(request).userId,
        request.params.id,
        'owner',
      );
      if (!revoked) throw new GridhubError('not_found', 'no such remembered phone of yours');
      return { revoked: true as const };
    },
  );

  app.delete(
    '/users/:id/devices',
    {
      config: { roles: ['admin'], refusals: ['not_found'] },
      schema: {
        tags,
        summary: 'Forget every remembered phone of a user (admins)',
        description: 'Their credentials are refused from now on, and the sessions they opened end.',
        params: userParams,
        response: { 200: z.object({ revoked: z.number().int() }) },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (accounts.principal(id) === undefined && (await rememberedDevices.listOf(id)).length === 0)
        throw new GridhubError('not_found', `no user ${id}`);
      return { revoked: await rememberedDevices.revokeAllOf(id, 'admin') };
    },
  );
};
