import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Throttled } from '../auth/guess-limiter.ts';
import type { Principal, Role } from '../core/principal.ts';
import { zodProblems } from '../core/problems.ts';

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
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, where: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = zodProblems(result.error, where);
  throw new HttpError(400, 'invalid_request', `invalid ${where}`, problems);
}

export function requirePrincipal(request: FastifyRequest, roles?: readonly Role[]): Principal {
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

/** The answer to an address or identity locked out for guessing (limits.auth): 429, and when to try again. */
export function tooManyAttempts(reply: FastifyReply, throttled: Throttled): HttpError {
  reply.header('retry-after', String(throttled.retryAfterSeconds));
  return new HttpError(
    429,
    'too_many_attempts',
    `too many failed authentications from this ${throttled.reason}: try again in ${throttled.retryAfterSeconds} s`,
  );
}
