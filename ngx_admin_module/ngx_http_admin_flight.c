
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_ctx.h"
#include "ngx_http_admin_flight.h"


/*
 * Single flight: in a worker, one lookup per token at a time.  The first
 * request whose token the zone does not know leads: it asks Redis, then
 * Synapse.  Requests with the same hash (the same server namespace and
 * token) that come meanwhile follow: they wait, and take the leader's
 * verdict when it lands.  A leader that goes before it has one (its
 * client left, an error) hands the flight to its first follower, which
 * starts the lookup again.  The flights of a worker are a tree of the
 * leaders' ctxs, so a flight costs no allocation of its own.
 */


static ngx_http_admin_ctx_t *ngx_http_admin_flight_find(
    ngx_http_admin_main_conf_t *amcf, uint64_t *hash);
static void ngx_http_admin_flight_take(ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_ctx_t *leader);
static void ngx_http_admin_flight_wake(ngx_event_t *ev);


/*
 * NGX_OK: the request leads a new flight.  NGX_AGAIN: it follows the
 * flight of its token, and is woken when that lands.
 */

ngx_int_t
ngx_http_admin_flight_join(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    ngx_event_t                 *ev;
    ngx_http_admin_ctx_t        *leader;
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);

    leader = ngx_http_admin_flight_find(amcf, ctx->hash);

    if (leader == NULL) {
        ctx->node.key = (ngx_rbtree_key_t) ctx->hash[0];
        ngx_rbtree_insert(&amcf->flights, &ctx->node);
        ngx_queue_init(&ctx->followers);
        ctx->leading = 1;

        return NGX_OK;
    }

    ev = ngx_pcalloc(r->pool, sizeof(ngx_event_t));
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->handler = ngx_http_admin_flight_wake;
    ev->data = ctx;
    ev->log = r->connection->log;

    ctx->wake = ev;
    ctx->leader = leader;
    ctx->state = NGX_HTTP_ADMIN_STATE_FOLLOW;

    ngx_queue_insert_tail(&leader->followers, &ctx->link);

    /* a client that leaves ends the request, and the flight forgets it */

    r->read_event_handler = ngx_http_test_reading;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "admin flight: following");

    return NGX_AGAIN;
}


/* the leader has its verdict: every follower takes it, and is woken */

void
ngx_http_admin_flight_land(ngx_http_admin_ctx_t *ctx)
{
    ngx_queue_t                 *q;
    ngx_http_admin_ctx_t        *f;
    ngx_http_admin_main_conf_t  *amcf;

    if (!ctx->leading) {
        return;
    }

    amcf = ngx_http_get_module_main_conf(ctx->request, ngx_http_admin_module);

    ngx_rbtree_delete(&amcf->flights, &ctx->node);
    ctx->leading = 0;

    for (q = ngx_queue_head(&ctx->followers);
         q != ngx_queue_sentinel(&ctx->followers);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_http_admin_ctx_t, link);
        f->leader = NULL;

        ngx_http_admin_flight_take(f, ctx);

        ngx_post_event(f->wake, &ngx_posted_events);
    }

    ngx_queue_init(&ctx->followers);
}


/*
 * The request is going away.  A follower leaves its flight; a leader
 * hands its flight to its first follower, which looks up again.
 */

void
ngx_http_admin_flight_leave(ngx_http_admin_ctx_t *ctx)
{
    ngx_queue_t                 *q;
    ngx_http_admin_ctx_t        *f, *heir;
    ngx_http_admin_main_conf_t  *amcf;

    if (ctx->wake != NULL && ctx->wake->posted) {
        ngx_delete_posted_event(ctx->wake);
    }

    if (ctx->leader != NULL) {
        ngx_queue_remove(&ctx->link);
        ctx->leader = NULL;
        return;
    }

    if (!ctx->leading) {
        return;
    }

    amcf = ngx_http_get_module_main_conf(ctx->request, ngx_http_admin_module);

    ngx_rbtree_delete(&amcf->flights, &ctx->node);
    ctx->leading = 0;

    if (ngx_queue_empty(&ctx->followers)) {
        return;
    }

    q = ngx_queue_head(&ctx->followers);
    ngx_queue_remove(q);

    heir = ngx_queue_data(q, ngx_http_admin_ctx_t, link);
    heir->leader = NULL;

    /* the other followers follow the heir */

    ngx_queue_init(&heir->followers);

    if (!ngx_queue_empty(&ctx->followers)) {
        ngx_queue_add(&heir->followers, &ctx->followers);
        ngx_queue_init(&ctx->followers);
    }

    for (q = ngx_queue_head(&heir->followers);
         q != ngx_queue_sentinel(&heir->followers);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_http_admin_ctx_t, link);
        f->leader = heir;
    }

    heir->node.key = (ngx_rbtree_key_t) heir->hash[0];
    ngx_rbtree_insert(&amcf->flights, &heir->node);
    heir->leading = 1;

    heir->state = NGX_HTTP_ADMIN_STATE_START;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, heir->request->connection->log, 0,
                   "admin flight: the leader left, a follower leads");

    ngx_post_event(heir->wake, &ngx_posted_events);
}


