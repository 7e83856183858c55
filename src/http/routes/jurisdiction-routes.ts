import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import { type Principal, roles } from '../../core/principal.ts';
import type { People } from '../../core/user.ts';
import type { IncidentService } from '../../incidents/incident-service.ts';
import type { DepartmentDescription } from '../../incidents/lifecycle-schema.ts';
import { shiftSchema } from '../../incidents/roster-schema.ts';
import type { Router } from '../../incidents/router.ts';
import type { Jurisdiction } from '../../jurisdiction/jurisdiction.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { list, placeAnswer } from '../schemas.ts';

export interface JurisdictionRoutesOptions {
  readonly jurisdiction: Jurisdiction;
  /** The people the hub knows now (accounts.people): the config's users and the API's accounts. */
  readonly people: People;
  readonly router: Router;
  readonly incidents: IncidentService;
  /** The departments a case is handed to for coordination (config departments, #25). */
  readonly departments: readonly DepartmentDescription[];
}

const gridParams = z.strictObject({ grid: z.string().min(1).max(64) });
const rosterBody = z.strictObject({ shifts: z.array(shiftSchema).min(1).max(50) });

const nodeAnswer = placeAnswer.extend({ parentId: z.string().nullable() });
const gridFeature = z.object({
  type: z.literal('Feature'),
  id: z.string(),
  properties: z.object({ id: z.string(), name: z.string(), chain: list(placeAnswer) }),
  geometry: z.object({
    type: z.literal('Polygon'),
    coordinates: list(list(z.tuple([z.number(), z.number()]).readonly())).describe('Rings of [lon, lat].'),
  }),
});
const userAnswer = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(roles),
  scope: z.string().optional(),
  grids: list(z.string()).optional(),
});
const departmentAnswer = z.object({
  id: z.string(),
  name: z.string(),
  users: list(
    z.object({
      id: z.string(),
      name: z.string(),
      scope: z.string().describe('The node they serve: a case on whose chain it lies may be handed to them.'),
    }),
  ),
});
const rosterAnswer = z.object({
  grid: z.string(),
  shifts: z
    .array(shiftSchema)
    .nullable()
    .describe('Null: no roster, every grid worker of the grid is on duty.'),
  onDutyNow: list(z.string()),
});

/** Whose part of the jurisdiction a caller sees: the nodes within one of their scope nodes. */
function scoped(jurisdiction: Jurisdiction) {
  const within = (principal: Principal, nodeId: string) =>
    principal.scopeNodeIds.some((scope) => jurisdiction.isWithin(nodeId, scope));
  /** A grid or a centre within the caller's scope, and which it is; else 404. */
  const visiblePlace = (principal: Principal, nodeId: string): 'grid' | 'centre' => {
    if (jurisdiction.node(nodeId) === undefined || !within(principal, nodeId)) {
      throw new GridhubError('not_found', `no grid or centre ${nodeId} in your scope`);
    }
    return jurisdiction.grid(nodeId) === undefined ? 'centre' : 'grid';
  };
  return { within, visiblePlace };
}

