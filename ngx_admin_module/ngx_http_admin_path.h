
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_PATH_H_INCLUDED_
#define _NGX_HTTP_ADMIN_PATH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_http_admin_path_canonical(ngx_pool_t *pool, ngx_str_t *src,
    ngx_uint_t decode, ngx_str_t *dst);
ngx_int_t ngx_http_admin_path_gated(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_str_t *uri, ngx_array_t *prefixes);
ngx_uint_t ngx_http_admin_path_plain(ngx_str_t *raw);
ngx_uint_t ngx_http_admin_path_match(ngx_str_t *path, ngx_array_t *prefixes);
u_char *ngx_http_admin_path_unescape(u_char *dst, u_char *src, size_t len,
    ngx_uint_t plus);


#endif /* _NGX_HTTP_ADMIN_PATH_H_INCLUDED_ */
