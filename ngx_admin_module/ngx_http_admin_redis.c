
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <hiredis/hiredis.h>

#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_resp.h"
#include "ngx_http_admin_sentinel.h"
#include "ngx_http_admin_status.h"


/*
 * One connection per admin_gate_redis and worker.  nginx owns the socket
 * (ngx_event_connect_peer, its events, ngx_close_connection); hiredis
 * only parses replies (redisReader, bounded), and commands are written in
 * RESP here, with send() and recv() of our own, so that a failure is
 * logged once, with its errno.  Commands are pipelined: replies come back
 * in order, each to the waiter at the head of the queue.
 *
 * Deadlines: a request's lookup has its own, from its server's
 * admin_gate_redis_timeout; when it passes, the request is told (a NULL
 * reply) and falls back, and its reply is read and dropped when it comes.
 * The connection is declared down only when Redis has not answered
 * anything for a whole admin_gate_redis_timeout (the longest of its
 * servers') while commands wait, or on a socket error, a reply that does
 * not parse, or a refused handshake: then every waiter gets a NULL reply,
 * the connection is closed, and a reconnect is scheduled, soon at first,
 * then with backoff.  One timer serves all of it, set for the earliest of
 * these deadlines.  Until the handshake (AUTH, SELECT, PING) has been
 * answered commands wait behind it; while Redis is down they are refused
 * at once.
 */


#define NGX_HTTP_ADMIN_REDIS_BACKOFF_MIN  10
#define NGX_HTTP_ADMIN_REDIS_BACKOFF_MAX  1000
#define NGX_HTTP_ADMIN_REDIS_OUT_MIN      4096


static ngx_int_t ngx_http_admin_redis_handshake(ngx_http_admin_redis_t *rd);
static ngx_http_admin_redis_t *ngx_http_admin_redis_create(
    ngx_cycle_t *cycle, ngx_http_admin_redis_conf_t *rcf);
static void ngx_http_admin_redis_free(ngx_http_admin_redis_t *rd);
static void ngx_http_admin_redis_pong(void *data, redisReply *reply);
static ngx_int_t ngx_http_admin_redis_status(ngx_http_admin_redis_t *rd,
    redisReply *reply, const char *expect);
static ngx_int_t ngx_http_admin_redis_test_connect(ngx_http_admin_redis_t *rd,
    ngx_connection_t *c);
static void ngx_http_admin_redis_write_handler(ngx_event_t *wev);
static void ngx_http_admin_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_admin_redis_replies(ngx_http_admin_redis_t *rd);
static ngx_int_t ngx_http_admin_redis_dispatch(ngx_http_admin_redis_t *rd,
    redisReply *reply);
static void ngx_http_admin_redis_timeout(ngx_event_t *ev);
static void ngx_http_admin_redis_reconnect(ngx_event_t *ev);
static void ngx_http_admin_redis_arm(ngx_http_admin_redis_t *rd);
static ngx_http_admin_waiter_t *ngx_http_admin_redis_late(
    ngx_http_admin_redis_t *rd);
static ngx_int_t ngx_http_admin_redis_reserve(ngx_http_admin_redis_t *rd,
    size_t size);
static u_char *ngx_http_admin_redis_header(u_char *p, u_char type, size_t n);


ngx_int_t
ngx_http_admin_redis_init_process(ngx_cycle_t *cycle, ngx_array_t *confs)
{
    ngx_uint_t                     i;
    ngx_http_admin_redis_t        *rd;
    ngx_http_admin_redis_conf_t  **rcfp;

    /* the time cached since the fork would shorten the first deadline */

    ngx_time_update();

    rcfp = confs->elts;

    for (i = 0; i < confs->nelts; i++) {
        rd = ngx_http_admin_redis_create(cycle, rcfp[i]);
        if (rd == NULL) {
            return NGX_ERROR;
        }

        /* each worker writes its own copy of the configuration */

        rcfp[i]->redis = rd;

        if (rcfp[i]->sentinels) {

            /* a second connection, to a Sentinel, hears of failovers */

            rd->sub = ngx_http_admin_redis_create(cycle, rcfp[i]);
            if (rd->sub == NULL) {
                return NGX_ERROR;
            }

            rd->sub->subscriber = 1;
            rd->sub->main = rd;
            rd->sub->sentinel = 1;

            ngx_http_admin_redis_connect(rd->sub);
        }

        ngx_http_admin_redis_connect(rd);
    }

    return NGX_OK;
}


