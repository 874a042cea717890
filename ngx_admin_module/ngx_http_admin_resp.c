
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


static ngx_int_t ngx_http_admin_resp_line(u_char *p, u_char *last,
    redisReply *reply, u_char **next);
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


/*
 * A reply that needs neither hiredis nor an allocation, most replies: a
 * bulk string, nil, a status or an error, whole in [p, last), when the
 * reader holds nothing of an earlier reply.  NGX_OK: "reply" points into
 * the buffer, and "*next" after the reply.  NGX_DECLINED: hiredis is to
 * read it, and all that follows.
 */

ngx_int_t
ngx_http_admin_resp_simple(ngx_http_admin_resp_t *rr, u_char *p,
    u_char *last, redisReply *reply, u_char **next)
{
    u_char  *q;
    size_t   n;

    /*
     * hiredis holds nothing: no bytes, and no task, or only the empty one
     * it leaves after it has read a reply
     */

    if (rr->reader->pos != rr->reader->len
        || (rr->reader->ridx != -1
            && !(rr->reader->ridx == 0 && rr->reader->rstack[0].type == -1))
        || rr->reader->err
        || last - p < 3)
    {
        return NGX_DECLINED;
    }

    ngx_memzero(reply, sizeof(redisReply));

    if (*p == '+' || *p == '-') {
        return ngx_http_admin_resp_line(p, last, reply, next);
    }

    if (*p != '$') {
        return NGX_DECLINED;
    }

    if (last - p >= 5 && ngx_strncmp(p, "$-1\r\n", 5) == 0) {
        reply->type = REDIS_REPLY_NIL;
        *next = p + 5;
        return NGX_OK;
    }

    /* "$<n>\r\n<n bytes>\r\n", n of at most 5 digits: 64 KiB or less */

    n = 0;

    for (q = p + 1; q < last && q - p <= 6 && *q >= '0' && *q <= '9'; q++) {
        n = n * 10 + (*q - '0');
    }

    /* hiredis refuses a length with a leading zero: so does this */

    if (q == p + 1 || q - p > 6 || (p[1] == '0' && q != p + 2)
        || last - q < 2 || q[0] != CR || q[1] != LF)
    {
        return NGX_DECLINED;
    }

    q += 2;

    if (n > NGX_HTTP_ADMIN_RESP_BYTES_MAX
        || (size_t) (last - q) < n + 2
        || q[n] != CR
        || q[n + 1] != LF)
    {
        return NGX_DECLINED;
    }

    reply->type = REDIS_REPLY_STRING;
    reply->str = (char *) q;
    reply->len = n;

    *next = q + n + 2;

    return NGX_OK;
}


/* "+<status>\r\n" or "-<error>\r\n" */

static ngx_int_t
ngx_http_admin_resp_line(u_char *p, u_char *last, redisReply *reply,
    u_char **next)
{
    u_char  *q;
    size_t   len;

    len = ngx_min((size_t) (last - p - 1), NGX_HTTP_ADMIN_RESP_BYTES_MAX);

    q = memchr(p + 1, CR, len);

    /* a bare LF in the line: hiredis 1.1 refuses it, 0.14 does not */

    if (q == NULL || q + 1 == last || q[1] != LF
        || memchr(p + 1, LF, q - p - 1) != NULL)
    {
        return NGX_DECLINED;
    }

    reply->type = (*p == '+') ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR;
    reply->str = (char *) p + 1;
    reply->len = q - p - 1;

    *next = q + 2;

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
