// The worker's app's service worker (scope /dashboard/): the app shell from a versioned cache, so the page opens
// with no network; Web Push notifications of new tasks, and a tap on one opening the page. Nothing that needs a
// token passes through a cache here: the API, the media and the live socket go to the network untouched, and the
// task list kept for offline use lives in the page's own IndexedDB, per user, cleared at logout.

// Bump when the list below changes shape; the files' contents are refreshed in the background on every use.
const version = 'v3';
const shellCache = `gridhub-shell-${version}`;
const shell = [
  '/dashboard/worker.html',
  '/dashboard/worker.js',
  '/dashboard/common.js',
  '/dashboard/i18n.js',
  '/dashboard/outbox.js',
  '/dashboard/people-cases.js',
  '/dashboard/offline-store.js',
  '/dashboard/push.js',
  '/dashboard/style.css',
  '/dashboard/map.js',
  '/dashboard/navigation.js',
  '/dashboard/position-sharing.js',
  '/dashboard/patrol.js',
  '/dashboard/score.js',
  '/dashboard/tabs.js',
  '/dashboard/vendor/leaflet.js',
  '/dashboard/vendor/leaflet.css',
  '/dashboard/vendor/gcoord.js',
  '/dashboard/favicon.svg',
  '/dashboard/manifest.webmanifest',
  '/dashboard/icons/icon-192.png',
  '/socket.io/socket.io.js',
];
const shellPaths = new Set(shell);

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(shellCache)
      .then((cache) => cache.addAll(shell.map((url) => new Request(url, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith('gridhub-shell-') && name !== shellCache)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

/** The shell from the cache at once, refreshed from the network behind it; from the network when not cached yet. */
async function shellResponse(request, path, event) {
  const cache = await caches.open(shellCache);
  const cached = await cache.match(path);
  const refreshing = fetch(request.mode === 'navigate' ? path : request)
    .then(async (response) => {
      if (response.ok && response.type === 'basic') await cache.put(path, response.clone());
      return response;
    })
    .catch(() => undefined);
  if (cached !== undefined) {
    event.waitUntil(refreshing);
    return cached;
  }
  return (await refreshing) ?? Response.error();
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !shellPaths.has(url.pathname)) return;
  // Only the shell's own files, never a request carrying a token (the pages send those to /api and /media only).
  if (request.headers.has('authorization')) return;
  event.respondWith(shellResponse(request, url.pathname, event));
});

/** A new task pushed by the hub: `{title, body, url, tag, severity, incidentIds}`. */
self.addEventListener('push', (event) => {
  let message = {};
  try {
    message = event.data?.json() ?? {};
  } catch {
    message = { body: event.data?.text() ?? '' };
  }
  const critical = message.severity === 'critical';
  event.waitUntil(
    self.registration.showNotification(message.title || 'gridhub', {
      body: message.body ?? '',
      tag: message.tag,
      renotify: message.tag !== undefined,
      icon: '/dashboard/icons/icon-192.png',
      badge: '/dashboard/icons/icon-192.png',
      // A critical case stays on the screen until the worker acts on it.
      requireInteraction: critical,
      vibrate: critical ? [300, 100, 300, 100, 300] : [200, 100, 200],
      data: { url: message.url || '/dashboard/worker.html', incidentIds: message.incidentIds ?? [] },
    }),
  );
});

/** A tap on a notification: the open page to the front (told which cases), else the page opened at its url. */
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const { url, incidentIds } = event.notification.data ?? {};
  const target = new URL(url || '/dashboard/worker.html', self.location.origin);
  event.waitUntil(
    (async () => {
      const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const page = open.find((client) => new URL(client.url).pathname === target.pathname) ?? open[0];
      if (page !== undefined) {
        page.postMessage({ type: 'notification', incidentIds });
        return page.focus();
      }
      return self.clients.openWindow(target.href);
    })(),
  );
});
