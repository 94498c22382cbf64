// What every listing shares: a form of parameters, a table, and a pager,
// the parameters kept in the page's address so a reload or a shared link
// shows the same page. Listing is server-side: one page is fetched at a
// time, whatever the total.

import {h, replace, errorMessage, field, select} from '../dom.js';
import {count} from '../format.js';

const DIRECTIONS = [
  ['asc', 'Ascending'],
  ['desc', 'Descending'],
];

const PAGE_SIZES = ['10', '25', '50', '100', '500', '1000'].map((size) => [size, size]);

/** The sort, direction and page-size fields, each named as its parameter. */
export function sortFields(query, {sortFields, defaults}) {
  return [
    field('Sort by', select({name: 'sortField'}, sortFields, query.get('sortField') ?? defaults.sortField)),
    field('Direction', select({name: 'sortDirection'}, DIRECTIONS, query.get('sortDirection') ?? defaults.sortDirection)),
    field('Per page', select({name: 'perPage'}, PAGE_SIZES, query.get('perPage') ?? defaults.perPage)),
  ];
}

/**
 * Draws a listing into `container`.
 * - `label`: what the parameter form is called ("Find tokens");
 * - `fields`: the form's fields, each control named as the parameter it sets;
 * - `load(params)`: fetches the page the parameters (with `page`) ask for;
 * - `table(list, params)`: the page's items as a node;
 * - `noun`: what the items are ("tokens").
 */
export function listing(container, {label, fields, load, table, noun}) {
  const form = h(
    'form',
    {class: 'list-controls', role: 'search', 'aria-label': label},
    fields,
    h('div', {class: 'field submit'}, h('button', {type: 'submit'}, 'Apply')),
  );
  const summary = h('p', {class: 'summary', role: 'status'});
  const results = h('div', {class: 'results'});
  replace(container, form, summary, results);

  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  let page = Number(new URLSearchParams(query).get('page') ?? 0) || 0;

  async function show() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value !== '') params.set(key, value);
    }
    if (page > 0) params.set('page', String(page));
    history.replaceState(null, '', `#${path}?${params}`);
    summary.textContent = 'Loading…';
    try {
      const list = await load(params);
      const first = list.page * list.perPage;
      summary.textContent = list.count
        ? `${count(first + 1)}–${count(first + list.count)} of ${count(list.totalCount)} ${noun}`
        : `No ${noun} on this page (${count(list.totalCount)} in all).`;
      replace(results, list.count ? table(list, params) : null, pager(list));
    } catch (error) {
      summary.textContent = '';
      replace(results, errorMessage(error));
    }
  }

  function pager(list) {
    const last = Math.max(0, Math.ceil(list.totalCount / list.perPage) - 1);
    const go = (to) => () => {
      page = to;
      show();
    };
    return h(
      'nav',
      {class: 'pager', 'aria-label': `Pages of ${noun}`},
      h('button', {type: 'button', class: 'secondary', disabled: page === 0, onclick: go(0)}, 'First page'),
      h('button', {type: 'button', class: 'secondary', disabled: page === 0, onclick: go(page - 1)}, 'Previous page'),
      h('span', {}, `Page ${count(list.page + 1)} of ${count(last + 1)}`),
      h('button', {type: 'button', class: 'secondary', disabled: page >= last, onclick: go(page + 1)}, 'Next page'),
    );
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    page = 0;
    show();
  });
  show();
}

/**
 * A table of `items`: `columns` are {label, sortField?, cell(item)}; the
 * column the list is sorted by says so (aria-sort). It scrolls sideways on
 * a narrow screen, and can be scrolled with the keyboard.
 */
export function dataTable({caption, columns, items, params}) {
  const sortedBy = params?.get('sortField');
  const direction = params?.get('sortDirection') === 'desc' ? 'descending' : 'ascending';
  return h(
    'div',
    {class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption},
    h(
      'table',
      {},
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((column) =>
            h('th', {scope: 'col', 'aria-sort': column.sortField && column.sortField === sortedBy ? direction : null}, column.label),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((item) => h('tr', {}, columns.map((column) => h('td', {}, column.cell(item))))),
      ),
    ),
  );
}
