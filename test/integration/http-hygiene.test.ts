import { request as httpsRequest } from 'node:https';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCertificates } from '../helpers/certificates.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const scrapeToken = 'the-scraper-token-0123456789';

function basic(password: string): string {
  return `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;
}

describe('every answer of the hub', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it.each([
    ['a page', '/officer', 200],
    ['an API answer', '/api/me', 401],
    ['the health check', '/healthz', 200],
    ['an unknown route', '/nowhere', 404],
  ])('carries the security headers: %s', async (_what, path, status) => {
    const response = await fetch(`${hub.httpUrl}${path}`);
    expect(response.status).toBe(status);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp.split(';')).toEqual(
      expect.arrayContaining([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
      ]),
    );
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    // Plain HTTP: no HSTS, which only an HTTPS answer may set.
    expect(response.headers.get('strict-transport-security')).toBeNull();
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers no cross-origin request: CORS is off until origins are listed', async () => {
    const preflight = await fetch(`${hub.httpUrl}/api/incidents`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://elsewhere.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${hub.httpUrl}/api/me`, {
      headers: { origin: 'https://elsewhere.example', authorization: 'Bearer demo-admin' },
    });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logs one line per request with its id, route, status, duration and address, and no secret', async () => {
    const response = await fetch(`${hub.httpUrl}/api/me?token=query-secret-value`, {
      headers: { authorization: 'Bearer demo-admin' },
    });
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id');
    await eventually(() => hub.logs.text.includes(`"reqId":"${id}"`));
    const line = JSON.parse(
      hub.logs.lines.find((candidate) => candidate.includes(`"reqId":"${id}"`)) ?? '{}',
    ) as Record<string, unknown>;
    expect(line).toMatchObject({
      ns: 'http',
      method: 'GET',
      route: '/api/me',
      path: '/api/me',
      status: 200,
      remote: '127.0.0.1',
      msg: 'request',
    });
    expect(typeof line.ms).toBe('number');
    expect(hub.logs.text).not.toContain('demo-admin');
    expect(hub.logs.text).not.toContain('query-secret-value');
  });

  it("keeps a proxy's request id, so its logs and the hub's join up", async () => {
    const response = await fetch(`${hub.httpUrl}/healthz`, { headers: { 'x-request-id': 'proxy-4f1c2a9e' } });
    expect(response.headers.get('x-request-id')).toBe('proxy-4f1c2a9e');
    await eventually(() => hub.logs.text.includes('"reqId":"proxy-4f1c2a9e"'));
  });
});

describe('a hub with its edge configured', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: deploymentOf({
        ...demoConfig(),
        http: { corsOrigins: ['https://ops.example.org'], metricsToken: scrapeToken, protectDocs: true },
      }),
    });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('answers the listed origins only, and counts the others', async () => {
    const preflight = (origin: string) =>
      fetch(`${hub.httpUrl}/api/incidents`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const listed = await preflight('https://ops.example.org');
    expect(listed.status).toBe(204);
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://ops.example.org');
    expect(listed.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(listed.headers.get('access-control-allow-credentials')).toBeNull();
    const other = await preflight('https://elsewhere.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const text = await (
      await fetch(`${hub.httpUrl}/metrics`, { headers: { authorization: `Bearer ${scrapeToken}` } })
    ).text();
    expect(text).toMatch(/^gridhub_http_refusals_total\{reason="cors_origin"\} 1$/m);
  });

  it("lets the listed origins' pages use Socket.IO's polling transport too", async () => {
    const handshake = (origin: string) =>
      fetch(`${hub.httpUrl}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
    const listed = await handshake('https://ops.example.org');
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://ops.example.org');
    await listed.text();
    const other = await handshake('https://elsewhere.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    await other.text();
  });

  it("serves /metrics to the scraper's token and to an admin only, counting the refusals", async () => {
    expect((await fetch(`${hub.httpUrl}/metrics`)).status).toBe(401);
    const officer = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: 'Bearer demo-officer-qinghe' },
    });
    expect(officer.status).toBe(401);
    const scraper = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${scrapeToken}` },
    });
    expect(scraper.status).toBe(200);
    const admin = await fetch(`${hub.httpUrl}/metrics`, { headers: { authorization: 'Bearer demo-admin' } });
    expect(admin.status).toBe(200);
    const text = await scraper.text();
    expect(text).toMatch(/^gridhub_http_refusals_total\{reason="metrics_token"\} 2$/m);
    expect(hub.logs.text).toMatch(/"reason":"metrics_token","remote":"127\.0\.0\.1"/);
    expect(hub.logs.text).not.toContain(scrapeToken);
  });

  it('serves /docs to a signed-in user only, and lets a browser ask for the token', async () => {
    const anonymous = await fetch(`${hub.httpUrl}/docs/json`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="gridhub"/);
    const signedIn = await fetch(`${hub.httpUrl}/docs/json`, {
      headers: { authorization: basic('demo-officer-qinghe') },
    });
    expect(signedIn.status).toBe(200);
    expect(((await signedIn.json()) as { openapi: string }).openapi).toMatch(/^3\./);
  });
});

