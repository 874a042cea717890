
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_VERIFY_H_INCLUDED_
#define _NGX_HTTP_ADMIN_VERIFY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_admin_verify_init(ngx_conf_t *cf);
ngx_int_t ngx_http_admin_verify_start(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_str_t *location);
ngx_int_t ngx_http_admin_verify_set_bearer(ngx_http_request_t *r,
    ngx_table_elt_t *h, ngx_str_t *bearer);
ngx_http_admin_verdict_e ngx_http_admin_verify_reply(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);


#endif /* _NGX_HTTP_ADMIN_VERIFY_H_INCLUDED_ */
