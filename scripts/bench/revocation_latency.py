"""How long a revocation takes to reach a service that verifies tokens with
latchkey-verify (the example `protected`): per try, a new token holding
`device.get` is accepted by the service's /hello, is deactivated through
Latchkey (PATCH, timed from its answer: the commit) after a random pause,
and the service is asked again and again until it refuses the token. Prints the median, p99
and max over the tries, in milliseconds.

    python3 scripts/bench/revocation_latency.py --latchkey URL --service URL \
        --admin TOKEN --app ID [--tries 100]
"""

import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse

# A try that takes longer than this has failed (the spec's bound is 1 s).
GIVE_UP_S = 10


class Client:
    """One keep-alive connection to a base URL."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=GIVE_UP_S)

    def call(self, method, path, token, body=None):
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, payload


def one_try(latchkey, service, admin, app):
    status, body = latchkey.call(
        "POST", f"/applications/{app}/tokens", admin, {"name": "latency", "scope": ["device.get"]}
    )
    assert status == 201, (status, body)
    created = json.loads(body)
    token, token_id = created["token"], created["id"]
    status, body = service.call("GET", "/hello", token)
    assert status == 200, f"a new token was not accepted at once: {status} {body!r}"
    # Latchkey reads its change log on a period: start each try at a random
    # point of it, not just after the read that ended the previous try.
    time.sleep(random.uniform(0, 0.3))
    status, body = latchkey.call(
        "PATCH", f"/applications/{app}/tokens/{token_id}", admin, {"status": "inactive"}
    )
    assert status == 200, (status, body)
    committed = time.monotonic()
    while True:
        status, body = service.call("GET", "/hello", token)
        elapsed = time.monotonic() - committed
        if status == 401:
            return elapsed
        assert status == 200, (status, body)
        assert elapsed < GIVE_UP_S, "the revocation never reached the service"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latchkey", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--tries", type=int, default=100)
    args = parser.parse_args()
    latchkey, service = Client(args.latchkey), Client(args.service)
    times = sorted(one_try(latchkey, service, args.admin, args.app) for _ in range(args.tries))
    p99 = times[min(len(times) - 1, round(0.99 * len(times)) - 1)]
    print(
        f"revocation reached the service: median {statistics.median(times) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms over {len(times)} tries"
    )


if __name__ == "__main__":
    main()
