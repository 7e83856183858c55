// A 12345 work order on the duty officer's console (#25): its section in the case panel (number, state, the
// platform's deadline, 签收 and 退单, who signed or returned it, the 回访) and its mark in the case list (待签收). The
// order is the server's (GET /api/incidents/{id}/work-order); the panel asks for it each time it is drawn, which a
// push of the case (签收, 回访 and 退单 are recorded on it) brings about.

import { api, el } from './common.js';
import { errorLabel, t, time } from './i18n.js';

/** Cases in these states are over: an order still unsigned on them is no longer waiting for anyone. */
const ended = new Set(['closed', 'cancelled', 'false_alarm']);

export const isHotlineCase = (incident) => incident?.origin?.kind === 'hotline_12345';

/** The order of a 12345 case, or `{error}` when it cannot be read (the section says so). */
export function loadWorkOrder(incidentId) {
  return api.get(`/api/incidents/${encodeURIComponent(incidentId)}/work-order`).catch((error) => ({ error }));
}

/** The case list's marks for a 12345 case: 待签收 while the centre has not signed for it, and the platform's deadline. */
export function workOrderBadges(incident) {
  if (!isHotlineCase(incident)) return [];
  const unsigned = incident.origin.signedAt === undefined && !ended.has(incident.state);
  return [
    unsigned
      ? el('span', { class: 'badge unsigned', dataset: { workOrder: 'unsigned' } }, t('workOrder.unsigned'))
      : null,
    incident.origin.deadline && !ended.has(incident.state)
      ? el(
          'span',
          { class: 'badge platform-deadline', title: t('workOrder.deadline') },
          t('workOrder.deadlineShort', { time: time(incident.origin.deadline).slice(5, 16) }),
        )
      : null,
  ];
}

/**
 * The panel's 12345工单 section. `previous` is the panel on show for the same case: the 退单 form being typed in is
 * kept across the redraw a push brings. `done` is called after 签收 or 退单 (the panel is then drawn again).
 */
