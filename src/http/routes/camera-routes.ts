import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type DiscoveredCamera, discoverCameras } from '../../cameras/sessions/onvif-discovery.ts';
import type { CameraInformation } from '../../cameras/sessions/onvif-session.ts';
import type { CameraSessionView, OnvifSessions } from '../../cameras/sessions/onvif-sessions.ts';
import { chainInScope } from '../../core/jurisdiction.ts';
import type { DeviceRegistry } from '../../fleet/device-registry.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { covering, list } from '../schemas.ts';

const discoverBody = z
  .strictObject({
    timeoutMs: z.number().int().min(200).max(15_000).default(3_000),
    interface: z
      .string()
      .regex(/^[\w.-]{1,32}$/)
      .optional()
      .describe('Network interface to probe from, e.g. eth0.'),
  })
  .nullish();

const cameraInformation = covering<CameraInformation>()(
  z.object({
    manufacturer: z.string(),
    model: z.string(),
    firmwareVersion: z.string(),
    serialNumber: z.string(),
    hardwareId: z.string(),
  }),
);

const sessionAnswer = covering<CameraSessionView>()(
  z.object({
    state: z.enum(['connecting', 'subscribed', 'failing', 'stopped', 'remote']),
    information: cameraInformation.nullable(),
    streamUri: z.string().nullable(),
    snapshotUri: z.string().nullable(),
    instance: z.string().optional().describe('The hub instance that runs the session, when several do.'),
    remoteState: z.string().optional(),
    failure: z
      .object({
        operation: z.string().describe('The ONVIF operation that failed, e.g. GetSystemDateAndTime.'),
        answer: z
          .string()
          .describe("The camera's answer: its SOAP fault (code and reason), an HTTP status, or no answer."),
        at: z.string(),
      })
      .optional()
      .describe('Why the session last failed; absent once it subscribed again.'),
    link: z
      .object({
        events: z.enum(['pull-point', 'basic-notification']).nullable(),
        authentication: z.enum(['ws-username-token', 'http-digest']).nullable(),
        clockOffsetMs: z.number().nullable().describe("The camera's clock minus the hub's."),
        profileToken: z.string().nullable().describe('The media profile its stream and snapshot come from.'),
      })
      .optional()
      .describe('How the session talks to the camera, on the instance that runs it.'),
  }),
);

const cameraAnswer = z.object({
  id: z.string(),
  name: z.string(),
  gridId: z.string(),
  disabled: z.boolean(),
  watches: list(z.object({ deviceId: z.string(), preset: z.string().optional() })),
  session: sessionAnswer.nullable(),
});

const discoveredAnswer = covering<DiscoveredCamera & { deviceId: string | null }>()(
  z.object({
    endpointReference: z.string(),
    xaddrs: list(z.string()),
    scopes: list(z.string()),
    deviceId: z.string().nullable().describe('The configured device that already uses one of its addresses.'),
  }),
);

export interface CameraRoutesOptions {
  readonly registry: DeviceRegistry;
  readonly cameras: OnvifSessions;
}

/** Cameras: their ONVIF sessions as operators see them, and finding new ones to onboard (WS-Discovery). */
export const cameraRoutes: FastifyPluginAsyncZod<CameraRoutesOptions> = async (app, options) => {
  app.addHook('preHandler', authenticate);

  app.get(
    '',
    {
      config: { roles: ['duty_officer', 'integrator', 'admin'] },
      schema: {
        tags: ['cameras'],
        summary: 'Cameras in your scope: session state, device information, media URIs',
        response: { 200: z.object({ cameras: list(cameraAnswer) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const cameras = [...options.registry.all]
        .filter((device) => device.adapter.transport === 'onvif')
        .filter((device) => chainInScope(device.grid.chain, principal.scopeNodeIds))
        .map((device) => ({
          id: device.id,
          name: device.name,
          gridId: device.grid.ref.id,
          disabled: device.disabled,
          watches: device.watches ?? [],
          session: options.cameras.describe(device.id) ?? null,
        }));
      return { cameras };
    },
  );

  app.post(
    '/discover',
    {
      config: { roles: ['integrator', 'admin'] },
      schema: {
        tags: ['cameras'],
        summary: 'Find ONVIF cameras on the local network (WS-Discovery)',
        description: 'Each camera found says whether a configured device already uses its address.',
        body: discoverBody,
        response: { 200: z.object({ cameras: list(discoveredAnswer) }) },
      },
    },
    async (request) => {
      const body = request.body ?? { timeoutMs: 3_000 };
      const cameras = await discoverCameras({
        timeoutMs: body.timeoutMs ?? 3_000,
        ...(body.interface === undefined ? {} : { networkInterface: body.interface }),
      });
      const known = new Map(
        [...options.registry.all].flatMap((device) =>
          device.onvif === undefined ? [] : [[device.onvif.xaddr, device.id]],
        ),
      );
      return {
        cameras: cameras.map((camera) => ({
          ...camera,
          deviceId: camera.xaddrs.map((xaddr) => known.get(xaddr)).find((id) => id !== undefined) ?? null,
        })),
      };
    },
  );
};
