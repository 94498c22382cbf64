-- The one wrk script of scripts/bench.sh. Environment:
--   BENCH_TOKEN         send `Authorization: Bearer $BENCH_TOKEN` (when set, non-empty)
--   BENCH_TOKENS_FILE   one secret per line: rotate through them, one per request
--   BENCH_PATHS_FILE    one path (with query) per line: rotate through them
--   BENCH_METHOD        HTTP method (default GET); BENCH_BODY the body (JSON)
--   BENCH_COUNT_STATUS  1: count answers by status (wrk reads each body then)
--   BENCH_DELAY_MS      paced: each connection waits this many milliseconds (a whole
--                       number, wrk's delay() hook) after an answer before its next
--                       request; the wait is not part of the latency, which wrk
--                       times from sending a request to its answer. wrk's timers
--                       fire on whole-millisecond ticks, so waiting connections
--                       tend to send together, in bursts
-- Every request is formatted once, up front, so rotating costs wrk no more
-- than a table lookup; without a file the request is wrk's static one.
-- Prints one summary line that bench.sh parses:
--   BENCH requests=… duration_us=… p50_us=… p99_us=… p999_us=… max_us=… status_errors=… … statuses=201:123,503:4
-- status_errors counts answers with status >= 400 (wrk's own counter).

local function env(name)
  local value = os.getenv(name)
  if value == "" then return nil end
  return value
end

local function read_lines(file)
  local out = {}
  for line in io.lines(file) do
    if line ~= "" then out[#out + 1] = line end
  end
  assert(#out > 0, file .. " is empty")
  return out
end

wrk.method = env("BENCH_METHOD") or "GET"
wrk.body = env("BENCH_BODY")
wrk.headers["Accept"] = "application/json"
if wrk.body then wrk.headers["Content-Type"] = "application/json" end
if env("BENCH_TOKEN") then wrk.headers["Authorization"] = "Bearer " .. env("BENCH_TOKEN") end

local tokens = env("BENCH_TOKENS_FILE") and read_lines(env("BENCH_TOKENS_FILE"))
local paths = env("BENCH_PATHS_FILE") and read_lines(env("BENCH_PATHS_FILE"))

-- Defined only when paced: wrk asks delay() before every request once it exists.
local delay_ms = env("BENCH_DELAY_MS")
if delay_ms then
  delay_ms = tonumber(delay_ms)
  assert(delay_ms and delay_ms >= 0 and delay_ms == math.floor(delay_ms),
    "BENCH_DELAY_MS must be a whole number of milliseconds")
  function delay()
    return delay_ms
  end
end

-- Threads are numbered so each starts at another place in the rotation.
local next_thread = 0
function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  threads = threads or {}
  threads[#threads + 1] = thread
end

if tokens or paths then
  local prepared, n = {}, 0
  function init(args)
    local count = math.max(tokens and #tokens or 1, paths and #paths or 1)
    for i = 1, count do
      local headers = {}
      for k, v in pairs(wrk.headers) do headers[k] = v end
      if tokens then headers["Authorization"] = "Bearer " .. tokens[(i - 1) % #tokens + 1] end
      local path = paths and paths[(i - 1) % #paths + 1] or wrk.path
      prepared[i] = wrk.format(wrk.method, path, headers, wrk.body)
    end
    n = (thread_number or 0) * math.floor(count / 2 + 1)
  end
  function request()
    n = n % #prepared + 1
    return prepared[n]
  end
end

statuses = {}
if env("BENCH_COUNT_STATUS") == "1" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads or {}) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do parts[#parts + 1] = status .. ":" .. count end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d statuses=%s\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout,
    #parts > 0 and table.concat(parts, ",") or "-"))
end
