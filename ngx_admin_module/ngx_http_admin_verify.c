
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_json.h"
#include "ngx_http_admin_token.h"
#include "ngx_http_admin_verify.h"


static ngx_int_t ngx_http_admin_verify_uri(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);
static ngx_int_t ngx_http_admin_verify_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_http_admin_ctx_t *ctx);
static ngx_int_t ngx_http_admin_verify_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_admin_verify_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_http_admin_verdict_e ngx_http_admin_verify_not_admin(
    ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx);
static ngx_http_admin_verdict_e ngx_http_admin_verify_fail(
    ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx, const char *why);
static u_char *ngx_http_admin_verify_escape(u_char *dst, ngx_str_t *src);
static ngx_uint_t ngx_http_admin_verify_whoami(ngx_http_admin_ctx_t *ctx);
static ngx_str_t *ngx_http_admin_verify_step(ngx_http_admin_ctx_t *ctx);


/* the filter chain is a process-wide list by nginx's design */
static ngx_http_output_body_filter_pt  ngx_http_admin_next_body_filter;


static ngx_str_t  ngx_http_admin_whoami_uri =
    ngx_string("/_matrix/client/v3/account/whoami");
static ngx_str_t  ngx_http_admin_users_uri =
    ngx_string("/_synapse/admin/v2/users/");
static ngx_str_t  ngx_http_admin_user_id_arg = ngx_string("?user_id=");

static ngx_str_t  ngx_http_admin_whoami_step = ngx_string("whoami");
static ngx_str_t  ngx_http_admin_admin_step = ngx_string("admin check");


ngx_int_t
ngx_http_admin_verify_init(ngx_conf_t *cf)
{
    ngx_http_admin_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_admin_verify_body_filter;

    return NGX_OK;
}


/*
 * Starts the subrequest of the current step (the state is WHOAMI or
 * ADMIN) through the verify location, which proxies it to Synapse at
 * $admin_gate_verify_uri.  The subrequest is a GET with a header list of
 * its own, so nothing of the client's request but the token reaches
 * Synapse, and a fake empty body (as in auth_request), so the client's
 * body is neither read nor sent.
 */

