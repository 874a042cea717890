
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_revoke.h"
#include "ngx_http_admin_zone.h"


/*
 * admin_gate_cache_zone: verdicts in shared memory, in front of Redis,
 * for every worker.  An entry is found by the SipHash of its server's
 * namespace and its token (ngx_http_admin_cache_hash()): the first half
 * keys the tree, the second confirms, and the token itself is never kept.
 * An entry lives no longer than the zone's ttl= and its verdict's own
 * expiry; the least recently used go first when the zone is full.  The
 * zone, its key and its entries survive a reload.
 */


typedef struct {
    u_char                      color;
    u_char                      verdict;
    u_short                     ulen;
    uint32_t                    blen;
    ngx_queue_t                 queue;        /* most recently used first */
    uint64_t                    hash;         /* the second half */
    uint64_t                    expire;       /* ms since the epoch */
    u_char                      data[1];      /* user, then body */
} ngx_http_admin_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
    ngx_uint_t                  entries;
    ngx_uint_t                  evictions;    /* before their time */
    u_char                      key[NGX_HTTP_ADMIN_HASH_KEY_LEN];
} ngx_http_admin_shctx_t;


typedef struct {
    ngx_http_admin_shctx_t     *sh;
    ngx_slab_pool_t            *shpool;
    ngx_msec_t                  ttl;
    u_char                     *key;          /* amcf->hash_key */
} ngx_http_admin_zone_t;


static ngx_int_t ngx_http_admin_zone_init(ngx_shm_zone_t *zone, void *data);
static ngx_http_admin_node_t *ngx_http_admin_zone_find_locked(
    ngx_http_admin_zone_t *ctx, uint64_t *hash);
static void ngx_http_admin_zone_free_locked(ngx_http_admin_zone_t *ctx,
    ngx_http_admin_node_t *an);
static void ngx_http_admin_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


/*
 * admin_gate_cache_zone name:size [ttl=time];
 */

