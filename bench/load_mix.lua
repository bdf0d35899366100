-- wrk script of the bounded load test: rotate through the request paths listed (one per line) in the file
-- named by env BENCH_PATHS, each thread from a different offset; count every response status (with the
-- API's error code for non-200) across all threads, and the seconds into the run at which failures came
-- back, so that a failure run says which codes and when; print one BENCH line for bench_load.py.
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
  position = (id * 7) % #paths
  statuses = {}
  failure_seconds = {}
  started = os.time()
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end

function response(status, headers, body)
  local key = tostring(status)
  if status ~= 200 then
    key = key .. "/" .. (string.match(body, '"code":%s*"([^"]+)"') or "?")
    local second = tostring(os.time() - started)
    failure_seconds[second] = (failure_seconds[second] or 0) + 1
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local totals, when = {}, {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      totals[code] = (totals[code] or 0) + count
    end
    for second, count in pairs(thread:get("failure_seconds")) do
      when[second] = (when[second] or 0) + count
    end
  end
  local parts, seconds = {}, {}
  for code, count in pairs(totals) do parts[#parts + 1] = code .. ":" .. count end
  for second, count in pairs(when) do seconds[#seconds + 1] = second .. ":" .. count end
  table.sort(parts)
  table.sort(seconds, function(a, b) return tonumber(a:match("^%d+")) < tonumber(b:match("^%d+")) end)
  io.write(string.format("BENCH requests=%d seconds=%.3f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f " ..
                         "max_ms=%.2f errors=%d statuses=%s failure_seconds=%s\n",
                         summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
                         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
                         latency:percentile(99) / 1000, latency.max / 1000,
                         summary.errors.connect + summary.errors.read + summary.errors.write +
                         summary.errors.timeout + summary.errors.status,
                         table.concat(parts, ","), #seconds > 0 and table.concat(seconds, ",") or "-"))
end
