
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_path.c: canonical paths, the gated readings, prefix
 * matching, percent-decoding.
 *
 * Input: fields separated by LF: the raw path, the URI (the raw path
 * when absent), then up to four gated prefixes (each made canonical, as
 * admin_gate_prefix does; "/_synapse/admin" when none starts with "/").
 * Each field is copied into a block of its own size, so that a read past
 * it is caught.
 *
 * Checked, for every field, decoded and not:
 *     canonical: starts with "/", no "//", no "." or ".." segment, no
 *     trailing "/" but the root; equal to this file's own resolution of
 *     the same path; canonical again it stays the same; a plain path is
 *     its own canonical form; decode-and-resolve is resolve(unescape());
 *     unescape: equal to this file's own percent-decoding, with and
 *     without "+" as a space;
 *     match: equal to a case-insensitive prefix compare.
 * And gated(raw, uri) is 1 exactly when one of the readings that
 * path.c's comment lists matches: raw, raw resolved, raw decoded, raw
 * decoded and resolved, uri resolved; with the URI being the raw path
 * (another copy) too.  Then each pool allocation in turn fails: the
 * answer is NGX_ERROR or the same as before.
 */


#include "ngx_fuzz.h"

#include <ctype.h>
#include <stdlib.h>

#include "ngx_http_admin_path.h"


#define NGX_FUZZ_FIELDS    6
#define NGX_FUZZ_PREFIXES  4


static void ngx_fuzz_path_check(ngx_pool_t *pool, ngx_str_t *s,
    ngx_array_t *prefixes);
static void ngx_fuzz_path_canonical(ngx_pool_t *pool, ngx_str_t *s,
    ngx_uint_t decode);
static ngx_uint_t ngx_fuzz_path_expected(ngx_str_t *raw, ngx_str_t *uri,
    ngx_array_t *prefixes);
static void ngx_fuzz_path_gated(ngx_str_t *raw, ngx_str_t *uri,
    ngx_array_t *prefixes);
static size_t ngx_fuzz_resolve(u_char *dst, u_char *src, size_t len);
static size_t ngx_fuzz_unescape(u_char *dst, u_char *src, size_t len,
    ngx_uint_t plus);
static ngx_uint_t ngx_fuzz_match(u_char *p, size_t len,
    ngx_array_t *prefixes);
static ngx_uint_t ngx_fuzz_eq(ngx_str_t *a, u_char *b, size_t len);


static const uint8_t  *ngx_fuzz_data;
static size_t          ngx_fuzz_size;

static u_char          ngx_fuzz_default[] = "/_synapse/admin";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t        n, i;
    u_char       *p, *last, *lf;
    ngx_str_t     field[NGX_FUZZ_FIELDS], raw, uri, copy;
    ngx_str_t     prefix[NGX_FUZZ_PREFIXES];
    ngx_pool_t   *pool;
    ngx_array_t   prefixes;

    ngx_fuzz_data = data;
    ngx_fuzz_size = size;

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    p = (u_char *) data;
    last = p + size;

    for (n = 0; n < NGX_FUZZ_FIELDS; n++) {
        lf = ngx_strlchr(p, last, LF);
        if (lf == NULL || n == NGX_FUZZ_FIELDS - 1) {
            lf = last;
        }

        field[n].len = lf - p;
        field[n].data = ngx_pnalloc(pool, field[n].len);
        if (field[n].data == NULL) {
            abort();
        }

        ngx_memcpy(field[n].data, p, field[n].len);

        if (lf == last) {
            n++;
            break;
        }

        p = lf + 1;
    }

    /* the prefixes, canonical as admin_gate_prefix makes them */

    prefixes.elts = prefix;
    prefixes.nelts = 0;
    prefixes.size = sizeof(ngx_str_t);
    prefixes.nalloc = NGX_FUZZ_PREFIXES;

    for (i = 2; i < n; i++) {
        if (field[i].len == 0 || field[i].data[0] != '/') {
            continue;
        }

        if (ngx_http_admin_path_canonical(pool, &field[i], 0,
                                          &prefix[prefixes.nelts])
            != NGX_OK)
        {
            abort();
        }

        prefixes.nelts++;
    }

    if (prefixes.nelts == 0) {
        prefix[0].data = ngx_fuzz_default;
        prefix[0].len = sizeof(ngx_fuzz_default) - 1;
        prefixes.nelts = 1;
    }

    for (i = 0; i < n; i++) {
        ngx_fuzz_path_check(pool, &field[i], &prefixes);
    }

    raw = field[0];
    uri = (n > 1) ? field[1] : field[0];

    /* the URI is the raw path: another block with the same bytes */

    copy.len = raw.len;
    copy.data = ngx_pnalloc(pool, raw.len);
    if (copy.data == NULL) {
        abort();
    }

    ngx_memcpy(copy.data, raw.data, raw.len);

    ngx_fuzz_path_gated(&raw, &uri, &prefixes);
    ngx_fuzz_path_gated(&raw, &copy, &prefixes);

    ngx_destroy_pool(pool);

    return 0;
}


