import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import type { Incident } from '../../core/incident.ts';
import type { PlaceRef } from '../../core/jurisdiction.ts';
import type { Principal } from '../../core/principal.ts';
import { assess, assessmentCsv, inPeriod, type Period } from '../../incidents/assessment.ts';
import type { Visibility } from '../../incidents/visibility.ts';
import type { Jurisdiction } from '../../jurisdiction/jurisdiction.ts';
import type { Store } from '../../store/store.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { assessmentAnswer } from '../schemas.ts';

export interface AssessmentRoutesOptions {
  readonly store: Store;
  readonly visibility: Visibility;
  readonly jurisdiction: Jurisdiction;
}

/** The longest period one request may assess: a year, leap day included. */
export const maxAssessmentDays = 366;
const dayMs = 24 * 60 * 60 * 1000;
/** Incidents read from the store per page while walking back to the start of the period. */
const pageSize = 500;

/** An ISO 8601 date-time with `Z` or an offset (`+08:00`): a local time without one would be ambiguous. */
const instant = z.iso.datetime({ offset: true });

const assessmentQuery = z
  .strictObject({
    from: instant,
    to: instant,
    node: z.string().min(1).max(64).optional(),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .superRefine((query, context) => {
    // zod 4 runs this even when a field failed: compare only two real instants.
    if (!instant.safeParse(query.from).success || !instant.safeParse(query.to).success) return;
    const span = Date.parse(query.to) - Date.parse(query.from);
    if (span <= 0) context.addIssue({ code: 'custom', path: ['to'], message: 'must be later than from' });
    else if (span > maxAssessmentDays * dayMs)
      context.addIssue({
        code: 'custom',
        path: ['to'],
        message: `must be at most ${maxAssessmentDays} days after from`,
      });
  });

/**
 * The monthly assessment (千分制考核) of a node's grids and workers for a period, for duty officers and admins:
 * `GET /api/assessment?from=<ISO>&to=<ISO>[&node=<node id>][&format=csv]`.
 *
 * - `from` inclusive, `to` exclusive (incidents by creation time), `to` later than `from` and at most 366 days
 *   after it; each an ISO 8601 date-time with `Z` or an offset.
 * - `node` defaults to the caller's own scope node; a node outside the caller's scope answers 404 like one that
 *   does not exist.
 * - The answer is `{node, ...Assessment}` (see incidents/assessment.ts for every definition), with every grid under
 *   the node listed, incidents or not. Unmet deadlines are judged as of the moment of the request.
 * - `format=csv` answers the grids and workers tables as one CSV download (columns: `assessmentCsvColumns`).
 */
export const assessmentRoutes: FastifyPluginAsyncZod<AssessmentRoutesOptions> = async (app, options) => {
  const { store, visibility, jurisdiction } = options;
  app.addHook('preHandler', authenticate);

  function nodeFor(principal: Principal, requested: string | undefined): PlaceRef {
    const id = requested ?? principal.scopeNodeIds[0];
    if (id === undefined) {
      throw new GridhubError('invalid_request', 'invalid query', {
        problems: ['query.node: required: you have no scope'],
      });
    }
    const node = jurisdiction.node(id);
    // Outside the caller's scope answers as not found: other places' figures do not exist for this user.
    if (node === undefined || !principal.scopeNodeIds.some((scope) => jurisdiction.isWithin(id, scope))) {
      throw new GridhubError('not_found', `no node ${id}`);
    }
    return node;
  }

  /** The incidents under the node created in the period that the caller may see, page by page. */
  async function incidentsOf(principal: Principal, nodeId: string, period: Period): Promise<Incident[]> {
    const filter = (incident: Incident) =>
      inPeriod(incident, period) && visibility.canSee(principal, incident);
    // Ids sort by creation time: the scan stops at the first id older than `from` (an id's time is never earlier
    // than its incident's createdAt, so nothing in the period is cut off).
    const after = `inc_${period.from.toString(36).padStart(9, '0')}`;
    const found: Incident[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.listIncidents({
        scopeNodeIds: [nodeId],
        limit: pageSize,
        filter,
        after,
        ...(before === undefined ? {} : { before }),
      });
      found.push(...page);
      if (page.length < pageSize) return found;
      before = page.at(-1)?.id;
    }
  }

  app.get(
    '',
    {
      config: { roles: ['duty_officer', 'admin'], refusals: ['not_found'] },
      schema: {
        tags: ['assessment'],
        summary: 'The monthly assessment of a node: per grid and per worker',
        description:
          '`from` inclusive, `to` exclusive (incidents by creation time), at most 366 days apart. `format=csv` answers the grids and workers tables as one CSV download (text/csv) instead.',
        querystring: assessmentQuery,
        response: { 200: z.union([assessmentAnswer, z.string().describe('format=csv: text/csv')]) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const query = request.query;
      const node = nodeFor(principal, query.node);
      const period = { from: Date.parse(query.from), to: Date.parse(query.to) };
      const incidents = await incidentsOf(principal, node.id, period);
      const grids = [...jurisdiction.grids]
        .filter((grid) => jurisdiction.isWithin(grid.ref.id, node.id))
        .map((grid) => grid.ref);
      const assessment = assess(incidents, period, Date.now(), grids);
      if (query.format === 'csv') {
        const day = (at: string) => at.slice(0, 10);
        const filename = `assessment-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${day(assessment.period.from)}-${day(assessment.period.to)}.csv`;
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${filename}"`)
          .send(assessmentCsv(assessment));
      }
      return { node, ...assessment };
    },
  );
};