char *
ngx_http_admin_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_admin_main_conf_t *amcf = conf;

    u_char                 *p;
    ssize_t                 size;
    ngx_int_t               ttl;
    ngx_str_t              *value, name, s;
    ngx_uint_t              i;
    ngx_shm_zone_t         *zone;
    ngx_http_admin_zone_t  *ctx;

    if (amcf->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\": \"name:size\" expected",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small: at least %uzk",
                           &name, 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    if ((name.len == sizeof("admin_gate_revocations") - 1
         && ngx_strncmp(name.data, "admin_gate_revocations", name.len) == 0)
        || (name.len == sizeof("admin_gate_status") - 1
            && ngx_strncmp(name.data, "admin_gate_status", name.len) == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone name \"%V\" is the module's own", &name);
        return NGX_CONF_ERROR;
    }

    ttl = 5000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {

            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ttl = ngx_parse_time(&s, 0);

            if (ttl == NGX_ERROR || ttl == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid ttl \"%V\": a time above zero "
                                   "expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_zone_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->ttl = ttl;
    ctx->key = amcf->hash_key;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_admin_module);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already declared", &name);
        return NGX_CONF_ERROR;
    }

    zone->init = ngx_http_admin_zone_init;
    zone->data = ctx;

    amcf->zone = zone;

    /* a verdict revoked is removed here too, and no fill brings it back */

    if (ngx_http_admin_revoke_zone(cf, amcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The verdict for "hash", if the zone has one that has not expired:
 * NGX_OK, with the user copied to "user" (NGX_HTTP_ADMIN_USER_MAX bytes)
 * and Synapse's refusal, if any, to "pool".  NGX_DECLINED: a miss.  The
 * lock is held for the lookup and the copy only.
 */

ngx_int_t
ngx_http_admin_zone_lookup(ngx_shm_zone_t *zone, uint64_t *hash,
    ngx_pool_t *pool, ngx_http_admin_value_t *v, u_char *user)
{
    uint64_t                now;
    ngx_int_t               rc;
    ngx_http_admin_zone_t  *ctx;
    ngx_http_admin_node_t  *an;

    ctx = zone->data;
    now = ngx_http_admin_revoke_now();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    an = ngx_http_admin_zone_find_locked(ctx, hash);

    if (an == NULL) {
        rc = NGX_DECLINED;
        goto done;
    }

    if (an->expire <= now) {
        ngx_http_admin_zone_free_locked(ctx, an);
        rc = NGX_DECLINED;
        goto done;
    }

    ngx_queue_remove(&an->queue);
    ngx_queue_insert_head(&ctx->sh->queue, &an->queue);

    v->verdict = an->verdict;
    v->expire = an->expire;

    v->user.data = user;
    v->user.len = an->ulen;
    ngx_memcpy(user, an->data, an->ulen);

    ngx_str_null(&v->body);

    if (an->blen) {
        v->body.data = ngx_pnalloc(pool, an->blen);
        if (v->body.data == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        v->body.len = an->blen;
        ngx_memcpy(v->body.data, an->data + an->ulen, an->blen);
    }

    rc = NGX_OK;

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/*
 * Stores a verdict under "hash" until its expiry or the zone's ttl from
 * now, whichever comes first, in place of any entry there.  A full zone
 * gives up its least recently used entries.
 */

void
ngx_http_admin_zone_insert(ngx_shm_zone_t *zone, uint64_t *hash,
    ngx_http_admin_value_t *v)
{
    size_t                  size;
    uint64_t                now, expire;
    ngx_uint_t              n;
    ngx_queue_t            *q;
    ngx_rbtree_node_t      *node;
    ngx_http_admin_zone_t  *ctx;
    ngx_http_admin_node_t  *an;

    ctx = zone->data;
    now = ngx_http_admin_revoke_now();

    expire = ngx_min(v->expire, now + ctx->ttl);

    if (expire <= now || v->user.len > NGX_HTTP_ADMIN_USER_MAX) {
        return;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_admin_node_t, data)
           + v->user.len + v->body.len;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    an = ngx_http_admin_zone_find_locked(ctx, hash);

    if (an != NULL) {
        ngx_http_admin_zone_free_locked(ctx, an);
    }

    /* up to two expired entries go on every insert */

    for (n = 0; n < 2 && !ngx_queue_empty(&ctx->sh->queue); n++) {
        q = ngx_queue_last(&ctx->sh->queue);
        an = ngx_queue_data(q, ngx_http_admin_node_t, queue);

        if (an->expire > now) {
            break;
        }

        ngx_http_admin_zone_free_locked(ctx, an);
    }

    for ( ;; ) {
        node = ngx_slab_alloc_locked(ctx->shpool, size);

        if (node != NULL) {
            break;
        }

        if (ngx_queue_empty(&ctx->sh->queue)) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        an = ngx_queue_data(q, ngx_http_admin_node_t, queue);

        if (an->expire > now) {
            ctx->sh->evictions++;
        }

        ngx_http_admin_zone_free_locked(ctx, an);
    }

    node->key = (ngx_rbtree_key_t) hash[0];

    an = (ngx_http_admin_node_t *) &node->color;

    an->verdict = (u_char) v->verdict;
    an->ulen = (u_short) v->user.len;
    an->blen = (uint32_t) v->body.len;
    an->hash = hash[1];
    an->expire = expire;

    /* memcpy() from NULL is undefined, also for no bytes */

    if (v->user.len) {
        ngx_memcpy(an->data, v->user.data, v->user.len);
    }

    if (v->body.len) {
        ngx_memcpy(an->data + v->user.len, v->body.data, v->body.len);
    }

    ngx_rbtree_insert(&ctx->sh->rbtree, node);
    ngx_queue_insert_head(&ctx->sh->queue, &an->queue);
    ctx->sh->entries++;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* for admin_gate_status */

void
ngx_http_admin_zone_usage(ngx_shm_zone_t *zone, ngx_http_admin_zone_usage_t *u)
{
    ngx_http_admin_zone_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    u->size = zone->shm.size;
    u->free = ctx->shpool->pfree * ngx_pagesize;
    u->entries = ctx->sh->entries;
    u->evictions = ctx->sh->evictions;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


void
ngx_http_admin_zone_delete(ngx_shm_zone_t *zone, uint64_t *hash)
{
    ngx_http_admin_zone_t  *ctx;
    ngx_http_admin_node_t  *an;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    an = ngx_http_admin_zone_find_locked(ctx, hash);

    if (an != NULL) {
        ngx_http_admin_zone_free_locked(ctx, an);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static ngx_int_t
ngx_http_admin_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_admin_zone_t  *octx = data;

    size_t                  len;
    ngx_http_admin_zone_t  *ctx;

    ctx = zone->data;

    if (octx != NULL) {
        /* a reload: the verdicts, and the key that finds them, go on */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        ngx_memcpy(ctx->key, ctx->sh->key, NGX_HTTP_ADMIN_HASH_KEY_LEN);
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        ngx_memcpy(ctx->key, ctx->sh->key, NGX_HTTP_ADMIN_HASH_KEY_LEN);
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_admin_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_admin_rbtree_insert_value);
    ngx_queue_init(&ctx->sh->queue);

    ngx_memcpy(ctx->sh->key, ctx->key, NGX_HTTP_ADMIN_HASH_KEY_LEN);

    len = sizeof(" in admin_gate_cache_zone \"\"") + zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in admin_gate_cache_zone \"%V\"%Z",
                &zone->shm.name);

    /* a full zone evicts: that is no error */

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_admin_node_t *
ngx_http_admin_zone_find_locked(ngx_http_admin_zone_t *ctx, uint64_t *hash)
{
    ngx_rbtree_key_t        key;
    ngx_rbtree_node_t      *node, *sentinel;
    ngx_http_admin_node_t  *an;

    key = (ngx_rbtree_key_t) hash[0];

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        an = (ngx_http_admin_node_t *) &node->color;

        if (an->hash == hash[1]) {
            return an;
        }

        node = (hash[1] < an->hash) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_admin_zone_free_locked(ngx_http_admin_zone_t *ctx,
    ngx_http_admin_node_t *an)
{
    ngx_rbtree_node_t  *node;

    node = (ngx_rbtree_node_t *)
               ((u_char *) an - offsetof(ngx_rbtree_node_t, color));

    ngx_queue_remove(&an->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, node);
    ngx_slab_free_locked(ctx->shpool, node);
    ctx->sh->entries--;
}


/* equal first halves are ordered by the second, as the lookup walks */

static void
ngx_http_admin_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t     **p;
    ngx_http_admin_node_t  *an, *ant;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            an = (ngx_http_admin_node_t *) &node->color;
            ant = (ngx_http_admin_node_t *) &temp->color;

            p = (an->hash < ant->hash) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
