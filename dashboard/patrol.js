// The worker page's patrol (#25 point 5): today's points of the worker's grids with a tick for each visited, 签到 at a
// point by the phone's position (the hub judges the geofence) or by the code printed at the point (typed in, or
// carried in the page's URL as ?patrolCode=… when the phone's camera app opened the QR code, or scanned inside the
// page where the browser has the BarcodeDetector API: Chrome on Android), the day's zero report (零报告), and
// 今日工作日志.
import { api, el } from './common.js';
import { errorLabel, t, time } from './i18n.js';

/** A QR token is `pointId.signature`: the point is what precedes the last dot. */
const pointOfCode = (code) => code.slice(0, code.lastIndexOf('.'));

/** The code a scanned QR code carries: the printed check-in link's ?patrolCode=…, or a bare token. */
export function codeOfScan(value) {
  try {
    return new URL(value).searchParams.get('patrolCode') ?? value;
  } catch {
    return value;
  }
}

/** How often the camera's picture is searched for a code while scanning. */
const scanEveryMs = 250;

/**
 * 相机扫码签到: the phone's camera (getUserMedia) searched with the browser's own BarcodeDetector until a QR code is
 * found, then `onCode(code)`. Null where the browser has no BarcodeDetector (the code is typed in, or the phone's
 * camera app opens the printed link): the hub ships no decoder of its own.
 */
function cameraScanner(onCode, say) {
  if (!('BarcodeDetector' in window)) return null;
  const video = el('video', { class: 'patrol-scan-video', playsinline: true, muted: true, hidden: true });
  const button = el('button', { type: 'button', id: 'patrol-scan' }, t('patrol.scan'));
  let stream;
  const stop = () => {
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = undefined;
    video.srcObject = null;
    video.hidden = true;
    button.textContent = t('patrol.scan');
  };
  button.addEventListener('click', async () => {
    if (stream !== undefined) return stop();
    try {
      const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      video.srcObject = stream;
      video.hidden = false;
      button.textContent = t('patrol.scanStop');
      await video.play();
      while (stream !== undefined) {
        const [found] = await detector.detect(video).catch(() => []);
        if (found?.rawValue) {
          stop();
          return onCode(codeOfScan(found.rawValue));
        }
        await new Promise((resolve) => setTimeout(resolve, scanEveryMs));
      }
    } catch {
      stop();
      say(t('patrol.noCamera'));
    }
  });
  return el('div', { class: 'patrol-scan' }, button, video);
}

/**
 * Renders the patrol section into `container` for the signed-in user; call once, when the page starts. A user the hub has no patrol grid for
 * sees nothing of it.
 */
