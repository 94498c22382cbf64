#!/usr/bin/env python3
"""Prints scripts/bench.sh's markdown report from its results directory.

    report.py RESULTS_DIR PROBLEMS_FILE

RESULTS_DIR holds meta.kv (the run's facts) and, per backend and size,
BACKEND-SIZE.kv (KEY=VALUE lines, `note` repeatable) and BACKEND-SIZE.list.json
(scripts/bench/list_latency.py's output). PROBLEMS_FILE has one failed check
a line.
"""

import json
import pathlib
import statistics
import sys

BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
GOALS = {"introspect_pct": 70.0, "introspect_p99_ms": 1.0, "introspect_rps": 20000, "create_sqlite": 2000,
         "rss_mb": 100.0}


def read_kv(path):
    out = {"note": []}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "note":
            out["note"].append(value)
        else:
            out[key] = value
    return out


def num(case, key):
    value = case.get(key)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt(value, digits=0, unit=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def size_label(size):
    return f"{size:,}"


class Case:
    def __init__(self, kv, listing):
        self.kv, self.listing = kv, listing
        self.size = int(kv["size"])
        self.measured = "health_rps" in kv

    def get(self, key):
        return num(self.kv, key)

    def health(self):
        runs = [v for v in (self.get("health_rps"), self.get("health_after_rps")) if v is not None]
        return statistics.mean(runs) if runs else None

    def pct(self, label):
        rps, health = self.get(f"{label}_rps"), self.health()
        return 100 * rps / health if rps is not None and health else None

    def latency(self, label, p999=False):
        out = f"{fmt(self.get(f'{label}_p50_ms'), 2)} / {fmt(self.get(f'{label}_p99_ms'), 2)}"
        return out + f" / {fmt(self.get(f'{label}_p999_ms'), 2)}" if p999 else out

    def query(self, query):
        for row in (self.listing or {}).get("queries", []):
            if row["query"] == query:
                return row
        return None


def load_cases(results):
    cases = {}
    for path in sorted(results.glob("*.kv")):
        if path.name == "meta.kv":
            continue
        kv = read_kv(path)
        listing_path = path.with_suffix(".list.json")
        listing = json.loads(listing_path.read_text()) if listing_path.exists() else None
        case = Case(kv, listing)
        cases.setdefault(kv["backend"], []).append(case)
    for backend in cases:
        cases[backend].sort(key=lambda c: c.size)
    return cases


def paced_delay(meta):
    return f"{int(meta['paced_delay_ms']):,} ms delay" if meta.get("paced_delay_ms") else "delay ?"


def main_table(cases, meta):
    spread = int(meta["spread"])
    lines = [
        f"| tokens in L | seed s (tokens/s) | /health req/s (first / last) "
        f"| introspect, 1 token: req/s | % of /health | p50 / p99 ms "
        f"| introspect, {spread:,} tokens: req/s | % of /health | p50 / p99 ms | DB reads: first pass · run "
        f"| paced introspect ({spread:,} tokens, {paced_delay(meta)}): req/s | p50 / p99 / p99.9 ms "
        f"| paced /health: req/s · p99 ms "
        f"| list load req/s | create 201/s | peak RSS idle MiB | peak RSS, list load MiB | database MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        seed = f"{fmt(c.get('seed_seconds'), 1)} ({fmt(c.get('seed_rate'))})"
        if not c.measured:
            lines.append(f"| {size_label(c.size)} | {seed} | not measured: {'; '.join(c.kv['note'])} "
                         + "| " * 15 + "|")
            continue
        lines.append(
            f"| {size_label(c.size)} | {seed} "
            f"| {fmt(c.health())} ({fmt(c.get('health_rps'))} / {fmt(c.get('health_after_rps'))}) "
            f"| {fmt(c.get('introspect_hot_rps'))} | {fmt(c.pct('introspect_hot'), 1, ' %')} "
            f"| {c.latency('introspect_hot')} "
            f"| {fmt(c.get('introspect_spread_rps'))} | {fmt(c.pct('introspect_spread'), 1, ' %')} "
            f"| {c.latency('introspect_spread')} | {fmt(c.get('introspect_first_cache_misses'))} · {fmt(c.get('introspect_spread_cache_misses'))} "
            f"| {fmt(c.get('introspect_paced_rps'))} | {c.latency('introspect_paced', p999=True)} "
            f"| {fmt(c.get('health_paced_rps'))} · {fmt(c.get('health_paced_p99_ms'), 2)} "
            f"| {fmt(c.get('list_rps'))} | {fmt(c.get('create_201_per_s'))} "
            f"| {fmt(c.get('idle_peak_rss_mb'), 1)} | {fmt(c.get('list_peak_rss_mb'), 1)} | {fmt(c.get('db_mb'))} |"
        )
    return lines


def verdict(ok):
    return "met" if ok else "**missed**"


def goals_table(cases_by_backend, meta):
    backends = [b for b in BACKENDS if b in cases_by_backend]
    largest = {b: max((c for c in cases_by_backend[b] if c.measured), key=lambda c: c.size, default=None)
               for b in backends}
    head = "| goal | " + " | ".join(
        f"{BACKENDS[b]}, {size_label(largest[b].size) if largest[b] else '–'} tokens" for b in backends) + " |"
    lines = [head, "|---|" + "---|" * len(backends)]

    def row(title, cell):
        cells = [cell(largest[b], b) if largest[b] else "–" for b in backends]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    def both(c, show, ok):
        parts = [f"{show(c, label)} {verdict(ok(c, label))}" for label in ("introspect_hot", "introspect_spread")]
        return " · ".join(parts)

    row(f"introspect ≥ {GOALS['introspect_pct']:.0f} % of /health (1 token · many)",
        lambda c, b: both(c, lambda c, l: fmt(c.pct(l), 1, " %"), lambda c, l: (c.pct(l) or 0) >= GOALS["introspect_pct"]))
    row(f"introspect p99 < {GOALS['introspect_p99_ms']:g} ms at saturation (-c{meta['connections']}; 1 token · many)",
        lambda c, b: both(c, lambda c, l: fmt(c.get(f"{l}_p99_ms"), 2, " ms"),
                          lambda c, l: (c.get(f"{l}_p99_ms") or 1e9) < GOALS["introspect_p99_ms"]))
    row(f"introspect ≥ {GOALS['introspect_rps']:,} req/s",
        lambda c, b: both(c, lambda c, l: fmt(c.get(f"{l}_rps")),
                          lambda c, l: (c.get(f"{l}_rps") or 0) >= GOALS["introspect_rps"]))

    def paced(c, b):
        rps, p99, offered = c.get("introspect_paced_rps"), c.get("introspect_paced_p99_ms"), c.get("health_paced_rps")
        ok = rps is not None and p99 is not None and rps >= GOALS["introspect_rps"] and p99 < GOALS["introspect_p99_ms"]
        out = f"{fmt(rps)} req/s, p99 {fmt(p99, 2, ' ms')} {verdict(ok)}"
        if offered is not None and offered < GOALS["introspect_rps"]:
            out += f" (the pacing offered only {fmt(offered)} req/s: paced /health)"
        return out

    row(f"introspect p99 < {GOALS['introspect_p99_ms']:g} ms at ≥ {GOALS['introspect_rps']:,} req/s "
        f"(paced, {paced_delay(meta)}, {int(meta['spread']):,} tokens)", paced)
    row(f"create ≥ {GOALS['create_sqlite']:,} 201/s (the goal is SQLite's)",
        lambda c, b: f"{fmt(c.get('create_201_per_s'))}"
        + (f" {verdict((c.get('create_201_per_s') or 0) >= GOALS['create_sqlite'])}" if b == "sqlite" else ""))
    row(f"peak RSS < {GOALS['rss_mb']:g} MB (idle · list load)",
        lambda c, b: " · ".join(
            f"{fmt(v * 1.048576, 1, ' MB')} {verdict(v * 1.048576 < GOALS['rss_mb'])}"
            for v in (c.get("idle_peak_rss_mb") or 0, c.get("list_peak_rss_mb") or 0)))
    return lines


def listing_table(cases, small):
    measured = [c for c in cases if c.listing]
    if not measured:
        return ["No listing was measured."]
    queries = [row["query"] for row in measured[0].listing["queries"]]
    head = "| query (`perPage=100&page=0&…`) | " + " | ".join(
        f"{size_label(c.size)}: p50 / p99 ms | L/S p50" for c in measured)
    growth = len(measured) > 1
    head += f" | {size_label(measured[-1].size)} ÷ {size_label(measured[0].size)} p50 |" if growth else " |"
    lines = [head, "|---|" + "---:|---:|" * len(measured) + ("---:|" if growth else "")]
    s_p50 = []
    for query in queries:
        cells = []
        for c in measured:
            row = c.query(query)
            if not row or row["L"]["p50_ms"] is None:
                cells.append("– | –")
                continue
            l, s = row["L"], row["S"]
            s_p50.append(s["p50_ms"])
            short = f" (n={l['samples']})" if l["samples"] < c.listing.get("requests", l["samples"]) else ""
            flag = " ⚠" if row["problems"] else ""
            cells.append(f"{l['p50_ms']:.2f} / {l['p99_ms']:.2f}{short}{flag} | {l['p50_ms'] / s['p50_ms']:.1f}×")
        line = f"| `{query}` | " + " | ".join(cells)
        if growth:
            first, last = measured[0].query(query), measured[-1].query(query)
            if first and last and first["L"]["p50_ms"] and last["L"]["p50_ms"]:
                line += f" | {last['L']['p50_ms'] / first['L']['p50_ms']:.1f}×"
            else:
                line += " | –"
        lines.append(line + " |")
    lines += ["", f"S, the {small:,}-token application, answered every query in "
              f"{min(s_p50):.2f}–{max(s_p50):.2f} ms (p50) in these runs." if s_p50 else ""]
    return lines


def main():
    results, problems_file = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    meta = read_kv(results / "meta.kv")
    cases = load_cases(results)
    problems = [line for line in problems_file.read_text().splitlines() if line.strip()]
    out = [
        f"### Run of {meta['started']}",
        "",
        f"- Command: `{meta['command']}`",
        f"- Commit: `{meta['commit']}` ({meta['commit_subject']})",
        f"- Machine: {meta['cpus']} CPUs ({meta['cpu']}), {meta['mem_gib']} GiB RAM, Linux {meta['kernel']}; "
        f"load average {meta['load_start']} at start, {meta['load_end']} at end. "
        + ("The server is pinned to CPU 0 and wrk and the Python clients to CPU 1 (`taskset`); "
           "PostgreSQL, when measured, is pinned to CPU 1 too." if meta.get("pinned") == "1" else
           "wrk and the Python clients run on the same CPUs as the server (and PostgreSQL)."),
        f"- Toolchain: {meta['rustc']}; {meta['wrk']}"
        + (f"; PostgreSQL: {meta['postgres']}" if meta.get("postgres") else "")
        + ("; `ANALYZE` after seeding" if meta.get("postgres") and meta.get("pg_analyze") == "1" else
           "; no `ANALYZE` after seeding" if meta.get("postgres") else ""),
        f"- Server: {meta['profile']} build, `--auth-cache-ttl-ms {meta['cache_ttl_ms']} "
        f"--auth-change-poll-ms {meta['change_poll_ms']} --auth-cache-max-age-ms {meta['cache_max_age_ms']}`, "
        "`LATCHKEY_LOG=warn`; "
        f"a fresh database and server per backend and size (SQLite file in {meta['tmp']})",
        f"- wrk `-t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s --latency` (keep-alive, loopback) "
        f"for /health, introspection and list load; `-c{meta['create_connections']}` for create. "
        + (f"Paced runs: the same, each connection waiting {meta['paced_delay_ms']} ms after every answer "
           "before its next request (wrk's `delay()`; the wait is not part of the latency). "
           if meta.get("paced_delay_ms") else "")
        + f"List latency: {meta['requests']} sequential requests per query and application (after 5 warm-up ones).",
        f"- The whole run took {int(meta['seconds']) // 60} min {int(meta['seconds']) % 60} s.",
        "",
        "What each column is: L is the application seeded with N tokens (plus "
        f"{int(meta['spread']):,} created over HTTP for introspection); /health (no authentication) "
        "ran before and after the two saturating introspection runs and the % columns divide by the mean of the two; "
        f"\"introspect, 1 token\" sends one token, \"{int(meta['spread']):,} tokens\" rotates through "
        f"distinct ones, after a {meta['first_pass_seconds']} s first pass over them (DB reads: authentications "
        "read from the database during the first pass and during the timed run, as "
        "`latchkey_auth_cache_misses_total` counts them: each token is read at its first use, then again after "
        f"{int(meta['cache_max_age_ms']) / 1000:g} s while the change log vouches for it, or after "
        f"{meta['cache_ttl_ms']} ms when it is not read); "
        "these runs saturate the server, so their p99 is mostly the queue of the connections waiting on it; "
        f"the paced columns are the same {int(meta['spread']):,}-token introspection and /health again, after those, "
        f"at the same concurrency with each connection waiting {meta.get('paced_delay_ms', '?')} ms between an answer "
        "and its next request, a load below saturation, so their p99 is the server's latency at that rate "
        "(req/s is what was achieved; paced /health at the same pacing is its baseline; wrk's timers end the "
        "waits on whole milliseconds, so connections tend to send together, and p99 still includes draining "
        f"such a burst of up to {meta['connections']} requests); "
        "list load rotates through the 15 list queries below on L; create POSTs tokens into L, each a durable "
        "commit; RSS is the server process's peak (VmHWM: from its start until idle after seeding, and during the list load alone"
        + ("" if meta.get("peak_reset") == "1" else ", since the start: the peak could not be reset") + ").",
    ]
    for backend, title in BACKENDS.items():
        if backend not in cases:
            continue
        out += ["", f"#### {title}", ""] + main_table(cases[backend], meta)
    out += ["", "#### Goals, at the largest size measured", ""] + goals_table(cases, meta)
    for backend, title in BACKENDS.items():
        if backend not in cases:
            continue
        out += ["", f"#### {title}: listing page 0 of L, and L/S against the {int(meta['small']):,}-token "
                    "application S of the same run", ""] + listing_table(cases[backend], int(meta["small"]))
    notes = [f"{BACKENDS[b]} {c.size:,}: {n}" for b in cases for c in cases[b] for n in c.kv["note"]]
    out += ["", "#### Problems seen in this run", ""]
    if problems or notes:
        out += [f"- {line}" for line in problems + notes]
    else:
        out.append("None: no request failed and every check (statuses, counts, totalCounts, order) passed.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
