import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Accounts } from '../auth/accounts.ts';
import type { GuessLimiter } from '../auth/guess-limiter.ts';
import type { RememberedDevices } from '../auth/remembered-devices.ts';
import type { Sessions } from '../auth/sessions.ts';
import type { TokenAuthenticator } from '../auth/token-authenticator.ts';
import type { MediaStore } from '../cameras/evidence/media-store.ts';
import { notifyPath, type OnvifSessions } from '../cameras/sessions/onvif-sessions.ts';
import { errorAnswer, GridhubError } from '../core/errors.ts';
import { formatPath } from '../core/problems.ts';
import type { People } from '../core/user.ts';
import type { DeviceRegistry } from '../fleet/device-registry.ts';
import type { Fleet } from '../fleet/fleet.ts';
import { tileOrigins } from '../incidents/console-settings.ts';
import type { IncidentService } from '../incidents/incident-service.ts';
import type { Router } from '../incidents/router.ts';
import type { Visibility } from '../incidents/visibility.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { OutboundGuard } from '../net/outbound-address.ts';
import type { Logger } from '../observability/logger.ts';
import type { PatrolService } from '../patrols/patrol-service.ts';
import type { WorkLogs } from '../patrols/work-log.ts';
import type { WorkerPositions } from '../positions/worker-positions.ts';
import type { TlsMaterial } from '../security/tls-credentials.ts';
import type { EventLog } from '../store/event-log.ts';
import { trustFunction } from './client-address.ts';
import {
  defaultEdgeSettings,
  type EdgeSettings,
  presentedToken,
  registerEdge,
  requestId,
  sameSecret,
} from './edge.ts';
import { documentRefusals, tooManyAttempts } from './request-guards.ts';
import { accountRoutes } from './routes/account-routes.ts';
import { assessmentRoutes } from './routes/assessment-routes.ts';
import {
  type AssessmentScoreRoutesOptions,
  assessmentScoreRoutes,
} from './routes/assessment-score-routes.ts';
import { authRoutes } from './routes/auth-routes.ts';
import { type CameraRoutesOptions, cameraRoutes } from './routes/camera-routes.ts';
import { type CaseRoutesOptions, caseRoutes } from './routes/case-routes.ts';
import { type ConsoleRoutesOptions, consoleRoutes } from './routes/console-routes.ts';
import { dashboardRoutes } from './routes/dashboard-routes.ts';
import { deviceRoutes } from './routes/device-routes.ts';
import { type HotlineRoutesOptions, hotlineRoutes } from './routes/hotline-routes.ts';
import { incidentRoutes } from './routes/incident-routes.ts';
import {
  type JurisdictionRoutesOptions,
  jurisdictionRoutes,
  rosterRoutes,
} from './routes/jurisdiction-routes.ts';
import { liveRoutes } from './routes/live-routes.ts';
import { mediaRoutes } from './routes/media-routes.ts';
import { noticeRoutes } from './routes/notice-routes.ts';
import { type NotificationRoutesOptions, notificationRoutes } from './routes/notification-routes.ts';
import { onvifNotifyRoutes } from './routes/onvif-notify-routes.ts';
import { type OpsRoutesOptions, operationsRoutes, opsRoutes } from './routes/ops-routes.ts';
import { patrolRoutes } from './routes/patrol-routes.ts';
import { positionRoutes } from './routes/position-routes.ts';
import { type PushRoutesOptions, pushRoutes } from './routes/push-routes.ts';
import { rememberedDeviceRoutes } from './routes/remembered-device-routes.ts';
import { type UploadRoutesOptions, uploadRoutes } from './routes/upload-routes.ts';

export type { HealthReport } from './routes/ops-routes.ts';