ngx_int_t
ngx_http_admin_verify_start(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_str_t *location)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    if (ngx_http_admin_verify_uri(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_admin_verify_done;
    ps->data = ctx;

    ctx->failed = 0;
    ctx->oversized = 0;
    ctx->received = 0;
    ctx->status = 0;
    ngx_str_null(&ctx->body);

    if (ngx_http_subrequest(r, location, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_admin_verify_headers(r, sr, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(sr, ctx, ngx_http_admin_module);

    ctx->subrequest = sr;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "admin verify %V: \"%V\"",
                   ngx_http_admin_verify_step(ctx), &ctx->verify_uri);

    return NGX_OK;
}


/*
 * Reads the reply of the finished step.  Returns NGX_HTTP_ADMIN_PENDING
 * when the next step is to run, otherwise the verdict.  Denials are logged
 * at "info", replies the gate cannot use at "error".
 *
 * The admin check is GET /_synapse/admin/v2/users/<own id>, which Synapse
 * serves with legacy auth and with delegated auth (MAS), on the main
 * process and on workers; it asserts that the caller is a server admin
 * however Synapse decides that (the users table, or the token's scope).
 * Its status decides, never its body: the body's "admin" field is the
 * users table, false for an admin by scope.
 */

ngx_http_admin_verdict_e
ngx_http_admin_verify_reply(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    const char             *why;
    ngx_http_admin_json_e   rc;
    u_char                  tag[NGX_HTTP_ADMIN_TOKEN_TAG_LEN];

    if (ctx->failed) {
        return ngx_http_admin_verify_fail(r, ctx, "no reply");
    }

    if (ctx->status == NGX_HTTP_UNAUTHORIZED
        || (ctx->status == NGX_HTTP_FORBIDDEN
            && ngx_http_admin_verify_whoami(ctx)))
    {
        /* Synapse refuses the token itself: its answer goes to the client */

        if (ctx->oversized) {
            return ngx_http_admin_verify_fail(r, ctx, "reply is larger than "
                                              "subrequest_output_buffer_size");
        }

        rc = ngx_http_admin_json_matrix_error(r->pool, &ctx->body);

        if (rc == NGX_HTTP_ADMIN_JSON_NOMEM) {
            return NGX_HTTP_ADMIN_ERROR;
        }

        if (rc != NGX_HTTP_ADMIN_JSON_OK) {
            return ngx_http_admin_verify_fail(r, ctx,
                                              "reply is not a Matrix error");
        }

        ctx->passthrough = 1;

        ngx_http_admin_token_tag(&ctx->token, tag);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "admin gate denied token \"%*s\": synapse %V "
                      "answered %ui", (size_t) NGX_HTTP_ADMIN_TOKEN_TAG_LEN,
                      tag, ngx_http_admin_verify_step(ctx), ctx->status);

        return (ctx->status == NGX_HTTP_UNAUTHORIZED)
               ? NGX_HTTP_ADMIN_UNKNOWN_TOKEN : NGX_HTTP_ADMIN_FORBIDDEN;
    }

    if (!ngx_http_admin_verify_whoami(ctx)
        && ctx->status == NGX_HTTP_FORBIDDEN)
    {
        /* Synapse refuses the check to a caller who is not an admin */
        return ngx_http_admin_verify_not_admin(r, ctx);
    }

    if (ctx->status != NGX_HTTP_OK) {
        return ngx_http_admin_verify_fail(r, ctx, "unexpected status");
    }

    if (!ngx_http_admin_verify_whoami(ctx)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "admin gate allowed user \"%V\"", &ctx->user);

        return NGX_HTTP_ADMIN_ALLOW;
    }

    if (ctx->oversized) {
        return ngx_http_admin_verify_fail(r, ctx, "reply is larger than "
                                          "subrequest_output_buffer_size");
    }

    rc = ngx_http_admin_json_whoami(r->pool, &ctx->body, &ctx->user, &why);

    if (rc == NGX_HTTP_ADMIN_JSON_NOMEM) {
        return NGX_HTTP_ADMIN_ERROR;
    }

    if (rc != NGX_HTTP_ADMIN_JSON_OK) {
        return ngx_http_admin_verify_fail(r, ctx, why);
    }

    return NGX_HTTP_ADMIN_PENDING;
}


/*
 * $admin_gate_verify_uri of the step:
 *     /_matrix/client/v3/account/whoami[?user_id=U]
 *     /_synapse/admin/v2/users/<user id>[?user_id=U]
 * with the user ids percent-encoded.
 */

static ngx_int_t
ngx_http_admin_verify_uri(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    u_char  *p;
    size_t   len;

    if (ngx_http_admin_verify_whoami(ctx)) {
        len = ngx_http_admin_whoami_uri.len;

    } else {
        len = ngx_http_admin_users_uri.len + 3 * ctx->user.len;
    }

    if (ctx->as_user.data != NULL) {
        len += ngx_http_admin_user_id_arg.len + 3 * ctx->as_user.len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->verify_uri.data = p;

    if (ngx_http_admin_verify_whoami(ctx)) {
        p = ngx_cpymem(p, ngx_http_admin_whoami_uri.data,
                       ngx_http_admin_whoami_uri.len);

    } else {
        p = ngx_cpymem(p, ngx_http_admin_users_uri.data,
                       ngx_http_admin_users_uri.len);
        p = ngx_http_admin_verify_escape(p, &ctx->user);
    }

    if (ctx->as_user.data != NULL) {
        p = ngx_cpymem(p, ngx_http_admin_user_id_arg.data,
                       ngx_http_admin_user_id_arg.len);
        p = ngx_http_admin_verify_escape(p, &ctx->as_user);
    }

    ctx->verify_uri.len = p - ctx->verify_uri.data;

    return NGX_OK;
}


/* the subrequest's only header: "Authorization: Bearer <token>" */

static ngx_int_t
ngx_http_admin_verify_headers(ngx_http_request_t *r, ngx_http_request_t *sr,
    ngx_http_admin_ctx_t *ctx)
{
    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    sr->headers_in.content_length_n = -1;
    sr->headers_in.keep_alive_n = -1;
    sr->headers_in.server = r->headers_in.server;

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_admin_verify_set_bearer(sr, NULL, &ctx->bearer);
}


/*
 * Sets "Authorization: <bearer>" in the request's headers: in place of
 * the header "h", or as a new header when "h" is NULL.
 */

ngx_int_t
ngx_http_admin_verify_set_bearer(ngx_http_request_t *r, ngx_table_elt_t *h,
    ngx_str_t *bearer)
{
    if (h == NULL) {
        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&h->key, "Authorization");
        h->lowcase_key = (u_char *) "authorization";
        h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif

        r->headers_in.authorization = h;
    }

    h->value = *bearer;

    return NGX_OK;
}


/*
 * Records the reply; the parent decides.  A subrequest that ends in an
 * error would take the whole request down with it (NGX_ERROR terminates
 * the main request) or get an error page of its own; it ends as a normal
 * subrequest instead, and the gate answers 503.
 */

static ngx_int_t
ngx_http_admin_verify_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_admin_ctx_t  *ctx = data;

    ngx_buf_t  *b;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "admin verify done s:%ui rc:%i",
                   r->headers_out.status, rc);

    ctx->state = (ctx->state == NGX_HTTP_ADMIN_STATE_WHOAMI)
                 ? NGX_HTTP_ADMIN_STATE_WHOAMI_DONE
                 : NGX_HTTP_ADMIN_STATE_ADMIN_DONE;
    ctx->status = r->headers_out.status;

    if (r->out != NULL) {
        b = r->out->buf;
        ctx->body.data = b->pos;
        ctx->body.len = b->last - b->pos;
    }

    if ((rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE)
        && !r->connection->error)
    {
        ctx->failed = 1;
        return NGX_OK;
    }

    return rc;
}


