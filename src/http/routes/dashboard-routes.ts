import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';

export interface DashboardRoutesOptions {
  /** dashboard/index.html; its directory holds every page, script and stylesheet the dashboard serves. */
  readonly dashboardIndex: string;
}

/** The pages and their assets, by URL. Only these files are served: nothing else under dashboard/ is reachable. */
const files: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/officer': { file: 'officer.html', type: 'text/html; charset=utf-8' },
  '/dashboard/worker.html': { file: 'worker.html', type: 'text/html; charset=utf-8' },
  '/dashboard/index.js': { file: 'index.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/index.css': { file: 'index.css', type: 'text/css; charset=utf-8' },
  '/dashboard/common.js': { file: 'common.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/i18n.js': { file: 'i18n.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/map.js': { file: 'map.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/navigation.js': { file: 'navigation.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  // Browsers ask for it whatever the page says; an SVG serves them all.
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
  '/dashboard/officer.js': { file: 'officer.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/worker.js': { file: 'worker.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/dashboard/position-sharing.js': { file: 'position-sharing.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/patrol.js': { file: 'patrol.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/score.js': { file: 'score.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/tabs.js': { file: 'tabs.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/patrol-board.js': { file: 'patrol-board.js', type: 'text/javascript; charset=utf-8' },
  // The worker's installable app: its manifest, icons, service worker (scope /dashboard/) and offline queue.
  '/dashboard/manifest.webmanifest': { file: 'manifest.webmanifest', type: 'application/manifest+json' },
  '/dashboard/sw.js': { file: 'sw.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/outbox.js': { file: 'outbox.js', type: 'text/javascript; charset=utf-8' },
  // Cases from people (#25): 随手拍, 登记, procedures, 12345 work orders.
  '/dashboard/people-cases.js': { file: 'people-cases.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/hotline.js': { file: 'hotline.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/offline-store.js': { file: 'offline-store.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/push.js': { file: 'push.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/icons/icon-192.png': { file: 'icons/icon-192.png', type: 'image/png' },
  '/dashboard/icons/icon-512.png': { file: 'icons/icon-512.png', type: 'image/png' },
  '/dashboard/icons/icon-maskable-512.png': { file: 'icons/icon-maskable-512.png', type: 'image/png' },
};

/**
 * Old addresses of pages that moved: the worker's page lives under /dashboard/, where its service worker's scope
 * reaches, so the app opened from a bookmark of /worker works offline too.
 */
const moved: Readonly<Record<string, string>> = { '/worker': '/dashboard/worker.html' };

/**
 * The libraries the pages import, from the hub's own node_modules (the versions package-lock.json pins), as ES
 * modules: the map (Leaflet), the coordinate conversion (gcoord) and the patrol points' printed QR codes
 * (qrcode-generator). `sibling`: a file next to the module's entry, for a package whose `exports` hide it (the ES
 * module of qrcode-generator is exported for `import` only, which require.resolve does not take).
 */
const vendorFiles: Readonly<Record<string, { module: string; type: string; sibling?: string }>> = {
  '/dashboard/vendor/leaflet.js': {
    module: 'leaflet/dist/leaflet-src.esm.js',
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/vendor/leaflet.css': { module: 'leaflet/dist/leaflet.css', type: 'text/css; charset=utf-8' },
  '/dashboard/vendor/gcoord.js': {
    module: 'gcoord/dist/gcoord.esm-browser.prod.js',
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/vendor/qrcode.js': {
    module: 'qrcode-generator',
    sibling: 'qrcode.mjs',
    type: 'text/javascript; charset=utf-8',
  },
};
const resolveModule = createRequire(import.meta.url).resolve;

/**
 * The duty officer console (/officer) and the grid worker's phone view (/worker), plain ES modules and CSS with no
 * outside asset: the Socket.IO client comes from the hub itself at /socket.io/socket.io.js. The pages are public;
 * everything they show comes from the API with the user's token.
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (app, options) => {
  const directory = path.dirname(options.dashboardIndex);
  for (const [url, { file, type }] of Object.entries(files)) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type(type)
        .header('cache-control', 'no-cache')
        .send(await readFile(path.join(directory, file))),
    );
  }
  for (const [url, to] of Object.entries(moved)) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => reply.redirect(to, 302));
  }
  for (const [url, { module, type, sibling }] of Object.entries(vendorFiles)) {
    const entry = resolveModule(module);
    const file = sibling === undefined ? entry : path.join(path.dirname(entry), sibling);
    // Versioned by the lock file and large: a day in the browser's cache.
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type(type)
        .header('cache-control', 'public, max-age=86400')
        .send(await readFile(file, 'utf8')),
    );
  }
};