static ngx_http_admin_redis_t *
ngx_http_admin_redis_create(ngx_cycle_t *cycle,
    ngx_http_admin_redis_conf_t *rcf)
{
    ngx_http_admin_redis_t  *rd;

    rd = ngx_pcalloc(cycle->pool, sizeof(ngx_http_admin_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->conf = rcf;
    rd->backoff = NGX_HTTP_ADMIN_REDIS_BACKOFF_MIN;

    /*
     * nginx logs a failed connect() itself, at "error" or "crit", each
     * time; the outage is logged once below instead, so the connection
     * gets a copy of the log that keeps only debug lines and alerts
     */

    rd->log = *cycle->log;
    rd->log.next = NULL;

    if (!(rd->log.log_level & NGX_LOG_DEBUG_ALL)) {
        rd->log.log_level = ngx_min(rd->log.log_level, NGX_LOG_ALERT);
    }

    /*
     * a request waiting for a reply has no timer of its own: the command
     * timer keeps an exiting worker until it is answered
     */

    rd->timer.handler = ngx_http_admin_redis_timeout;
    rd->timer.data = rd;
    rd->timer.log = cycle->log;

    rd->retry.handler = ngx_http_admin_redis_reconnect;
    rd->retry.data = rd;
    rd->retry.log = cycle->log;
    rd->retry.cancelable = 1;

    return rd;
}


void
ngx_http_admin_redis_exit_process(ngx_array_t *confs)
{
    ngx_uint_t                     i;
    ngx_http_admin_redis_conf_t  **rcfp;

    rcfp = confs->elts;

    for (i = 0; i < confs->nelts; i++) {

        if (rcfp[i]->redis == NULL) {
            continue;
        }

        if (rcfp[i]->redis->sub) {
            ngx_http_admin_redis_free(rcfp[i]->redis->sub);
        }

        ngx_http_admin_redis_free(rcfp[i]->redis);

        rcfp[i]->redis = NULL;
    }
}


static void
ngx_http_admin_redis_free(ngx_http_admin_redis_t *rd)
{
    ngx_http_admin_waiter_t  *w;

    ngx_http_admin_redis_close(rd);

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    /* no reply will come: what the handlers would free goes here */

    while (rd->head) {
        w = rd->head;
        rd->head = w->next;

        if (w->owned && w->handler) {
            ngx_free(w->data);
        }

        ngx_free(w);
    }

    while (rd->free) {
        w = rd->free;
        rd->free = w->next;
        ngx_free(w);
    }

    if (rd->start) {
        ngx_free(rd->start);
    }
}


/*
 * Queues a command.  NGX_DECLINED: Redis is down, nothing was queued.
 * The handler gets the reply, or NULL on failure, or when "timeout" (if
 * not 0) has passed first; "*waiter" (if given) stays valid until then,
 * for ngx_http_admin_redis_cancel().
 */

ngx_int_t
ngx_http_admin_redis_command(ngx_http_admin_redis_conf_t *rcf,
    ngx_str_t *argv, ngx_uint_t argc, ngx_msec_t timeout,
    ngx_http_admin_reply_pt handler, void *data,
    ngx_http_admin_waiter_t **waiter)
{
    ngx_http_admin_redis_t  *rd;

    rd = rcf->redis;

    /* nothing goes to a Sentinel but the question */

    if (rd == NULL || rd->state == NGX_HTTP_ADMIN_REDIS_DOWN || rd->asking) {
        return NGX_DECLINED;
    }

    return ngx_http_admin_redis_queue(rd, argv, argc, timeout, handler, data,
                                      waiter);
}


/* the request is gone: its reply will be read and dropped */

void
ngx_http_admin_redis_cancel(ngx_http_admin_waiter_t *waiter)
{
    waiter->handler = NULL;
    waiter->data = NULL;
}


/*
 * A command answered with an error, such as NOPERM from an ACL whose key
 * pattern misses the prefix: logged once per connection, since every
 * lookup would say it again (the lookups fall back as in an outage).
 */

void
ngx_http_admin_redis_refused(ngx_http_admin_redis_conf_t *rcf, ngx_log_t *log,
    redisReply *reply)
{
    ngx_http_admin_redis_t  *rd;

    rd = rcf->redis;

    if (rd == NULL || rd->refused) {
        return;
    }

    rd->refused = 1;

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "admin gate redis \"%V\" refused a lookup: %*s",
                  &rcf->addr.name, ngx_min(reply->len, 200), reply->str);
}


/*
 * The waiter's data was ngx_alloc()ed, and its handler frees it: a worker
 * that exits before the reply frees it instead.
 */

void
ngx_http_admin_redis_own(ngx_http_admin_waiter_t *waiter)
{
    waiter->owned = 1;
}


/*
 * Connects to the Redis, or with Sentinel: to the master it knows, or to
 * a Sentinel to ask for it (the subscription always to a Sentinel).
 */

void
ngx_http_admin_redis_connect(ngx_http_admin_redis_t *rd)
{
    ngx_int_t                     rc;
    ngx_addr_t                   *addr;
    ngx_connection_t             *c;
    ngx_http_admin_redis_conf_t  *rcf;

    rcf = rd->conf;
    addr = &rcf->addr;

    rd->asking = 0;

    if (rcf->sentinels) {

        if (rd->subscriber || !rd->known) {
            addr = rcf->sentinels->elts;
            addr = &addr[rd->sentinel % rcf->sentinels->nelts];
            rd->asking = !rd->subscriber;

        } else {
            addr = &rd->master;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "admin redis connect \"%V\"", &addr->name);

    ngx_memzero(&rd->peer, sizeof(ngx_peer_connection_t));

    rd->peer.sockaddr = addr->sockaddr;
    rd->peer.socklen = addr->socklen;
    rd->peer.name = &addr->name;
    rd->peer.get = ngx_event_get_peer;
    rd->peer.log = &rd->log;
    rd->peer.log_error = NGX_ERROR_ERR;

    rd->state = NGX_HTTP_ADMIN_REDIS_CONNECTING;
    rd->connected = 0;
    rd->refused = 0;

    rc = ngx_event_connect_peer(&rd->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        rd->peer.connection = NULL;
        ngx_http_admin_redis_fail(rd, 0, "connect() failed");
        return;
    }

    c = rd->peer.connection;

    c->data = rd;
    c->read->handler = ngx_http_admin_redis_read_handler;
    c->write->handler = ngx_http_admin_redis_write_handler;

    if (ngx_http_admin_resp_init(&rd->resp) != NGX_OK) {
        ngx_http_admin_redis_fail(rd, 0, "out of memory");
        return;
    }

    if (ngx_http_admin_redis_handshake(rd) != NGX_OK) {
        ngx_http_admin_redis_fail(rd, 0, "out of memory");
        return;
    }

    if (rd->conf->connect && !rd->asking && !rd->subscriber) {
        rd->conf->connect(rd->conf);
    }

    if (rc == NGX_OK) {
        rd->connected = 1;
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


/*
 * AUTH [username] password, SELECT db, PING: ready when all say so; with
 * Sentinel, ROLE in place of PING: ready when it is the master.
 */

static ngx_int_t
ngx_http_admin_redis_handshake(ngx_http_admin_redis_t *rd)
{
    u_char                       *p;
    ngx_str_t                     argv[3];
    ngx_uint_t                    n;
    ngx_http_admin_redis_conf_t  *rcf;

    if (rd->asking || rd->subscriber) {
        return ngx_http_admin_sentinel_ask(rd);
    }

    rcf = rd->conf;

    if (rcf->password.len) {

        /* ngx_str_set() evaluates its argument twice: no "n++" in it */

        ngx_str_set(&argv[0], "AUTH");
        n = 1;

        if (rcf->username.len) {
            argv[n++] = rcf->username;
        }

        argv[n++] = rcf->password;

        if (ngx_http_admin_redis_queue(rd, argv, n, 0,
                                       ngx_http_admin_redis_ok, rd, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rcf->db >= 0) {
        u_char  db[NGX_INT_T_LEN];

        p = ngx_sprintf(db, "%i", rcf->db);

        ngx_str_set(&argv[0], "SELECT");
        argv[1].data = db;
        argv[1].len = p - db;

        if (ngx_http_admin_redis_queue(rd, argv, 2, 0,
                                       ngx_http_admin_redis_ok, rd, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rcf->sentinels) {
        ngx_str_set(&argv[0], "ROLE");

        return ngx_http_admin_redis_queue(rd, argv, 1, 0,
                                          ngx_http_admin_sentinel_role, rd,
                                          NULL);
    }

    ngx_str_set(&argv[0], "PING");

    return ngx_http_admin_redis_queue(rd, argv, 1, 0,
                                      ngx_http_admin_redis_pong, rd, NULL);
}


/* AUTH and SELECT answer +OK */

void
ngx_http_admin_redis_ok(void *data, redisReply *reply)
{
    ngx_http_admin_redis_t  *rd = data;

    (void) ngx_http_admin_redis_status(rd, reply, "OK");
}


/* PING answers +PONG: the connection is ready */

static void
ngx_http_admin_redis_pong(void *data, redisReply *reply)
{
    ngx_http_admin_redis_t  *rd = data;

    if (ngx_http_admin_redis_status(rd, reply, "PONG") != NGX_OK) {
        return;
    }

    ngx_http_admin_redis_ready(rd);
}


void
ngx_http_admin_redis_ready(ngx_http_admin_redis_t *rd)
{
    rd->state = NGX_HTTP_ADMIN_REDIS_READY;
    rd->backoff = NGX_HTTP_ADMIN_REDIS_BACKOFF_MIN;

    if (rd->outage) {
        rd->outage = 0;

        if (rd->conf->sentinels) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "admin gate redis \"%V\" is available again, "
                          "at %V", &rd->conf->addr.name, &rd->master.name);

        } else {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "admin gate redis \"%V\" is available again",
                          &rd->conf->addr.name);
        }
    }
}


/*
 * A handshake reply must be the status expected; an error reply (a wrong
 * password, an unknown user, a database out of range) or anything else
 * ends the connection.  NULL: the connection failed, and said why.
 */

static ngx_int_t
ngx_http_admin_redis_status(ngx_http_admin_redis_t *rd, redisReply *reply,
    const char *expect)
{
    size_t  len;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_admin_redis_fail(rd, 0, "handshake refused");
        return NGX_ERROR;
    }

    len = ngx_strlen(expect);

    if (reply->type != REDIS_REPLY_STATUS
        || reply->len != len
        || ngx_strncmp(reply->str, expect, len) != 0)
    {
        ngx_http_admin_redis_fail(rd, 0, "invalid handshake reply");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Ends the connection.  The outage is logged when it starts; while it
 * lasts, failed reconnects are debug lines.  Waiters are told last, when
 * the state is settled, since their handlers may queue new commands.
 */

void
ngx_http_admin_redis_fail(ngx_http_admin_redis_t *rd, ngx_err_t err,
    const char *why)
{
    void                     *data;
    ngx_msec_t                delay;
    ngx_http_admin_waiter_t  *w, *next;
    ngx_http_admin_reply_pt   handler;

    delay = rd->backoff;

    /* a failover announced is no error of the connection */

    if (rd->conf->record != NULL && !rd->subscriber && !rd->announced) {
        ngx_http_admin_count(
                     &rd->conf->record->count[NGX_HTTP_ADMIN_REDIS_ERRORS]);
    }

    rd->announced = 0;

    if (rd->subscriber) {

        /* the next Sentinel; failovers are still seen by the master's loss */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, err,
                       "admin redis: sentinel subscription lost: %s", why);

        rd->sentinel++;

    } else if (rd->asking
               && ++rd->asked < rd->conf->sentinels->nelts)
    {
        /* the next Sentinel, at once */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, err,
                       "admin redis: sentinel did not answer: %s", why);

        rd->sentinel++;
        delay = 1;

    } else {

        if (rd->asking) {
            /* none of them knows the master: an outage */
            rd->sentinel++;
            rd->asked = 0;
        }

        /* with Sentinel, the master is asked for again after any failure */

        rd->known = 0;

        if (rd->outage) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, err,
                           "admin redis \"%V\" still unavailable: %s",
                           &rd->conf->addr.name, why);

        } else if (rd->asking) {
            rd->outage = 1;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                          "admin gate redis \"%V\" is unavailable: no "
                          "sentinel gives its master: %s",
                          &rd->conf->addr.name, why);

        } else {
            rd->outage = 1;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                          "admin gate redis \"%V\" is unavailable: %s",
                          &rd->conf->addr.name, why);
        }
    }

    ngx_http_admin_redis_close(rd);

    rd->state = NGX_HTTP_ADMIN_REDIS_DOWN;

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(&rd->retry, delay);

        if (delay == rd->backoff) {
            rd->backoff = ngx_min(2 * rd->backoff,
                                  NGX_HTTP_ADMIN_REDIS_BACKOFF_MAX);
        }
    }

    w = rd->head;
    rd->head = NULL;
    rd->tail = NULL;

    for ( /* void */ ; w; w = next) {
        next = w->next;
        handler = w->handler;
        data = w->data;

        w->next = rd->free;
        rd->free = w;

        if (handler) {
            handler(data, NULL);
        }
    }
}


