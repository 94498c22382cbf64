-- wrk script for scripts/bench.sh.
-- Sends `Authorization: Bearer $BENCH_TOKEN` when BENCH_TOKEN is set and
-- non-empty, and prints one machine-readable summary line that bench.sh parses:
--   BENCH requests=… duration_us=… p50_us=… p99_us=… status_errors=… …
-- status_errors counts responses with status >= 400 (wrk's own counter).
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.headers["Accept"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
