// The grid worker's phone view: my open tasks, the most urgent first, each with its place (address, grid, a small
// map with the device's pin, links that open the phone's map app), time and evidence; accept, arrive (with the
// phone's position), resolve with a note; photos and short videos from the phone's camera, before or after the work;
// a case sent back shows the officer's note and its rework count. A new task arrives live with a sound and a
// vibration; after a network drop the page reloads the server's state and marks what arrived meanwhile. An
// installable app (manifest, service worker): the tasks stay readable offline and actions taken offline are queued
// and replayed (outbox.js); the login stays on the phone until revoked. Every action shows the server's answer,
// refusals included. Each part of a card is drawn by its own function. The page's parts sit behind a bottom tab bar
// (tabs.js): 任务 (with a badge counting the tasks that arrived while another tab was shown), 随手拍, 巡查 (the
// patrol and the position sharing that goes with it) and 得分.

import gcoord from '/dashboard/vendor/gcoord.js';
import {
  ApiError,
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
import { GridMap } from './map.js';
import { byUrgency, navigationLinks } from './navigation.js';
import { forgetUser, loadTasks, saveTasks } from './offline-store.js';
import { Outbox } from './outbox.js';
import { patrolPanel } from './patrol.js';
import { loadCatalogue, myGrids, procedureSection, reportButton } from './people-cases.js';
import { positionSharing } from './position-sharing.js';
import { pushButton, withdrawPush } from './push.js';
import { monthScore } from './score.js';
import { tabBar } from './tabs.js';

// An installable app (docs/worker-app.md): the service worker keeps the page's shell for offline use.
navigator.serviceWorker?.register('/dashboard/sw.js', { scope: '/dashboard/' }).catch(() => undefined);
// A tapped notification brings this page to the front: its cases are marked as new.
navigator.serviceWorker?.addEventListener('message', (event) => {
  if (event.data?.type !== 'notification') return;
  for (const id of event.data.incidentIds ?? []) fresh.add(id);
  ui.tabs?.show('tasks');
  if (ui.list) render();
});

const root = document.getElementById('app');
const state = {
  me: null,
  tasks: new Map(),
  synced: false,
  online: true,
  settings: {},
  grids: new Map(),
  savedAt: null,
};
/** The actions waiting for the network, and what their replays answered (outbox.js). */
let outbox;
const ui = {};
// The tasks this page has shown, so a reconnection can tell which ones arrived while it was offline.
const seen = new Set(JSON.parse(sessionStorage.getItem('gridhub.seen') ?? '[]'));
const fresh = new Set();
/** The tasks that arrived while another tab than 任务 was shown: the 任务 tab's badge counts them. */
const unseen = new Set();
/** Each task's small map, kept across redraws (a Leaflet map is costly to make and keeps its view). */
const maps = new Map();
/** Each task's last upload outcome, shown again after a redraw (the push of the upload's own change redraws). */
const uploadOutcomes = new Map();

/** The states a task of mine is shown in: open ones, and resolved ones awaiting verification (photos may be added). */
const taskStates = [...openStates, 'resolved'];
/** Photos above this many bytes or pixels a side are re-encoded on the phone before they are sent. */
const photoLimits = { bytes: 1_500_000, side: 2048, quality: 0.85 };

function remember(id) {
  seen.add(id);
  sessionStorage.setItem('gridhub.seen', JSON.stringify([...seen]));
}

/** A department user (#25) works only on the cases handed to them: no patrol, position, score, report or upload. */
const isDepartment = () => state.me.role === 'department';

/** My part of a case handed to me for coordination (协同), while it is not done. */
const myCoordination = (incident) =>
  incident.coordinators?.findLast((entry) => entry.userId === state.me.userId && !entry.doneAt);

function mine(incident) {
  const { userId, scopeNodeIds } = state.me;
  return (
    taskStates.includes(incident.state) &&
    incident.chain.some((node) => scopeNodeIds.includes(node.id)) &&
    (incident.assignees.includes(userId) ||
      incident.handler === userId ||
      myCoordination(incident) !== undefined)
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
  state.settings = await loadSettings();
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
  ui.panels = {
    tasks: el('section', { id: 'panel-tasks' }, ui.list),
    report: el('section', { id: 'panel-report' }),
    patrol: el('section', { id: 'panel-patrol' }),
    score: el('section', { id: 'panel-score' }),
  };
  // What a tab shows when its part could not be had: offline it needs the network; online this user has none.
  const empty = () => t(navigator.onLine && session() !== null ? 'tabs.empty' : 'tabs.offline');
  ui.tabs = tabBar({
    tabs: [
      { id: 'tasks', label: 'tabs.tasks', panel: ui.panels.tasks },
      { id: 'report', label: 'tabs.report', panel: ui.panels.report, empty },
      { id: 'patrol', label: 'tabs.patrol', panel: ui.panels.patrol, empty },
      { id: 'score', label: 'tabs.score', panel: ui.panels.score, empty },
    ],
    storageKey: 'gridhub.worker.tab',
    // A patrol point's QR code opens the page on the patrol it checks in to.
    initial: new URLSearchParams(location.search).has('patrolCode') ? 'patrol' : undefined,
    onShow: (id) => {
      if (id === 'tasks') {
        unseen.clear();
        // The maps of tasks that arrived while the panel was hidden are drawn now that they have a size.
        if (ui.list) render();
      }
      showBadge();
      if (id === 'report') ui.openReport?.();
      if (id === 'score') ui.score?.reload();
    },
  });
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
    ...Object.values(ui.panels),
    ui.tabs.bar,
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
  if (isDepartment()) {
    // A department's user coordinates the cases handed to them: their tasks, nothing else (no patrol, score or 随手拍).
    ui.tabs.show('tasks');
    ui.tabs.bar.hidden = true;
  } else {
    positionSharing(ui.panels.patrol);
    patrolPanel(ui.panels.patrol, state.me.userId);
    ui.score = monthScore(ui.panels.score);
    // Offline, the catalogue cannot be read: the 随手拍 button is simply not offered until the page is back online.
    addReportForm().catch(() => undefined);
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
 * 随手拍 (#25): the field-report form (people-cases.js) in its tab, opened when the tab is shown; its photos go up as
 * the cards' do. A report sent, the page goes to 任务, where the case is.
 */
async function addReportForm() {
  await loadCatalogue();
  const grids = await myGrids();
  const progress = el('progress', { max: 100, hidden: true });
  const status = el('span', { class: 'meta' });
  const { button, form } = reportButton({
    grids,
    upload: (incidentId, file) => sendFile(incidentId, file, 'before', progress, status),
    created: (incident) => {
      arrived(incident);
      ui.banner.hidden = false;
      ui.banner.textContent = t('cases.reported', { title: incidentTitle(incident) });
      ui.tabs.show('tasks');
    },
  });
  form.append(progress, status);
  // The button opens the form again once it was closed; while the form is open it has nothing to add.
  new MutationObserver(() => (button.hidden = !form.hidden)).observe(form, {
    attributes: true,
    attributeFilter: ['hidden'],
  });
  ui.panels.report.append(button, form);
  ui.openReport = () => {
    if (form.hidden) button.click();
  };
  if (ui.tabs.current() === 'report') ui.openReport();
  render();
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
  if (isNew && !replayed && incident.state !== 'resolved') alertNew([incident]);
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
    if (ui.tabs?.current() !== 'tasks') unseen.add(incident.id);
  }
  beep(880, 0.25, 2);
  navigator.vibrate?.([200, 100, 200]);
}

/** The server's state, on every (re)connection: what arrived while the page was offline is marked as such. */
async function sync() {
  const [{ incidents }, grids] = await Promise.all([
    api.get(`/api/incidents?limit=200&state=${taskStates.join(',')}`),
    state.grids.size > 0 ? null : api.get('/api/grids').catch(() => null),
  ]);
  if (grids !== null) state.grids = new Map(grids.features.map((feature) => [feature.id, feature]));
  const tasks = incidents.filter(mine);
  const meanwhile = state.synced
    ? tasks.filter((incident) => !seen.has(incident.id) && incident.state !== 'resolved')
    : [];
  state.tasks = new Map(tasks.map((incident) => [incident.id, incident]));
  if (!state.synced) for (const incident of tasks) remember(incident.id);
  state.synced = true;
  keepTasks();
  // The worker's grids by name: each task's chain names them.
  const places = new Map(tasks.flatMap((incident) => incident.chain.map((node) => [node.id, node.name])));
  for (const feature of state.grids.values()) places.set(feature.id, feature.properties.name);
  const names = state.me.scopeNodeIds.map((id) => places.get(id)).filter(Boolean);
  ui.who.textContent = names.length > 0 ? `${state.me.name} · ${names.join('、')}` : state.me.name;
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

/** The 任务 tab's badge: the tasks still open that arrived while the worker looked at another tab. */
function showBadge() {
  for (const id of unseen)
    if (!state.tasks.has(id) || state.tasks.get(id).state === 'resolved') unseen.delete(id);
  ui.tabs?.setBadge('tasks', unseen.size, t('tabs.newTasks', { count: unseen.size }));
}

function render() {
  showBadge();
  const tasks = [...state.tasks.values()].sort((a, b) => byUrgency(a, b));
  for (const id of maps.keys()) if (!state.tasks.has(id)) maps.delete(id);
  for (const id of uploadOutcomes.keys()) if (!state.tasks.has(id)) uploadOutcomes.delete(id);
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
  // A card being uploaded from keeps its upload part (its progress), as a note being typed keeps its text.
  const uploading = new Map(
    [...ui.list.querySelectorAll('.upload[data-busy="true"]')].map((part) => [part.dataset.id, part]),
  );
  ui.list.replaceChildren(
    ...tasks.map((incident) => card(incident, drafts.get(incident.id) ?? '', uploading.get(incident.id))),
    ...settled.map(settledCard),
  );
  for (const incident of tasks) drawMap(incident);
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

function card(incident, draft, uploadPart) {
  const message = el('p', { class: 'error', role: 'alert' });
  const note = el('textarea', {
    'aria-label': t('note'),
    placeholder: t('note.worker'),
    rows: 2,
    dataset: { id: incident.id },
  });
  note.value = draft;
  const awaiting = incident.state === 'resolved';
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
    ...cardHeader(incident),
    placeSection(incident),
    procedureSection(incident),
    returnedSection(incident),
    caseNotices(incident),
    arrivalLine(incident),
    incident.dueAt
      ? el('div', { class: 'meta due', dataset: { dueAt: incident.dueAt } }, dueText(incident))
      : null,
    awaiting ? el('p', { class: 'meta awaiting' }, t('task.awaiting')) : null,
    evidenceSection(incident),
    isDepartment() ? null : (uploadPart ?? uploadSection(incident)),
    awaiting ? null : note,
    awaiting ? null : actionsSection(incident, note, message),
    outbox.view(incident.id),
    message,
  );
}

function cardHeader(incident) {
  return [
    el('strong', {}, incidentTitle(incident)),
    el('span', { class: 'badge state' }, stateLabel(incident.state)),
    incident.reworks > 0
      ? el(
          'span',
          { class: 'badge rework', dataset: { reworks: String(incident.reworks) } },
          t('task.rework', { count: incident.reworks }),
        )
      : null,
    el(
      'div',
      { class: 'meta' },
      `${severityLabel(incident.severity)} · ${incident.device.name} · ${time(incident.createdAt)}`,
    ),
  ];
}

/** Where to go: the address, the grid, a small map with the device's pin, and links to the phone's map apps. */
function placeSection(incident) {
  const grid = incident.chain[0]?.name ?? incident.gridId;
  const links = navigationLinks(
    {
      name: incident.device.address ?? incident.device.name,
      location: incident.device.location,
      coordinates: state.settings.map?.coordinates ?? 'WGS84',
    },
    (point, from, to) => gcoord.transform(point, gcoord[from], gcoord[to]),
  );
  return el(
    'div',
    { class: 'place' },
    incident.device.address
      ? el('div', { class: 'meta task-address' }, `${t('task.address')}：${incident.device.address}`)
      : null,
    el('div', { class: 'meta task-grid' }, `${t('task.grid')}：${grid}`),
    mapElement(incident),
    links.length > 0
      ? el(
          'div',
          { class: 'navigate', 'aria-label': t('task.navigate') },
          ...links.map((link) =>
            el(
              'a',
              {
                href: link.url,
                target: '_blank',
                rel: 'noopener',
                dataset: { provider: link.provider },
                class: 'button small',
              },
              t(`nav.${link.provider}`),
            ),
          ),
        )
      : null,
  );
}

/** The map's container, the same element across redraws; drawn once it is in the page (see drawMap). */
function mapElement(incident) {
  const kept = maps.get(incident.id);
  if (kept !== undefined) return kept.container;
  const container = el('div', { class: 'task-map', role: 'img', 'aria-label': t('task.map') });
  maps.set(incident.id, { container, map: null });
  return container;
}

/** The grid's outline and the device's pin, over the deployment's tiles or over nothing. */
function drawMap(incident) {
  const entry = maps.get(incident.id);
  const feature = state.grids.get(incident.gridId);
  if (entry === undefined || entry.map !== null || feature === undefined) return;
  // Leaflet sizes a map by its container: in a hidden tab that is nothing. Drawn when 任务 is shown.
  if (ui.panels.tasks.hidden) return;
  entry.map = new GridMap(entry.container, state.settings.map, {});
  entry.map.setData({
    grids: [feature],
    devices: [
      {
        id: incident.device.id,
        name: incident.device.name,
        adapter: incident.device.adapter,
        gridId: incident.gridId,
        ...(incident.device.location ? { location: incident.device.location } : {}),
      },
    ],
  });
  entry.map.update({
    open: [incident],
    acknowledged: () => true,
    selected: incident,
    statuses: new Map([[incident.device.id, { online: true }]]),
  });
}

/** A case sent back by its verification: the officer's note, who and when. */
function returnedSection(incident) {
  if (!incident.returned || incident.state === 'resolved') return null;
  const { note, userId, at } = incident.returned;
  return el(
    'p',
    { class: 'returned', role: 'note' },
    t('task.returned', { note, user: userId, time: time(at) }),
  );
}

/**
 * #25 on the card: a supervision (督办) as a badge with its latest instruction, a pending extension, a suspension.
 * Supervision is shown, never acted on: it does not change the task.
 */
function caseNotices(incident) {
  const supervision = incident.supervisions?.at(-1);
  const pending = incident.extensions?.at(-1);
  const suspension = incident.suspension;
  const handed = myCoordination(incident);
  const lines = [
    handed
      ? el('p', { class: 'handed-off' }, t('task.handedOff', { note: handed.note, time: time(handed.at) }))
      : null,
    supervision
      ? el(
          'p',
          { class: 'supervised', role: 'note', dataset: { count: String(incident.supervisions.length) } },
          el('span', { class: 'badge supervised-badge' }, actionLabel('supervise')),
          ' ',
          t('task.supervised', { note: supervision.note, time: time(supervision.at) }),
        )
      : null,
    pending && pending.approved === undefined
      ? el(
          'p',
          { class: 'meta extension-pending' },
          t('task.extensionPending', { until: time(pending.until) }),
        )
      : null,
    suspension
      ? el(
          'p',
          { class: 'meta suspended' },
          t('task.suspended', { reason: suspension.reason, review: time(suspension.reviewAt) }),
        )
      : null,
  ].filter((line) => line !== null);
  return lines.length === 0 ? null : el('div', { class: 'case-notices' }, ...lines);
}

/** Where the phone was at 到达: the distance to the device, flagged when far. */
function arrivalLine(incident) {
  const arrival = incident.arrival;
  if (!arrival) return null;
  return el(
    'div',
    { class: `meta arrival${arrival.far ? ' far' : ''}`, dataset: { far: String(arrival.far) } },
    `${t('arrival.label')}：${t(arrival.far ? 'arrival.far' : 'arrival.near', {
      distance: arrival.distanceM,
      accuracy: arrival.accuracyM,
    })}`,
  );
}

function evidenceSection(incident) {
  const evidence = el('div', { class: 'evidence' });
  for (const item of incident.evidence ?? []) {
    if (item.kind !== 'snapshot' && item.kind !== 'photo') continue;
    const image = el('img', {
      alt: item.kind === 'photo' ? t(`upload.${item.stage}`) : t('snapshot', { camera: item.cameraId }),
      dataset: { kind: item.kind },
    });
    evidence.append(image);
    mediaUrl(item.url)
      .then((url) => {
        image.src = url;
      })
      .catch(() => image.remove());
  }
  return evidence;
}

/** The phone's camera: a photo or a short video, before or after the work, with the upload's progress. */
function uploadSection(incident) {
  const stage = el(
    'select',
    { 'aria-label': t('upload.stage'), class: 'stage' },
    ...['before', 'after'].map((value) => el('option', { value }, t(`upload.${value}`))),
  );
  stage.value = ['on_site', 'resolved'].includes(incident.state) || incident.returned ? 'after' : 'before';
  const progress = el('progress', { max: 100, value: 0, hidden: true });
  const status = el(
    'span',
    { class: 'meta upload-status', role: 'status' },
    uploadOutcomes.get(incident.id) ?? '',
  );
  const part = el('div', { class: 'upload', dataset: { id: incident.id } });
  const input = el('input', {
    type: 'file',
    accept: 'image/*,video/*',
    capture: 'environment',
    multiple: true,
    'aria-label': t('upload.take'),
  });
  input.addEventListener('change', async () => {
    const files = [...input.files];
    input.value = '';
    part.dataset.busy = 'true';
    try {
      for (const file of files) await sendFile(incident.id, file, stage.value, progress, status);
      uploadOutcomes.set(incident.id, t('upload.done'));
    } catch (error) {
      uploadOutcomes.set(incident.id, t('upload.failed', { message: errorLabel(error) }));
    } finally {
      status.textContent = uploadOutcomes.get(incident.id);
      part.dataset.busy = 'false';
      progress.hidden = true;
    }
  });
  part.append(stage, el('label', { class: 'button small take' }, t('upload.take'), input), progress, status);
  return part;
}

/** One file: a large photo re-encoded first (which also drops its EXIF), sent with the phone's position. */
async function sendFile(incidentId, file, stage, progress, status) {
  const body = file.type.startsWith('image/') ? await downscaled(file) : file;
  const position = await currentPosition(5_000);
  const query = new URLSearchParams({ stage });
  if (position) {
    query.set('lon', String(position.lon));
    query.set('lat', String(position.lat));
    if (position.accuracyM !== undefined)
      query.set('accuracyM', String(Math.min(10_000, position.accuracyM)));
  }
  progress.hidden = false;
  progress.value = 0;
  const after = await new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/api/incidents/${encodeURIComponent(incidentId)}/uploads?${query}`);
    request.setRequestHeader('authorization', `Bearer ${session()?.token}`);
    request.setRequestHeader('content-type', body.type);
    request.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      progress.value = percent;
      status.textContent = t('upload.progress', { percent });
    };
    request.onload = () => {
      const answer = JSON.parse(request.responseText || '{}');
      if (request.status === 200) resolve(answer);
      else
        reject(
          new ApiError(
            request.status,
            answer?.error?.message ?? `HTTP ${request.status}`,
            answer?.error?.code,
          ),
        );
    };
    request.onerror = () => reject(new ApiError(0, 'network error'));
    request.send(body);
  });
  arrived(after);
}

/** A photo too large to send as it is: drawn on a canvas at most photoLimits.side a side, as JPEG. */
async function downscaled(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return file;
  }
  const scale = Math.min(1, photoLimits.side / Math.max(bitmap.width, bitmap.height));
  if (file.size <= photoLimits.bytes && scale === 1) {
    bitmap.close();
    return file;
  }
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', photoLimits.quality));
  return blob ?? file;
}

/** The phone's position (WGS84), or null when it cannot or may not say in time. */
function currentPosition(timeoutMs) {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      ({ coords }) =>
        resolve({ lon: coords.longitude, lat: coords.latitude, accuracyM: Math.round(coords.accuracy) }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 60_000 },
    );
  });
}

function actionsSection(incident, note, message) {
  const extendBy = el(
    'select',
    { class: 'extend-by', 'aria-label': t('case.extendBy') },
    ...[4, 24, 72].map((hours) => el('option', { value: String(hours) }, t('case.hours', { hours }))),
  );
  const act = (action) => async () => {
    message.textContent = '';
    if (['return', 'request_extension', 'coordinate_done', 'note'].includes(action) && !note.value.trim()) {
      message.textContent = t('note.required', { action: actionLabel(action) });
      note.focus();
      return;
    }
    try {
      const body = note.value.trim() ? { note: note.value.trim() } : {};
      if (action === 'request_extension') {
        // The deadline asked for: the current one (or now) plus the hours picked on the card.
        const from = Math.max(Date.now(), Date.parse(incident.dueAt ?? '') || 0);
        body.until = new Date(from + Number(extendBy.value) * 3_600_000).toISOString();
      }
      if (action === 'arrive') {
        message.textContent = t('arrival.locating');
        const position = await currentPosition(10_000);
        message.textContent = position ? '' : t('arrival.noPosition');
        if (position) body.position = position;
      }
      // Through the offline queue: sent now when it can be, else kept and shown as 待发送 (outbox.js).
      const done = await outbox.take(incident, action, body);
      if (['resolve', 'return', 'request_extension', 'coordinate_done', 'note'].includes(action))
        note.value = '';
      fresh.delete(incident.id);
      if (done.incident) arrived(done.incident);
      else render();
    } catch (error) {
      message.textContent = t('refused', { action: actionLabel(action), message: errorLabel(error) });
    }
  };
  const button = (action, enabled) =>
    el(
      'button',
      { type: 'button', dataset: { action }, disabled: !enabled, onclick: act(action) },
      actionLabel(action),
    );
  // A department user reports their part done, or adds a note; nothing else is theirs.
  if (isDepartment())
    return el('div', { class: 'actions' }, button('coordinate_done', true), button('note', true));
  // Its buttons as the actions waiting on it would leave it (accept offline, then arrive offline).
  const shown = outbox.expectedState(incident);
  const inHand = ['accepted', 'on_site'].includes(shown);
  const extensionPending =
    incident.extensions?.at(-1)?.approved === undefined && (incident.extensions?.length ?? 0) > 0;
  return el(
    'div',
    { class: 'actions' },
    button('accept', ['dispatched', 'escalated'].includes(shown)),
    button('arrive', shown === 'accepted'),
    button('resolve', inHand),
    // #25: 退回 (the note says why) and 申请延期 (the note says why, the select how long).
    button('return', ['dispatched', 'accepted', 'on_site', 'escalated'].includes(shown)),
    inHand ? extendBy : null,
    button('request_extension', inHand && !extensionPending),
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
