// The grid worker's phone view: my open tasks with grid, device, time and evidence; accept, arrive, resolve with a
// note. A new task arrives live with a sound and a vibration; after a network drop the page reloads the server's
// state and marks what arrived meanwhile. Every action shows the server's answer, refusals included.
import {
  api,
  beep,
  connect,
  el,
  loadSettings,
  loginForm,
  logout,
  mediaUrl,
  openStates,
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
import { positionSharing } from './position-sharing.js';

const root = document.getElementById('app');
const state = { me: null, tasks: new Map(), synced: false, online: true };
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
  if (session() === null) await loginForm(root, t('login.example.worker'));
  state.me = session().me;
  await loadSettings();
  ui.status = el(
    'span',
    { class: 'status', id: 'status', dataset: { status: 'connecting' } },
    t('status.connecting'),
  );
  ui.banner = el('p', { class: 'banner', id: 'banner', role: 'status', hidden: true });
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
      el('button', { type: 'button', id: 'logout', onclick: logout, class: 'small' }, t('logout')),
    ),
    ui.who,
    ui.banner,
    ui.error,
    ui.list,
  );
  positionSharing(root);
  connect({
    onStatus: (code, reason) => showStatus(ui.status, code, reason),
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
    render();
    return;
  }
  const isNew = !state.tasks.has(incident.id);
  state.tasks.set(incident.id, incident);
  if (isNew && !replayed) alertNew([incident]);
  render();
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
}

function render() {
  // The nearest deadline first (none last), then the newest.
  const due = (incident) => (incident.dueAt ? Date.parse(incident.dueAt) : Number.POSITIVE_INFINITY);
  const tasks = [...state.tasks.values()].sort(
    (a, b) => due(a) - due(b) || (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0),
  );
  if (tasks.length === 0) {
    ui.list.replaceChildren(el('li', { class: 'empty' }, t('worker.none')));
    return;
  }
  const drafts = new Map(
    [...ui.list.querySelectorAll('textarea')].map((area) => [area.dataset.id, area.value]),
  );
  ui.list.replaceChildren(...tasks.map((incident) => card(incident, drafts.get(incident.id) ?? '')));
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
      const after = await api.act(incident.id, action, body);
      if (action === 'resolve') note.value = '';
      fresh.delete(incident.id);
      arrived(after);
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
      button('accept', ['dispatched', 'escalated'].includes(incident.state)),
      button('arrive', incident.state === 'accepted'),
      button('resolve', ['accepted', 'on_site'].includes(incident.state)),
    ),
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
