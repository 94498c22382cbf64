// Who is signed in. The token lives in sessionStorage only: gone when the
// tab closes, never in a cookie or localStorage, never sent anywhere but in
// the Authorization header of the API's own origin.

const KEY = 'latchkey.token';

export const session = {
  token: sessionStorage.getItem(KEY),
  /** The token's own record, from GET /auth/introspect. */
  whoami: null,
  /** applicationId → Promise of the Set of actions it may take there. */
  permissions: new Map(),
};

export function signIn(token, whoami) {
  sessionStorage.setItem(KEY, token);
  session.token = token;
  session.whoami = whoami;
  session.permissions.clear();
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  session.token = null;
  session.whoami = null;
  session.permissions.clear();
}

export function isUserToken() {
  return session.whoami?.ownerType === 'user';
}

// Creating an application is an account action: /auth/introspect answers
// only for an application, so this one rule is read from the token's scopes
// (spec section 4, rules 1 to 3, for a target the user owns).
const CREATE_APPLICATION_SCOPES = new Set([
  'applications.post',
  'applications.*',
  'all.User',
  'all.User.cli',
  'all.Application',
  'all.Application.cli',
]);

export function mayCreateApplications() {
  return isUserToken() && session.whoami.scope.some((scope) => CREATE_APPLICATION_SCOPES.has(scope));
}

/** Where a signed-in token starts: its applications, or its one application. */
export function home() {
  return isUserToken() ? '#/applications' : `#/applications/${session.whoami.ownerId}`;
}
