import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Incident, incidentStates, severities } from '../../core/incident.ts';
import { IncidentError, type IncidentService } from '../../incidents/incident-service.ts';
import { incidentActions } from '../../incidents/lifecycle.ts';
import type { Visibility } from '../../incidents/visibility.ts';
import type { Jurisdiction } from '../../jurisdiction/jurisdiction.ts';
import type { Store } from '../../store/store.ts';
import { HttpError, requirePrincipal } from '../request-guards.ts';
import { pageQuery } from './ops-routes.ts';

export interface IncidentRoutesOptions {
  readonly store: Store;
  readonly incidents: IncidentService;
  readonly visibility: Visibility;
  readonly jurisdiction: Jurisdiction;
}

/** `a,b,c` → ['a','b','c'], each checked against the allowed values. */
const listOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .transform((text) => text.split(',').filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1));

const incidentQuery = pageQuery.extend({
  state: listOf(incidentStates).optional().describe('Comma-separated states, e.g. new,dispatched.'),
  node: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('A node of the jurisdiction: incidents in its subtree.'),
  category: z.string().min(1).max(64).optional(),
  severity: listOf(severities).optional().describe('Comma-separated severities.'),
  from: z.iso.datetime({ offset: true }).optional().describe('Created at or after.'),
  to: z.iso.datetime({ offset: true }).optional().describe('Created before.'),
});
const idParams = z.strictObject({ id: z.string().min(1).max(64) });
const actionParams = idParams.extend({
  action: z.enum(incidentActions.filter((action) => action !== 'clear') as [string, ...string[]]),
});
// A POST without a body arrives as null: it means "no note, no assignees".
const actionBody = z
  .strictObject({
    note: z
      .string()
      .min(1)
      .max(2000)
      .optional()
      .describe('Why; required to reject a verification and for note.'),
    assignees: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(50)
      .optional()
      .describe('For dispatch: user ids.'),
  })
  .nullish();

const refusalStatus: Record<IncidentError['kind'], [number, string]> = {
  not_found: [404, 'not_found'],
  illegal: [409, 'illegal_transition'],
  forbidden: [403, 'forbidden'],
  invalid: [400, 'invalid_request'],
};

/** Incidents: listing with filters, one incident, its audit trail, and the lifecycle actions. */
export function incidentRoutes(app: FastifyInstance, options: IncidentRoutesOptions): void {
  const { store, incidents, visibility, jurisdiction } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/incidents',
    {
      schema: {
        tags: ['incidents'],
        summary: 'Incidents in your scope, newest first',
        querystring: incidentQuery,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { limit, before, state, node, category, severity, from, to } = request.query;
      if (node !== undefined && !principal.scopeNodeIds.some((scope) => jurisdiction.isWithin(node, scope))) {
        throw new HttpError(404, 'not_found', `no node ${node} in your scope`);
      }
      const fromMs = from === undefined ? undefined : Date.parse(from);
      const toMs = to === undefined ? undefined : Date.parse(to);
      const filter = (incident: Incident): boolean =>
        visibility.canSee(principal, incident) &&
        (state === undefined || state.includes(incident.state)) &&
        (node === undefined || incident.chain.some((place) => place.id === node)) &&
        (category === undefined || incident.category === category) &&
        (severity === undefined || severity.includes(incident.severity)) &&
        (fromMs === undefined || Date.parse(incident.createdAt) >= fromMs) &&
        (toMs === undefined || Date.parse(incident.createdAt) < toMs);
      const found = await store.listIncidents({
        limit,
        scopeNodeIds: principal.scopeNodeIds,
        filter,
        ...(before === undefined ? {} : { before }),
        // Ids sort by creation time: stop the scan at the first id older than `from`.
        ...(fromMs === undefined ? {} : { after: `inc_${fromMs.toString(36).padStart(9, '0')}` }),
      });
      return { incidents: found, next: found.length === limit ? found.at(-1)?.id : null };
    },
  );

  api.get(
    '/api/incidents/:id',
    { schema: { tags: ['incidents'], summary: 'One incident', params: idParams } },
    async (request) => {
      const principal = requirePrincipal(request);
      const incident = incidents.active(request.params.id) ?? (await store.getIncident(request.params.id));
      // Out of scope answers as not found: another grid's incidents do not exist for this user.
      if (incident === undefined || !visibility.canSee(principal, incident)) {
        throw new HttpError(404, 'not_found', `no incident ${request.params.id}`);
      }
      return incident;
    },
  );

  api.get(
    '/api/incidents/:id/audit',
    {
      schema: {
        tags: ['incidents'],
        summary: 'The audit trail of one incident, oldest first',
        params: idParams,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const incident = await store.getIncident(request.params.id);
      if (incident === undefined || !visibility.canSee(principal, incident)) {
        throw new HttpError(404, 'not_found', `no incident ${request.params.id}`);
      }
      const entries = await store.listAudit({ limit: 500, targetId: incident.id });
      return { entries: entries.reverse() };
    },
  );

  api.post(
    '/api/incidents/:id/actions/:action',
    {
      schema: {
        tags: ['incidents'],
        summary: 'Take a lifecycle action',
        description:
          "acknowledge (for the caller's centre; no state change), dispatch (assignees), accept, arrive, resolve, verify, " +
          'reject (note), escalate, false_alarm, cancel, note (note). ' +
          'An illegal transition answers 409 with the reason.',
        params: actionParams,
        body: actionBody,
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { id, action } = request.params;
      const { note, assignees } = request.body ?? {};
      try {
        return await incidents.act(principal, id, action as (typeof incidentActions)[number], {
          ...(note === undefined ? {} : { note }),
          ...(assignees === undefined ? {} : { assignees }),
        });
      } catch (error) {
        if (!(error instanceof IncidentError)) throw error;
        const [status, code] = refusalStatus[error.kind];
        throw new HttpError(status, code, error.message);
      }
    },
  );
}
