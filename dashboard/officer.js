// The duty officer console: live alarm feed, jurisdiction tree and grid map, incident panel with evidence, audit
// and actions, filters, device health and the assessment. Every view is the server's state: it is reloaded after
// each action and after each reconnection, and live pushes replace what they change.
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
const state = {
  me: null,
  incidents: new Map(), // the feed: id → incident, as filtered
  open: new Map(), // every open incident the officer sees, for the map and the counter
  devices: new Map(),
  grids: [],
  nodes: [],
  users: [],
  selected: null,
  filters: { state: '', severity: '', category: '', node: '' },
  // The map's view, in the SVG's own units: kept across redraws (every push redraws the map).
  mapView: { x: 0, y: 0, zoom: 1 },
};
const ui = {};
/** Reloads from the server with the pushes that come meanwhile applied again over it (common.js connect). */
let reload = (load) => load();
const mapSize = { width: 420, height: 300 };
const maxZoom = 16;

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
}

async function start() {
  if (session() === null) await loginForm(root, 'e.g. officer-xijiao');
  state.me = session().me;
  layout();
  ({ reload } = connect({
    onStatus: (text) => {
      ui.status.textContent = text;
      ui.status.dataset.live = String(text === 'live');
    },
    onSync: () => sync().catch(showError),
    onNew: (incident, replayed) => {
      // Pushed again after an instance died mid-push (the hub pushes at least once), or applied again after a
      // reload (connect's `replayed`): sound it only the first time.
      const known = state.incidents.has(incident.id) || state.open.has(incident.id);
      remember(incident);
      if (incident.severity === 'critical' && !known && !replayed) beep(1046, 0.2, 3);
      render();
    },
    onUpdate: (change) => {
      const { after } = change;
      remember(after);
      render();
      if (state.selected === after.id) showIncident(after.id).catch(showError);
      if (after.state !== change.before.state) refreshAssessment();
    },
    onRepeat: (repeat) => {
      const known = state.incidents.get(repeat.id) ?? state.open.get(repeat.id);
      if (known === undefined) return;
      remember({ ...known, ...repeat });
      render();
      if (state.selected === repeat.id) showIncident(repeat.id).catch(showError);
    },
    onDevice: (status) => {
      const device = state.devices.get(status.deviceId);
      if (device) state.devices.set(status.deviceId, { ...device, status });
      renderDevices();
      renderMap();
    },
  }));
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
  const [grids, jurisdiction, devices, users, open] = await Promise.all([
    api.get('/api/grids'),
    api.get('/api/jurisdiction'),
    api.get('/api/devices'),
    api.get('/api/users').catch(() => ({ users: [] })),
    api.get(`/api/incidents?limit=500&state=${openStates.join(',')}`),
  ]);
  state.grids = grids.features;
  state.nodes = jurisdiction.nodes;
  state.users = users.users;
  state.devices = new Map(devices.devices.map((device) => [device.id, device]));
  state.open = new Map(open.incidents.map((incident) => [incident.id, incident]));
  await loadFeed();
  renderTree();
  renderDevices();
  refreshAssessment();
  if (state.selected) await showIncident(state.selected);
}

async function loadFeed() {
  const query = new URLSearchParams({ limit: '100' });
  for (const [key, value] of Object.entries(state.filters)) if (value) query.set(key, value);
  const { incidents } = await api.get(`/api/incidents?${query}`);
  state.incidents = new Map(incidents.map((incident) => [incident.id, incident]));
  render();
}

