
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_REVOKE_H_INCLUDED_
#define _NGX_HTTP_ADMIN_REVOKE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* one revocation that is still to be written to its Redis */
typedef void (*ngx_http_admin_revoke_pt)(void *data, ngx_str_t *key,
    uint64_t expire);


ngx_int_t ngx_http_admin_revoke_zone(ngx_conf_t *cf,
    ngx_http_admin_main_conf_t *amcf);
uint64_t ngx_http_admin_revoke_now(void);
uint64_t ngx_http_admin_revoke_add(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_str_t *key, ngx_msec_t ttl);
ngx_uint_t ngx_http_admin_revoke_find(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_str_t *key);
void ngx_http_admin_revoke_written(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_str_t *key, uint64_t expire);
void ngx_http_admin_revoke_unwritten(ngx_shm_zone_t *zone, uint32_t rid,
    ngx_http_admin_revoke_pt handler, void *data);


#endif /* _NGX_HTTP_ADMIN_REVOKE_H_INCLUDED_ */