export interface HttpAppOptions
  extends OpsRoutesOptions,
    ConsoleRoutesOptions,
    CameraRoutesOptions,
    PushRoutesOptions,
    NotificationRoutesOptions,
    UploadRoutesOptions,
    AssessmentScoreRoutesOptions,
    CaseRoutesOptions,
    HotlineRoutesOptions {
  readonly authenticator: TokenAuthenticator;
  readonly sessions: Sessions;
  readonly accounts: Accounts;
  readonly logger: Logger;
  /** Failed authentications per address and identity (limits.auth), shared with Socket.IO and MQTT. */
  readonly guesses: GuessLimiter;
  readonly fleet: Fleet;
  readonly eventLog: EventLog;
  readonly incidents: IncidentService;
  readonly visibility: Visibility;
  readonly jurisdiction: Jurisdiction;
  readonly router: Router;
  /** The people the hub knows now (accounts.people): the config's users and the API's accounts. */
  readonly people: People;
  /** The departments a case is handed to for coordination (config departments, #25). */
  readonly departments: JurisdictionRoutesOptions['departments'];
  readonly registry: DeviceRegistry;
  readonly media: MediaStore;
  readonly cameras: OnvifSessions;
  /** The most a camera's Notify to the consumer endpoint may take (`cameras.notifyMaxBytes`). */
  readonly notifyMaxBytes: number;
  readonly outboundGuard: OutboundGuard;
  /** HTTPS (and so WSS for Socket.IO and MQTT over WebSocket): the certificate at start; the hub reloads it. */
  readonly tls?: TlsMaterial;
  /** The HTTP edge's settings: trusted proxies, CORS, the tokens of /metrics and /docs. */
  readonly edge?: EdgeSettings;
  /** Grid workers' positions while on duty (routes/position-routes.ts). */
  readonly positions: WorkerPositions;
  /** Patrols, zero reports and work logs (routes/patrol-routes.ts). */
  readonly patrols: PatrolService;
  readonly workLogs: WorkLogs;
  /** Phones that keep their login until revoked (the worker's page). */
  readonly rememberedDevices: RememberedDevices;
}

/** A JSON pointer (`/shifts/0/from`) as path segments, array indices as numbers. */
function jsonPointer(pointer: string): PropertyKey[] {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((segment) =>
      /^\d+$/.test(segment) ? Number(segment) : segment.replaceAll('~1', '/').replaceAll('~0', '~'),
    );
}

/** zod's validation context → the name our error messages use. */
const contexts: Record<string, string> = {
  querystring: 'query',
  body: 'body',
  params: 'params',
  headers: 'headers',
};

/**
 * The HTTP surface: one fastify plugin per resource (routes/*.ts), registered with its prefix. Routes declare their
 * input and their answers as zod schemas, which validate the input, serialize the answers and document both in the
 * OpenAPI description served at /docs; a plugin behind a token authenticates its routes in one pre-handler, each
 * route naming the roles it allows; each route checks the caller's scope; errors answer in one shape,
 * `{error: {code, message, problems?}}`, with the codes and statuses of the catalogue (core/errors.ts).
 */