function layout() {
  ui.status = el('span', { class: 'status', id: 'status' }, 'connecting…');
  ui.unacked = el('span', { class: 'counter', id: 'unacked', title: 'unacknowledged alarms 未确认' }, '0');
  ui.error = el('p', { class: 'error', id: 'error', role: 'alert' });
  ui.feed = el('ol', { class: 'feed', id: 'feed', 'aria-label': 'alarm feed' });
  ui.tree = el('ul', { class: 'tree', id: 'tree' });
  ui.map = el('div', { class: 'map', id: 'map' });
  mapControls();
  ui.devices = el('ul', { class: 'devices', id: 'devices' });
  ui.panel = el(
    'section',
    { class: 'panel', id: 'incident' },
    el('p', { class: 'muted' }, 'Select an alarm.'),
  );
  ui.assessment = el('section', { class: 'assessment', id: 'assessment' });

  const select = (name, options) =>
    el(
      'select',
      {
        name,
        'aria-label': name,
        onchange: (event) => {
          state.filters[name] = event.target.value;
          reload(loadFeed).catch(showError);
        },
      },
      ...options.map(([value, label]) => el('option', { value }, label)),
    );
  ui.gridFilter = select('node', [['', 'all grids 全部网格']]);
  const filters = el(
    'div',
    { class: 'filters' },
    select('state', [
      ['', 'all states 全部状态'],
      [openStates.join(','), 'open 未结'],
      ...Object.entries(stateLabels),
    ]),
    select('severity', [
      ['', 'all severities 全部等级'],
      ['critical', 'critical 紧急'],
      ['major', 'major 重要'],
      ['warning', 'warning 警告'],
      ['info', 'info 提示'],
    ]),
    select('category', [
      ['', 'all categories 全部类别'],
      ...[
        'access_violation',
        'intrusion',
        'tamper',
        'fire',
        'emergency',
        'device_fault',
        'video_alert',
        'security',
      ].map((category) => [category, category]),
    ]),
    ui.gridFilter,
  );

  root.replaceChildren(
    el(
      'header',
      { class: 'bar' },
      el('h1', {}, 'gridhub · 值班指挥台'),
      el('span', { class: 'who' }, `${state.me.name} · ${state.me.role}`),
      el('span', {}, 'unacknowledged 未确认 ', ui.unacked),
      ui.status,
      el('button', { type: 'button', onclick: logout }, 'Log out'),
    ),
    ui.error,
    el(
      'div',
      { class: 'grid3' },
      el(
        'aside',
        {},
        el('h2', {}, 'Jurisdiction 辖区'),
        ui.tree,
        el(
          'h2',
          {},
          'Map 网格地图 ',
          el(
            'button',
            {
              type: 'button',
              class: 'link',
              id: 'map-reset',
              onclick: () => setMapView({ x: 0, y: 0, zoom: 1 }),
            },
            'reset 复位',
          ),
        ),
        ui.map,
        el('h2', {}, 'Devices 设备'),
        ui.devices,
      ),
      el('section', {}, el('h2', {}, 'Alarms 告警'), filters, ui.feed),
      ui.panel,
    ),
    ui.assessment,
  );
  assessmentForm();
}

function render() {
  const items = [...state.incidents.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  ui.feed.replaceChildren(
    ...items.map((incident) =>
      el(
        'li',
        {
          dataset: {
            id: incident.id,
            severity: incident.severity,
            state: incident.state,
            device: incident.device.id,
            acknowledged: String(acknowledgementOf(incident) !== undefined),
          },
          class: state.selected === incident.id ? 'selected' : '',
          tabindex: 0,
          onclick: () => showIncident(incident.id).catch(showError),
        },
        el('strong', {}, incident.title),
        el('span', { class: 'badge state' }, stateLabels[incident.state] ?? incident.state),
        acknowledgementOf(incident)
          ? el('span', { class: 'badge acknowledged' }, '✓ acknowledged 已确认')
          : null,
        el(
          'div',
          { class: 'meta' },
          `${incident.severity} · ${incident.chain[0].name} · ${incident.device.name} · ${time(incident.createdAt)}`,
        ),
      ),
    ),
  );
  const unacked = [...state.open.values()].filter(
    (incident) => acknowledgementOf(incident) === undefined,
  ).length;
  ui.unacked.textContent = String(unacked);
  ui.unacked.dataset.count = String(unacked);
  renderMap();
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
    el('option', { value: '' }, 'all grids 全部网格'),
    ...state.nodes.map((node) => el('option', { value: node.id }, node.name)),
  );
  ui.gridFilter.value = state.filters.node;
}

