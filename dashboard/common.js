// Shared by the officer console and the worker view: the session, the REST calls, the live socket, sounds.
// Plain ES module for the browser; no bundler, no outside asset. `io` comes from /socket.io/socket.io.js.

const sessionKey = 'gridhub.session';

/** The session JWT issued for the user's API token, kept in sessionStorage (gone when the tab closes). */
export function session() {
  const raw = sessionStorage.getItem(sessionKey);
  return raw === null ? null : JSON.parse(raw);
}

export function logout() {
  sessionStorage.removeItem(sessionKey);
  location.reload();
}

/** Exchanges an API token (e.g. demo-officer-xijiao) for a session JWT and the user's identity. */
export async function login(apiToken) {
  const issued = await request('POST', '/api/auth/token', undefined, apiToken);
  const me = await request('GET', '/api/me', undefined, issued.token);
  const value = { token: issued.token, expiresAt: issued.expiresAt, me };
  sessionStorage.setItem(sessionKey, JSON.stringify(value));
  return value;
}

/** An error the server answered, with its own message: what the pages show when an action is refused. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, url, body, token = session()?.token) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, answer?.error?.message ?? `HTTP ${response.status}`);
  return answer;
}

export const api = {
  get: (url) => request('GET', url),
  post: (url, body) => request('POST', url, body ?? {}),
  /** A lifecycle action; the answer is the incident as the server now has it. */
  act: (id, action, body) =>
    request('POST', `/api/incidents/${encodeURIComponent(id)}/actions/${action}`, body ?? {}),
};

/** Media need the bearer token, which <img> and <video> cannot send: fetch it and hand them a blob: URL. */
export async function mediaUrl(url) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${session()?.token}` } });
  if (!response.ok) throw new ApiError(response.status, `media ${response.status}`);
  return URL.createObjectURL(await response.blob());
}

/**
 * The live connection. `onSync` (which may return a promise) runs on every (re)connection, so the page reloads the
 * server's state after a network drop instead of trusting what it had. Returns the socket and `reload(load)`, for
 * the page's other reloads from the server (a filter change).
 */
export function connect({ onSync, onNew, onUpdate, onRepeat, onDevice, onStatus }) {
  const socket = window.io({ auth: { token: session()?.token } });
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
    onStatus('syncing…');
    syncing += 1;
    try {
      await reload(onSync);
    } finally {
      syncing -= 1;
    }
    if (socket.connected && syncing === 0) onStatus('live');
  });
  socket.on('disconnect', () => onStatus('offline — reconnecting…'));
  socket.on('connect_error', (error) => onStatus(`offline — ${error.message}`));
  socket.on('incident:new', live(onNew));
  socket.on('incident:update', live(onUpdate));
  // A repeat carries only what changed ({id, occurrences, lastOccurredAt, updatedAt}): merge it into the incident held.
  socket.on('incident:repeat', live(onRepeat));
  socket.on('device:status', live(onDevice));
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

export function time(iso) {
  return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—';
}

export const stateLabels = {
  new: 'new 新',
  dispatched: 'dispatched 已派遣',
  accepted: 'accepted 已接单',
  on_site: 'on site 已到场',
  escalated: 'escalated 已上报',
  resolved: 'resolved 已处置',
  closed: 'closed 已结案',
  false_alarm: 'false alarm 误报',
  cancelled: 'cancelled 已撤销',
};

export const openStates = ['new', 'dispatched', 'accepted', 'on_site', 'escalated'];

/** The login form shown when there is no session; resolves once logged in. */
export function loginForm(root, placeholder) {
  return new Promise((resolve) => {
    const input = el('input', {
      id: 'token',
      'aria-label': 'API token',
      placeholder,
      autocomplete: 'off',
    });
    const message = el('p', { class: 'error', role: 'alert' });
    const form = el(
      'form',
      {
        class: 'login',
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            resolve(await login(input.value.trim()));
          } catch (error) {
            message.textContent = error.message;
          }
        },
      },
      el('h1', {}, 'gridhub'),
      el('label', { for: 'token' }, 'API token'),
      input,
      el('button', { type: 'submit' }, 'Log in 登录'),
      message,
    );
    root.replaceChildren(form);
  });
}
