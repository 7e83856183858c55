// Shared by the officer console and the worker view: the session, the REST calls, the live socket, sounds.
// Plain ES module for the browser; no bundler, no outside asset. `io` comes from /socket.io/socket.io.js.
import { errorLabel, setTimeZone, t } from './i18n.js';

export { time } from './i18n.js';

const sessionKey = 'gridhub.session';

/**
 * The login session: its short-lived JWT (refreshed before it expires, never past the session's end), when both
 * end, and who the user is. Kept in sessionStorage (gone when the tab closes).
 */
export function session() {
  const raw = sessionStorage.getItem(sessionKey);
  return raw === null ? null : JSON.parse(raw);
}

function keep(value) {
  sessionStorage.setItem(sessionKey, JSON.stringify(value));
  scheduleRefresh();
  return value;
}

/** The session is over (logged out, ended on the server, or past its end): back to the login form. */
function ended() {
  sessionStorage.removeItem(sessionKey);
  location.reload();
}

/** Ends the session on the server too (its JWTs are refused from then on), then shows the login form. */
export async function logout() {
  await forgetDevice();
  await request('POST', '/api/auth/logout', {}, session()?.token).catch(() => undefined);
  ended();
}

/** Logs in with a username and password: a new session. */
export async function login(username, password) {
  const issued = await request('POST', '/api/auth/login', { username, password }, null);
  return keep({
    token: issued.token,
    expiresAt: issued.expiresAt,
    sessionExpiresAt: issued.sessionExpiresAt,
    me: issued.me,
  });
}

/** Logs in with an API token instead (e.g. demo-officer-xijiao): a new session for its user. */
export async function loginWithToken(apiToken) {
  const issued = await request('POST', '/api/auth/token', undefined, apiToken);
  const me = await request('GET', '/api/me', undefined, issued.token);
  return keep({
    token: issued.token,
    expiresAt: issued.expiresAt,
    sessionExpiresAt: issued.sessionExpiresAt,
    me,
  });
}

/** A fresh JWT of the same session; false when the session is over. */
export async function refresh() {
  const current = session();
  if (current === null) return false;
  try {
    const issued = await request('POST', '/api/auth/token', undefined, current.token);
    keep({ ...current, token: issued.token, expiresAt: issued.expiresAt });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    throw error;
  }
}

let refreshTimer;
/** Refreshes the JWT a minute before it expires (or at three quarters of its life, when shorter). */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const current = session();
  if (current === null) return;
  const left = Date.parse(current.expiresAt) - Date.now();
  if (Date.parse(current.sessionExpiresAt) <= Date.parse(current.expiresAt)) {
    // This JWT lasts as long as its session: nothing to refresh; the session ends then.
    refreshTimer = setTimeout(ended, Math.max(0, left));
    return;
  }
  refreshTimer = setTimeout(
    () => {
      refresh().then(
        (ok) => ok || ended(),
        // Unreachable (offline): try again in a while, not in a tight loop once the JWT's time is past.
        () => setTimeout(scheduleRefresh, 10_000),
      );
    },
    Math.max(0, Math.min(left - 60_000, left * 0.75)),
  );
}
scheduleRefresh();

/** An error the server answered, with its code and own message: what the pages show when an action is refused. */
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A REST call; `token` null for none, the session's JWT unless given. */
async function request(method, url, body, token = session()?.token, extraHeaders = {}) {
  const headers =
    token === null ? { ...extraHeaders } : { ...extraHeaders, authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok)
    throw new ApiError(
      response.status,
      answer?.error?.message ?? `HTTP ${response.status}`,
      answer?.error?.code,
    );
  return answer;
}

export const api = {
  get: (url) => request('GET', url),
  post: (url, body) => request('POST', url, body ?? {}),
  put: (url, body) => request('PUT', url, body ?? {}),
  del: (url, body) => request('DELETE', url, body),
  /**
   * A lifecycle action; the answer is the incident as the server now has it. With `idempotencyKey` (a UUID), sending
   * it again answers the first answer without acting twice (the offline queue's replays, outbox.js).
   */
  act: (id, action, body, idempotencyKey) =>
    request(
      'POST',
      `/api/incidents/${encodeURIComponent(id)}/actions/${action}`,
      body ?? {},
      undefined,
      idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    ),
};

