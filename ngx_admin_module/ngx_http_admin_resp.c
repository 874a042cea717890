
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <hiredis/hiredis.h>

#include "ngx_http_admin_resp.h"


/*
 * The reader of Redis replies (RESP), bounded.  hiredis parses; its own
 * reply constructors, reached through the reader that redisReaderCreate()
 * sets up, build the replies; ours stand in front of them and count, per
 * reply, the bytes of strings and the array elements announced, before
 * hiredis allocates anything.  One that refuses returns NULL, which
 * hiredis takes as out of memory: the reply fails, "too large".  Bytes
 * buffered for a reply that is not complete yet are bounded the same way,
 * and nesting deeper than hiredis's 7 levels is its own protocol error.
 * Pure: no I/O, no nginx events.
 */


static void *ngx_http_admin_resp_string(const redisReadTask *task, char *str,
    size_t len);
static void *ngx_http_admin_resp_array(const redisReadTask *task,
    int elements);
static void *ngx_http_admin_resp_integer(const redisReadTask *task,
    long long value);
static void *ngx_http_admin_resp_nil(const redisReadTask *task);


ngx_int_t
ngx_http_admin_resp_init(ngx_http_admin_resp_t *rr)
{
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return NGX_ERROR;
    }

    rr->reader = reader;
    rr->hiredis = reader->fn;

    rr->bounded.createString = ngx_http_admin_resp_string;
    rr->bounded.createArray = ngx_http_admin_resp_array;
    rr->bounded.createInteger = ngx_http_admin_resp_integer;
    rr->bounded.createNil = ngx_http_admin_resp_nil;
    rr->bounded.freeObject = rr->hiredis->freeObject;

    reader->fn = &rr->bounded;
    reader->privdata = rr;

    rr->bytes = 0;
    rr->elements = 0;
    rr->too_large = 0;

    return NGX_OK;
}


void
ngx_http_admin_resp_free(ngx_http_admin_resp_t *rr)
{
    if (rr->reader) {
        redisReaderFree(rr->reader);
        rr->reader = NULL;
    }
}


/* NGX_ERROR: out of memory, or more is buffered than a reply may hold */

ngx_int_t
ngx_http_admin_resp_feed(ngx_http_admin_resp_t *rr, u_char *buf, size_t len)
{
    if (rr->reader->len - rr->reader->pos + len
        > NGX_HTTP_ADMIN_RESP_BYTES_MAX + 4096)
    {
        rr->too_large = 1;
        return NGX_ERROR;
    }

    if (redisReaderFeed(rr->reader, (const char *) buf, len) != REDIS_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The next complete reply, or NULL in "*reply" when more bytes are needed.
 * NGX_ERROR: the stream is broken, "*why" says how; nothing more can be
 * read from it.  A reply is the caller's to freeReplyObject().
 */

ngx_int_t
ngx_http_admin_resp_reply(ngx_http_admin_resp_t *rr, redisReply **reply,
    const char **why)
{
    void  *r;

    if (redisReaderGetReply(rr->reader, &r) != REDIS_OK) {
        *why = rr->too_large ? "reply too large" : "invalid reply";
        return NGX_ERROR;
    }

    *reply = r;

    if (r != NULL) {
        rr->bytes = 0;
        rr->elements = 0;
    }

    return NGX_OK;
}


static void *
ngx_http_admin_resp_string(const redisReadTask *task, char *str, size_t len)
{
    ngx_http_admin_resp_t  *rr = task->privdata;

    rr->bytes += len;

    if (rr->bytes > NGX_HTTP_ADMIN_RESP_BYTES_MAX) {
        rr->too_large = 1;
        return NULL;
    }

    return rr->hiredis->createString(task, str, len);
}


static void *
ngx_http_admin_resp_array(const redisReadTask *task, int elements)
{
    ngx_http_admin_resp_t  *rr = task->privdata;

    if (elements < 0
        || (ngx_uint_t) elements > NGX_HTTP_ADMIN_RESP_ELTS_MAX - rr->elements)
    {
        rr->too_large = 1;
        return NULL;
    }

    rr->elements += elements;

    return rr->hiredis->createArray(task, elements);
}


static void *
ngx_http_admin_resp_integer(const redisReadTask *task, long long value)
{
    ngx_http_admin_resp_t  *rr = task->privdata;

    return rr->hiredis->createInteger(task, value);
}


static void *
ngx_http_admin_resp_nil(const redisReadTask *task)
{
    ngx_http_admin_resp_t  *rr = task->privdata;

    return rr->hiredis->createNil(task);
}