/** The grid polygons from the GeoJSON, fitted equirectangularly into the SVG; no tiles. */
function renderMap() {
  if (state.grids.length === 0) return;
  const { width, height } = mapSize;
  const points = state.grids.flatMap((feature) => feature.geometry.coordinates.flat());
  for (const device of state.devices.values()) if (device.location) points.push(device.location);
  const lons = points.map((point) => point[0]);
  const lats = points.map((point) => point[1]);
  const [minLon, maxLon, minLat, maxLat] = [
    Math.min(...lons),
    Math.max(...lons),
    Math.min(...lats),
    Math.max(...lats),
  ];
  const cos = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const scale = Math.min(
    (width - 20) / ((maxLon - minLon) * cos || 1),
    (height - 20) / (maxLat - minLat || 1),
  );
  const project = ([lon, lat]) => [10 + (lon - minLon) * cos * scale, height - 10 - (lat - minLat) * scale];
  const openGrids = new Set([...state.open.values()].map((incident) => incident.gridId));
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', mapViewBox());
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'grid map');
  for (const feature of state.grids) {
    const ring = feature.geometry.coordinates[0];
    const polygon = document.createElementNS(svgNs, 'polygon');
    polygon.setAttribute('points', ring.map((point) => project(point).join(',')).join(' '));
    polygon.setAttribute('class', openGrids.has(feature.id) ? 'grid open' : 'grid');
    polygon.dataset.grid = feature.id;
    polygon.dataset.open = String(openGrids.has(feature.id));
    const title = document.createElementNS(svgNs, 'title');
    title.textContent = feature.properties.name;
    polygon.append(title);
    const [cx, cy] = ring
      .slice(0, -1)
      .map(project)
      .reduce(([x, y], [px, py], _index, all) => [x + px / all.length, y + py / all.length], [0, 0]);
    const label = document.createElementNS(svgNs, 'text');
    label.setAttribute('x', String(cx));
    label.setAttribute('y', String(cy));
    label.setAttribute('class', 'grid-label');
    label.textContent = feature.properties.name;
    svg.append(polygon, label);
  }
  for (const device of state.devices.values()) {
    if (!device.location) continue;
    const [x, y] = project(device.location);
    const dot = document.createElementNS(svgNs, 'circle');
    dot.setAttribute('cx', String(x));
    dot.setAttribute('cy', String(y));
    dot.setAttribute('r', '4');
    dot.setAttribute('class', device.status.online ? 'device online' : 'device offline');
    dot.dataset.device = device.id;
    const title = document.createElementNS(svgNs, 'title');
    title.textContent = `${device.name} · ${device.status.online ? 'online' : 'offline'}`;
    dot.append(title);
    svg.append(dot);
  }
  ui.map.replaceChildren(svg);
}

function mapViewBox() {
  const { x, y, zoom } = state.mapView;
  return `${x} ${y} ${mapSize.width / zoom} ${mapSize.height / zoom}`;
}

/** Sets the view, kept inside the map (no panning off into nothing), and applies it to the SVG on show. */
function setMapView({ x, y, zoom }) {
  const clampedZoom = Math.min(maxZoom, Math.max(1, zoom));
  const width = mapSize.width / clampedZoom;
  const height = mapSize.height / clampedZoom;
  state.mapView = {
    x: Math.min(mapSize.width - width, Math.max(0, x)),
    y: Math.min(mapSize.height - height, Math.max(0, y)),
    zoom: clampedZoom,
  };
  ui.map.querySelector('svg')?.setAttribute('viewBox', mapViewBox());
  ui.map.dataset.zoom = String(clampedZoom);
}

/**
 * Wheel zoom about the pointer and drag to pan, on the map's container: the SVG inside is redrawn with every push,
 * the container and its listeners stay.
 */
