
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_TENANT_H_INCLUDED_
#define _NGX_HTTP_ADMIN_TENANT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_admin_tenant_default(ngx_conf_t *cf,
    ngx_http_admin_srv_conf_t *ascf);
ngx_int_t ngx_http_admin_tenant_check(ngx_conf_t *cf);


#endif /* _NGX_HTTP_ADMIN_TENANT_H_INCLUDED_ */
