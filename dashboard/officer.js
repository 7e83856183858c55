// The duty officer console: live alarm feed, jurisdiction tree and grid map, incident panel with evidence, audit
// and actions, filters, device health and the assessment. Every view is the server's state: it is reloaded after
// each action and after each reconnection, and live pushes replace what they change.
import {
  api,
  beep,
  connect,
  downloadFile,
  el,
  loadSettings,
  loginForm,
  logout,
  mediaUrl,
  openStates,
  session,
  showStatus,
} from './common.js';
import { isHotlineCase, loadWorkOrder, workOrderBadges, workOrderSection } from './hotline.js';
import {
  actionLabel,
  auditLabel,
  categoryLabel,
  duration,
  errorLabel,
  incidentTitle,
  languageSwitch,
  roleLabel,
  severityLabel,
  stageLabel,
  stateCodes,
  stateLabel,
  t,
  time,
  today,
  zonedMidnight,
} from './i18n.js';
import { GridMap, kindOf } from './map.js';
import { patrolBoard } from './patrol-board.js';
import { loadCatalogue, myGrids, procedureSection, registerButton } from './people-cases.js';
import { scoresPanel } from './score.js';

const root = document.getElementById('app');
const state = {
  me: null,
  incidents: new Map(), // the feed: id → incident, as filtered
  open: new Map(), // every open incident the officer sees, for the map and the counter
  devices: new Map(),
  grids: [],
  nodes: [],
  users: [],
  /** User id → name, for people shown by name (ids stay in data attributes). */
  names: new Map(),
  /** The categories the deployment's rules raise (from /api/console), for the filter. */
  categories: [],
  selected: null,
  /** Resolved incidents waiting for verification, for their view. */
  resolved: new Map(),
  /** The work queue's view (see views) and its page. */
  view: 'queue',
  page: 0,
  filters: { state: '', severity: '', category: '', node: '' },
  /** The map (map.js), made once the page is laid out; its settings from /api/console. */
  gridMap: null,
  mapSettings: null,
  /** The cameras (GET /api/cameras), for live video and presets. */
  cameras: new Map(),
  /** A device clicked on the map: the views show its alarms alone until it is clicked again. */
  deviceFilter: null,
};
const ui = {};
/** Reloads from the server with the pushes that come meanwhile applied again over it (common.js connect). */
let reload = (load) => load();

/**
 * The officer's centre for an incident: their scope node on its chain (as the server decides it). Acknowledgements
 * are the server's, per centre, so a colleague's acknowledgement counts as ours.
 */
function centreOf(incident) {
  return incident.chain.find((node) => (state.me.scopeNodeIds ?? []).includes(node.id));
}

function acknowledgementOf(incident) {
  const centre = centreOf(incident);
  return incident.acknowledgements?.find((entry) => entry.nodeId === centre?.id);
}

/** Keeps a pushed or answered incident in the feed (when the filters take it) and in the open set. */
function remember(incident) {
  if (matches(incident)) state.incidents.set(incident.id, incident);
  else state.incidents.delete(incident.id);
  if (openStates.includes(incident.state)) state.open.set(incident.id, incident);
  else state.open.delete(incident.id);
  if (incident.state === 'resolved') state.resolved.set(incident.id, incident);
  else state.resolved.delete(incident.id);
}

/** A user by name; their id only when this officer's list does not hold them (a higher centre's officer). */
function nameOf(userId) {
  if (userId === 'system') return roleLabel('system');
  return state.names.get(userId) ?? userId;
}

/** Severities most urgent first, for the queue's order. */
const severityRank = { critical: 0, major: 1, warning: 2, info: 3 };

async function start() {
  if (session() === null) await loginForm(root, t('login.example.officer'));
  state.me = session().me;
  const settings = await loadSettings();
  state.categories = settings.categories ?? [];
  state.mapSettings = settings.map ?? null;
  layout();
  setInterval(tickCountdowns, 1000);
  ({ reload } = connect({
    onStatus: (code, reason) => showStatus(ui.status, code, reason),
    onSync: () => sync().catch(showError),
    onNew: (incident, replayed) => {
      // Pushed again after an instance died mid-push (the hub pushes at least once), or applied again after a
      // reload (connect's `replayed`): sound it only the first time.
      const known = state.incidents.has(incident.id) || state.open.has(incident.id);
      remember(incident);
      if (!known && !replayed) {
        announce(incident);
        refreshAssessment();
      }
      scheduleRender();
    },
    onUpdate: (change) => {
      const { after } = change;
      remember(after);
      scheduleRender();
      if (state.selected === after.id) refreshPanel();
      if (after.state !== change.before.state) refreshAssessment();
      ui.scoresChanged?.();
    },
    onRepeat: (repeat) => {
      const known = state.incidents.get(repeat.id) ?? state.open.get(repeat.id);
      if (known === undefined) return;
      remember({ ...known, ...repeat });
      scheduleRender();
      if (state.selected === repeat.id) refreshPanel();
    },
    onDevice: (status) => {
      const device = state.devices.get(status.deviceId);
      if (device) state.devices.set(status.deviceId, { ...device, status });
      renderDevices();
      renderMap();
    },
    // On-duty workers' positions: a layer of their own on the map.
    onWorkerPosition: (position) => state.gridMap?.showWorker(position),
    onWorkerStopped: (stopped) => state.gridMap?.removeWorker(stopped.userId),
  }));
}

let renderQueued = false;
/**
 * Pushes come in bursts (a storm, a reconnection's replay): each changes the page's state at once, and the page is
 * drawn once per frame with all of them, so no burst holds the main thread for its length.
 */
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

let panelTimer;
/**
 * The open panel again after a push changed its incident: at most twice a second, whatever the rate of repeats (each
 * redraw asks the server for the incident, its audit and its actions).
 */
function refreshPanel() {
  if (panelTimer !== undefined) return;
  panelTimer = setTimeout(() => {
    panelTimer = undefined;
    if (state.selected) showIncident(state.selected).catch(showError);
  }, 500);
}

function matches(incident) {
  const { filters } = state;
  if (filters.state && !filters.state.split(',').includes(incident.state)) return false;
  if (filters.severity && incident.severity !== filters.severity) return false;
  if (filters.category && incident.category !== filters.category) return false;
  if (filters.node && !incident.chain.some((node) => node.id === filters.node)) return false;
  return true;
}

/** Loads everything from the server again: on connection, on reconnection, on a filter change. */
async function sync() {
  const [grids, jurisdiction, devices, users, cameras, open, resolved] = await Promise.all([
    api.get('/api/grids'),
    api.get('/api/jurisdiction'),
    api.get('/api/devices'),
    api.get('/api/users').catch(() => ({ users: [] })),
    api.get('/api/cameras').catch(() => ({ cameras: [] })),
    api.get(`/api/incidents?limit=500&state=${openStates.join(',')}`),
    api.get('/api/incidents?limit=200&state=resolved'),
  ]);
  state.grids = grids.features;
  state.nodes = jurisdiction.nodes;
  state.users = users.users;
  state.names = new Map(state.users.map((user) => [user.id, user.name]));
  state.cameras = new Map(cameras.cameras.map((camera) => [camera.id, camera]));
  state.names.set(state.me.userId, state.me.name);
  state.devices = new Map(devices.devices.map((device) => [device.id, device]));
  state.open = new Map(open.incidents.map((incident) => [incident.id, incident]));
  state.resolved = new Map(resolved.incidents.map((incident) => [incident.id, incident]));
  await loadFeed();
  renderTree();
  // Drawn once per load (the grids and devices change with the configuration), coloured by every push.
  state.gridMap?.setData({ grids: state.grids, devices: [...state.devices.values()] });
  renderMap();
  state.gridMap?.setWorkers(await api.get('/api/positions').catch(() => null));
  renderDevices();
  refreshAssessment();
  if (state.selected) await showIncident(state.selected);
}

async function loadFeed() {
  const query = new URLSearchParams({ limit: '100' });
  for (const [key, value] of Object.entries(state.filters)) if (value) query.set(key, value);
  const { incidents } = await api.get(`/api/incidents?${query}`);
  state.incidents = new Map(incidents.map((incident) => [incident.id, incident]));
  // Drawn at the next frame, not now: a reload applies the pushes that came during the read after this returns,
  // and drawing the list as read would take a pushed alarm off the screen until then.
  scheduleRender();
}

