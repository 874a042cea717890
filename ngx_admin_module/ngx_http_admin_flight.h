
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_FLIGHT_H_INCLUDED_
#define _NGX_HTTP_ADMIN_FLIGHT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_admin_flight_join(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);
void ngx_http_admin_flight_land(ngx_http_admin_ctx_t *ctx);
void ngx_http_admin_flight_leave(ngx_http_admin_ctx_t *ctx);
void ngx_http_admin_flight_resume(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);
void ngx_http_admin_flight_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


#endif /* _NGX_HTTP_ADMIN_FLIGHT_H_INCLUDED_ */
