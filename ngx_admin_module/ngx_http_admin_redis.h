
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_REDIS_H_INCLUDED_
#define _NGX_HTTP_ADMIN_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>


/* a reply, or NULL when Redis could not give one; never kept */
typedef void (*ngx_http_admin_reply_pt)(void *data, redisReply *reply);


char *ngx_http_admin_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_admin_redis_init_process(ngx_cycle_t *cycle,
    ngx_array_t *confs);
void ngx_http_admin_redis_exit_process(ngx_array_t *confs);
ngx_int_t ngx_http_admin_redis_command(ngx_http_admin_redis_conf_t *rcf,
    ngx_str_t *argv, ngx_uint_t argc, ngx_msec_t timeout,
    ngx_http_admin_reply_pt handler, void *data,
    ngx_http_admin_waiter_t **waiter);
void ngx_http_admin_redis_cancel(ngx_http_admin_waiter_t *waiter);
void ngx_http_admin_redis_own(ngx_http_admin_waiter_t *waiter);


#endif /* _NGX_HTTP_ADMIN_REDIS_H_INCLUDED_ */
