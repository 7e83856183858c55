// The officer console's 巡查 tab (#25 point 5, the centre's side): each patrol grid of the officer's scope on a local
// date, what needs attention first (a missed or overdue patrol or zero report); a grid opens onto the day's check-ins
// and each worker's work log (text, with its CSV); 打印二维码 lays out the grid's patrol points' QR codes to print
// and post at the points. The hub judges everything (GET /api/patrols/board/:date); this only shows it.

import qrcode from '/dashboard/vendor/qrcode.js';
import { ApiError, api, downloadFile, el, session } from './common.js';
import { errorLabel, t, time, today } from './i18n.js';

/** A duty's state in words, with its class for the colour. */
const stateCell = (state, extra) =>
  el(
    'span',
    { class: `duty duty-${state}`, dataset: { state } },
    t(`board.state.${state}`),
    extra ? ` ${extra}` : '',
  );

/** The text of an authenticated answer (the work log's format=text). */
async function authenticatedText(url) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${session()?.token}` } });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new ApiError(
      response.status,
      answer?.error?.message ?? `HTTP ${response.status}`,
      answer?.error?.code,
    );
  }
  return response.text();
}

/** A link that downloads an authenticated file when clicked (the bearer token cannot ride on a plain href). */
function downloadLink(label, url, filename, onError) {
  return el(
    'a',
    {
      href: '#',
      class: 'worklog-csv',
      onclick: async (event) => {
        event.preventDefault();
        try {
          await downloadFile(url, filename);
        } catch (error) {
          onError(error);
        }
      },
    },
    label,
  );
}

/** A QR module's size in the image, px; the quiet zone around the code is the standard's four modules. */
const cellPx = 4;

/** A QR code of a text as an <img> (qrcode-generator: the smallest version that fits, error correction M). */
export function qrImage(text, alt) {
  const code = qrcode(0, 'M');
  code.addData(text);
  code.make();
  return el('img', { class: 'qr-code', src: code.createDataURL(cellPx, 4 * cellPx), alt, dataset: { text } });
}

/**
 * The printable sheet of a grid's patrol points with a QR code each: the code encodes the check-in address (the
 * page's origin and the hub's /dashboard/worker.html?patrolCode=…), which a phone's camera app opens.
 */
async function qrSheet(row, points) {
  const withCode = points.filter((point) => point.qr);
  const cards = await Promise.all(
    withCode.map(async (point) => {
      const { url } = await api.get(`/api/patrols/points/${encodeURIComponent(point.id)}/qr`);
      const address = new URL(url, location.origin).href;
      return el(
        'figure',
        { class: 'qr-card', dataset: { point: point.id } },
        qrImage(address, point.name),
        el('figcaption', {}, el('strong', {}, point.name), el('br'), row.name, el('br'), t('board.qrHint')),
      );
    }),
  );
  return el(
    'section',
    { id: 'qr-sheet', class: 'qr-sheet', dataset: { grid: row.gridId } },
    el(
      'div',
      { class: 'no-print' },
      el('button', { type: 'button', onclick: () => window.print() }, t('board.print')),
      ' ',
      el(
        'button',
        { type: 'button', onclick: (event) => event.currentTarget.closest('#qr-sheet').remove() },
        t('board.close'),
      ),
    ),
    el('h3', {}, t('board.qrTitle', { grid: row.name })),
    cards.length === 0
      ? el('p', { class: 'meta' }, t('board.noQr'))
      : el('div', { class: 'qr-cards' }, ...cards),
  );
}

/** A grid's day opened: its check-ins, each worker's work log (text and CSV), and the QR sheet's button. */
async function gridDetails(row, date, cell) {
  const say = (error) => cell.prepend(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
  const day = await api.get(`/api/patrols/days/${encodeURIComponent(row.gridId)}/${date}`);
  const pointName = new Map(day.points.map((point) => [point.id, point.name]));
  const workerName = new Map(row.workers.map((worker) => [worker.userId, worker.name]));
  const checkins =
    day.checkins.length === 0
      ? el('p', { class: 'meta' }, t('board.noCheckins'))
      : el(
          'ul',
          { class: 'board-checkins' },
          ...day.checkins.map((checkin) =>
            el(
              'li',
              { dataset: { point: checkin.pointId } },
              `${time(checkin.at)} ${workerName.get(checkin.userId) ?? checkin.userId} · ${pointName.get(checkin.pointId) ?? checkin.pointId} · ${t(`board.method.${checkin.method}`)}`,
            ),
          ),
        );
  const logs = await Promise.all(
    row.workers.map(async (worker) => {
      const base = `/api/worklogs/${encodeURIComponent(worker.userId)}/${date}`;
      let text;
      try {
        text = await authenticatedText(`${base}?format=text`);
      } catch (error) {
        text = errorLabel(error);
      }
      return el(
        'div',
        { class: 'board-worklog', dataset: { user: worker.userId } },
        el(
          'h4',
          {},
          t('board.worklog', { name: worker.name }),
          ' ',
          downloadLink('CSV', `${base}?format=csv`, `worklog-${worker.userId}-${date}.csv`, say),
        ),
        el('pre', { class: 'worklog' }, text),
      );
    }),
  );
  const printButton = el(
    'button',
    {
      type: 'button',
      class: 'board-qr',
      onclick: async () => {
        try {
          document.getElementById('qr-sheet')?.remove();
          const sheet = await qrSheet(row, day.points);
          cell.append(sheet);
          sheet.scrollIntoView({ block: 'nearest' });
        } catch (error) {
          say(error);
        }
      },
    },
    t('board.qrPrint'),
  );
  cell.replaceChildren(el('h4', {}, t('board.checkins')), checkins, ...logs, printButton);
}

const columns = ['board.grid', 'board.patrol', 'board.zeroReport', 'board.workers', 'board.cases'];

function boardTable(answer, openCase) {
  const body = el('tbody');
  for (const row of answer.grids) {
    const cell = el('td', { colspan: String(columns.length) });
    const details = el('tr', { class: 'board-details', hidden: true, dataset: { grid: row.gridId } }, cell);
    let loaded = false;
    const toggle = async () => {
      details.hidden = !details.hidden;
      line.setAttribute('aria-expanded', String(!details.hidden));
      if (details.hidden || loaded) return;
      loaded = true;
      cell.replaceChildren(el('p', { class: 'meta' }, t('board.loading')));
      try {
        await gridDetails(row, answer.date, cell);
      } catch (error) {
        loaded = false;
        cell.replaceChildren(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
      }
    };
    const report = row.zeroReport;
    const line = el(
      'tr',
      {
        class: 'board-row',
        tabindex: '0',
        'aria-expanded': 'false',
        dataset: { grid: row.gridId, patrol: row.patrol, zeroReport: row.zeroReportState },
        onclick: toggle,
        onkeydown: (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            toggle();
          }
        },
      },
      el('td', {}, row.name),
      el('td', { class: 'board-patrol' }, `${row.visited}/${row.required} `, stateCell(row.patrol)),
      el(
        'td',
        { class: 'board-zero' },
        stateCell(row.zeroReportState, report ? `${time(report.at)} ${report.name}` : ''),
        report?.note ? el('div', { class: 'meta' }, report.note) : null,
      ),
      el(
        'td',
        { class: 'board-workers' },
        row.workers.map((worker) => `${worker.name}(${worker.checkins})`).join('、') || '—',
      ),
      el(
        'td',
        { class: 'board-cases' },
        // The sweep's case of each miss, by what was missed, opening in the case panel (never its id).
        ...Object.entries(row.cases).map(([kind, id]) =>
          el(
            'button',
            {
              type: 'button',
              class: 'link',
              dataset: { incident: id, kind },
              onclick: (event) => {
                event.stopPropagation();
                openCase?.(id);
              },
            },
            t(`board.case.${kind}`),
          ),
        ),
        Object.keys(row.cases).length === 0 ? '—' : null,
      ),
    );
    body.append(line, details);
  }
  return el(
    'table',
    { id: 'board-table', dataset: { date: answer.date } },
    el('thead', {}, el('tr', {}, ...columns.map((key) => el('th', {}, t(key))))),
    body,
  );
}

/** The 巡查 panel: a local date (today unless chosen), the deadlines, the grids. `load()` reads them again. */
export function patrolBoard({ openCase } = {}) {
  const date = el('input', { type: 'date', name: 'date', value: today(), 'aria-label': t('board.date') });
  const output = el('div', { id: 'board-output' });
  const load = async () => {
    try {
      const answer = await api.get(`/api/patrols/board/${date.value || today()}`);
      output.replaceChildren(
        el('p', { class: 'meta' }, t('patrol.deadline', answer)),
        answer.grids.length === 0
          ? el('p', { class: 'meta' }, t('board.none'))
          : boardTable(answer, openCase),
      );
    } catch (error) {
      output.replaceChildren(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
    }
  };
  const panel = el(
    'div',
    { id: 'board-panel', class: 'patrol-board' },
    el(
      'form',
      {
        class: 'filters',
        onsubmit: (event) => {
          event.preventDefault();
          load();
        },
      },
      date,
      el('button', { type: 'submit' }, t('assessment.show')),
    ),
    output,
  );
  return { panel, load };
}
