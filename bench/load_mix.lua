-- wrk script of the bounded load test: rotate through the request paths listed (one per line) in the file
-- named by env BENCH_PATHS, each thread from a different offset; count every response status across all
-- threads so that a failure run says which codes came back, and print one BENCH line for bench_load.py.
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
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      totals[code] = (totals[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(totals) do parts[#parts + 1] = code .. ":" .. count end
  table.sort(parts)
  io.write(string.format("BENCH requests=%d seconds=%.3f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f " ..
                         "max_ms=%.2f errors=%d statuses=%s\n",
                         summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
                         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
                         latency:percentile(99) / 1000, latency.max / 1000,
                         summary.errors.connect + summary.errors.read + summary.errors.write +
                         summary.errors.timeout + summary.errors.status,
                         table.concat(parts, ",")))
end