function mapControls() {
  /** Where a client point falls in the SVG's units, and as a fraction of the view. */
  const locate = (event) => {
    const box = ui.map.querySelector('svg')?.getBoundingClientRect();
    if (!box || box.width === 0) return undefined;
    const fx = (event.clientX - box.left) / box.width;
    const fy = (event.clientY - box.top) / box.height;
    const { x, y, zoom } = state.mapView;
    return { fx, fy, px: x + (fx * mapSize.width) / zoom, py: y + (fy * mapSize.height) / zoom, box };
  };
  ui.map.addEventListener(
    'wheel',
    (event) => {
      const at = locate(event);
      if (!at) return;
      event.preventDefault();
      const zoom = Math.min(maxZoom, Math.max(1, state.mapView.zoom * (event.deltaY < 0 ? 1.25 : 0.8)));
      // The point under the pointer stays under it.
      setMapView({
        x: at.px - (at.fx * mapSize.width) / zoom,
        y: at.py - (at.fy * mapSize.height) / zoom,
        zoom,
      });
    },
    { passive: false },
  );
  let drag;
  ui.map.addEventListener('pointerdown', (event) => {
    const at = locate(event);
    if (!at || event.button !== 0) return;
    drag = { clientX: event.clientX, clientY: event.clientY, view: state.mapView, box: at.box };
    ui.map.setPointerCapture(event.pointerId);
    ui.map.classList.add('dragging');
  });
  ui.map.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const { view, box } = drag;
    setMapView({
      x: view.x - ((event.clientX - drag.clientX) / box.width) * (mapSize.width / view.zoom),
      y: view.y - ((event.clientY - drag.clientY) / box.height) * (mapSize.height / view.zoom),
      zoom: view.zoom,
    });
  });
  const end = () => {
    drag = undefined;
    ui.map.classList.remove('dragging');
  };
  ui.map.addEventListener('pointerup', end);
  ui.map.addEventListener('pointercancel', end);
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
          `${device.status.online ? 'online' : 'offline'}${device.status.disabled ? ' · disabled' : ''} · last ${time(device.status.lastSeenAt)}`,
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

