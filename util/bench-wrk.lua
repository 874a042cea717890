-- util/bench-wrk.lua: the wrk script of util/bench and util/bench-memory.
--
-- Sends GET <the URL's path and query> with, from the environment:
--
--   BENCH_TOKEN    "Authorization: Bearer <BENCH_TOKEN>" on every request
--                  (none when empty or unset; for a token in the query,
--                  put it in the URL)
--   BENCH_PREFIX   instead, a token of its own per request:
--                  <BENCH_PREFIX><thread>_<n>, n = 1, 2, ... (a miss each)
--   BENCH_CYCLE    with BENCH_PREFIX, n runs 0 .. BENCH_CYCLE - 1 and then
--                  over again (the same tokens, in turn)
--   BENCH_STOP     each thread stops after this many responses
--
-- Counts the responses by status, and prints at the end, for the caller
-- to read:
--
--   bench requests <n> seconds <s> rps <n/s> p50 <us> p99 <us>
--   bench errors <connect> <read> <write> <timeout>
--   bench status <status> <count>       (one line per status)

local token = os.getenv("BENCH_TOKEN") or ""
local prefix = os.getenv("BENCH_PREFIX") or ""
local cycle = tonumber(os.getenv("BENCH_CYCLE") or "")
local stop = tonumber(os.getenv("BENCH_STOP") or "")

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
    thread:set("id", #threads)
end

function init(args)
    statuses = {}
    responses = 0

    if token ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. token
    end
end

if prefix ~= "" then
    local n = 0

    function request()
        local t

        if cycle then
            t = prefix .. id .. "_" .. n
            n = (n + 1) % cycle

        else
            n = n + 1
            t = prefix .. id .. "_" .. n
        end

        return wrk.format(nil, nil, { Authorization = "Bearer " .. t })
    end
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    responses = responses + 1

    if stop and responses >= stop then
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    local all = {}

    for _, thread in ipairs(threads) do
        for status, n in pairs(thread:get("statuses")) do
            all[status] = (all[status] or 0) + n
        end
    end

    io.write(string.format("bench requests %d seconds %.3f rps %.0f"
                           .. " p50 %d p99 %d\n",
                           summary.requests, seconds,
                           summary.requests / seconds,
                           latency:percentile(50), latency:percentile(99)))
    io.write(string.format("bench errors %d %d %d %d\n", e.connect, e.read,
                           e.write, e.timeout))

    for status, n in pairs(all) do
        io.write(string.format("bench status %d %d\n", status, n))
    end
end
