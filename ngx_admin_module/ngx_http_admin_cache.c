
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <hiredis/hiredis.h>

#include "ngx_http_admin_cache.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_digest.h"
#include "ngx_http_admin_flight.h"
#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_revoke.h"
#include "ngx_http_admin_status.h"
#include "ngx_http_admin_token.h"
#include "ngx_http_admin_value.h"
#include "ngx_http_admin_zone.h"


/*
 * The verdict tiers, in order: the zone (admin_gate_cache_zone, shared
 * memory, ngx_http_admin_zone.c), then Redis, before Synapse is asked;
 * between the two, the request joins the single flight of its token
 * (ngx_http_admin_flight.c).  A verdict learned from a later tier is
 * stored in the earlier ones.
 *
 * In Redis: GET before asking Synapse, SET NX after, and a revocation
 * marker when the upstream refuses a token the gate let through.  Replies
 * to SET are not waited for.  A reply for a GET finds its request through
 * the waiter, which the request's pool cleanup cancels, so a reply never
 * touches a request that is gone.
 *
 * Revocations cannot be lost (ngx_http_admin_revoke.c keeps them for
 * every worker):
 *   - a verdict is stored with SET ... PXAT <its verification started +
 *     TTL> NX, so it expires on time wherever it was delayed, and never
 *     replaces what is there;
 *   - a revocation writes "revoked" over the key, unconditionally, until
 *     the verification start of any verdict still on its way plus the
 *     longest TTL has passed (admin_gate_cache_ttl and a margin for
 *     clocks): a late SET finds it and fails, or is dead when it lands;
 *   - until Redis has taken the marker (it was down), the marker is sent
 *     again first on every new connection, and no worker believes an
 *     "allow" read from Redis for that key meanwhile.
 * In the zone, a revocation removes the entry, after the tombstone is
 * made; an "allow" stored in the zone is removed again when a tombstone
 * is found after the store.  Either way no "allow" stays in the zone
 * after a revocation.
 */


/* what the clocks of the nginx hosts and of Redis may disagree by */
#define NGX_HTTP_ADMIN_REVOKE_MARGIN  30000


typedef struct {
    ngx_shm_zone_t               *zone;
    uint32_t                      rid;
    uint64_t                      expire;
    ngx_str_t                     key;
} ngx_http_admin_mark_t;


static ngx_int_t ngx_http_admin_cache_get(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf);
static void ngx_http_admin_cache_hash(ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf);
static ngx_int_t ngx_http_admin_cache_key(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf);
static void ngx_http_admin_cache_take(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_value_t *v);
static void ngx_http_admin_cache_zone_store(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf,
    ngx_http_admin_value_t *v);
static void ngx_http_admin_cache_got(void *data, redisReply *reply);
static ngx_http_admin_cache_e ngx_http_admin_cache_read(
    ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx, ngx_str_t *value);
static void ngx_http_admin_cache_written(void *data, redisReply *reply);
static ngx_inline void ngx_http_admin_cache_count(
    ngx_http_admin_main_conf_t *amcf, ngx_uint_t lookup);



/* a Redis lookup's result, indexed by ngx_http_admin_cache_e */

static ngx_uint_t  ngx_http_admin_cache_lookups[] = {
    NGX_HTTP_ADMIN_LOOKUP_REDIS_ERROR,        /* none: never counted */
    NGX_HTTP_ADMIN_LOOKUP_REDIS_HIT,          /* HIT_ZONE: never here */
    NGX_HTTP_ADMIN_LOOKUP_REDIS_HIT,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_MISS,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_ERROR,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_REVOKED
};
static void ngx_http_admin_cache_connect(ngx_http_admin_redis_conf_t *rcf);
static void ngx_http_admin_cache_mark(void *data, ngx_str_t *key,
    uint64_t expire);
static void ngx_http_admin_cache_marked(void *data, redisReply *reply);
static ngx_int_t ngx_http_admin_cache_header_filter(ngx_http_request_t *r);


/* the filter chain is a process-wide list by nginx's design */
static ngx_http_output_header_filter_pt  ngx_http_admin_next_header_filter;


static ngx_str_t  ngx_http_admin_revoked = ngx_string("revoked");


ngx_int_t
ngx_http_admin_cache_init(ngx_conf_t *cf)
{
    ngx_uint_t                     i;
    ngx_http_admin_main_conf_t    *amcf;
    ngx_http_admin_redis_conf_t  **rcfp;

    ngx_http_admin_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_admin_cache_header_filter;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);

    rcfp = amcf->redis.elts;

    for (i = 0; i < amcf->redis.nelts; i++) {
        rcfp[i]->connect = ngx_http_admin_cache_connect;
    }

    return NGX_OK;
}


