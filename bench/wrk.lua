-- wrk script for every bench/run.sh load: plain GET by default; with BENCH_BODY (a file)
-- a POST of that body, plus one header per 'Name: value' line of BENCH_HEADERS (a file).
-- Headers given with wrk -H (e.g. Connection: close) are kept. At the end it prints one
-- line "BENCH_JSON {...}" with the figures bench/run.sh tabulates (latency in ms).
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local body_file, headers_file = os.getenv("BENCH_BODY"), os.getenv("BENCH_HEADERS")
if body_file and body_file ~= "" then
  wrk.method = "POST"
  wrk.body = slurp(body_file)
  wrk.headers["Content-Type"] = "application/json"
end
if headers_file and headers_file ~= "" then
  for line in slurp(headers_file):gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,' ..
    '"non2xx":%d,"socket_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write, e.timeout))
end
