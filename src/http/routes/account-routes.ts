import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountError, type Accounts } from '../../auth/accounts.ts';
import { roles } from '../../core/principal.ts';
import { requirePrincipal } from '../request-guards.ts';
import { accountHttpError, newPassword } from './auth-routes.ts';

const nodeId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lowercase letters, digits and dashes');

const newAccount = z.strictObject({
  id: nodeId.describe('The username: lowercase letters, digits and dashes; unique across users and devices.'),
  name: z.string().min(1).max(200),
  role: z.enum(roles),
  scope: nodeId.optional().describe('For duty officers, integrators and admins: the node they see.'),
  grids: z.array(nodeId).min(1).max(50).optional().describe('For grid workers and chiefs: their grids.'),
  password: newPassword.describe('Their first password (at least 10 characters); they should change it.'),
});

const idParams = z.strictObject({ id: z.string().min(1).max(64) });

/** Runs an account operation, its refusal answered in the API's error shape. */
async function answer<T>(operation: () => T | Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof AccountError) throw accountHttpError(error);
    throw error;
  }
}

/**
 * People's accounts, managed by admins: each admin sees and manages only the accounts inside their scope. Disabling,
 * removing or resetting an account's password ends its sessions at once (its live sockets close).
 */
export function accountRoutes(app: FastifyInstance, options: { accounts: Accounts }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { accounts } = options;
  api.get(
    '/api/accounts',
    { schema: { tags: ['accounts'], summary: 'The accounts inside your scope (admins)' } },
    async (request) => {
      const principal = requirePrincipal(request, ['admin']);
      return { accounts: accounts.list(principal) };
    },
  );
  api.post(
    '/api/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Make an account inside your scope (admins)',
        body: newAccount,
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, ['admin']);
      const created = await answer(() => accounts.create(principal, request.body));
      return reply.code(201).send(created);
    },
  );
  api.get(
    '/api/accounts/:id',
    { schema: { tags: ['accounts'], summary: 'One account inside your scope (admins)', params: idParams } },
    async (request) => {
      const principal = requirePrincipal(request, ['admin']);
      return answer(() => accounts.get(principal, request.params.id));
    },
  );
  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    api.post(
      `/api/accounts/:id/${action}`,
      {
        schema: {
          tags: ['accounts'],
          summary:
            action === 'disable'
              ? 'Disable an account: it cannot log in, its sessions end and its sockets close (admins)'
              : 'Enable a disabled account (admins)',
          params: idParams,
        },
      },
      async (request) => {
        const principal = requirePrincipal(request, ['admin']);
        return answer(() => accounts.setDisabled(principal, request.params.id, disabled));
      },
    );
  }
  api.post(
    '/api/accounts/:id/password',
    {
      schema: {
        tags: ['accounts'],
        summary: "Set an account's password: its sessions end (admins)",
        params: idParams,
        body: z.strictObject({ password: newPassword }),
      },
    },
    async (request) => {
      const principal = requirePrincipal(request, ['admin']);
      await answer(() => accounts.resetPassword(principal, request.params.id, request.body.password));
      return { reset: true };
    },
  );
  api.delete(
    '/api/accounts/:id',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Remove an account: it never logs in again, its sessions end (admins)',
        params: idParams,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request, ['admin']);
      await answer(() => accounts.remove(principal, request.params.id));
      return { removed: true };
    },
  );
}