function layout() {
  ui.status = el(
    'span',
    { class: 'status', id: 'status', dataset: { status: 'connecting' } },
    t('status.connecting'),
  );
  ui.unacked = el('span', { class: 'counter', id: 'unacked', title: t('unacknowledged') }, '0');
  ui.mute = el('button', { type: 'button', id: 'mute', onclick: toggleMute }, '');
  ui.notify = el(
    'button',
    { type: 'button', id: 'notify', hidden: !('Notification' in window), onclick: askForNotifications },
    t('attention.notify'),
  );
  showMute();
  // Read out by screen readers: critical alarms at once, the rest when the reader is free.
  ui.announceUrgent = el('div', { class: 'sr-only', id: 'announce-urgent', 'aria-live': 'assertive' });
  ui.announcePolite = el('div', { class: 'sr-only', id: 'announce', 'aria-live': 'polite' });
  ui.error = el('p', { class: 'error', id: 'error', role: 'alert' });
  ui.feed = el('ol', { class: 'feed', id: 'feed', 'aria-label': t('alarms.label') });
  ui.tree = el('ul', { class: 'tree', id: 'tree' });
  ui.map = el('div', { class: 'map', id: 'map', role: 'region', 'aria-label': t('map.label') });
  ui.deviceFilter = el('button', {
    type: 'button',
    class: 'chip',
    id: 'device-filter',
    hidden: true,
    onclick: () => mapHandlers().onDevice(state.deviceFilter),
  });
  ui.devices = el('ul', { class: 'devices', id: 'devices' });
  ui.panel = el('section', { class: 'panel', id: 'incident' }, el('p', { class: 'muted' }, t('selectAlarm')));
  ui.assessment = el('section', { class: 'assessment', id: 'assessment' });

  const select = (name, options) =>
    el(
      'select',
      {
        name,
        'aria-label': t(`filter.${name}`),
        onchange: (event) => {
          state.filters[name] = event.target.value;
          reload(loadFeed).catch(showError);
        },
      },
      ...options.map(([value, label]) => el('option', { value }, label)),
    );
  ui.gridFilter = select('node', [['', t('filter.allGrids')]]);
  const filters = el(
    'div',
    { class: 'filters' },
    select('state', [
      ['', t('filter.allStates')],
      [openStates.join(','), t('filter.open')],
      ...stateCodes.map((code) => [code, stateLabel(code)]),
    ]),
    select('severity', [
      ['', t('filter.allSeverities')],
      ...Object.keys(severityRank).map((code) => [code, severityLabel(code)]),
    ]),
    // The categories the deployment's rules raise, no more and no fewer (the hub's /api/console).
    select('category', [
      ['', t('filter.allCategories')],
      ...state.categories.map((category) => [category, categoryLabel(category)]),
    ]),
    ui.gridFilter,
  );

  // 登记 (#25): drawn once the catalogue is in, after the header below exists.
  addRegisterForm().catch((error) => (ui.error.textContent = errorLabel(error)));
  root.replaceChildren(
    el(
      'header',
      { class: 'bar' },
      el('h1', {}, `gridhub · ${t('app.officer')}`),
      el('span', { class: 'who', id: 'who' }, `${state.me.name} · ${roleLabel(state.me.role)}`),
      el('span', {}, `${t('unacknowledged')} `, ui.unacked),
      ui.status,
      ui.mute,
      ui.notify,
      el(
        'button',
        { type: 'button', id: 'wall', onclick: () => setWall(!document.body.classList.contains('wall')) },
        t('wall'),
      ),
      languageSwitch(el),
      el('button', { type: 'button', id: 'logout', onclick: logout }, t('logout')),
    ),
    ui.error,
    el(
      'div',
      { class: 'grid3' },
      el(
        'aside',
        { id: 'overview' },
        el('h2', { class: 'desk-only' }, t('jurisdiction')),
        ui.tree,
        el(
          'h2',
          {},
          `${t('map')} `,
          el(
            'button',
            {
              type: 'button',
              class: 'link',
              id: 'map-reset',
              onclick: () => state.gridMap?.reset(),
            },
            t('map.reset'),
          ),
        ),
        ui.map,
        // What the outlines mean: the devices by kind.
        el(
          'p',
          { class: 'legend meta', id: 'map-legend' },
          ...['gate', 'sentry', 'camera'].map((kind) =>
            el('span', { class: `key kind-${kind}` }, t(`kind.${kind}`)),
          ),
        ),
        el('h2', { class: 'desk-only' }, t('devices')),
        ui.devices,
      ),
      el(
        'section',
        {},
        el('h2', {}, t('alarms')),
        filters,
        ui.deviceFilter,
        ...feedControls(),
        ui.feed,
        ui.pager,
      ),
      ui.panel,
    ),
    ui.assessment,
    ui.announceUrgent,
    ui.announcePolite,
  );
  assessmentForm();
  state.gridMap = new GridMap(ui.map, state.mapSettings, mapHandlers());
  // A wall display is bookmarked as /officer?wall=1.
  if (new URLSearchParams(location.search).has('wall')) setWall(true);
  document.addEventListener('keydown', onKey);
  setInterval(remind, reminderMs);
}

/** Time left to an incident's stage deadline, in words, with how near it is: `ok`, `near` (under a quarter of
 * the stage or five minutes) or `over`. */
function countdown(incident, now = Date.now()) {
  if (!incident.dueAt || !incident.dueStage) return undefined;
  const left = Date.parse(incident.dueAt) - now;
  const stage = stageLabel(incident.dueStage);
  if (left <= 0) return { text: t('due.over', { stage, time: duration(-left) }), level: 'over' };
  return { text: t('due.left', { stage, time: duration(left) }), level: left < 5 * 60_000 ? 'near' : 'ok' };
}

function countdownElement(incident, attributes = {}) {
  const shown = countdown(incident);
  if (shown === undefined) return null;
  return el(
    'span',
    {
      class: `due ${shown.level}`,
      dataset: { dueAt: incident.dueAt, dueStage: incident.dueStage, level: shown.level },
      ...attributes,
    },
    shown.text,
  );
}

let ticks = 0;
/**
 * Every countdown on the page, each second: the text and its colour, without redrawing anything else; every five
 * seconds the views again (a case becomes overdue with no push).
 */
function tickCountdowns() {
  const now = Date.now();
  if (++ticks % 5 === 0) render();
  for (const element of document.querySelectorAll('[data-due-at]')) {
    const shown = countdown({ dueAt: element.dataset.dueAt, dueStage: element.dataset.dueStage }, now);
    if (shown === undefined) continue;
    element.textContent = shown.text;
    if (element.dataset.level !== shown.level) {
      element.dataset.level = shown.level;
      element.className = `due ${shown.level}`;
    }
  }
}

/** The queue's order: severity, then the nearest deadline (none last), then the newest. */
function byUrgency(a, b) {
  return (
    (severityRank[a.severity] ?? 9) - (severityRank[b.severity] ?? 9) ||
    (a.dueAt ? Date.parse(a.dueAt) : Number.POSITIVE_INFINITY) -
      (b.dueAt ? Date.parse(b.dueAt) : Number.POSITIVE_INFINITY) ||
    (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0)
  );
}

/** Each severity's tone (Hz) and beeps; info makes no sound. */
const tones = { critical: [1046, 3], major: [880, 2], warning: [660, 1] };
/** How often the sound repeats while an alarm of my centre waits for its acknowledgement. */
const reminderMs = 8000;
const mutedKey = 'gridhub.muted';
const muted = () => localStorage.getItem(mutedKey) === 'true';

function toggleMute() {
  localStorage.setItem(mutedKey, String(!muted()));
  showMute();
}

function showMute() {
  ui.mute.textContent = t(muted() ? 'attention.unmute' : 'attention.mute');
  ui.mute.setAttribute('aria-pressed', String(muted()));
  document.body.dataset.muted = String(muted());
}

