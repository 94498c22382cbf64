// The tokens of an application: every parameter of GET …/tokens (sort by
// each field, both directions, a name or status glob, page size, paging).

import {call} from '../api.js';
import {h, replace, field, select, notAllowed} from '../dom.js';
import {time, creatorText} from '../format.js';
import {listing, sortFields, dataTable} from './list.js';

const SORT_FIELDS = [
  ['name', 'Name'],
  ['status', 'Status'],
  ['creationDate', 'Created'],
  ['lastUpdated', 'Last updated'],
  ['expirationDate', 'Expires'],
  ['lastUsed', 'Last used'],
  ['id', 'ID'],
];

const FILTER_FIELDS = [
  ['name', 'Name'],
  ['status', 'Status'],
];

export function tokensTab(content, {applicationId, may, query}) {
  const heading = h('h2', {}, 'Tokens');
  if (!may.has('applicationApiTokens.get')) {
    replace(content, heading, notAllowed('Listing tokens is not available', 'applicationApiTokens.get'));
    return;
  }
  const list = h('div', {});
  replace(
    content,
    h(
      'div',
      {class: 'heading-row'},
      heading,
      may.has('applicationApiTokens.post')
        ? h('a', {class: 'button', href: `#/applications/${applicationId}/tokens/new`}, 'New token')
        : notAllowed('Creating tokens is not available', 'applicationApiTokens.post'),
    ),
    list,
  );
  const tokenLink = (token) =>
    may.has('applicationApiToken.get')
      ? h('a', {href: `#/applications/${applicationId}/tokens/${token.id}`}, h('bdi', {}, token.name))
      : h('bdi', {}, token.name);
  listing(list, {
    label: 'Find tokens',
    noun: 'tokens',
    fields: [
      field('Filter on', select({name: 'filterField'}, FILTER_FIELDS, query.get('filterField') ?? 'name')),
      field(
        'Filter',
        h('input', {type: 'search', name: 'filter', value: query.get('filter') ?? ''}),
        '* matches anything; any case. Status: active or inactive.',
      ),
      sortFields(query, {sortFields: SORT_FIELDS, defaults: {sortField: 'name', sortDirection: 'asc', perPage: '25'}}),
    ],
    load: (params) => call('GET', `/applications/${applicationId}/tokens`, {query: Object.fromEntries(params)}),
    table: (page, params) =>
      dataTable({
        caption: 'Tokens',
        params,
        columns: [
          {label: 'Name', sortField: 'name', cell: tokenLink},
          {label: 'Status', sortField: 'status', cell: statusBadge},
          {label: 'Scopes', cell: (token) => scopeList(token.scope)},
          {label: 'Expires', sortField: 'expirationDate', cell: (token) => time(token.expirationDate, 'never')},
          {label: 'Last used', sortField: 'lastUsed', cell: (token) => time(token.lastUsed, 'never')},
          {label: 'Creator', cell: (token) => h('bdi', {}, creatorText(token))},
          {label: 'Created', sortField: 'creationDate', cell: (token) => time(token.creationDate)},
        ],
        items: page.items,
      }),
  });
}

export function statusBadge(token) {
  return h('span', {class: `badge ${token.status === 'active' ? 'active' : 'inactive'}`}, token.status);
}

export function scopeList(scopes) {
  return h('ul', {class: 'scopes'}, scopes.map((scope) => h('li', {}, h('code', {}, scope))));
}
