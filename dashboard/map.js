// The officer console's map: Leaflet over the deployment's own tiles (Tianditu, AMap, a self-hosted server) or over
// nothing at all (an offline centre: the grids and devices alone). Grids from the jurisdiction's GeoJSON, coloured by
// the most severe alarm not yet acknowledged in them; every device placed with its live state; the selected alarm's
// device ringed. Coordinates are converted when the tiles are drawn in another system than the configuration's
// (GCJ-02 for AMap and Tencent, WGS-84 for Tianditu and OpenStreetMap), with gcoord.
import gcoord from '/dashboard/vendor/gcoord.js';
import * as L from '/dashboard/vendor/leaflet.js';
import { t } from './i18n.js';

/** The fill of a grid by the most severe unacknowledged alarm in it; none: no fill. */
const severityColours = { critical: '#d32f2f', major: '#f57c00', warning: '#fbc02d', info: '#90a4ae' };
const severityOrder = ['critical', 'major', 'warning', 'info'];

/** What a device is, by its adapter: how the map draws it (its outline) and names it. */
const kinds = {
  'gate-access': 'gate',
  'zkteco-adms': 'gate',
  'hikvision-isapi': 'gate',
  'sentry-box': 'sentry',
  'alarm-panel-cid': 'sentry',
  'onvif-camera': 'camera',
  'dahua-cgi': 'camera',
  gb28181: 'camera',
};
export const kindOf = (adapter) => kinds[adapter] ?? 'gate';

export class GridMap {
  /**
   * @param container the element the map lives in (kept across redraws)
   * @param settings /api/console's `map`: `{ coordinates, tiles }`
   * @param handlers `onGrid(gridId)`, `onDevice(deviceId)`: a click on a grid or a device
   */
  constructor(container, settings, handlers) {
    this.handlers = handlers;
    const tiles = settings?.tiles ?? null;
    const from = settings?.coordinates === 'GCJ02' ? gcoord.GCJ02 : gcoord.WGS84;
    const to = tiles === null ? from : tiles.coordinates === 'GCJ02' ? gcoord.GCJ02 : gcoord.WGS84;
    /** [lon, lat] in the configuration's system → Leaflet's [lat, lng] in the tiles' system. */
    this.toMap =
      from === to
        ? ([lon, lat]) => [lat, lon]
        : (point) => {
            const [lon, lat] = gcoord.transform([point[0], point[1]], from, to);
            return [lat, lon];
          };
    this.map = L.map(container, {
      zoomSnap: 0.25,
      attributionControl: tiles !== null && tiles.attribution !== '',
      maxZoom: tiles?.maxZoom ?? 20,
    });
    container.dataset.tiles = tiles === null ? 'none' : 'on';
    if (tiles !== null) {
      L.tileLayer(tiles.url, {
        subdomains: tiles.subdomains || 'abc',
        maxZoom: tiles.maxZoom,
        attribution: tiles.attribution,
        // Tiles that fail (an offline centre with tiles configured) leave the grids and devices on their own.
        errorTileUrl: 'data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==',
      }).addTo(this.map);
    }
    this.grids = new Map();
    this.devices = new Map();
    this.gridLayer = L.layerGroup().addTo(this.map);
    this.deviceLayer = L.layerGroup().addTo(this.map);
    this.bounds = undefined;
    // On-duty workers' positions (#24): WGS-84 from their phones, whatever the configuration's system is.
    this.wgsToMap =
      to === gcoord.WGS84
        ? ([lon, lat]) => [lat, lon]
        : (point) => {
            const [lon, lat] = gcoord.transform([point[0], point[1]], gcoord.WGS84, to);
            return [lat, lon];
          };
    this.workers = new Map();
    this.workerLayer = L.layerGroup().addTo(this.map);
    this.staleMs = 15 * 60_000;
    // Each layer can be hidden on its own (a busy wall screen without the workers, say).
    L.control
      .layers(
        null,
        {
          [t('layer.grids')]: this.gridLayer,
          [t('layer.devices')]: this.deviceLayer,
          [t('layer.workers')]: this.workerLayer,
        },
        { collapsed: false, position: 'topright' },
      )
      .addTo(this.map);
  }

