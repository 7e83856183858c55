import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { dutyRecordsOf } from '../../assessment/duty-records.ts';
import {
  deductionRules,
  monthOf,
  monthPattern,
  monthPeriod,
  pointRules,
  type Score,
  type ScoreSubject,
  scoreMonth,
  scoresCsv,
} from '../../assessment/scores.ts';
import type { AssessmentSettings } from '../../assessment/scoring-schema.ts';
import { GridhubError } from '../../core/errors.ts';
import type { DeadlineStage, Incident } from '../../core/incident.ts';
import type { Principal } from '../../core/principal.ts';
import type { People } from '../../core/user.ts';
import type { Jurisdiction } from '../../jurisdiction/jurisdiction.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { Store } from '../../store/store.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { covering, list, placeAnswer } from '../schemas.ts';

/** What the scores need beyond the store: fixed for the hub's life. */
export interface AssessmentScoring {
  readonly settings: AssessmentSettings;
  /** hub.timezone: months and duty dates are local. */
  readonly timeZone: string;
  readonly deadlineMs: (category: string, stage: DeadlineStage) => number;
}

export interface AssessmentScoreRoutesOptions {
  readonly store: Store;
  readonly jurisdiction: Jurisdiction;
  /** The people the hub knows now (accounts.people): the config's users and the API's accounts. */
  readonly people: People;
  readonly assessmentScoring: AssessmentScoring;
  readonly metrics: MetricsRegistry;
}

const scoreMetrics = declareMetrics((metrics) => ({
  skippedRecords: metrics.counter({
    name: 'gridhub_assessment_records_skipped_total',
    help: "The patrols' records (patrol-days, duty-misses) the monthly scores left out because they did not have the documented shape, counted each time a score read them.",
  }),
}));

/** Incidents read from the store per page while walking back to the start of the month. */
const pageSize = 500;

const scoresQuery = z.strictObject({
  month: z.string().regex(monthPattern, 'must be YYYY-MM').optional(),
  level: z.enum(['grid', 'worker']).default('grid'),
  node: z.string().min(1).max(64).optional(),
  format: z.enum(['json', 'csv']).default('json'),
});

const lineItemAnswer = z.object({
  rule: z.enum([...pointRules, ...deductionRules]),
  kind: z.enum(['points', 'deduction']),
  count: z.number(),
  points: z.number(),
  capped: z.boolean(),
  refs: list(z.string()).describe('Case ids (overdue stages as `id:stage`) or local dates behind the items.'),
});

const scoreAnswer = covering<Score>()(
  z.object({
    id: z.string(),
    name: z.string(),
    gridIds: list(z.string()),
    score: z.number(),
    earned: z.number(),
    deducted: z.number(),
    rank: z.number().describe('1-based among `ranked`; ties broken by fewer deductions, then name.'),
    items: list(lineItemAnswer),
  }),
);

const scoresAnswer = z.object({
  month: z.string(),
  from: z.string().describe('ISO 8601: the month starts (hub.timezone).'),
  to: z.string().describe('ISO 8601: the next month starts.'),
  timeZone: z.string(),
  level: z.enum(['grid', 'worker']),
  node: placeAnswer.describe('The node the ranking is among.'),
  baseScore: z.number(),
  ranked: z
    .number()
    .describe('How many grids or workers were ranked (a worker is shown only their own row).'),
  scores: list(scoreAnswer),
});

const workerRoles: ReadonlySet<string> = new Set(['grid_worker']);

/**
 * The monthly assessment's scores (千分制): `GET /api/assessment/scores?month=YYYY-MM&level=grid|worker[&node=]
 * [&format=csv]`, ranked (see assessment/scores.ts for every rule).
 *
 * Scope: duty officers and admins rank the grids (or workers) under `node` (default their scope node); a grid chief
 * ranks their own grids and those grids' workers; a grid worker is ranked among the workers (or their grid among the
 * grids) of their community, and is answered only their own row, with its rank and how many were ranked.
 */
