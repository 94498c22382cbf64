// One token: its details, and what the signed-in token may do to it:
// rename and describe, deactivate or re-activate, delete.

import {call, permissionsFor} from '../api.js';
import {h, replace, field, errorMessage, disabledButton, confirmDialog, statusLine, printable} from '../dom.js';
import {time, creatorText} from '../format.js';
import {statusBadge, scopeList} from './tokens.js';

export async function tokenView(view, {ids: [applicationId, tokenId]}) {
  // The link stays put while the token loads and after each change; the
  // rest is drawn anew from the server's answer.
  const back = h('p', {class: 'crumbs'}, h('a', {href: `#/applications/${applicationId}`}, 'Back to the tokens'));
  const content = h('div', {}, h('p', {}, 'Loading…'));
  replace(view, back, content);
  const path = `/applications/${applicationId}/tokens/${tokenId}`;
  let may;
  let token;
  try {
    may = await permissionsFor(applicationId);
    token = await call('GET', path);
  } catch (error) {
    replace(content, h('h1', {}, 'Token'), errorMessage(error));
    return;
  }
  const problem = h('div', {});
  const done = statusLine();

  /**
   * Sends a change; on success draws the token as the server now has it,
   * and gives the focus back to the control (named by data-control) that
   * made the change, which drawing replaced.
   */
  const change = async (body, saying, control) => {
    try {
      token = await call('PATCH', path, {body});
      draw();
      done.textContent = saying;
      content.querySelector(`[data-control="${control}"]`)?.focus();
    } catch (error) {
      replace(problem, errorMessage(error));
    }
  };

  function draw() {
    document.title = `${printable(token.name)} · Latchkey console`;
    replace(problem);
    done.textContent = '';
    replace(
      content,
      h('h1', {}, h('bdi', {}, token.name)),
      problem,
      done,
      details(token),
      editForm(token, may, change),
      statusSection(token, may, change),
      deleteSection(token, may, path, applicationId, problem),
    );
  }
  draw();
}

function details(token) {
  const row = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  return h(
    'dl',
    {class: 'details'},
    row('Status', statusBadge(token)),
    row('Description', h('span', {class: 'multiline'}, token.description || '—')),
    row('Scopes', scopeList(token.scope)),
    row('Expires', time(token.expirationDate, 'never')),
    row('Last used', time(token.lastUsed, 'never')),
    row('Created', time(token.creationDate)),
    row('Last updated', time(token.lastUpdated)),
    row('Creator', h('bdi', {}, creatorText(token))),
    row('ID', h('code', {}, token.id)),
  );
}

function editForm(token, may, change) {
  const allowed = may.has('applicationApiToken.patch');
  const name = h('input', {type: 'text', required: true, maxlength: '255', value: token.name, disabled: !allowed, autocomplete: 'off'});
  const description = h('textarea', {rows: '3', value: token.description, disabled: !allowed});
  const submit = (event) => {
    event.preventDefault();
    change({name: name.value, description: description.value}, 'Saved.', 'save');
  };
  return h(
    'section',
    {class: 'panel'},
    h('h2', {}, 'Name and description'),
    h(
      'form',
      {onsubmit: submit},
      field('Name', name),
      field('Description', description),
      allowed ? h('button', {type: 'submit', 'data-control': 'save'}, 'Save') : disabledButton('Save', 'applicationApiToken.patch'),
    ),
  );
}

function statusSection(token, may, change) {
  const active = token.status === 'active';
  const label = active ? 'Deactivate token' : 'Re-activate token';
  return h(
    'section',
    {class: 'panel'},
    h('h2', {}, 'Status'),
    h(
      'p',
      {},
      active
        ? 'Active: requests with this token are accepted. Deactivated, they are refused at once; it can be re-activated later.'
        : 'Inactive: requests with this token are refused. Re-activated, they are accepted again.',
    ),
    may.has('applicationApiToken.patch')
      ? h(
          'button',
          {
            type: 'button',
            class: active ? 'danger' : '',
            'data-control': 'status',
            onclick: () => change({status: active ? 'inactive' : 'active'}, active ? 'Deactivated.' : 'Re-activated.', 'status'),
          },
          label,
        )
      : disabledButton(label, 'applicationApiToken.patch'),
  );
}

function deleteSection(token, may, path, applicationId, problem) {
  const label = 'Delete token';
  if (!may.has('applicationApiToken.delete')) {
    return h('section', {class: 'panel'}, h('h2', {}, 'Delete'), disabledButton(label, 'applicationApiToken.delete'));
  }
  const remove = async () => {
    const confirmed = await confirmDialog({
      title: 'Delete this token?',
      message: `“${token.name}” stops working at once and cannot be brought back.`,
      confirmLabel: 'Delete token',
    });
    if (!confirmed) return;
    try {
      await call('DELETE', path);
      location.hash = `#/applications/${applicationId}`;
    } catch (error) {
      replace(problem, errorMessage(error));
    }
  };
  return h(
    'section',
    {class: 'panel danger-zone'},
    h('h2', {}, 'Delete'),
    h('button', {type: 'button', class: 'danger', onclick: remove}, label),
  );
}
