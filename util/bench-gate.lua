-- util/bench-gate.lua: the Lua peer of the benches (util/bench-lib).
--
-- The admin gate as one would write it with Debian's packages:
-- libnginx-mod-http-lua (lua-nginx-module 0.10.23 on LuaJIT),
-- lua-nginx-redis (resty.redis, installed as nginx.redis),
-- lua-nginx-string (resty.sha256 and resty.string, as nginx.sha256 and
-- nginx.string) and lua-cjson.  In the access phase:
--
--   1. the token, from "Authorization: Bearer <token>" or from the
--      access_token query parameter; none, a malformed header, or both
--      places at once is a 401 M_MISSING_TOKEN, as Synapse answers;
--   2. GET <prefix><hex SHA-256 of the token> from Redis, on a pooled
--      connection (cosocket keep-alive);
--   3. on a miss, whoami and then the admin check
--      (GET /_synapse/admin/v2/users/<user id>) through
--      ngx.location.capture to an internal location that proxies to
--      Synapse, judged by status: 200 admin, 403 not an admin, 401
--      unknown token;
--   4. SET of the verdict with its TTL (EX);
--   5. an admin goes on to proxy_pass; others get Synapse's JSON error.
--
-- The key is the same digest as the module's (SHA-256 through OpenSSL,
-- which nginx.sha256 calls by FFI), under a prefix of its own.  The value
-- is a letter: "a" and the user id, "f" (forbidden) or "u" (unknown).
-- Redis unavailable: the token is verified with Synapse and not stored.
-- What this gate does not do, and the module does: the path readings
-- (it gates the locations it is put in), signed entries, revocation,
-- forwarding a query token as a header, single-flight misses.

local redis = require "nginx.redis"
local sha256 = require "nginx.sha256"
local str = require "nginx.string"
local cjson = require "cjson.safe"

local ngx = ngx
local capture = ngx.location.capture

local _M = {}

local conf = {
    redis_host = "127.0.0.1",
    redis_port = 6379,
    timeout = 100,              -- ms, connect, send and read each
    pool_size = 64,
    idle = 60000,               -- ms a pooled connection is kept
    prefix = "lua_gate:",
    ttl = 60,                   -- s, an admin's verdict
    negative_ttl = 10,          -- s, a refusal
    verify = "/_lua_synapse",   -- the internal location to Synapse
}

local MISSING = '{"errcode":"M_MISSING_TOKEN",'
    .. '"error":"Missing access token"}'
local INVALID = '{"errcode":"M_MISSING_TOKEN",'
    .. '"error":"Invalid Authorization header."}'
local MIXING = '{"errcode":"M_MISSING_TOKEN",'
    .. '"error":"Mixing Authorization headers and access_token query '
    .. 'parameters."}'
local UNKNOWN = '{"errcode":"M_UNKNOWN_TOKEN",'
    .. '"error":"Invalid access token passed.","soft_logout":false}'
local FORBIDDEN = '{"errcode":"M_FORBIDDEN",'
    .. '"error":"You are not a server admin"}'
local UNAVAILABLE = '{"errcode":"M_UNKNOWN",'
    .. '"error":"The access token could not be verified, try again later"}'


function _M.init(c)
    for k, v in pairs(c) do
        conf[k] = v
    end
end


-- the headers of Synapse's own JSON answers, as the module sends them:
-- a browser UI (synapse-admin) reads an error only with the CORS ones
local function answer(status, body)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    ngx.header["Access-Control-Allow-Origin"] = "*"
    ngx.header["Access-Control-Allow-Methods"] =
        "GET, HEAD, POST, PUT, DELETE, OPTIONS"
    ngx.header["Access-Control-Allow-Headers"] =
        "X-Requested-With, Content-Type, Authorization, Date"
    ngx.header["Cache-Control"] = "no-cache, no-store, must-revalidate"
    ngx.print(body)

    -- the answer is sent: end the request as done (an error status here
    -- would have nginx answer a second time)
    return ngx.exit(ngx.HTTP_OK)
end


-- the token and whether it came in the query; nil and the error body
local function token_of()
    local auth = ngx.var.http_authorization
    local query = ngx.var.arg_access_token

    -- (nginx itself refuses two Authorization headers with a 400)
    if auth then
        if query then
            return nil, nil, MIXING
        end

        local t = auth:match("^Bearer ([^ ]+)$")
        if not t then
            return nil, nil, INVALID
        end

        return t, false
    end

    if query then
        return ngx.unescape_uri(query), true
    end

    return nil, nil, MISSING
end


local function connect()
    local red = redis:new()

    -- resty.redis 0.27 has set_timeout only (set_timeouts would be sent
    -- to Redis as a command: unknown methods are commands)
    red:set_timeout(conf.timeout)

    local ok, err = red:connect(conf.redis_host, conf.redis_port)
    if not ok then
        ngx.log(ngx.WARN, "lua gate: redis: ", err)
        return nil
    end

    return red
end


local function release(red)
    local ok, err = red:set_keepalive(conf.idle, conf.pool_size)
    if not ok then
        ngx.log(ngx.WARN, "lua gate: redis keepalive: ", err)
    end
end


-- the verdict from Synapse: "a<user>", "f", "u", or nil (no answer)
local function verify(args)
    local opts = { args = args }

    local res = capture(conf.verify .. "/_matrix/client/v3/account/whoami",
                        opts)

    if res.status == 401 then
        return "u"
    end

    if res.status == 403 then
        return "f"
    end

    if res.status ~= 200 then
        ngx.log(ngx.ERR, "lua gate: whoami answered ", res.status)
        return nil
    end

    local who = cjson.decode(res.body)
    local user = type(who) == "table" and who.user_id

    if type(user) ~= "string" or user:sub(1, 1) ~= "@" then
        ngx.log(ngx.ERR, "lua gate: whoami sent no user id")
        return nil
    end

    res = capture(conf.verify .. "/_synapse/admin/v2/users/"
                  .. ngx.escape_uri(user), opts)

    if res.status == 200 then
        return "a" .. user
    end

    if res.status == 403 then
        return "f"
    end

    if res.status == 401 then
        return "u"
    end

    ngx.log(ngx.ERR, "lua gate: the admin check answered ", res.status)
    return nil
end


function _M.access()
    local token, in_query, err = token_of()

    if not token then
        return answer(401, err)
    end

    local h = sha256:new()
    h:update(token)
    local key = conf.prefix .. str.to_hex(h:final())

    local verdict
    local red = connect()

    if red then
        local v, e = red:get(key)

        if v == nil then
            ngx.log(ngx.WARN, "lua gate: redis get: ", e)
            red:close()
            red = nil

        else
            release(red)

            if v ~= ngx.null then
                verdict = v
            end
        end
    end

    if not verdict then
        verdict = verify(in_query and { access_token = token } or nil)

        if not verdict then
            return answer(503, UNAVAILABLE)
        end

        red = connect()

        if red then
            local ttl = verdict:sub(1, 1) == "a" and conf.ttl
                        or conf.negative_ttl

            local ok, e = red:set(key, verdict, "EX", ttl)
            if not ok then
                ngx.log(ngx.WARN, "lua gate: redis set: ", e)
                red:close()

            else
                release(red)
            end
        end
    end

    local v = verdict:sub(1, 1)

    if v == "a" then
        return
    end

    if v == "f" then
        return answer(403, FORBIDDEN)
    end

    return answer(401, UNKNOWN)
end


return _M