/** The places and people of the caller's part of the jurisdiction. */
export const jurisdictionRoutes: FastifyPluginAsyncZod<JurisdictionRoutesOptions> = async (app, options) => {
  const { jurisdiction, people } = options;
  const { within } = scoped(jurisdiction);
  const tags = ['jurisdiction'];
  app.addHook('preHandler', authenticate);

  app.get(
    '/jurisdiction',
    {
      schema: {
        tags,
        summary: 'The nodes of your part of the jurisdiction, parents first',
        response: { 200: z.object({ nodes: list(nodeAnswer) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const nodes = [...jurisdiction.nodes]
        .filter((node) => within(principal, node.id))
        .map((node) => ({ ...node, parentId: jurisdiction.ancestry(node.id)[1]?.id ?? null }));
      return { nodes };
    },
  );

  app.get(
    '/grids',
    {
      schema: {
        tags,
        summary: 'Your grids as a GeoJSON FeatureCollection',
        response: {
          200: z.object({ type: z.literal('FeatureCollection'), features: list(gridFeature) }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const features = [...jurisdiction.grids]
        .filter((grid) => within(principal, grid.ref.id))
        .map((grid) => ({
          type: 'Feature' as const,
          id: grid.ref.id,
          properties: { id: grid.ref.id, name: grid.ref.name, chain: grid.chain },
          geometry: {
            type: 'Polygon' as const,
            coordinates: grid.boundary,
          },
        }));
      return { type: 'FeatureCollection' as const, features };
    },
  );

  app.get(
    '/users',
    {
      config: { roles: ['duty_officer', 'admin'] },
      schema: {
        tags,
        summary: 'The users of your part of the jurisdiction (officers and admins)',
        response: { 200: z.object({ users: list(userAnswer) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const visible = people
        .all()
        .filter((user) =>
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

  app.get(
    '/departments',
    {
      config: { roles: ['duty_officer', 'grid_chief', 'grid_worker', 'admin'] },
      schema: {
        tags,
        summary: 'The departments a case may be handed to, with their users who serve your part (#25)',
        response: { 200: z.object({ departments: list(departmentAnswer) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // A department user serves a node: the caller's cases lie under it, or it under the caller's scope.
      const serves = (scope: string) =>
        principal.scopeNodeIds.some(
          (own) => jurisdiction.isWithin(scope, own) || jurisdiction.isWithin(own, scope),
        );
      const departments = options.departments.map((department) => ({
        id: department.id,
        name: department.name,
        users: department.userIds.flatMap((userId) => {
          const user = people.get(userId);
          return user?.scope === undefined || !serves(user.scope)
            ? []
            : [{ id: user.id, name: user.name, scope: user.scope }];
        }),
      }));
      return { departments: departments.filter((department) => department.users.length > 0) };
    },
  );
};

/** The duty rosters of the caller's grids, and who is on duty now. */
export const rosterRoutes: FastifyPluginAsyncZod<JurisdictionRoutesOptions> = async (app, options) => {
  const { jurisdiction, people, router, incidents } = options;
  const { visiblePlace } = scoped(jurisdiction);
  const tags = ['rosters'];
  /** Who is on duty at a grid (its workers) or a centre (its duty officers) now. */
  const onDutyNow = (nodeId: string, kind: 'grid' | 'centre') =>
    kind === 'grid' ? router.onDuty(nodeId, Date.now()) : router.officersOnDuty(nodeId, Date.now());
  app.addHook('preHandler', authenticate);

  app.get(
    '/:grid',
    {
      config: { refusals: ['not_found'] },
      schema: {
        tags,
        summary:
          "A grid's or a centre's duty roster and who is on duty now (workers of a grid, officers of a centre)",
        params: gridParams,
        response: { 200: rosterAnswer },
      },
    },
    async (request) => {
      const kind = visiblePlace(principalOf(request), request.params.grid);
      const shifts = router.roster(request.params.grid)?.shifts;
      return {
        grid: request.params.grid,
        shifts: shifts ?? null,
        onDutyNow: onDutyNow(request.params.grid, kind),
      };
    },
  );

  app.put(
    '/:grid',
    {
      config: { roles: ['duty_officer', 'admin'], refusals: ['not_found'] },
      schema: {
        tags,
        summary: "Replace a grid's or a centre's duty roster (duty officers and admins)",
        params: gridParams,
        body: rosterBody,
        response: { 200: rosterAnswer },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { grid } = request.params;
      const kind = visiblePlace(principal, grid);
      // A grid's roster names its workers, a centre's its duty officers.
      const members = new Set(
        people
          .all()
          .filter((user) =>
            kind === 'grid'
              ? user.role === 'grid_worker' && user.grids?.includes(grid)
              : user.role === 'duty_officer' && user.scope === grid,
          )
          .map((user) => user.id),
      );
      const who = kind === 'grid' ? 'grid worker' : 'duty officer';
      const problems = request.body.shifts.flatMap((shift, index) =>
        shift.users
          .filter((userId) => !members.has(userId))
          .map((userId) => `body.shifts[${index}].users: "${userId}" is not a ${who} of ${grid}`),
      );
      if (problems.length > 0) throw new GridhubError('invalid_request', 'invalid body', { problems });
      const roster = { grid, shifts: request.body.shifts };
      await incidents.setRoster(principal, roster);
      return { ...roster, onDutyNow: onDutyNow(grid, kind) };
    },
  );
};
