
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_log.h"
#include "ngx_http_admin_token.h"


/*
 * No token in a log line.  Three layers:
 *   - POST_READ: in a server where the gate is on anywhere, the request
 *     line ($request, and the "request:" of error-log lines) loses its
 *     query token before limit_req, limit_conn or a "return" can end the
 *     request and log it;
 *   - LOG, first: the same for a request that ended before POST_READ;
 *   - the error logs of the configuration get a writer that masks every
 *     access_token value and Bearer token in every line, at any level,
 *     also in the lines nginx itself writes while it reads a request
 *     (a duplicate header, an invalid or too long header line, a broken
 *     PROXY protocol header, the debug log), before the line is written.
 */


/* a log's own writer, if it had one (syslog, memory), behind ours */

typedef struct {
    ngx_log_writer_pt          writer;
    void                      *wdata;
} ngx_http_admin_log_wrap_t;


static ngx_int_t ngx_http_admin_redact_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_admin_log_handler(ngx_http_request_t *r);
static void ngx_http_admin_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static ngx_int_t ngx_http_admin_log_wrap_one(ngx_array_t *wrapped,
    ngx_log_t *log);
static void ngx_http_admin_log_unwrap(void *data);


ngx_int_t
ngx_http_admin_log_init(ngx_conf_t *cf)
{
    ngx_array_t                *log;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_admin_redact_handler;

    /* first in the LOG phase: ngx_http_log_request() runs them in order */

    log = &cmcf->phases[NGX_HTTP_LOG_PHASE].handlers;

    h = ngx_array_push(log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h = log->elts;
    ngx_memmove(&h[1], &h[0], (log->nelts - 1) * sizeof(ngx_http_handler_pt));
    h[0] = ngx_http_admin_log_handler;

    return NGX_OK;
}


/* the error log of a location, for ngx_http_admin_log_wrap() */

ngx_int_t
ngx_http_admin_log_add(ngx_conf_t *cf, ngx_log_t *log)
{
    ngx_log_t                   **logp;
    ngx_http_admin_main_conf_t   *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);

    logp = ngx_array_push(&amcf->logs);
    if (logp == NULL) {
        return NGX_ERROR;
    }

    *logp = log;

    return NGX_OK;
}


/*
 * In init_module, when every log of the configuration is set up: the
 * main error logs, those of the locations, and the copies the listening
 * sockets took of them already (a connection's log before its request).
 * A cleanup of the cycle's pool puts the logs' own writers back before
 * the pool is freed, since nginx still logs while it frees it.
 */

ngx_int_t
ngx_http_admin_log_wrap(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_log_t                   *log, **logp;
    ngx_array_t                 *wrapped;
    ngx_listening_t             *ls;
    ngx_pool_cleanup_t          *cln;
    ngx_http_admin_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_admin_module);

    if (amcf == NULL) {
        return NGX_OK;
    }

    wrapped = ngx_array_create(cycle->pool, 4, sizeof(ngx_log_t *));
    if (wrapped == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_admin_log_unwrap;
    cln->data = wrapped;

    for (log = &cycle->new_log; log; log = log->next) {
        if (ngx_http_admin_log_wrap_one(wrapped, log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    logp = amcf->logs.elts;

    for (i = 0; i < amcf->logs.nelts; i++) {
        for (log = logp[i]; log; log = log->next) {
            if (ngx_http_admin_log_wrap_one(wrapped, log) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].logp) {
            ls[i].log.writer = ls[i].logp->writer;
            ls[i].log.wdata = ls[i].logp->wdata;
        }
    }

    return NGX_OK;
}


/*
 * The POST_READ-phase handler: in a server where the gate is on anywhere,
 * $request, and the "request:" of every error log line, show every
 * request without its query token from here on, also one that limit_req,
 * limit_conn or a "return" ends before the gate runs.
 */

static ngx_int_t
ngx_http_admin_redact_handler(ngx_http_request_t *r)
{
    ngx_str_t                   line;
    ngx_http_admin_srv_conf_t  *ascf;

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    if (!ascf->gated) {
        return NGX_DECLINED;
    }

    if (ngx_http_admin_token_redact(r->pool, &r->request_line, &line)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->request_line = line;

    return NGX_DECLINED;
}


/*
 * The first LOG-phase handler, before the access log's: a request that
 * ended before POST_READ (a bad header line, headers too large) is
 * redacted here.  Without a parsed request line nginx logs the raw bytes
 * up to the first CR or LF; they are taken the same way.
 */

static ngx_int_t
ngx_http_admin_log_handler(ngx_http_request_t *r)
{
    u_char                     *p;
    ngx_str_t                   line;
    ngx_http_admin_srv_conf_t  *ascf;

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_admin_module);

    if (!ascf->gated) {
        return NGX_OK;
    }

    line = r->request_line;

    if (line.data == NULL) {

        if (r->request_start == NULL || r->header_in == NULL) {
            return NGX_OK;
        }

        for (p = r->request_start; p < r->header_in->last; p++) {
            if (*p == CR || *p == LF) {
                break;
            }
        }

        line.data = r->request_start;
        line.len = p - r->request_start;
    }

    if (ngx_http_admin_token_redact(r->pool, &line, &r->request_line)
        != NGX_OK)
    {
        /* nothing is better than a token */
        ngx_str_set(&r->request_line, "-");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_admin_log_wrap_one(ngx_array_t *wrapped, ngx_log_t *log)
{
    ngx_log_t                  **logp;
    ngx_http_admin_log_wrap_t   *wrap;

    if (log->writer == ngx_http_admin_log_writer) {
        return NGX_OK;
    }

    logp = ngx_array_push(wrapped);
    if (logp == NULL) {
        return NGX_ERROR;
    }

    wrap = ngx_palloc(wrapped->pool, sizeof(ngx_http_admin_log_wrap_t));
    if (wrap == NULL) {
        return NGX_ERROR;
    }

    wrap->writer = log->writer;
    wrap->wdata = log->wdata;

    log->writer = ngx_http_admin_log_writer;
    log->wdata = wrap;

    *logp = log;

    return NGX_OK;
}


static void
ngx_http_admin_log_unwrap(void *data)
{
    ngx_array_t  *wrapped = data;

    ngx_uint_t                  i;
    ngx_log_t                 **logp;
    ngx_http_admin_log_wrap_t  *wrap;

    logp = wrapped->elts;

    for (i = 0; i < wrapped->nelts; i++) {
        wrap = logp[i]->wdata;

        logp[i]->writer = wrap->writer;
        logp[i]->wdata = wrap->wdata;
    }
}


/*
 * Writes a line with its tokens masked, as ngx_log_error_core() would
 * have written it: to the log's file (but for a second after a full
 * disk), or through the log's own writer.
 */

static void
ngx_http_admin_log_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len)
{
    ngx_http_admin_log_wrap_t *wrap = log->wdata;

    size_t     n;
    ssize_t    written;
    ngx_log_t  own;
    u_char     line[NGX_MAX_ERROR_STR];

    if (len > sizeof(line)) {
        len = sizeof(line);
    }

    n = ngx_http_admin_token_redact_text(line, buf, len);

    if (wrap->writer) {
        own = *log;
        own.writer = wrap->writer;
        own.wdata = wrap->wdata;

        wrap->writer(&own, level, line, n);
        return;
    }

    if (log->file == NULL || ngx_time() == log->disk_full_time) {
        return;
    }

    written = ngx_write_fd(log->file->fd, line, n);

    if (written == -1 && ngx_errno == NGX_ENOSPC) {
        log->disk_full_time = ngx_time();
    }
}
