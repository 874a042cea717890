-- util/soak-stand-ins.lua: the two servers behind the gate in util/soak,
-- each an nginx of its own with the Lua module (content_by_lua).
--
--   synapse    whoami and the gate's admin check, by the token's name:
--              soak_admin_<n> is a server admin (@admin_<n>:soak),
--              soak_user_<n> a user who is not (@user_<n>:soak), any
--              other token unknown (401 M_UNKNOWN_TOKEN: logged out or
--              never issued).  A mode, set through the control server
--              (GET /mode?set=normal|slow|fail[&delay=seconds]): "slow"
--              sleeps before it answers, "fail" answers 500.
--   upstream   the admin API: reads the whole body, and records the
--              token it carried, how many Authorization headers it had,
--              whether an access_token was left in the query, and the
--              body's length and MD5, in nginx variables that its
--              access_log writes (one line per request); answers 200
--              with the MD5 in X-Body-MD5.
--
-- The mode lives in lua_shared_dict soak; a Synapse that is killed and
-- started again starts in "normal".

local _M = {}

local ngx = ngx

local unknown = '{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token '
                .. 'passed.","soft_logout":false}'
local forbidden = '{"errcode":"M_FORBIDDEN","error":"You are not a server '
                  .. 'admin"}'
local failed = '{"errcode":"M_UNKNOWN","error":"Internal server error"}'

-- the token, Synapse's way: "Bearer <token>", else ?access_token=
local function token_of()
    local auth = ngx.var.http_authorization

    if auth then
        return auth:match("^Bearer (%S+)$")
    end

    return ngx.var.arg_access_token
end

-- the user a token stands for, and whether it is an admin
local function user_of(token)
    local n

    if not token then
        return nil
    end

    n = token:match("^soak_admin_(%d+)$")
    if n then
        return "@admin_" .. n .. ":soak", true
    end

    n = token:match("^soak_user_(%d+)$")
    if n then
        return "@user_" .. n .. ":soak", false
    end

    return nil
end

local function answer(status, body)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.print(body)
end

function _M.synapse(kind)
    local dict = ngx.shared.soak
    local mode = dict:get("mode") or "normal"
    local user, admin

    ngx.var.soak_mode = mode

    if mode == "slow" then
        ngx.sleep(dict:get("delay") or 5)

    elseif mode == "fail" then
        return answer(500, failed)
    end

    user, admin = user_of(token_of())
    ngx.var.soak_class = user and (admin and "admin" or "user") or "unknown"

    if not user then
        return answer(401, unknown)
    end

    if kind == "whoami" then
        return answer(200, '{"user_id":"' .. user .. '","is_guest":false,'
                           .. '"device_id":"SOAK"}')
    end

    if not admin then
        return answer(403, forbidden)
    end

    return answer(200, '{"name":"' .. user .. '","admin":true,'
                       .. '"deactivated":false}')
end

-- GET /mode?set=MODE[&delay=SECONDS]
function _M.control()
    local dict = ngx.shared.soak
    local mode = ngx.var.arg_set

    if mode ~= "normal" and mode ~= "slow" and mode ~= "fail" then
        return answer(400, '{"error":"set=normal|slow|fail"}')
    end

    dict:set("mode", mode)
    dict:set("delay", tonumber(ngx.var.arg_delay or "") or 5)

    return answer(200, '{"mode":"' .. mode .. '"}')
end

function _M.upstream()
    local headers = ngx.req.get_headers(200)
    local auth = headers["authorization"]
    local body, file, fh, token, n

    ngx.req.read_body()

    body = ngx.req.get_body_data()

    if not body then
        file = ngx.req.get_body_file()

        if file then
            fh = assert(io.open(file, "rb"))
            body = fh:read("*a")
            fh:close()
        end
    end

    body = body or ""

    -- the token: "-" for none, "!" for anything but one "Bearer <token>"
    if type(auth) == "table" then
        n = #auth
        token = "!"

    elseif auth then
        n = 1
        token = auth:match("^Bearer ([%w_]+)$") or "!"

    else
        n = 0
        token = "-"
    end

    ngx.var.soak_token = token
    ngx.var.soak_nauth = n
    ngx.var.soak_qtoken = (ngx.var.args or ""):find("access_token", 1, true)
                          and "query" or "-"
    ngx.var.soak_len = #body
    ngx.var.soak_md5 = ngx.md5(body)

    ngx.header["X-Body-MD5"] = ngx.var.soak_md5

    return answer(200, '{"ok":true}')
end

return _M
