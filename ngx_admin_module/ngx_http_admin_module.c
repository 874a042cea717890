
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_answer.h"
#include "ngx_http_admin_cache.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_digest.h"
#include "ngx_http_admin_flight.h"
#include "ngx_http_admin_json.h"
#include "ngx_http_admin_log.h"
#include "ngx_http_admin_path.h"
#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_revoke.h"
#include "ngx_http_admin_status.h"
#include "ngx_http_admin_tenant.h"
#include "ngx_http_admin_token.h"
#include "ngx_http_admin_variables.h"
#include "ngx_http_admin_verify.h"
#include "ngx_http_admin_zone.h"


static ngx_int_t ngx_http_admin_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_admin_precontent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_admin_gate(ngx_http_request_t *r);
static ngx_int_t ngx_http_admin_gated(ngx_http_request_t *r,
    ngx_http_admin_loc_conf_t *alcf, ngx_uint_t off);
static ngx_int_t ngx_http_admin_start(ngx_http_request_t *r,
    ngx_http_admin_loc_conf_t *alcf);
static ngx_int_t ngx_http_admin_read_token(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);
static ngx_int_t ngx_http_admin_lookup(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_loc_conf_t *alcf);
static ngx_int_t ngx_http_admin_looked_up(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_loc_conf_t *alcf);
static ngx_int_t ngx_http_admin_verify(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_loc_conf_t *alcf,
    ngx_http_admin_state_e state);
static ngx_int_t ngx_http_admin_step(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_loc_conf_t *alcf);
static ngx_int_t ngx_http_admin_decide(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);