async function showIncident(id) {
  const seq = ++shownSeq;
  state.selected = id;
  const [fetched, audit] = await Promise.all([
    api.get(`/api/incidents/${encodeURIComponent(id)}`),
    api.get(`/api/incidents/${encodeURIComponent(id)}/audit`),
  ]);
  // A newer call (a push, another click) may have finished first: only the latest one draws.
  if (seq !== shownSeq) return;
  // The hub pushes a device's repeat before its store (and so this answer) has it: the newer of the two is shown.
  const held = state.incidents.get(id) ?? state.open.get(id);
  const incident = held !== undefined && held.updatedAt > fetched.updatedAt ? held : fetched;
  remember(incident);
  // What the officer was typing survives a rebuild of the same incident's panel (pushes rebuild it).
  const previous = ui.panel.dataset.id === id ? ui.panel : null;
  const message = el('p', { class: 'error', id: 'action-error', role: 'alert' });
  const note = el('textarea', { id: 'note', 'aria-label': 'note', placeholder: 'note 备注', rows: 2 });
  note.value = previous?.querySelector('#note')?.value ?? '';
  message.textContent = previous?.querySelector('#action-error')?.textContent ?? '';
  const workers = state.users.filter(
    (user) => user.role === 'grid_worker' && (user.grids ?? []).includes(incident.gridId),
  );
  const assignee = el(
    'select',
    { id: 'assignee', 'aria-label': 'worker' },
    ...workers.map((user) => el('option', { value: user.id }, `${user.name} (${user.id})`)),
  );
  const chosen = previous?.querySelector('#assignee')?.value;
  if (chosen) assignee.value = chosen;
  const act = (action, body) => async () => {
    message.textContent = '';
    try {
      const after = await api.act(id, action, body?.());
      remember(after);
      note.value = '';
      await showIncident(id);
      render();
    } catch (error) {
      // A push may have rebuilt the panel meanwhile: write into the one on show.
      (ui.panel.querySelector('#action-error') ?? message).textContent =
        `${action} refused: ${error.message}`;
    }
  };
  const withNote = () => (note.value.trim() ? { note: note.value.trim() } : {});
  const button = (label, action, handler, extra = {}) =>
    el('button', { type: 'button', dataset: { action }, onclick: handler, ...extra }, label);
  const acknowledgement = acknowledgementOf(incident);
  const open = openStates.includes(incident.state);
  const evidence = el('div', { class: 'evidence', id: 'evidence' });
  for (const item of incident.evidence ?? []) {
    const holder =
      item.kind === 'snapshot'
        ? el('img', { alt: `snapshot ${item.cameraId}`, dataset: { source: item.url } })
        : el('video', { controls: true, muted: true, preload: 'metadata', dataset: { source: item.url } });
    evidence.append(holder);
    mediaOf(id, item.url)
      .then((url) => {
        holder.src = url;
      })
      .catch((error) => evidence.append(el('p', { class: 'error' }, error.message)));
  }
  ui.panel.dataset.id = id;
  ui.panel.replaceChildren(
    el('h2', {}, incident.title),
    el(
      'p',
      { class: 'meta' },
      el('span', { class: `badge sev-${incident.severity}` }, incident.severity),
      ' ',
      el(
        'span',
        { class: 'badge state', id: 'incident-state', dataset: { state: incident.state } },
        stateLabels[incident.state] ?? incident.state,
      ),
    ),
    el(
      'dl',
      {},
      el('dt', {}, 'Grid 网格'),
      el('dd', {}, incident.chain.map((node) => node.name).join(' ← ')),
      el('dt', {}, 'Responsible 责任中心'),
      el(
        'dd',
        { id: 'responsible' },
        incident.chain.find((node) => node.id === incident.responsibleNodeId)?.name ??
          incident.responsibleNodeId,
        incident.escalations > 0 ? ` (escalated ×${incident.escalations})` : '',
      ),
      el('dt', {}, 'Device 设备'),
      el('dd', {}, `${incident.device.name} (${incident.device.id})`),
      el('dt', {}, 'Created 时间'),
      el('dd', {}, time(incident.createdAt)),
      el('dt', {}, 'Acknowledged 确认'),
      el(
        'dd',
        { id: 'acknowledged' },
        (incident.acknowledgements ?? [])
          .map((entry) => {
            const centre = incident.chain.find((node) => node.id === entry.nodeId)?.name ?? entry.nodeId;
            return `${centre}: ${entry.userId} ${time(entry.at)}`;
          })
          .join('; ') || '—',
      ),
      el('dt', {}, 'Assignees 处置人'),
      el('dd', { id: 'assignees' }, incident.assignees.join(', ') || '—'),
      el('dt', {}, 'Handler 接单人'),
      el('dd', {}, incident.handler ?? '—'),
      el('dt', {}, 'Due 时限'),
      el('dd', {}, incident.dueAt ? `${incident.dueStage} by ${time(incident.dueAt)}` : '—'),
      incident.resolution ? [el('dt', {}, 'Resolution 处置'), el('dd', {}, incident.resolution)] : null,
    ),
    evidence,
    el(
      'div',
      { class: 'actions' },
      acknowledgement
        ? button('Acknowledged ✓ 已确认', 'acknowledge', undefined, {
            disabled: true,
            title: `${acknowledgement.userId} ${time(acknowledgement.at)}`,
          })
        : button('Acknowledge 确认', 'acknowledge', act('acknowledge'), { disabled: !open }),
      assignee,
      button(
        'Dispatch 派遣',
        'dispatch',
        act('dispatch', () => ({ assignees: [assignee.value], ...withNote() })),
      ),
      button('Escalate 上报', 'escalate', act('escalate', withNote)),
      button('Resolve 处置', 'resolve', act('resolve', withNote)),
      button('Close 结案', 'verify', act('verify', withNote)),
      button('Reject 退回', 'reject', act('reject', withNote)),
      button('False alarm 误报', 'false_alarm', act('false_alarm', withNote)),
      button('Cancel 撤销', 'cancel', act('cancel', withNote)),
    ),
    note,
    button(
      'Add note 添加备注',
      'note',
      act('note', () => ({ note: note.value.trim() || '—' })),
    ),
    message,
    el('h3', {}, 'Timeline 处置记录'),
    el(
      'ol',
      { class: 'timeline', id: 'timeline' },
      ...audit.entries.map((entry) =>
        el(
          'li',
          { dataset: { outcome: entry.outcome, action: entry.action } },
          `${time(entry.at)} · ${entry.actor.userId} · ${entry.action}${entry.outcome === 'ok' ? '' : ` (${entry.outcome})`}`,
          entry.detail?.note ? el('div', { class: 'meta' }, String(entry.detail.note)) : null,
          entry.message ? el('div', { class: 'meta' }, entry.message) : null,
        ),
      ),
    ),
  );
  render();
}

