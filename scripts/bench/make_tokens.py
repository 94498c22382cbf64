#!/usr/bin/env python3
"""Creates tokens with POST /applications/{id}/tokens and writes their secrets.

Used by scripts/bench.sh for the introspection run over many distinct tokens
(seeded tokens' secrets are never shown, so these are made over HTTP). Each
of --clients threads sends its share sequentially on one keep-alive
connection. Every answer must be 201 with a `token`; the secrets go to --out,
one per line (and their ids to --ids-out). Exit status 1 (with the reason on
stderr) when any was not.
"""

import argparse
import http.client
import json
import sys
import threading


def create(host, port, admin, app, name, scope, count, out, errors):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    body = json.dumps({"name": name, "scope": scope})
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json", "Accept": "application/json"}
    try:
        for _ in range(count):
            conn.request("POST", f"/applications/{app}/tokens", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 201:
                errors.append(f"HTTP {response.status}: {answer[:200]!r}")
                return
            created = json.loads(answer)
            out.append((created["token"], created["id"]))
    except Exception as error:  # reported by main
        errors.append(repr(error))
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="host:port")
    parser.add_argument("--token", required=True, help="a token that may create tokens")
    parser.add_argument("--app", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--name", default="bench-spread")
    parser.add_argument("--scope", action="append", default=[])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ids-out", help="also write the tokens' ids here, in the same order")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")

    secrets, errors = [], []
    shares = [args.count // args.clients + (i < args.count % args.clients) for i in range(args.clients)]
    threads = [
        threading.Thread(target=create, args=(host, int(port), args.token, args.app, args.name,
                                              args.scope, share, secrets, errors))
        for share in shares if share
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors or len(secrets) != args.count:
        print(f"created {len(secrets)} of {args.count} tokens: {'; '.join(errors[:3])}", file=sys.stderr)
        sys.exit(1)
    with open(args.out, "w") as f:
        f.writelines(secret + "\n" for secret, _ in secrets)
    if args.ids_out:
        with open(args.ids_out, "w") as f:
            f.writelines(token_id + "\n" for _, token_id in secrets)


if __name__ == "__main__":
    main()
