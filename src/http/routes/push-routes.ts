import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GridhubError } from '../../core/errors.ts';
import type { WebPushConfig } from '../../notify/channels/web-push.ts';
import {
  endpointHostAllowed,
  isP256Point,
  PushSubscriptions,
  vapidKeys,
} from '../../notify/push-subscriptions.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { Store } from '../../store/store.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { list } from '../schemas.ts';

/** Why a push request was refused: labels of gridhub_push_refusals_total. */
const pushRefusalReasons = [
  'invalid',
  'key_not_on_curve',
  'endpoint_scheme',
  'endpoint_host',
  'too_many',
  'too_large',
  'not_configured',
  'unauthorized',
  'not_found',
] as const;
type PushRefusalReason = (typeof pushRefusalReasons)[number];

const pushMetrics = declareMetrics((metrics) => ({
  refusals: metrics.counter({
    name: 'gridhub_push_refusals_total',
    help: 'Requests to /api/push refused, by reason (a malformed or foreign subscription, a host not allowed, too many).',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: pushRefusalReasons },
  }),
}));

/** A refusal's reason when the handler did not name one, by status. */
const reasonOfStatus: Record<number, PushRefusalReason> = {
  400: 'invalid',
  401: 'unauthorized',
  404: 'not_found',
  409: 'too_many',
  413: 'too_large',
};

/** A subscription is a few hundred bytes: anything larger is refused before it is parsed. */
const maxBodyBytes = 4 * 1024;

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'base64url without padding');

/** The body exactly as the browser's PushSubscription.toJSON() gives it. */
const subscriptionBody = z.strictObject({
  endpoint: z.url().max(1000),
  expirationTime: z.number().nullable(),
  keys: z.strictObject({
    p256dh: base64url
      .max(100)
      .refine((key) => Buffer.from(key, 'base64url').length === 65, '65 bytes (an uncompressed P-256 point)'),
    auth: base64url.max(30).refine((key) => Buffer.from(key, 'base64url').length === 16, '16 bytes'),
  }),
});

const subscriptionView = z.object({
  id: z.string().describe('The first 22 characters of the base64url SHA-256 of the endpoint.'),
  host: z.string().describe("The push service's host."),
  createdAt: z.string().describe('ISO 8601'),
});

export interface PushRoutesOptions {
  readonly store: Store;
  readonly metrics: MetricsRegistry;
  /** The web_push channel's settings; absent when none is configured (then these routes answer 404). */
  readonly webPush?: WebPushConfig;
}

const tags = ['push'];

/**
 * Web Push subscriptions, each user their own: the VAPID public key a browser subscribes with, and the
 * subscriptions it registers for the web_push channel to send to. The hub will POST to a subscription's endpoint,
 * so it is checked as a URL the hub may reach (https, a host on the channel's endpointHosts) and its key as a
 * point on P-256. Past maxSubscriptionsPerUser a new one is refused (409): the user removes an old browser's first,
 * so a stolen session cannot push a user's own phones out.
 */
