import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import { type Incident, incidentStates, severities } from '../../core/incident.ts';
import type { Principal } from '../../core/principal.ts';
import type { IncidentService } from '../../incidents/incident-service.ts';
import { availableActions } from '../../incidents/lifecycle.ts';
import type { Visibility } from '../../incidents/visibility.ts';
import type { Jurisdiction } from '../../jurisdiction/jurisdiction.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { Store } from '../../store/store.ts';
import { IdempotentActions, idempotencyKeyPattern } from '../idempotency.ts';
import { actionInput, isUserAction, userActions } from '../incident-action.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { auditAnswer, incidentAnswer, list, nextPage } from '../schemas.ts';
import { pageQuery } from './ops-routes.ts';

export interface IncidentRoutesOptions {
  readonly store: Store;
  readonly incidents: IncidentService;
  readonly visibility: Visibility;
  readonly jurisdiction: Jurisdiction;
  readonly metrics: MetricsRegistry;
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
const actionParams = idParams.extend({ action: z.enum(userActions) });
// A POST without a body arrives as null: it means "no note, no assignees".
const actionBody = actionInput.nullish();
const actionHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(idempotencyKeyPattern, 'must be a UUID')
    .optional()
    .describe(
      'A UUID: the same key from the same user within 24 h answers the first answer again without acting twice.',
    ),
});
/** How far a phone's clock may run ahead of the hub's before its `takenAt` is refused as in the future. */
const takenAtSkewMs = 120_000;
/** The oldest an offline action may be: a queue older than a shift is stale, its phone's view of the case too. */
const takenAtMaxAgeMs = 12 * 3600_000;

/** `takenAt` within its bounds, or the refusal saying which one it breaks. */
function checkTakenAt(takenAt: string | undefined, now: number): void {
  if (takenAt === undefined) return;
  const at = Date.parse(takenAt);
  const problem =
    at > now + takenAtSkewMs
      ? 'body.takenAt: is in the future'
      : at < now - takenAtMaxAgeMs
        ? 'body.takenAt: is more than 12 hours ago'
        : undefined;
  if (problem !== undefined)
    throw new GridhubError('invalid_request', 'invalid body', { problems: [problem] });
}

