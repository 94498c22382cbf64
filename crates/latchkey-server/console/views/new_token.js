// Creating a token: name, description, expiry, scopes the way Losant's
// console offers them ("All", "Read only", or custom from the catalog),
// then its secret, shown once.

import {call, permissionsFor} from '../api.js';
import {h, replace, field, errorMessage, notAllowed, statusLine, uniqueId} from '../dom.js';

const DAY = 24 * 60 * 60 * 1000;

// [value, label]
const EXPIRIES = [
  ['never', 'Never'],
  ['30', 'In 30 days'],
  ['90', 'In 90 days'],
  ['date', 'On a date'],
];

// [value, label, hint]
const SCOPE_CHOICES = [
  ['all', 'All', 'all.Application: every action on this application.'],
  ['read', 'Read only', 'all.Application.read: every read-only action.'],
  ['custom', 'Custom', 'Choose scopes from the list.'],
];

/** The catalog, fetched once: spec/scopes.json, embedded in the server. */
let catalog;
function scopeCatalog() {
  catalog ??= fetch(new URL('scopes.json', document.baseURI)).then((response) => {
    if (!response.ok) throw new Error(`the scope list could not be loaded (${response.status})`);
    return response.json();
  });
  return catalog;
}

export async function newTokenView(view, {ids: [applicationId]}) {
  document.title = 'New token · Latchkey console';
  // The link and the heading stay put while the form loads, so the focus
  // of someone already tabbing through them is never lost.
  const body = h('div', {}, h('p', {}, 'Loading…'));
  const back = h('p', {class: 'crumbs'}, h('a', {href: `#/applications/${applicationId}`}, 'Back to the tokens'));
  replace(view, back, h('h1', {}, 'New token'), body);
  let scopes;
  try {
    const [may, all] = await Promise.all([permissionsFor(applicationId), scopeCatalog()]);
    if (!may.has('applicationApiTokens.post')) {
      replace(body, notAllowed('Creating tokens is not available', 'applicationApiTokens.post'));
      return;
    }
    scopes = all.application;
  } catch (error) {
    replace(body, errorMessage(error));
    return;
  }
  replace(body, tokenForm(applicationId, scopes, (created) => replace(view, back, secretPanel(applicationId, created))));
}

function radioGroup(legend, name, choices, checked, onchange) {
  return h(
    'fieldset',
    {class: 'choices'},
    h('legend', {}, legend),
    choices.map(([value, label, hint]) => {
      const id = uniqueId(name);
      const hintNode = hint ? h('span', {class: 'hint', id: uniqueId('hint')}, ` — ${hint}`) : null;
      return h(
        'div',
        {class: 'choice'},
        h('input', {type: 'radio', name, value, id, checked: value === checked, onchange, 'aria-describedby': hintNode?.id}),
        h('label', {for: id}, label),
        hintNode,
      );
    }),
  );
}

function tokenForm(applicationId, scopes, onCreated) {
  const name = h('input', {type: 'text', required: true, maxlength: '255', autocomplete: 'off'});
  const description = h('textarea', {rows: '3'});
  const date = h('input', {type: 'date', disabled: true, min: new Date(Date.now() + DAY).toISOString().slice(0, 10)});
  const picker = scopePicker(scopes);
  const problem = h('div', {});
  const choice = (groupName) => form.querySelector(`input[name="${groupName}"]:checked`).value;

  const expiry = radioGroup('Expires', 'expiry', EXPIRIES, 'never', () => {
    date.disabled = choice('expiry') !== 'date';
    date.required = !date.disabled;
  });
  const scopeChoice = radioGroup('Scopes', 'scopes', SCOPE_CHOICES, 'all', () => {
    picker.hidden = choice('scopes') !== 'custom';
  });
  picker.hidden = true;
  expiry.append(field('Expiry date', date, 'The token stops working at the end of this day (UTC).'));

  const submit = async (event) => {
    event.preventDefault();
    const body = {name: name.value, description: description.value};
    const expires = expirationDate(choice('expiry'), date.value);
    if (expires) body.expirationDate = expires;
    body.scope = {all: ['all.Application'], read: ['all.Application.read'], custom: picker.chosen()}[choice('scopes')];
    try {
      onCreated(await call('POST', `/applications/${applicationId}/tokens`, {body}));
    } catch (error) {
      replace(problem, errorMessage(error));
      problem.scrollIntoView({block: 'nearest'});
    }
  };
  const form = h(
    'form',
    {class: 'token-form', onsubmit: submit},
    field('Token name', name),
    field('Token description (optional)', description),
    expiry,
    scopeChoice,
    picker,
    problem,
    h('button', {type: 'submit'}, 'Create token'),
  );
  return form;
}

