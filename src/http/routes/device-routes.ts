import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import { deviceSchema } from '../../fleet/device-schema.ts';
import { type Fleet, maxMaintenanceMinutes, provisioningRoles } from '../../fleet/fleet.ts';
import { type OutboundGuard, OutboundRefused } from '../../net/outbound-address.ts';
import type { EventLog } from '../../store/event-log.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { commandAnswer, deviceAnswer, deviceWithSecretAnswer, list, loggedEventAnswer } from '../schemas.ts';

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

/** Devices in the caller's scope: status, provisioning (integrators and admins), maintenance and commands. */
export interface DeviceRoutesOptions {
  readonly fleet: Fleet;
  readonly eventLog: EventLog;
  readonly outboundGuard: OutboundGuard;
}

/**
 * Devices in the caller's scope: status, provisioning (integrators and admins: the fleet refuses the others, after
 * auditing the attempt), maintenance and commands. A device outside the scope answers 404 like an unknown one.
 */
export const deviceRoutes: FastifyPluginAsyncZod<DeviceRoutesOptions> = async (app, options) => {
  const { fleet, eventLog, outboundGuard } = options;
  const tags = ['devices'];
  /** A device's own routes: one outside the caller's scope is not found. */
  const oneDevice = { refusals: ['not_found'] as const };
  /** Changes the fleet allows integrators and admins only (fleet.ts' provisioningRoles). */
  const provisioning = { refusals: ['not_found', 'forbidden'] as const };
  app.addHook('preHandler', authenticate);

  app.get(
    '',
    {
      schema: {
        tags,
        summary: 'Devices in your scope, with their status',
        response: { 200: z.object({ devices: list(deviceAnswer) }) },
      },
    },
    async (request) => ({ devices: fleet.list(principalOf(request)) }),
  );

  app.get(
    '/:id',
    {
      config: oneDevice,
      schema: { tags, summary: 'One device', params: deviceParams, response: { 200: deviceAnswer } },
    },
    async (request) => fleet.get(principalOf(request), request.params.id),
  );

  app.get(
    '/:id/events',
    {
      config: oneDevice,
      schema: {
        tags,
        summary: "The device's newest events, as decoded (identifiers minimised), newest first",
        params: deviceParams,
        querystring: eventsQuery,
        response: { 200: z.object({ events: list(loggedEventAnswer) }) },
      },
    },
    async (request) => {
      const device = fleet.get(principalOf(request), request.params.id);
      const { limit, before } = request.query;
      return {
        events: await eventLog.list(device.id, { limit, ...(before === undefined ? {} : { before }) }),
      };
    },
  );

  app.post(
    '',
    {
      config: { refusals: ['forbidden', 'conflict'] },
      schema: {
        tags,
        summary: 'Provision a device (integrators, admins)',
        description:
          'Answers 201 with the device and its MQTT secret, shown this once and never stored. A camera whose onvif.xaddr network.outbound refuses (its address, or any address its host name resolves to) is answered 400 and never contacted.',
        body: provisionBody,
        response: { 201: deviceWithSecretAnswer },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
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
            throw new GridhubError('invalid_request', 'the camera address is refused', {
              problems: [`body.onvif.xaddr: ${error.message}`],
            });
          // A name that does not resolve (yet) is no refusal: the session checks again at each connect.
        }
      }
      return reply.code(201).send(await fleet.provision(principal, request.body));
    },
  );

  app.post(
    '/:id/rotate',
    {
      config: provisioning,
      schema: {
        tags,
        summary: 'Give a device a new secret; its session is closed',
        params: deviceParams,
        response: { 200: deviceWithSecretAnswer },
      },
    },
    async (request) => fleet.rotate(principalOf(request), request.params.id),
  );

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/:id/${action}`,
      {
        config: provisioning,
        schema: {
          tags,
          summary: `${disabled ? 'Refuse' : 'Allow'} the device's connections`,
          params: deviceParams,
          response: { 200: deviceAnswer },
        },
      },
      async (request) => fleet.setDisabled(principalOf(request), request.params.id, disabled),
    );
  }

  app.post(
    '/:id/maintenance',
    {
      config: provisioning,
      schema: {
        tags,
        summary: 'Put a device in maintenance: its events raise no incidents',
        params: deviceParams,
        body: maintenanceBody,
        response: { 200: deviceAnswer },
      },
    },
    async (request) => {
      const { minutes, until } = request.body;
      const end = until === undefined ? new Date(Date.now() + (minutes as number) * 60_000) : new Date(until);
      return fleet.setMaintenance(principalOf(request), request.params.id, end);
    },
  );

  app.delete(
    '/:id/maintenance',
    {
      config: provisioning,
      schema: {
        tags,
        summary: 'End a device’s maintenance',
        params: deviceParams,
        response: { 200: deviceAnswer },
      },
    },
    async (request) => fleet.setMaintenance(principalOf(request), request.params.id, null),
  );

  app.post(
    '/:id/commands/:command',
    {
      config: { refusals: ['not_found', 'forbidden', 'device_offline', 'device_timeout'] },
      schema: {
        tags,
        summary: 'Send a command and wait for the device’s answer',
        description: '504 when the device does not answer in time, 409 when it is not connected.',
        params: commandParams,
        body: commandBody,
        response: { 200: commandAnswer },
      },
    },
    async (request) => {
      const { id, command } = request.params;
      const body = request.body ?? { params: {} };
      return fleet.command(principalOf(request), id, command, body.params, body.timeoutMs);
    },
  );
};
