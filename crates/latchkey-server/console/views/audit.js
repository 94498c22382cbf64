// An application's audit log (spec section 10), filtered by actor, action
// and time. Only user tokens may read it.

import {call} from '../api.js';
import {h, replace, field, select, notAllowed} from '../dom.js';
import {time} from '../format.js';
import {isUserToken} from '../session.js';
import {listing, sortFields, dataTable} from './list.js';

const SORT_FIELDS = [
  ['creationDate', 'Time'],
  ['responseStatus', 'Response status'],
  ['actorName', 'Actor name'],
];

// The requests the log records about an application, as resource/action.
const REQUESTS = [
  ['', 'Any request'],
  ['applicationApiTokens/post', 'Create a token'],
  ['applicationApiToken/patch', 'Change a token'],
  ['applicationApiToken/delete', 'Delete a token'],
  ['applications/post', 'Create the application'],
  ['application/patch', 'Change the application'],
  ['application/delete', 'Delete the application'],
  ['applicationApiTokens/seed', 'Seed tokens (administrator)'],
];

export function auditTab(content, {applicationId, may, query}) {
  const heading = h('h2', {}, 'Audit log');
  if (!isUserToken()) {
    replace(
      content,
      heading,
      h(
        'p',
        {class: 'reason'},
        'The audit log can be read only with a user token: the API refuses application tokens (403). Sign in with a user token that reaches this application to read it.',
      ),
    );
    return;
  }
  if (!may.has('auditLogs.get')) {
    replace(content, heading, notAllowed('Reading the audit log is not available', 'auditLogs.get'));
    return;
  }
  const list = h('div', {});
  replace(content, heading, list);
  listing(list, {
    label: 'Filter the audit log',
    noun: 'entries',
    fields: [
      field('Actor name', h('input', {type: 'search', name: 'actor', value: query.get('actor') ?? ''}), 'Exactly as recorded, e.g. latchkey admin-token.'),
      field('Request', select({name: 'request'}, REQUESTS, query.get('request') ?? '')),
      field('From', h('input', {type: 'datetime-local', name: 'from', value: query.get('from') ?? ''}), 'Your local time.'),
      field('Until', h('input', {type: 'datetime-local', name: 'until', value: query.get('until') ?? ''}), 'Your local time.'),
      sortFields(query, {sortFields: SORT_FIELDS, defaults: {sortField: 'creationDate', sortDirection: 'desc', perPage: '25'}}),
    ],
    load: (params) => call('GET', `/applications/${applicationId}/audit-logs`, {query: apiQuery(params)}),
    table: (page, params) =>
      dataTable({
        caption: 'Audit log entries',
        params,
        columns: [
          {label: 'Time', sortField: 'creationDate', cell: (entry) => time(entry.creationDate)},
          {label: 'Status', sortField: 'responseStatus', cell: (entry) => String(entry.responseStatus ?? '')},
          {label: 'Request', cell: (entry) => h('code', {}, `${entry.requestResource ?? ''} ${entry.requestAction ?? ''}`)},
          {label: 'Actor', sortField: 'actorName', cell: (entry) => h('bdi', {}, entry.actorName ?? '—')},
          {label: 'Token', cell: (entry) => h('bdi', {}, entry.secondaryTargetName ?? '—')},
          {label: 'Source', cell: (entry) => entry.sourceIp ?? '—'},
        ],
        items: page.items,
      }),
  });
}

/** The console's parameters as the API's: auditLogFilter in bracket notation, times in epoch milliseconds. */
function apiQuery(params) {
  const query = {
    sortField: params.get('sortField'),
    sortDirection: params.get('sortDirection'),
    perPage: params.get('perPage'),
    page: params.get('page'),
  };
  if (params.get('actor')) query['auditLogFilter[actor][0][name]'] = params.get('actor');
  if (params.get('request')) {
    const [resource, action] = params.get('request').split('/');
    query['auditLogFilter[request][0][resource]'] = resource;
    query['auditLogFilter[request][0][action]'] = action;
  }
  for (const [name, key] of [['from', 'start'], ['until', 'end']]) {
    if (params.get(name)) query[key] = String(new Date(params.get(name)).getTime());
  }
  return query;
}