/* closes the socket and forgets what was unsent or half read */

void
ngx_http_admin_redis_close(ngx_http_admin_redis_t *rd)
{
    if (rd->peer.connection) {
        ngx_close_connection(rd->peer.connection);
        rd->peer.connection = NULL;
    }

    ngx_http_admin_resp_free(&rd->resp);

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    rd->pos = rd->start;
    rd->last = rd->start;
}


/* the first event of a connect() in progress tells how it ended */

static ngx_int_t
ngx_http_admin_redis_test_connect(ngx_http_admin_redis_t *rd,
    ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    if (rd->connected) {
        return NGX_OK;
    }

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_http_admin_redis_fail(rd, err, "connect() failed");
        return NGX_ERROR;
    }

    rd->connected = 1;

    return NGX_OK;
}


static void
ngx_http_admin_redis_write_handler(ngx_event_t *wev)
{
    ssize_t                  n;
    ngx_err_t                err;
    ngx_connection_t        *c;
    ngx_http_admin_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    if (ngx_http_admin_redis_test_connect(rd, c) != NGX_OK) {
        return;
    }

    while (rd->pos < rd->last) {
        n = send(c->fd, rd->pos, rd->last - rd->pos, 0);

        if (n == -1) {
            err = ngx_socket_errno;

            if (err == NGX_EINTR) {
                continue;
            }

            if (err == NGX_EAGAIN) {
                wev->ready = 0;
                break;
            }

            ngx_http_admin_redis_fail(rd, err, "send() failed");
            return;
        }

        rd->pos += n;
    }

    if (rd->pos == rd->last) {
        rd->pos = rd->start;
        rd->last = rd->start;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_admin_redis_fail(rd, 0, "cannot watch the socket");
    }
}


