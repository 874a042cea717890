-- util/soak-wrk.lua: the wrk script of util/soak (not util/bench's).
--
-- Every request is drawn at random (seeded per thread):
--
--   class    admin      soak_admin_<n>, n < SOAK_ADMINS: 200
--            user       soak_user_<n>, n < SOAK_USERS, not an admin: 403
--            out        soak_out_<n>, n < SOAK_OUT, a token Synapse
--                       does not know (logged out): 401
--            junk       a token of its own per request, unknown: 401
--            basic      "Authorization: Basic ...": 401, no lookup
--            mixing     an admin token in the header and another in the
--                       query: 401, no lookup
--            nonascii   a token with a byte outside visible ASCII, in
--                       the header or (percent-encoded) the query: 401
--            empty      "Authorization: Bearer" or "?access_token=": 401
--            none       no token at all: 401
--   where    header or query, for the first four classes
--   tokens   half of the picks from the first 16 tokens of the class (hot,
--            found in the gate's zone), half from all of them
--   method   GET, or POST (SOAK_POST, 0.25) with one of the bodies of
--            SOAK_DIR/bodies.list ("id size md5 weight", the bytes in
--            SOAK_DIR/body.<id>), drawn by weight
--
-- Each request carries "soak_id=<phase><thread>-<n>" in its query; the
-- gate echoes it in X-Soak-Id (add_header ... always), so a response is
-- matched to its request whatever connection it came on.  Each thread
-- writes SOAK_DIR/client-<phase>-<thread>.log:
--
--   S <id> <time> <class> <where> <token or -> <method> <body id or ->
--   R <id or -> <time> <status> <X-Body-MD5 or ->
--
-- at the time it hands the request to wrk and when the response is in
-- (wall clock, seconds with microseconds).  util/soak-check reads them.
-- The request wrk makes only to look at (below) has the id "verify" and
-- no record.

local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } soak_timeval_t;
int gettimeofday(soak_timeval_t *tv, void *tz);
]]

local dir = assert(os.getenv("SOAK_DIR"), "SOAK_DIR is not set")
local phase = os.getenv("SOAK_PHASE") or "m"
local admins = tonumber(os.getenv("SOAK_ADMINS") or "") or 2000
local users = tonumber(os.getenv("SOAK_USERS") or "") or 1000
local outs = tonumber(os.getenv("SOAK_OUT") or "") or 1000
local post = tonumber(os.getenv("SOAK_POST") or "") or 0.25

local tv = ffi.new("soak_timeval_t")

local function now()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

-- classes and their weights
local classes = {
    { "admin", 0.40 }, { "user", 0.15 }, { "out", 0.10 }, { "junk", 0.10 },
    { "basic", 0.02 }, { "mixing", 0.02 }, { "nonascii", 0.03 },
    { "empty", 0.03 }, { "none", 0.15 },
}

local gets = {
    "/_synapse/admin/v2/users/%%40u_%d%%3Asoak",
    "/_synapse/admin/v1/rooms?limit=10&order_by=size",
    "/_synapse/admin/v1/background_updates/status",
}

local posts = {
    "/_synapse/admin/v1/media/upload/%d",
    "/_synapse/admin/v1/send_server_notice?txn=%d",
}

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
    thread:set("id", #threads)
end

local function pick(list)
    local r = math.random()

    for _, e in ipairs(list) do
        r = r - e[2]
        if r < 0 then
            return e[1]
        end
    end

    return list[#list][1]
end

function init(args)
    local list

    n = 0
    bodies = {}
    weights = {}

    math.randomseed(os.time() * 100 + id)

    list = assert(io.open(dir .. "/bodies.list", "r"))

    for line in list:lines() do
        local b, size, _, w = line:match("^(%d+) (%d+) (%x+) ([%d.]+)$")
        local f = assert(io.open(dir .. "/body." .. b, "rb"))

        bodies[tonumber(b)] = f:read("*a")
        f:close()

        assert(#bodies[tonumber(b)] == tonumber(size), "body " .. b)
        weights[#weights + 1] = { tonumber(b), tonumber(w) }
    end

    list:close()

    rec = assert(io.open(dir .. "/client-" .. phase .. "-" .. id .. ".log",
                         "w"))
    rec:setvbuf("full", 65536)

    -- wrk calls request() of the first thread once right after init(),
    -- to see whether the requests are pipelined, and never sends it
    verifying = id == 1
end

local function token(prefix, count)
    local k

    if math.random() < 0.5 then
        k = math.random(0, math.min(count, 16) - 1)
    else
        k = math.random(0, count - 1)
    end

    return prefix .. k
end

function request()
    if verifying then
        verifying = false
        return wrk.format("GET", "/_synapse/admin/v1/rooms?soak_id=verify")
    end

    local class = pick(classes)
    local method, path, body, bid = "GET", nil, nil, "-"
    local headers = {}
    local where, tok, qtok = "none", "-", nil
    local rid, sep

    n = n + 1
    rid = phase .. id .. "-" .. n

    if math.random() < post then
        method = "POST"
        bid = pick(weights)
        body = bodies[bid]
        path = string.format(posts[math.random(#posts)], n)
        headers["Content-Type"] = "application/octet-stream"

    else
        path = string.format(gets[math.random(#gets)], n % 1000)
    end

    if class == "admin" or class == "user" or class == "out"
       or class == "junk"
    then
        if class == "admin" then
            tok = token("soak_admin_", admins)
        elseif class == "user" then
            tok = token("soak_user_", users)
        elseif class == "out" then
            tok = token("soak_out_", outs)
        else
            tok = "soak_junk_" .. phase .. id .. "_" .. n
        end

        if math.random() < 0.5 then
            where = "header"
            headers["Authorization"] = "Bearer " .. tok
        else
            where = "query"
            qtok = tok
        end

    elseif class == "basic" then
        where = "header"
        headers["Authorization"] = "Basic c29hazpzb2Fr"

    elseif class == "mixing" then
        where = "both"
        tok = token("soak_admin_", admins)
        headers["Authorization"] = "Bearer " .. tok
        qtok = token("soak_admin_", admins)

    elseif class == "nonascii" then
        if math.random() < 0.5 then
            where = "header"
            headers["Authorization"] = "Bearer soak_admin_1\195\169"
        else
            where = "query"
            qtok = "soak_admin_1%C3%A9"
        end

    elseif class == "empty" then
        if math.random() < 0.5 then
            where = "header"
            headers["Authorization"] = "Bearer "
        else
            where = "query"
            qtok = ""
        end
    end

    sep = path:find("?", 1, true) and "&" or "?"

    if qtok and math.random() < 0.5 then
        path = path .. sep .. "access_token=" .. qtok .. "&soak_id=" .. rid

    elseif qtok then
        path = path .. sep .. "soak_id=" .. rid .. "&access_token=" .. qtok

    else
        path = path .. sep .. "soak_id=" .. rid
    end

    rec:write(string.format("S %s %.6f %s %s %s %s %s\n", rid, now(), class,
                            where, tok, method, bid))

    return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
    rec:write(string.format("R %s %.6f %d %s\n", headers["X-Soak-Id"] or "-",
                            now(), status, headers["X-Body-MD5"] or "-"))
end

function done(summary, latency, requests)
    local e = summary.errors

    io.write(string.format("soak wrk %d requests in %.1fs, socket errors:"
                           .. " connect %d read %d write %d timeout %d\n",
                           summary.requests, summary.duration / 1e6,
                           e.connect, e.read, e.write, e.timeout))
end