function sound(severity) {
  const tone = tones[severity];
  if (tone === undefined || muted()) return;
  beep(tone[0], 0.2, tone[1]);
  document.body.dataset.lastSoundSeverity = severity;
}

async function askForNotifications() {
  const answer = await Notification.requestPermission();
  ui.notify.dataset.permission = answer;
}

/**
 * A new alarm: its sound, a line for screen readers, and a desktop notification while the tab is in the background
 * (info-level events only the line).
 */
function announce(incident) {
  const words = t('attention.new', {
    title: incidentTitle(incident),
    severity: severityLabel(incident.severity),
    grid: incident.chain[0].name,
    device: incident.device.name,
  });
  (incident.severity === 'critical' ? ui.announceUrgent : ui.announcePolite).textContent = words;
  if (incident.severity === 'info') return;
  sound(incident.severity);
  if (
    document.visibilityState === 'hidden' &&
    'Notification' in window &&
    Notification.permission === 'granted'
  ) {
    const notice = new Notification(incidentTitle(incident), {
      body: `${severityLabel(incident.severity)} · ${incident.chain[0].name} · ${incident.device.name}`,
      tag: incident.id,
    });
    notice.onclick = () => {
      window.focus();
      showIncident(incident.id).catch(showError);
    };
  }
}

/** The sound again, every few seconds, while an alarm my centre must act on is not acknowledged. */
function remind() {
  const waiting = [...state.open.values()].filter(
    (incident) =>
      incident.severity !== 'info' &&
      responsibleIsMine(incident) &&
      acknowledgementOf(incident) === undefined,
  );
  if (waiting.length === 0) return;
  sound(waiting.sort(byUrgency)[0].severity);
}

/**
 * The keyboard: ↑/↓ (or k/j) move through the alarms, Enter opens one, `a` acknowledges the one open, Esc goes
 * back to the list. Keys typed into a field are the field's.
 */
function onKey(event) {
  const target = event.target;
  if (
    target instanceof HTMLElement &&
    (target.closest('input, textarea, select') || target.isContentEditable)
  )
    return;
  const items = [...ui.feed.querySelectorAll('li[data-id]')];
  const at = items.indexOf(document.activeElement);
  const focus = (index) => items[Math.max(0, Math.min(items.length - 1, index))]?.focus();
  const keys = {
    ArrowDown: () => focus(at + 1),
    j: () => focus(at + 1),
    ArrowUp: () => focus(at - 1),
    k: () => focus(at - 1),
    Enter: () => at >= 0 && showIncident(items[at].dataset.id).catch(showError),
    a: () => ui.panel.querySelector('button[data-action="acknowledge"]:not([disabled])')?.click(),
    Escape: () =>
      focus(
        Math.max(
          0,
          items.findIndex((item) => item.dataset.id === state.selected),
        ),
      ),
  };
  const handler = keys[event.key];
  if (handler === undefined || event.ctrlKey || event.metaKey || event.altKey) return;
  event.preventDefault();
  handler();
}

/**
 * The work queue's views. Each takes the incidents the page holds and keeps those it shows; info-level events (an
 * access denied, a person seen) stay out of every view but their own, counted there, unless the severity filter
 * asks for them.
 */
const views = {
  /** What the filters take and still needs someone, most urgent first. */
  queue: () =>
    [...state.incidents.values()].filter(
      (incident) =>
        (incident.severity !== 'info' || state.filters.severity === 'info') &&
        (!endedStates.includes(incident.state) || state.filters.state !== ''),
    ),
  /** My centre is responsible: raised or escalated to it, or raised in a grid of mine (a grid has no centre). */
  mine: () =>
    [...state.open.values()].filter(
      (incident) => incident.severity !== 'info' && responsibleIsMine(incident),
    ),
  /** Resolved by the worker, waiting for a duty officer to verify and close. */
  verify: () => [...state.resolved.values()],
  /** Past their stage's deadline. */
  overdue: () => {
    const now = Date.now();
    return [...state.open.values()].filter((incident) => incident.dueAt && Date.parse(incident.dueAt) < now);
  },
  /** The info-level events, apart. */
  info: () => {
    const both = new Map();
    for (const incident of [...state.incidents.values(), ...state.open.values()])
      if (incident.severity === 'info') both.set(incident.id, incident);
    return [...both.values()];
  },
};
/** Cases that need nobody any more: out of the queue unless the state filter asks for them. */
const endedStates = ['closed', 'false_alarm', 'cancelled'];
const pageSize = 50;

/** The feed's items by incident id, each with what it was drawn from: a push redraws only what changed. */
const drawn = new Map();

function feedItem(incident) {
  const acknowledged = acknowledgementOf(incident) !== undefined;
  const key = `${incident.updatedAt}|${acknowledged}|${state.selected === incident.id}|${incident.occurrences}`;
  const cached = drawn.get(incident.id);
  if (cached?.key === key) return cached.node;
  const node = el(
    'li',
    {
      dataset: {
        id: incident.id,
        severity: incident.severity,
        state: incident.state,
        device: incident.device.id,
        acknowledged: String(acknowledged),
      },
      class: state.selected === incident.id ? 'selected' : '',
      tabindex: 0,
      onclick: () => showIncident(incident.id).catch(showError),
    },
    el('strong', {}, incidentTitle(incident)),
    el('span', { class: 'badge state' }, stateLabel(incident.state)),
    acknowledged ? el('span', { class: 'badge acknowledged' }, `✓ ${t('acknowledgedBadge')}`) : null,
    incident.occurrences > 1
      ? el('span', { class: 'badge repeats', title: t('field.occurrences') }, `×${incident.occurrences}`)
      : null,
    // A 12345 work order (#25): 待签收 until the centre signs for it, and the platform's deadline.
    ...workOrderBadges(incident),
    // Field work (#24): an arrival placed far from the device.
    incident.arrival?.far
      ? el('span', { class: 'badge far', dataset: { far: 'true' } }, t('arrival.farBadge'))
      : null,
    el(
      'div',
      { class: 'meta' },
      el('span', { class: `sev sev-${incident.severity}` }, severityLabel(incident.severity)),
      ` · ${incident.chain[0].name} · ${incident.device.name} · ${time(incident.createdAt)} `,
      countdownElement(incident),
    ),
  );
  drawn.set(incident.id, { key, node });
  return node;
}

/**
 * While the officer points into the list, what is there keeps its place: the order is frozen and new arrivals
 * wait (counted above the list, in a line whose space is always kept) until the pointer leaves or rests for a few
 * seconds. Changes to the items shown are drawn at once.
 */
const hold = { ids: undefined, timer: undefined };
const holdRestMs = 3000;

function holdFeed() {
  hold.ids ??= [...ui.feed.children].map((item) => item.dataset.id).filter(Boolean);
  clearTimeout(hold.timer);
  hold.timer = setTimeout(releaseFeed, holdRestMs);
}

function releaseFeed() {
  clearTimeout(hold.timer);
  if (hold.ids === undefined) return;
  hold.ids = undefined;
  render();
}

function render() {
  const byDevice = (list) =>
    state.deviceFilter === null ? list : list.filter((incident) => incident.device.id === state.deviceFilter);
  const lists = Object.fromEntries(Object.entries(views).map(([name, pick]) => [name, byDevice(pick())]));
  for (const [name, button] of Object.entries(ui.viewButtons)) {
    button.querySelector('.count').textContent = String(lists[name].length);
    button.setAttribute('aria-pressed', String(state.view === name));
  }
  const sorted = lists[state.view].sort(byUrgency);
  const pages = Math.max(1, Math.ceil(sorted.length / pageSize));
  state.page = Math.min(state.page, pages - 1);
  let shown = sorted.slice(state.page * pageSize, (state.page + 1) * pageSize);
  let waiting = 0;
  if (hold.ids !== undefined) {
    const byId = new Map(sorted.map((incident) => [incident.id, incident]));
    const kept = hold.ids.map((id) => byId.get(id)).filter(Boolean);
    waiting = shown.filter((incident) => !hold.ids.includes(incident.id)).length;
    shown = kept;
  }
  ui.feed.replaceChildren(...shown.map(feedItem));
  const present = new Set(shown.map((incident) => incident.id));
  for (const id of drawn.keys()) if (!present.has(id)) drawn.delete(id);
  ui.waiting.textContent = waiting > 0 ? t('feed.waiting', { count: waiting }) : '';
  ui.pager.hidden = pages < 2;
  ui.pageOf.textContent = t('feed.page', { page: state.page + 1, pages });
  ui.previous.disabled = state.page === 0;
  ui.next.disabled = state.page >= pages - 1;
  const unacked = [...state.open.values()].filter(
    (incident) => incident.severity !== 'info' && acknowledgementOf(incident) === undefined,
  ).length;
  ui.unacked.textContent = String(unacked);
  ui.unacked.dataset.count = String(unacked);
  renderMap();
}