/* epoll is edge-triggered: read until EAGAIN */

static void
ngx_http_admin_redis_read_handler(ngx_event_t *rev)
{
    u_char                  *p, *last;
    ssize_t                  n;
    ngx_err_t                err;
    redisReply               reply;
    ngx_connection_t        *c;
    ngx_http_admin_redis_t  *rd;
    u_char                   buf[4096];

    c = rev->data;
    rd = c->data;

    if (ngx_http_admin_redis_test_connect(rd, c) != NGX_OK) {
        return;
    }

    for ( ;; ) {
        n = recv(c->fd, buf, sizeof(buf), 0);

        if (n == -1) {
            err = ngx_socket_errno;

            if (err == NGX_EINTR) {
                continue;
            }

            if (err == NGX_EAGAIN) {
                rev->ready = 0;
                break;
            }

            ngx_http_admin_redis_fail(rd, err, "recv() failed");
            return;
        }

        if (n == 0) {
            ngx_http_admin_redis_fail(rd, 0, "connection closed by redis");
            return;
        }

        /* whole simple replies first, read in place; hiredis the rest */

        p = buf;
        last = buf + n;

        while (p < last
               && ngx_http_admin_resp_simple(&rd->resp, p, last, &reply, &p)
                  == NGX_OK)
        {
            if (ngx_http_admin_redis_dispatch(rd, &reply) != NGX_OK) {
                return;
            }
        }

        if (p == last) {
            continue;
        }

        if (ngx_http_admin_resp_feed(&rd->resp, p, last - p) != NGX_OK) {
            ngx_http_admin_redis_fail(rd, 0, rd->resp.too_large
                                             ? "reply too large"
                                             : "out of memory");
            return;
        }

        if (ngx_http_admin_redis_replies(rd) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_admin_redis_fail(rd, 0, "cannot watch the socket");
    }
}


/*
 * Hands every complete reply hiredis has to its waiter.  Anything but
 * NGX_OK means the connection is gone.
 */

static ngx_int_t
ngx_http_admin_redis_replies(ngx_http_admin_redis_t *rd)
{
    ngx_int_t    rc;
    redisReply  *reply;
    const char  *why;

    for ( ;; ) {

        if (ngx_http_admin_resp_reply(&rd->resp, &reply, &why) != NGX_OK) {
            ngx_http_admin_redis_fail(rd, 0, why);
            return NGX_ERROR;
        }

        if (reply == NULL) {
            return NGX_OK;
        }

        rc = ngx_http_admin_redis_dispatch(rd, reply);

        freeReplyObject(reply);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }
}


/*
 * One reply to its waiter, the first.  Anything but NGX_OK means the
 * connection is gone: a handler may have ended it too, so it is looked
 * at again after.
 */

static ngx_int_t
ngx_http_admin_redis_dispatch(ngx_http_admin_redis_t *rd, redisReply *reply)
{
    void                     *data;
    ngx_connection_t         *c;
    ngx_http_admin_waiter_t  *w;
    ngx_http_admin_reply_pt   handler;

    c = rd->peer.connection;

    w = rd->head;

    if (w == NULL && rd->subscriber && rd->state == NGX_HTTP_ADMIN_REDIS_READY)
    {
        ngx_http_admin_sentinel_push(rd, reply);
        return (rd->peer.connection == c) ? NGX_OK : NGX_ERROR;
    }

    if (w == NULL) {
        ngx_http_admin_redis_fail(rd, 0, "unexpected reply");
        return NGX_ERROR;
    }

    rd->replied = ngx_current_msec;

    rd->head = w->next;

    if (rd->head == NULL) {
        rd->tail = NULL;

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }
    }

    handler = w->handler;
    data = w->data;

    w->next = rd->free;
    rd->free = w;

    if (handler) {
        handler(data, reply);
    }

    if (rd->peer.connection != c) {
        return NGX_ERROR;
    }

    /* a write to a master that has become a replica */

    if (rd->conf->sentinels
        && reply->type == REDIS_REPLY_ERROR
        && reply->len >= sizeof("READONLY") - 1
        && ngx_strncmp(reply->str, "READONLY", sizeof("READONLY") - 1) == 0)
    {
        ngx_http_admin_redis_fail(rd, 0, "the master is a replica now");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_admin_redis_reconnect(ngx_event_t *ev)
{
    ngx_http_admin_redis_t  *rd = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->conf->record != NULL && !rd->subscriber) {
        ngx_http_admin_count(
                 &rd->conf->record->count[NGX_HTTP_ADMIN_REDIS_RECONNECTS]);
    }

    ngx_http_admin_redis_connect(rd);
}


/*
 * The timer is set for the earliest deadline: of a request's lookup, or
 * of the connection (no reply for a whole timeout while commands wait).
 * Between replies it is left alone (re-arming it per reply would cost
 * tree operations); when it fires, the deadlines decide: requests whose
 * own has passed are told and fall back, one at a time, since each runs
 * its phases and may end the connection; the connection fails if its own
 * has passed; otherwise the timer is set for the next.
 */

static void
ngx_http_admin_redis_timeout(ngx_event_t *ev)
{
    ngx_http_admin_redis_t  *rd = ev->data;

    void                     *data;
    ngx_msec_int_t            idle;
    ngx_connection_t         *c;
    ngx_http_admin_waiter_t  *w;
    ngx_http_admin_reply_pt   handler;

    c = rd->peer.connection;

    /*
     * Replies that wait in the socket come first: a worker that was
     * stopped (SIGSTOP, a debugger, a long stall) may run its timers
     * before its events, after epoll_wait() returned EINTR with the time
     * updated; its late reading is not Redis's lateness.
     */

    if (c != NULL && rd->connected) {
        ngx_http_admin_redis_read_handler(c->read);

        if (rd->peer.connection != c || rd->head == NULL) {
            return;
        }
    }

    while ((w = ngx_http_admin_redis_late(rd)) != NULL) {

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "admin redis: a lookup passed its deadline");

        /* the reply will be read and dropped */

        handler = w->handler;
        data = w->data;
        w->handler = NULL;
        w->data = NULL;

        handler(data, NULL);

        if (rd->peer.connection != c || rd->head == NULL) {
            return;
        }
    }

    if (rd->head == NULL) {
        return;
    }

    /*
     * A timer that fires a long while after its time says that this
     * worker, not Redis, was stopped: Redis gets a whole timeout from
     * now, and the next firing, on time, judges it.
     */

    if ((ngx_msec_int_t) (ngx_current_msec - rd->timer_at)
        > (ngx_msec_int_t) rd->conf->timeout / 2)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "admin redis: the timer is %M ms late, the worker "
                       "was stalled", ngx_current_msec - rd->timer_at);

        rd->replied = ngx_current_msec;
        ngx_http_admin_redis_arm(rd);
        return;
    }

    idle = (ngx_msec_int_t) (ngx_current_msec
                             - ngx_max(rd->head->queued, rd->replied));

    if (idle >= (ngx_msec_int_t) rd->conf->timeout) {
        ngx_http_admin_redis_fail(rd, NGX_ETIMEDOUT, "timed out");
        return;
    }

    ngx_http_admin_redis_arm(rd);
}