export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 256 * 1024,
    ...(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } }),
    // Behind a reverse proxy: request.ip (logs, rate limits) is the client's address from X-Forwarded-For.
    ...(options.edge === undefined || options.edge.trustProxy === false
      ? {}
      : { trustProxy: trustFunction(options.edge.trustProxy) }),
    // Request ids for the access log and x-request-id (see edge.ts).
    genReqId: requestId,
    requestIdHeader: false,
  }) as unknown as FastifyInstance;
  // Before the routes, and before swagger reads them: their refusals documented (request-guards.ts).
  registerErrorAnswers(app, options.logger);
  // Any request with a token authenticates here, first, through the limits on guessing by address: a bearer token
  // anywhere (/api/auth/token included), and Basic's password on /docs, which a browser's login prompt sends. The
  // metrics scraper's token is no user's: recognised first, so scraping counts as no failure.
  const metricsToken =
    options.edge?.metricsToken === undefined ? undefined : Buffer.from(options.edge.metricsToken);
  app.addHook('onRequest', async (request, reply) => {
    const scheme = request.headers.authorization?.slice(0, 6);
    if (scheme !== 'Bearer' && !(scheme === 'Basic ' && request.url.startsWith('/docs'))) return;
    const token = presentedToken(request);
    if (token === undefined || (request.url === '/metrics' && sameSecret(token, metricsToken))) return;
    const throttled = options.guesses.refuse('rest', request.ip, undefined);
    if (throttled !== undefined) throw tooManyAttempts(reply, throttled);
    request.principal = await options.authenticator.authenticate(token);
    if (request.principal === undefined && (await options.authenticator.isGuess(token)))
      options.guesses.failed('rest', request.ip, undefined);
  });
  // Then the edge, so its headers and checks apply to every route, /docs' own included.
  await registerEdge(app, {
    config: options.edge ?? defaultEdgeSettings,
    imageOrigins: tileOrigins(options.consoleSettings.map),
    metrics: options.metrics,
    logger: options.logger,
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'gridhub',
        version: '0.1.0',
        description: 'Real-time IoT and video-alert hub for community grid management.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // Each resource is a plugin with its prefix; those behind a token add the authentication pre-handler once
  // (request-guards.ts' authenticate), their routes saying who may call them in `config.roles`.
  await app.register(opsRoutes, options);
  await app.register(authRoutes, { ...options, prefix: '/api' });
  await app.register(operationsRoutes, { ...options, prefix: '/api' });
  await app.register(accountRoutes, { ...options, prefix: '/api/accounts' });
  await app.register(incidentRoutes, { ...options, prefix: '/api/incidents' });
  // Field evidence (#24): its own plugin, whose body is a raw stream rather than JSON.
  await app.register(uploadRoutes, { ...options, prefix: '/api/incidents' });
  await app.register(jurisdictionRoutes, { ...options, prefix: '/api' });
  await app.register(rosterRoutes, { ...options, prefix: '/api/rosters' });
  await app.register(deviceRoutes, { ...options, prefix: '/api/devices' });
  await app.register(assessmentRoutes, { ...options, prefix: '/api/assessment' });
  await app.register(assessmentScoreRoutes, { ...options, prefix: '/api/assessment/scores' });
  await app.register(cameraRoutes, { ...options, prefix: '/api/cameras' });
  await app.register(consoleRoutes, { ...options, prefix: '/api/console' });
  await app.register(liveRoutes, { ...options, prefix: '/api/live' });
  await app.register(positionRoutes, { ...options, prefix: '/api' });
  await app.register(patrolRoutes, { ...options, prefix: '/api' });
  await app.register(mediaRoutes, { ...options, prefix: '/media' });
  await app.register(pushRoutes, { ...options, prefix: '/api/push' });
  await app.register(notificationRoutes, { ...options, prefix: '/api/notifications' });
  await app.register(onvifNotifyRoutes, { ...options, prefix: notifyPath });
  await app.register(rememberedDeviceRoutes, { ...options, prefix: '/api' });
  // Cases from people (#25): catalogue, field reports, registrations, the 12345 work-order API.
  await app.register(caseRoutes, { ...options, prefix: '/api' });
  await app.register(hotlineRoutes, { ...options, prefix: '/api/hotline/v1' });
  // 公示 of approved cases (#25 point 1).
  await app.register(noticeRoutes, { ...options, prefix: '/api' });
  await app.register(dashboardRoutes, options);
  return app;
}

/**
 * What every app of the API shares, the hub's and a test's alike: zod validating input and serializing answers,
 * `request.principal`, and errors answered in one shape, `{error: {code, message, problems?}}`, each code with the
 * status of the catalogue (core/errors.ts); a service's refusal is the catalogue's error of its kind already.
 */
export function registerErrorAnswers(app: FastifyInstance, logger?: Logger): void {
  const log = logger?.child({ ns: 'http' });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);
  // Every route's refusals in its OpenAPI description, with the error shape.
  app.addHook('onRoute', documentRefusals);
  app.setErrorHandler((error: unknown, request, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = contexts[error.validationContext ?? ''] ?? 'request';
      const problems = error.validation.map(
        (issue) => `${formatPath(jsonPointer(issue.instancePath), where)}: ${issue.message}`,
      );
      return reply
        .code(400)
        .send({ error: { code: 'invalid_request', message: `invalid ${where}`, problems } });
    }
    const coded = error instanceof GridhubError ? error : undefined;
    if (coded === undefined) {
      // Fastify's own 4xx (a body that is not JSON, too large): its message is safe to show. Anything else is a
      // fault of the hub's: logged, and told as no more than `internal`.
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) log?.error({ err: error, reqId: request.id }, 'request failed');
      const message = status < 500 ? (error as Error).message : 'internal error';
      return reply.code(status).send({ error: { code: status < 500 ? 'bad_request' : 'internal', message } });
    }
    const answer = errorAnswer(coded);
    if (answer.status >= 500) log?.error({ err: error, reqId: request.id }, 'request failed');
    return reply.code(answer.status).send({ error: answer.error });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } }),
  );
}
