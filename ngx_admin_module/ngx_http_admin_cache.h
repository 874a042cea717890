
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_CACHE_H_INCLUDED_
#define _NGX_HTTP_ADMIN_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_admin_cache_init(ngx_conf_t *cf);
ngx_int_t ngx_http_admin_cache_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_admin_cache_lookup(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf);
void ngx_http_admin_cache_store(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_srv_conf_t *ascf);


#endif /* _NGX_HTTP_ADMIN_CACHE_H_INCLUDED_ */
