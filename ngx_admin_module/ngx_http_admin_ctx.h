
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_CTX_H_INCLUDED_
#define _NGX_HTTP_ADMIN_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the ctxs a worker keeps for later requests */
#define NGX_HTTP_ADMIN_CTX_FREE  256


/*
 * Where a gated request is.  Each wait has a state, and the event that
 * ends it moves the request to the state after it; the gate, entered
 * again, goes on from there (ngx_http_admin_gate()):
 *
 *     START --> REDIS --> REDIS_DONE --> WHOAMI --> WHOAMI_DONE
 *       |  \                      \                  |
 *       |   FOLLOW --> LANDED       DECIDED <-- ADMIN_DONE <-- ADMIN
 *       +--> DECIDED (zone hit, no token, ...)
 *
 * A follower whose leader went away starts again (FOLLOW --> START).
 */

typedef enum {
    NGX_HTTP_ADMIN_STATE_START = 0,
    NGX_HTTP_ADMIN_STATE_REDIS,           /* GET sent */
    NGX_HTTP_ADMIN_STATE_REDIS_DONE,      /* ... answered: ctx->cache */
    NGX_HTTP_ADMIN_STATE_FOLLOW,          /* waits for a leader */
    NGX_HTTP_ADMIN_STATE_LANDED,          /* ... which gave its verdict */
    NGX_HTTP_ADMIN_STATE_WHOAMI,          /* subrequest running */
    NGX_HTTP_ADMIN_STATE_WHOAMI_DONE,
    NGX_HTTP_ADMIN_STATE_ADMIN,           /* subrequest running */
    NGX_HTTP_ADMIN_STATE_ADMIN_DONE,
    NGX_HTTP_ADMIN_STATE_DECIDED          /* ctx->verdict is final */
} ngx_http_admin_state_e;


/* the state of one gated request */

struct ngx_http_admin_ctx_s {
    ngx_http_admin_state_e     state;
    ngx_http_admin_verdict_e   verdict;       /* once DECIDED or LANDED */
    ngx_http_admin_cache_e     cache;         /* where it came from */

    ngx_str_t                  bearer;        /* "Bearer <token>" */
    ngx_str_t                  token;         /* normalized, in bearer */
    ngx_str_t                  as_user;       /* appservice user_id */
    ngx_str_t                  user;          /* verified user id */
    ngx_table_elt_t           *authorization;
    ngx_uint_t                 in_query;      /* access_token entries */

    ngx_http_request_t        *request;
    uint64_t                   started;       /* ms since the epoch */
    uint64_t                   hash[2];       /* SipHash of the token */
    ngx_str_t                  key;           /* in Redis, once needed */
    ngx_http_admin_waiter_t   *waiter;        /* pending Redis GET */

    /* single flight (ngx_http_admin_flight.c) */
    ngx_rbtree_node_t          node;          /* a leader's, in flights */
    ngx_queue_t                followers;     /* a leader's */
    ngx_queue_t                link;          /* a follower's */
    ngx_http_admin_ctx_t      *leader;        /* a follower's */
    ngx_event_t               *wake;          /* a follower's */

    ngx_http_request_t        *subrequest;
    ngx_str_t                  verify_uri;    /* of the subrequest */
    ngx_uint_t                 status;        /* of the subrequest */
    off_t                      received;      /* body bytes so far */
    ngx_str_t                  body;          /* of the subrequest */
    ngx_msec_t                 verify_start;  /* for admin_gate_status */

    unsigned                   hashed:1;      /* hash[] is set */
    unsigned                   leading:1;     /* node is in flights */
    unsigned                   failed:1;      /* subrequest: no reply */
    unsigned                   oversized:1;   /* ... too big to read */
    unsigned                   passthrough:1; /* answer with its reply */
    unsigned                   revoked:1;     /* its verdict revoked */
    unsigned                   verifying:1;   /* counted in flight */

    ngx_http_admin_ctx_t      *next;          /* on the free list */

    /* not cleared when the ctx is used again; user may point to it */
    u_char                     user_buf[NGX_HTTP_ADMIN_USER_MAX];
};


ngx_http_admin_ctx_t *ngx_http_admin_ctx_create(ngx_http_request_t *r);
ngx_http_admin_ctx_t *ngx_http_admin_get_ctx(ngx_http_request_t *r);
void ngx_http_admin_ctx_exit_process(ngx_http_admin_main_conf_t *amcf);


#endif /* _NGX_HTTP_ADMIN_CTX_H_INCLUDED_ */
