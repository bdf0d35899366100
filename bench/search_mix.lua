-- wrk script: rotate through the request paths listed (one per line) in the file named by env BENCH_PATHS,
-- each thread starting at a different offset; report p50/p95/p99 latency, status counts and, when the
-- body carries it, the server-side time ("took_ms" of our API, "query_ms" of Datasette) as p50/p95/p99.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  if #line > 0 then paths[#paths + 1] = line end
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  position = (id * 7919) % #paths
  statuses = {}
  server_times = {}
  bad = 0
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 then bad = bad + 1 end
  local took = string.match(body, '"took_ms":%s*([%d%.]+)') or string.match(body, '"query_ms":%s*([%d%.eE%-]+)')
  if took then server_times[#server_times + 1] = took end
end

function done(summary, latency, requests)
  local total_bad = 0
  local times = {}
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    local part = thread:get("server_times")
    for _, value in ipairs(part) do times[#times + 1] = tonumber(value) end
  end
  table.sort(times)
  local function pct(p)
    if #times == 0 then return -1 end
    return times[math.max(1, math.ceil(#times * p / 100))]
  end
  io.write(string.format("BENCH requests=%d seconds=%.3f rps=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f " ..
                         "errors=%d non200=%d server_n=%d server_p50_ms=%.2f server_p95_ms=%.2f server_p99_ms=%.2f\n",
                         summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
                         latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
                         summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
                         total_bad, #times, pct(50), pct(95), pct(99)))
end
