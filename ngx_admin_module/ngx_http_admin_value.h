
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_VALUE_H_INCLUDED_
#define _NGX_HTTP_ADMIN_VALUE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_admin_digest.h"


/* the longest refusal of Synapse's that a value keeps */
#define NGX_HTTP_ADMIN_VALUE_BODY_MAX  16384


typedef enum {
    NGX_HTTP_ADMIN_VALUE_OK = 0,
    NGX_HTTP_ADMIN_VALUE_INVALID,          /* not a value of this format */
    NGX_HTTP_ADMIN_VALUE_FORGED,           /* its tag does not verify */
    NGX_HTTP_ADMIN_VALUE_EXPIRED
} ngx_http_admin_value_e;


typedef struct {
    ngx_http_admin_verdict_e   verdict;
    uint64_t                   expire;        /* ms since the epoch */
    ngx_str_t                  user;
    ngx_str_t                  body;          /* Synapse's, or empty */
} ngx_http_admin_value_t;


ngx_int_t ngx_http_admin_value_encode(ngx_pool_t *pool,
    ngx_http_admin_value_t *v, ngx_str_t *key, ngx_http_admin_hmac_t *secret,
    ngx_str_t *out);
ngx_uint_t ngx_http_admin_value_user_valid(ngx_str_t *user);
ngx_http_admin_value_e ngx_http_admin_value_decode(ngx_str_t *in,
    ngx_str_t *key, ngx_http_admin_hmac_t *secret, uint64_t now,
    ngx_http_admin_value_t *v);


#endif /* _NGX_HTTP_ADMIN_VALUE_H_INCLUDED_ */
