
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_resp.c: the bounded reader of Redis replies on top of
 * hiredis's redisReader.
 *
 * Input: bytes from Redis.  They are read with hiredis alone (feed, then
 * take every complete reply, free it):
 *
 *     A: in chunks of 1 to 256 bytes, sizes drawn from the input's hash;
 *     B: in one piece;
 *     C: when the input is exactly one reply R: "*N\r\n" and N copies of
 *        R, in chunks of 4096 bytes (the connection's recv() buffer),
 *        with N drawn from {2, just under and just over 1024 elements,
 *        just over 64 KiB of strings}: a reply that the input alone is
 *        too short to make;
 *
 * and as the Redis connection's read handler reads them: each recv()
 * chunk (a block of its own size, so that ASan sees a byte read past it)
 * goes to ngx_http_admin_resp_simple() first, for as long as it takes
 * whole replies, and what it declines, to the end of the chunk, is fed
 * to hiredis, whose replies are then taken:
 *
 *     F: in chunks of 4096 bytes, a full recv() buffer each;
 *     G: in the chunks of A;
 *     D: when the input is whole replies (B reads them all, no error):
 *        N copies of it, 4 KiB or more (or 256 copies), in chunks of 1
 *        to 1024 bytes, so that recv() boundaries fall inside and
 *        between replies, and hiredis, once it has read one, hands the
 *        stream back to the fast path later (when it has read 1 KiB).
 *
 * Checked: no reply holds more than NGX_HTTP_ADMIN_RESP_BYTES_MAX bytes
 * of strings or NGX_HTTP_ADMIN_RESP_ELTS_MAX array elements, and each is
 * well formed (strings NUL-terminated, no missing element); once a
 * constructor refused, no reply comes; after an error the reader stays
 * broken: every later reply() fails and feed() refuses; A and B give the
 * same replies and the same end; C gives exactly the reply "*N" R^N when
 * it is within the bounds (and short enough for the buffer bound), and
 * "reply too large" with no reply when it is over them.  Every reply is
 * freed, and so is the reader: LeakSanitizer watches.
 *
 * The differential check of the fast path: F is B and G is A, exactly
 * (the same replies, types, string bytes and lengths, array shapes, the
 * same end: error or not, after which reply, too large or not, what is
 * left), and D is B's replies N times over, with no error and nothing
 * left.  Each reply the fast path takes lies inside the chunk, after
 * the bytes it was given and before "*next", and the reader it passes by
 * holds nothing; a declined call leaves "*next" alone; and in F and G,
 * those bytes alone, fed to a bounded hiredis reader of their own, make
 * exactly that reply, with nothing left over: so the fast path takes
 * nothing that hiredis would refuse or read otherwise.
 * Its replies are the buffer's bytes: not NUL-terminated, never freed.
 *
 * hiredis is Debian's shared library, not instrumented: the reply shapes
 * seen (type and depth, sizes, the error) are counters of this harness,
 * libFuzzer's extra counters, so that new shapes count as new coverage.
 */


#include "ngx_fuzz.h"

#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "ngx_http_admin_resp.h"


/* the Redis connection's recv() buffer */
#define NGX_FUZZ_RECV      4096

/* the longest stream C builds, and the deepest reply it wraps */
#define NGX_FUZZ_C_MAX     (256 * 1024)
#define NGX_FUZZ_C_DEPTH   6

/* hiredis keeps 9 read tasks: the root and 8 levels below it */
#define NGX_FUZZ_DEPTH     9

/* D: at least this many bytes of copies of the input, or this many */
#define NGX_FUZZ_D_MIN     NGX_FUZZ_RECV
#define NGX_FUZZ_D_COPIES  256

/* D: the largest chunk, so that a stream of 4 KiB is several recv()s */
#define NGX_FUZZ_D_RECV    1024

/* the extra counters past the shapes of hiredis's replies */
#define NGX_FUZZ_MISC      (8 * NGX_FUZZ_DEPTH)


/* who reads: hiredis alone, or the connection (checking each fast reply) */
typedef enum {
    NGX_FUZZ_HIREDIS = 0,
    NGX_FUZZ_CONN,
    NGX_FUZZ_CONN_CHECKED
} ngx_fuzz_path_e;


typedef struct {
    u_char                   *trace;       /* the replies, serialized */
    size_t                    len;
    size_t                    size;
    ngx_uint_t                replies;
    ngx_uint_t                error;       /* reply() failed */
    ngx_uint_t                refused;     /* feed() refused */
    ngx_uint_t                too_large;
    size_t                    left;        /* not a whole reply at the end */
    ngx_uint_t                fast;        /* replies of the fast path */

    /* of the last reply */
    size_t                    bytes;
    size_t                    elements;
    ngx_uint_t                depth;
} ngx_fuzz_run_t;


static void ngx_fuzz_read(u_char *data, size_t size, size_t max,
    uint32_t seed, ngx_fuzz_path_e path, ngx_fuzz_run_t *run);
static u_char *ngx_fuzz_simple(ngx_http_admin_resp_t *rr, u_char *chunk,
    u_char *last, ngx_http_admin_resp_t *check, ngx_fuzz_run_t *run);
static void ngx_fuzz_same_reply(redisReply *fast, u_char *p, u_char *next,
    ngx_http_admin_resp_t *check);
static void ngx_fuzz_walk(redisReply *r, ngx_uint_t depth,
    ngx_fuzz_run_t *run);
static void ngx_fuzz_put(ngx_fuzz_run_t *run, const void *p, size_t len);
static void ngx_fuzz_same(ngx_fuzz_run_t *x, ngx_fuzz_run_t *y);
static void ngx_fuzz_wrapped(const uint8_t *data, size_t size,
    ngx_fuzz_run_t *one);
static void ngx_fuzz_pipelined(const uint8_t *data, size_t size,
    ngx_fuzz_run_t *one);
static uint32_t ngx_fuzz_hash(const uint8_t *data, size_t size);


static const uint8_t  *ngx_fuzz_data;
static size_t          ngx_fuzz_size;

/* a reply that a reader after an error takes from neither path */
static u_char          ngx_fuzz_ok[] = "+OK\r\n";

__attribute__((section("__libfuzzer_extra_counters")))
static uint8_t         ngx_fuzz_shapes[NGX_FUZZ_MISC + 64];


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char          *copy;
    uint32_t         hash;
    ngx_fuzz_run_t   a, b, f, g;

    ngx_fuzz_data = data;
    ngx_fuzz_size = size;

    copy = malloc(size);
    if (copy == NULL) {
        abort();
    }

    ngx_memcpy(copy, data, size);

    hash = ngx_fuzz_hash(data, size);

    ngx_fuzz_read(copy, size, 256, hash, NGX_FUZZ_HIREDIS, &a);
    ngx_fuzz_read(copy, size, 0, 0, NGX_FUZZ_HIREDIS, &b);
    ngx_fuzz_read(copy, size, NGX_FUZZ_RECV, 0, NGX_FUZZ_CONN_CHECKED, &f);
    ngx_fuzz_read(copy, size, 256, hash, NGX_FUZZ_CONN_CHECKED, &g);

    /* the same replies and the same end, whatever the chunks */

    if (!a.refused && !b.refused) {
        ngx_fuzz_assert(a.len == b.len
                        && (a.len == 0
                            || ngx_memcmp(a.trace, b.trace, a.len) == 0)
                        && a.replies == b.replies
                        && a.error == b.error
                        && a.too_large == b.too_large,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    /*
     * The fast path changes nothing: read as the connection reads them,
     * the bytes give what hiredis alone makes of them, reply for reply,
     * and end the same way (F fed in one chunk when B is, G as A)
     */

    if (size <= NGX_FUZZ_RECV) {
        ngx_fuzz_same(&f, &b);
    }

    ngx_fuzz_same(&g, &a);

    if (b.replies == 1 && !b.error && !b.refused && b.left == 0) {
        ngx_fuzz_wrapped(data, size, &b);
    }

    if (b.replies > 0 && !b.error && !b.refused && b.left == 0) {
        ngx_fuzz_pipelined(data, size, &b);
    }

    free(a.trace);
    free(b.trace);
    free(f.trace);
    free(g.trace);
    free(copy);

    return 0;
}


/*
 * Feeds "data" in chunks of at most "max" bytes (0: one chunk; else
 * sizes from "seed") and takes the replies after each, as the Redis
 * connection does, until the end or the first error.  Through the
 * connection ("path"), each chunk is a recv() of its read handler: the
 * fast path takes the whole simple replies at its start, hiredis the
 * rest.
 */

static void
ngx_fuzz_read(u_char *data, size_t size, size_t max, uint32_t seed,
    ngx_fuzz_path_e path, ngx_fuzz_run_t *run)
{
    u_char                 *p, *last, *chunk;
    size_t                  pos, n;
    ngx_int_t               rc;
    ngx_uint_t              conn;
    redisReply             *reply;
    const char             *why;
    ngx_http_admin_resp_t   rr, check;

    ngx_memzero(run, sizeof(ngx_fuzz_run_t));

    if (ngx_http_admin_resp_init(&rr) != NGX_OK) {
        abort();
    }

    conn = (path != NGX_FUZZ_HIREDIS);

    check.reader = NULL;

    if (path == NGX_FUZZ_CONN_CHECKED
        && ngx_http_admin_resp_init(&check) != NGX_OK)
    {
        abort();
    }

    for (pos = 0; pos < size || pos == 0; pos += n) {

        if (max == 0) {
            n = size;

        } else {
            seed = seed * 1103515245 + 12345;
            n = 1 + (seed >> 16) % max;
            n = ngx_min(n, size - pos);
        }

        chunk = NULL;
        p = data + pos;
        last = p + n;

        if (conn) {

            /* recv() returns no empty chunk: that is the end of the stream */

            if (n == 0) {
                break;
            }

            chunk = malloc(n);
            if (chunk == NULL) {
                abort();
            }

            ngx_memcpy(chunk, data + pos, n);

            last = chunk + n;
            p = ngx_fuzz_simple(&rr, chunk, last, &check, run);

            if (p == last) {
                free(chunk);
                continue;
            }

            /* hiredis reads from the first reply declined */

            ngx_fuzz_shapes[NGX_FUZZ_MISC + 16 + (p == chunk)] = 1;
        }

        rc = ngx_http_admin_resp_feed(&rr, p, last - p);

        if (rc != NGX_OK) {

            /* the connection is dropped: the same bytes again fail too */

            ngx_fuzz_assert(ngx_http_admin_resp_feed(&rr, p, last - p)
                            == NGX_ERROR, ngx_fuzz_data, ngx_fuzz_size);
        }

        free(chunk);

        if (rc != NGX_OK) {
            run->refused = 1;
            run->too_large = rr.too_large;
            ngx_fuzz_shapes[NGX_FUZZ_MISC + 1] = 1;
            break;
        }

        for ( ;; ) {
            why = NULL;
            reply = NULL;

            rc = ngx_http_admin_resp_reply(&rr, &reply, &why);

            if (rc != NGX_OK) {
                ngx_fuzz_assert(rc == NGX_ERROR && why != NULL
                                && reply == NULL,
                                ngx_fuzz_data, ngx_fuzz_size);
                ngx_fuzz_assert(ngx_strcmp(why, rr.too_large
                                                ? "reply too large"
                                                : "invalid reply") == 0,
                                ngx_fuzz_data, ngx_fuzz_size);

                run->error = 1;
                run->too_large = rr.too_large;
                ngx_fuzz_put(run, "E", 1);
                ngx_fuzz_put(run, why, ngx_strlen(why));

                ngx_fuzz_shapes[NGX_FUZZ_MISC + 2 + rr.too_large] = 1;

                /* nothing more is read, nothing more comes */

                reply = NULL;

                ngx_fuzz_assert(ngx_http_admin_resp_reply(&rr, &reply, &why)
                                == NGX_ERROR && reply == NULL,
                                ngx_fuzz_data, ngx_fuzz_size);
                ngx_fuzz_assert(ngx_http_admin_resp_feed(&rr, ngx_fuzz_ok, 5)
                                == NGX_ERROR,
                                ngx_fuzz_data, ngx_fuzz_size);
                ngx_fuzz_assert(ngx_http_admin_resp_reply(&rr, &reply, &why)
                                == NGX_ERROR && reply == NULL,
                                ngx_fuzz_data, ngx_fuzz_size);

                /* nor from the fast path */

                if (conn) {
                    ngx_fuzz_assert(ngx_fuzz_simple(&rr, ngx_fuzz_ok,
                                                    ngx_fuzz_ok + 5, &check,
                                                    run)
                                    == ngx_fuzz_ok,
                                    ngx_fuzz_data, ngx_fuzz_size);
                }

                goto done;
            }

            if (reply == NULL) {
                break;
            }

            /* a refused constructor fails the reply */

            ngx_fuzz_assert(!rr.too_large, ngx_fuzz_data, ngx_fuzz_size);

            run->replies++;
            run->bytes = 0;
            run->elements = 0;
            run->depth = 0;

            ngx_fuzz_walk(reply, 0, run);

            ngx_fuzz_assert(run->bytes <= NGX_HTTP_ADMIN_RESP_BYTES_MAX
                            && run->elements <= NGX_HTTP_ADMIN_RESP_ELTS_MAX,
                            ngx_fuzz_data, ngx_fuzz_size);

            freeReplyObject(reply);
        }

        if (size == 0) {
            break;
        }
    }

    /*
     * What is left: bytes, or a reply begun (its type byte read); hiredis
     * keeps an empty task on its stack once it has looked for the next
     */

    run->left = rr.reader->len - rr.reader->pos
                + (rr.reader->ridx >= 0 && rr.reader->rstack[0].type != -1);

done:

    ngx_http_admin_resp_free(&rr);

    ngx_fuzz_assert(rr.reader == NULL, ngx_fuzz_data, ngx_fuzz_size);

    if (check.reader) {
        ngx_http_admin_resp_free(&check);
    }
}


/*
 * The connection's loop over one recv() chunk: whole simple replies, as
 * long as the fast path takes them.  Returns where hiredis is to start
 * ("last": nothing for it).  Each reply is checked and recorded as a
 * reply of hiredis would be.
 */

static u_char *
ngx_fuzz_simple(ngx_http_admin_resp_t *rr, u_char *chunk, u_char *last,
    ngx_http_admin_resp_t *check, ngx_fuzz_run_t *run)
{
    u_char      *p, *next;
    ngx_int_t    rc;
    redisReply   reply;

    p = chunk;

    while (p < last) {

        /* what the connection passes in: its own cursor, a stack reply */

        next = p;
        ngx_memset(&reply, 0xa5, sizeof(redisReply));

        rc = ngx_http_admin_resp_simple(rr, p, last, &reply, &next);

        if (rc == NGX_DECLINED) {
            ngx_fuzz_assert(next == p, ngx_fuzz_data, ngx_fuzz_size);
            break;
        }

        ngx_fuzz_assert(rc == NGX_OK && next > p && next <= last,
                        ngx_fuzz_data, ngx_fuzz_size);

        /*
         * A reader that holds anything is not passed by: no bytes, no
         * reply begun (hiredis may keep an empty task, as for "left")
         */

        ngx_fuzz_assert(rr->reader->pos == rr->reader->len
                        && rr->reader->err == 0
                        && (rr->reader->ridx == -1
                            || (rr->reader->ridx == 0
                                && rr->reader->rstack[0].type == -1)),
                        ngx_fuzz_data, ngx_fuzz_size);

        if (check->reader) {
            ngx_fuzz_same_reply(&reply, p, next, check);
        }

        ngx_fuzz_shapes[NGX_FUZZ_MISC + 8 + (reply.type & 7)] = 1;

        if (run->replies > run->fast) {
            /* hiredis read a reply before, and handed the stream back */
            ngx_fuzz_shapes[NGX_FUZZ_MISC + 18] = 1;
        }

        run->replies++;
        run->fast++;
        run->bytes = reply.len;
        run->elements = 0;
        run->depth = 0;

        ngx_fuzz_put(run, &reply.type, sizeof(int));

        if (reply.type != REDIS_REPLY_NIL) {
            ngx_fuzz_put(run, &reply.len, sizeof(size_t));
            ngx_fuzz_put(run, reply.str, reply.len);
        }

        p = next;
    }

    return p;
}


/*
 * A reply of the fast path, read from [p, next): only the types it
 * knows, its string inside those bytes, and exactly what hiredis, bounded
 * and fed those bytes alone, reads from them, to the last byte.
 */

static void
ngx_fuzz_same_reply(redisReply *fast, u_char *p, u_char *next,
    ngx_http_admin_resp_t *check)
{
    ngx_int_t    rc;
    redisReply  *reply;
    const char  *why;

    ngx_fuzz_assert(fast->element == NULL && fast->elements == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    switch (fast->type) {

    case REDIS_REPLY_NIL:
        break;

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        ngx_fuzz_assert((u_char *) fast->str > p
                        && fast->len <= (size_t) (next - (u_char *) fast->str)
                        && fast->len <= NGX_HTTP_ADMIN_RESP_BYTES_MAX,
                        ngx_fuzz_data, ngx_fuzz_size);
        break;

    default:
        ngx_fuzz_assert(0 && "a fast reply of another type",
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    ngx_fuzz_assert(ngx_http_admin_resp_feed(check, p, next - p) == NGX_OK,
                    ngx_fuzz_data, ngx_fuzz_size);

    why = NULL;
    reply = NULL;

    rc = ngx_http_admin_resp_reply(check, &reply, &why);

    if (rc != NGX_OK || reply == NULL) {
        ngx_fuzz_fail(rc != NGX_OK ? "fast path took a reply hiredis refuses"
                                   : "fast path took a reply hiredis finds"
                                     " incomplete",
                      ngx_fuzz_data, ngx_fuzz_size);
    }

    ngx_fuzz_assert(reply->type == fast->type
                    && check->reader->pos == check->reader->len,
                    ngx_fuzz_data, ngx_fuzz_size);

    if (fast->type != REDIS_REPLY_NIL) {
        ngx_fuzz_assert(reply->len == fast->len
                        && ngx_memcmp(reply->str, fast->str, fast->len) == 0,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    freeReplyObject(reply);
}


static void
ngx_fuzz_walk(redisReply *r, ngx_uint_t depth, ngx_fuzz_run_t *run)
{
    size_t  i;

    ngx_fuzz_assert(r != NULL && depth < NGX_FUZZ_DEPTH,
                    ngx_fuzz_data, ngx_fuzz_size);

    ngx_fuzz_shapes[8 * depth + (r->type & 7)] = 1;
    run->depth = ngx_max(run->depth, depth);

    ngx_fuzz_put(run, &r->type, sizeof(int));

    switch (r->type) {

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        ngx_fuzz_assert(r->str != NULL && r->str[r->len] == '\0',
                        ngx_fuzz_data, ngx_fuzz_size);

        run->bytes += r->len;
        ngx_fuzz_put(run, &r->len, sizeof(size_t));
        ngx_fuzz_put(run, r->str, r->len);
        break;

    case REDIS_REPLY_INTEGER:
        ngx_fuzz_put(run, &r->integer, sizeof(long long));
        break;

    case REDIS_REPLY_NIL:
        break;

    case REDIS_REPLY_ARRAY:
        ngx_fuzz_assert(r->elements == 0 || r->element != NULL,
                        ngx_fuzz_data, ngx_fuzz_size);

        run->elements += r->elements;
        ngx_fuzz_put(run, &r->elements, sizeof(size_t));

        for (i = 0; i < r->elements; i++) {
            ngx_fuzz_walk(r->element[i], depth + 1, run);
        }

        break;

    default:
        ngx_fuzz_assert(0 && "a reply of an unknown type",
                        ngx_fuzz_data, ngx_fuzz_size);
    }
}


static void
ngx_fuzz_put(ngx_fuzz_run_t *run, const void *p, size_t len)
{
    if (run->len + len > run->size) {
        run->size = 2 * (run->len + len) + 64;
        run->trace = realloc(run->trace, run->size);
        if (run->trace == NULL) {
            abort();
        }
    }

    ngx_memcpy(run->trace + run->len, p, len);
    run->len += len;
}


/* the same replies, and the same end */

static void
ngx_fuzz_same(ngx_fuzz_run_t *x, ngx_fuzz_run_t *y)
{
    ngx_fuzz_assert(x->replies == y->replies && x->len == y->len
                    && (x->len == 0
                        || ngx_memcmp(x->trace, y->trace, x->len) == 0),
                    ngx_fuzz_data, ngx_fuzz_size);

    ngx_fuzz_assert(x->error == y->error && x->refused == y->refused
                    && x->too_large == y->too_large && x->left == y->left,
                    ngx_fuzz_data, ngx_fuzz_size);
}


/* D: N copies of the input, whole replies, read as the connection reads */

static void
ngx_fuzz_pipelined(const uint8_t *data, size_t size, ngx_fuzz_run_t *one)
{
    u_char          *s, *p;
    size_t           n, i;
    ngx_fuzz_run_t   d;

    n = ngx_min(NGX_FUZZ_D_MIN / size + 2, NGX_FUZZ_D_COPIES);

    s = malloc(n * size);
    if (s == NULL) {
        abort();
    }

    p = s;

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, data, size);
    }

    ngx_fuzz_read(s, n * size, NGX_FUZZ_D_RECV,
                  ngx_fuzz_hash(data, size) ^ 0x9e3779b9, NGX_FUZZ_CONN, &d);

    ngx_fuzz_assert(!d.error && !d.refused && d.left == 0
                    && d.replies == n * one->replies
                    && d.len == n * one->len,
                    ngx_fuzz_data, ngx_fuzz_size);

    for (i = 0; i < n; i++) {
        ngx_fuzz_assert(ngx_memcmp(d.trace + i * one->len, one->trace,
                                   one->len)
                        == 0, ngx_fuzz_data, ngx_fuzz_size);
    }

    if (d.fast > 0 && d.fast < d.replies) {
        ngx_fuzz_shapes[NGX_FUZZ_MISC + 19] = 1;
    }

    free(d.trace);
    free(s);
}


/* C: "*N\r\n" and N copies of the input, which is one reply */

static void
ngx_fuzz_wrapped(const uint8_t *data, size_t size, ngx_fuzz_run_t *one)
{
    u_char          *s, *p;
    size_t           n, len, total, bytes, elements;
    uint32_t         hash;
    ngx_uint_t       i;
    ngx_fuzz_run_t   c;

    hash = ngx_fuzz_hash(data, size);

    switch (hash % 4) {

    case 0:
        n = 2;
        break;

    case 1:
        n = NGX_HTTP_ADMIN_RESP_ELTS_MAX / (one->elements + 1);
        break;

    case 2:
        n = NGX_HTTP_ADMIN_RESP_ELTS_MAX / (one->elements + 1) + 1;
        break;

    default:
        if (one->bytes == 0) {
            return;
        }

        n = NGX_HTTP_ADMIN_RESP_BYTES_MAX / one->bytes + 1;
        break;
    }

    if (n == 0 || one->depth + 1 > NGX_FUZZ_C_DEPTH
        || n > NGX_FUZZ_C_MAX / ngx_max(size, 1))
    {
        return;
    }

    len = NGX_INT_T_LEN + 3 + n * size;

    s = malloc(len);
    if (s == NULL) {
        abort();
    }

    p = ngx_sprintf(s, "*%uz\r\n", n);

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, data, size);
    }

    total = p - s;

    ngx_fuzz_read(s, total, NGX_FUZZ_RECV, hash, NGX_FUZZ_HIREDIS, &c);

    bytes = n * one->bytes;
    elements = n + n * one->elements;

    if (bytes > NGX_HTTP_ADMIN_RESP_BYTES_MAX
        || elements > NGX_HTTP_ADMIN_RESP_ELTS_MAX)
    {
        ngx_fuzz_shapes[NGX_FUZZ_MISC + 4] = 1;

        ngx_fuzz_assert(c.replies == 0 && (c.error || c.refused)
                        && c.too_large,
                        ngx_fuzz_data, ngx_fuzz_size);

    } else if (total <= NGX_HTTP_ADMIN_RESP_BYTES_MAX) {
        ngx_fuzz_shapes[NGX_FUZZ_MISC + 5] = 1;

        ngx_fuzz_assert(c.replies == 1 && !c.error && !c.refused
                        && c.left == 0
                        && c.bytes == bytes && c.elements == elements,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    free(c.trace);
    free(s);
}


/* FNV-1a */

static uint32_t
ngx_fuzz_hash(const uint8_t *data, size_t size)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < size; i++) {
        h = (h ^ data[i]) * 16777619u;
    }

    return h;
}