/*
 * A follower runs its phases again, in state LANDED or START: woken, or
 * before that by an event of its own connection, whose write handler runs
 * them while it waits (more of its body may come in the same turn of the
 * event loop as the landing).  Its wake, if still posted, must not run
 * them once more: by then the request may be in its content handler,
 * reading its body, and a second run of that handler would send the
 * upstream the body read so far, and never the rest.
 */

void
ngx_http_admin_flight_resume(ngx_http_request_t *r, ngx_http_admin_ctx_t *ctx)
{
    if (ctx->wake != NULL && ctx->wake->posted) {
        ngx_delete_posted_event(ctx->wake);
    }

    r->read_event_handler = ngx_http_block_reading;
}


/* the tree is keyed by the first half of the hash; the second confirms */

static ngx_http_admin_ctx_t *
ngx_http_admin_flight_find(ngx_http_admin_main_conf_t *amcf, uint64_t *hash)
{
    ngx_rbtree_key_t       key;
    ngx_rbtree_node_t     *node, *sentinel;
    ngx_http_admin_ctx_t  *ctx;

    key = (ngx_rbtree_key_t) hash[0];

    node = amcf->flights.root;
    sentinel = amcf->flights.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        ctx = ngx_rbtree_data(node, ngx_http_admin_ctx_t, node);

        if (ctx->hash[1] == hash[1]) {
            return ctx;
        }

        node = (hash[1] < ctx->hash[1]) ? node->left : node->right;
    }

    return NULL;
}


/* equal first halves are ordered by the second, as the lookup walks */

void
ngx_http_admin_flight_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t     **p;
    ngx_http_admin_ctx_t   *ctx, *ctxt;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            ctx = ngx_rbtree_data(node, ngx_http_admin_ctx_t, node);
            ctxt = ngx_rbtree_data(temp, ngx_http_admin_ctx_t, node);

            p = (ctx->hash[1] < ctxt->hash[1]) ? &temp->left : &temp->right;
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


/*
 * The follower "ctx" takes the leader's verdict, and what the answer or
 * the logs need of it, into its own pool.  Short of memory it answers 503.
 */

static void
ngx_http_admin_flight_take(ngx_http_admin_ctx_t *ctx,
    ngx_http_admin_ctx_t *leader)
{
    u_char  *p;
    size_t   len;

    ctx->state = NGX_HTTP_ADMIN_STATE_LANDED;
    ctx->verdict = leader->verdict;
    ctx->cache = leader->cache;
    ctx->status = leader->status;
    ctx->passthrough = leader->passthrough;

    len = leader->user.len + (leader->passthrough ? leader->body.len : 0);

    if (len == 0) {
        return;
    }

    p = ngx_pnalloc(ctx->request->pool, len);
    if (p == NULL) {
        ctx->verdict = NGX_HTTP_ADMIN_ERROR;
        ctx->passthrough = 0;
        return;
    }

    ctx->user.data = p;
    ctx->user.len = leader->user.len;

    if (leader->user.len) {
        p = ngx_cpymem(p, leader->user.data, leader->user.len);
    }

    if (ctx->passthrough) {
        ctx->body.data = p;
        ctx->body.len = leader->body.len;
        ngx_memcpy(p, leader->body.data, leader->body.len);
    }
}


/*
 * A posted event: the follower runs its phases again (a follower that
 * goes on by itself first deletes it: ngx_http_admin_flight_resume())
 */

static void
ngx_http_admin_flight_wake(ngx_event_t *ev)
{
    ngx_http_admin_ctx_t  *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}