static void
ngx_fuzz_path_check(ngx_pool_t *pool, ngx_str_t *s, ngx_array_t *prefixes)
{
    u_char  *ours, *theirs, *end;

    ngx_fuzz_path_canonical(pool, s, 0);
    ngx_fuzz_path_canonical(pool, s, 1);

    ours = malloc(s->len + 1);
    theirs = malloc(s->len + 1);
    if (ours == NULL || theirs == NULL) {
        abort();
    }

    end = ngx_http_admin_path_unescape(theirs, s->data, s->len, 0);
    ngx_fuzz_assert(ngx_fuzz_unescape(ours, s->data, s->len, 0)
                    == (size_t) (end - theirs)
                    && ngx_memcmp(ours, theirs, end - theirs) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    end = ngx_http_admin_path_unescape(theirs, s->data, s->len, 1);
    ngx_fuzz_assert(ngx_fuzz_unescape(ours, s->data, s->len, 1)
                    == (size_t) (end - theirs)
                    && ngx_memcmp(ours, theirs, end - theirs) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    /* in place, as the token parser's callers may use it */

    ngx_memcpy(theirs, s->data, s->len);
    end = ngx_http_admin_path_unescape(theirs, theirs, s->len, 1);
    ngx_fuzz_assert((size_t) (end - theirs) <= s->len
                    && ngx_memcmp(ours, theirs, end - theirs) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    ngx_fuzz_assert(ngx_http_admin_path_match(s, prefixes)
                    == ngx_fuzz_match(s->data, s->len, prefixes),
                    ngx_fuzz_data, ngx_fuzz_size);

    free(ours);
    free(theirs);
}


static void
ngx_fuzz_path_canonical(ngx_pool_t *pool, ngx_str_t *s, ngx_uint_t decode)
{
    u_char     *p, *last, *ref, *dec;
    size_t      len;
    ngx_str_t   c, again, decoded;

    ngx_fuzz_assert(ngx_http_admin_path_canonical(pool, s, decode, &c)
                    == NGX_OK, ngx_fuzz_data, ngx_fuzz_size);

    /* "/", no "//", no dot segment, no trailing "/" but the root */

    ngx_fuzz_assert(c.len >= 1 && c.data[0] == '/',
                    ngx_fuzz_data, ngx_fuzz_size);
    ngx_fuzz_assert(c.len == 1 || c.data[c.len - 1] != '/',
                    ngx_fuzz_data, ngx_fuzz_size);
    ngx_fuzz_assert(c.len <= s->len + 1, ngx_fuzz_data, ngx_fuzz_size);

    last = c.data + c.len;

    for (p = c.data; p < last; p++) {
        if (*p != '/') {
            continue;
        }

        ngx_fuzz_assert(p + 1 == last || p[1] != '/',
                        ngx_fuzz_data, ngx_fuzz_size);
        ngx_fuzz_assert(!(p + 2 == last && p[1] == '.')
                        && !(p + 2 < last && p[1] == '.' && p[2] == '/'),
                        ngx_fuzz_data, ngx_fuzz_size);
        ngx_fuzz_assert(!(p + 3 == last && p[1] == '.' && p[2] == '.')
                        && !(p + 3 < last && p[1] == '.' && p[2] == '.'
                             && p[3] == '/'),
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    /* this file's own reading of the same path */

    ref = malloc(s->len + 2);
    dec = malloc(s->len + 1);
    if (ref == NULL || dec == NULL) {
        abort();
    }

    if (decode) {
        len = ngx_fuzz_unescape(dec, s->data, s->len, 0);

    } else {
        ngx_memcpy(dec, s->data, s->len);
        len = s->len;
    }

    len = ngx_fuzz_resolve(ref, dec, len);

    ngx_fuzz_assert(ngx_fuzz_eq(&c, ref, len), ngx_fuzz_data, ngx_fuzz_size);

    /* decoded and resolved: resolve(unescape()) */

    if (decode) {
        decoded.len = ngx_fuzz_unescape(dec, s->data, s->len, 0);
        decoded.data = dec;

        ngx_fuzz_assert(ngx_http_admin_path_canonical(pool, &decoded, 0,
                                                      &again)
                        == NGX_OK && ngx_fuzz_eq(&again, c.data, c.len),
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    free(ref);
    free(dec);

    /* canonical twice is canonical once */

    ngx_fuzz_assert(ngx_http_admin_path_canonical(pool, &c, 0, &again)
                    == NGX_OK && ngx_fuzz_eq(&again, c.data, c.len),
                    ngx_fuzz_data, ngx_fuzz_size);

    /* a plain path is every reading of itself */

    if (ngx_http_admin_path_plain(s)) {
        ngx_fuzz_assert(ngx_fuzz_eq(&c, s->data, s->len),
                        ngx_fuzz_data, ngx_fuzz_size);
    }
}


/* 1 when a reading that path.c's comment lists is under a prefix */

static ngx_uint_t
ngx_fuzz_path_expected(ngx_str_t *raw, ngx_str_t *uri, ngx_array_t *prefixes)
{
    u_char      *buf, *dec;
    size_t       len, dlen;
    ngx_uint_t   gated;

    buf = malloc(ngx_max(raw->len, uri->len) + 2);
    dec = malloc(raw->len + 1);
    if (buf == NULL || dec == NULL) {
        abort();
    }

    gated = ngx_fuzz_match(raw->data, raw->len, prefixes);

    len = ngx_fuzz_resolve(buf, raw->data, raw->len);
    gated |= ngx_fuzz_match(buf, len, prefixes);

    dlen = ngx_fuzz_unescape(dec, raw->data, raw->len, 0);
    gated |= ngx_fuzz_match(dec, dlen, prefixes);

    len = ngx_fuzz_resolve(buf, dec, dlen);
    gated |= ngx_fuzz_match(buf, len, prefixes);

    len = ngx_fuzz_resolve(buf, uri->data, uri->len);
    gated |= ngx_fuzz_match(buf, len, prefixes);

    free(buf);
    free(dec);

    return gated;
}


static void
ngx_fuzz_path_gated(ngx_str_t *raw, ngx_str_t *uri, ngx_array_t *prefixes)
{
    ngx_int_t    rc, expected;
    ngx_uint_t   i, allocs;
    ngx_pool_t  *pool;

    expected = ngx_fuzz_path_expected(raw, uri, prefixes);

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_path_gated(pool, raw, uri, prefixes);

    allocs = ngx_fuzz_allocs;
    ngx_destroy_pool(pool);

    ngx_fuzz_assert(rc == expected, ngx_fuzz_data, ngx_fuzz_size);

    /* out of memory at each allocation in turn */

    for (i = 1; i <= allocs; i++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = i;

        rc = ngx_http_admin_path_gated(pool, raw, uri, prefixes);

        ngx_fuzz_fail_at = 0;
        ngx_destroy_pool(pool);

        ngx_fuzz_assert(rc == NGX_ERROR || rc == expected,
                        ngx_fuzz_data, ngx_fuzz_size);
    }
}


/*
 * Dot segments resolved and empty ones dropped, written for this harness
 * with a stack of segment starts; "dst" has room for len + 1 bytes.
 */

static size_t
ngx_fuzz_resolve(u_char *dst, u_char *src, size_t len)
{
    size_t   i, j, depth, out, *start;

    start = malloc((len / 2 + 1) * sizeof(size_t));
    if (start == NULL) {
        abort();
    }

    depth = 0;
    out = 0;
    i = 0;

    while (i < len) {
        if (src[i] == '/') {
            i++;
            continue;
        }

        for (j = i; j < len && src[j] != '/'; j++) {
            /* void */
        }

        if (j - i == 1 && src[i] == '.') {
            /* void */

        } else if (j - i == 2 && src[i] == '.' && src[i + 1] == '.') {
            if (depth) {
                out = start[--depth];
            }

        } else {
            start[depth++] = out;
            dst[out++] = '/';
            ngx_memcpy(dst + out, src + i, j - i);
            out += j - i;
        }

        i = j;
    }

    if (out == 0) {
        dst[out++] = '/';
    }

    free(start);

    return out;
}


/* Python's unquote(): "%" and two hex digits is a byte; "+" a space */

static size_t
ngx_fuzz_unescape(u_char *dst, u_char *src, size_t len, ngx_uint_t plus)
{
    size_t  i, out;
    int     hi, lo;

    out = 0;

    for (i = 0; i < len; i++) {
        if (src[i] == '%' && i + 2 < len
            && isxdigit(src[i + 1]) && isxdigit(src[i + 2]))
        {
            hi = isdigit(src[i + 1]) ? src[i + 1] - '0'
                                     : tolower(src[i + 1]) - 'a' + 10;
            lo = isdigit(src[i + 2]) ? src[i + 2] - '0'
                                     : tolower(src[i + 2]) - 'a' + 10;
            dst[out++] = (u_char) (hi * 16 + lo);
            i += 2;
            continue;
        }

        dst[out++] = (plus && src[i] == '+') ? ' ' : src[i];
    }

    return out;
}


static ngx_uint_t
ngx_fuzz_match(u_char *p, size_t len, ngx_array_t *prefixes)
{
    size_t       k;
    ngx_str_t   *prefix;
    ngx_uint_t   i;

    prefix = prefixes->elts;

    for (i = 0; i < prefixes->nelts; i++) {
        if (len < prefix[i].len) {
            continue;
        }

        for (k = 0; k < prefix[i].len; k++) {
            if (tolower(p[k]) != tolower(prefix[i].data[k])) {
                break;
            }
        }

        if (k == prefix[i].len) {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_fuzz_eq(ngx_str_t *a, u_char *b, size_t len)
{
    return a->len == len && ngx_memcmp(a->data, b, len) == 0;
}
