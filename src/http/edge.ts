import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorAnswer, GridhubError } from '../core/errors.ts';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { TrustProxy } from './client-address.ts';
import { httpEdgeMetrics } from './http-metrics.ts';

/**
 * The HTTP edge (#18): what every answer carries and every request leaves behind, before and after the routes.
 *
 * - Security headers through @fastify/helmet: a Content-Security-Policy that allows the hub's own scripts, styles
 *   and connections only (the pages have no inline code), framing refused, nosniff, no referrer; HSTS only on an
 *   HTTPS request (the hub's own TLS, or a trusted proxy's X-Forwarded-Proto), never on plain HTTP.
 * - CORS through @fastify/cors, only for the origins the config lists: none by default.
 * - /metrics and /docs behind a token when the config says so.
 * - An access log line per request, with its id, which the answer returns in x-request-id.
 */
/**
 * The edge's settings as the config file gives them (`http`; config/schema.ts checks at compile time that its
 * schema is these, field for field).
 */
export interface EdgeSettings {
  /** Whose X-Forwarded-For to believe: any (true), that many proxies in front, or the proxies' addresses or ranges. */
  readonly trustProxy: TrustProxy;
  /** Origins whose pages may call the API from a browser; "*" allows any. */
  readonly corsOrigins: string[];
  /** When set, /metrics answers only a bearer of this token or of an admin's token or session. */
  readonly metricsToken?: string;
  /** /docs only for a signed-in user. */
  readonly protectDocs: boolean;
}

/** The settings of a file that says nothing of the edge (the schema's defaults; test/unit/config.test.ts checks). */
export const defaultEdgeSettings: EdgeSettings = Object.freeze({
  trustProxy: false,
  corsOrigins: [],
  protectDocs: false,
});

export interface EdgeOptions {
  readonly config: EdgeSettings;
  /** Other origins the pages may load images from: the console map's tile servers (console-settings.ts). */
  readonly imageOrigins?: readonly string[];
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

/** The request id: a proxy's x-request-id when it is a plain token (so its logs and ours join up), else a UUID. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{8,128}$/.test(given) ? given : randomUUID();
}

/**
 * Content-Security-Policy directives: the hub's own origin for everything, media as blob: URLs (common.js), and
 * the map's tiles from the servers the configuration names (none by default).
 */
const contentSecurityPolicyWith = (imageOrigins: readonly string[]) => ({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
    // Snapshots and clips are fetched with the token and shown from blob: URLs; /docs' icons are data: URLs.
    imgSrc: ["'self'", 'blob:', 'data:', ...imageOrigins],
    mediaSrc: ["'self'", 'blob:'],
    connectSrc: ["'self'"],
    // The worker's page is an installable app: its service worker (/dashboard/sw.js) and manifest are the hub's own.
    workerSrc: ["'self'"],
    manifestSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

const docsContentSecurityPolicy = Object.entries({
  ...contentSecurityPolicyWith([]).directives,
  styleSrc: ["'self'", "'unsafe-inline'"],
})
  .map(
    ([name, values]) =>
      `${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)} ${values.join(' ')}`,
  )
  .join(';');

export async function registerEdge(app: FastifyInstance, options: EdgeOptions): Promise<void> {
  const { config } = options;
  const metrics = httpEdgeMetrics(options.metrics);
  const log = options.logger.child({ ns: 'http' });
  const throttle = new LogThrottle();

  const refuse = (request: FastifyRequest, reason: string, message: string): void => {
    metrics.httpRefusals.labels(reason).inc();
    const suppressed = throttle.admit(`${reason}:${request.ip}`);
    if (suppressed >= 0) {
      log.warn({ reqId: request.id, reason, remote: request.ip, suppressed }, message);
    }
  };

  // Not global: @fastify/helmet would build helmet's middleware again for every request (its configuration
  // parsed, the CSP written out: about 50 µs of CPU a request). The headers depend on the configuration alone (no
  // nonces), so helmet writes them once, on the first request, and every later answer gets the same.
  await app.register(fastifyHelmet, {
    global: false,
    contentSecurityPolicy: contentSecurityPolicyWith(options.imageOrigins ?? []),
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Set below, on HTTPS requests only: on plain HTTP it would tell browsers nothing true.
    hsts: false,
    // The pages load nothing from other origins; their media are blob: URLs, which COEP does not concern.
    crossOriginEmbedderPolicy: false,
  });
  let securityHeaders: Record<string, string> | undefined;
  app.addHook('onRequest', async (_request, reply) => {
    if (securityHeaders !== undefined) {
      reply.headers(securityHeaders);
      return;
    }
    const before = new Set(reply.raw.getHeaderNames());
    await reply.helmet();
    securityHeaders = Object.fromEntries(
      reply.raw
        .getHeaderNames()
        .filter((name) => !before.has(name))
        .map((name) => [name, String(reply.raw.getHeader(name))]),
    );
  });

  if (config.corsOrigins.length > 0) {
    const anyOrigin = config.corsOrigins.includes('*');
    const allowed = new Set(config.corsOrigins);
    await app.register(fastifyCors, {
      // Bearer tokens, not cookies: no credentials mode, so "*" cannot leak a session.
      credentials: false,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type'],
      exposedHeaders: ['x-request-id'],
      maxAge: 600,
      origin: (origin, callback) => {
        if (origin === undefined || anyOrigin || allowed.has(origin)) return callback(null, true);
        metrics.httpRefusals.labels('cors_origin').inc();
        callback(null, false);
      },
    });
  }

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Swagger UI (a page the hub does not write) adds <style> elements as it renders: /docs alone allows inline
    // styles; its scripts stay as strict as everywhere.
    if (request.url === '/docs' || request.url.startsWith('/docs/')) {
      reply.header('content-security-policy', docsContentSecurityPolicy);
    }
    if (request.protocol === 'https') {
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    }
  });

  // /metrics: the scraper's token or an admin. /docs: any signed-in user. Basic (any name, the token as password)
  // is taken too, so a browser can open /docs with its own login prompt.
  const metricsToken = config.metricsToken === undefined ? undefined : Buffer.from(config.metricsToken);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '';
    const isMetrics = path === '/metrics' && metricsToken !== undefined;
    const isDocs = config.protectDocs && (path === '/docs' || path.startsWith('/docs/'));
    if (!isMetrics && !isDocs) return;
    // Authenticated already, through the limits on guessing (http-app.ts): Bearer anywhere, Basic on /docs.
    const principal = request.principal;
    if (isMetrics && (principal?.role === 'admin' || sameSecret(presentedToken(request), metricsToken)))
      return;
    if (isDocs && principal !== undefined) return;
    refuse(request, isMetrics ? 'metrics_token' : 'docs_token', `${path} refused: no valid token`);
    if (isDocs) reply.header('www-authenticate', 'Basic realm="gridhub", charset="UTF-8"');
    const refusal = new GridhubError(
      'unauthorized',
      isMetrics ? 'the metrics token or an admin token is required' : 'a valid token is required',
    );
    const { status, error } = errorAnswer(refusal);
    return reply.code(status).send({ error });
  });

  // One line per request, once answered: never its headers or query (tokens, secrets), only where it went.
  app.addHook('onResponse', async (request, reply) => {
    log.info(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? '(none)',
        path: request.url.split('?', 1)[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        remote: request.ip,
      },
      'request',
    );
  });
}

/** The token a request presents: `Bearer <token>`, or the password of `Basic`. */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  if (header.startsWith('Bearer ')) return header.slice(7);
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

export function sameSecret(token: string | undefined, expected: Buffer | undefined): boolean {
  if (token === undefined || expected === undefined) return false;
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
