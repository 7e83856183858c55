// A phone's bottom tab bar (the worker page's 任务 · 随手拍 · 巡查 · 得分): one panel shown at a time, the choice kept
// on the phone (localStorage) so the page opens where the worker left it, a count badge per tab, and a line in a
// panel with nothing to show (offline, or nothing for this user). The ARIA tabs pattern: role tablist, tab and
// tabpanel; the arrow keys move between the tabs.
import { el } from './common.js';
import { t } from './i18n.js';

/**
 * tabs: [{id, label (an i18n key), panel (an element with an id), empty? () => the line shown when the panel shows
 * nothing else}]. onShow(id) runs each time a tab is shown, the first included. Answers {bar, show, current, setBadge}.
 */
export function tabBar({ tabs, storageKey, initial, onShow }) {
  const bar = el('nav', { class: 'tabbar', role: 'tablist', 'aria-label': t('tabs.label') });
  const entries = new Map();
  let current;

  const show = (id) => {
    if (!entries.has(id)) return;
    current = id;
    for (const [key, entry] of entries) {
      entry.button.setAttribute('aria-selected', String(key === id));
      entry.button.tabIndex = key === id ? 0 : -1;
      entry.panel.hidden = key !== id;
    }
    localStorage.setItem(storageKey, id);
    onShow?.(id);
  };

  const move = (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step === undefined) return;
    const ids = [...entries.keys()];
    const next = ids[(ids.indexOf(current) + step + ids.length) % ids.length];
    show(next);
    entries.get(next).button.focus();
  };

  for (const tab of tabs) {
    const badge = el('span', { class: 'tab-badge', hidden: true, dataset: { count: '0' } });
    const button = el(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${tab.id}`,
        'aria-controls': tab.panel.id,
        dataset: { tab: tab.id },
        onclick: () => show(tab.id),
        onkeydown: move,
      },
      el('span', { class: 'tab-label' }, t(tab.label)),
      badge,
    );
    tab.panel.setAttribute('role', 'tabpanel');
    tab.panel.setAttribute('aria-labelledby', button.id);
    tab.panel.classList.add('tab-panel');
    if (tab.empty) emptyLine(tab.panel, tab.empty);
    entries.set(tab.id, { button, badge, panel: tab.panel });
    bar.append(button);
  }

  /** The tab's badge: the count, or nothing at zero; its words for a screen reader from `label`. */
  const setBadge = (id, count, label) => {
    const badge = entries.get(id)?.badge;
    if (badge === undefined) return;
    badge.hidden = count === 0;
    badge.dataset.count = String(count);
    badge.textContent = count === 0 ? '' : count > 99 ? '99+' : String(count);
    if (label) badge.setAttribute('aria-label', label);
  };

  const remembered = localStorage.getItem(storageKey);
  show([initial, remembered].find((id) => entries.has(id)) ?? tabs[0].id);
  return { bar, show, current: () => current, setBadge };
}

/**
 * A line at the panel's top, shown while nothing else in it is: its sections appear (or stay hidden) as the hub
 * answers, so it is watched rather than set once.
 */
function emptyLine(panel, text) {
  const line = el('p', { class: 'meta tab-empty' });
  panel.prepend(line);
  const update = () => {
    const shown = [...panel.children].some((child) => child !== line && !child.hidden);
    // Only what changes is written: each write is itself a mutation the observer would hear again.
    if (line.hidden !== shown) line.hidden = shown;
    const words = shown ? line.textContent : text();
    if (line.textContent !== words) line.textContent = words;
  };
  new MutationObserver(update).observe(panel, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ['hidden'],
  });
  update();
}
