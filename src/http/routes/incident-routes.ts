import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { incidentInScope } from '../../core/incident.ts';
import type { Store } from '../../store/store.ts';
import { HttpError, parseInput, requirePrincipal } from '../request-guards.ts';
import { pageQuery } from './ops-routes.ts';

const idParams = z.strictObject({ id: z.string().min(1).max(64) });

/** Incidents, each visible only within the caller's scope. */
export function incidentRoutes(app: FastifyInstance, options: { store: Store }): void {
  const { store } = options;

  app.get('/api/incidents', async (request) => {
    const principal = requirePrincipal(request);
    const query = parseInput(pageQuery, request.query, 'query');
    const incidents = await store.listIncidents({ ...query, scopeNodeIds: principal.scopeNodeIds });
    return { incidents, next: incidents.length === query.limit ? incidents.at(-1)?.id : null };
  });

  app.get('/api/incidents/:id', async (request) => {
    const principal = requirePrincipal(request);
    const { id } = parseInput(idParams, request.params, 'params');
    const incident = await store.getIncident(id);
    // Out of scope answers as not found: another grid's incidents do not exist for this user.
    if (incident === undefined || !incidentInScope(incident, principal.scopeNodeIds)) {
      throw new HttpError(404, 'not_found', `no incident ${id}`);
    }
    return incident;
  });
}
