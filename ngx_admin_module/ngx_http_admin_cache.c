
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <hiredis/hiredis.h>

#include "ngx_http_admin_cache.h"
#include "ngx_http_admin_json.h"
#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_token.h"


/*
 * The verdict cache in Redis: GET before asking Synapse, SET after, and
 * DEL when the upstream refuses a token the gate let through.  Replies to
 * SET and DEL are not waited for.  A reply for a GET finds its request
 * through the waiter, which the request's pool cleanup cancels, so a reply
 * never touches a request that is gone.
 */


static void ngx_http_admin_cache_got(void *data, redisReply *reply);
static void ngx_http_admin_cache_written(void *data, redisReply *reply);
static void ngx_http_admin_cache_delete(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf);
static ngx_int_t ngx_http_admin_cache_header_filter(ngx_http_request_t *r);


/* the filter chain is a process-wide list by nginx's design */
static ngx_http_output_header_filter_pt  ngx_http_admin_next_header_filter;


ngx_int_t
ngx_http_admin_cache_init(ngx_conf_t *cf)
{
    ngx_http_admin_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_admin_cache_header_filter;

    return NGX_OK;
}


/*
 * Sends GET <key>.  NGX_AGAIN: the request waits for the reply, which
 * runs its phases again.  NGX_DECLINED: Redis is not available.
 */

ngx_int_t
ngx_http_admin_cache_get(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    ngx_int_t  rc;
    ngx_str_t  argv[2];

    if (ngx_http_admin_token_key(r->pool, &ascf->key_prefix, &ctx->token,
                                 &ctx->as_user, &ctx->key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&argv[0], "GET");
    argv[1] = ctx->key;

    rc = ngx_http_admin_redis_command(ascf->redis, argv, 2,
                                      ngx_http_admin_cache_got, ctx,
                                      &ctx->waiter);

    if (rc == NGX_OK) {
        ctx->step = NGX_HTTP_ADMIN_STEP_CACHE;
        ctx->done = 0;

        /* a client that leaves ends the request; the reply is dropped */

        r->read_event_handler = ngx_http_test_reading;

        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;
    }

    return rc;
}


/*
 * Stores the verdict Synapse gave: an admin for admin_gate_cache_ttl,
 * a refusal for admin_gate_negative_ttl.  Errors are never stored; a zero
 * TTL stores nothing.
 */

void
ngx_http_admin_cache_set(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    u_char     *p;
    time_t      ttl;
    ngx_str_t   argv[5];
    u_char      buf[NGX_TIME_T_LEN];

    if (ctx->cache != NGX_HTTP_ADMIN_CACHE_MISS) {
        return;
    }

    switch (ctx->verdict) {

    case NGX_HTTP_ADMIN_ALLOW:
        ttl = ascf->ttl;
        break;

    case NGX_HTTP_ADMIN_FORBIDDEN:
    case NGX_HTTP_ADMIN_UNKNOWN_TOKEN:
        ttl = ascf->negative_ttl;
        break;

    default:
        return;
    }

    if (ttl == 0) {
        return;
    }

    if (ngx_http_admin_json_verdict_encode(r->pool, ctx, &argv[2])
        != NGX_OK)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "admin cache: verdict not stored");
        return;
    }

    p = ngx_sprintf(buf, "%T", ttl);

    ngx_str_set(&argv[0], "SET");
    argv[1] = ctx->key;
    ngx_str_set(&argv[3], "EX");
    argv[4].data = buf;
    argv[4].len = p - buf;

    (void) ngx_http_admin_redis_command(ascf->redis, argv, 5,
                                        ngx_http_admin_cache_written, NULL,
                                        NULL);
}


/* the request is going away: its GET reply must not reach it */

void
ngx_http_admin_cache_cancel(ngx_http_admin_ctx_t *ctx)
{
    if (ctx->waiter) {
        ngx_http_admin_redis_cancel(ctx->waiter);
        ctx->waiter = NULL;
    }
}


/*
 * The reply to GET.  A value that does not decode is a miss; an error
 * reply, or no reply, is an error.  The request then runs its phases
 * again, as after a subrequest.
 */

static void
ngx_http_admin_cache_got(void *data, redisReply *reply)
{
    ngx_http_admin_ctx_t  *ctx = data;

    ngx_str_t              value;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_admin_json_e  rc;

    r = ctx->request;
    c = r->connection;

    ctx->waiter = NULL;
    ctx->done = 1;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;

    } else if (reply->type == REDIS_REPLY_STRING) {
        value.data = (u_char *) reply->str;
        value.len = reply->len;

        rc = ngx_http_admin_json_verdict_decode(r->pool, &value, ctx,
                                                &ctx->cached);

        if (rc == NGX_HTTP_ADMIN_JSON_OK) {
            ctx->cache = NGX_HTTP_ADMIN_CACHE_HIT;

        } else {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "admin cache: stored value is not a verdict");

            ngx_str_null(&ctx->user);
            ctx->passthrough = 0;
            ctx->cache = (rc == NGX_HTTP_ADMIN_JSON_NOMEM)
                         ? NGX_HTTP_ADMIN_CACHE_ERROR
                         : NGX_HTTP_ADMIN_CACHE_MISS;
        }

    } else if (reply->type == REDIS_REPLY_NIL) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_MISS;

    } else {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "admin cache lookup: %ui", (ngx_uint_t) ctx->cache);

    r->read_event_handler = ngx_http_block_reading;

    ngx_http_set_log_request(c->log, r);

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_admin_cache_written(void *data, redisReply *reply)
{
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "admin gate redis refused to store a verdict: %*s",
                      (size_t) ngx_min(reply->len, 128), reply->str);
    }
}


static void
ngx_http_admin_cache_delete(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    ngx_str_t  argv[2];

    ngx_str_set(&argv[0], "DEL");
    argv[1] = ctx->key;

    (void) ngx_http_admin_redis_command(ascf->redis, argv, 2,
                                        ngx_http_admin_cache_written, NULL,
                                        NULL);
}


/*
 * Revocation: the upstream refused, with 401 or 403, a request the gate
 * allowed (the token was logged out, the admin demoted).  The verdict is
 * deleted, so the next request is verified afresh.  A SET of the same
 * request went out before on the same connection, so it cannot undo this.
 */

static ngx_int_t
ngx_http_admin_cache_header_filter(ngx_http_request_t *r)
{
    ngx_http_admin_ctx_t       *ctx;
    ngx_http_admin_srv_conf_t  *ascf;

    if (r != r->main
        || (r->headers_out.status != NGX_HTTP_UNAUTHORIZED
            && r->headers_out.status != NGX_HTTP_FORBIDDEN))
    {
        return ngx_http_admin_next_header_filter(r);
    }

    ctx = ngx_http_admin_get_ctx(r);

    if (ctx != NULL
        && ctx->verdict == NGX_HTTP_ADMIN_ALLOW
        && ctx->key.len
        && !ctx->revoked)
    {
        ctx->revoked = 1;

        ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "admin gate forgets the verdict for user \"%V\": "
                      "the upstream answered %ui",
                      &ctx->user, r->headers_out.status);

        ngx_http_admin_cache_delete(r, ctx, ascf);
    }

    return ngx_http_admin_next_header_filter(r);
}
