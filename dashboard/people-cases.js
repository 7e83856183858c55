// Cases from people (#25) on the pages: the worker's 随手拍 form (category from the catalogue, description, the four
// paths of 方案4, the phone's position and the grid, then photos), the officer's 登记 form (source, reporter, place,
// category, description), and a case's procedure (处置预案) from the catalogue. Kept in this module so the worker's and
// the officer's pages change by a line or two.

import { ApiError, api, el } from './common.js';
import { errorLabel, knowCatalogue, t } from './i18n.js';

let catalogue = { categories: [] };

/** Loads the catalogue once (GET /api/catalogue); the procedure section reads it. */
export async function loadCatalogue() {
  catalogue = await api.get('/api/catalogue');
  knowCatalogue(catalogue);
  return catalogue;
}

/** The caller's grids ([{id, name}]), from GET /api/grids. */
export async function myGrids() {
  const grids = await api.get('/api/grids');
  return grids.features.map((feature) => ({ id: feature.id, name: feature.properties.name }));
}

/** The procedure of a case: its sub-category's, else its category's; null when the catalogue has none. */
export function procedureSection(incident) {
  const category = catalogue.categories.find((entry) => entry.id === incident.category);
  const sub = category?.subcategories.find((entry) => entry.id === incident.subcategory);
  const procedure = sub?.procedure ?? category?.procedure;
  if (!procedure || (procedure.steps.length === 0 && procedure.checklist.length === 0)) return null;
  return el(
    'details',
    { class: 'procedure', dataset: { part: 'procedure' } },
    el('summary', {}, t('cases.procedure')),
    procedure.steps.length > 0 ? el('ol', {}, ...procedure.steps.map((step) => el('li', {}, step))) : null,
    procedure.checklist.length > 0
      ? el(
          'ul',
          { class: 'checklist' },
          ...procedure.checklist.map((item) =>
            el('li', {}, el('label', {}, el('input', { type: 'checkbox' }), item)),
          ),
        )
      : null,
    ...procedure.documents.map((document) =>
      el('a', { href: document.url, target: '_blank', rel: 'noopener' }, document.title),
    ),
  );
}

/** The category and sub-category pickers, the sub-category's following the category's. */
function categoryPickers() {
  const category = el(
    'select',
    { name: 'category', 'aria-label': t('cases.category'), required: true },
    ...catalogue.categories
      .filter((entry) => entry.class !== 'device')
      .map((entry) => el('option', { value: entry.id }, entry.name)),
  );
  const subcategory = el('select', { name: 'subcategory', 'aria-label': t('cases.subcategory') });
  const fill = () => {
    const entry = catalogue.categories.find((candidate) => candidate.id === category.value);
    subcategory.replaceChildren(
      el('option', { value: '' }, t('cases.noSubcategory')),
      ...(entry?.subcategories ?? []).map((sub) => el('option', { value: sub.id }, sub.name)),
    );
  };
  category.addEventListener('change', fill);
  fill();
  return { category, subcategory };
}

const paths = ['on_spot', 'coordinate', 'urgent', 'approval'];

/**
 * The worker's 随手拍: a button opening the form. `grids` are the worker's grids ([{id, name}]); `upload(incidentId,
 * file)` sends a photo with the page's upload flow; `created(incident)` shows the new case.
 */