  /**
   * The workers' current positions as the hub lists them (GET /api/positions: `{positions, staleMinutes}`),
   * replacing those drawn; null (the hub would not list them) draws none.
   */
  setWorkers(listed) {
    this.workerLayer.clearLayers();
    this.workers.clear();
    if (listed === null || listed === undefined) return;
    this.staleMs = listed.staleMinutes * 60_000;
    for (const position of listed.positions) this.showWorker(position);
  }

  /** One worker's new position (a `worker:position` push): their marker moves, with its accuracy circle. */
  showWorker(position) {
    this.removeWorker(position.userId);
    const at = L.latLng(this.wgsToMap([position.lon, position.lat]));
    const accuracy = L.circle(at, {
      radius: position.accuracyM,
      className: 'worker-accuracy',
      weight: 1,
      interactive: false,
    });
    const marker = L.circleMarker(at, { radius: 7, weight: 2, className: 'worker' });
    marker.bindTooltip('', { permanent: true, direction: 'right', className: 'worker-label' });
    const drawn = { position, marker, accuracy, at };
    this.workers.set(position.userId, drawn);
    accuracy.addTo(this.workerLayer);
    marker.addTo(this.workerLayer);
    this.#labelWorker(drawn);
    // The ages change with time, and a position that goes stale leaves the map.
    this.ageTimer ??= setInterval(() => this.#ageWorkers(), 15_000);
  }

  /** A worker stopped sharing or went off shift (a `worker:position-stopped` push). */
  removeWorker(userId) {
    const drawn = this.workers.get(userId);
    if (drawn === undefined) return;
    this.workerLayer.removeLayer(drawn.marker);
    this.workerLayer.removeLayer(drawn.accuracy);
    this.workers.delete(userId);
  }

  #ageWorkers() {
    for (const [userId, drawn] of this.workers) {
      if (Date.now() - Date.parse(drawn.position.at) > this.staleMs) this.removeWorker(userId);
      else this.#labelWorker(drawn);
    }
  }