/** The centre that answers for a case now: the one it was escalated to, else its grid's community. */
function answeringCentre(incident) {
  return incident.responsibleNodeId !== incident.gridId
    ? incident.chain.find((node) => node.id === incident.responsibleNodeId)
    : incident.chain[1];
}

/** Each user's open cases (assigned or in hand), from the open incidents the page holds. */
function openLoad() {
  const load = new Map();
  for (const incident of state.open.values()) {
    const people = new Set([...incident.assignees, ...(incident.handler ? [incident.handler] : [])]);
    for (const userId of people) load.set(userId, (load.get(userId) ?? 0) + 1);
  }
  return load;
}

function responsibleIsMine(incident) {
  const scope = state.me.scopeNodeIds ?? [];
  if (scope.includes(incident.responsibleNodeId)) return true;
  const [grid, centre] = incident.chain;
  return grid?.id === incident.responsibleNodeId && centre !== undefined && scope.includes(centre.id);
}

/** The view tabs, the line for held arrivals and the pager, around the feed. */
function feedControls() {
  ui.viewButtons = Object.fromEntries(
    Object.keys(views).map((name) => [
      name,
      el(
        'button',
        {
          type: 'button',
          class: 'view',
          dataset: { view: name },
          'aria-pressed': String(state.view === name),
          onclick: () => {
            state.view = name;
            state.page = 0;
            releaseFeed();
            render();
          },
        },
        `${t(`view.${name}`)} `,
        el('span', { class: 'count' }, '0'),
      ),
    ]),
  );
  ui.waiting = el('p', { class: 'waiting', id: 'feed-waiting', 'aria-live': 'off' });
  ui.previous = el('button', { type: 'button', onclick: () => turnPage(-1) }, t('feed.previous'));
  ui.next = el('button', { type: 'button', onclick: () => turnPage(1) }, t('feed.next'));
  ui.pageOf = el('span', {});
  ui.pager = el('div', { class: 'pager', id: 'pager', hidden: true }, ui.previous, ui.pageOf, ui.next);
  ui.feed.addEventListener('pointermove', holdFeed);
  ui.feed.addEventListener('pointerleave', releaseFeed);
  return [el('div', { class: 'views', role: 'group' }, ...Object.values(ui.viewButtons)), ui.waiting];
}

function turnPage(step) {
  state.page = Math.max(0, state.page + step);
  releaseFeed();
  render();
}

function renderTree() {
  const children = (parentId) => state.nodes.filter((node) => node.parentId === parentId);
  const topIds = new Set(state.nodes.map((node) => node.id));
  const roots = state.nodes.filter((node) => node.parentId === null || !topIds.has(node.parentId));
  const branch = (node) =>
    el(
      'li',
      {},
      el(
        'button',
        {
          type: 'button',
          class: 'link',
          dataset: { node: node.id },
          onclick: () => {
            state.filters.node = node.id;
            ui.gridFilter.value = node.id;
            reload(loadFeed).catch(showError);
          },
        },
        node.name,
      ),
      children(node.id).length > 0 ? el('ul', {}, ...children(node.id).map(branch)) : null,
    );
  ui.tree.replaceChildren(...roots.map(branch));
  ui.gridFilter.replaceChildren(
    el('option', { value: '' }, t('filter.allGrids')),
    ...state.nodes.map((node) => el('option', { value: node.id }, node.name)),
  );
  ui.gridFilter.value = state.filters.node;
}

/**
 * The big screen of a command-centre wall: the map fills most of it, the queue beside it in large type; the panel,
 * the tree and the assessment step aside. Full screen where the browser allows it (after a click).
 */
function setWall(on) {
  document.body.classList.toggle('wall', on);
  document.getElementById('wall')?.setAttribute('aria-pressed', String(on));
  const url = new URL(location.href);
  if (on) url.searchParams.set('wall', '1');
  else url.searchParams.delete('wall');
  history.replaceState(null, '', url);
  if (on && document.fullscreenElement === null)
    document.documentElement.requestFullscreen?.().catch(() => {});
  if (!on && document.fullscreenElement !== null) document.exitFullscreen?.().catch(() => {});
  state.gridMap?.resize();
  state.gridMap?.reset();
}

/** The map's live state: grids by their worst unacknowledged alarm, devices by theirs, the selected one ringed. */
function renderMap() {
  state.gridMap?.update({
    open: [...state.open.values()],
    acknowledged: (incident) => acknowledgementOf(incident) !== undefined,
    selected: state.incidents.get(state.selected) ?? state.open.get(state.selected),
    statuses: new Map([...state.devices.values()].map((device) => [device.id, device.status])),
  });
}

/** A click on the map: a grid filters the queue by it (from the server), a device by it (on the page). */
function mapHandlers() {
  return {
    kindLabel: (kind) => t(`kind.${kind}`),
    onGrid: (gridId) => {
      state.filters.node = gridId;
      ui.gridFilter.value = gridId;
      reload(loadFeed).catch(showError);
    },
    onDevice: (deviceId) => {
      state.deviceFilter = state.deviceFilter === deviceId ? null : deviceId;
      showDeviceFilter();
      render();
    },
  };
}

function showDeviceFilter() {
  const device = state.devices.get(state.deviceFilter);
  ui.deviceFilter.hidden = device === undefined;
  ui.deviceFilter.dataset.device = state.deviceFilter ?? '';
  ui.deviceFilter.textContent = device === undefined ? '' : `${t('filter.device', { name: device.name })} ✕`;
}

function renderDevices() {
  const devices = [...state.devices.values()].sort(
    (a, b) => Number(a.status.online) - Number(b.status.online) || a.id.localeCompare(b.id),
  );
  ui.devices.replaceChildren(
    ...devices.map((device) =>
      el(
        'li',
        { dataset: { device: device.id, online: String(device.status.online) } },
        el('span', { class: device.status.online ? 'dot online' : 'dot offline' }),
        ` ${device.name} `,
        el(
          'span',
          { class: 'meta' },
          `${t(device.status.online ? 'online' : 'offline')}${device.status.disabled ? ` · ${t('disabled')}` : ''} · ${t('lastSeen', { time: time(device.status.lastSeenAt) })}`,
        ),
      ),
    ),
  );
}

let shownSeq = 0;
/**
 * The shown incident's media as blob: URLs, by hub URL: pushes rebuild the panel, and the files are downloaded once
 * per incident shown, released when another incident is shown.
 */
const panelMedia = { incidentId: null, urls: new Map() };

function mediaOf(incidentId, url) {
  if (panelMedia.incidentId !== incidentId) {
    for (const pending of panelMedia.urls.values())
      pending.then((blobUrl) => URL.revokeObjectURL(blobUrl)).catch(() => undefined);
    panelMedia.incidentId = incidentId;
    panelMedia.urls = new Map();
  }
  let pending = panelMedia.urls.get(url);
  if (pending === undefined) {
    pending = mediaUrl(url);
    // A failed download is tried again at the next rebuild.
    pending.catch(() => panelMedia.urls.delete(url));
    panelMedia.urls.set(url, pending);
  }
  return pending;
}

/** The actions that need a reason in the note: the server refuses them without one, the page says so first. */
const needsReason = new Set([
  'false_alarm',
  'reject',
  'supervise',
  // #25
  'return',
  'deny_extension',
  'suspend',
  'hand_off',
  'coordinate_done',
  'feedback',
  'deny',
  'object_notice',
]);

