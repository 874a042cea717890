
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <hiredis/hiredis.h>

#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_sentinel.h"
#include "ngx_http_admin_status.h"


/*
 * Redis Sentinel, for a connection of ngx_http_admin_redis.c: a Sentinel
 * is asked for the master (SENTINEL get-master-addr-by-name), the master
 * is confirmed with ROLE, and a second connection per worker hears of
 * failovers (SUBSCRIBE +switch-master).  The connection asks again after
 * any failure (ngx_http_admin_redis_fail() forgets the master).
 */


static void ngx_http_admin_sentinel_master(void *data, redisReply *reply);
static void ngx_http_admin_sentinel_subscribed(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_admin_sentinel_string(redisReply *reply,
    const char *s);


/*
 * To a Sentinel: AUTH sentinel_password, then SENTINEL
 * get-master-addr-by-name, or for the subscription SUBSCRIBE
 * +switch-master.
 */

ngx_int_t
ngx_http_admin_sentinel_ask(ngx_http_admin_redis_t *rd)
{
    ngx_str_t                     argv[3];
    ngx_http_admin_redis_conf_t  *rcf;

    rcf = rd->conf;

    if (rcf->sentinel_password.len) {
        ngx_str_set(&argv[0], "AUTH");
        argv[1] = rcf->sentinel_password;

        if (ngx_http_admin_redis_queue(rd, argv, 2, 0,
                                       ngx_http_admin_redis_ok, rd, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rd->subscriber) {
        ngx_str_set(&argv[0], "SUBSCRIBE");
        ngx_str_set(&argv[1], "+switch-master");

        return ngx_http_admin_redis_queue(rd, argv, 2, 0,
                                          ngx_http_admin_sentinel_subscribed,
                                          rd, NULL);
    }

    ngx_str_set(&argv[0], "SENTINEL");
    ngx_str_set(&argv[1], "get-master-addr-by-name");
    argv[2] = rcf->master;

    return ngx_http_admin_redis_queue(rd, argv, 3, 0,
                                      ngx_http_admin_sentinel_master, rd, NULL);
}


/*
 * The Sentinel's answer: the master's address, ["ip", "port"]; it is
 * connected to at once.  Anything else: the next Sentinel is asked.
 */

static void
ngx_http_admin_sentinel_master(void *data, redisReply *reply)
{
    ngx_http_admin_redis_t  *rd = data;

    size_t                len;
    socklen_t             socklen;
    ngx_int_t             port;
    ngx_uint_t            known;
    redisReply          **e;
    ngx_sockaddr_t        before;
    struct sockaddr_in   *sin;
    u_char                ip[NGX_SOCKADDR_STRLEN];
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    if (reply == NULL) {
        return;
    }

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING
        || e[0]->len == 0 || e[0]->len >= sizeof(ip))
    {
        ngx_http_admin_redis_fail(rd, 0, "the sentinel does not know the "
                                  "master");
        return;
    }

    port = ngx_atoi((u_char *) e[1]->str, e[1]->len);

    if (port < 1 || port > 65535) {
        ngx_http_admin_redis_fail(rd, 0, "invalid sentinel reply");
        return;
    }

    len = e[0]->len;
    ngx_memcpy(ip, e[0]->str, len);
    ip[len] = '\0';

    /* the master known before, if any, to tell a failover */

    known = rd->master.sockaddr != NULL;
    socklen = rd->master.socklen;
    ngx_memcpy(&before, &rd->master_sa, sizeof(ngx_sockaddr_t));

    ngx_memzero(&rd->master_sa, sizeof(ngx_sockaddr_t));

    sin = &rd->master_sa.sockaddr_in;

    if (inet_pton(AF_INET, (char *) ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) port);
        rd->master.socklen = sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
    } else if (inet_pton(AF_INET6, (char *) ip,
                         &rd->master_sa.sockaddr_in6.sin6_addr) == 1)
    {
        sin6 = &rd->master_sa.sockaddr_in6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((in_port_t) port);
        rd->master.socklen = sizeof(struct sockaddr_in6);
#endif

    } else {
        ngx_http_admin_redis_fail(rd, 0, "invalid sentinel reply");
        return;
    }

    rd->master.sockaddr = &rd->master_sa.sockaddr;
    rd->master.name.data = rd->master_text;
    rd->master.name.len = ngx_sock_ntop(rd->master.sockaddr,
                                        rd->master.socklen, rd->master_text,
                                        NGX_SOCKADDR_STRLEN, 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "admin redis: sentinel says master \"%V\" is at %V",
                   &rd->conf->master, &rd->master.name);

    if (known
        && rd->conf->record != NULL
        && ngx_cmp_sockaddr(&before.sockaddr, socklen, rd->master.sockaddr,
                            rd->master.socklen, 1)
           != NGX_OK)
    {
        ngx_http_admin_count(
                  &rd->conf->record->count[NGX_HTTP_ADMIN_REDIS_FAILOVERS]);
    }

    /* this Sentinel answered: it is asked first next time */

    rd->known = 1;
    rd->asked = 0;

    ngx_http_admin_redis_close(rd);
    ngx_http_admin_redis_connect(rd);
}


/* ROLE: ["master", ...] is the one; anything else, Sentinel is asked */

void
ngx_http_admin_sentinel_role(void *data, redisReply *reply)
{
    ngx_http_admin_redis_t  *rd = data;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_admin_redis_fail(rd, 0, "ROLE refused (an ACL without "
                                  "+role?)");
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || ngx_http_admin_sentinel_string(reply->element[0], "master")
           != NGX_OK)
    {
        ngx_http_admin_redis_fail(rd, 0, "not a master");
        return;
    }

    ngx_http_admin_redis_ready(rd);
}


/* ["subscribe", "+switch-master", 1]: the subscription is on */

static void
ngx_http_admin_sentinel_subscribed(void *data, redisReply *reply)
{
    ngx_http_admin_redis_t  *rd = data;

    if (reply == NULL) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || ngx_http_admin_sentinel_string(reply->element[0], "subscribe")
           != NGX_OK)
    {
        ngx_http_admin_redis_fail(rd, 0, "subscription refused");
        return;
    }

    /* a subscription is never an outage: nothing is logged */

    ngx_http_admin_redis_ready(rd);
}


/*
 * A message of the subscription: ["message", "+switch-master",
 * "<name> <old ip> <old port> <new ip> <new port>"].  A failover of our
 * master ends the connection to the old one; the next asks a Sentinel.
 */

void
ngx_http_admin_sentinel_push(ngx_http_admin_redis_t *rd, redisReply *reply)
{
    redisReply              *msg;
    ngx_str_t               *name;
    ngx_http_admin_redis_t  *conn;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || ngx_http_admin_sentinel_string(reply->element[0], "message")
           != NGX_OK)
    {
        return;
    }

    msg = reply->element[2];
    name = &rd->conf->master;

    if (msg->type != REDIS_REPLY_STRING
        || msg->len <= name->len
        || msg->str[name->len] != ' '
        || ngx_strncmp(msg->str, name->data, name->len) != 0)
    {
        return;
    }

    conn = rd->main;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "admin gate redis \"%V\": the sentinels announce a new "
                  "master", name);

    conn->known = 0;

    if (conn->state == NGX_HTTP_ADMIN_REDIS_DOWN) {
        return;
    }

    conn->announced = 1;

    ngx_http_admin_redis_fail(conn, 0, "the master changed");
}


static ngx_int_t
ngx_http_admin_sentinel_string(redisReply *reply, const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    if ((reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS)
        || reply->len != len
        || ngx_strncmp(reply->str, s, len) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
