import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chainInScope } from '../../core/jurisdiction.ts';
import type { DeviceRegistry } from '../../fleet/device-registry.ts';
import { discoverCameras } from '../../ingest/onvif-discovery.ts';
import type { OnvifSessions } from '../../ingest/onvif-sessions.ts';
import { requirePrincipal } from '../request-guards.ts';

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

/** Cameras: their ONVIF sessions as operators see them, and finding new ones to onboard (WS-Discovery). */
export function cameraRoutes(
  app: FastifyInstance,
  options: { registry: DeviceRegistry; cameras: OnvifSessions },
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/cameras',
    {
      schema: {
        tags: ['cameras'],
        summary: 'Cameras in your scope: session state, device information, media URIs',
      },
    },
    async (request) => {
      const principal = requirePrincipal(request, ['duty_officer', 'integrator', 'admin']);
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

  api.post(
    '/api/cameras/discover',
    {
      schema: {
        tags: ['cameras'],
        summary: 'Find ONVIF cameras on the local network (WS-Discovery)',
        description: 'Each camera found says whether a configured device already uses its address.',
        body: discoverBody,
      },
    },
    async (request) => {
      requirePrincipal(request, ['integrator', 'admin']);
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
}