/**
 * The cameras that show an incident: its own device when it is a camera, then those configured to watch it (with
 * the PTZ preset that points at it).
 */
function camerasOf(incident) {
  const shown = [];
  const own = state.cameras.get(incident.device.id) ?? state.devices.get(incident.device.id);
  // Its own device: an ONVIF camera the camera list holds, or a camera of another kind (ISAPI, CGI, GB/T 28181).
  if (own !== undefined && (state.cameras.has(own.id) || kindOf(own.adapter) === 'camera'))
    shown.push({ camera: own });
  for (const camera of state.cameras.values()) {
    const watch = (camera.watches ?? []).find((entry) => entry.deviceId === incident.device.id);
    if (watch !== undefined && camera.id !== incident.device.id) shown.push({ camera, preset: watch.preset });
  }
  return shown;
}

/**
 * Live video of the incident's cameras, in the browser (no plugin): a ticket from the hub, then a <video> on the
 * stream it names. Players already open for this incident are kept, playing, across the panel's redraws.
 */
function liveSection(incident) {
  // The panel on show: this incident's players stay; another incident's are ended before the panel is replaced.
  const kept = ui.panel.querySelector('#live');
  if (kept !== null && kept.dataset.incident === incident.id) return kept;
  if (kept !== null) stopPlayers(kept);
  const players = el('div', { class: 'players' });
  const message = el('p', { class: 'error', role: 'alert' });
  const watch = async (camera) => {
    message.textContent = '';
    try {
      const { url } = await api.post(`/api/cameras/${encodeURIComponent(camera.id)}/live`);
      players.querySelector(`[data-camera="${CSS.escape(camera.id)}"]`)?.remove();
      const video = el('video', {
        autoplay: true,
        muted: true,
        playsinline: true,
        dataset: { camera: camera.id },
      });
      video.muted = true;
      video.src = url;
      const close = el('button', { type: 'button', class: 'link', onclick: () => stopPlayers(figure) }, '✕');
      const figure = el(
        'figure',
        { dataset: { camera: camera.id } },
        video,
        el('figcaption', {}, `${t('live.title', { camera: camera.name })} `, close),
      );
      players.append(figure);
    } catch (error) {
      message.textContent = errorLabel(error);
    }
  };
  const turn = async (camera, preset) => {
    message.textContent = '';
    try {
      await api.post(`/api/cameras/${encodeURIComponent(camera.id)}/presets/${encodeURIComponent(preset)}`);
    } catch (error) {
      message.textContent = errorLabel(error);
    }
  };
  const cameras = camerasOf(incident);
  return el(
    'section',
    { id: 'live', dataset: { incident: incident.id } },
    cameras.length === 0
      ? null
      : el(
          'div',
          { class: 'actions' },
          ...cameras.flatMap(({ camera, preset }) => [
            el(
              'button',
              { type: 'button', dataset: { live: camera.id }, onclick: () => watch(camera) },
              `▶ ${t('live.watch', { camera: camera.name })}`,
            ),
            preset === undefined
              ? null
              : el(
                  'button',
                  {
                    type: 'button',
                    dataset: { preset, camera: camera.id },
                    onclick: () => turn(camera, preset),
                  },
                  t('live.preset', { preset }),
                ),
          ]),
        ),
    players,
    message,
  );
}

/** Ends live players: their streams close, and the hub ends their ffmpeg. */
function stopPlayers(container) {
  for (const video of container.querySelectorAll('video')) {
    video.removeAttribute('src');
    video.load();
  }
  if (container.tagName === 'FIGURE') container.remove();
}

/** The buttons of the panel, in this order; only those the server offers this officer now are shown. */
const panelActions = [
  'dispatch',
  'escalate',
  'supervise',
  'verify',
  'reject',
  'resolve',
  'false_alarm',
  'cancel',
  // #25: the approval chain, 延期 decisions, 挂账, coordination, feedback, 退回.
  'approve',
  'deny',
  'object_notice',
  'approve_extension',
  'deny_extension',
  'suspend',
  'resume',
  'hand_off',
  'coordinate_done',
  'feedback',
  'return',
];

/** 登记 (#25): the registration button and form (people-cases.js); the new case is shown in the panel. */
async function addRegisterForm() {
  await loadCatalogue();
  const grids = await myGrids();
  const { button, form } = registerButton({ grids, created: (incident) => showIncident(incident.id) });
  root.querySelector('header.bar')?.append(button);
  ui.error.after(form);
}

