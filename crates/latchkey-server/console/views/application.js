// One application: its name, and tabs for its tokens, its audit log and
// its settings (rename, delete).

import {call, permissionsFor} from '../api.js';
import {h, replace, field, errorMessage, notAllowed, disabledButton, confirmDialog, statusLine, printable} from '../dom.js';
import {time} from '../format.js';
import {isUserToken} from '../session.js';
import {tokensTab} from './tokens.js';
import {auditTab} from './audit.js';

const TABS = [
  ['tokens', 'Tokens', ''],
  ['audit', 'Audit log', '/audit'],
  ['settings', 'Settings', '/settings'],
];

export async function applicationView(view, {ids: [applicationId], query, tab}) {
  replace(view, h('p', {}, 'Loading…'));
  let may;
  let application;
  try {
    may = await permissionsFor(applicationId);
    application = may.has('application.get') ? await call('GET', `/applications/${applicationId}`) : null;
  } catch (error) {
    replace(view, h('h1', {}, 'Application'), errorMessage(error));
    return;
  }
  const name = application?.name ?? applicationId;
  const tabLabel = TABS.find(([key]) => key === tab)[1];
  document.title = `${tabLabel} · ${printable(name)} · Latchkey console`;
  const content = h('div', {class: 'tab-content'});
  replace(
    view,
    isUserToken() ? h('p', {class: 'crumbs'}, h('a', {href: '#/applications'}, 'Applications')) : null,
    h('h1', {}, h('bdi', {}, name)),
    application ? null : notAllowed("The application's name is not shown", 'application.get'),
    h(
      'nav',
      {class: 'tabs', 'aria-label': 'Application'},
      TABS.map(([key, label, suffix]) =>
        h('a', {href: `#/applications/${applicationId}${suffix}`, 'aria-current': key === tab ? 'page' : null}, label),
      ),
    ),
    content,
  );
  const context = {applicationId, application, may, query};
  if (tab === 'tokens') tokensTab(content, context);
  else if (tab === 'audit') auditTab(content, context);
  else settingsTab(content, context);
}

function settingsTab(content, {applicationId, application, may}) {
  replace(
    content,
    h('h2', {}, 'Settings'),
    application
      ? h(
          'dl',
          {class: 'details'},
          h('dt', {}, 'ID'),
          h('dd', {}, h('code', {}, application.id)),
          h('dt', {}, 'Description'),
          h('dd', {class: 'multiline'}, application.description || '—'),
          h('dt', {}, 'Owner'),
          h('dd', {}, `${application.ownerType} ${application.ownerId}`),
          h('dt', {}, 'Created'),
          h('dd', {}, time(application.creationDate)),
          h('dt', {}, 'Last updated'),
          h('dd', {}, time(application.lastUpdated)),
        )
      : null,
    renameForm(applicationId, application, may),
    deleteSection(applicationId, application, may),
  );
}

function renameForm(applicationId, application, may) {
  if (!may.has('application.patch') || !application) {
    return notAllowed('Renaming the application is not available', 'application.patch and application.get');
  }
  const name = h('input', {type: 'text', required: true, maxlength: '255', value: application.name, autocomplete: 'off'});
  const description = h('textarea', {rows: '3', value: application.description});
  const status = statusLine();
  const submit = async (event) => {
    event.preventDefault();
    try {
      await call('PATCH', `/applications/${applicationId}`, {body: {name: name.value, description: description.value}});
      // Drawn again with the new name in the heading and the title.
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (error) {
      replace(status, errorMessage(error));
    }
  };
  return h(
    'section',
    {class: 'panel'},
    h('h3', {}, 'Rename'),
    h(
      'form',
      {onsubmit: submit},
      field('Application name', name),
      field('Application description', description),
      h('button', {type: 'submit'}, 'Save application'),
    ),
    status,
  );
}

function deleteSection(applicationId, application, may) {
  const label = 'Delete application';
  if (!may.has('application.delete')) return h('section', {class: 'panel'}, disabledButton(label, 'application.delete'));
  const problem = h('div', {});
  const remove = async () => {
    const confirmed = await confirmDialog({
      title: 'Delete this application?',
      message: `“${application?.name ?? applicationId}” and every one of its tokens will be deleted. Its tokens stop working at once. This cannot be undone.`,
      confirmLabel: 'Delete application',
    });
    if (!confirmed) return;
    try {
      await call('DELETE', `/applications/${applicationId}`);
      location.hash = isUserToken() ? '#/applications' : '#/';
    } catch (error) {
      replace(problem, errorMessage(error));
    }
  };
  return h(
    'section',
    {class: 'panel danger-zone'},
    h('h3', {}, 'Delete'),
    h('p', {}, 'Deleting the application deletes its tokens too.'),
    problem,
    h('button', {type: 'button', class: 'danger', onclick: remove}, label),
  );
}