export const assessmentScoreRoutes: FastifyPluginAsyncZod<AssessmentScoreRoutesOptions> = async (
  app,
  options,
) => {
  const { store, jurisdiction, people, assessmentScoring } = options;
  const counted = scoreMetrics(options.metrics);
  app.addHook('preHandler', authenticate);

  /** The node the ranking is among, and the grids under it the caller ranks. */
  function rankingOf(principal: Principal, requested: string | undefined) {
    const scope = principal.scopeNodeIds;
    if (principal.role === 'grid_worker') {
      const grid = scope[0] === undefined ? undefined : jurisdiction.grid(scope[0]);
      const community = grid?.chain[1] ?? grid?.ref;
      if (community === undefined) throw new GridhubError('not_found', 'you have no grid');
      return { node: community, under: [community.id], grids: gridsUnder([community.id]) };
    }
    const id = requested ?? (principal.role === 'grid_chief' && scope.length > 1 ? undefined : scope[0]);
    if (id === undefined) {
      // A chief of several grids: ranked among their grids, named by the first grid's community.
      const first = jurisdiction.grid(scope[0] ?? '');
      if (first === undefined) throw new GridhubError('not_found', 'you have no grid');
      return { node: first.chain[1] ?? first.ref, under: scope, grids: gridsUnder(scope) };
    }
    const node = jurisdiction.node(id);
    // Outside the caller's scope answers as not found: other places' scores do not exist for this user.
    if (node === undefined || !scope.some((ancestor) => jurisdiction.isWithin(id, ancestor)))
      throw new GridhubError('not_found', `no node ${id}`);
    return { node, under: [id], grids: gridsUnder([id]) };
  }

  function gridsUnder(nodeIds: readonly string[]): ScoreSubject[] {
    return [...jurisdiction.grids]
      .filter((grid) => nodeIds.some((id) => jurisdiction.isWithin(grid.ref.id, id)))
      .map((grid) => ({ id: grid.ref.id, name: grid.ref.name, gridIds: [grid.ref.id] }));
  }

  function workersOf(grids: readonly ScoreSubject[]): ScoreSubject[] {
    const ids = new Set(grids.map((grid) => grid.id));
    return people
      .all()
      .filter((user) => workerRoles.has(user.role) && (user.grids ?? []).some((grid) => ids.has(grid)))
      .map((user) => ({ id: user.id, name: user.name, gridIds: user.grids ?? [] }));
  }

  /** The incidents under the nodes created in the month, page by page. */
  async function incidentsOf(
    nodeIds: readonly string[],
    period: { from: number; to: number },
  ): Promise<Incident[]> {
    if (nodeIds.length === 0) return [];
    const filter = (incident: Incident) => {
      const created = Date.parse(incident.createdAt);
      return created >= period.from && created < period.to;
    };
    // Ids sort by creation time: the scan stops at the first id older than the month.
    const after = `inc_${period.from.toString(36).padStart(9, '0')}`;
    const found: Incident[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.listIncidents({
        scopeNodeIds: [...nodeIds],
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
      config: { roles: ['duty_officer', 'admin', 'grid_chief', 'grid_worker'], refusals: ['not_found'] },
      schema: {
        tags: ['assessment'],
        summary:
          'The monthly assessment scores (千分制), ranked, per grid or per worker, with their line items',
        description:
          '`month` YYYY-MM in hub.timezone (default the current month). A grid worker is answered only their own row. `format=csv` answers the table as a CSV download (text/csv, UTF-8 with BOM, Chinese headers).',
        querystring: scoresQuery,
        response: { 200: z.union([scoresAnswer, z.string().describe('format=csv: text/csv')]) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const query = request.query;
      const { settings, timeZone, deadlineMs } = assessmentScoring;
      const month = query.month ?? monthOf(Date.now(), timeZone);
      const { node, under, grids } = rankingOf(
        principal,
        principal.role === 'grid_worker' ? undefined : query.node,
      );
      const workers = workersOf(grids);
      const gridIds = grids.map((grid) => grid.id);
      const period = monthPeriod(month, timeZone);
      const [incidents, { patrolDays, dutyMisses, malformed }] = await Promise.all([
        // Scoped by the ranking's nodes, not grid by grid: a district's hundreds of grids would slow every match.
        incidentsOf(under, period),
        dutyRecordsOf(store, gridIds, month),
      ]);
      // Visible, not fatal: the patrols wrote something this reading does not understand.
      counted.skippedRecords.inc(malformed);
      if (malformed > 0)
        request.log.warn({ malformed, month }, 'duty records without the documented shape skipped');
      const scores = scoreMonth({
        settings,
        month,
        timeZone,
        incidents,
        patrolDays,
        dutyMisses,
        grids,
        workers,
        arriveMs: (category) => deadlineMs(category, 'arrive'),
        asOf: Math.min(Date.now(), period.to),
      });
      const all = query.level === 'grid' ? scores.grids : scores.workers;
      const own = (score: Score) =>
        query.level === 'worker'
          ? score.id === principal.userId
          : score.gridIds.some((gridId) => principal.scopeNodeIds.includes(gridId));
      const shown = workerRoles.has(principal.role) ? all.filter(own) : all;
      if (query.format === 'csv') {
        const filename = `scores-${query.level}-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${month}.csv`;
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${filename}"`)
          .send(scoresCsv(shown, query.level));
      }
      return {
        month,
        from: scores.from,
        to: scores.to,
        timeZone,
        level: query.level,
        node,
        baseScore: settings.baseScore,
        ranked: all.length,
        scores: shown,
      };
    },
  );
};
