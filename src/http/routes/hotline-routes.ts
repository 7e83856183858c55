import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HotlineOrders } from '../../cases/hotline-orders.ts';
import type { HotlinePlatform } from '../../cases/hotline-schema.ts';
import { GridhubError } from '../../core/errors.ts';
import { authenticate, principalOf } from '../request-guards.ts';

export interface HotlineRoutesOptions {
  readonly hotline: HotlineOrders;
}

const signing =
  'Signed by the platform: headers X-App-Key (hotline.platforms[].appKey), X-Timestamp (Unix seconds or ms, within hotline.windowSeconds of the hub’s clock), X-Nonce (8 to 64 of A-Z a-z 0-9 _ -, never used twice within the window) and X-Signature = hex HMAC-SHA256(secret, METHOD + "\\n" + path with query + "\\n" + X-Timestamp + "\\n" + X-Nonce + "\\n" + hex SHA-256 of the body as sent (of "" without one)). A refused signature answers 401 and is counted (gridhub_hotline_refusals_total).';
const byOfficer =
  'By a duty officer of the hub who may see the case (bearer token), from the console: the platform learns of it by polling GET work-orders/{no}.';

const orderNo = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .describe("The platform's work-order number");
const noParams = z.strictObject({ no: orderNo });

const newOrderBody = z.strictObject({
  no: orderNo,
  title: z.string().trim().min(1).max(100),
  content: z.string().trim().min(1).max(2000),
  categoryCode: z
    .string()
    .min(1)
    .max(32)
    .describe(
      'Mapped by hotline.categoryCodes, else by the catalogue’s GB/T 30428 codes, else hotline.fallbackCategory.',
    ),
  address: z.string().trim().min(1).max(200).optional(),
  position: z
    .tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)])
    .optional()
    .describe('[lon, lat] WGS84, when the platform has it: the case is placed in its grid.'),
  reporter: z
    .strictObject({
      name: z.string().trim().min(1).max(40).optional(),
      phone: z
        .string()
        .regex(/^\+?[0-9][0-9-]{4,19}$/)
        .optional(),
    })
    .optional()
    .describe('Kept apart from the case; the case shows the name minimised (张**).'),
  deadline: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('The platform’s deadline, returned as given.'),
});

export const orderAnswer = z.object({
  no: z.string(),
  state: z
    .enum(['received', 'signed', 'handling', 'resolved', 'closed', 'returned', 'cancelled'])
    .describe('received → signed (签收) → handling → resolved → closed; or returned (退单).'),
  receivedAt: z.string(),
  deadline: z.string().optional(),
  signedAt: z.string().optional(),
  returnReason: z.string().optional(),
  returnedAt: z.string().optional(),
  result: z
    .object({
      resolution: z.string().describe('What the handler did.'),
      resolvedAt: z.string(),
      department: z.string().describe('The handling department (the category’s), else the centre.'),
    })
    .optional(),
  visit: z
    .object({
      satisfied: z.boolean(),
      note: z.string().optional(),
      at: z.string(),
      reopened: z.boolean().describe('Not satisfied and sent back to its handler for rework.'),
    })
    .optional(),
});

/** What a duty officer's console reads of a case's order: people by name, what the officer may do; no contact. */
export const officerOrderAnswer = orderAnswer
  .omit({ signedAt: true, returnReason: true, returnedAt: true })
  .extend({
    platform: z.string().describe('The platform’s name (hotline.platforms[].name).'),
    signed: z
      .object({ by: z.string().describe('The officer’s name.'), at: z.string() })
      .optional()
      .describe('签收'),
    returned: z
      .object({ by: z.string().describe('The officer’s name.'), at: z.string(), reason: z.string() })
      .optional()
      .describe('退单'),
    actions: z
      .array(z.enum(['sign', 'return']))
      .describe(
        'What the officer may do now: 签收 and 退单 until either is done, while the case is not over.',
      ),
  });

/** The raw body of each request, as signed: the JSON parser keeps it before parsing. */
const rawBodies = new WeakMap<FastifyRequest, string>();

/**
 * The 12345 inbound work-order API (#25 point 2), version 1. The platform's routes are signed (no bearer token);
 * 签收 and 退单 are the hub's acts, by its duty officers.
 */
export const hotlineRoutes: FastifyPluginAsyncZod<HotlineRoutesOptions> = async (app, options) => {
  const { hotline } = options;
  const tags = ['12345 hotline'];
  const platforms = new WeakMap<FastifyRequest, HotlinePlatform>();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    rawBodies.set(request, text);
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GridhubError('bad_request', 'the body is not JSON'), undefined);
    }
  });
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config.roles !== 'public') return authenticate(request);
    const platform = await hotline.verify({
      method: request.method,
      path: request.url,
      body: rawBodies.get(request) ?? '',
      headers: request.headers,
    });
    platforms.set(request, platform);
  });
  const platformOf = (request: FastifyRequest): HotlinePlatform => {
    const platform = platforms.get(request);
    if (platform === undefined) throw new GridhubError('unauthorized');
    return platform;
  };
  const signed = { roles: 'public' as const, refusals: ['unauthorized' as const, 'not_found' as const] };

  app.post(
    '/work-orders',
    {
      config: signed,
      schema: {
        tags,
        summary: 'Send a work order (派单)',
        description: `Registers the order as a case (source hotline_12345), routed like any: to the grid's worker on duty, else the community centre. The same number again answers the order as it stands. ${signing}`,
        body: newOrderBody,
        response: { 201: orderAnswer },
      },
    },
    async (request, reply) => reply.code(201).send(await hotline.create(platformOf(request), request.body)),
  );

  app.get(
    '/work-orders/:no',
    {
      config: signed,
      schema: {
        tags,
        summary: 'Read a work order: state, result, return reason',
        description: `The platform polls this for 签收, 退单 (with its reason) and the result. ${signing}`,
        params: noParams,
        response: { 200: orderAnswer },
      },
    },
    async (request) => hotline.read(platformOf(request), request.params.no),
  );

  app.post(
    '/work-orders/:no/visit',
    {
      config: { ...signed, refusals: [...signed.refusals, 'illegal_transition' as const] },
      schema: {
        tags,
        summary: 'Report the follow-up call (回访)',
        description: `Once the order has a result. Not satisfied: a case awaiting verification goes back to its handler for rework; a closed one is flagged on the order. ${signing}`,
        params: noParams,
        body: z.strictObject({
          satisfied: z.boolean(),
          note: z.string().trim().min(1).max(500).optional(),
        }),
        response: { 200: orderAnswer },
      },
    },
    async (request) =>
      hotline.visit(platformOf(request), request.params.no, request.body.satisfied, request.body.note),
  );

  app.post(
    '/work-orders/:no/sign',
    {
      config: { roles: ['duty_officer'], refusals: ['not_found', 'illegal_transition'] },
      schema: {
        tags,
        summary: 'Sign for a work order (签收)',
        description: byOfficer,
        params: noParams,
        response: { 200: orderAnswer },
      },
    },
    async (request) => hotline.sign(principalOf(request), request.params.no),
  );

  app.post(
    '/work-orders/:no/return',
    {
      config: { roles: ['duty_officer'], refusals: ['not_found', 'illegal_transition'] },
      schema: {
        tags,
        summary: 'Return a work order (退单) with a reason',
        description: `${byOfficer} Its case is cancelled with the reason.`,
        params: noParams,
        body: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
        response: { 200: orderAnswer },
      },
    },
    async (request) => hotline.return(principalOf(request), request.params.no, request.body.reason),
  );
};
