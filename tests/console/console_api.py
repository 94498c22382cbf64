"""The console tests' own calls to the API, beside the browser: to set up
what a test needs (applications, tokens with given names or scopes) and to
check what the console did from the server's side. Plain HTTP with
requests, the way any client calls it."""

import uuid

import requests

TIMEOUT_S = 20


class Api:
    """Calls the server at `base_url` with one token."""

    def __init__(self, base_url, token):
        self.base_url = base_url
        self.token = token

    def call(self, method, path, body=None, params=None, token=None):
        """The response, whatever its status."""
        return requests.request(
            method,
            self.base_url + path,
            json=body,
            params=params,
            headers={"Authorization": "Bearer " + (token or self.token), "Accept": "application/json"},
            timeout=TIMEOUT_S,
        )

    def ok(self, method, path, body=None, params=None):
        """The JSON body of a 2xx response; fails the test on any other."""
        response = self.call(method, path, body, params)
        assert response.ok, "%s %s: %d %s" % (method, path, response.status_code, response.text)
        return response.json()

    def create_application(self, name):
        return self.ok("POST", "/applications", {"name": name})

    def create_token(self, application_id, name, **fields):
        return self.ok("POST", "/applications/%s/tokens" % application_id, {"name": name, **fields})

    def tokens(self, application_id, **params):
        return self.ok("GET", "/applications/%s/tokens" % application_id, params=params)


def unique(base):
    """A name no other test (nor an earlier run on a reused database) has."""
    return "%s %s" % (base, uuid.uuid4().hex[:8])
