
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_value.c: the cache value format, "AG1 <v> <expire>
 * <ulen> <blen> <tag>\n<user><body>", unsigned ("-") and signed under a
 * secret (with ngx_http_admin_digest.c's HMAC, keyed the way
 * admin_gate_secret_file keys it, with a 32-byte and a 98-byte secret).
 *
 * Input: a value, copied into a block of its own size.  Each way (no
 * secret, either secret), decode is checked against this file's own
 * reading of the format, written from value.c's comment, with OpenSSL's
 * one-shot HMAC for the tag: the same answer, and for a value that reads,
 * the same fields; the user and the body lie inside the input, no longer
 * than 255 and 16384 bytes; encode(decode(x)) is x, byte for byte; a
 * value that is valid at one time is valid or expired at another.
 *
 * The input is also taken as the parts of a value (a verdict, an expiry,
 * the user up to the first LF, the body) and encoded: encode refuses a
 * body over 16384 bytes and nothing else, and its output decodes to the
 * same parts when they are valid ones, is INVALID when not, and is
 * FORGED under the other secret or for another Redis key.
 *
 * Then each pool allocation of encode fails in turn: NGX_ERROR.
 */


#include "ngx_fuzz.h"

#include <stdlib.h>

#include <openssl/hmac.h>

#include "ngx_http_admin_digest.h"
#include "ngx_http_admin_value.h"


#define NGX_FUZZ_NOW  1700000000000ULL


typedef struct {
    ngx_http_admin_hmac_t    *hmac;
    const char               *secret;      /* NULL: unsigned values */
} ngx_fuzz_way_t;


static void ngx_fuzz_decode(ngx_str_t *in, ngx_fuzz_way_t *way);
static ngx_http_admin_value_e ngx_fuzz_expected(ngx_str_t *in,
    ngx_str_t *key, const char *secret, uint64_t now,
    ngx_http_admin_value_t *v);
static u_char *ngx_fuzz_number(u_char *p, u_char *last, uint64_t *n);
static ngx_uint_t ngx_fuzz_user_ok(ngx_str_t *user);
static void ngx_fuzz_encode(ngx_fuzz_way_t *way, ngx_fuzz_way_t *other);
static ngx_uint_t ngx_fuzz_same(ngx_http_admin_value_t *a,
    ngx_http_admin_value_t *b);


static const uint8_t  *ngx_fuzz_data;
static size_t          ngx_fuzz_size;

static ngx_fuzz_way_t  ngx_fuzz_ways[3];

