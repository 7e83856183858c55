import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { shiftSchema, type UserConfig } from '../../config/schema.ts';
import type { Principal } from '../../core/principal.ts';
import type { IncidentService } from '../../incidents/incident-service.ts';
import type { Router } from '../../incidents/router.ts';
import type { Jurisdiction } from '../../jurisdiction/jurisdiction.ts';
import { HttpError, requirePrincipal } from '../request-guards.ts';

export interface JurisdictionRoutesOptions {
  readonly jurisdiction: Jurisdiction;
  readonly users: readonly UserConfig[];
  readonly router: Router;
  readonly incidents: IncidentService;
}

const gridParams = z.strictObject({ grid: z.string().min(1).max(64) });
const rosterBody = z.strictObject({ shifts: z.array(shiftSchema).min(1).max(50) });

/** The places, people and duty rosters of the caller's part of the jurisdiction. */
export function jurisdictionRoutes(app: FastifyInstance, options: JurisdictionRoutesOptions): void {
  const { jurisdiction, users, router, incidents } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const within = (principal: Principal, nodeId: string) =>
    principal.scopeNodeIds.some((scope) => jurisdiction.isWithin(nodeId, scope));
  const visibleGrid = (principal: Principal, gridId: string) => {
    if (jurisdiction.grid(gridId) === undefined || !within(principal, gridId)) {
      throw new HttpError(404, 'not_found', `no grid ${gridId} in your scope`);
    }
  };

  api.get(
    '/api/jurisdiction',
    {
      schema: {
        tags: ['jurisdiction'],
        summary: 'The nodes of your part of the jurisdiction, parents first',
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const nodes = [...jurisdiction.nodes]
        .filter((node) => within(principal, node.id))
        .map((node) => ({ ...node, parentId: jurisdiction.ancestry(node.id)[1]?.id ?? null }));
      return { nodes };
    },
  );

  api.get(
    '/api/grids',
    { schema: { tags: ['jurisdiction'], summary: 'Your grids as a GeoJSON FeatureCollection' } },
    async (request) => {
      const principal = requirePrincipal(request);
      const features = [...jurisdiction.grids]
        .filter((grid) => within(principal, grid.ref.id))
        .map((grid) => ({
          type: 'Feature' as const,
          id: grid.ref.id,
          properties: { id: grid.ref.id, name: grid.ref.name, chain: grid.chain },
          geometry: { type: 'Polygon' as const, coordinates: grid.boundary },
        }));
      return { type: 'FeatureCollection' as const, features };
    },
  );

  api.get(
    '/api/users',
    {
      schema: {
        tags: ['jurisdiction'],
        summary: 'The users of your part of the jurisdiction (officers and admins)',
      },
    },
    async (request) => {
      const principal = requirePrincipal(request, ['duty_officer', 'admin']);
      const visible = users.filter((user) =>
        (user.grids ?? (user.scope === undefined ? [] : [user.scope])).some((node) =>
          within(principal, node),
        ),
      );
      // Never the token: it is the user's password.
      return {
        users: visible.map((user) => ({
          id: user.id,
          name: user.name,
          role: user.role,
          ...(user.scope === undefined ? {} : { scope: user.scope }),
          ...(user.grids === undefined ? {} : { grids: user.grids }),
        })),
      };
    },
  );

  api.get(
    '/api/rosters/:grid',
    {
      schema: {
        tags: ['rosters'],
        summary: "A grid's duty roster and who is on duty now",
        params: gridParams,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      visibleGrid(principal, request.params.grid);
      return {
        grid: request.params.grid,
        shifts: router.roster(request.params.grid)?.shifts ?? null,
        onDutyNow: router.onDuty(request.params.grid, Date.now()),
      };
    },
  );

  api.put(
    '/api/rosters/:grid',
    {
      schema: {
        tags: ['rosters'],
        summary: "Replace a grid's duty roster (duty officers and admins)",
        params: gridParams,
        body: rosterBody,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request, ['duty_officer', 'admin']);
      const { grid } = request.params;
      visibleGrid(principal, grid);
      const workers = new Set(
        users
          .filter((user) => user.role === 'grid_worker' && user.grids?.includes(grid))
          .map((user) => user.id),
      );
      const problems = request.body.shifts.flatMap((shift, index) =>
        shift.users
          .filter((userId) => !workers.has(userId))
          .map((userId) => `body.shifts[${index}].users: "${userId}" is not a grid worker of ${grid}`),
      );
      if (problems.length > 0) throw new HttpError(400, 'invalid_request', 'invalid body', problems);
      const roster = { grid, shifts: request.body.shifts };
      await incidents.setRoster(principal, roster);
      return { ...roster, onDutyNow: router.onDuty(grid, Date.now()) };
    },
  );
}