/* a waiter still told of its reply whose own deadline has passed */

static ngx_http_admin_waiter_t *
ngx_http_admin_redis_late(ngx_http_admin_redis_t *rd)
{
    ngx_http_admin_waiter_t  *w;

    for (w = rd->head; w; w = w->next) {

        if (w->deadline && w->handler
            && (ngx_msec_int_t) (w->deadline - ngx_current_msec) <= 0)
        {
            return w;
        }
    }

    return NULL;
}


static void
ngx_http_admin_redis_arm(ngx_http_admin_redis_t *rd)
{
    ngx_msec_t                next;
    ngx_msec_int_t            left;
    ngx_http_admin_waiter_t  *w;

    next = ngx_max(rd->head->queued, rd->replied) + rd->conf->timeout;

    for (w = rd->head; w; w = w->next) {

        if (w->deadline && w->handler
            && (ngx_msec_int_t) (w->deadline - next) < 0)
        {
            next = w->deadline;
        }
    }

    /* ngx_add_timer() would keep a later key within NGX_TIMER_LAZY_DELAY */

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    left = (ngx_msec_int_t) (next - ngx_current_msec);

    ngx_add_timer(&rd->timer, (ngx_msec_t) ngx_max(left, 1));

    rd->timer_at = next;
}


/*
 * Appends a command in RESP:
 *     *<argc>\r\n
 *     $<len>\r\n<arg>\r\n ...
 * and a waiter for its reply.
 */