async function showIncident(id) {
  const seq = ++shownSeq;
  state.selected = id;
  // Its grid's and answering centre's rosters are asked for with it when the page holds the incident already.
  const known = state.incidents.get(id) ?? state.open.get(id) ?? state.resolved.get(id);
  const knownCentre = known === undefined ? undefined : answeringCentre(known);
  const rosterOf = (grid) => api.get(`/api/rosters/${encodeURIComponent(grid)}`).catch(() => undefined);
  const [fetched, audit, offered, rosterKnown, centreRosterKnown, orderKnown] = await Promise.all([
    api.get(`/api/incidents/${encodeURIComponent(id)}`),
    api.get(`/api/incidents/${encodeURIComponent(id)}/audit`),
    // What this officer may do now (the lifecycle's table, by role, state and relation to the case).
    api.get(`/api/incidents/${encodeURIComponent(id)}/actions`).catch(() => undefined),
    // Who is on duty in its grid now (the grid's roster; none: every worker of the grid is).
    known === undefined ? undefined : rosterOf(known.gridId),
    knownCentre === undefined ? undefined : rosterOf(knownCentre.id),
    // A 12345 case's work order (#25), read each time the panel is drawn: 签收, 回访 and 退单 push its case.
    isHotlineCase(known) ? loadWorkOrder(id) : undefined,
  ]);
  const order = orderKnown ?? (isHotlineCase(fetched) ? await loadWorkOrder(id) : undefined);
  const roster = rosterKnown ?? (await rosterOf(fetched.gridId));
  const centre = answeringCentre(fetched);
  const centreRoster =
    centre === undefined
      ? undefined
      : centre.id === knownCentre?.id
        ? centreRosterKnown
        : await rosterOf(centre.id);
  // A newer call (a push, another click) may have finished first: only the latest one draws.
  if (seq !== shownSeq) return;
  // The hub pushes a device's repeat before its store (and so this answer) has it: the newer of the two is shown.
  const held = state.incidents.get(id) ?? state.open.get(id);
  const incident = held !== undefined && held.updatedAt > fetched.updatedAt ? held : fetched;
  remember(incident);
  const allowed = new Set(offered?.actions ?? [...panelActions, 'acknowledge', 'note']);
  // What the officer is typing survives a rebuild of the same incident's panel (pushes rebuild it): the very
  // field is kept (with the keys typed while the panel is redrawn and the caret), and its focus given back.
  const previous = ui.panel.dataset.id === id ? ui.panel : null;
  const message = el('p', { class: 'error', id: 'action-error', role: 'alert' });
  const note =
    previous?.querySelector('#note') ??
    el('textarea', { id: 'note', 'aria-label': t('note'), placeholder: t('note.reason'), rows: 2 });
  message.textContent = previous?.querySelector('#action-error')?.textContent ?? '';
  // The dispatch picker: the grid's workers on duty first, then by name, each with their open cases.
  const onDuty = new Set(roster?.onDutyNow ?? []);
  const load = openLoad();
  const workers = state.users
    .filter((user) => user.role === 'grid_worker' && (user.grids ?? []).includes(incident.gridId))
    .sort(
      (a, b) => Number(onDuty.has(b.id)) - Number(onDuty.has(a.id)) || a.name.localeCompare(b.name, 'zh-CN'),
    );
  const assignee = el(
    'select',
    { id: 'assignee', 'aria-label': t('worker') },
    ...workers.map((user) =>
      el(
        'option',
        {
          value: user.id,
          dataset: { onDuty: String(onDuty.has(user.id)), load: String(load.get(user.id) ?? 0) },
        },
        t('picker.worker', {
          name: user.name,
          duty: t(onDuty.has(user.id) ? 'picker.onDuty' : 'picker.offDuty'),
          load: load.get(user.id) ?? 0,
        }),
      ),
    ),
  );
  const chosen = previous?.querySelector('#assignee')?.value;
  if (chosen) assignee.value = chosen;
  const refuse = (action, text) => {
    // A push may have rebuilt the panel meanwhile: write into the one on show.
    (ui.panel.querySelector('#action-error') ?? message).textContent = t('refused', {
      action: actionLabel(action),
      message: text,
    });
  };
  const act = (action, body) => async () => {
    message.textContent = '';
    if (needsReason.has(action) && !note.value.trim()) {
      refuse(action, t('note.required', { action: actionLabel(action) }));
      ui.panel.querySelector('#note')?.focus();
      return;
    }
    try {
      const after = await api.act(id, action, body?.());
      remember(after);
      note.value = '';
      await showIncident(id);
      render();
    } catch (error) {
      refuse(action, errorLabel(error));
    }
  };
  const withNote = () => (note.value.trim() ? { note: note.value.trim() } : {});
  const button = (action, handler, extra = {}) =>
    el('button', { type: 'button', dataset: { action }, onclick: handler, ...extra }, actionLabel(action));
  const acknowledgement = acknowledgementOf(incident);
  // The same evidence as shown: its players are kept, playing, across the redraw (a colleague's action redraws it).
  const evidenceKey = (incident.evidence ?? []).map((item) => item.url).join(' ');
  const shownEvidence = previous?.querySelector('#evidence');
  const keep = shownEvidence?.dataset.key === evidenceKey ? shownEvidence : null;
  const evidence = keep ?? el('div', { class: 'evidence', id: 'evidence', dataset: { key: evidenceKey } });
  for (const item of keep === null ? (incident.evidence ?? []) : []) {
    const camera = state.devices.get(item.cameraId)?.name ?? item.cameraId;
    // Field uploads (photo, video) are labelled by their stage and uploader; cameras' by the camera.
    const label = item.uploadedBy
      ? t(`upload.${item.kind}`, { stage: t(`upload.${item.stage}`), user: nameOf(item.uploadedBy) })
      : t(item.kind === 'snapshot' ? 'snapshot' : 'clip', { camera });
    const holder =
      item.kind === 'snapshot' || item.kind === 'photo'
        ? el('img', { alt: label, dataset: { source: item.url } })
        : el('video', { controls: true, muted: true, preload: 'metadata', dataset: { source: item.url } });
    evidence.append(
      el(
        'figure',
        { dataset: { kind: item.kind, stage: item.stage ?? '' } },
        holder,
        el('figcaption', {}, `${label} · ${time(item.capturedAt)}`),
      ),
    );
    mediaOf(id, item.url)
      .then((url) => {
        holder.src = url;
      })
      .catch((error) => evidence.append(el('p', { class: 'error' }, error.message)));
  }
  const chainIndex = incident.chain.findIndex((node) => node.id === incident.responsibleNodeId);
  const responsible = incident.chain[chainIndex]?.name ?? incident.responsibleNodeId;
  const nextLevel = chainIndex >= 0 ? incident.chain[chainIndex + 1]?.name : undefined;
  const lifecycle = lifecycleInputs(incident, allowed, previous);
  const handlers = {
    dispatch: act('dispatch', () => ({ assignees: [assignee.value], ...withNote() })),
    note: act('note', () => ({ note: note.value.trim() || '—' })),
    ...lifecycle.handlers(act, withNote),
  };
  const live = liveSection(incident);
  const typing = document.activeElement === note;
  ui.panel.dataset.id = id;
  // The sections a case lacks are null: left out (replaceChildren would show a null as the text "null").
  ui.panel.replaceChildren(
    ...[
      el('h2', {}, incidentTitle(incident)),
      incident.description
        ? el('p', { class: 'description', id: 'incident-description' }, incident.description)
        : null,
      procedureSection(incident),
      order === undefined
        ? null
        : workOrderSection(order, {
            previous,
            done: async () => {
              await showIncident(id);
              render();
            },
          }),
      el(
        'p',
        { class: 'meta' },
        el(
          'span',
          { class: `badge sev-${incident.severity}`, dataset: { severity: incident.severity } },
          severityLabel(incident.severity),
        ),
        ' ',
        el(
          'span',
          { class: 'badge state', id: 'incident-state', dataset: { state: incident.state } },
          stateLabel(incident.state),
        ),
        ' ',
        el(
          'span',
          { class: 'badge', id: 'incident-category' },
          categoryLabel(incident.category, incident.subcategory),
        ),
      ),
      el(
        'dl',
        {},
        el('dt', {}, t('field.grid')),
        el('dd', {}, incident.chain.map((node) => node.name).join(' ← ')),
        el('dt', {}, t('field.responsible')),
        el(
          'dd',
          {
            id: 'responsible',
            dataset: { node: incident.responsibleNodeId, escalations: String(incident.escalations) },
          },
          responsible,
          incident.escalations > 0
            ? t(nextLevel ? 'field.escalated' : 'field.escalatedTop', {
                count: incident.escalations,
                next: nextLevel,
              })
            : '',
        ),
        el('dt', {}, t('field.device')),
        el('dd', {}, incident.device.name, incident.device.address ? ` · ${incident.device.address}` : ''),
        incident.arrival
          ? [
              el('dt', {}, t('arrival.label')),
              el(
                'dd',
                {
                  id: 'arrival',
                  class: incident.arrival.far ? 'far' : '',
                  dataset: { far: String(incident.arrival.far) },
                },
                t(incident.arrival.far ? 'arrival.far' : 'arrival.near', {
                  distance: incident.arrival.distanceM,
                  accuracy: incident.arrival.accuracyM,
                }),
              ),
            ]
          : null,
        el('dt', {}, t('field.created')),
        el('dd', {}, time(incident.createdAt), incident.occurrences > 1 ? ` · ×${incident.occurrences}` : ''),
        el('dt', {}, t('field.acknowledged')),
        el(
          'dd',
          { id: 'acknowledged' },
          (incident.acknowledgements ?? [])
            .map((entry) => {
              const centre = incident.chain.find((node) => node.id === entry.nodeId)?.name ?? entry.nodeId;
              return `${centre}: ${nameOf(entry.userId)} ${time(entry.at)}`;
            })
            .join('; ') || '—',
        ),
        el('dt', {}, t('field.assignees')),
        el(
          'dd',
          { id: 'assignees', dataset: { users: incident.assignees.join(',') } },
          incident.assignees.map(nameOf).join('、') || '—',
        ),
        el('dt', {}, t('field.onDuty')),
        el(
          'dd',
          { id: 'on-duty', dataset: { users: [...onDuty].join(',') } },
          [...onDuty].map(nameOf).join('、') || '—',
          roster?.shifts ? ` (${roster.shifts.map((shift) => `${shift.from}–${shift.to}`).join('，')})` : '',
        ),
        centre === undefined
          ? null
          : [
              el('dt', {}, t('field.centreDuty')),
              el(
                'dd',
                {
                  id: 'centre-duty',
                  dataset: { node: centre.id, users: (centreRoster?.onDutyNow ?? []).join(',') },
                },
                `${centre.name}: ${(centreRoster?.onDutyNow ?? []).map(nameOf).join('、') || '—'}`,
              ),
            ],
        el('dt', {}, t('field.handler')),
        el(
          'dd',
          { id: 'handler', dataset: { user: incident.handler ?? '' } },
          incident.handler ? nameOf(incident.handler) : '—',
        ),
        el('dt', {}, t('field.due')),
        el(
          'dd',
          { id: 'due' },
          countdownElement(incident) ?? '—',
          incident.dueAt ? ` (${time(incident.dueAt)})` : '',
        ),
        (incident.supervisions ?? []).length > 0
          ? [
              el('dt', {}, t('field.supervisions')),
              el(
                'dd',
                { id: 'supervisions' },
                ...incident.supervisions.map((entry) =>
                  el('div', {}, `${nameOf(entry.userId)} ${time(entry.at)}: ${entry.note}`),
                ),
              ),
            ]
          : null,
        incident.resolution ? [el('dt', {}, t('field.resolution')), el('dd', {}, incident.resolution)] : null,
        caseRecords(incident),
      ),
      evidence,
      live,
      el(
        'div',
        { class: 'actions' },
        acknowledgement
          ? el(
              'button',
              {
                type: 'button',
                dataset: { action: 'acknowledge' },
                disabled: true,
                title: `${nameOf(acknowledgement.userId)} ${time(acknowledgement.at)}`,
              },
              `✓ ${t('acknowledgedBadge')}`,
            )
          : allowed.has('acknowledge')
            ? button('acknowledge', act('acknowledge'))
            : null,
        allowed.has('dispatch') ? assignee : null,
        ...lifecycle.fields,
        ...panelActions
          .filter((action) => allowed.has(action))
          .map((action) =>
            button(action, handlers[action] ?? act(action, withNote), {
              class: needsReason.has(action) ? 'needs-reason' : '',
              ...(action === 'escalate' && nextLevel
                ? { title: t('field.nextLevel', { next: nextLevel }) }
                : {}),
            }),
          ),
      ),
      note,
      allowed.has('note')
        ? el('button', { type: 'button', dataset: { action: 'note' }, onclick: handlers.note }, t('note.add'))
        : null,
      message,
      el('h3', {}, t('timeline')),
      el(
        'ol',
        { class: 'timeline', id: 'timeline' },
        ...audit.entries.map((entry) =>
          el(
            'li',
            { dataset: { outcome: entry.outcome, action: entry.action, actor: entry.actor.userId } },
            `${time(entry.at)} · ${nameOf(entry.actor.userId)} · ${auditLabel(entry.action)}${entry.outcome === 'ok' ? '' : ` (${entry.outcome})`}`,
            entry.detail?.note ? el('div', { class: 'meta' }, String(entry.detail.note)) : null,
            entry.message ? el('div', { class: 'meta' }, entry.message) : null,
          ),
        ),
      ),
    ].filter((child) => child !== null),
  );
  if (typing) note.focus();
  render();
}