static ngx_int_t ngx_http_admin_add_variables(ngx_conf_t *cf);
static void *ngx_http_admin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_admin_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_admin_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_admin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_admin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_admin_init(ngx_conf_t *cf);
static char *ngx_http_admin_prefix(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_admin_check_uri(ngx_conf_t *cf, void *post, void *data);
static ngx_int_t ngx_http_admin_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_admin_init_process(ngx_cycle_t *cycle);
static void ngx_http_admin_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_admin_uri_post =
    ngx_http_admin_check_uri;


static ngx_conf_enum_t  ngx_http_admin_failures[] = {
    { ngx_string("verify"), NGX_HTTP_ADMIN_FAILURE_VERIFY },
    { ngx_string("deny"), NGX_HTTP_ADMIN_FAILURE_DENY },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_admin_commands[] = {

    { ngx_string("admin_gate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_admin_loc_conf_t, enable),
      NULL },

    { ngx_string("admin_gate_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_admin_prefix,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("admin_gate_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_admin_loc_conf_t, verify),
      &ngx_http_admin_uri_post },

    { ngx_string("admin_gate_redis"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_admin_redis,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("admin_gate_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_admin_srv_conf_t, timeout),
      NULL },

    { ngx_string("admin_gate_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_admin_srv_conf_t, ttl),
      NULL },

    { ngx_string("admin_gate_negative_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_admin_srv_conf_t, negative_ttl),
      NULL },

    { ngx_string("admin_gate_key_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_admin_srv_conf_t, key_prefix),
      NULL },

    { ngx_string("admin_gate_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_admin_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("admin_gate_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_admin_secret_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_admin_srv_conf_t, secret),
      NULL },

    { ngx_string("admin_gate_redis_failure"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_admin_srv_conf_t, failure),
      &ngx_http_admin_failures },

    { ngx_string("admin_gate_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_admin_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_admin_module_ctx = {
    ngx_http_admin_add_variables,          /* preconfiguration */
    ngx_http_admin_init,                   /* postconfiguration */

    ngx_http_admin_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_admin_create_srv_conf,        /* create server configuration */
    ngx_http_admin_merge_srv_conf,         /* merge server configuration */

    ngx_http_admin_create_loc_conf,        /* create location configuration */
    ngx_http_admin_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_admin_module = {
    NGX_MODULE_V1,
    &ngx_http_admin_module_ctx,            /* module context */
    ngx_http_admin_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_admin_init_module,            /* init module */
    ngx_http_admin_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_admin_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* admin_gate_prefix /_synapse/admin; never changed */

static ngx_str_t  ngx_http_admin_default_prefix = ngx_string("/_synapse/admin");

static ngx_array_t  ngx_http_admin_default_prefixes = {
    &ngx_http_admin_default_prefix, 1, sizeof(ngx_str_t), 1, NULL
};


/* the ACCESS phase: where the gate decides */

static ngx_int_t
ngx_http_admin_handler(ngx_http_request_t *r)
{
    return ngx_http_admin_gate(r);
}


/*
 * The PRECONTENT phase, first of its handlers: the gate again, for a
 * request whose ACCESS phase ended before the gate ran (another access
 * module said yes under "satisfy any").  A request the gate has allowed
 * goes on to try_files, mirror and its content handler.
 */

static ngx_int_t
ngx_http_admin_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_admin_gate(r);

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


/*
 * The gate, entered again after each subrequest:
 *     no ctx           - gated? then read the token, ask whoami;
 *     subrequest busy  - NGX_AGAIN;
 *     whoami answered  - ask the admin check;
 *     both answered    - forward (NGX_OK) or answer the client ourselves.
 * Denials are sent from here rather than returned as a status, so neither
 * "satisfy any" nor an error_page can turn them into something else.
 */

static ngx_int_t
ngx_http_admin_gate(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_uint_t                  off;
    ngx_http_admin_ctx_t       *ctx;
    ngx_http_admin_srv_conf_t  *ascf;
    ngx_http_admin_loc_conf_t  *alcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_admin_module);

    off = !alcf->enable;

    if (off) {
        ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

        if (!ascf->gated) {
            return NGX_DECLINED;
        }
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_admin_module);

    if (ctx == NULL) {

        /* a CORS preflight carries no token: Synapse answers it */

        if (r->method == NGX_HTTP_OPTIONS) {
            return NGX_DECLINED;
        }

        rc = ngx_http_admin_gated(r, alcf, off);
        if (rc != NGX_OK) {
            return rc;
        }

        /* an internal redirect keeps a verdict already given */

        ctx = ngx_http_admin_get_ctx(r);

        if (ctx != NULL
            && ctx->state == NGX_HTTP_ADMIN_STATE_DECIDED
            && ctx->verdict == NGX_HTTP_ADMIN_ALLOW)
        {
            ngx_http_set_ctx(r, ctx, ngx_http_admin_module);
            return NGX_OK;
        }

        return ngx_http_admin_start(r, alcf);
    }

    switch (ctx->state) {

    case NGX_HTTP_ADMIN_STATE_DECIDED:
        /* NGX_DONE: answered already */
        return (ctx->verdict == NGX_HTTP_ADMIN_ALLOW) ? NGX_OK : NGX_DONE;

    case NGX_HTTP_ADMIN_STATE_START:
        /* a follower whose leader left leads now */
        ngx_http_admin_flight_resume(r, ctx);
        return ngx_http_admin_lookup(r, ctx, alcf);

    case NGX_HTTP_ADMIN_STATE_REDIS_DONE:
        return ngx_http_admin_looked_up(r, ctx, alcf);

    case NGX_HTTP_ADMIN_STATE_LANDED:
        ngx_http_admin_flight_resume(r, ctx);
        return ngx_http_admin_decide(r, ctx);

    case NGX_HTTP_ADMIN_STATE_WHOAMI_DONE:
    case NGX_HTTP_ADMIN_STATE_ADMIN_DONE:
        return ngx_http_admin_step(r, ctx, alcf);

    default:
        /* REDIS, FOLLOW, WHOAMI, ADMIN: waiting */
        return NGX_AGAIN;
    }
}


/*
 * A request is gated when any reading of its path falls under a gated
 * prefix: the raw path as sent, decoded or not, resolved or not, and the
 * URI nginx has for it now, after rewrites (ngx_http_admin_path_gated()).
 *
 * Where the gate is off ("off"), in a server where it is on somewhere,
 * a request is still gated when nginx's reading of its raw path may not
 * be the upstream's: /_synapse/admin/v2/users/x%2F..%2F..%2Fv1%2Fserver_
 * version lands in an open server_version location, while proxy_pass
 * sends its raw target, a v2 user, to Synapse.  Without a verification
 * location there, such a request is refused (400).
 */

static ngx_int_t
ngx_http_admin_gated(ngx_http_request_t *r, ngx_http_admin_loc_conf_t *alcf,
    ngx_uint_t off)
{
    u_char     *q;
    ngx_int_t   rc;
    ngx_str_t   raw;

    raw = r->unparsed_uri;

    q = raw.len ? memchr(raw.data, '?', raw.len) : NULL;
    if (q != NULL) {
        raw.len = q - raw.data;
    }

    if (off && ngx_http_admin_path_plain(&raw)) {
        return NGX_DECLINED;
    }

    rc = ngx_http_admin_path_gated(r->pool, &raw, &r->uri, alcf->prefixes);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == 0) {
        return NGX_DECLINED;
    }

    if (off && alcf->verify.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "admin gate refused request: its raw path is an "
                      "admin path that nginx reads as an open one");

        return ngx_http_admin_answer_refuse(r);
    }

    return NGX_OK;
}


/* a gated request without a verdict: its ctx, its token, the lookup */

static ngx_int_t
ngx_http_admin_start(ngx_http_request_t *r, ngx_http_admin_loc_conf_t *alcf)
{
    ngx_int_t              rc;
    ngx_http_admin_ctx_t  *ctx;

    ctx = ngx_http_admin_ctx_create(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_admin_read_token(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_admin_lookup(r, ctx, alcf);
}


/*
 * The token, by Synapse's rules, into ctx->token and ctx->bearer
 * ("Bearer <token>", for the subrequests and the upstream).  NGX_DONE:
 * there is none that can be valid, and the client has been answered.
 */

static ngx_int_t
ngx_http_admin_read_token(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    u_char                  *p;
    ngx_str_t                auth[2];
    ngx_uint_t               i, n;
    const char              *why;
    ngx_list_part_t         *part;
    ngx_table_elt_t         *h;
    ngx_http_admin_err_e     err;
    ngx_http_admin_token_t   tok;

    if (r->http_version < NGX_HTTP_VERSION_10) {

        /* HTTP/0.9 has no headers: nothing to forward a token in */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "admin gate refused request: HTTP/0.9");

        ctx->verdict = NGX_HTTP_ADMIN_BAD_REQUEST;
        return ngx_http_admin_answer_deny(r, ctx,
                                          NGX_HTTP_ADMIN_ERR_UNRECOGNIZED);
    }

    n = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Authorization") - 1) {
            continue;
        }

        /* nginx's parsers give every header its name in lowercase */

        if (h[i].lowcase_key != NULL
            ? ngx_memcmp(h[i].lowcase_key, "authorization",
                         sizeof("authorization") - 1) == 0
            : ngx_strncasecmp(h[i].key.data, (u_char *) "Authorization",
                              sizeof("Authorization") - 1) == 0)
        {
            if (n == 0) {
                ctx->authorization = &h[i];
            }

            if (n < 2) {
                auth[n] = h[i].value;
            }

            n++;
        }
    }

    switch (ngx_http_admin_token_extract(r->pool, auth, n, &r->args, &tok)) {

    case NGX_HTTP_ADMIN_TOKEN_OK:
        break;

    case NGX_HTTP_ADMIN_TOKEN_MISSING:
        err = NGX_HTTP_ADMIN_ERR_MISSING;
        why = "no access token";
        goto missing;

    case NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER:
        err = NGX_HTTP_ADMIN_ERR_INVALID_HEADER;
        why = "invalid Authorization header";
        goto missing;

    case NGX_HTTP_ADMIN_TOKEN_TOO_MANY:
        err = NGX_HTTP_ADMIN_ERR_TOO_MANY;
        why = "several Authorization headers";
        goto missing;

    case NGX_HTTP_ADMIN_TOKEN_MIXING:
        err = NGX_HTTP_ADMIN_ERR_MIXING;
        why = "both an Authorization header and an access_token parameter";
        goto missing;

    case NGX_HTTP_ADMIN_TOKEN_BAD:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "admin gate denied request: malformed access token");

        ctx->verdict = NGX_HTTP_ADMIN_UNKNOWN_TOKEN;
        return ngx_http_admin_answer_deny(r, ctx,
                                          NGX_HTTP_ADMIN_ERR_UNKNOWN_TOKEN);

    default: /* NGX_HTTP_ADMIN_TOKEN_NOMEM */
        return NGX_ERROR;
    }

    ctx->as_user = tok.as_user;
    ctx->in_query = tok.in_query;

    /* the header as the upstream gets it, most often: nothing to copy */

    if (n == 1
        && auth[0].len == sizeof("Bearer ") - 1 + tok.token.len
        && tok.token.data == auth[0].data + sizeof("Bearer ") - 1
        && ngx_strncmp(auth[0].data, "Bearer ", sizeof("Bearer ") - 1) == 0)
    {
        ctx->bearer = auth[0];
        ctx->token = tok.token;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("Bearer ") - 1 + tok.token.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->bearer.data = p;
    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
    ctx->token.data = p;
    p = ngx_cpymem(p, tok.token.data, tok.token.len);

    ctx->token.len = tok.token.len;
    ctx->bearer.len = p - ctx->bearer.data;

    return NGX_OK;

missing:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "admin gate denied request: %s", why);

    ctx->verdict = NGX_HTTP_ADMIN_MISSING_TOKEN;

    return ngx_http_admin_answer_deny(r, ctx, err);
}


/*
 * The tiers in order (ngx_http_admin_cache_lookup()): a zone hit decides
 * at once; otherwise the request waits for Redis or for the lookup of
 * its token that another request runs, or, without Redis, asks Synapse.
 */

static ngx_int_t
ngx_http_admin_lookup(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_loc_conf_t *alcf)
{
    ngx_int_t                   rc;
    ngx_http_admin_srv_conf_t  *ascf;

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    rc = ngx_http_admin_cache_lookup(r, ctx, ascf);

    switch (rc) {

    case NGX_OK:
    case NGX_DECLINED:
        return ngx_http_admin_looked_up(r, ctx, alcf);

    default: /* NGX_AGAIN, NGX_ERROR */
        return rc;
    }
}


/*
 * After the lookup: a hit decides at once; a miss, no Redis, or Redis not
 * answering under admin_gate_redis_failure verify, asks Synapse.
 */

static ngx_int_t
ngx_http_admin_looked_up(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_loc_conf_t *alcf)
{
    ngx_http_admin_srv_conf_t  *ascf;
    u_char                      tag[NGX_HTTP_ADMIN_TOKEN_TAG_LEN];

    if (ctx->cache == NGX_HTTP_ADMIN_CACHE_HIT
        || ctx->cache == NGX_HTTP_ADMIN_CACHE_HIT_ZONE)
    {
        if (ctx->verdict != NGX_HTTP_ADMIN_ALLOW) {
            ngx_http_admin_token_tag(&ctx->token, tag);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "admin gate denied token \"%*s\": cached "
                          "verdict \"%V\"",
                          (size_t) NGX_HTTP_ADMIN_TOKEN_TAG_LEN, tag,
                          &ngx_http_admin_verdict_names[ctx->verdict]);
        }

        return ngx_http_admin_decide(r, ctx);
    }

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    if (ctx->cache == NGX_HTTP_ADMIN_CACHE_ERROR
        && ascf->failure == NGX_HTTP_ADMIN_FAILURE_DENY)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "admin gate denied request: redis unavailable");

        ctx->verdict = NGX_HTTP_ADMIN_ERROR;

        return ngx_http_admin_decide(r, ctx);
    }

    return ngx_http_admin_verify(r, ctx, alcf, NGX_HTTP_ADMIN_STATE_WHOAMI);
}


/* the next step with Synapse: whoami, or the admin check */

static ngx_int_t
ngx_http_admin_verify(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_loc_conf_t *alcf, ngx_http_admin_state_e state)
{
    ngx_http_admin_main_conf_t  *amcf;

    ctx->state = state;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    if (state == NGX_HTTP_ADMIN_STATE_WHOAMI && amcf->counters != NULL) {
        ngx_http_admin_count(&amcf->counters->verify_started);
        ngx_http_admin_count(&amcf->counters->verify_in_flight);
        ctx->verify_start = ngx_current_msec;
        ctx->verifying = 1;
    }

    if (ngx_http_admin_verify_start(r, ctx, &alcf->verify) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_admin_step(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_loc_conf_t *alcf)
{
    ngx_http_admin_verdict_e     verdict;
    ngx_http_admin_srv_conf_t   *ascf;
    ngx_http_admin_main_conf_t  *amcf;

    /*
     * until the verdict: ngx_http_admin_answer_deny() and _forward() clear it
     * (the verification subrequests do too, when they start)
     */

    r->connection->log->action = "verifying the access token";

    verdict = ngx_http_admin_verify_reply(r, ctx);

    if (verdict == NGX_HTTP_ADMIN_PENDING) {
        return ngx_http_admin_verify(r, ctx, alcf,
                                     NGX_HTTP_ADMIN_STATE_ADMIN);
    }

    ctx->verdict = verdict;

    if (ctx->verifying) {
        amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

        ngx_http_admin_status_verified(amcf->counters, ctx->verify_start,
                                       verdict == NGX_HTTP_ADMIN_ERROR);
        ctx->verifying = 0;
    }

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    ngx_http_admin_cache_store(r, ctx, ascf);

    return ngx_http_admin_decide(r, ctx);
}


/*
 * The verdict is given: the flight it led lands, and the request goes on
 * to the upstream or is answered here.
 */

static ngx_int_t
ngx_http_admin_decide(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    ngx_http_admin_flight_land(ctx);

    ctx->state = NGX_HTTP_ADMIN_STATE_DECIDED;

    switch (ctx->verdict) {

    case NGX_HTTP_ADMIN_ALLOW:
        return ngx_http_admin_answer_forward(r, ctx);

    case NGX_HTTP_ADMIN_UNKNOWN_TOKEN:
        return ngx_http_admin_answer_deny(r, ctx,
                                          NGX_HTTP_ADMIN_ERR_UNKNOWN_TOKEN);

    case NGX_HTTP_ADMIN_FORBIDDEN:
        return ngx_http_admin_answer_deny(r, ctx,
                                          NGX_HTTP_ADMIN_ERR_FORBIDDEN);

    default: /* NGX_HTTP_ADMIN_ERROR */
        return ngx_http_admin_answer_deny(r, ctx,
                                          NGX_HTTP_ADMIN_ERR_UNAVAILABLE);
    }
}


static ngx_int_t
ngx_http_admin_add_variables(ngx_conf_t *cf)
{
    return ngx_http_admin_variables_add(cf);
}


static void *
ngx_http_admin_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&amcf->redis, cf->pool, 1,
                       sizeof(ngx_http_admin_redis_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&amcf->logs, cf->pool, 4, sizeof(ngx_log_t *))
        != NGX_OK)
    {
        return NULL;
    }

    ngx_rbtree_init(&amcf->flights, &amcf->flight_sentinel,
                    ngx_http_admin_flight_insert_value);

    /* a zone made before a reload keeps its own key */

    if (ngx_http_admin_random(amcf->hash_key, NGX_HTTP_ADMIN_HASH_KEY_LEN)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "admin_gate: no random bytes for the hash key");
        return NULL;
    }

    return amcf;
}


static void *
ngx_http_admin_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_admin_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->key_prefix = { 0, NULL };
     */

    conf->redis = NGX_CONF_UNSET_PTR;
    conf->secret = NGX_CONF_UNSET_PTR;
    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->ttl = NGX_CONF_UNSET;
    conf->negative_ttl = NGX_CONF_UNSET;
    conf->failure = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_admin_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_admin_srv_conf_t *prev = parent;
    ngx_http_admin_srv_conf_t *conf = child;

    ngx_http_admin_main_conf_t  *amcf;

    conf->prefix_set = (conf->key_prefix.data != NULL);
    conf->prefix_inherited = (!conf->prefix_set
                              && prev->key_prefix.data != NULL);
    conf->core = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    ngx_conf_merge_ptr_value(conf->redis, prev->redis, NULL);
    ngx_conf_merge_ptr_value(conf->secret, prev->secret, NULL);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 100);
    ngx_conf_merge_sec_value(conf->ttl, prev->ttl, 60);
    ngx_conf_merge_sec_value(conf->negative_ttl, prev->negative_ttl, 10);
    ngx_conf_merge_uint_value(conf->failure, prev->failure,
                              NGX_HTTP_ADMIN_FAILURE_VERIFY);

    if (conf->key_prefix.data == NULL) {
        conf->key_prefix = prev->key_prefix;
    }

    if (conf->key_prefix.data == NULL
        && ngx_http_admin_tenant_default(cf, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* a connection shared by servers waits as long as the most patient */

    if (conf->redis && conf->redis->timeout < conf->timeout) {
        conf->redis->timeout = conf->timeout;
    }

    /* a revocation lasts as long as the longest-lived verdict */

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);

    if (amcf->max_ttl < conf->ttl) {
        amcf->max_ttl = conf->ttl;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_admin_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_admin_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->verify = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->prefixes = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_admin_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_admin_loc_conf_t *prev = parent;
    ngx_http_admin_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_admin_srv_conf_t  *ascf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_ptr_value(conf->prefixes, prev->prefixes,
                             &ngx_http_admin_default_prefixes);
    ngx_conf_merge_str_value(conf->verify, prev->verify, "");

    if (conf->enable) {
        /* the locations of a server are merged with the server in cf */
        ascf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_admin_module);
        ascf->gated = 1;
    }

    /* every error log, for ngx_http_admin_log_wrap() (core merged it) */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->error_log
        && ngx_http_admin_log_add(cf, clcf->error_log) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->enable && conf->verify.len == 0) {
        if (clcf->name.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"admin_gate\" is on in location \"%V\" "
                               "but no \"admin_gate_verify\" is set for it",
                               &clcf->name);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"admin_gate\" is on in a server "
                               "but no \"admin_gate_verify\" is set for it");
        }

        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_admin_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_admin_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_admin_precontent_handler;

    if (ngx_http_admin_log_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_admin_tenant_check(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_admin_status_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_admin_cache_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_admin_verify_init(cf);
}


static char *
ngx_http_admin_prefix(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_admin_loc_conf_t *alcf = conf;

    ngx_str_t   *value, *prefix;
    ngx_uint_t   i;

    if (alcf->prefixes != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    alcf->prefixes = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      sizeof(ngx_str_t));
    if (alcf->prefixes == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0 || value[i].data[0] != '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid prefix \"%V\": it must start with "
                               "\"/\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        prefix = ngx_array_push(alcf->prefixes);
        if (prefix == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_admin_path_canonical(cf->pool, &value[i], 0, prefix)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_admin_check_uri(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *uri = data;

    if (uri->len == 0 || uri->data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid location \"%V\": it must start with "
                           "\"/\"", uri);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* every log is set up now: their lines lose their tokens */

static ngx_int_t
ngx_http_admin_init_module(ngx_cycle_t *cycle)
{
    return ngx_http_admin_log_wrap(cycle);
}


static ngx_int_t
ngx_http_admin_init_process(ngx_cycle_t *cycle)
{
    ngx_http_admin_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_admin_module);

    if (amcf == NULL) {
        return NGX_OK;
    }

    if (ngx_http_admin_cache_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_admin_redis_init_process(cycle, &amcf->redis);
}


static void
ngx_http_admin_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_admin_module);

    if (amcf == NULL) {
        return;
    }

    ngx_http_admin_redis_exit_process(&amcf->redis);

    ngx_http_admin_ctx_exit_process(amcf);
}
