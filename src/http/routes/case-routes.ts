import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Catalogue } from '../../cases/catalogue.ts';
import type { HotlineOrders } from '../../cases/hotline-orders.ts';
import type { PeopleCases } from '../../cases/people-cases.ts';
import { fieldReportPaths } from '../../core/incident.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { incidentAnswer } from '../schemas.ts';
import { officerOrderAnswer } from './hotline-routes.ts';

export interface CaseRoutesOptions {
  readonly catalogue: Catalogue;
  readonly peopleCases: PeopleCases;
  readonly hotline: HotlineOrders;
}

const id = z.string().min(1).max(64);
const lonLat = z
  .tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)])
  .describe('[lon, lat], WGS84 (what the phone gives)');
const description = z.string().trim().min(1).max(2000);
/** A Chinese mobile or landline number, or E.164: digits, an optional +, hyphens. */
const phone = z
  .string()
  .regex(/^\+?[0-9][0-9-]{4,19}$/)
  .describe('The reporter’s number: kept apart from the case, shown only at /api/incidents/{id}/reporter.');

const fieldReportBody = z.strictObject({
  category: id,
  subcategory: id.optional(),
  description,
  position: lonLat.optional(),
  gridId: id.optional().describe('Corrects the grid the position fell in: one of your grids.'),
  address: z.string().trim().min(1).max(200).optional(),
  path: z
    .enum(fieldReportPaths)
    .describe(
      "方案4's path: on_spot (一般性, handled and recorded now: note required), coordinate (需要协调, to the community acceptance centre), urgent (突发性, reported at once, tracked on site), approval (需要审批, up the approval chain).",
    ),
  note: z.string().trim().min(1).max(2000).optional().describe('on_spot: what was done.'),
});

const registrationBody = z.strictObject({
  source: z.enum(['phone', 'walk_in', 'resident', 'hotline_12345', 'wechat']),
  reporter: z
    .strictObject({ name: z.string().trim().min(1).max(40).optional(), phone: phone.optional() })
    .optional(),
  gridId: id.optional(),
  position: lonLat.optional(),
  address: z.string().trim().min(1).max(200).optional(),
  category: id,
  subcategory: id.optional(),
  description,
});

const stageDeadlines = z.object({
  acceptMinutes: z.number(),
  arriveMinutes: z.number(),
  resolveMinutes: z.number(),
});
const department = z.object({ name: z.string(), users: z.array(z.string()) });
const procedure = z.object({
  steps: z.array(z.string()),
  checklist: z.array(z.string()),
  documents: z.array(z.object({ title: z.string(), url: z.string() })),
});
const catalogueAnswer = z.object({
  categories: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      class: z.enum(['event', 'component', 'device']),
      code: z.string().optional(),
      deadlines: stageDeadlines.optional(),
      department: department.optional(),
      procedure: procedure.optional(),
      subcategories: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          code: z.string().optional(),
          deadlines: stageDeadlines.optional(),
          department: department.optional(),
          procedure: procedure.optional(),
        }),
      ),
    }),
  ),
});

/**
 * Cases from people (#25): the catalogue, field reports (随手拍), registrations at a centre, and the reporter's
 * contact for those who handle the case, and a 12345 case's work order for its console.
 */
export const caseRoutes: FastifyPluginAsyncZod<CaseRoutesOptions> = async (app, options) => {
  app.addHook('preHandler', authenticate);
  const tags = ['cases'];

  app.get(
    '/catalogue',
    {
      schema: {
        tags,
        summary: 'The category catalogue',
        description:
          'Categories and sub-categories (GB/T 30428 event and component classes, and the device rules’ categories) with their deadlines per stage, responsible department and procedure (处置预案). A case’s procedure is its sub-category’s, else its category’s.',
        response: { 200: catalogueAnswer },
      },
    },
    async () => options.catalogue.config,
  );

  app.post(
    '/cases',
    {
      config: { roles: ['grid_worker', 'grid_chief'], refusals: ['not_found', 'illegal_transition'] },
      schema: {
        tags,
        summary: 'Report a case from the field (随手拍)',
        description:
          'Placed in the grid whose polygon holds the position (WGS84), or in the grid given (one of yours). The case follows the path: on_spot ends resolved by you (it goes to verification like any resolved case), coordinate is new at the community acceptance centre, urgent is on site with you as handler and the community and street centres alerted, approval is new with its approval chain. Add photos afterwards with POST /api/incidents/{id}/uploads.',
        body: fieldReportBody,
        response: { 201: incidentAnswer },
      },
    },
    async (request, reply) => {
      const incident = await options.peopleCases.report(principalOf(request), request.body);
      return reply.code(201).send(incident);
    },
  );

  app.post(
    '/cases/register',
    {
      config: { roles: ['duty_officer'], refusals: ['not_found'] },
      schema: {
        tags,
        summary: 'Register a case at the centre (登记)',
        description:
          "A call, a walk-in, a resident's report, a 12345 work order or a WeChat report, with the reporter's name and number (kept apart: the case shows 张** and whether there is a contact), the place (a grid, or a position inside one, with an address) and the category. Routed like a device's case: to the grid's worker on duty, else the grid chief, else the community centre.",
        body: registrationBody,
        response: { 201: incidentAnswer },
      },
    },
    async (request, reply) => {
      const incident = await options.peopleCases.register(principalOf(request), request.body);
      return reply.code(201).send(incident);
    },
  );

  app.get(
    '/incidents/:id/reporter',
    {
      config: { refusals: ['not_found', 'forbidden'] },
      schema: {
        tags,
        summary: "The reporter's contact (name and number)",
        description:
          "Only to the case's handler and assignees and the duty officers of its responsible centre; every read is audited (reporter.viewed). Empty when the case names no reporter.",
        params: z.strictObject({ id }),
        response: { 200: z.object({ name: z.string().optional(), phone: z.string().optional() }) },
      },
    },
    async (request) => options.peopleCases.reporterOf(principalOf(request), request.params.id),
  );

  app.get(
    '/incidents/:id/work-order',
    {
      config: { roles: ['duty_officer'], refusals: ['not_found'] },
      schema: {
        tags: ['12345 hotline'],
        summary: "A 12345 case's work order, for the duty officer's console",
        description:
          "The order's number, state, the platform's deadline, who signed for it (签收) or returned it (退单, with the reason) and when, the result the platform reads, its 回访, and what the officer may do now (POST /api/hotline/v1/work-orders/{no}/sign or /return). Only to duty officers who may see the case; 404 for a case that is not a 12345 work order's. Never the reporter's contact (that is /reporter's).",
        params: z.strictObject({ id }),
        response: { 200: officerOrderAnswer },
      },
    },
    async (request) => options.hotline.ofCase(principalOf(request), request.params.id),
  );
};