/**
 * #25's inputs beyond the note, shown only when their action is offered: the review date of 挂账 (a day in the
 * hub's zone, resumed at its start), the department user of a hand-off (see coordinatorPicker), how the reporter
 * was told. Kept across a redraw as the note is.
 */
function lifecycleInputs(incident, allowed, previous) {
  const kept = (id, fresh) => {
    const value = previous?.querySelector(`#${id}`)?.value;
    if (value) fresh.value = value;
    return fresh;
  };
  const inWeek = new Date(Date.now() + 7 * 86_400_000);
  const reviewAt = allowed.has('suspend')
    ? kept(
        'review-at',
        el('input', {
          id: 'review-at',
          type: 'date',
          'aria-label': t('case.reviewAt'),
          value: today(inWeek),
        }),
      )
    : null;
  const coordinator = allowed.has('hand_off')
    ? coordinatorPicker(incident, previous?.querySelector('#coordinator')?.value)
    : null;
  const via = allowed.has('feedback')
    ? kept(
        'via',
        el(
          'select',
          { id: 'via', 'aria-label': t('case.via') },
          ...['phone', 'sms', 'in_person', 'platform'].map((channel) =>
            el('option', { value: channel }, t(`via.${channel}`)),
          ),
        ),
      )
    : null;
  return {
    fields: [reviewAt, coordinator, via].filter((field) => field !== null),
    handlers: (act, withNote) => ({
      suspend: act('suspend', () => ({
        ...withNote(),
        reviewAt: new Date(zonedMidnight(reviewAt.value)).toISOString(),
      })),
      hand_off: act('hand_off', () => ({ ...withNote(), coordinator: coordinator.value })),
      feedback: act('feedback', () => ({ ...withNote(), via: via.value })),
    }),
  };
}

/** The departments a case may be handed to, with their users serving the caller's part (GET /api/departments). */
const handOff = { departments: null, loading: null };

/**
 * The hand-off picker: by department, the users whose place lies on the case's chain (the hub refuses others) and
 * who are not coordinating it already. The departments are read once, the first time a picker is shown.
 */
function coordinatorPicker(incident, previousValue) {
  const select = el('select', { id: 'coordinator', 'aria-label': t('case.coordinatorPick') });
  const fill = () => {
    const places = new Set(incident.chain.map((node) => node.id));
    const busy = new Set(
      (incident.coordinators ?? []).filter((entry) => !entry.doneAt).map((entry) => entry.userId),
    );
    const groups = (handOff.departments ?? []).map((department) =>
      el(
        'optgroup',
        { label: department.name },
        ...department.users
          .filter((user) => places.has(user.scope) && !busy.has(user.id))
          .map((user) => el('option', { value: user.id }, user.name)),
      ),
    );
    select.replaceChildren(...groups.filter((group) => group.children.length > 0));
    if (previousValue) select.value = previousValue;
  };
  if (handOff.departments !== null) fill();
  else {
    handOff.loading ??= api
      .get('/api/departments')
      .then((answer) => {
        handOff.departments = answer.departments;
      })
      .finally(() => {
        handOff.loading = null;
      });
    handOff.loading.then(fill, (error) => {
      ui.error.textContent = errorLabel(error);
    });
  }
  return select;
}

/** What #25's actions left on the case: returns, extensions, a suspension, coordinators, feedback, approvals. */
function caseRecords(incident) {
  const rows = [];
  const row = (id, label, lines) => {
    if (lines.length > 0)
      rows.push(el('dt', {}, t(label)), el('dd', { id }, ...lines.map((line) => el('div', {}, line))));
  };
  row(
    'case-returns',
    'case.returns',
    (incident.returns ?? []).map((entry) =>
      t('case.return', { user: nameOf(entry.userId), time: time(entry.at), reason: entry.reason }),
    ),
  );
  row(
    'case-extensions',
    'case.extension',
    (incident.extensions ?? []).map((entry) =>
      entry.approved === undefined
        ? t('case.extensionPending', {
            user: nameOf(entry.requestedBy),
            until: time(entry.until),
            reason: entry.reason,
          })
        : t('case.extensionDecided', {
            user: nameOf(entry.requestedBy),
            until: time(entry.until),
            reason: entry.reason,
            decision: t(entry.approved ? 'case.extensionApproved' : 'case.extensionDenied'),
            by: nameOf(entry.decidedBy),
          }),
    ),
  );
  const suspension = incident.suspension;
  row(
    'case-suspension',
    'case.suspension',
    suspension
      ? [
          t('case.suspended', {
            user: nameOf(suspension.userId),
            time: time(suspension.at),
            reason: suspension.reason,
            review: time(suspension.reviewAt),
          }),
        ]
      : [],
  );
  row(
    'case-coordinators',
    'case.coordinators',
    (incident.coordinators ?? []).map(
      (entry) =>
        t('case.coordinator', {
          department: entry.departmentId,
          user: nameOf(entry.userId),
          note: entry.note,
        }) + (entry.doneAt ? t('case.coordinatorDone', { note: entry.doneNote ?? '' }) : ''),
    ),
  );
  const feedback = incident.feedback;
  row(
    'case-feedback',
    'case.feedback',
    feedback
      ? [
          t('case.feedbackLine', {
            user: nameOf(feedback.userId),
            time: time(feedback.at),
            via: t(`via.${feedback.via}`),
            note: feedback.note,
          }),
        ]
      : [],
  );
  const approval = incident.approval;
  row(
    'case-approval',
    'case.approval',
    approval
      ? approval.chain.map((nodeId, index) => {
          const decision = approval.decisions[index];
          const node = incident.chain.find((place) => place.id === nodeId)?.name ?? nodeId;
          const word = decision
            ? t(decision.approved ? 'case.approvalApproved' : 'case.approvalDenied') +
              ` · ${nameOf(decision.userId)} ${time(decision.at)}${decision.note ? ` · ${decision.note}` : ''}`
            : t('case.approvalWaiting');
          return t('case.approvalStep', { node, decision: word });
        })
      : [],
  );
  row('case-notice', 'case.notice', noticeLines(incident));
  return rows;
}

