
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_ADMIN_SENTINEL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_admin_redis.h"


ngx_int_t ngx_http_admin_sentinel_ask(ngx_http_admin_redis_t *rd);
void ngx_http_admin_sentinel_role(void *data, redisReply *reply);
void ngx_http_admin_sentinel_push(ngx_http_admin_redis_t *rd,
    redisReply *reply);


#endif /* _NGX_HTTP_ADMIN_SENTINEL_H_INCLUDED_ */
