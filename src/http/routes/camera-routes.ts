import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LiveViews } from '../../cameras/live/live-views.ts';
import { type DiscoveredCamera, discoverCameras } from '../../cameras/sessions/onvif-discovery.ts';
import type { CameraInformation } from '../../cameras/sessions/onvif-session.ts';
import type { CameraSessionView, OnvifSessions } from '../../cameras/sessions/onvif-sessions.ts';
import { GridhubError } from '../../core/errors.ts';
import { chainInScope } from '../../core/jurisdiction.ts';
import type { Principal } from '../../core/principal.ts';
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
  /** Live video tickets and streams (live-routes.ts serves the streams). */
  readonly live: LiveViews;
  /** Whether a device is a camera the hub can take media from (any adapter: ONVIF, ISAPI, CGI, GB/T 28181). */
  readonly isCamera: (deviceId: string) => boolean;
  /** Turns a PTZ camera to one of its presets. */
  readonly gotoPreset: (cameraId: string, preset: string) => Promise<void>;
}

const cameraParams = z.strictObject({ id: z.string().min(1).max(128) });
const presetParams = cameraParams.extend({
  preset: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/, 'a preset token: letters, digits, _ . -'),
});
const liveAnswer = z.object({
  url: z.string().describe('The stream: fragmented MP4 for a <video> element; one stream per ticket.'),
  expiresAt: z.string().describe('The ticket is good until then (30 s) to start its stream.'),
});

/** The camera, when it is one and in the caller's scope; else 404, as for anything out of scope. */
function cameraInScope(options: CameraRoutesOptions, principal: Principal, id: string) {
  const device = options.registry.get(id);
  if (
    device === undefined ||
    !options.isCamera(id) ||
    !chainInScope(device.grid.chain, principal.scopeNodeIds)
  )
    throw new GridhubError('not_found', 'no such camera');
  return device;
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

  app.post(
    '/:id/live',
    {
      config: {
        roles: ['duty_officer', 'admin'],
        refusals: ['not_found', 'device_offline', 'too_many_attempts'],
      },
      schema: {
        tags: ['cameras'],
        summary: 'A ticket to watch a camera live in the browser',
        description:
          "The answer's url plays in a <video> element (fragmented MP4, the camera's H.264 copied, no sound): a <video> cannot send a bearer token, so the URL carries a ticket for this user and camera, good for one stream within 30 s.",
        params: cameraParams,
        response: { 200: liveAnswer },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const camera = cameraInScope(options, principal, request.params.id);
      const { ticket, expiresAt } = options.live.issue(principal.userId, camera.id);
      return { url: `/api/live/${ticket}`, expiresAt };
    },
  );

  app.post(
    '/:id/presets/:preset',
    {
      config: { roles: ['duty_officer', 'admin'], refusals: ['not_found', 'device_offline'] },
      schema: {
        tags: ['cameras'],
        summary: 'Turn a PTZ camera to one of its presets',
        params: presetParams,
        response: { 200: z.object({ ok: z.literal(true) }) },
      },
    },
    async (request) => {
      const camera = cameraInScope(options, principalOf(request), request.params.id);
      await options.gotoPreset(camera.id, request.params.preset).catch((error: unknown) => {
        throw new GridhubError('device_offline', `the camera did not turn: ${(error as Error).message}`);
      });
      return { ok: true as const };
    },
  );
};