/** 公示 after the approval chain: running (until when), ended without objection, or objected to and by whom. */
function noticeLines(incident) {
  const notice = incident.approval?.notice;
  if (!notice) return [];
  const objection = notice.objection;
  if (objection) {
    const approver = incident.approval.chain.at(-1);
    const node = incident.chain.find((place) => place.id === approver)?.name ?? approver;
    return [
      t('case.noticeObjected', {
        user: nameOf(objection.userId),
        time: time(objection.at),
        reason: objection.reason,
        node,
      }),
    ];
  }
  const dates = { from: time(notice.from), until: time(notice.until) };
  return [t(notice.endedAt ? 'case.noticeEnded' : 'case.noticeRunning', dates)];
}

function assessmentForm() {
  // The month so far, in the deployment's time zone (the browser's may differ, and UTC is a day early at 08:00).
  const day = today();
  const from = el('input', {
    type: 'date',
    name: 'from',
    value: `${day.slice(0, 8)}01`,
    'aria-label': t('assessment.from'),
  });
  const to = el('input', { type: 'date', name: 'to', value: nextDay(day), 'aria-label': t('assessment.to') });
  const output = el('div', { id: 'assessment-output' });
  const query = () =>
    new URLSearchParams({
      from: new Date(zonedMidnight(from.value)).toISOString(),
      to: new Date(zonedMidnight(to.value)).toISOString(),
    });
  const load = async () => {
    try {
      renderAssessment(output, await api.get(`/api/assessment?${query()}`));
    } catch (error) {
      output.replaceChildren(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
    }
  };
  const download = async () => {
    try {
      await downloadFile(`/api/assessment?${query()}&format=csv`, `assessment-${from.value}-${to.value}.csv`);
    } catch (error) {
      output.prepend(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
    }
  };
  ui.loadAssessment = load;
  // Two tabs: the figures (统计) and the 千分制 scores (dashboard/score.js), loaded when first shown.
  const scores = scoresPanel();
  ui.scoresChanged = scores.changed;
  // 巡查 (dashboard/patrol-board.js): the grids' patrols and zero reports of a day, loaded each time it is shown.
  const board = patrolBoard({ openCase: (id) => showIncident(id).catch(showError) });
  const figures = el('div', { id: 'figures-panel' });
  const panels = [figures, scores.panel, board.panel];
  const tabs = el('div', { class: 'tabs', role: 'tablist' });
  const tab = (key, panel, onShow) =>
    el(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${key}`,
        'aria-selected': String(key === 'figures'),
        onclick: (event) => {
          for (const button of tabs.children) button.setAttribute('aria-selected', 'false');
          event.currentTarget.setAttribute('aria-selected', 'true');
          for (const shown of panels) shown.hidden = shown !== panel;
          onShow?.();
        },
      },
      t(`score.tab.${key}`),
    );
  tabs.append(
    tab('figures', figures),
    tab('scores', scores.panel, scores.load),
    tab('patrols', board.panel, board.load),
  );
  scores.panel.hidden = true;
  board.panel.hidden = true;
  ui.assessment.replaceChildren(el('h2', {}, t('assessment.title')), tabs, ...panels);
  figures.replaceChildren(
    el(
      'form',
      {
        class: 'filters',
        onsubmit: (event) => {
          event.preventDefault();
          load();
        },
      },
      from,
      to,
      el('button', { type: 'submit' }, t('assessment.show')),
      el('button', { type: 'button', id: 'assessment-csv', onclick: download }, 'CSV'),
    ),
    output,
  );
  load();
}

/** The day after a `YYYY-MM-DD` date. */
function nextDay(date) {
  const next = new Date(`${date}T12:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString().slice(0, 10);
}

let assessmentTimer;
/**
 * The figures change with every new case and state change: reloaded at most every two seconds. A timer started by
 * the first change and not pushed back by the next: under a steady stream of pushes a timer restarted by each would
 * never fire, and the table would stay as it was (what the officers saw: "the assessment goes stale").
 */
function refreshAssessment() {
  ui.scoresChanged?.();
  if (assessmentTimer !== undefined) return;
  assessmentTimer = setTimeout(() => {
    assessmentTimer = undefined;
    ui.loadAssessment?.();
  }, 2000);
}

function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)}%`;
}

/** The assessment's columns: each figure's heading and how it is shown. */
const assessmentColumns = [
  ['assessment.incidents', (figures) => String(figures.incidents)],
  ['assessment.closed', (figures) => String(figures.closed)],
  ['assessment.falseAlarms', (figures) => String(figures.falseAlarms)],
  ['assessment.onTimeAccept', (figures) => percent(figures.onTimeAcceptanceRate)],
  ['assessment.onTimeClose', (figures) => percent(figures.onTimeClosureRate)],
  [
    'assessment.p50Response',
    (figures) =>
      figures.responseSeconds.p50 === null
        ? '—'
        : t('assessment.seconds', { s: figures.responseSeconds.p50 }),
  ],
  ['assessment.supervised', (figures) => String(figures.supervised ?? 0)],
];

/** A table of figures, one row per place or person, each named in the first column. */
function figuresTable(attributes, heading, rows) {
  return el(
    'table',
    attributes,
    el(
      'thead',
      {},
      el('tr', {}, el('th', {}, t(heading)), ...assessmentColumns.map(([key]) => el('th', {}, t(key)))),
    ),
    el(
      'tbody',
      {},
      ...rows.map(({ name, figures, id }) =>
        el(
          'tr',
          { dataset: { id: id ?? '' } },
          el('td', {}, name),
          ...assessmentColumns.map(([, show]) => el('td', {}, show(figures))),
        ),
      ),
    ),
  );
}

function renderAssessment(output, assessment) {
  const rows = assessment.grids;
  const table = figuresTable(
    { id: 'assessment-table', dataset: { incidents: String(assessment.overall.incidents) } },
    'assessment.grid',
    [
      { name: t('assessment.all'), figures: assessment.overall },
      ...rows.map((row) => ({ name: row.gridName, figures: row.figures, id: row.gridId })),
    ],
  );
  // Each worker's cases (those they handled), by name.
  const workers = figuresTable(
    { id: 'assessment-workers' },
    'assessment.worker',
    (assessment.workers ?? []).map((row) => ({
      name: nameOf(row.userId),
      figures: row.figures,
      id: row.userId,
    })),
  );
  // The chart: incidents (bar) and closed (inner bar) per grid, inline SVG.
  const svgNs = 'http://www.w3.org/2000/svg';
  const barHeight = 16;
  const width = 520;
  const labelWidth = 150;
  const max = Math.max(1, ...rows.map((row) => row.figures.incidents));
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${rows.length * (barHeight + 6) + 6}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', t('assessment.chart'));
  rows.forEach((row, index) => {
    const y = 6 + index * (barHeight + 6);
    const scale = (value) => ((width - labelWidth - 40) * value) / max;
    const label = document.createElementNS(svgNs, 'text');
    label.setAttribute('x', '0');
    label.setAttribute('y', String(y + barHeight - 4));
    label.textContent = row.gridName;
    const total = document.createElementNS(svgNs, 'rect');
    total.setAttribute('x', String(labelWidth));
    total.setAttribute('y', String(y));
    total.setAttribute('height', String(barHeight));
    total.setAttribute('width', String(scale(row.figures.incidents)));
    total.setAttribute('class', 'bar total');
    const closed = document.createElementNS(svgNs, 'rect');
    closed.setAttribute('x', String(labelWidth));
    closed.setAttribute('y', String(y + 4));
    closed.setAttribute('height', String(barHeight - 8));
    closed.setAttribute('width', String(scale(row.figures.closed)));
    closed.setAttribute('class', 'bar closed');
    const count = document.createElementNS(svgNs, 'text');
    count.setAttribute('x', String(labelWidth + scale(row.figures.incidents) + 4));
    count.setAttribute('y', String(y + barHeight - 4));
    count.textContent = String(row.figures.incidents);
    svg.append(label, total, closed, count);
  });
  output.replaceChildren(
    table,
    svg,
    el('p', { class: 'meta' }, t('assessment.legend')),
    el('h3', {}, t('assessment.workers')),
    workers,
  );
}

function showError(error) {
  ui.error.textContent = errorLabel(error);
}

start().catch((error) => {
  root.textContent = error.message;
});
