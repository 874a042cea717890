
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_cache.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_revoke.h"


static void ngx_http_admin_ctx_cleanup(void *data);


/*
 * A new ctx for the request, with a pool cleanup that cancels what may
 * still reach it (a Redis reply) and by which ngx_http_admin_get_ctx()
 * finds it after an internal redirect.
 */

ngx_http_admin_ctx_t *
ngx_http_admin_ctx_create(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_admin_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_admin_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     ctx->verdict = NGX_HTTP_ADMIN_PENDING;
     *     ctx->step = NGX_HTTP_ADMIN_STEP_CACHE;
     *     ctx->cache = NGX_HTTP_ADMIN_CACHE_NONE;
     *     ctx->waiter = NULL;
     *     ctx->token = { 0, NULL };
     *     ctx->user = { 0, NULL };
     *     ctx->subrequest = NULL;
     *     ctx->done = 0;
     */

    ctx->request = r;
    ctx->started = ngx_http_admin_revoke_now();

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_admin_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_admin_module);

    return ctx;
}


/*
 * The request's ctx, also after an internal redirect has cleared the
 * module ctx array: the pool cleanup registered with it still points to it
 * (the same trick as the realip module).
 */

ngx_http_admin_ctx_t *
ngx_http_admin_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_admin_module);

    if (ctx == NULL && r->internal) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_admin_ctx_cleanup) {
                ctx = cln->data;
                break;
            }
        }
    }

    return ctx;
}


/*
 * The request is going away: a Redis reply still to come must not reach
 * it.  (nginx ends a pending subrequest itself.)
 */

static void
ngx_http_admin_ctx_cleanup(void *data)
{
    ngx_http_admin_ctx_t  *ctx = data;

    ngx_http_admin_cache_cancel(ctx);
}
