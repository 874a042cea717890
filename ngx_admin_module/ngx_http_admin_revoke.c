
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_revoke.h"


/*
 * Revocations that no worker of this nginx forgets.  When the upstream
 * refuses a token the gate let through, the token's Redis key gets a
 * tombstone here, in shared memory, for as long as a verdict cached before
 * the revocation can live.  Every worker looks for one before it believes
 * an "allow" read from Redis, and the marker that stands for it in Redis
 * is written again after an outage until Redis has taken it.  When the
 * zone is full, every "allow" read from Redis is doubted for that long.
 */


#define NGX_HTTP_ADMIN_REVOKE_SIZE  (1024 * 1024)


typedef struct {
    ngx_str_node_t                  sn;         /* sn.str: the Redis key */
    ngx_queue_t                     queue;
    uint64_t                        expire;     /* ms since the epoch */
    uint32_t                        rid;
    ngx_uint_t                      written;
    u_char                          data[1];
} ngx_http_admin_tomb_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;      /* newest first */
    ngx_atomic_t                    count;      /* read without the lock */
    uint64_t                        overflow;   /* until then doubt all */
} ngx_http_admin_revoke_shctx_t;


typedef struct {
    ngx_http_admin_revoke_shctx_t  *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_admin_revoke_ctx_t;


static ngx_int_t ngx_http_admin_revoke_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_http_admin_tomb_t *ngx_http_admin_revoke_lookup_locked(
    ngx_http_admin_revoke_ctx_t *ctx, uint32_t rid, ngx_str_t *key);
static void ngx_http_admin_revoke_expire_locked(
    ngx_http_admin_revoke_ctx_t *ctx, uint64_t now);


/* one zone for the whole configuration, created with the first Redis */

ngx_int_t
ngx_http_admin_revoke_zone(ngx_conf_t *cf, ngx_http_admin_main_conf_t *amcf)
{
    ngx_shm_zone_t               *zone;
    ngx_http_admin_revoke_ctx_t  *ctx;
    static ngx_str_t              name = ngx_string("admin_gate_revocations");

    if (amcf->revocations != NULL) {
        return NGX_OK;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_revoke_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_ADMIN_REVOKE_SIZE,
                                 &ngx_http_admin_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_admin_revoke_init_zone;
    zone->data = ctx;

    amcf->revocations = zone;

    return NGX_OK;
}


/* the wall clock in milliseconds, as Redis's PXAT counts */

uint64_t
ngx_http_admin_revoke_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * Records that "key" in Redis "rid" is revoked for "ttl" ms from now.
 * Returns when the revocation ends, for the marker written to Redis.
 */

uint64_t
ngx_http_admin_revoke_add(ngx_shm_zone_t *zone, uint32_t rid, ngx_str_t *key,
    ngx_msec_t ttl)
{
    uint64_t                      now, expire;
    ngx_http_admin_tomb_t        *tomb;
    ngx_http_admin_revoke_ctx_t  *ctx;

    ctx = zone->data;

    now = ngx_http_admin_revoke_now();
    expire = now + ttl;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_admin_revoke_expire_locked(ctx, now);

    tomb = ngx_http_admin_revoke_lookup_locked(ctx, rid, key);

    if (tomb != NULL) {
        ngx_queue_remove(&tomb->queue);

    } else {
        tomb = ngx_slab_alloc_locked(ctx->shpool,
                                     offsetof(ngx_http_admin_tomb_t, data)
                                     + key->len);
        if (tomb == NULL) {
            ctx->sh->overflow = ngx_max(ctx->sh->overflow, expire);
            ngx_shmtx_unlock(&ctx->shpool->mutex);

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "admin gate revocation zone is full: every "
                          "cached admin verdict is verified again for "
                          "%M ms", ttl);

            return expire;
        }

        ngx_memcpy(tomb->data, key->data, key->len);

        tomb->sn.str.data = tomb->data;
        tomb->sn.str.len = key->len;
        tomb->sn.node.key = ngx_crc32_short(key->data, key->len) ^ rid;
        tomb->rid = rid;

        ngx_rbtree_insert(&ctx->sh->rbtree, &tomb->sn.node);
        ctx->sh->count++;
    }

    tomb->expire = expire;
    tomb->written = 0;

    ngx_queue_insert_head(&ctx->sh->queue, &tomb->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return expire;
}


/* whether an "allow" of "key" read from Redis "rid" must be doubted */

ngx_uint_t
ngx_http_admin_revoke_find(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_str_t *key)
{
    uint64_t                      now;
    ngx_uint_t                    found;
    ngx_http_admin_tomb_t        *tomb;
    ngx_http_admin_revoke_ctx_t  *ctx;

    ctx = zone->data;

    /* the common case, no revocation at all, takes no lock */

    if (ctx->sh->count == 0 && ctx->sh->overflow == 0) {
        return 0;
    }

    now = ngx_http_admin_revoke_now();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (ctx->sh->overflow > now) {
        found = 1;

    } else {
        ctx->sh->overflow = 0;

        tomb = ngx_http_admin_revoke_lookup_locked(ctx, rid, key);
        found = (tomb != NULL && tomb->expire > now);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return found;
}


/* Redis took the marker of the revocation that ends at "expire" */

void
ngx_http_admin_revoke_written(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_str_t *key, uint64_t expire)
{
    ngx_http_admin_tomb_t        *tomb;
    ngx_http_admin_revoke_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    tomb = ngx_http_admin_revoke_lookup_locked(ctx, rid, key);

    if (tomb != NULL && tomb->expire == expire) {
        tomb->written = 1;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Calls "handler" for every live revocation of Redis "rid" that Redis has
 * not taken yet.  The handler runs under the zone's lock: it must only
 * queue a command.
 */

void
ngx_http_admin_revoke_unwritten(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_http_admin_revoke_pt handler, void *data)
{
    uint64_t                      now;
    ngx_queue_t                  *q;
    ngx_http_admin_tomb_t        *tomb;
    ngx_http_admin_revoke_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->sh->count == 0) {
        return;
    }

    now = ngx_http_admin_revoke_now();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_admin_revoke_expire_locked(ctx, now);

    for (q = ngx_queue_head(&ctx->sh->queue);
         q != ngx_queue_sentinel(&ctx->sh->queue);
         q = ngx_queue_next(q))
    {
        tomb = ngx_queue_data(q, ngx_http_admin_tomb_t, queue);

        if (tomb->rid == rid && !tomb->written) {
            handler(data, &tomb->sn.str, tomb->expire);
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static ngx_int_t
ngx_http_admin_revoke_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_admin_revoke_ctx_t  *octx = data;

    size_t                        len;
    ngx_http_admin_revoke_ctx_t  *ctx;

    ctx = zone->data;

    if (octx != NULL) {
        /* a reload: the revocations go on */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool,
                             sizeof(ngx_http_admin_revoke_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ctx->sh->queue);

    ctx->sh->count = 0;
    ctx->sh->overflow = 0;

    len = sizeof(" in admin_gate zone \"\"") + zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in admin_gate zone \"%V\"%Z",
                &zone->shm.name);

    /* a full zone is handled, and said, above */

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_admin_tomb_t *
ngx_http_admin_revoke_lookup_locked(ngx_http_admin_revoke_ctx_t *ctx,
    uint32_t rid, ngx_str_t *key)
{
    uint32_t         hash;
    ngx_str_node_t  *sn;

    hash = ngx_crc32_short(key->data, key->len) ^ rid;

    sn = ngx_str_rbtree_lookup(&ctx->sh->rbtree, key, hash);

    if (sn == NULL) {
        return NULL;
    }

    /* the same key of another Redis has another hash, unless it collides */

    if (((ngx_http_admin_tomb_t *) sn)->rid != rid) {
        return NULL;
    }

    return (ngx_http_admin_tomb_t *) sn;
}


/* the oldest revocation ends first: they all last as long */

static void
ngx_http_admin_revoke_expire_locked(ngx_http_admin_revoke_ctx_t *ctx,
    uint64_t now)
{
    ngx_queue_t            *q;
    ngx_http_admin_tomb_t  *tomb;

    while (!ngx_queue_empty(&ctx->sh->queue)) {

        q = ngx_queue_last(&ctx->sh->queue);
        tomb = ngx_queue_data(q, ngx_http_admin_tomb_t, queue);

        if (tomb->expire > now) {
            break;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, &tomb->sn.node);
        ngx_slab_free_locked(ctx->shpool, tomb);

        ctx->sh->count--;
    }
}
