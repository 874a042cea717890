
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_token.h"
#include "ngx_http_admin_variables.h"


#define NGX_HTTP_ADMIN_VAR_USER     0
#define NGX_HTTP_ADMIN_VAR_VERDICT  1
#define NGX_HTTP_ADMIN_VAR_CACHE    2


static ngx_int_t ngx_http_admin_variable_ctx(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_admin_variable_verify_uri(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_admin_variable_request(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void ngx_http_admin_variable_str(ngx_http_variable_value_t *v,
    ngx_str_t *s);


static ngx_http_variable_t  ngx_http_admin_vars[] = {

    { ngx_string("admin_gate_user"), NULL,
      ngx_http_admin_variable_ctx, NGX_HTTP_ADMIN_VAR_USER,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("admin_gate_verdict"), NULL,
      ngx_http_admin_variable_ctx, NGX_HTTP_ADMIN_VAR_VERDICT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("admin_gate_cache"), NULL,
      ngx_http_admin_variable_ctx, NGX_HTTP_ADMIN_VAR_CACHE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("admin_gate_verify_uri"), NULL,
      ngx_http_admin_variable_verify_uri, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("admin_gate_request"), NULL,
      ngx_http_admin_variable_request, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* indexed by ngx_http_admin_verdict_e; never changed */

ngx_str_t  ngx_http_admin_verdict_names[] = {
    ngx_null_string,
    ngx_string("allow"),
    ngx_string("missing_token"),
    ngx_string("unknown_token"),
    ngx_string("forbidden"),
    ngx_string("error"),
    ngx_string("bad_request")
};


/* indexed by ngx_http_admin_cache_e */

static ngx_str_t  ngx_http_admin_cache_names[] = {
    ngx_null_string,
    ngx_string("HIT_ZONE"),
    ngx_string("HIT"),
    ngx_string("MISS"),
    ngx_string("ERROR"),
    ngx_string("REVOKED")
};


ngx_int_t
ngx_http_admin_variables_add(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_admin_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * $admin_gate_user, $admin_gate_verdict, $admin_gate_cache: a field of the
 * main request's ctx, or not found while it is empty (not gated, pending)
 */

static ngx_int_t
ngx_http_admin_variable_ctx(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *s;
    ngx_http_admin_ctx_t  *ctx;

    ctx = ngx_http_admin_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_ADMIN_VAR_USER:
        s = &ctx->user;
        break;

    case NGX_HTTP_ADMIN_VAR_VERDICT:
        s = &ngx_http_admin_verdict_names[ctx->verdict];
        break;

    default: /* NGX_HTTP_ADMIN_VAR_CACHE */
        s = &ngx_http_admin_cache_names[ctx->cache];
        break;
    }

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_admin_variable_str(v, s);

    return NGX_OK;
}


/* set only in the verification subrequest that is running */

static ngx_int_t
ngx_http_admin_variable_verify_uri(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_admin_module);

    if (r == r->main || ctx == NULL || ctx->subrequest != r) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_admin_variable_str(v, &ctx->verify_uri);

    return NGX_OK;
}


/* $request with every access_token value replaced by "***" */

static ngx_int_t
ngx_http_admin_variable_request(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  line;

    if (r->request_line.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_admin_token_redact(r->pool, &r->request_line, &line)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_admin_variable_str(v, &line);

    return NGX_OK;
}


static void
ngx_http_admin_variable_str(ngx_http_variable_value_t *v, ngx_str_t *s)
{
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;
}
