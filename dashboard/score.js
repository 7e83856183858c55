// The monthly assessment's scores (千分制, #25 point 6), as both pages show them: the officer console's 千分制 tab
// (a ranked table per grid or per worker, each row opening onto its line items) and the worker page's 本月得分
// (their own score, rank and items). The hub computes everything; this only shows GET /api/assessment/scores.
import { api, downloadFile, el } from './common.js';
import { errorLabel, t, today } from './i18n.js';

/** A line item's refs shown inline; the rest are counted ("+12"). */
const refsShown = 8;

/** One line item: the rule, how many, the points (signed), the case ids or dates behind it. */
function itemLine(item) {
  const points = item.points > 0 ? `+${item.points}` : String(item.points);
  const more = item.count > item.refs.length ? item.count - item.refs.length : 0;
  const refs = item.refs.slice(0, refsShown).join('、');
  const extra = item.refs.length - Math.min(item.refs.length, refsShown) + more;
  return el(
    'li',
    { class: `score-item ${item.kind}`, dataset: { rule: item.rule } },
    el('span', { class: 'score-rule' }, t(`score.rule.${item.rule}`)),
    ` ×${item.count} `,
    el('strong', {}, points),
    item.capped ? el('span', { class: 'meta' }, ` ${t('score.capped')}`) : null,
    refs ? el('span', { class: 'meta score-refs' }, ` ${refs}${extra > 0 ? ` +${extra}` : ''}`) : null,
  );
}

/** A score's line items as a list, or a line saying there were none. */
export function itemList(score) {
  return score.items.length === 0
    ? el('p', { class: 'meta' }, t('score.none'))
    : el('ul', { class: 'score-items' }, ...score.items.map(itemLine));
}

/** The ranked table: one row per grid or worker; a click (or Enter) opens the row's line items under it. */
function rankingTable(answer) {
  const body = el('tbody');
  for (const score of answer.scores) {
    const details = el(
      'tr',
      { class: 'score-details', hidden: true, dataset: { id: score.id } },
      el('td', { colspan: '5' }, itemList(score)),
    );
    const toggle = () => {
      details.hidden = !details.hidden;
      row.setAttribute('aria-expanded', String(!details.hidden));
    };
    const row = el(
      'tr',
      {
        class: 'score-row',
        tabindex: '0',
        'aria-expanded': 'false',
        dataset: { id: score.id, rank: String(score.rank), score: String(score.score) },
        onclick: toggle,
        onkeydown: (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            toggle();
          }
        },
      },
      el('td', {}, String(score.rank)),
      el('td', {}, score.name),
      el('td', {}, el('strong', {}, String(score.score))),
      el('td', {}, score.earned ? `+${score.earned}` : '0'),
      el('td', {}, score.deducted ? `-${score.deducted}` : '0'),
    );
    body.append(row, details);
  }
  return el(
    'table',
    { id: 'scores-table', dataset: { level: answer.level, month: answer.month } },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['score.rank', 'score.name', 'score.score', 'score.earned', 'score.deducted'].map((key) =>
          el('th', {}, t(key)),
        ),
      ),
    ),
    body,
  );
}

/**
 * The officer console's 千分制 panel: a month, grid or worker, the ranking, and its CSV. It follows the cases: the
 * console calls `changed()` on each pushed change, and the ranking is read again at most once per `refreshMs` while
 * the panel is on screen (a busy centre pushes many changes a minute; each reload ranks every grid or worker), and
 * once when it comes back into view (the tab shown, the browser tab brought forward) after a change it missed.
 */
export function scoresPanel({ refreshMs = 15_000 } = {}) {
  const month = el('input', {
    type: 'month',
    name: 'month',
    value: today().slice(0, 7),
    'aria-label': t('score.month'),
  });
  const level = el(
    'select',
    { name: 'level', 'aria-label': t('score.level') },
    el('option', { value: 'grid' }, t('score.level.grid')),
    el('option', { value: 'worker' }, t('score.level.worker')),
  );
  const output = el('div', { id: 'scores-output' });
  const query = () => new URLSearchParams({ month: month.value, level: level.value });
  let lastLoad = 0;
  let timer;
  let stale = false;
  const load = async () => {
    lastLoad = Date.now();
    stale = false;
    try {
      output.replaceChildren(rankingTable(await api.get(`/api/assessment/scores?${query()}`)));
    } catch (error) {
      output.replaceChildren(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
    }
  };
  const download = async () => {
    try {
      await downloadFile(
        `/api/assessment/scores?${query()}&format=csv`,
        `scores-${level.value}-${month.value}.csv`,
      );
    } catch (error) {
      output.prepend(el('p', { class: 'error', role: 'alert' }, errorLabel(error)));
    }
  };
  const panel = el(
    'div',
    { id: 'scores-panel', class: 'scores' },
    el(
      'form',
      {
        class: 'filters',
        onsubmit: (event) => {
          event.preventDefault();
          load();
        },
      },
      month,
      level,
      el('button', { type: 'submit' }, t('assessment.show')),
      el('button', { type: 'button', id: 'scores-csv', onclick: download }, 'CSV'),
    ),
    output,
  );
  const onScreen = () =>
    panel.isConnected &&
    document.visibilityState === 'visible' &&
    (panel.checkVisibility?.() ?? panel.offsetParent !== null);
  const changed = () => {
    stale = true;
    if (timer !== undefined || !onScreen()) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        // Hidden meanwhile: still stale, read when it shows again.
        if (onScreen()) load();
      },
      Math.max(0, lastLoad + refreshMs - Date.now()),
    );
  };
  const shown = () => {
    if (stale) changed();
  };
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) shown();
  }).observe(panel);
  document.addEventListener('visibilitychange', shown);
  return { panel, load, changed };
}

/**
 * The worker page's 本月得分: their score this month, their rank among their community's workers, and the items.
 * Call once when the page starts; a user the hub gives no score (403, 404) sees nothing of it.
 */
export function monthScore(container) {
  const section = el('section', { class: 'month-score', id: 'month-score', hidden: true });
  container.append(section);
  const load = async () => {
    try {
      const answer = await api.get('/api/assessment/scores?level=worker');
      const mine = answer.scores[0];
      if (mine === undefined) return;
      // On its own tab (得分), the items show at once; the summary still folds them.
      section.replaceChildren(
        el(
          'details',
          { open: true },
          el(
            'summary',
            {},
            `${t('score.mine')} `,
            el('strong', { id: 'month-score-value' }, String(mine.score)),
            el('span', { class: 'meta' }, ` ${t('score.rankOf', { rank: mine.rank, total: answer.ranked })}`),
          ),
          itemList(mine),
        ),
      );
      section.hidden = false;
    } catch {
      // No score for this user, or offline: the section stays hidden; the tasks matter more.
    }
  };
  load();
  return { reload: load };
}
