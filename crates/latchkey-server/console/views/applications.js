// The applications a user token reaches: listed, and a new one created.

import {call} from '../api.js';
import {h, replace, field, errorMessage, notAllowed} from '../dom.js';
import {time} from '../format.js';
import {mayCreateApplications} from '../session.js';
import {listing, sortFields, dataTable} from './list.js';

const SORT_FIELDS = [
  ['name', 'Name'],
  ['creationDate', 'Created'],
  ['lastUpdated', 'Last updated'],
  ['id', 'ID'],
];

export function applicationsView(view, {query}) {
  document.title = 'Applications · Latchkey console';
  const list = h('section', {'aria-labelledby': 'applications-heading'});
  replace(
    view,
    h('h1', {}, 'Applications'),
    createForm(),
    h('h2', {id: 'applications-heading'}, 'Your applications'),
    list,
  );
  listing(list, {
    label: 'Find applications',
    noun: 'applications',
    fields: [
      h('input', {type: 'hidden', name: 'filterField', value: 'name'}),
      field(
        'Name filter',
        h('input', {type: 'search', name: 'filter', value: query.get('filter') ?? ''}),
        '* matches anything; any case.',
      ),
      sortFields(query, {sortFields: SORT_FIELDS, defaults: {sortField: 'name', sortDirection: 'asc', perPage: '25'}}),
    ],
    load: (params) => call('GET', '/applications', {query: Object.fromEntries(params)}),
    table: (page, params) =>
      dataTable({
        caption: 'Applications',
        params,
        columns: [
          {label: 'Name', sortField: 'name', cell: (app) => h('a', {href: `#/applications/${app.id}`}, h('bdi', {}, app.name))},
          {label: 'Owner', cell: (app) => app.ownerType},
          {label: 'Created', sortField: 'creationDate', cell: (app) => time(app.creationDate)},
          {label: 'Last updated', sortField: 'lastUpdated', cell: (app) => time(app.lastUpdated)},
          {label: 'ID', sortField: 'id', cell: (app) => h('code', {}, app.id)},
        ],
        items: page.items,
      }),
  });
}

function createForm() {
  if (!mayCreateApplications()) {
    return notAllowed('Creating applications is not available', 'applications.post');
  }
  const name = h('input', {type: 'text', name: 'name', required: true, maxlength: '255', autocomplete: 'off'});
  const description = h('input', {type: 'text', name: 'description', autocomplete: 'off'});
  const problem = h('div', {});
  const submit = async (event) => {
    event.preventDefault();
    try {
      const created = await call('POST', '/applications', {
        body: {name: name.value, description: description.value},
      });
      location.hash = `#/applications/${created.id}`;
    } catch (error) {
      replace(problem, errorMessage(error));
    }
  };
  return h(
    'section',
    {class: 'panel', 'aria-labelledby': 'new-application-heading'},
    h('h2', {id: 'new-application-heading'}, 'New application'),
    problem,
    h(
      'form',
      {class: 'inline-form', onsubmit: submit},
      field('Application name', name),
      field('Description (optional)', description),
      h('div', {class: 'field submit'}, h('button', {type: 'submit'}, 'Create application')),
    ),
  );
}
