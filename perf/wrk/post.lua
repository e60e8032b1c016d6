-- post.lua: wrk script for the perf/ harness. Every request is a POST with a unique memo
-- (run tag, wrk thread, sequence), so nearsim's audit can prove each transfer applied once.
-- Arguments after `--`: body=native|sendft|rust|fixed  tag=TEXT  receivers=N  count=0|1
--   native: {"receiver_id","amount","memo"} (POST /v1/transfers), rust: same fields (/transfer),
--   sendft: {"receiverId","amount","memo"} (/send-ft), fixed: one constant body (for the ceiling).
--   count=1 counts answers that are not 200 in Lua (costs a Lua call per response).
-- done() prints `name=value unit` lines: requests/s, p50/p95/p99/max, non-200 and socket errors.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local kind, tag, receivers, count = "native", "wrk", 1000, false
seq, non200 = 0, 0 -- globals: thread:get() reads them in done()
local path

function init(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^(%w+)=(.*)$")
    if k == "body" then kind = v
    elseif k == "tag" then tag = v
    elseif k == "receivers" then receivers = tonumber(v)
    elseif k == "count" then count = (v == "1")
    end
  end
  path = wrk.path
  wrk.headers["Content-Type"] = "application/json"
  if kind == "fixed" then
    wrk.method = "POST"
    wrk.body = '{"receiver_id":"user-1.test.near","amount":"1","memo":"fixed"}'
  end
end

function request()
  if kind == "fixed" then return wrk.format() end
  seq = seq + 1
  local recv = "user-" .. (seq % receivers) .. ".test.near"
  local memo = tag .. "-" .. tid .. "-" .. seq
  local body
  if kind == "sendft" then
    body = '{"receiverId":"' .. recv .. '","amount":"1","memo":"' .. memo .. '"}'
  else
    body = '{"receiver_id":"' .. recv .. '","amount":"1","memo":"' .. memo .. '"}'
  end
  return wrk.format("POST", path, nil, body)
end

if os.getenv("WRK_COUNT_NON200") == "1" then
  function response(status, headers, body)
    if status ~= 200 then non200 = non200 + 1 end
  end
end

function done(summary, latency, requests)
  local n200 = 0
  for _, t in ipairs(threads) do n200 = n200 + (t:get("non200") or 0) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local label = os.getenv("WRK_LABEL") or "wrk"
  io.write(string.format("%s_requests=%d requests\n", label, summary.requests))
  io.write(string.format("%s_requests_per_s=%.0f req/s\n", label, summary.requests / secs))
  io.write(string.format("%s_latency_p50=%.2f ms\n", label, latency:percentile(50) / 1000))
  io.write(string.format("%s_latency_p95=%.2f ms\n", label, latency:percentile(95) / 1000))
  io.write(string.format("%s_latency_p99=%.2f ms\n", label, latency:percentile(99) / 1000))
  io.write(string.format("%s_latency_max=%.2f ms\n", label, latency.max / 1000))
  io.write(string.format("%s_non2xx=%d requests\n", label, e.status))
  if os.getenv("WRK_COUNT_NON200") == "1" then
    io.write(string.format("%s_non200=%d requests\n", label, n200))
  end
  io.write(string.format("%s_socket_errors=%d errors\n", label,
    e.connect + e.read + e.write + e.timeout))
end
