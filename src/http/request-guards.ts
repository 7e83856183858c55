import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Throttled } from '../auth/guess-limiter.ts';
import { errorCatalogue, GridhubError, type RequestErrorCode } from '../core/errors.ts';
import { gridRoles, type Principal, type Role } from '../core/principal.ts';
import { errorAnswer } from './schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /**
     * Who may call a route of a plugin that {@link authenticate}s: `'public'` anyone, `'signed_in'` anyone signed
     * in, these roles only, or (absent) anyone signed in of the grid system ({@link gridRoles}): a department user
     * (#25) calls only the routes that say `'signed_in'` or name them, those of the cases handed to them.
     */
    roles?: readonly Role[] | 'public' | 'signed_in';
  }
}

/**
 * The authentication pre-handler of a plugin's routes, added once per plugin (`app.addHook('preHandler',
 * authenticate)`); each route says who may call it in `config.roles`. A preHandler, so input is validated first,
 * as it always was: a malformed request is told so before it is told who may send it.
 */
export async function authenticate(request: FastifyRequest): Promise<void> {
  const { roles } = request.routeOptions.config;
  if (roles === 'public') return;
  const principal = request.principal;
  if (principal === undefined) throw new GridhubError('unauthorized');
  if (roles === 'signed_in') return;
  const allowed = roles ?? gridRoles;
  if (!allowed.includes(principal.role)) {
    throw new GridhubError('forbidden', `this needs one of the roles: ${allowed.join(', ')}`);
  }
}

/** The caller of a route behind {@link authenticate}. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new GridhubError('unauthorized');
  return request.principal;
}

/** The answer to an address or identity locked out for guessing (limits.auth): 429, and when to try again. */
export function tooManyAttempts(reply: FastifyReply, throttled: Throttled): GridhubError {
  reply.header('retry-after', String(throttled.retryAfterSeconds));
  return new GridhubError(
    'too_many_attempts',
    `too many failed authentications from this ${throttled.reason}: try again in ${throttled.retryAfterSeconds} s`,
  );
}

/**
 * Documents, on each route that has a schema, the refusals every route of its kind may answer, with the error
 * shape: 400 when it takes input, 401 and 429 behind a bearer token, 403 when only some roles may call it, and
 * whichever codes the route adds in `config.refusals` (a 409, a 504). The route's own `response` stays as it is.
 * An `onRoute` hook of the root app: it sees every plugin's routes.
 */
export function documentRefusals(route: RouteOptions): void {
  const schema = route.schema;
  if (schema === undefined || schema.hide === true) return;
  const config = (route.config ?? {}) as {
    roles?: readonly Role[] | 'public' | 'signed_in';
    refusals?: RequestErrorCode[];
  };
  const codes = new Set<RequestErrorCode>(config.refusals ?? []);
  if (schema.body !== undefined || schema.querystring !== undefined || schema.params !== undefined)
    codes.add('invalid_request');
  if (config.roles !== 'public') {
    codes.add('unauthorized');
    codes.add('too_many_attempts');
    if (config.roles !== 'signed_in') codes.add('forbidden');
  }
  const response: Record<number, unknown> = { ...((schema.response as object | undefined) ?? {}) };
  for (const code of codes) {
    const status = errorCatalogue[code].status;
    response[status] ??= errorAnswer;
  }
  response[500] ??= errorAnswer;
  route.schema = { ...schema, response };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The refusals a route answers beyond those of its kind (see {@link documentRefusals}). */
    refusals?: readonly RequestErrorCode[];
  }
}