ngx_int_t
ngx_http_admin_redis_queue(ngx_http_admin_redis_t *rd, ngx_str_t *argv,
    ngx_uint_t argc, ngx_msec_t timeout, ngx_http_admin_reply_pt handler,
    void *data, ngx_http_admin_waiter_t **waiter)
{
    u_char                   *p;
    size_t                    size;
    ngx_uint_t                i;
    ngx_connection_t         *c;
    ngx_http_admin_waiter_t  *w;

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN;

    for (i = 0; i < argc; i++) {
        size += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + argv[i].len;
    }

    if (ngx_http_admin_redis_reserve(rd, size) != NGX_OK) {
        return NGX_ERROR;
    }

    w = rd->free;

    if (w != NULL) {
        rd->free = w->next;

    } else {
        w = ngx_alloc(sizeof(ngx_http_admin_waiter_t), ngx_cycle->log);
        if (w == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_http_admin_redis_header(rd->last, '*', argc);

    for (i = 0; i < argc; i++) {
        p = ngx_http_admin_redis_header(p, '$', argv[i].len);
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
        *p++ = CR;
        *p++ = LF;
    }

    rd->last = p;

    w->next = NULL;
    w->handler = handler;
    w->data = data;
    w->queued = ngx_current_msec;
    w->deadline = timeout ? ngx_current_msec + timeout : 0;
    w->owned = 0;

    if (rd->tail) {
        rd->tail->next = w;

    } else {
        rd->head = w;
    }

    rd->tail = w;

    /* a first command, or one with a deadline before the timer's */

    if (!rd->timer.timer_set
        || (w->deadline
            && (ngx_msec_int_t) (w->deadline - rd->timer_at) < 0))
    {
        ngx_http_admin_redis_arm(rd);
    }

    if (waiter) {
        *waiter = w;
    }

    /* edge-triggered: a writable socket gives no new event by itself */

    c = rd->peer.connection;

    if (rd->connected && c->write->ready && !c->write->posted) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return NGX_OK;
}


/* "<type><n>\r\n", the header of a RESP array or bulk string */

static u_char *
ngx_http_admin_redis_header(u_char *p, u_char type, size_t n)
{
    u_char  *q;
    u_char   digits[NGX_SIZE_T_LEN];

    q = digits + sizeof(digits);

    do {
        *--q = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    *p++ = type;
    p = ngx_cpymem(p, q, digits + sizeof(digits) - q);
    *p++ = CR;
    *p++ = LF;

    return p;
}


static ngx_int_t
ngx_http_admin_redis_reserve(ngx_http_admin_redis_t *rd, size_t size)
{
    u_char  *p;
    size_t   used, cap;

    if ((size_t) (rd->end - rd->last) >= size) {
        return NGX_OK;
    }

    used = rd->last - rd->pos;

    if (rd->start && (size_t) (rd->end - rd->start) >= used + size) {
        rd->last = ngx_movemem(rd->start, rd->pos, used);
        rd->pos = rd->start;
        return NGX_OK;
    }

    cap = ngx_max((size_t) NGX_HTTP_ADMIN_REDIS_OUT_MIN, 2 * (used + size));

    p = ngx_alloc(cap, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (rd->start) {
        ngx_memcpy(p, rd->pos, used);
        ngx_free(rd->start);
    }

    rd->start = p;
    rd->pos = p;
    rd->last = p + used;
    rd->end = p + cap;

    return NGX_OK;
}
