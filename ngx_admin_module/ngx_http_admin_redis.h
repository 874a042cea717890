
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_REDIS_H_INCLUDED_
#define _NGX_HTTP_ADMIN_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_admin_resp.h"


/* a reply, or NULL when Redis could not give one; never kept */
typedef void (*ngx_http_admin_reply_pt)(void *data, redisReply *reply);


/*
 * The connection's insides, for ngx_http_admin_redis.c and
 * ngx_http_admin_sentinel.c only.
 */

typedef enum {
    NGX_HTTP_ADMIN_REDIS_DOWN = 0,
    NGX_HTTP_ADMIN_REDIS_CONNECTING,
    NGX_HTTP_ADMIN_REDIS_READY
} ngx_http_admin_redis_state_e;


struct ngx_http_admin_waiter_s {
    ngx_http_admin_waiter_t       *next;
    ngx_http_admin_reply_pt        handler;
    void                          *data;
    ngx_msec_t                     queued;
    ngx_msec_t                     deadline;      /* 0: the connection's */
    ngx_uint_t                     owned;         /* free data at exit */
};


struct ngx_http_admin_redis_s {
    ngx_http_admin_redis_conf_t   *conf;
    ngx_peer_connection_t          peer;
    ngx_http_admin_resp_t          resp;          /* the reply reader */

    u_char                        *start;         /* output buffer */
    u_char                        *pos;
    u_char                        *last;
    u_char                        *end;

    ngx_http_admin_waiter_t       *head;
    ngx_http_admin_waiter_t       *tail;
    ngx_http_admin_waiter_t       *free;

    ngx_event_t                    timer;
    ngx_msec_t                     timer_at;      /* when it fires */
    ngx_msec_t                     replied;       /* last reply, or stall */
    ngx_event_t                    retry;
    ngx_msec_t                     backoff;
    ngx_log_t                      log;           /* for nginx's own lines */

    ngx_http_admin_redis_state_e   state;
    unsigned                       connected:1;
    unsigned                       outage:1;

    /* with Sentinel */
    unsigned                       asking:1;      /* talks to a Sentinel */
    unsigned                       known:1;       /* the master's address */
    unsigned                       subscriber:1;  /* is "sub" of "main" */
    unsigned                       announced:1;   /* +switch-master */
    unsigned                       refused:1;     /* an error, logged */
    ngx_uint_t                     sentinel;      /* the one to ask next */
    ngx_uint_t                     asked;         /* in vain, this round */
    ngx_addr_t                     master;
    ngx_sockaddr_t                 master_sa;
    u_char                         master_text[NGX_SOCKADDR_STRLEN];
    ngx_http_admin_redis_t        *sub;           /* +switch-master */
    ngx_http_admin_redis_t        *main;
};


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
void ngx_http_admin_redis_refused(ngx_http_admin_redis_conf_t *rcf,
    ngx_log_t *log, redisReply *reply);

/* for ngx_http_admin_sentinel.c */
void ngx_http_admin_redis_connect(ngx_http_admin_redis_t *rd);
void ngx_http_admin_redis_close(ngx_http_admin_redis_t *rd);
void ngx_http_admin_redis_fail(ngx_http_admin_redis_t *rd, ngx_err_t err,
    const char *why);
void ngx_http_admin_redis_ready(ngx_http_admin_redis_t *rd);
void ngx_http_admin_redis_ok(void *data, redisReply *reply);
ngx_int_t ngx_http_admin_redis_queue(ngx_http_admin_redis_t *rd,
    ngx_str_t *argv, ngx_uint_t argc, ngx_msec_t timeout,
    ngx_http_admin_reply_pt handler, void *data,
    ngx_http_admin_waiter_t **waiter);


#endif /* _NGX_HTTP_ADMIN_REDIS_H_INCLUDED_ */
