
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_resp.c: the bounded reader of Redis replies on top of
 * hiredis's redisReader.
 *
 * Input: bytes from Redis.  They are read three ways, each as the Redis
 * connection reads them (feed, then take every complete reply, free it):
 *
 *     A: in chunks of 1 to 256 bytes, sizes drawn from the input's hash;
 *     B: in one piece;
 *     C: when the input is exactly one reply R: "*N\r\n" and N copies of
 *        R, in chunks of 4096 bytes (the connection's recv() buffer),
 *        with N drawn from {2, just under and just over 1024 elements,
 *        just over 64 KiB of strings}: a reply that the input alone is
 *        too short to make.
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


typedef struct {
    u_char                   *trace;       /* the replies, serialized */
    size_t                    len;
    size_t                    size;
    ngx_uint_t                replies;
    ngx_uint_t                error;       /* reply() failed */
    ngx_uint_t                refused;     /* feed() refused */
    ngx_uint_t                too_large;
    size_t                    left;        /* not a whole reply at the end */

    /* of the last reply */
    size_t                    bytes;
    size_t                    elements;
    ngx_uint_t                depth;
} ngx_fuzz_run_t;


static void ngx_fuzz_read(u_char *data, size_t size, size_t max,
    uint32_t seed, ngx_fuzz_run_t *run);
static void ngx_fuzz_walk(redisReply *r, ngx_uint_t depth,
    ngx_fuzz_run_t *run);
static void ngx_fuzz_put(ngx_fuzz_run_t *run, const void *p, size_t len);
static void ngx_fuzz_wrapped(const uint8_t *data, size_t size,
    ngx_fuzz_run_t *one);
static uint32_t ngx_fuzz_hash(const uint8_t *data, size_t size);


static const uint8_t  *ngx_fuzz_data;
static size_t          ngx_fuzz_size;

__attribute__((section("__libfuzzer_extra_counters")))
static uint8_t         ngx_fuzz_shapes[8 * NGX_FUZZ_DEPTH + 64];


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char          *copy;
    uint32_t         hash;
    ngx_fuzz_run_t   a, b;

    ngx_fuzz_data = data;
    ngx_fuzz_size = size;

    copy = malloc(size);
    if (copy == NULL) {
        abort();
    }

    ngx_memcpy(copy, data, size);

    hash = ngx_fuzz_hash(data, size);

    ngx_fuzz_read(copy, size, 256, hash, &a);
    ngx_fuzz_read(copy, size, 0, 0, &b);

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

    if (b.replies == 1 && !b.error && !b.refused && b.left == 0) {
        ngx_fuzz_wrapped(data, size, &b);
    }

    free(a.trace);
    free(b.trace);
    free(copy);

    return 0;
}


/*
 * Feeds "data" in chunks of at most "max" bytes (0: one chunk; else
 * sizes from "seed") and takes the replies after each, as the Redis
 * connection does, until the end or the first error.
 */

static void
ngx_fuzz_read(u_char *data, size_t size, size_t max, uint32_t seed,
    ngx_fuzz_run_t *run)
{
    size_t                  pos, n;
    ngx_int_t               rc;
    redisReply             *reply;
    const char             *why;
    ngx_http_admin_resp_t   rr;

    ngx_memzero(run, sizeof(ngx_fuzz_run_t));

    if (ngx_http_admin_resp_init(&rr) != NGX_OK) {
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

        if (ngx_http_admin_resp_feed(&rr, data + pos, n) != NGX_OK) {

            /* the connection is dropped: the same bytes again fail too */

            ngx_fuzz_assert(ngx_http_admin_resp_feed(&rr, data + pos, n)
                            == NGX_ERROR, ngx_fuzz_data, ngx_fuzz_size);

            run->refused = 1;
            run->too_large = rr.too_large;
            ngx_fuzz_shapes[8 * NGX_FUZZ_DEPTH + 1] = 1;
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

                ngx_fuzz_shapes[8 * NGX_FUZZ_DEPTH + 2 + rr.too_large] = 1;

                /* nothing more is read, nothing more comes */

                reply = NULL;

                ngx_fuzz_assert(ngx_http_admin_resp_reply(&rr, &reply, &why)
                                == NGX_ERROR && reply == NULL,
                                ngx_fuzz_data, ngx_fuzz_size);
                ngx_fuzz_assert(ngx_http_admin_resp_feed(&rr,
                                                         (u_char *) "+OK\r\n",
                                                         5)
                                == NGX_ERROR,
                                ngx_fuzz_data, ngx_fuzz_size);
                ngx_fuzz_assert(ngx_http_admin_resp_reply(&rr, &reply, &why)
                                == NGX_ERROR && reply == NULL,
                                ngx_fuzz_data, ngx_fuzz_size);
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

    ngx_fuzz_read(s, total, NGX_FUZZ_RECV, hash, &c);

    bytes = n * one->bytes;
    elements = n + n * one->elements;

    if (bytes > NGX_HTTP_ADMIN_RESP_BYTES_MAX
        || elements > NGX_HTTP_ADMIN_RESP_ELTS_MAX)
    {
        ngx_fuzz_shapes[8 * NGX_FUZZ_DEPTH + 4] = 1;

        ngx_fuzz_assert(c.replies == 0 && (c.error || c.refused)
                        && c.too_large,
                        ngx_fuzz_data, ngx_fuzz_size);

    } else if (total <= NGX_HTTP_ADMIN_RESP_BYTES_MAX) {
        ngx_fuzz_shapes[8 * NGX_FUZZ_DEPTH + 5] = 1;

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
