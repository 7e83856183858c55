import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { deviceSchema } from '../../config/schema.ts';
import { CommandError, type CommandFailure } from '../../fleet/command-service.ts';
import { ProvisioningError } from '../../fleet/device-registry.ts';
import { type Fleet, maxMaintenanceMinutes } from '../../fleet/fleet.ts';
import { HttpError, parseInput, requirePrincipal } from '../request-guards.ts';

const deviceParams = z.strictObject({ id: z.string().min(1).max(64) });
const commandParams = z.strictObject({ id: z.string().min(1).max(64), command: z.string().min(1).max(64) });
const commandBody = z
  .strictObject({
    params: z.record(z.string(), z.unknown()).default({}),
    timeoutMs: z.number().int().min(100).max(60_000).optional(),
  })
  .default({ params: {} });
const maintenanceBody = z
  .strictObject({
    minutes: z
      .number()
      .int()
      .min(1)
      .max(maxMaintenanceMinutes)
      .optional()
      .describe('Maintenance from now on.'),
    until: z.iso.datetime({ offset: true }).optional().describe('Maintenance until then (ISO 8601).'),
  })
  .refine(
    (body) => (body.minutes === undefined) !== (body.until === undefined),
    'give exactly one of minutes and until',
  );
/** A provisioned device is described as in the config file, but never with a secret: the hub makes one. */
const provisionBody = deviceSchema.omit({ secret: true, secretSha256: true });

const provisioningStatus: Record<ProvisioningError['kind'], [number, string]> = {
  invalid: [400, 'invalid_request'],
  conflict: [409, 'conflict'],
  not_found: [404, 'not_found'],
  forbidden: [403, 'forbidden'],
};
const commandStatus: Record<CommandFailure, [number, string]> = {
  not_found: [404, 'not_found'],
  forbidden: [403, 'forbidden'],
  invalid: [400, 'invalid_request'],
  offline: [409, 'device_offline'],
  timeout: [504, 'device_timeout'],
};

/** Turns the fleet's refusals into HTTP errors through lookup tables; anything else is the error handler's. */
async function answering<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ProvisioningError) {
      const [status, code] = provisioningStatus[error.kind];
      throw new HttpError(status, code, error.message, error.problems);
    }
    if (error instanceof CommandError) {
      const [status, code] = commandStatus[error.kind];
      throw new HttpError(status, code, error.message, error.problems);
    }
    throw error;
  }
}

/** Devices in the caller's scope: status, provisioning (integrators and admins) and commands. */
export function deviceRoutes(app: FastifyInstance, options: { fleet: Fleet }): void {
  const { fleet } = options;

  app.get('/api/devices', async (request) => ({ devices: fleet.list(requirePrincipal(request)) }));

  app.get('/api/devices/:id', async (request) => {
    const principal = requirePrincipal(request);
    const { id } = parseInput(deviceParams, request.params, 'params');
    return answering(() => fleet.get(principal, id));
  });

  app.post('/api/devices', async (request, reply) => {
    const principal = requirePrincipal(request);
    const description = parseInput(provisionBody, request.body, 'body');
    const created = await answering(() => fleet.provision(principal, description));
    return reply.code(201).send(created);
  });

  app.post('/api/devices/:id/rotate', async (request) => {
    const principal = requirePrincipal(request);
    const { id } = parseInput(deviceParams, request.params, 'params');
    return answering(() => fleet.rotate(principal, id));
  });

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(`/api/devices/:id/${action}`, async (request) => {
      const principal = requirePrincipal(request);
      const { id } = parseInput(deviceParams, request.params, 'params');
      return answering(() => fleet.setDisabled(principal, id, disabled));
    });
  }

  app.post('/api/devices/:id/maintenance', async (request) => {
    const principal = requirePrincipal(request);
    const { id } = parseInput(deviceParams, request.params, 'params');
    const body = parseInput(maintenanceBody, request.body, 'body');
    const until =
      body.until === undefined
        ? new Date(Date.now() + (body.minutes as number) * 60_000)
        : new Date(body.until);
    return answering(() => fleet.setMaintenance(principal, id, until));
  });

  app.delete('/api/devices/:id/maintenance', async (request) => {
    const principal = requirePrincipal(request);
    const { id } = parseInput(deviceParams, request.params, 'params');
    return answering(() => fleet.setMaintenance(principal, id, null));
  });

  app.post('/api/devices/:id/commands/:command', async (request) => {
    const principal = requirePrincipal(request);
    const { id, command } = parseInput(commandParams, request.params, 'params');
    const body = parseInput(commandBody, request.body ?? undefined, 'body');
    return answering(() => fleet.command(principal, id, command, body.params, body.timeoutMs));
  });
}