/** An authenticated file (a CSV) saved by the browser: the bearer token cannot ride on a plain link. */
export async function downloadFile(url, filename) {
  const blobUrl = await mediaUrl(url);
  const link = el('a', { href: blobUrl, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(blobUrl), 10_000);
}

/** Media need the bearer token, which <img> and <video> cannot send: fetch it and hand them a blob: URL. */
export async function mediaUrl(url) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${session()?.token}` } });
  if (!response.ok) throw new ApiError(response.status, `media ${response.status}`);
  return URL.createObjectURL(await response.blob());
}

/**
 * Shows the connection's state in words, and as `data-status` for scripts and styles: connecting, syncing, live or
 * offline (reconnecting, or with the reason the connection failed).
 */
export function showStatus(element, code, reason = '') {
  element.textContent = t(`status.${code}`, { reason });
  element.dataset.status = ['reconnecting', 'offlineBecause'].includes(code) ? 'offline' : code;
  element.dataset.live = String(code === 'live');
}

/** The deployment's settings for the pages (its time zone); the defaults stand when the hub cannot say. */
export async function loadSettings() {
  const settings = await request('GET', '/api/console').catch(() => undefined);
  if (settings?.timeZone) setTimeZone(settings.timeZone);
  return settings ?? {};
}

/**
 * The live connection. `onSync` (which may return a promise) runs on every (re)connection, so the page reloads the
 * server's state after a network drop instead of trusting what it had. Returns the socket and `reload(load)`, for
 * the page's other reloads from the server (a filter change).
 */
export function connect({
  onSync,
  onNew,
  onUpdate,
  onRepeat,
  onDevice,
  onStatus,
  onWorkerPosition,
  onWorkerStopped,
}) {
  // A function: each (re)connection presents the JWT as it is then, refreshed meanwhile.
  const socket = window.io({ auth: (send) => send({ token: session()?.token }) });
  /** Every reload running now, each with the pushes that came since it started. */
  const reloads = new Set();
  const live = (handler) => (payload) => {
    handler?.(payload);
    for (const pushes of reloads) pushes.push([handler, payload]);
  };
  /**
   * Runs `load`, which replaces what the page holds with lists from the server, then applies again, in order, the
   * pushes that came meanwhile: the lists may have been read before them (the hub pushes a device's alarm as soon as
   * it is decided, before the store has it). Each push was applied when it came too (an alarm sounds then); the
   * socket delivers in order, so the last one applied is the newest. The second time, handlers are told so
   * (`replayed`): what they sound or show as new, they did the first time.
   */
  const reload = async (load) => {
    const pushes = [];
    reloads.add(pushes);
    try {
      await load();
    } finally {
      reloads.delete(pushes);
      for (const [handler, payload] of pushes) handler?.(payload, true);
    }
  };
  let syncing = 0;
  // "live" only once the page holds the server's state again, so nobody reads a half-loaded page as current.
  socket.on('connect', async () => {
    onStatus('syncing');
    syncing += 1;
    try {
      await reload(onSync);
    } finally {
      syncing -= 1;
    }
    if (socket.connected && syncing === 0) onStatus('live');
  });
  /** Refused or closed by the server: the JWT may only need refreshing; else the session is over. */
  const reauthenticate = () =>
    refresh().then(
      (ok) => (ok ? socket.connect() : ended()),
      () => setTimeout(reauthenticate, 5_000),
    );
  socket.on('disconnect', (reason) => {
    onStatus('reconnecting');
    // The server closed it (the session ended, or reached its end): it does not come back by itself.
    if (reason === 'io server disconnect') reauthenticate();
  });
  socket.on('connect_error', (error) => {
    onStatus('offlineBecause', error.message);
    if (!socket.active) reauthenticate();
  });
  socket.on('incident:new', live(onNew));
  socket.on('incident:update', live(onUpdate));
  // A repeat carries only what changed ({id, occurrences, lastOccurredAt, updatedAt}): merge it into the incident held.
  socket.on('incident:repeat', live(onRepeat));
  socket.on('device:status', live(onDevice));
  // On-duty workers' positions (officers over their grids): a new position, or its end (sharing off, off shift).
  socket.on('worker:position', live(onWorkerPosition));
  socket.on('worker:position-stopped', live(onWorkerStopped));
  // The browser knows before the socket's ping does: drop the link when it goes offline, and reconnect (which
  // reloads the server's state through onSync) as soon as it is back.
  window.addEventListener('offline', () => {
    socket.disconnect();
    onStatus('offline');
  });
  window.addEventListener('online', () => socket.connect());
  return { socket, reload };
}

let audio;
/** A short tone from an oscillator (no audio file). Browsers allow it only after the user interacted with the page. */
export function beep(frequency = 880, seconds = 0.25, repeat = 2) {
  try {
    audio ??= new AudioContext();
    for (let i = 0; i < repeat; i++) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(audio.destination);
      const start = audio.currentTime + i * seconds * 1.5;
      oscillator.start(start);
      oscillator.stop(start + seconds);
    }
    document.body.dataset.lastSound = String(Date.now());
  } catch {
    // No audio here: the visual alert stands alone.
  }
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null));
  return node;
}

// 'suspended' (挂账, #25) is open: someone still owes it, its deadlines stopped.
export const openStates = ['new', 'dispatched', 'accepted', 'on_site', 'escalated', 'suspended'];

/** The login form shown when there is no session: a username and password, or an API token; resolves once in. */
export function loginForm(root, example, { offerRemember = false } = {}) {
  return new Promise((resolve) => {
    const message = el('p', { class: 'error', role: 'alert' });
    // The worker's phone: checked by default, the login lasts until the phone is revoked (remembered devices below).
    const remember = offerRemember ? el('input', { id: 'remember', type: 'checkbox', checked: true }) : null;
    const attempt = async (logIn) => {
      try {
        const opened = await logIn();
        if (remember?.checked) await rememberDevice().catch(() => undefined);
        resolve(opened);
      } catch (error) {
        message.textContent = errorLabel(error);
      }
    };
    const username = el('input', {
      id: 'username',
      placeholder: example,
      autocomplete: 'username',
      autocapitalize: 'none',
      required: true,
    });
    const password = el('input', {
      id: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    });
    const token = el('input', { id: 'token', autocomplete: 'off' });
    const form = el(
      'form',
      {
        class: 'login',
        onsubmit: (event) => {
          event.preventDefault();
          attempt(() => login(username.value.trim(), password.value));
        },
      },
      el('h1', {}, 'gridhub'),
      el('label', { for: 'username' }, t('login.username')),
      username,
      el('label', { for: 'password' }, t('login.password')),
      password,
      remember ? el('label', { class: 'remember' }, remember, t('login.remember')) : null,
      el('button', { type: 'submit' }, t('login.submit')),
      message,
      el(
        'details',
        {},
        el('summary', {}, t('login.tokenInstead')),
        el('label', { for: 'token' }, t('login.token')),
        token,
        el(
          'button',
          { type: 'button', onclick: () => attempt(() => loginWithToken(token.value.trim())) },
          t('login.useToken'),
        ),
      ),
    );
    root.replaceChildren(form);
  });
}

// --- Remembered phones (the worker's app): the login lasts until the phone is revoked. ---------------------------
// The phone's credential (its device id and current secret, and who it is for) is kept in localStorage, so it
// outlives the tab; the session's JWT stays in sessionStorage. Each login with it rotates the secret: the hub takes
// a rotated secret presented again for a copy and revokes the phone, so two tabs must never log in with one secret
// at once (a Web Lock serialises them, each reading the secret afresh inside it).
const deviceKey = 'gridhub.device';

/** `{deviceId, secret, me}` of this phone, or null. */
export function rememberedDevice() {
  const raw = localStorage.getItem(deviceKey);
  return raw === null ? null : JSON.parse(raw);
}

/** Remembers this phone for the session's user (POST /api/auth/devices). */
export async function rememberDevice() {
  const current = session();
  if (current === null) return null;
  const credential = await request('POST', '/api/auth/devices', {});
  localStorage.setItem(deviceKey, JSON.stringify({ ...credential, me: current.me }));
  return credential;
}

const withDeviceLock = (work) =>
  navigator.locks?.request ? navigator.locks.request(deviceKey, work) : work();

/**
 * Logs in silently with the remembered phone: the session, or null when there is none or the hub refused it (the
 * phone was revoked: its credential is forgotten). Rejects when the hub cannot be reached (offline): the
 * credential stays for the next try.
 */
export function deviceLogin() {
  return withDeviceLock(async () => {
    const credential = rememberedDevice();
    if (credential === null) return null;
    if (session() !== null) return session();
    try {
      const issued = await request(
        'POST',
        '/api/auth/device-login',
        { deviceId: credential.deviceId, secret: credential.secret },
        null,
      );
      localStorage.setItem(deviceKey, JSON.stringify({ ...issued.device, me: issued.me }));
      return keep({
        token: issued.token,
        expiresAt: issued.expiresAt,
        sessionExpiresAt: issued.sessionExpiresAt,
        me: issued.me,
      });
    } catch (error) {
      if (error instanceof ApiError && error.status < 500 && error.status !== 429) {
        localStorage.removeItem(deviceKey);
        return null;
      }
      throw error;
    }
  });
}

/** Logging out forgets the phone too, on the hub (DELETE /api/me/devices/:id) and here. */
async function forgetDevice() {
  const credential = rememberedDevice();
  if (credential === null) return;
  localStorage.removeItem(deviceKey);
  await request('DELETE', `/api/me/devices/${encodeURIComponent(credential.deviceId)}`).catch(
    () => undefined,
  );
}

/** A refused token (401) seen by a page's own request: a fresh JWT if the session lasts, else the login again. */
export function reauthenticate() {
  return refresh().then((ok) => ok || ended());
}
