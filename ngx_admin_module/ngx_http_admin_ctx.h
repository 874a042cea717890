
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_CTX_H_INCLUDED_
#define _NGX_HTTP_ADMIN_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the state of one gated request */

struct ngx_http_admin_ctx_s {
    ngx_http_admin_verdict_e   verdict;
    ngx_http_admin_step_e      step;

    ngx_str_t                  bearer;        /* "Bearer <token>" */
    ngx_str_t                  token;         /* normalized, in bearer */
    ngx_str_t                  as_user;       /* appservice user_id */
    ngx_str_t                  user;          /* verified user id */
    ngx_table_elt_t           *authorization;
    ngx_uint_t                 in_query;      /* access_token entries */

    ngx_http_request_t        *request;
    uint64_t                   started;       /* ms since the epoch */
    ngx_str_t                  key;           /* in Redis */
    ngx_http_admin_cache_e     cache;
    ngx_http_admin_verdict_e   cached;        /* the verdict of a hit */
    ngx_http_admin_waiter_t   *waiter;        /* pending Redis GET */

    ngx_http_request_t        *subrequest;
    ngx_str_t                  verify_uri;    /* of the subrequest */
    ngx_uint_t                 status;        /* of the subrequest */
    off_t                      received;      /* body bytes so far */
    ngx_str_t                  body;          /* of the subrequest */

    unsigned                   done:1;        /* subrequest finished */
    unsigned                   failed:1;      /* ... without a reply */
    unsigned                   oversized:1;   /* ... too big to read */
    unsigned                   passthrough:1; /* answer with its reply */
    unsigned                   revoked:1;     /* its verdict revoked */
};


ngx_http_admin_ctx_t *ngx_http_admin_ctx_create(ngx_http_request_t *r);
ngx_http_admin_ctx_t *ngx_http_admin_get_ctx(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ADMIN_CTX_H_INCLUDED_ */