export function workOrderSection(order, { previous, done }) {
  if (order.error !== undefined)
    return el(
      'section',
      { id: 'work-order', class: 'work-order' },
      el('h3', {}, t('workOrder.title')),
      el(
        'p',
        { class: 'error', role: 'alert' },
        t('workOrder.unreadable', { message: errorLabel(order.error) }),
      ),
    );
  const message = el('p', { class: 'error', id: 'work-order-error', role: 'alert' });
  message.textContent = previous?.querySelector('#work-order-error')?.textContent ?? '';
  const allowed = new Set(order.actions);
  const post = (action, body) => async () => {
    message.textContent = '';
    try {
      await api.post(`/api/hotline/v1/work-orders/${encodeURIComponent(order.no)}/${action}`, body?.());
      await done();
    } catch (error) {
      // The panel may have been drawn again meanwhile: write into the one on show.
      const shown = document.getElementById('work-order-error') ?? message;
      shown.textContent = t('workOrder.refused', {
        action: t(`workOrder.${action}`),
        message: errorLabel(error),
      });
    }
  };
  const returnForm = keptReturnForm(previous, allowed.has('return'), message, post);
  const overdue =
    order.deadline !== undefined &&
    ['received', 'signed', 'handling'].includes(order.state) &&
    Date.parse(order.deadline) < Date.now();
  return el(
    'section',
    { id: 'work-order', class: 'work-order', dataset: { no: order.no, state: order.state } },
    el('h3', {}, t('workOrder.title')),
    el(
      'dl',
      {},
      el('dt', {}, t('workOrder.no')),
      el('dd', { id: 'work-order-no' }, order.no, el('span', { class: 'muted' }, ` · ${order.platform}`)),
      el('dt', {}, t('workOrder.state')),
      el(
        'dd',
        {},
        el(
          'span',
          {
            class: `badge work-order-${order.state}`,
            id: 'work-order-state',
            dataset: { state: order.state },
          },
          t(`workOrder.state.${order.state}`),
        ),
      ),
      el('dt', {}, t('workOrder.deadline')),
      el(
        'dd',
        { id: 'work-order-deadline', class: overdue ? 'overdue' : '' },
        order.deadline === undefined ? '—' : time(order.deadline),
        overdue ? el('span', { class: 'badge overdue' }, t('workOrder.overdue')) : null,
      ),
      el('dt', {}, t('workOrder.received')),
      el('dd', {}, time(order.receivedAt)),
      order.signed
        ? [
            el('dt', {}, t('workOrder.signedBy')),
            el('dd', { id: 'work-order-signed' }, `${order.signed.by} ${time(order.signed.at)}`),
          ]
        : null,
      order.returned
        ? [
            el('dt', {}, t('workOrder.returnedBy')),
            el('dd', {}, `${order.returned.by} ${time(order.returned.at)}`),
            el('dt', {}, t('workOrder.returnReason')),
            el('dd', { id: 'work-order-return-reason' }, order.returned.reason),
          ]
        : null,
      order.result
        ? [
            el('dt', {}, t('workOrder.result')),
            el(
              'dd',
              { id: 'work-order-result' },
              `${order.result.resolution || '—'} · ${order.result.department} · ${time(order.result.resolvedAt)}`,
            ),
          ]
        : null,
      el('dt', {}, t('workOrder.visit')),
      el(
        'dd',
        {
          id: 'work-order-visit',
          dataset: { satisfied: order.visit === undefined ? '' : String(order.visit.satisfied) },
          class: order.visit?.satisfied === false ? 'unsatisfied' : '',
        },
        order.visit === undefined
          ? t('workOrder.visit.none')
          : [
              t(order.visit.satisfied ? 'workOrder.visit.satisfied' : 'workOrder.visit.unsatisfied'),
              order.visit.reopened ? ` (${t('workOrder.visit.reopened')})` : '',
              order.visit.note ? ` · ${order.visit.note}` : '',
              ` · ${time(order.visit.at)}`,
            ],
      ),
    ),
    allowed.size === 0
      ? null
      : el(
          'div',
          { class: 'actions' },
          allowed.has('sign')
            ? el(
                'button',
                { type: 'button', dataset: { workOrder: 'sign' }, onclick: post('sign') },
                t('workOrder.sign'),
              )
            : null,
          allowed.has('return')
            ? el(
                'button',
                {
                  type: 'button',
                  class: 'needs-reason',
                  dataset: { workOrder: 'return' },
                  onclick: () => {
                    returnForm.hidden = false;
                    returnForm.querySelector('textarea').focus();
                  },
                },
                t('workOrder.return'),
              )
            : null,
        ),
    returnForm,
    message,
  );
}

/** The 退单 form: its reason is required, and it is sent only on 确认退单. Kept, typed text and all, across redraws. */
function keptReturnForm(previous, offered, message, post) {
  const kept = previous?.querySelector('#work-order-return-form');
  if (!offered) return null;
  if (kept) return kept;
  const reason = el('textarea', {
    id: 'work-order-reason',
    name: 'reason',
    rows: 2,
    maxlength: 500,
    'aria-label': t('workOrder.returnReason'),
    placeholder: t('workOrder.returnReason.placeholder'),
  });
  const send = post('return', () => ({ reason: reason.value.trim() }));
  const form = el(
    'form',
    {
      id: 'work-order-return-form',
      hidden: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const shown = document.getElementById('work-order-error') ?? message;
        if (!reason.value.trim()) {
          shown.textContent = t('workOrder.returnReason.required');
          reason.focus();
          return;
        }
        await send();
      },
    },
    el('label', { for: 'work-order-reason' }, t('workOrder.returnReason')),
    reason,
    el('button', { type: 'submit', dataset: { workOrder: 'confirm-return' } }, t('workOrder.confirmReturn')),
    el(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => {
          form.hidden = true;
          reason.value = '';
        },
      },
      t('workOrder.cancel'),
    ),
  );
  return form;
}
