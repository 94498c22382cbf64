// The HTTP API, called exactly as any other client calls it: fetch with
// `Authorization: Bearer`. Every failure becomes an ApiError a person can
// read: the server's {type, message}, or what went wrong on the way.

import {session} from './session.js';

class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }

  /** "Forbidden (403)", or the kind of failure when there was no answer. */
  get title() {
    return this.status ? `${this.type} (${this.status})` : this.type;
  }
}

// The API lives where the console's folder does: /console/ → /, so a proxy
// may serve both under a prefix.
const API_ROOT = new URL('../', document.baseURI);

let onUnauthorized = () => {};
/** What to do when the signed-in token is refused (revoked, expired). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * Calls the API and returns the parsed JSON body. `query` is an object of
 * parameters (empty ones left out); `token` defaults to the session's.
 */
export async function call(method, path, {query = {}, body, token = session.token} = {}) {
  const url = new URL(path.replace(/^\//, ''), API_ROOT);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.append(key, value);
  }
  const headers = {Accept: 'application/json', Authorization: `Bearer ${token}`};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (failure) {
    throw new ApiError(0, 'Network error', `the server could not be reached (${failure.message}).`);
  }
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = isErrorBody(json)
      ? new ApiError(response.status, json.type, json.message)
      : new ApiError(response.status, 'HTTP error', `the server answered ${response.status} ${response.statusText} without an explanation.`);
    if (response.status === 401 && token === session.token) onUnauthorized(error);
    throw error;
  }
  if (json === undefined) {
    throw new ApiError(response.status, 'Unreadable answer', 'the server answered with something that is not JSON.');
  }
  return json;
}

function isErrorBody(json) {
  return typeof json?.type === 'string' && typeof json?.message === 'string';
}

/** Every action the console may offer on an application, asked of the server. */
const ACTIONS = [
  'application.get',
  'application.patch',
  'application.delete',
  'applicationApiTokens.get',
  'applicationApiTokens.post',
  'applicationApiToken.get',
  'applicationApiToken.patch',
  'applicationApiToken.delete',
  'auditLogs.get',
];

/**
 * The actions of ACTIONS the signed-in token may take on an application, as
 * a Set, asked of GET /auth/introspect (the server's own rules, scope by
 * scope). Kept for the session: a token's scopes never change.
 */
export function permissionsFor(applicationId) {
  if (!session.permissions.has(applicationId)) {
    const asked = Promise.all(
      ACTIONS.map((action) => call('GET', '/auth/introspect', {query: {applicationId, action}})),
    ).then((answers) => new Set(ACTIONS.filter((_, index) => answers[index].allowed)));
    asked.catch(() => session.permissions.delete(applicationId));
    session.permissions.set(applicationId, asked);
  }
  return session.permissions.get(applicationId);
}
