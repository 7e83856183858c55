import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Accounts } from '../../auth/accounts.ts';
import { roles } from '../../core/principal.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { accountAnswer, list } from '../schemas.ts';
import { newPassword } from './auth-routes.ts';

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
const admins = { roles: ['admin'] as const, refusals: ['not_found'] as const };
const tags = ['accounts'];

export interface AccountRoutesOptions {
  readonly accounts: Accounts;
}

/**
 * People's accounts, managed by admins: each admin sees and manages only the accounts inside their scope. Disabling,
 * removing or resetting an account's password ends its sessions at once (its live sockets close).
 */
export const accountRoutes: FastifyPluginAsyncZod<AccountRoutesOptions> = async (app, options) => {
  const { accounts } = options;
  app.addHook('preHandler', authenticate);
  app.get(
    '',
    {
      config: { roles: admins.roles },
      schema: {
        tags,
        summary: 'The accounts inside your scope (admins)',
        response: { 200: z.object({ accounts: list(accountAnswer) }) },
      },
    },
    async (request) => ({ accounts: accounts.list(principalOf(request)) }),
  );
  app.post(
    '',
    {
      config: { roles: admins.roles, refusals: ['conflict'] },
      schema: {
        tags,
        summary: 'Make an account inside your scope (admins)',
        body: newAccount,
        response: { 201: accountAnswer },
      },
    },
    async (request, reply) => reply.code(201).send(await accounts.create(principalOf(request), request.body)),
  );
  app.get(
    '/:id',
    {
      config: admins,
      schema: {
        tags,
        summary: 'One account inside your scope (admins)',
        params: idParams,
        response: { 200: accountAnswer },
      },
    },
    async (request) => accounts.get(principalOf(request), request.params.id),
  );
  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/:id/${action}`,
      {
        config: admins,
        schema: {
          tags,
          summary:
            action === 'disable'
              ? 'Disable an account: it cannot log in, its sessions end and its sockets close (admins)'
              : 'Enable a disabled account (admins)',
          params: idParams,
          response: { 200: accountAnswer },
        },
      },
      async (request) => accounts.setDisabled(principalOf(request), request.params.id, disabled),
    );
  }
  app.post(
    '/:id/password',
    {
      config: admins,
      schema: {
        tags,
        summary: "Set an account's password: its sessions end (admins)",
        params: idParams,
        body: z.strictObject({ password: newPassword }),
        response: { 200: z.object({ reset: z.literal(true) }) },
      },
    },
    async (request) => {
      await accounts.resetPassword(principalOf(request), request.params.id, request.body.password);
      return { reset: true as const };
    },
  );
  app.delete(
    '/:id',
    {
      config: admins,
      schema: {
        tags,
        summary: 'Remove an account: it never logs in again, its sessions end (admins)',
        params: idParams,
        response: { 200: z.object({ removed: z.literal(true) }) },
      },
    },
    async (request) => {
      await accounts.remove(principalOf(request), request.params.id);
      return { removed: true as const };
    },
  );
};