export function reportButton({ grids, upload, created }) {
  const form = el('form', { id: 'report-form', class: 'report', hidden: true });
  const { category, subcategory } = categoryPickers();
  const description = el('textarea', {
    name: 'description',
    rows: 3,
    maxlength: 2000,
    required: true,
    'aria-label': t('cases.description'),
    placeholder: t('cases.description'),
  });
  const path = el(
    'fieldset',
    { class: 'paths' },
    el('legend', {}, t('cases.path')),
    ...paths.map((code, index) =>
      el(
        'label',
        {},
        el('input', { type: 'radio', name: 'path', value: code, checked: index === 1 }),
        t(`cases.path.${code}`),
      ),
    ),
  );
  const note = el('textarea', { name: 'note', rows: 2, maxlength: 2000, placeholder: t('cases.note') });
  const grid = el(
    'select',
    { name: 'gridId', 'aria-label': t('cases.grid') },
    el('option', { value: '' }, t('cases.gridByPosition')),
    ...grids.map((entry) => el('option', { value: entry.id }, entry.name)),
  );
  const where = el('p', { class: 'meta', id: 'report-position' }, t('cases.positionPending'));
  const photos = el('input', {
    type: 'file',
    name: 'photos',
    accept: 'image/*',
    capture: 'environment',
    multiple: true,
  });
  const message = el('p', { class: 'error', role: 'alert' });
  let position;
  const locate = () =>
    navigator.geolocation?.getCurrentPosition(
      (fix) => {
        position = [fix.coords.longitude, fix.coords.latitude];
        where.textContent = t('cases.positionAt', { accuracy: Math.round(fix.coords.accuracy) });
      },
      () => (where.textContent = t('cases.positionNone')),
      { enableHighAccuracy: true, timeout: 10_000 },
    );
  form.append(
    el('h2', {}, t('cases.report')),
    category,
    subcategory,
    description,
    path,
    note,
    where,
    grid,
    el('label', {}, t('cases.photos'), photos),
    el('button', { type: 'submit' }, t('cases.submit')),
    el('button', { type: 'button', class: 'small', onclick: () => (form.hidden = true) }, t('cases.close')),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    const chosen = form.querySelector('input[name=path]:checked')?.value ?? 'coordinate';
    const body = {
      category: category.value,
      description: description.value,
      path: chosen,
      ...(subcategory.value ? { subcategory: subcategory.value } : {}),
      ...(position ? { position } : {}),
      ...(grid.value ? { gridId: grid.value } : {}),
      ...(note.value.trim() ? { note: note.value.trim() } : {}),
    };
    try {
      const incident = await api.post('/api/cases', body);
      for (const file of photos.files) await upload(incident.id, file);
      form.reset();
      form.hidden = true;
      message.textContent = '';
      created(incident);
    } catch (error) {
      message.textContent = error instanceof ApiError ? errorLabel(error) : String(error);
    }
  });
  const button = el(
    'button',
    {
      type: 'button',
      id: 'report',
      onclick: () => {
        form.hidden = false;
        locate();
      },
    },
    t('cases.report'),
  );
  return { button, form };
}

const sources = ['phone', 'walk_in', 'resident', 'hotline_12345', 'wechat'];

/** The officer's 登记: a button opening the form; `grids` are the grids under the officer ([{id, name}]). */
export function registerButton({ grids, created }) {
  const form = el('form', { id: 'register-form', class: 'report', hidden: true });
  const source = el(
    'select',
    { name: 'source', 'aria-label': t('cases.source') },
    ...sources.map((code) => el('option', { value: code }, t(`cases.source.${code}`))),
  );
  const name = el('input', { name: 'reporterName', maxlength: 40, placeholder: t('cases.reporterName') });
  const phone = el('input', {
    name: 'reporterPhone',
    type: 'tel',
    maxlength: 20,
    placeholder: t('cases.reporterPhone'),
  });
  const grid = el(
    'select',
    { name: 'gridId', 'aria-label': t('cases.grid'), required: true },
    ...grids.map((entry) => el('option', { value: entry.id }, entry.name)),
  );
  const address = el('input', { name: 'address', maxlength: 200, placeholder: t('cases.address') });
  const { category, subcategory } = categoryPickers();
  const description = el('textarea', {
    name: 'description',
    rows: 3,
    maxlength: 2000,
    required: true,
    placeholder: t('cases.description'),
  });
  const message = el('p', { class: 'error', role: 'alert' });
  form.append(
    el('h2', {}, t('cases.register')),
    source,
    name,
    phone,
    grid,
    address,
    category,
    subcategory,
    description,
    el('button', { type: 'submit' }, t('cases.submit')),
    el('button', { type: 'button', class: 'small', onclick: () => (form.hidden = true) }, t('cases.close')),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    const reporter = {
      ...(name.value.trim() ? { name: name.value.trim() } : {}),
      ...(phone.value.trim() ? { phone: phone.value.trim() } : {}),
    };
    try {
      const incident = await api.post('/api/cases/register', {
        source: source.value,
        ...(Object.keys(reporter).length > 0 ? { reporter } : {}),
        gridId: grid.value,
        ...(address.value.trim() ? { address: address.value.trim() } : {}),
        category: category.value,
        ...(subcategory.value ? { subcategory: subcategory.value } : {}),
        description: description.value,
      });
      form.reset();
      form.hidden = true;
      created(incident);
    } catch (error) {
      message.textContent = error instanceof ApiError ? errorLabel(error) : String(error);
    }
  });
  const button = el(
    'button',
    { type: 'button', id: 'register', onclick: () => (form.hidden = false) },
    t('cases.register'),
  );
  return { button, form };
}
