import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deviceSchema } from '../../config/schema.ts';
import { CommandError, type CommandFailure } from '../../fleet/command-service.ts';
import { ProvisioningError } from '../../fleet/device-registry.ts';
import { type Fleet, maxMaintenanceMinutes, provisioningRoles } from '../../fleet/fleet.ts';
import { type OutboundGuard, OutboundRefused } from '../../net/outbound-address.ts';
import type { EventLog } from '../../store/event-log.ts';
import { HttpError, requirePrincipal } from '../request-guards.ts';

const deviceParams = z.strictObject({ id: z.string().min(1).max(64) });
const eventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z
    .string()
    .regex(/^\d{1,20}-\d{1,20}$/, 'an event id from an earlier page')
    .optional()
    .describe('The id of the last event of the previous page.'),
});
const commandParams = z.strictObject({ id: z.string().min(1).max(64), command: z.string().min(1).max(64) });
const commandBody = z
  .strictObject({
    params: z.record(z.string(), z.unknown()).default({}),
    timeoutMs: z.number().int().min(100).max(60_000).optional(),
  })
  // A POST without a body arrives as null: a command without parameters.
  .nullish();
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

/** Devices in the caller's scope: status, provisioning (integrators and admins), maintenance and commands. */
export function deviceRoutes(
  app: FastifyInstance,
  options: { fleet: Fleet; eventLog: EventLog; outboundGuard: OutboundGuard },
): void {
  const { fleet, eventLog, outboundGuard } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['devices'];

  api.get(
    '/api/devices',
    { schema: { tags, summary: 'Devices in your scope, with their status' } },
    async (request) => ({
      devices: fleet.list(requirePrincipal(request)),
    }),
  );

  api.get(
    '/api/devices/:id',
    { schema: { tags, summary: 'One device', params: deviceParams } },
    async (request) => {
      const principal = requirePrincipal(request);
      return answering(() => fleet.get(principal, request.params.id));
    },
  );

  api.get(
    '/api/devices/:id/events',
    {
      schema: {
        tags,
        summary: "The device's newest events, as decoded (identifiers minimised), newest first",
        params: deviceParams,
        querystring: eventsQuery,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const device = await answering(() => fleet.get(principal, request.params.id));
      const { limit, before } = request.query;
      return {
        events: await eventLog.list(device.id, { limit, ...(before === undefined ? {} : { before }) }),
      };
    },
  );

  api.post(
    '/api/devices',
    {
      schema: {
        tags,
        summary: 'Provision a device (integrators, admins)',
        description:
          'Answers 201 with the device and its MQTT secret, shown this once and never stored. A camera whose onvif.xaddr network.outbound refuses (its address, or any address its host name resolves to) is answered 400 and never contacted.',
        body: provisionBody,
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const xaddr = request.body.onvif?.xaddr;
      // Only for those who may provision: the others are refused by the fleet, and resolve nothing.
      if (xaddr !== undefined && provisioningRoles.includes(principal.role)) {
        try {
          await outboundGuard.check(xaddr, 'onvif', {
            deviceId: request.body.id,
            user: principal.userId,
            remote: request.ip,
          });
        } catch (error) {
          if (error instanceof OutboundRefused)
            throw new HttpError(400, 'invalid_request', 'the camera address is refused', [
              `body.onvif.xaddr: ${error.message}`,
            ]);
          // A name that does not resolve (yet) is no refusal: the session checks again at each connect.
        }
      }
      const created = await answering(() => fleet.provision(principal, request.body));
      return reply.code(201).send(created);
    },
  );

  api.post(
    '/api/devices/:id/rotate',
    { schema: { tags, summary: 'Give a device a new secret; its session is closed', params: deviceParams } },
    async (request) => {
      const principal = requirePrincipal(request);
      return answering(() => fleet.rotate(principal, request.params.id));
    },
  );

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    api.post(
      `/api/devices/:id/${action}`,
      {
        schema: {
          tags,
          summary: `${disabled ? 'Refuse' : 'Allow'} the device's connections`,
          params: deviceParams,
        },
      },
      async (request) => {
        const principal = requirePrincipal(request);
        return answering(() => fleet.setDisabled(principal, request.params.id, disabled));
      },
    );
  }

  api.post(
    '/api/devices/:id/maintenance',
    {
      schema: {
        tags,
        summary: 'Put a device in maintenance: its events raise no incidents',
        params: deviceParams,
        body: maintenanceBody,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { minutes, until } = request.body;
      const end = until === undefined ? new Date(Date.now() + (minutes as number) * 60_000) : new Date(until);
      return answering(() => fleet.setMaintenance(principal, request.params.id, end));
    },
  );

  api.delete(
    '/api/devices/:id/maintenance',
    { schema: { tags, summary: 'End a device’s maintenance', params: deviceParams } },
    async (request) => {
      const principal = requirePrincipal(request);
      return answering(() => fleet.setMaintenance(principal, request.params.id, null));
    },
  );

  api.post(
    '/api/devices/:id/commands/:command',
    {
      schema: {
        tags,
        summary: 'Send a command and wait for the device’s answer',
        description: '504 when the device does not answer in time, 409 when it is not connected.',
        params: commandParams,
        body: commandBody,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { id, command } = request.params;
      const body = request.body ?? { params: {} };
      return answering(() => fleet.command(principal, id, command, body.params, body.timeoutMs));
    },
  );
}