describe('HTTPS answers', () => {
  const directory = temporaryDirectory('gridhub-hsts-');
  let hub: TestHub;
  let ca: string;

  beforeAll(async () => {
    const certificates = new TestCertificates(directory.path);
    certificates.ca();
    certificates.server();
    ca = certificates.read('ca.crt');
    hub = await startTestHub({
      deployment: deploymentOf({
        ...demoConfig(),
        tls: { cert: certificates.file('server.crt'), key: certificates.file('server.key'), mqtt: false },
      }),
    });
  });

  afterAll(async () => {
    await hub?.stop();
    directory.remove();
  });

  it('carry HSTS', async () => {
    const hsts = await new Promise<string | undefined>((resolve, reject) => {
      httpsRequest(`${hub.httpUrl}/healthz`, { ca }, (response) => {
        response.resume();
        resolve(response.headers['strict-transport-security']);
      })
        .on('error', reject)
        .end();
    });
    expect(hsts).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('the pages under the Content-Security-Policy, in Chromium', () => {
  let hub: TestHub;
  let browser: Browser;

  beforeAll(async () => {
    hub = await startTestHub();
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it.each([
    [
      '/',
      async (page: import('playwright-core').Page) => page.getByRole('button', { name: 'Connect' }).click(),
    ],
    ['/officer', logIn('officer-xijiao')],
    ['/worker', logIn('worker-xijiao-01')],
    ['/docs', async (page: import('playwright-core').Page) => page.locator('.swagger-ui .info').waitFor()],
  ])('%s runs without a single violation', async (path, use) => {
    const context = await browser.newContext();
    try {
      await context.addInitScript(() => {
        const seen: string[] = [];
        Object.defineProperty(globalThis, 'cspViolations', { value: seen });
        // The page's own document: this runs in the browser, where the test's types do not reach.
        const page = globalThis as unknown as {
          document: {
            addEventListener(
              type: string,
              listener: (event: { violatedDirective: string; blockedURI: string }) => void,
            ): void;
          };
        };
        page.document.addEventListener('securitypolicyviolation', (event) =>
          seen.push(`${event.violatedDirective} ${event.blockedURI}`),
        );
      });
      const page = await context.newPage();
      const console: string[] = [];
      page.on('console', (message) => console.push(message.text()));
      await page.goto(`${hub.httpUrl}${path}`);
      await use(page);
      if (path !== '/docs') {
        // The console and the worker view say it in the user's language, and as data-status; the plain feed in words.
        const live = () =>
          path === '/'
            ? page.locator('#status').textContent()
            : page.locator('#status').getAttribute('data-status');
        await expect.poll(live, { timeout: 15_000 }).toBe('live');
      }
      const violations = await page.evaluate(
        () => (globalThis as unknown as { cspViolations: string[] }).cspViolations,
      );
      expect(violations).toEqual([]);
      expect(console.filter((text) => text.includes('Content Security Policy'))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

/** Logs a demo user in on the page with their username and demo password. */
function logIn(userId: string): (page: import('playwright-core').Page) => Promise<void> {
  return async (page) => {
    await page.getByLabel('用户名').fill(userId);
    await page.getByLabel('密码').fill(`demo-password-${userId}`);
    await page.getByRole('button', { name: '登录' }).click();
  };
}
