// The grid worker's phone view: my open tasks with grid, device, time and evidence; accept, arrive, resolve with a
// note. A new task arrives live with a sound and a vibration; after a network drop the page reloads the server's
// state and marks what arrived meanwhile. Every action shows the server's answer, refusals included.
import {
  api,
  beep,
  connect,
  el,
  loginForm,
  logout,
  mediaUrl,
  openStates,
  session,
  stateLabels,
  time,
} from './common.js';

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
  if (session() === null) await loginForm(root, 'e.g. worker-xijiao-01');
  state.me = session().me;
  ui.status = el('span', { class: 'status', id: 'status' }, 'connecting…');
  ui.banner = el('p', { class: 'banner', id: 'banner', role: 'status', hidden: true });
  ui.error = el('p', { class: 'error', id: 'error', role: 'alert' });
  ui.list = el('ol', { class: 'tasks', id: 'tasks', 'aria-label': 'my tasks' });
  root.replaceChildren(
    el(
      'header',
      { class: 'bar' },
      el('h1', {}, '我的任务 My tasks'),
      ui.status,
      el('button', { type: 'button', onclick: logout, class: 'small' }, 'Log out'),
    ),
    el('p', { class: 'who' }, `${state.me.name} · ${state.me.scopeNodeIds.join(', ')}`),
    ui.banner,
    ui.error,
    ui.list,
  );
  connect({
    onStatus: (text) => {
      ui.status.textContent = text;
      ui.status.dataset.live = String(text === 'live');
    },
    onSync: () => sync().catch((error) => (ui.error.textContent = error.message)),
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
  if (meanwhile.length > 0) {
    alertNew(meanwhile);
    ui.banner.hidden = false;
    ui.banner.textContent = `${meanwhile.length} new task(s) arrived while you were offline 离线期间新任务`;
  }
  render();
}

function render() {
  const tasks = [...state.tasks.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  if (tasks.length === 0) {
    ui.list.replaceChildren(el('li', { class: 'empty' }, 'No open task 暂无任务'));
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
    'aria-label': 'note',
    placeholder: 'note 处置说明',
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
      message.textContent = `${action} refused: ${error.message}`;
    }
  };
  const evidence = el('div', { class: 'evidence' });
  for (const item of incident.evidence ?? []) {
    if (item.kind !== 'snapshot') continue;
    const image = el('img', { alt: `snapshot ${item.cameraId}` });
    evidence.append(image);
    mediaUrl(item.url)
      .then((url) => {
        image.src = url;
      })
      .catch(() => image.remove());
  }
  const button = (label, action, enabled) =>
    el('button', { type: 'button', dataset: { action }, disabled: !enabled, onclick: act(action) }, label);
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
    el('strong', {}, incident.title),
    el('span', { class: 'badge state' }, stateLabels[incident.state] ?? incident.state),
    el(
      'div',
      { class: 'meta' },
      `${incident.chain[0].name} · ${incident.device.name} · ${time(incident.createdAt)}`,
    ),
    incident.dueAt
      ? el('div', { class: 'meta due' }, `${incident.dueStage} by ${time(incident.dueAt)}`)
      : null,
    evidence,
    note,
    el(
      'div',
      { class: 'actions' },
      button('Accept 接单', 'accept', ['dispatched', 'escalated'].includes(incident.state)),
      button('Arrive 到场', 'arrive', incident.state === 'accepted'),
      button('Resolve 办结', 'resolve', ['accepted', 'on_site'].includes(incident.state)),
    ),
    message,
  );
}

start().catch((error) => {
  root.textContent = error.message;
});
