
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_RESP_H_INCLUDED_
#define _NGX_HTTP_ADMIN_RESP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>


/* what one reply may hold */
#define NGX_HTTP_ADMIN_RESP_BYTES_MAX     65536
#define NGX_HTTP_ADMIN_RESP_ELTS_MAX      1024


typedef struct {
    redisReader                *reader;

    /* hiredis's reply constructors, and ours that bound them */
    redisReplyObjectFunctions  *hiredis;
    redisReplyObjectFunctions   bounded;

    size_t                      bytes;        /* of the reply so far */
    ngx_uint_t                  elements;
    ngx_uint_t                  too_large;
} ngx_http_admin_resp_t;


ngx_int_t ngx_http_admin_resp_init(ngx_http_admin_resp_t *rr);
void ngx_http_admin_resp_free(ngx_http_admin_resp_t *rr);
ngx_int_t ngx_http_admin_resp_feed(ngx_http_admin_resp_t *rr, u_char *buf,
    size_t len);
ngx_int_t ngx_http_admin_resp_reply(ngx_http_admin_resp_t *rr,
    redisReply **reply, const char **why);
ngx_int_t ngx_http_admin_resp_simple(ngx_http_admin_resp_t *rr, u_char *p,
    u_char *last, redisReply *reply, u_char **next);


#endif /* _NGX_HTTP_ADMIN_RESP_H_INCLUDED_ */