/*
 * In every worker, once the zone has its key (made now, or kept from
 * before a reload): the key of every server's namespace, derived from it
 * and the server's Redis and key prefix, as its Redis keys are.
 */

ngx_int_t
ngx_http_admin_cache_init_process(ngx_cycle_t *cycle)
{
    uint32_t                     ns[2];
    uint64_t                     key[2];
    ngx_str_t                    parts[2];
    ngx_uint_t                   s;
    ngx_http_admin_srv_conf_t   *ascf;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_admin_main_conf_t  *amcf;
    ngx_http_core_srv_conf_t   **cscfp;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);
    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_admin_module);

    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        ascf = cscfp[s]->ctx->srv_conf[ngx_http_admin_module.ctx_index];

        ns[0] = ascf->redis ? ascf->redis->rid : 0;
        ns[1] = (uint32_t) ascf->key_prefix.len;

        parts[0].data = (u_char *) ns;
        parts[0].len = sizeof(ns);
        parts[1] = ascf->key_prefix;

        ngx_http_admin_siphash(amcf->hash_key, parts, 2, key);

        ngx_memcpy(ascf->hash_key, key, sizeof(key));
    }

    return NGX_OK;
}


/*
 * The lookup of a request with its token read:
 *     NGX_OK        - the zone knows the verdict: ctx->verdict;
 *     NGX_AGAIN     - the request waits: for Redis (state REDIS), or for
 *                     the lookup of another request with the same token
 *                     (state FOLLOW);
 *     NGX_DECLINED  - no tier has it: ask Synapse (ctx->cache says
 *                     whether Redis was down);
 *     NGX_ERROR.
 */

