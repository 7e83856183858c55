// The grid worker's phone view: my open tasks with grid, device, time and evidence; accept, arrive, resolve with a
// note. A new task arrives live with a sound and a vibration; after a network drop the page reloads the server's
// state and marks what arrived meanwhile. Every action shows the server's answer, refusals included.
import {
  api,
  beep,
  connect,
  deviceLogin,
  el,
  loadSettings,
  loginForm,
  logout,
  mediaUrl,
  openStates,
  rememberedDevice,
  session,
  showStatus,
} from './common.js';
import {
  actionLabel,
  duration,
  errorLabel,
  incidentTitle,
  languageSwitch,
  severityLabel,
  stageLabel,
  stateLabel,
  t,
  time,
} from './i18n.js';
import { forgetUser, loadTasks, saveTasks } from './offline-store.js';
import { Outbox } from './outbox.js';
import { pushButton, withdrawPush } from './push.js';

// An installable app (docs/worker-app.md): the service worker keeps the page's shell for offline use.
navigator.serviceWorker?.register('/dashboard/sw.js', { scope: '/dashboard/' }).catch(() => undefined);
// A tapped notification brings this page to the front: its cases are marked as new.
navigator.serviceWorker?.addEventListener('message', (event) => {
  if (event.data?.type !== 'notification') return;
  for (const id of event.data.incidentIds ?? []) fresh.add(id);
  if (ui.list) render();
});

const root = document.getElementById('app');
const state = { me: null, tasks: new Map(), synced: false, online: true, savedAt: null };
/** The actions waiting for the network, and what their replays answered (outbox.js). */
let outbox;
const ui = {};
// The tasks this page has shown, so a reconnection can tell which ones arrived while it was offline.
const seen = new Set(JSON.parse(sessionStorage.getItem('gridhub.seen') ?? '[]'));
const fresh = new Set();

function remember(id) {
  seen.add(id);
  sessionStorage.setItem('gridhub.seen', JSON.stringify([...seen]));
}

function mine(incident) {
  const { userId, scopeNodeIds } = state.me;
  return (
    openStates.includes(incident.state) &&
    incident.chain.some((node) => scopeNodeIds.includes(node.id)) &&
    (incident.assignees.includes(userId) || incident.handler === userId)
  );
}

async function start() {
  // A closed tab or an ended session logs in again with the remembered phone, silently; offline, the phone's last
  // user and tasks are shown until the network is back.
  let unreachable = false;
  const remembered = rememberedDevice();
  if (session() === null) await deviceLogin().catch(() => (unreachable = true));
  // The hub refused the phone (revoked: lost or stolen): it keeps nothing of its last user.
  if (remembered !== null && rememberedDevice() === null)
    await forgetUser(remembered.me.userId).catch(() => undefined);
  if (session() === null && !unreachable)
    await loginForm(root, t('login.example.worker'), { offerRemember: true });
  state.me = session()?.me ?? rememberedDevice()?.me;
  if (!state.me) {
    root.textContent = t('offline.nothing');
    window.addEventListener('online', () => location.reload());
    return;
  }
  await loadSettings();
  ui.status = el(
    'span',
    { class: 'status', id: 'status', dataset: { status: 'connecting' } },
    t('status.connecting'),
  );
  ui.banner = el('p', { class: 'banner', id: 'banner', role: 'status', hidden: true });
  ui.offline = el('p', { class: 'banner offline', id: 'offline-banner', role: 'status', hidden: true });
  ui.error = el('p', { class: 'error', id: 'error', role: 'alert' });
  ui.list = el('ol', { class: 'tasks', id: 'tasks', 'aria-label': t('worker.label') });
  ui.who = el('p', { class: 'who', id: 'who' }, state.me.name);
  root.replaceChildren(
    el(
      'header',
      { class: 'bar' },
      el('h1', {}, t('app.worker')),
      ui.status,
      languageSwitch(el),
      pushButton(),
      el('button', { type: 'button', id: 'logout', onclick: leave, class: 'small' }, t('logout')),
    ),
    ui.who,
    ui.offline,
    ui.banner,
    ui.error,
    ui.list,
  );
  outbox = new Outbox({ userId: state.me.userId, onChange: render, onAnswer: (after) => arrived(after) });
  await outbox.load();
  const kept = await loadTasks(state.me.userId).catch(() => undefined);
  if (kept !== undefined && !state.synced) {
    state.tasks = new Map(kept.tasks.map((incident) => [incident.id, incident]));
    state.savedAt = kept.savedAt;
  }
  // Offline from the start (the 'offline' event and the socket's failures say so later).
  showOffline(!navigator.onLine || session() === null);
  render();
  window.addEventListener('online', () => outbox.replay());
  if (session() === null) {
    // Offline with no session: the remembered phone logs in once the network is back.
    window.addEventListener('online', () => location.reload());
    return;
  }
  connect({
    onStatus: (code, reason) => {
      showStatus(ui.status, code, reason);
      if (code === 'live') showOffline(false);
      else if (['reconnecting', 'offline', 'offlineBecause'].includes(code)) showOffline(true);
    },
    onSync: () => sync().catch((error) => (ui.error.textContent = errorLabel(error))),
    onNew: (incident, replayed) => arrived(incident, replayed),
    onUpdate: ({ after }, replayed) => arrived(after, replayed),
    onRepeat: (repeat) => {
      const task = state.tasks.get(repeat.id);
      if (task === undefined) return;
      state.tasks.set(repeat.id, { ...task, ...repeat });
      render();
    },
  });
}

