// The worker page's position sharing (#24): a toggle, 共享我的位置, kept on the server per worker. While it is on,
// the phone's position (the Geolocation API, WGS-84) goes to the hub at most once per the hub's minIntervalSeconds;
// the hub keeps it only during the worker's shifts. When the hub answers that the worker is off shift or has not
// opted in, sending stops and the page says why. It stops at logout: the session gone, nothing more is sent (and the
// page reloads, which ends the watch).
import { api, el, session } from './common.js';
import { errorLabel, t, time } from './i18n.js';

/** Refusals after which sending stops until the worker turns sharing on again. */
const stoppingCodes = {
  off_shift: 'position.stopped.offShift',
  position_sharing_off: 'position.stopped.notShared',
  unauthorized: 'position.stopped.loggedOut',
  forbidden: 'position.stopped.notShared',
};
/** Refusals of one position: the next one may do. */
const passingCodes = {
  position_inaccurate: 'position.poor',
  position_out_of_bounds: 'position.outside',
  position_too_frequent: null,
  position_time_out_of_range: null,
};
/** The Geolocation API's errors (GeolocationPositionError.code). */
const geolocationErrors = { 1: 'position.denied', 2: 'position.unavailable', 3: 'position.unavailable' };

/**
 * Renders the toggle into `container` and runs the sharing; call once, when the page starts. A user whose role does
 * not share positions (the hub answers 403) sees nothing of it.
 */
export function positionSharing(container) {
  const toggle = el('input', { type: 'checkbox', id: 'position-sharing', role: 'switch' });
  const note = el('p', { class: 'meta', id: 'position-note', role: 'status' });
  const section = el(
    'section',
    { class: 'position-sharing', id: 'position-section', dataset: { state: 'off' }, hidden: true },
    el('label', { for: 'position-sharing' }, toggle, ' ', t('position.share')),
    note,
  );
  container.append(section);

  let minIntervalMs = 30_000;
  let watchId;
  let timer;
  /** The newest fix the phone gave, and when one was last sent (ms, this browser's clock). */
  let fix;
  let lastSent = 0;
  let sending = false;

  const show = (state, key, params) => {
    section.dataset.state = state;
    note.textContent = key === undefined ? '' : t(key, params);
  };

  const stop = (state, key) => {
    if (watchId !== undefined) navigator.geolocation.clearWatch(watchId);
    clearInterval(timer);
    watchId = undefined;
    timer = undefined;
    fix = undefined;
    show(state, key);
  };

  const send = async () => {
    // Half a second to spare: the hub measures the interval by arrival, and requests take their time.
    if (fix === undefined || sending || Date.now() - lastSent < minIntervalMs + 500) return;
    // Logged out (in this tab or by the server): nothing more leaves the phone.
    if (session() === null) {
      stop('off', 'position.stopped.loggedOut');
      return;
    }
    sending = true;
    const { coords, timestamp } = fix;
    // A phone that stands still reports no new fix; the watch is still on, so the last one still holds now.
    const at = Date.now() - timestamp > minIntervalMs ? Date.now() : timestamp;
    try {
      lastSent = Date.now();
      await api.post('/api/me/position', {
        lon: coords.longitude,
        lat: coords.latitude,
        accuracyM: Math.max(coords.accuracy, 0.1),
        at: new Date(at).toISOString(),
      });
      section.dataset.sentAt = new Date(lastSent).toISOString();
      show('on', 'position.sent', { time: time(new Date(lastSent).toISOString()) });
    } catch (error) {
      const stopping = stoppingCodes[error.code];
      if (stopping !== undefined) stop('stopped', stopping);
      else if (passingCodes[error.code] !== undefined && passingCodes[error.code] !== null)
        show('on', passingCodes[error.code]);
      else if (!(error.code in passingCodes)) note.textContent = errorLabel(error);
    } finally {
      sending = false;
    }
  };

  const watch = () => {
    if (!('geolocation' in navigator)) {
      stop('stopped', 'position.unsupported');
      return;
    }
    show('on', 'position.waiting');
    lastSent = 0;
    watchId = navigator.geolocation.watchPosition(
      (position) => {
        fix = position;
        send();
      },
      (error) => {
        const key = geolocationErrors[error.code] ?? 'position.unavailable';
        if (error.code === 1) stop('stopped', key);
        else show('on', key);
      },
      { enableHighAccuracy: true, maximumAge: 10_000 },
    );
    // A little after each interval, so the hub never finds the next one too soon.
    timer = setInterval(send, minIntervalMs + 1000);
  };

  /** Applies the hub's answer about this worker's sharing. */
  const apply = (answer) => {
    minIntervalMs = answer.minIntervalSeconds * 1000;
    toggle.checked = answer.enabled;
    if (!answer.enabled) stop('off');
    else if (!answer.onDuty) stop('stopped', 'position.stopped.offShift');
    else if (watchId === undefined) watch();
  };

  toggle.addEventListener('change', async () => {
    const enabled = toggle.checked;
    toggle.disabled = true;
    try {
      apply(await api.put('/api/me/position-sharing', { enabled }));
    } catch (error) {
      toggle.checked = !enabled;
      note.textContent = errorLabel(error);
    } finally {
      toggle.disabled = false;
    }
  });
  // The page going away (logout reloads it, a closed tab) takes the watch with it; said here for the bfcache.
  window.addEventListener('pagehide', () => stop('off'));

  api.get('/api/me/position-sharing').then(
    (answer) => {
      section.hidden = false;
      apply(answer);
    },
    () => section.remove(),
  );
}
