
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_flight.h"
#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_revoke.h"
#include "ngx_http_admin_status.h"


static void ngx_http_admin_ctx_cleanup(void *data);


/*
 * A new ctx for the request, with a pool cleanup that cancels what may
 * still reach it (a Redis reply, its flight), gives it back, and by which
 * ngx_http_admin_get_ctx() finds it after an internal redirect.
 *
 * The ctxs of a worker are used again: a request takes one off the free
 * list of its worker, and its cleanup puts it back, so that the request
 * pool, which a plain proxied request nearly fills, does not need another
 * block for it.  The list keeps at most NGX_HTTP_ADMIN_CTX_FREE of them.
 */

ngx_http_admin_ctx_t *
ngx_http_admin_ctx_create(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_admin_ctx_t        *ctx;
    ngx_http_admin_main_conf_t  *amcf;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    ctx = amcf->free;

    if (ctx != NULL) {
        amcf->free = ctx->next;
        amcf->nfree--;

    } else {
        ctx = ngx_alloc(sizeof(ngx_http_admin_ctx_t), r->connection->log);
        if (ctx == NULL) {
            return NULL;
        }
    }

    /* user_buf is written before it is read */

    ngx_memzero(ctx, offsetof(ngx_http_admin_ctx_t, user_buf));

    /*
     * set by ngx_memzero():
     *
     *     ctx->state = NGX_HTTP_ADMIN_STATE_START;
     *     ctx->verdict = NGX_HTTP_ADMIN_PENDING;
     *     ctx->cache = NGX_HTTP_ADMIN_CACHE_NONE;
     *     ctx->token = { 0, NULL };
     *     ctx->user = { 0, NULL };
     *     ctx->key = { 0, NULL };
     *     ctx->waiter = NULL;
     *     ctx->leader = NULL;
     *     ctx->wake = NULL;
     *     ctx->subrequest = NULL;
     *     ctx->hashed = 0;
     *     ctx->leading = 0;
     *     ctx->verifying = 0;
     */

    ctx->request = r;
    ctx->started = ngx_http_admin_revoke_now();

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
 * it, and its flight goes on without it.  (nginx ends a pending
 * subrequest itself.)
 */

static void
ngx_http_admin_ctx_cleanup(void *data)
{
    ngx_http_admin_ctx_t  *ctx = data;

    ngx_http_admin_main_conf_t  *amcf;

    if (ctx->waiter != NULL) {
        ngx_http_admin_redis_cancel(ctx->waiter);
        ctx->waiter = NULL;
    }

    ngx_http_admin_flight_leave(ctx);

    amcf = ngx_http_get_module_main_conf(ctx->request, ngx_http_admin_module);

    /* a verification cut short: no longer in flight, and not timed */

    if (ctx->verifying && amcf->counters != NULL) {
        (void) ngx_atomic_fetch_add(&amcf->counters->verify_in_flight, -1);
    }

    if (amcf->nfree >= NGX_HTTP_ADMIN_CTX_FREE) {
        ngx_free(ctx);
        return;
    }

    ctx->next = amcf->free;
    amcf->free = ctx;
    amcf->nfree++;
}


/* the worker exits: the free list goes */

void
ngx_http_admin_ctx_exit_process(ngx_http_admin_main_conf_t *amcf)
{
    ngx_http_admin_ctx_t  *ctx;

    while (amcf->free != NULL) {
        ctx = amcf->free;
        amcf->free = ctx->next;
        ngx_free(ctx);
    }

    amcf->nfree = 0;
}