/** Incidents: listing with filters, one incident, its audit trail, and the lifecycle actions. */
export const incidentRoutes: FastifyPluginAsyncZod<IncidentRoutesOptions> = async (app, options) => {
  const { store, incidents, visibility, jurisdiction } = options;
  const idempotent = new IdempotentActions(store, options.metrics);
  const tags = ['incidents'];
  /** Out of scope answers as not found: another grid's incidents do not exist for this user. */
  const notFound = { refusals: ['not_found'] as const };
  app.addHook('preHandler', authenticate);

  /** The incident as the caller may see it, live or stored; one they may not see answers as one that is not. */
  async function visibleIncident(principal: Principal, id: string): Promise<Incident> {
    const incident = incidents.active(id) ?? (await store.getIncident(id));
    if (incident === undefined || !visibility.canSee(principal, incident)) {
      throw new GridhubError('not_found', `no incident ${id}`);
    }
    return incident;
  }

  app.get(
    '',
    {
      config: { ...notFound, roles: 'signed_in' },
      schema: {
        tags,
        summary: 'Incidents in your scope, newest first',
        querystring: incidentQuery,
        response: { 200: z.object({ incidents: list(incidentAnswer), next: nextPage }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { limit, before, state, node, category, severity, from, to } = request.query;
      if (node !== undefined && !principal.scopeNodeIds.some((scope) => jurisdiction.isWithin(node, scope))) {
        throw new GridhubError('not_found', `no node ${node} in your scope`);
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
      return { incidents: found, next: found.length === limit ? (found.at(-1)?.id ?? null) : null };
    },
  );

  app.get(
    '/:id',
    {
      config: { ...notFound, roles: 'signed_in' },
      schema: { tags, summary: 'One incident', params: idParams, response: { 200: incidentAnswer } },
    },
    async (request) => visibleIncident(principalOf(request), request.params.id),
  );

  app.get(
    '/:id/actions',
    {
      config: { ...notFound, roles: 'signed_in' },
      schema: {
        tags,
        summary: 'The lifecycle actions you may take on one incident now',
        description:
          "In the lifecycle's order: those its state, your role and your part in the case allow (acknowledge only " +
          "while your centre has not; supervise only for a centre over it). An action's input (a note, assignees) " +
          'is judged when it is taken.',
        params: idParams,
        response: { 200: z.object({ actions: list(z.enum(userActions)) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const incident = await visibleIncident(principal, request.params.id);
      // The lifecycle never offers `clear`; the filter says so to the answer's type.
      return { actions: availableActions(incident, principal).filter(isUserAction) };
    },
  );

  app.get(
    '/:id/audit',
    {
      config: notFound,
      schema: {
        tags,
        summary: 'The audit trail of one incident, oldest first',
        params: idParams,
        response: { 200: z.object({ entries: list(auditAnswer) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const incident = await store.getIncident(request.params.id);
      if (incident === undefined || !visibility.canSee(principal, incident)) {
        throw new GridhubError('not_found', `no incident ${request.params.id}`);
      }
      const entries = await store.listAudit({ limit: 500, targetId: incident.id });
      return { entries: entries.reverse() };
    },
  );

  app.post(
    '/:id/actions/:action',
    {
      config: {
        roles: 'signed_in',
        refusals: ['not_found', 'forbidden', 'illegal_transition', 'idempotency_key_reused'],
      },
      schema: {
        tags,
        summary: 'Take a lifecycle action',
        description:
          "acknowledge (for the caller's centre; no state change), dispatch (assignees), accept, arrive (position), resolve, verify, " +
          'reject (note), escalate, false_alarm (note), cancel, note (note), ' +
          "supervise (note: the instruction; duty officers and admins, for the caller's centre; no state change), " +
          'return (note: the reason; back to the dispatching centre), request_extension (note, until), ' +
          'approve_extension, deny_extension (note), suspend (note, reviewAt), resume, hand_off (note, coordinator), ' +
          'coordinate_done (note), feedback (note, via; cases with an origin), approve (note?), deny (note). ' +
          'An illegal transition answers 409 with the reason. With an Idempotency-Key, sending it again answers the ' +
          'first answer (header idempotent-replayed: true) without acting twice; the key used for another incident ' +
          'or action answers 422.',
        params: actionParams,
        headers: actionHeaders,
        body: actionBody,
        response: { 200: incidentAnswer },
      },
    },
    async (request, reply) => {
      const { id, action } = request.params;
      const { note, assignees, position, takenAt, until, reviewAt, coordinator, via } = request.body ?? {};
      const principal = principalOf(request);
      checkTakenAt(takenAt, Date.now());
      // A refusal is the catalogue's error of its kind (core/errors.ts' refused), answered as every error is.
      const act = () =>
        incidents.act(principal, id, action, {
          ...(note === undefined ? {} : { note }),
          ...(assignees === undefined ? {} : { assignees }),
          ...(position === undefined ? {} : { position }),
          ...(takenAt === undefined ? {} : { takenAt }),
          ...(until === undefined ? {} : { until }),
          ...(reviewAt === undefined ? {} : { reviewAt }),
          ...(coordinator === undefined ? {} : { coordinator }),
          ...(via === undefined ? {} : { via }),
        });
      const key = request.headers['idempotency-key'];
      if (key === undefined) return act();
      const { answer, replayed } = await idempotent.run(
        principal.userId,
        key,
        { incidentId: id, action },
        act,
      );
      if (replayed) reply.header('idempotent-replayed', 'true');
      return answer;
    },
  );
};