  /** The marker's label, `name · 3分钟前`, and its data attributes for scripts and styles. */
  #labelWorker({ position, marker, at }) {
    const minutes = Math.floor(Math.max(0, Date.now() - Date.parse(position.at)) / 60_000);
    const age = minutes < 1 ? t('position.justNow') : t('position.minutesAgo', { minutes });
    marker.setTooltipContent(`${position.name} · ${age}`);
    marker.getTooltip()?.getElement()?.setAttribute('data-worker', position.userId);
    const element = marker.getElement();
    if (element === undefined) return;
    element.dataset.worker = position.userId;
    element.dataset.latlng = `${at.lat.toFixed(6)},${at.lng.toFixed(6)}`;
    element.dataset.accuracy = String(position.accuracyM);
    element.setAttribute(
      'aria-label',
      `${position.name} · ${age} · ${t('position.accuracy', { metres: Math.round(position.accuracyM) })}`,
    );
  }

  /** The grids (GeoJSON features) and the devices, drawn once per load; `update` colours them. */
  setData({ grids, devices }) {
    this.gridLayer.clearLayers();
    this.deviceLayer.clearLayers();
    this.grids.clear();
    this.devices.clear();
    const centres = new Map();
    for (const feature of grids) {
      const ring = feature.geometry.coordinates[0].map(this.toMap);
      const polygon = L.polygon(ring, {
        className: 'grid',
        weight: 1.5,
        color: '#37474f',
        fillOpacity: 0.08,
      });
      polygon.bindTooltip(feature.properties.name, {
        permanent: true,
        direction: 'center',
        className: 'grid-label',
      });
      polygon.on('click', () => this.handlers.onGrid?.(feature.id));
      polygon.addTo(this.gridLayer);
      this.grids.set(feature.id, polygon);
      centres.set(feature.id, polygon.getBounds().getCenter());
    }
    // Devices without a location of their own stand around their grid's centre, so every device is on the map.
    const unplaced = new Map();
    for (const device of devices) {
      let at;
      if (device.location) at = L.latLng(this.toMap(device.location));
      else {
        const centre = centres.get(device.gridId);
        if (centre === undefined) continue;
        const index = unplaced.get(device.gridId) ?? 0;
        unplaced.set(device.gridId, index + 1);
        const angle = index * 2.4;
        const radius = 0.00012 * Math.sqrt(index + 1);
        at = L.latLng(centre.lat + radius * Math.sin(angle), centre.lng + radius * Math.cos(angle));
      }
      const kind = kindOf(device.adapter);
      const marker = L.circleMarker(at, { radius: 6, weight: 2, className: `device kind-${kind}` });
      marker.bindTooltip(`${this.handlers.kindLabel?.(kind) ?? kind} · ${device.name}`);
      marker.on('click', () => this.handlers.onDevice?.(device.id));
      marker.addTo(this.deviceLayer);
      this.devices.set(device.id, { marker, device, at });
    }
    this.bounds = this.grids.size > 0 ? L.featureGroup([...this.grids.values()]).getBounds() : undefined;
    this.reset();
    this.#label();
  }

  /**
   * Names each drawn shape in the page (data attributes) for styles and scripts: Leaflet makes the SVG elements
   * only once the map has a view, so this follows the first fit.
   */
  #label() {
    for (const [gridId, polygon] of this.grids) {
      const element = polygon.getElement();
      if (element) element.dataset.grid = gridId;
    }
    for (const { marker, device, at } of this.devices.values()) {
      const element = marker.getElement();
      if (element === undefined) continue;
      element.dataset.device = device.id;
      element.dataset.kind = kindOf(device.adapter);
      element.dataset.placed = device.location ? 'own' : 'grid';
      // Where it is drawn, in the tiles' system: what an integrator checks against the map they know.
      element.dataset.latlng = `${at.lat.toFixed(6)},${at.lng.toFixed(6)}`;
    }
  }

  /**
   * The live state: each grid's fill by its most severe unacknowledged alarm, each device's by its connection and
   * whether it has an open alarm, and the selected alarm's device ringed.
   */
  update({ open, acknowledged, selected, statuses }) {
    const worst = new Map();
    const alarmed = new Set();
    for (const incident of open) {
      alarmed.add(incident.device.id);
      if (acknowledged(incident)) continue;
      const before = worst.get(incident.gridId);
      if (before === undefined || severityOrder.indexOf(incident.severity) < severityOrder.indexOf(before))
        worst.set(incident.gridId, incident.severity);
    }
    for (const [gridId, polygon] of this.grids) {
      const severity = worst.get(gridId);
      polygon.setStyle({
        fillColor: severity === undefined ? '#90caf9' : severityColours[severity],
        fillOpacity: severity === undefined ? 0.08 : 0.35,
      });
      const element = polygon.getElement();
      if (element) {
        element.dataset.severity = severity ?? '';
        element.dataset.open = String(severity !== undefined);
      }
    }
    for (const [deviceId, { marker }] of this.devices) {
      const online = statuses.get(deviceId)?.online ?? false;
      const isSelected = selected?.device.id === deviceId;
      marker.setStyle({
        color: isSelected ? '#0d47a1' : alarmed.has(deviceId) ? '#c62828' : online ? '#2e7d32' : '#757575',
        fillColor: online ? '#a5d6a7' : '#e0e0e0',
        fillOpacity: 0.9,
        weight: isSelected ? 5 : 2,
      });
      marker.setRadius(isSelected ? 10 : 6);
      const element = marker.getElement();
      if (element) {
        element.dataset.online = String(online);
        element.dataset.alarm = String(alarmed.has(deviceId));
        element.dataset.selected = String(isSelected);
      }
    }
  }

  /** The whole jurisdiction in view. */
  reset() {
    if (this.bounds !== undefined) this.map.fitBounds(this.bounds, { padding: [10, 10], animate: false });
  }

  /** The map's container changed size (the big screen). */
  resize() {
    this.map.invalidateSize();
  }
}