ngx_int_t
ngx_http_admin_cache_lookup(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    ngx_int_t                    rc;
    ngx_http_admin_value_t       v;
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    if (!ctx->hashed) {
        ngx_http_admin_cache_hash(ctx, ascf);
    }

    if (amcf->zone != NULL) {
        rc = ngx_http_admin_zone_lookup(amcf->zone, ctx->hash, r->pool, &v,
                                        ctx->user_buf);

        if (rc == NGX_OK) {
            ngx_http_admin_cache_count(amcf, NGX_HTTP_ADMIN_LOOKUP_ZONE_HIT);

            ctx->cache = NGX_HTTP_ADMIN_CACHE_HIT_ZONE;
            ngx_http_admin_cache_take(r, ctx, &v);
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_admin_cache_count(amcf, NGX_HTTP_ADMIN_LOOKUP_ZONE_MISS);
    }

    /* a leader that took over from another is in its flight already */

    if (!ctx->leading) {
        rc = ngx_http_admin_flight_join(r, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ascf->redis == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_admin_cache_get(r, ctx, ascf);
}


/*
 * Stores the verdict Synapse gave: an admin for admin_gate_cache_ttl,
 * a refusal for admin_gate_negative_ttl, in the zone and in Redis.
 * Errors are never stored; a zero TTL stores nothing.
 */

void
ngx_http_admin_cache_store(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    u_char                  *p;
    time_t                   ttl;
    ngx_str_t                argv[6];
    ngx_http_admin_value_t   v;
    u_char                   buf[NGX_INT64_LEN];

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

    v.verdict = ctx->verdict;
    v.expire = ctx->started + (uint64_t) ttl * 1000;
    v.user = ctx->user;

    if (ctx->passthrough) {
        v.body = ctx->body;

    } else {
        ngx_str_null(&v.body);
    }

    ngx_http_admin_cache_zone_store(r, ctx, ascf, &v);

    /* Redis had no verdict: not when it failed, nor over a marker */

    if (ctx->cache != NGX_HTTP_ADMIN_CACHE_MISS) {
        return;
    }

    if (ngx_http_admin_value_encode(r->pool, &v, &ctx->key, ascf->secret,
                                    &argv[2])
        != NGX_OK)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "admin cache: verdict not stored");
        return;
    }

    p = ngx_sprintf(buf, "%uL", v.expire);

    ngx_str_set(&argv[0], "SET");
    argv[1] = ctx->key;
    ngx_str_set(&argv[3], "PXAT");
    argv[4].data = buf;
    argv[4].len = p - buf;
    ngx_str_set(&argv[5], "NX");

    (void) ngx_http_admin_redis_command(ascf->redis, argv, 6, 0,
                                        ngx_http_admin_cache_written, NULL,
                                        NULL);
}


/*
 * Sends GET <key>.  NGX_AGAIN: the request waits for the reply, which
 * runs its phases again.  NGX_DECLINED: Redis is not available.
 */

static ngx_int_t
ngx_http_admin_cache_get(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    ngx_int_t  rc;
    ngx_str_t  argv[2];

    if (ngx_http_admin_cache_key(r, ctx, ascf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&argv[0], "GET");
    argv[1] = ctx->key;

    /* the lookup waits as long as its own server says */

    rc = ngx_http_admin_redis_command(ascf->redis, argv, 2, ascf->timeout,
                                      ngx_http_admin_cache_got, ctx,
                                      &ctx->waiter);

    if (rc == NGX_OK) {
        ctx->state = NGX_HTTP_ADMIN_STATE_REDIS;

        /* a client that leaves ends the request; the reply is dropped */

        r->read_event_handler = ngx_http_test_reading;

        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;

        ngx_http_admin_cache_count(
                      ngx_http_get_module_main_conf(r, ngx_http_admin_module),
                      NGX_HTTP_ADMIN_LOOKUP_REDIS_ERROR);
    }

    return rc;
}


/*
 * The zone's and the flights' index of a token: the SipHash of the token,
 * or of the token, a NUL and the appservice user (a token never holds a
 * NUL), under the key of the server's namespace (made by
 * ngx_http_admin_cache_init_process()).
 */

static void
ngx_http_admin_cache_hash(ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    ngx_str_t   parts[3];
    ngx_uint_t  n;

    parts[0] = ctx->token;
    n = 1;

    if (ctx->as_user.data != NULL) {
        ngx_str_set(&parts[1], "\0");
        parts[2] = ctx->as_user;
        n = 3;
    }

    ngx_http_admin_siphash(ascf->hash_key, parts, n, ctx->hash);

    ctx->hashed = 1;
}


/* the Redis key of the token, and of the tombstones: computed once */

static ngx_int_t
ngx_http_admin_cache_key(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_srv_conf_t *ascf)
{
    if (ctx->key.len) {
        return NGX_OK;
    }

    return ngx_http_admin_token_key(r->pool, &ascf->key_prefix, &ctx->token,
                                    &ctx->as_user, ascf->secret, &ctx->key);
}


/* a verdict found in a tier; "v" lives in the request's pool */

static void
ngx_http_admin_cache_take(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_value_t *v)
{
    ctx->verdict = v->verdict;
    ctx->user = v->user;

    if (v->body.len) {
        ctx->body = v->body;
        ctx->status = (v->verdict == NGX_HTTP_ADMIN_UNKNOWN_TOKEN)
                      ? NGX_HTTP_UNAUTHORIZED : NGX_HTTP_FORBIDDEN;
        ctx->passthrough = 1;
    }
}


/*
 * Into the zone, unless a revocation is made meanwhile: the tombstone is
 * looked for after the store, and the entry removed again if there is
 * one (a revocation makes its tombstone before it removes the entry).
 */

static void
ngx_http_admin_cache_zone_store(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf,
    ngx_http_admin_value_t *v)
{
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    if (amcf->zone == NULL) {
        return;
    }

    if (v->verdict != NGX_HTTP_ADMIN_ALLOW) {
        ngx_http_admin_zone_insert(amcf->zone, ctx->hash, v);
        return;
    }

    if (ngx_http_admin_cache_key(r, ctx, ascf) != NGX_OK) {
        return;
    }

    ngx_http_admin_zone_insert(amcf->zone, ctx->hash, v);

    if (ngx_http_admin_revoke_find(amcf->revocations,
                                   ascf->redis ? ascf->redis->rid : 0,
                                   &ctx->key))
    {
        ngx_http_admin_zone_delete(amcf->zone, ctx->hash);
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

    ngx_str_t                   value;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_admin_srv_conf_t  *ascf;

    r = ctx->request;
    c = r->connection;

    ctx->waiter = NULL;
    ctx->state = NGX_HTTP_ADMIN_STATE_REDIS_DONE;

    if (reply == NULL) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;

    } else if (reply->type == REDIS_REPLY_ERROR) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;
        ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);
        ngx_http_admin_redis_refused(ascf->redis, c->log, reply);

    } else if (reply->type == REDIS_REPLY_STRING
               && reply->len == ngx_http_admin_revoked.len
               && ngx_memcmp(reply->str, ngx_http_admin_revoked.data,
                             reply->len) == 0)
    {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_REVOKED;

    } else if (reply->type == REDIS_REPLY_STRING) {
        value.data = (u_char *) reply->str;
        value.len = reply->len;

        ctx->cache = ngx_http_admin_cache_read(r, ctx, &value);

    } else if (reply->type == REDIS_REPLY_NIL) {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_MISS;

    } else {
        ctx->cache = NGX_HTTP_ADMIN_CACHE_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "admin cache lookup: %ui", (ngx_uint_t) ctx->cache);

    ngx_http_admin_cache_count(
                      ngx_http_get_module_main_conf(r, ngx_http_admin_module),
                      ngx_http_admin_cache_lookups[ctx->cache]);

    r->read_event_handler = ngx_http_block_reading;

    ngx_http_set_log_request(c->log, r);

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/*
 * A stored value: a hit, or a miss when it is not a verdict of ours, is
 * forged, belongs to another key or has expired (logged, without the
 * token), or a revoked "allow" when Redis has not taken the revocation.
 * A hit is stored in the zone too.
 */

static ngx_http_admin_cache_e
ngx_http_admin_cache_read(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_str_t *value)
{
    u_char                      *p;
    ngx_uint_t                   level;
    const char                  *why;
    ngx_http_admin_value_t       v;
    ngx_http_admin_value_e       rc;
    ngx_http_admin_srv_conf_t   *ascf;
    ngx_http_admin_main_conf_t  *amcf;
    u_char                       tag[NGX_HTTP_ADMIN_TOKEN_TAG_LEN];

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    rc = ngx_http_admin_value_decode(value, &ctx->key, ascf->secret,
                                     ngx_http_admin_revoke_now(), &v);

    switch (rc) {

    case NGX_HTTP_ADMIN_VALUE_OK:
        break;

    case NGX_HTTP_ADMIN_VALUE_FORGED:
        level = NGX_LOG_WARN;
        why = "its tag does not verify (forged, or copied from another key)";
        goto miss;

    case NGX_HTTP_ADMIN_VALUE_EXPIRED:
        level = NGX_LOG_INFO;
        why = "it has expired";
        goto miss;

    default: /* NGX_HTTP_ADMIN_VALUE_INVALID */
        level = NGX_LOG_INFO;
        why = "it is not a verdict of this version";
        goto miss;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    if (v.verdict == NGX_HTTP_ADMIN_ALLOW
        && ngx_http_admin_revoke_find(amcf->revocations, ascf->redis->rid,
                                      &ctx->key))
    {
        /* Redis has not taken the revocation yet */
        return NGX_HTTP_ADMIN_CACHE_REVOKED;
    }

    /* the reply is freed when the request runs again: copy what stays */

    p = ngx_pnalloc(r->pool, v.user.len + v.body.len);
    if (p == NULL) {
        return NGX_HTTP_ADMIN_CACHE_ERROR;
    }

    ngx_memcpy(p, v.user.data, v.user.len);
    ngx_memcpy(p + v.user.len, v.body.data, v.body.len);

    v.user.data = p;
    v.body.data = p + v.user.len;

    ngx_http_admin_cache_take(r, ctx, &v);

    ngx_http_admin_cache_zone_store(r, ctx, ascf, &v);

    return NGX_HTTP_ADMIN_CACHE_HIT;

miss:

    ngx_http_admin_token_tag(&ctx->token, tag);

    ngx_log_error(level, r->connection->log, 0,
                  "admin gate ignores the cached verdict for token "
                  "\"%*s\": %s", (size_t) NGX_HTTP_ADMIN_TOKEN_TAG_LEN,
                  tag, why);

    return NGX_HTTP_ADMIN_CACHE_MISS;
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


/* a new connection: the revocations Redis has not taken go first */

static void
ngx_http_admin_cache_connect(ngx_http_admin_redis_conf_t *rcf)
{
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_admin_module);

    ngx_http_admin_revoke_unwritten(amcf->revocations, rcf->rid,
                                    ngx_http_admin_cache_mark, rcf);
}


/* SET <key> revoked PXAT <expire>, over whatever is there */

static void
ngx_http_admin_cache_mark(void *data, ngx_str_t *key, uint64_t expire)
{
    ngx_http_admin_redis_conf_t  *rcf = data;

    u_char                      *p;
    ngx_str_t                    argv[5];
    ngx_http_admin_mark_t       *mark;
    ngx_http_admin_waiter_t     *w;
    ngx_http_admin_main_conf_t  *amcf;
    u_char                       buf[NGX_INT64_LEN];

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_admin_module);

    mark = ngx_alloc(sizeof(ngx_http_admin_mark_t) + key->len,
                     ngx_cycle->log);
    if (mark == NULL) {
        return;
    }

    mark->zone = amcf->revocations;
    mark->rid = rcf->rid;
    mark->expire = expire;
    mark->key.data = (u_char *) &mark[1];
    mark->key.len = key->len;
    ngx_memcpy(mark->key.data, key->data, key->len);

    p = ngx_sprintf(buf, "%uL", expire);

    ngx_str_set(&argv[0], "SET");
    argv[1] = mark->key;
    argv[2] = ngx_http_admin_revoked;
    ngx_str_set(&argv[3], "PXAT");
    argv[4].data = buf;
    argv[4].len = p - buf;

    if (ngx_http_admin_redis_command(rcf, argv, 5, 0,
                                     ngx_http_admin_cache_marked, mark, &w)
        != NGX_OK)
    {
        /* Redis is down: the marker goes with the next connection */
        ngx_free(mark);
        return;
    }

    ngx_http_admin_redis_own(w);
}


static void
ngx_http_admin_cache_marked(void *data, redisReply *reply)
{
    ngx_http_admin_mark_t  *mark = data;

    if (reply != NULL && reply->type == REDIS_REPLY_STATUS) {
        ngx_http_admin_revoke_written(mark->zone, mark->rid, &mark->key,
                                      mark->expire);

    } else if (reply != NULL) {
        ngx_http_admin_cache_written(NULL, reply);
    }

    ngx_free(mark);
}


/*
 * Revocation: the upstream refused, with 401 or 403, a request the gate
 * allowed (the token was logged out, the admin demoted).  No worker
 * believes a cached "allow" for the token from now on until every verdict
 * cached before has expired, and the next requests are verified afresh.
 */

static ngx_int_t
ngx_http_admin_cache_header_filter(ngx_http_request_t *r)
{
    uint32_t                     rid;
    uint64_t                     expire;
    ngx_msec_t                   ttl;
    ngx_http_admin_ctx_t        *ctx;
    ngx_http_admin_srv_conf_t   *ascf;
    ngx_http_admin_main_conf_t  *amcf;

    if (r != r->main
        || (r->headers_out.status != NGX_HTTP_UNAUTHORIZED
            && r->headers_out.status != NGX_HTTP_FORBIDDEN))
    {
        return ngx_http_admin_next_header_filter(r);
    }

    ctx = ngx_http_admin_get_ctx(r);

    if (ctx == NULL
        || ctx->state != NGX_HTTP_ADMIN_STATE_DECIDED
        || ctx->verdict != NGX_HTTP_ADMIN_ALLOW
        || !ctx->hashed
        || ctx->revoked)
    {
        return ngx_http_admin_next_header_filter(r);
    }

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);
    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    if ((ascf->redis == NULL && amcf->zone == NULL)
        || ngx_http_admin_cache_key(r, ctx, ascf) != NGX_OK)
    {
        return ngx_http_admin_next_header_filter(r);
    }

    ctx->revoked = 1;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "admin gate forgets the verdict for user \"%V\": "
                  "the upstream answered %ui",
                  &ctx->user, r->headers_out.status);

    ttl = (ngx_msec_t) amcf->max_ttl * 1000 + NGX_HTTP_ADMIN_REVOKE_MARGIN;
    rid = ascf->redis ? ascf->redis->rid : 0;

    expire = ngx_http_admin_revoke_add(amcf->revocations, rid, &ctx->key,
                                       ttl);

    if (amcf->zone != NULL) {
        ngx_http_admin_zone_delete(amcf->zone, ctx->hash);
    }

    if (ascf->redis != NULL) {
        ngx_http_admin_cache_mark(ascf->redis, &ctx->key, expire);
    }

    return ngx_http_admin_next_header_filter(r);
}


/* for admin_gate_status */

static ngx_inline void
ngx_http_admin_cache_count(ngx_http_admin_main_conf_t *amcf,
    ngx_uint_t lookup)
{
    if (amcf->counters != NULL) {
        ngx_http_admin_count(&amcf->counters->lookups[lookup]);
    }
}