export const pushRoutes: FastifyPluginAsyncZod<PushRoutesOptions> = async (app, options) => {
  const { refusals } = pushMetrics(options.metrics);
  const subscriptions = new PushSubscriptions(options.store);
  const reasons = new WeakMap<FastifyRequest, PushRefusalReason>();
  const refuse = (request: FastifyRequest, reason: PushRefusalReason, error: GridhubError): GridhubError => {
    reasons.set(request, reason);
    return error;
  };
  const settings = (request: FastifyRequest): WebPushConfig => {
    if (options.webPush === undefined)
      throw refuse(
        request,
        'not_configured',
        new GridhubError('not_found', 'Web Push is not configured on this hub'),
      );
    return options.webPush;
  };
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode < 400 || reply.statusCode > 499) return;
    refusals.labels(reasons.get(request) ?? reasonOfStatus[reply.statusCode] ?? 'invalid').inc();
  });
  app.addHook('preHandler', authenticate);

  app.get(
    '/key',
    {
      config: { roles: 'signed_in', refusals: ['not_found'] },
      schema: {
        tags,
        summary: "The VAPID public key, for PushManager.subscribe's applicationServerKey",
        response: { 200: z.object({ publicKey: z.string().describe('base64url, 65 bytes') }) },
      },
    },
    async (request) => {
      const { vapid } = settings(request);
      const configured =
        vapid.publicKey === undefined || vapid.privateKey === undefined
          ? undefined
          : { publicKey: vapid.publicKey, privateKey: vapid.privateKey };
      return { publicKey: (await vapidKeys(options.store, configured)).publicKey };
    },
  );

  app.get(
    '/subscriptions',
    {
      config: { roles: 'signed_in', refusals: ['not_found'] },
      schema: {
        tags,
        summary: 'Your push subscriptions (never their keys)',
        response: { 200: z.object({ subscriptions: list(subscriptionView) }) },
      },
    },
    async (request) => {
      settings(request);
      return { subscriptions: await subscriptions.views(principalOf(request).userId) };
    },
  );

  app.post(
    '/subscriptions',
    {
      bodyLimit: maxBodyBytes,
      config: { roles: 'signed_in', refusals: ['not_found', 'too_many_subscriptions'] },
      schema: {
        tags,
        summary: "Register this browser's push subscription (PushSubscription.toJSON())",
        body: subscriptionBody,
        response: { 201: subscriptionView, 200: subscriptionView },
      },
    },
    async (request, reply) => {
      const config = settings(request);
      const { userId } = principalOf(request);
      const { endpoint, expirationTime, keys } = request.body;
      const url = new URL(endpoint);
      const schemeAllowed =
        url.protocol === 'https:' || (config.allowHttpEndpoints && url.protocol === 'http:');
      if (!schemeAllowed)
        throw refuse(
          request,
          'endpoint_scheme',
          new GridhubError('invalid_request', 'the endpoint must be an https URL', {
            problems: ['body.endpoint: not https'],
          }),
        );
      if (
        url.username !== '' ||
        url.password !== '' ||
        !endpointHostAllowed(url.hostname, config.endpointHosts)
      )
        throw refuse(
          request,
          'endpoint_host',
          new GridhubError('invalid_request', 'the endpoint is not at a push service this hub sends to', {
            problems: [
              `body.endpoint: host ${url.hostname} is not on notify.channels[web_push].endpointHosts`,
            ],
          }),
        );
      if (!isP256Point(keys.p256dh))
        throw refuse(
          request,
          'key_not_on_curve',
          new GridhubError('invalid_request', 'the p256dh key is not a point on P-256', {
            problems: ['body.keys.p256dh: not a point on the P-256 curve'],
          }),
        );
      const renewing = await subscriptions.has(userId, endpoint);
      if (!renewing && (await subscriptions.count(userId)) >= config.maxSubscriptionsPerUser)
        throw refuse(
          request,
          'too_many',
          new GridhubError(
            'too_many_subscriptions',
            `at most ${config.maxSubscriptionsPerUser} browsers may subscribe: remove one first (DELETE /api/push/subscriptions)`,
          ),
        );
      const now = new Date();
      const id = await subscriptions.put(userId, { endpoint, expirationTime, keys }, now);
      return reply.code(renewing ? 200 : 201).send({ id, host: url.host, createdAt: now.toISOString() });
    },
  );

  app.delete(
    '/subscriptions',
    {
      bodyLimit: maxBodyBytes,
      config: { roles: 'signed_in', refusals: ['not_found'] },
      schema: {
        tags,
        summary: "Remove this browser's push subscription",
        body: z.strictObject({ endpoint: z.url().max(1000) }),
        response: { 200: z.object({ removed: z.literal(true) }) },
      },
    },
    async (request) => {
      settings(request);
      const removed = await subscriptions.remove(principalOf(request).userId, request.body.endpoint);
      if (!removed) throw new GridhubError('not_found', 'you have no subscription at that endpoint');
      return { removed: true as const };
    },
  );
};
