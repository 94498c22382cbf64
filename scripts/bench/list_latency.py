#!/usr/bin/env python3
"""Sequential latency of GET /applications/{id}/tokens, small vs large application.

Used by scripts/bench.sh. For every query it sends REQUESTS requests to the
small application A and REQUESTS to the large application B, one at a time,
alternating A, B, A, B... over two keep-alive connections (so background load
on a shared machine hits both sides alike), and times each request from
sending it to having read the whole body. Prints a markdown table to stdout;
warnings (non-200 answers, wrong counts, wrong order) go to stderr and into
the table's last column.

Exit status: 0 when the table was produced (even with warnings), 1 on usage errors.
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


def queries(per_page):
    base = f"perPage={per_page}&page=0"
    out = []
    for field in SORT_FIELDS:
        for direction in ("asc", "desc"):
            out.append((f"sortField={field}&sortDirection={direction}", field, direction))
    out.append(("filterField=name&filter=seed-0001*", "name", "asc"))
    out.append(("filterField=name&filter=*0001*", "name", "asc"))
    out.append(("filterField=status&filter=active", "name", "asc"))
    return [(f"{base}&{q}", q, f, d) for q, f, d in out]


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
    def __init__(self, host, port, token, app, expected_total):
        self.host, self.port, self.app = host, port, app
        self.expected_total = expected_total
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


def check(side, query, field, direction, per_page, status, body):
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    doc = json.loads(body)
    items, total = doc["items"], doc["totalCount"]
    if doc["count"] != len(items) or len(items) != min(per_page, total):
        return f"count {doc['count']}, {len(items)} items, totalCount {total}"
    if "filter=" not in query and total != side.expected_total:
        return f"totalCount {total}, expected {side.expected_total}"
    problem = order_problem(items, field, direction)
    return problem


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="host:port")
    parser.add_argument("--token", required=True)
    parser.add_argument("--app-a", required=True)
    parser.add_argument("--app-b", required=True)
    parser.add_argument("--total-a", type=int, required=True, help="tokens in A")
    parser.add_argument("--total-b", type=int, required=True, help="tokens in B")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--warnings", help="also write one line per problem to this file")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")

    a = Side(host, int(port), args.token, args.app_a, args.total_a)
    b = Side(host, int(port), args.token, args.app_b, args.total_b)
    rows = []
    warnings = []
    for full, short, field, direction in queries(args.per_page):
        samples = {id(a): [], id(b): []}
        totals = {}
        notes = []
        non200 = 0
        for n in range(args.warmup + args.requests):
            for side in (a, b):
                seconds, status, body = side.get(full)
                if status != 200:
                    non200 += 1
                if n == 0:
                    problem = check(side, full, field, direction, args.per_page, status, body)
                    if problem:
                        notes.append(f"{'A' if side is a else 'B'}: {problem}")
                    if status == 200:
                        totals[id(side)] = json.loads(body)["totalCount"]
                if n >= args.warmup:
                    samples[id(side)].append(seconds)
        if non200:
            notes.append(f"{non200} non-200 answers")
        for note in notes:
            print(f"WARNING: {short}: {note}", file=sys.stderr)
            warnings.append(f"{short}: {note}")
        sa, sb = sorted(samples[id(a)]), sorted(samples[id(b)])
        a50, a99 = statistics.median(sa) * 1e3, percentile(sa, 99) * 1e3
        b50, b99 = statistics.median(sb) * 1e3, percentile(sb, 99) * 1e3
        rows.append(
            f"| `{short}` | {totals.get(id(a), '?')} | {totals.get(id(b), '?')} "
            f"| {a50:.2f} | {a99:.2f} | {b50:.2f} | {b99:.2f} "
            f"| {b50 / a50:.1f}× | {b99 / a99:.1f}× | {'; '.join(notes) or 'ok'} |"
        )
        print(f"  list {short}: A p50 {a50:.2f} ms, B p50 {b50:.2f} ms", file=sys.stderr)

    print("| query (`perPage=%d&page=0&…`) | totalCount A | totalCount B | A p50 ms | A p99 ms "
          "| B p50 ms | B p99 ms | B/A p50 | B/A p99 | checks |" % args.per_page)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(row)
    if args.warnings:
        with open(args.warnings, "w") as f:
            f.writelines(line.replace("\n", " ") + "\n" for line in warnings)


if __name__ == "__main__":
    main()