/**
 * A pushed incident: a task of mine to show (with an alert if it is new to me, unless the push is applied again after
 * a reload: it alerted the first time), or one to drop.
 */
function arrived(incident, replayed = false) {
  if (!mine(incident)) {
    state.tasks.delete(incident.id);
    keepTasks();
    render();
    return;
  }
  const isNew = !state.tasks.has(incident.id);
  state.tasks.set(incident.id, incident);
  if (isNew && !replayed) alertNew([incident]);
  keepTasks();
  render();
}

/** The open tasks as the hub last said, kept on the phone for when it cannot reach the hub. */
function keepTasks() {
  state.savedAt = new Date().toISOString();
  saveTasks(state.me.userId, [...state.tasks.values()]).catch(() => undefined);
}

/** 离线 · 截至 HH:mm: the tasks shown are those of then. */
function showOffline(offline) {
  ui.offline.hidden = !offline;
  ui.offline.textContent = state.savedAt
    ? t('offline.since', { time: time(state.savedAt).slice(11, 16) })
    : t('offline.nothing');
}

/** 退出: the phone keeps nothing of the user (tasks, unsent actions, push subscription, remembered login). */
async function leave() {
  await withdrawPush().catch(() => undefined);
  await forgetUser(state.me.userId).catch(() => undefined);
  await logout();
}

function alertNew(incidents) {
  for (const incident of incidents) {
    fresh.add(incident.id);
    remember(incident.id);
  }
  beep(880, 0.25, 2);
  navigator.vibrate?.([200, 100, 200]);
}

/** The server's state, on every (re)connection: what arrived while the page was offline is marked as such. */
async function sync() {
  const { incidents } = await api.get(`/api/incidents?limit=200&state=${openStates.join(',')}`);
  const tasks = incidents.filter(mine);
  const meanwhile = state.synced ? tasks.filter((incident) => !seen.has(incident.id)) : [];
  state.tasks = new Map(tasks.map((incident) => [incident.id, incident]));
  if (!state.synced) for (const incident of tasks) remember(incident.id);
  state.synced = true;
  keepTasks();
  // The worker's grids by name: each task's chain names them.
  const places = new Map(tasks.flatMap((incident) => incident.chain.map((node) => [node.id, node.name])));
  const grids = state.me.scopeNodeIds.map((id) => places.get(id)).filter(Boolean);
  ui.who.textContent = grids.length > 0 ? `${state.me.name} · ${grids.join('、')}` : state.me.name;
  if (meanwhile.length > 0) {
    alertNew(meanwhile);
    ui.banner.hidden = false;
    ui.banner.textContent = t('worker.offlineArrivals', { count: meanwhile.length });
    ui.banner.dataset.count = String(meanwhile.length);
  }
  render();
  // Back online (or just started): what was taken offline goes now, in order.
  outbox.replay();
}

function render() {
  // The nearest deadline first (none last), then the newest.
  const due = (incident) => (incident.dueAt ? Date.parse(incident.dueAt) : Number.POSITIVE_INFINITY);
  const tasks = [...state.tasks.values()].sort(
    (a, b) => due(a) - due(b) || (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0),
  );
  // Cases whose queued actions or replays have something to say, though they left the list (cancelled, taken over).
  const settled = [...(outbox?.shownCases() ?? new Map()).values()].filter(
    (incident) => !state.tasks.has(incident.id) && outbox.has(incident.id),
  );
  if (tasks.length === 0 && settled.length === 0) {
    ui.list.replaceChildren(el('li', { class: 'empty' }, t('worker.none')));
    return;
  }
  const drafts = new Map(
    [...ui.list.querySelectorAll('textarea')].map((area) => [area.dataset.id, area.value]),
  );
  ui.list.replaceChildren(
    ...tasks.map((incident) => card(incident, drafts.get(incident.id) ?? '')),
    ...settled.map(settledCard),
  );
}

