
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_LOG_H_INCLUDED_
#define _NGX_HTTP_ADMIN_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_admin_log_init(ngx_conf_t *cf);
ngx_int_t ngx_http_admin_log_add(ngx_conf_t *cf, ngx_log_t *log);
ngx_int_t ngx_http_admin_log_wrap(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_ADMIN_LOG_H_INCLUDED_ */