static ngx_str_t       ngx_fuzz_key = ngx_string(
    "admin_gate:fuzz:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

static ngx_str_t       ngx_fuzz_other_key = ngx_string(
    "admin_gate:fuzz:"
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_ways[1].secret = NGX_FUZZ_SECRET_SHORT;
    ngx_fuzz_ways[1].hmac = ngx_fuzz_secret(NGX_FUZZ_SECRET_SHORT);
    ngx_fuzz_ways[2].secret = NGX_FUZZ_SECRET_LONG;
    ngx_fuzz_ways[2].hmac = ngx_fuzz_secret(NGX_FUZZ_SECRET_LONG);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t   in;
    ngx_uint_t  i;

    ngx_fuzz_data = data;
    ngx_fuzz_size = size;

    in.len = size;
    in.data = malloc(size);
    if (in.data == NULL) {
        abort();
    }

    ngx_memcpy(in.data, data, size);

    for (i = 0; i < 3; i++) {
        ngx_fuzz_decode(&in, &ngx_fuzz_ways[i]);
    }

    ngx_fuzz_encode(&ngx_fuzz_ways[0], NULL);
    ngx_fuzz_encode(&ngx_fuzz_ways[1], &ngx_fuzz_ways[2]);
    ngx_fuzz_encode(&ngx_fuzz_ways[2], &ngx_fuzz_ways[1]);

    free(in.data);

    return 0;
}


static void
ngx_fuzz_decode(ngx_str_t *in, ngx_fuzz_way_t *way)
{
    u_char                  *last;
    ngx_str_t                out;
    ngx_pool_t              *pool;
    ngx_http_admin_value_t   v, ref, then;
    ngx_http_admin_value_e   rc, expected;

    ngx_memzero(&v, sizeof(ngx_http_admin_value_t));
    ngx_memzero(&ref, sizeof(ngx_http_admin_value_t));

    expected = ngx_fuzz_expected(in, &ngx_fuzz_key, way->secret,
                                 NGX_FUZZ_NOW, &ref);

    rc = ngx_http_admin_value_decode(in, &ngx_fuzz_key, way->hmac,
                                     NGX_FUZZ_NOW, &v);

    ngx_fuzz_assert(rc == expected, ngx_fuzz_data, ngx_fuzz_size);

    if (rc == NGX_HTTP_ADMIN_VALUE_INVALID) {
        return;
    }

    /* the user and the body are inside the input, within their bounds */

    last = in->data + in->len;

    ngx_fuzz_assert(v.user.len <= NGX_HTTP_ADMIN_USER_MAX
                    && v.body.len <= NGX_HTTP_ADMIN_VALUE_BODY_MAX
                    && v.user.data >= in->data
                    && v.user.len <= (size_t) (last - v.user.data)
                    && v.body.data >= in->data
                    && v.body.len <= (size_t) (last - v.body.data),
                    ngx_fuzz_data, ngx_fuzz_size);

    if (rc == NGX_HTTP_ADMIN_VALUE_FORGED) {
        return;
    }

    ngx_fuzz_assert(ngx_fuzz_same(&v, &ref), ngx_fuzz_data, ngx_fuzz_size);

    /* a value that reads now reads at any other time, maybe expired */

    ngx_memzero(&then, sizeof(ngx_http_admin_value_t));

    rc = ngx_http_admin_value_decode(in, &ngx_fuzz_key, way->hmac, 0, &then);

    ngx_fuzz_assert(rc == (v.expire ? NGX_HTTP_ADMIN_VALUE_OK
                                    : NGX_HTTP_ADMIN_VALUE_EXPIRED)
                    && ngx_fuzz_same(&v, &then),
                    ngx_fuzz_data, ngx_fuzz_size);

    /* encode(decode(x)) is x */

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_assert(ngx_http_admin_value_encode(pool, &v, &ngx_fuzz_key,
                                                way->hmac, &out)
                    == NGX_OK
                    && out.len == in->len
                    && ngx_memcmp(out.data, in->data, in->len) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    ngx_destroy_pool(pool);
}


/*
 * value.c's format as its comment states it, read here byte by byte; the
 * tag is the hex HMAC-SHA256 under the secret of the Redis key, LF, the
 * line before " <tag>", the user and the body.
 */

static ngx_http_admin_value_e
ngx_fuzz_expected(ngx_str_t *in, ngx_str_t *key, const char *secret,
    uint64_t now, ngx_http_admin_value_t *v)
{
    u_char        *p, *last, *msg, *m;
    size_t         head, taglen;
    uint64_t       ulen, blen;
    unsigned int   mdlen;
    u_char         md[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE];

    p = in->data;
    last = p + in->len;

    if (last - p < 6 || ngx_memcmp(p, "AG1 ", 4) != 0 || p[5] != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    switch (p[4]) {
    case 'a':
        v->verdict = NGX_HTTP_ADMIN_ALLOW;
        break;
    case 'f':
        v->verdict = NGX_HTTP_ADMIN_FORBIDDEN;
        break;
    case 'u':
        v->verdict = NGX_HTTP_ADMIN_UNKNOWN_TOKEN;
        break;
    default:
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p = ngx_fuzz_number(p + 6, last, &v->expire);
    if (p == NULL || p == last || *p++ != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p = ngx_fuzz_number(p, last, &ulen);
    if (p == NULL || p == last || *p++ != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p = ngx_fuzz_number(p, last, &blen);
    if (p == NULL || p == last || *p++ != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    head = p - 1 - in->data;
    taglen = secret ? 64 : 1;

    if ((size_t) (last - p) < taglen + 1 || p[taglen] != LF
        || (secret == NULL && *p != '-'))
    {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    if (ulen > 255 || blen > 16384
        || (uint64_t) (last - p - taglen - 1) != ulen + blen)
    {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    v->user.data = p + taglen + 1;
    v->user.len = ulen;
    v->body.data = v->user.data + ulen;
    v->body.len = blen;

    if (secret) {
        msg = malloc(key->len + 1 + in->len);
        if (msg == NULL) {
            abort();
        }

        m = ngx_cpymem(msg, key->data, key->len);
        *m++ = LF;
        m = ngx_cpymem(m, in->data, head);
        m = ngx_cpymem(m, v->user.data, ulen + blen);

        HMAC(EVP_sha256(), secret, strlen(secret), msg, m - msg, md, &mdlen);
        ngx_hex_dump(hex, md, mdlen);

        free(msg);

        if (mdlen != 32 || ngx_memcmp(hex, p, 64) != 0) {
            return NGX_HTTP_ADMIN_VALUE_FORGED;
        }
    }

    switch (v->verdict) {

    case NGX_HTTP_ADMIN_ALLOW:
        if (blen != 0 || !ngx_fuzz_user_ok(&v->user)) {
            return NGX_HTTP_ADMIN_VALUE_INVALID;
        }
        break;

    case NGX_HTTP_ADMIN_FORBIDDEN:
        if (ulen ? !ngx_fuzz_user_ok(&v->user) : blen == 0) {
            return NGX_HTTP_ADMIN_VALUE_INVALID;
        }
        break;

    default:
        if (blen == 0 || (ulen && !ngx_fuzz_user_ok(&v->user))) {
            return NGX_HTTP_ADMIN_VALUE_INVALID;
        }
        break;
    }

    return (v->expire <= now) ? NGX_HTTP_ADMIN_VALUE_EXPIRED
                              : NGX_HTTP_ADMIN_VALUE_OK;
}


/* decimal digits, no leading zero, within 64 bits */

static u_char *
ngx_fuzz_number(u_char *p, u_char *last, uint64_t *n)
{
    u_char  *start;

    start = p;
    *n = 0;

    while (p < last && *p >= '0' && *p <= '9') {
        if (__builtin_mul_overflow(*n, 10, n)
            || __builtin_add_overflow(*n, *p - '0', n))
        {
            return NULL;
        }

        p++;
    }

    if (p == start || (p - start > 1 && *start == '0')) {
        return NULL;
    }

    return p;
}


static ngx_uint_t
ngx_fuzz_user_ok(ngx_str_t *user)
{
    size_t  i;

    if (user->len < 2 || user->len > 255 || user->data[0] != '@') {
        return 0;
    }

    for (i = 0; i < user->len; i++) {
        if (user->data[i] <= ' ' || user->data[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* the input as the parts of a value, encoded and read back */

static void
ngx_fuzz_encode(ngx_fuzz_way_t *way, ngx_fuzz_way_t *other)
{
    u_char                  *lf;
    size_t                   rest;
    ngx_int_t                rc;
    ngx_str_t                out;
    ngx_uint_t               i, allocs;
    ngx_pool_t              *pool;
    ngx_http_admin_value_t   v, back;
    ngx_http_admin_value_e   expected;

    static ngx_http_admin_verdict_e  verdicts[] = {
        NGX_HTTP_ADMIN_ALLOW,
        NGX_HTTP_ADMIN_FORBIDDEN,
        NGX_HTTP_ADMIN_UNKNOWN_TOKEN
    };

    if (ngx_fuzz_size < 9) {
        return;
    }

    v.verdict = verdicts[ngx_fuzz_data[0] % 3];
    ngx_memcpy(&v.expire, ngx_fuzz_data + 1, sizeof(uint64_t));

    v.user.data = (u_char *) ngx_fuzz_data + 9;
    rest = ngx_fuzz_size - 9;

    lf = memchr(v.user.data, LF, rest);
    v.user.len = lf ? (size_t) (lf - v.user.data) : rest;

    v.body.data = lf ? lf + 1 : v.user.data + rest;
    v.body.len = rest - v.user.len - (lf ? 1 : 0);

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_value_encode(pool, &v, &ngx_fuzz_key, way->hmac,
                                     &out);

    allocs = ngx_fuzz_allocs;

    if (v.body.len > NGX_HTTP_ADMIN_VALUE_BODY_MAX) {
        ngx_fuzz_assert(rc == NGX_DECLINED, ngx_fuzz_data, ngx_fuzz_size);
        ngx_destroy_pool(pool);
        return;
    }

    ngx_fuzz_assert(rc == NGX_OK, ngx_fuzz_data, ngx_fuzz_size);

    /* valid parts read back as they were; invalid ones do not read */

    if (v.user.len > 255
        || (v.verdict == NGX_HTTP_ADMIN_ALLOW
            && (v.body.len || !ngx_fuzz_user_ok(&v.user)))
        || (v.verdict == NGX_HTTP_ADMIN_FORBIDDEN
            && (v.user.len ? !ngx_fuzz_user_ok(&v.user) : v.body.len == 0))
        || (v.verdict == NGX_HTTP_ADMIN_UNKNOWN_TOKEN
            && (v.body.len == 0
                || (v.user.len && !ngx_fuzz_user_ok(&v.user)))))
    {
        expected = NGX_HTTP_ADMIN_VALUE_INVALID;

    } else {
        expected = (v.expire <= NGX_FUZZ_NOW) ? NGX_HTTP_ADMIN_VALUE_EXPIRED
                                              : NGX_HTTP_ADMIN_VALUE_OK;
    }

    ngx_memzero(&back, sizeof(ngx_http_admin_value_t));

    ngx_fuzz_assert(ngx_http_admin_value_decode(&out, &ngx_fuzz_key,
                                                way->hmac, NGX_FUZZ_NOW,
                                                &back)
                    == expected, ngx_fuzz_data, ngx_fuzz_size);

    if (expected != NGX_HTTP_ADMIN_VALUE_INVALID) {
        ngx_fuzz_assert(back.verdict == v.verdict
                        && back.expire == v.expire
                        && back.user.len == v.user.len
                        && ngx_memcmp(back.user.data, v.user.data,
                                      v.user.len) == 0
                        && back.body.len == v.body.len
                        && ngx_memcmp(back.body.data, v.body.data,
                                      v.body.len) == 0,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    /* a value signed under another secret, or for another key */

    if (way->hmac && v.user.len <= 255) {
        ngx_fuzz_assert(ngx_http_admin_value_decode(&out, &ngx_fuzz_key,
                                                    other->hmac,
                                                    NGX_FUZZ_NOW, &back)
                        == NGX_HTTP_ADMIN_VALUE_FORGED
                        && ngx_http_admin_value_decode(&out,
                                                       &ngx_fuzz_other_key,
                                                       way->hmac,
                                                       NGX_FUZZ_NOW, &back)
                           == NGX_HTTP_ADMIN_VALUE_FORGED
                        && ngx_http_admin_value_decode(&out, &ngx_fuzz_key,
                                                       NULL, NGX_FUZZ_NOW,
                                                       &back)
                           == NGX_HTTP_ADMIN_VALUE_INVALID,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    ngx_destroy_pool(pool);

    for (i = 1; i <= allocs; i++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = i;

        rc = ngx_http_admin_value_encode(pool, &v, &ngx_fuzz_key, way->hmac,
                                         &out);

        ngx_fuzz_fail_at = 0;
        ngx_destroy_pool(pool);

        ngx_fuzz_assert(rc == NGX_ERROR, ngx_fuzz_data, ngx_fuzz_size);
    }
}


static ngx_uint_t
ngx_fuzz_same(ngx_http_admin_value_t *a, ngx_http_admin_value_t *b)
{
    return a->verdict == b->verdict && a->expire == b->expire
           && a->user.data == b->user.data && a->user.len == b->user.len
           && a->body.data == b->body.data && a->body.len == b->body.len;
}