/*
 * Holds the verification reply to subrequest_output_buffer_size before
 * the in-memory postpone filter sees it.  That filter answers an overflow
 * with NGX_ERROR, which marks the client connection as failed and ends
 * the main request with no answer; here an oversized reply is dropped
 * instead, and the gate answers 503.
 */

static ngx_int_t
ngx_http_admin_verify_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                      size;
    ngx_chain_t               *cl;
    ngx_http_admin_ctx_t      *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_admin_module);

    if (ctx == NULL || ctx->subrequest != r) {
        return ngx_http_admin_next_body_filter(r, in);
    }

    if (!ctx->oversized) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        size = ctx->received;

        for (cl = in; cl; cl = cl->next) {
            size += ngx_buf_size(cl->buf);
        }

        ctx->received = size;

        if (ctx->received > (off_t) clcf->subrequest_output_buffer_size
            || r->headers_out.content_length_n
               > (off_t) clcf->subrequest_output_buffer_size)
        {
            ctx->oversized = 1;
        }
    }

    if (!ctx->oversized) {
        return ngx_http_admin_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    return NGX_OK;
}


static ngx_http_admin_verdict_e
ngx_http_admin_verify_not_admin(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx)
{
    u_char  tag[NGX_HTTP_ADMIN_TOKEN_TAG_LEN];

    ngx_http_admin_token_tag(&ctx->token, tag);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "admin gate denied token \"%*s\": user \"%V\" is not "
                  "a server admin", (size_t) NGX_HTTP_ADMIN_TOKEN_TAG_LEN,
                  tag, &ctx->user);

    return NGX_HTTP_ADMIN_FORBIDDEN;
}


static ngx_http_admin_verdict_e
ngx_http_admin_verify_fail(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    const char *why)
{
    u_char  tag[NGX_HTTP_ADMIN_TOKEN_TAG_LEN];

    ngx_http_admin_token_tag(&ctx->token, tag);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "admin gate cannot verify token \"%*s\": %V at \"%V\" "
                  "failed: %s (status %ui)",
                  (size_t) NGX_HTTP_ADMIN_TOKEN_TAG_LEN, tag,
                  ngx_http_admin_verify_step(ctx), &ctx->verify_uri, why,
                  ctx->status);

    return NGX_HTTP_ADMIN_ERROR;
}


/* RFC 3986: everything but the unreserved characters is percent-encoded */

static u_char *
ngx_http_admin_verify_escape(u_char *dst, ngx_str_t *src)
{
    u_char       c, *p, *last;
    static u_char  hex[] = "0123456789ABCDEF";

    last = src->data + src->len;

    for (p = src->data; p < last; p++) {
        c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 0xf];
    }

    return dst;
}


/* the step running or just finished: whoami, or the admin check */

static ngx_uint_t
ngx_http_admin_verify_whoami(ngx_http_admin_ctx_t *ctx)
{
    return ctx->state == NGX_HTTP_ADMIN_STATE_WHOAMI
           || ctx->state == NGX_HTTP_ADMIN_STATE_WHOAMI_DONE;
}


static ngx_str_t *
ngx_http_admin_verify_step(ngx_http_admin_ctx_t *ctx)
{
    return ngx_http_admin_verify_whoami(ctx) ? &ngx_http_admin_whoami_step
                                             : &ngx_http_admin_admin_step;
}
