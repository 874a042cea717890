
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_TOKEN_H_INCLUDED_
#define _NGX_HTTP_ADMIN_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_admin_digest.h"


/* "01234567": the first 8 hex digits of the token's SHA-256, for logs */
#define NGX_HTTP_ADMIN_TOKEN_TAG_LEN  8


typedef enum {
    NGX_HTTP_ADMIN_TOKEN_OK = 0,
    NGX_HTTP_ADMIN_TOKEN_MISSING,
    NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER,
    NGX_HTTP_ADMIN_TOKEN_TOO_MANY,
    NGX_HTTP_ADMIN_TOKEN_MIXING,
    NGX_HTTP_ADMIN_TOKEN_BAD,
    NGX_HTTP_ADMIN_TOKEN_NOMEM
} ngx_http_admin_token_e;


typedef struct {
    ngx_str_t                 token;
    ngx_str_t                 as_user;       /* user_id parameter */
    ngx_uint_t                in_query;      /* access_token entries */
} ngx_http_admin_token_t;


ngx_http_admin_token_e ngx_http_admin_token_extract(ngx_pool_t *pool,
    ngx_str_t *headers, ngx_uint_t nheaders, ngx_str_t *args,
    ngx_http_admin_token_t *out);
ngx_int_t ngx_http_admin_token_strip(ngx_pool_t *pool, ngx_str_t *args,
    ngx_str_t *out);
ngx_int_t ngx_http_admin_token_redact(ngx_pool_t *pool, ngx_str_t *line,
    ngx_str_t *out);
size_t ngx_http_admin_token_redact_text(u_char *dst, u_char *src,
    size_t len);
void ngx_http_admin_token_tag(ngx_str_t *token, u_char *tag);
ngx_int_t ngx_http_admin_token_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *token, ngx_str_t *as_user, ngx_http_admin_hmac_t *secret,
    ngx_str_t *key);


#endif /* _NGX_HTTP_ADMIN_TOKEN_H_INCLUDED_ */