/** The expirationDate to send, or undefined for a token that never expires. */
function expirationDate(expiry, date) {
  if (expiry === 'never') return undefined;
  if (expiry === 'date') return `${date}T23:59:59.999Z`;
  return new Date(Date.now() + Number(expiry) * DAY).toISOString();
}

/**
 * The catalog's application scopes as checkboxes, grouped by resource (the
 * part before the first dot), with a search box that hides what does not
 * match. `chosen()` lists the checked scopes.
 */
function scopePicker(scopes) {
  const groups = new Map();
  for (const scope of scopes) {
    const resource = scope.split('.')[0];
    if (!groups.has(resource)) groups.set(resource, []);
    groups.get(resource).push(scope);
  }
  const boxes = [];
  const fieldsets = [...groups].map(([resource, members]) => {
    const rows = members.map((scope) => {
      const box = h('input', {type: 'checkbox', value: scope, id: uniqueId('scope')});
      boxes.push(box);
      return h('div', {class: 'choice', 'data-scope': scope.toLowerCase()}, box, h('label', {for: box.id}, h('code', {}, scope)));
    });
    return h('fieldset', {class: 'scope-group'}, h('legend', {}, resource), rows);
  });
  const chosenCount = statusLine();
  const search = h('input', {type: 'search', autocomplete: 'off'});
  search.addEventListener('input', () => {
    const wanted = search.value.trim().toLowerCase();
    for (const fieldset of fieldsets) {
      let shown = 0;
      for (const row of fieldset.querySelectorAll('.choice')) {
        row.hidden = !row.dataset.scope.includes(wanted);
        if (!row.hidden) shown += 1;
      }
      fieldset.hidden = shown === 0;
    }
  });
  const countChosen = () => {
    const chosen = picker.chosen().length;
    chosenCount.textContent = `${chosen} ${chosen === 1 ? 'scope' : 'scopes'} chosen`;
  };
  const picker = h(
    'div',
    {class: 'scope-picker', onchange: (event) => event.target.type === 'checkbox' && countChosen()},
    field('Search scopes', search, `${scopes.length} scopes, grouped by resource.`),
    chosenCount,
    h('div', {class: 'scope-groups'}, fieldsets),
  );
  picker.chosen = () => boxes.filter((box) => box.checked).map((box) => box.value);
  countChosen();
  return picker;
}

/** The new token's secret: shown here once, with a way to copy it. */
function secretPanel(applicationId, created) {
  const secret = h('textarea', {readonly: true, rows: '4', class: 'secret', value: created.token, spellcheck: 'false'});
  const copied = statusLine();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      copied.textContent = 'Copied to the clipboard.';
    } catch {
      // No clipboard (a page not served over HTTPS or from localhost):
      // selected, it can be copied by hand.
      secret.select();
      copied.textContent = 'The browser did not allow copying: the secret is selected, copy it with Ctrl+C.';
    }
  };
  const heading = h('h1', {tabindex: '-1'}, 'Token created');
  const panel = h(
    'section',
    {class: 'created'},
    heading,
    h(
      'p',
      {class: 'warning', role: 'alert'},
      h('strong', {}, 'Copy the secret now. '),
      'It is shown only this once: Latchkey keeps no copy, and it disappears when you leave this page.',
    ),
    field(`Secret of “${created.name}”`, secret),
    h('button', {type: 'button', onclick: copy}, 'Copy secret'),
    copied,
    h('p', {}, h('a', {href: `#/applications/${applicationId}/tokens/${created.id}`}, 'View the token')),
  );
  queueMicrotask(() => heading.focus());
  return panel;
}
