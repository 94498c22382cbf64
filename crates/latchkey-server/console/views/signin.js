// Signing in: a token pasted, checked with GET /auth/introspect.

import {call} from '../api.js';
import {h, replace, field, errorMessage} from '../dom.js';

/**
 * The sign-in form. `onSignedIn(token, whoami)` is called once the server
 * accepted the token; `refused` is the error that ended the last session.
 */
export function signInView(view, {onSignedIn, refused}) {
  document.title = 'Sign in · Latchkey console';
  const token = h('input', {
    type: 'password',
    name: 'token',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const problem = h('div', {});
  if (refused) replace(problem, errorMessage(refused));
  const submit = async (event) => {
    event.preventDefault();
    const pasted = token.value.trim();
    try {
      const whoami = await call('GET', '/auth/introspect', {token: pasted});
      onSignedIn(pasted, whoami);
    } catch (error) {
      replace(problem, errorMessage(error));
      token.focus();
    }
  };
  replace(
    view,
    h('h1', {}, 'Sign in'),
    h(
      'p',
      {},
      'Paste an API token. The console keeps it in this browser tab only, and forgets it when you sign out or close the tab.',
    ),
    problem,
    h(
      'form',
      {class: 'signin', onsubmit: submit},
      field('API token', token, 'A user token (from latchkey admin-token) or an application token.'),
      h('button', {type: 'submit'}, 'Sign in'),
    ),
  );
}
