// The console: a page per address after the `#`, drawn from the API's
// answers. Views are in views/; each draws into the element it is given.

import {call, whenUnauthorized} from './api.js';
import {h, replace, errorMessage} from './dom.js';
import {session, signIn, signOut, isUserToken, home} from './session.js';
import {signInView} from './views/signin.js';
import {applicationsView} from './views/applications.js';
import {applicationView} from './views/application.js';
import {newTokenView} from './views/new_token.js';
import {tokenView} from './views/token.js';

const main = document.getElementById('main');
const sessionArea = document.getElementById('session');

const ID = '([0-9a-fA-F]{24})';
// [pattern, view, tab]: the first whose pattern matches the path is drawn.
const ROUTES = [
  [new RegExp(`^/applications$`), applicationsView],
  [new RegExp(`^/applications/${ID}$`), applicationView, 'tokens'],
  [new RegExp(`^/applications/${ID}/audit$`), applicationView, 'audit'],
  [new RegExp(`^/applications/${ID}/settings$`), applicationView, 'settings'],
  [new RegExp(`^/applications/${ID}/tokens/new$`), newTokenView],
  [new RegExp(`^/applications/${ID}/tokens/${ID}$`), tokenView],
];

/** The address after `#` as a path and its query parameters. */
function currentRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return {path: path || '/', query: new URLSearchParams(query)};
}

async function render({moveFocus}) {
  drawSession();
  const {path, query} = currentRoute();
  const view = h('div', {class: 'view'});
  replace(main, view);
  if (!session.token) {
    signInView(view, {onSignedIn});
  } else if (!session.whoami) {
    // A reload: the token is in sessionStorage, who it is is asked again.
    try {
      session.whoami = await call('GET', '/auth/introspect');
    } catch (error) {
      if (session.token) replace(view, errorMessage(error));
      return;
    }
    drawSession();
    return render({moveFocus});
  } else {
    const route = ROUTES.find(([pattern]) => pattern.test(path));
    if (!route) {
      location.replace(home());
      return;
    }
    const [pattern, draw, tab] = route;
    const [, ...ids] = path.match(pattern);
    draw(view, {ids, query, tab});
  }
  if (moveFocus) main.focus();
}

function onSignedIn(token, whoami) {
  signIn(token, whoami);
  if (location.hash === home()) render({moveFocus: true});
  else location.hash = home();
}

function drawSession() {
  if (!session.whoami) {
    replace(sessionArea);
    return;
  }
  const kind = isUserToken() ? 'user token' : 'application token';
  replace(
    sessionArea,
    h('span', {class: 'who'}, 'Signed in with ', h('bdi', {}, session.whoami.name), ` (${kind})`),
    h('button', {type: 'button', class: 'secondary', onclick: leave}, 'Sign out'),
  );
}

/** Sign out: the token is forgotten, and every page drawn with it. */
function leave() {
  signOut();
  if (location.hash === '' || location.hash === '#/') render({moveFocus: true});
  else location.hash = '#/';
}

// A token refused mid-session (deactivated, deleted, expired) ends it.
whenUnauthorized((error) => {
  signOut();
  const view = h('div', {class: 'view'});
  replace(main, view);
  drawSession();
  signInView(view, {onSignedIn, refused: error});
  main.focus();
});

window.addEventListener('hashchange', () => render({moveFocus: true}));
render({moveFocus: false});
