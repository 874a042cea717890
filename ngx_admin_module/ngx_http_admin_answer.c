
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_answer.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_status.h"
#include "ngx_http_admin_token.h"
#include "ngx_http_admin_verify.h"


/*
 * What becomes of a request the gate has decided on: its answer (the
 * Matrix JSON of ngx_http_admin_json.c), or what the upstream gets.
 * Each is counted here, once, for admin_gate_status.
 */


static void ngx_http_admin_answer_count(ngx_http_request_t *r,
    ngx_http_admin_verdict_e verdict);


/* a request the gate cannot take at all: 400, Synapse's own words */

ngx_int_t
ngx_http_admin_answer_refuse(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_admin_ctx_t  *ctx;

    ctx = ngx_http_admin_ctx_create(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->state = NGX_HTTP_ADMIN_STATE_DECIDED;
    ctx->verdict = NGX_HTTP_ADMIN_BAD_REQUEST;

    ngx_http_admin_answer_count(r, ctx->verdict);

    rc = ngx_http_admin_json_send_error(r, NGX_HTTP_ADMIN_ERR_UNRECOGNIZED);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* answers the client and ends the request; the phase loop stops here */

ngx_int_t
ngx_http_admin_answer_deny(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_err_e err)
{
    ngx_int_t  rc;

    ctx->state = NGX_HTTP_ADMIN_STATE_DECIDED;

    ngx_http_admin_answer_count(r, ctx->verdict);

    r->connection->log->action = NULL;

    if (ctx->passthrough) {
        rc = ngx_http_admin_json_send(r, ctx->status, &ctx->body);

    } else {
        rc = ngx_http_admin_json_send_error(r, err);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * What the upstream gets: exactly one "Authorization: Bearer <token>"
 * header and the request target without access_token parameters; the
 * rest of the target stays byte for byte as the client sent it.
 */

ngx_int_t
ngx_http_admin_answer_forward(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    u_char     *p, *q, *src;
    size_t      len;
    ngx_str_t   args;

    ngx_http_admin_answer_count(r, NGX_HTTP_ADMIN_ALLOW);

    r->connection->log->action = NULL;

    if (ngx_http_admin_verify_set_bearer(r, ctx->authorization, &ctx->bearer)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->in_query == 0) {
        return NGX_OK;
    }

    if (ngx_http_admin_token_strip(r->pool, &r->args, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    src = r->unparsed_uri.data;

    q = ngx_strlchr(src, src + r->unparsed_uri.len, '?');
    len = (q != NULL) ? (size_t) (q - src) : r->unparsed_uri.len;

    p = ngx_pnalloc(r->pool, len + 1 + args.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    r->unparsed_uri.data = p;
    p = ngx_cpymem(p, src, len);

    if (args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, args.data, args.len);
    }

    r->unparsed_uri.len = p - r->unparsed_uri.data;
    r->args = args;

    return NGX_OK;
}


static void
ngx_http_admin_answer_count(ngx_http_request_t *r,
    ngx_http_admin_verdict_e verdict)
{
    ngx_http_admin_srv_conf_t  *ascf;

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    if (ascf->record != NULL) {
        ngx_http_admin_count(&ascf->record->count[verdict]);
    }
}
