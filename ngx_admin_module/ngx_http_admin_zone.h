
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_ZONE_H_INCLUDED_
#define _NGX_HTTP_ADMIN_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_admin_value.h"


typedef struct {
    size_t                      size;
    size_t                      free;         /* in whole free pages */
    ngx_uint_t                  entries;
    ngx_uint_t                  evictions;
} ngx_http_admin_zone_usage_t;


char *ngx_http_admin_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_admin_zone_lookup(ngx_shm_zone_t *zone, uint64_t *hash,
    ngx_pool_t *pool, ngx_http_admin_value_t *v, u_char *user);
void ngx_http_admin_zone_insert(ngx_shm_zone_t *zone, uint64_t *hash,
    ngx_http_admin_value_t *v);
void ngx_http_admin_zone_delete(ngx_shm_zone_t *zone, uint64_t *hash);
void ngx_http_admin_zone_usage(ngx_shm_zone_t *zone,
    ngx_http_admin_zone_usage_t *u);


#endif /* _NGX_HTTP_ADMIN_ZONE_H_INCLUDED_ */