/** A case no longer among the tasks, kept on screen for what its queued actions came to, until dismissed. */
function settledCard(incident) {
  return el(
    'li',
    { class: 'settled', dataset: { id: incident.id, state: incident.state, settled: 'true' } },
    el('strong', {}, incidentTitle(incident)),
    el('span', { class: 'badge state' }, stateLabel(incident.state)),
    outbox.view(incident.id),
    el(
      'div',
      { class: 'actions' },
      el(
        'button',
        { type: 'button', class: 'small', onclick: () => outbox.dismiss(incident.id) },
        t('outbox.dismiss'),
      ),
    ),
  );
}

function card(incident, draft) {
  const message = el('p', { class: 'error', role: 'alert' });
  const note = el('textarea', {
    'aria-label': t('note'),
    placeholder: t('note.worker'),
    rows: 2,
    dataset: { id: incident.id },
  });
  note.value = draft;
  const act = (action) => async () => {
    message.textContent = '';
    try {
      const body = note.value.trim() ? { note: note.value.trim() } : {};
      // Through the offline queue: sent now when it can be, else kept and shown as 待发送 (outbox.js).
      const done = await outbox.take(incident, action, body);
      if (action === 'resolve') note.value = '';
      fresh.delete(incident.id);
      if (done.incident) arrived(done.incident);
      else render();
    } catch (error) {
      message.textContent = t('refused', { action: actionLabel(action), message: errorLabel(error) });
    }
  };
  const evidence = el('div', { class: 'evidence' });
  for (const item of incident.evidence ?? []) {
    if (item.kind !== 'snapshot') continue;
    const image = el('img', { alt: t('snapshot', { camera: item.cameraId }) });
    evidence.append(image);
    mediaUrl(item.url)
      .then((url) => {
        image.src = url;
      })
      .catch(() => image.remove());
  }
  // Its buttons as the actions waiting on it would leave it (accept offline, then arrive offline).
  const shown = outbox.expectedState(incident);
  const button = (action, enabled) =>
    el(
      'button',
      { type: 'button', dataset: { action }, disabled: !enabled, onclick: act(action) },
      actionLabel(action),
    );
  return el(
    'li',
    {
      dataset: {
        id: incident.id,
        state: incident.state,
        severity: incident.severity,
        device: incident.device.id,
        pending: String(outbox.pendingFor(incident.id).length),
      },
      class: fresh.has(incident.id) ? 'fresh' : '',
    },
    el('strong', {}, incidentTitle(incident)),
    el('span', { class: 'badge state' }, stateLabel(incident.state)),
    el(
      'div',
      { class: 'meta' },
      `${severityLabel(incident.severity)} · ${incident.chain[0].name} · ${incident.device.name} · ${time(incident.createdAt)}`,
    ),
    incident.dueAt
      ? el('div', { class: 'meta due', dataset: { dueAt: incident.dueAt } }, dueText(incident))
      : null,
    evidence,
    note,
    el(
      'div',
      { class: 'actions' },
      button('accept', ['dispatched', 'escalated'].includes(shown)),
      button('arrive', shown === 'accepted'),
      button('resolve', ['accepted', 'on_site'].includes(shown)),
    ),
    outbox.view(incident.id),
    message,
  );
}

/** A task's deadline: what is left of its stage, or how late it is, and when. */
function dueText(incident) {
  const left = Date.parse(incident.dueAt) - Date.now();
  const stage = stageLabel(incident.dueStage);
  const words =
    left > 0
      ? t('due.left', { stage, time: duration(left) })
      : t('due.over', { stage, time: duration(-left) });
  return `${words} (${time(incident.dueAt)})`;
}

// The deadlines count down each second without redrawing the cards (a note being typed stays as it is).
setInterval(() => {
  for (const element of ui.list?.querySelectorAll('[data-due-at]') ?? []) {
    const task = state.tasks.get(element.closest('li')?.dataset.id);
    if (task?.dueAt) element.textContent = dueText(task);
  }
}, 1000);

start().catch((error) => {
  root.textContent = error.message;
});