export function patrolPanel(container, userId) {
  const note = el('p', { class: 'meta', id: 'patrol-note', role: 'status' });
  const grids = el('div', { id: 'patrol-grids' });
  const codeInput = el('input', { id: 'patrol-code', type: 'text', maxlength: 200, autocomplete: 'off' });
  const codeForm = el(
    'form',
    { id: 'patrol-code-form', class: 'patrol-code' },
    el('label', { for: 'patrol-code' }, t('patrol.codeLabel')),
    codeInput,
    el('button', { type: 'submit' }, t('patrol.codeSubmit')),
  );
  const log = el('pre', { id: 'worklog', class: 'worklog', hidden: true });
  const logButton = el('button', { type: 'button', id: 'worklog-show', class: 'small' }, t('worklog.show'));
  const section = el(
    'section',
    { class: 'patrol', id: 'patrol-section', hidden: true },
    el('h2', {}, t('patrol.title')),
    grids,
    cameraScanner(
      (code) => checkIn({ pointId: pointOfCode(code), method: 'qr', code }),
      (text) => say(text),
    ),
    codeForm,
    note,
    el('h2', {}, t('worklog.title')),
    logButton,
    log,
  );
  container.append(section);
  let today;

  const say = (text) => {
    note.textContent = text;
  };

  const checkIn = async (body) => {
    try {
      const answer = await api.post('/api/patrols/checkins', body);
      const name = today?.grids
        .flatMap((grid) => grid.points)
        .find((point) => point.id === body.pointId)?.name;
      say(t('patrol.checkedIn', { point: name ?? body.pointId }));
      await refresh();
      return answer;
    } catch (error) {
      say(errorLabel(error));
      return undefined;
    }
  };

  const byPosition = (pointId) => {
    if (!('geolocation' in navigator)) {
      say(t('patrol.noGeolocation'));
      return;
    }
    say(t('patrol.locating'));
    navigator.geolocation.getCurrentPosition(
      ({ coords }) =>
        checkIn({
          pointId,
          method: 'geofence',
          position: {
            lon: coords.longitude,
            lat: coords.latitude,
            accuracyM: Math.max(coords.accuracy, 0.1),
          },
        }),
      () => say(t('patrol.noGeolocation')),
      { enableHighAccuracy: true, maximumAge: 10_000, timeout: 20_000 },
    );
  };

  const zeroReport = async (gridId, input) => {
    try {
      await api.post('/api/patrols/zero-report', {
        gridId,
        ...(input.value.trim() ? { note: input.value.trim() } : {}),
      });
      await refresh();
    } catch (error) {
      say(errorLabel(error));
    }
  };

  const renderGrid = (grid) => {
    const visited = grid.points.filter((point) => point.visitedAt !== null).length;
    const noteInput = el('input', { type: 'text', maxlength: 500, placeholder: t('patrol.zeroNote') });
    return el(
      'div',
      { class: 'patrol-grid', dataset: { grid: grid.gridId, completed: String(grid.completed) } },
      el(
        'p',
        { class: 'patrol-progress' },
        t('patrol.progress', { grid: grid.name ?? grid.gridId, visited, required: grid.required }),
        grid.completed ? ` ✓ ${t('patrol.done')}` : '',
      ),
      grid.onDuty ? null : el('p', { class: 'meta' }, t('patrol.offDuty')),
      el(
        'ul',
        { class: 'patrol-points' },
        grid.points.map((point) =>
          el(
            'li',
            { dataset: { point: point.id, visited: String(point.visitedAt !== null) } },
            el('span', { class: 'tick', 'aria-hidden': 'true' }, point.visitedAt !== null ? '✓' : '○'),
            ` ${point.name} `,
            point.visitedAt !== null
              ? el('span', { class: 'meta' }, t('patrol.visited', { time: time(point.visitedAt) }))
              : el(
                  'button',
                  {
                    type: 'button',
                    class: 'small',
                    dataset: { checkin: point.id },
                    onclick: () => byPosition(point.id),
                  },
                  t('patrol.checkin'),
                ),
          ),
        ),
      ),
      grid.zeroReport !== null
        ? el('p', { class: 'meta zero-done' }, t('patrol.zeroDone', { time: time(grid.zeroReport.at) }))
        : el(
            'p',
            { class: 'zero-report' },
            noteInput,
            el(
              'button',
              {
                type: 'button',
                dataset: { zeroReport: grid.gridId },
                onclick: () => zeroReport(grid.gridId, noteInput),
              },
              t('patrol.zeroReport'),
            ),
          ),
    );
  };

  const refresh = async () => {
    today = await api.get('/api/patrols/points');
    const mine = today.grids.filter((grid) => grid.onDuty || grid.points.length > 0);
    section.hidden = mine.length === 0;
    grids.replaceChildren(
      el(
        'p',
        { class: 'meta' },
        t('patrol.deadline', { patrolBy: today.patrolBy, zeroReportBy: today.zeroReportBy }),
      ),
      ...mine.map(renderGrid),
    );
    if (!log.hidden) await showLog();
  };

  const showLog = async () => {
    if (today === undefined) return;
    try {
      const day = await api.get(`/api/worklogs/${encodeURIComponent(userId)}/${today.date}`);
      const cases = day.cases ?? {};
      log.textContent = [
        `${t('worklog.title')}  ${day.name}  ${day.date}`,
        ...day.grids.map((grid) =>
          t('patrol.progress', {
            grid: grid.name ?? grid.gridId,
            visited: grid.visited.length,
            required: grid.required,
          }),
        ),
        t('worklog.summary', {
          checkins: day.checkins,
          reported: (cases.create ?? 0) + (cases.report ?? 0) + (cases.register ?? 0),
          accepted: cases.accept ?? 0,
          resolved: cases.resolve ?? 0,
          uploads: day.uploads,
          positions: day.positionsShared,
        }),
        ...day.entries.map((entry) => `${time(entry.at)}  ${entry.text}`),
      ].join('\n');
      log.hidden = false;
    } catch (error) {
      say(errorLabel(error));
    }
  };
  logButton.addEventListener('click', showLog);

  codeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const code = codeInput.value.trim();
    if (code === '') return;
    checkIn({ pointId: pointOfCode(code), method: 'qr', code }).then((answer) => {
      if (answer !== undefined) codeInput.value = '';
    });
  });

  // Today's points, then a code the page was opened with (?patrolCode=…, from the QR code) checks in once.
  (async () => {
    try {
      await refresh();
    } catch {
      return;
    }
    const params = new URLSearchParams(location.search);
    const code = params.get('patrolCode');
    if (code) {
      params.delete('patrolCode');
      history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}`);
      await checkIn({ pointId: pointOfCode(code), method: 'qr', code });
    }
  })();
}
