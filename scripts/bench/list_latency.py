#!/usr/bin/env python3
"""Sequential latency of GET /applications/{id}/tokens, small vs large application.

Used by scripts/bench.sh. For every query it sends up to REQUESTS requests to
the small application S and as many to the large application L, one at a
time, alternating S, L, S, L... over two keep-alive connections (so
background load on a shared machine hits both sides alike), and times each
request from sending it to having read the whole body. A query stops early
when it has taken --seconds (so a slow query cannot stall the run); the
number of samples is reported.

Every answer is checked: status 200, `count`, the `totalCount` the seeded
data must give (the seeded names are PREFIX-0000000, PREFIX-0000001, …; any
other token of an application must have a name without digits), and the
order of the first answer (sort field, ties by id ascending, spec 1.1).

Writes JSON to stdout: {"queries": [{"query", "S": {...}, "L": {...},
"problems": [...]}, ...]}, each side with p50_ms, p99_ms, samples and
totalCount. Exit status 0 when the JSON was written (even with problems).
"""

import argparse
import http.client
import json
import math
import statistics
import sys
import time

SORT_FIELDS = ["name", "status", "id", "creationDate", "lastUpdated", "expirationDate"]
NEVER = "\uffff"  # a token without expirationDate sorts after every date
PREFIX_GLOB = "seed-0001*"
INFIX_GLOB = "*0001*"


def queries():
    """(query, sort field, direction, expected totalCount as a function of Side)."""
    out = []
    for field in SORT_FIELDS:
        for direction in ("asc", "desc"):
            out.append((f"sortField={field}&sortDirection={direction}", field, direction, lambda s: s.total))
    out.append((f"filterField=name&filter={PREFIX_GLOB}", "name", "asc",
                lambda s: sum(1 for n in range(s.seeded) if f"{n:07}".startswith("0001"))))
    out.append((f"filterField=name&filter={INFIX_GLOB}", "name", "asc",
                lambda s: sum(1 for n in range(s.seeded) if "0001" in f"{n:07}")))
    out.append(("filterField=status&filter=active", "name", "asc", lambda s: s.total))
    return out


def sort_key(item, field):
    if field == "name":
        return item["name"].lower()
    if field == "expirationDate":
        return item.get("expirationDate") or NEVER
    return item[field]


def order_problem(items, field, direction):
    """None when items follow the spec's order (field, then id ascending)."""
    for a, b in zip(items, items[1:]):
        ka, kb = sort_key(a, field), sort_key(b, field)
        if ka == kb:
            if not a["id"] < b["id"]:
                return f"tie on {field} not broken by id asc: {a['id']} before {b['id']}"
        elif (ka > kb) if direction == "asc" else (ka < kb):
            return f"{field} {direction}: {ka!r} before {kb!r}"
    return None


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Side:
    def __init__(self, name, host, port, token, app, seeded, total):
        self.name, self.host, self.port, self.app = name, host, port, app
        self.seeded, self.total = seeded, total
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.conn = None

    def get(self, query):
        """(seconds, status, body bytes); reconnects once if the connection dropped."""
        path = f"/applications/{self.app}/tokens?{query}"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                start = time.perf_counter()
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
                return time.perf_counter() - start, response.status, body
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def check(expected_total, field, direction, per_page, status, body, first):
    """None, or what is wrong with one answer (the order only on the first)."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    doc = json.loads(body)
    items, total = doc["items"], doc["totalCount"]
    if total != expected_total:
        return f"totalCount {total}, expected {expected_total}"
    if doc["count"] != len(items) or len(items) != min(per_page, total):
        return f"count {doc['count']}, {len(items)} items, totalCount {total}"
    return order_problem(items, field, direction) if first else None


def summary(samples, total):
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1e3, 3) if ordered else None,
        "p99_ms": round(percentile(ordered, 99) * 1e3, 3) if ordered else None,
        "samples": len(ordered),
        "totalCount": total,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="host:port")
    parser.add_argument("--token", required=True)
    parser.add_argument("--app-s", required=True)
    parser.add_argument("--app-l", required=True)
    parser.add_argument("--seeded-s", type=int, required=True, help="seeded tokens in S")
    parser.add_argument("--seeded-l", type=int, required=True, help="seeded tokens in L")
    parser.add_argument("--extra-l", type=int, default=0, help="other tokens of L (names without digits)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60, help="most time per query")
    parser.add_argument("--paths-out", help="write L's query paths there, one a line, and measure nothing")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")

    s = Side("S", host, int(port), args.token, args.app_s, args.seeded_s, args.seeded_s)
    l = Side("L", host, int(port), args.token, args.app_l, args.seeded_l, args.seeded_l + args.extra_l)
    if args.paths_out:
        with open(args.paths_out, "w") as f:
            f.writelines(f"/applications/{l.app}/tokens?perPage={args.per_page}&page=0&{q[0]}\n" for q in queries())
        return
    results = []
    for query, field, direction, expected in queries():
        full = f"perPage={args.per_page}&page=0&{query}"
        samples = {s.name: [], l.name: []}
        totals = {}
        problems = {}
        started = time.monotonic()
        for n in range(args.warmup + args.requests):
            if n > args.warmup and time.monotonic() - started > args.seconds:
                break
            for side in (s, l):
                seconds, status, body = side.get(full)
                problem = check(expected(side), field, direction, args.per_page, status, body, n == 0)
                if problem:
                    problems.setdefault(f"{side.name}: {problem}", 0)
                    problems[f"{side.name}: {problem}"] += 1
                elif n == 0:
                    totals[side.name] = json.loads(body)["totalCount"]
                if n >= args.warmup:
                    samples[side.name].append(seconds)
        notes = [f"{p} ({c}×)" if c > 1 else p for p, c in problems.items()]
        for note in notes:
            print(f"WARNING: list {query}: {note}", file=sys.stderr)
        row = {
            "query": query,
            "S": summary(samples["S"], totals.get("S")),
            "L": summary(samples["L"], totals.get("L")),
            "problems": notes,
        }
        results.append(row)
        print(f"bench:   list {query}: S p50 {row['S']['p50_ms']} ms, L p50 {row['L']['p50_ms']} ms"
              f" ({row['L']['samples']} samples)", file=sys.stderr)
    json.dump({"per_page": args.per_page, "requests": args.requests, "queries": results}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