function assessmentForm() {
  const now = new Date();
  const monthStart = new Date(now.getFullYear(), now.getMonth(), 1);
  const day = (date) => date.toISOString().slice(0, 10);
  const from = el('input', { type: 'date', name: 'from', value: day(monthStart), 'aria-label': 'from' });
  const to = el('input', {
    type: 'date',
    name: 'to',
    value: day(new Date(now.getTime() + 86_400_000)),
    'aria-label': 'to',
  });
  const output = el('div', { id: 'assessment-output' });
  const load = async () => {
    try {
      const query = new URLSearchParams({
        from: new Date(`${from.value}T00:00:00`).toISOString(),
        to: new Date(`${to.value}T00:00:00`).toISOString(),
      });
      renderAssessment(output, await api.get(`/api/assessment?${query}`));
    } catch (error) {
      output.replaceChildren(el('p', { class: 'error', role: 'alert' }, error.message));
    }
  };
  ui.loadAssessment = load;
  ui.assessment.replaceChildren(
    el('h2', {}, 'Assessment 考核统计'),
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
      el('button', { type: 'submit' }, 'Show 查询'),
    ),
    output,
  );
  load();
}

let assessmentTimer;
/** The figures change with every state change: reload them, at most twice a second. */
function refreshAssessment() {
  clearTimeout(assessmentTimer);
  assessmentTimer = setTimeout(() => ui.loadAssessment?.(), 500);
}

function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)}%`;
}

function renderAssessment(output, assessment) {
  const rows = assessment.grids;
  const table = el(
    'table',
    { id: 'assessment-table', dataset: { incidents: String(assessment.overall.incidents) } },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...[
          'Grid 网格',
          'Incidents',
          'Closed',
          'False alarms',
          'On-time accept',
          'On-time close',
          'p50 response',
        ].map((label) => el('th', {}, label)),
      ),
    ),
    el(
      'tbody',
      {},
      ...[{ gridName: 'All 合计', figures: assessment.overall }, ...rows].map(({ gridName, figures }) =>
        el(
          'tr',
          {},
          el('td', {}, gridName),
          el('td', {}, String(figures.incidents)),
          el('td', {}, String(figures.closed)),
          el('td', {}, String(figures.falseAlarms)),
          el('td', {}, percent(figures.onTimeAcceptanceRate)),
          el('td', {}, percent(figures.onTimeClosureRate)),
          el('td', {}, figures.responseSeconds.p50 === null ? '—' : `${figures.responseSeconds.p50}s`),
        ),
      ),
    ),
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
  svg.setAttribute('aria-label', 'incidents and closed per grid');
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
  output.replaceChildren(table, svg, el('p', { class: 'meta' }, 'bar: incidents · inner bar: closed'));
}

function showError(error) {
  ui.error.textContent = error.message;
}

start().catch((error) => {
  root.textContent = error.message;
});
