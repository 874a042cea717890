
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_path.h"


static ngx_int_t ngx_http_admin_path_read(ngx_pool_t *pool, ngx_str_t *path,
    ngx_uint_t decode, ngx_array_t *prefixes);
static ngx_uint_t ngx_http_admin_path_is_plain(ngx_str_t *src,
    ngx_uint_t decode);


/*
 * The canonical form of a path: percent-decoded when "decode" is set,
 * "." and ".." segments resolved (".." stops at the root), empty segments
 * dropped, so it starts with a single "/" and has no trailing "/" (but the
 * root).  It is what Synapse's routes would see if every layer in front of
 * it decoded and normalized the path, and it errs towards matching: a path
 * that any layer could take for an admin path has it as its prefix.
 */

ngx_int_t
ngx_http_admin_path_canonical(ngx_pool_t *pool, ngx_str_t *src,
    ngx_uint_t decode, ngx_str_t *dst)
{
    u_char  *buf, *p, *last, *o, *s;

    if (ngx_http_admin_path_is_plain(src, decode)) {
        *dst = *src;
        return NGX_OK;
    }

    buf = ngx_pnalloc(pool, src->len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    /* a leading "/" that the loop below merges with the source's own */

    buf[0] = '/';

    if (decode) {
        last = ngx_http_admin_path_unescape(buf + 1, src->data, src->len, 0);

    } else {
        last = ngx_cpymem(buf + 1, src->data, src->len);
    }

    /* in place: the output never overtakes the input */

    o = buf;
    p = buf;

    for ( ;; ) {

        while (p < last && *p == '/') {
            p++;
        }

        if (p == last) {
            break;
        }

        s = p;

        while (p < last && *p != '/') {
            p++;
        }

        if (p - s == 1 && s[0] == '.') {
            continue;
        }

        if (p - s == 2 && s[0] == '.' && s[1] == '.') {

            while (o > buf) {
                if (*--o == '/') {
                    break;
                }
            }

            continue;
        }

        *o++ = '/';
        o = ngx_movemem(o, s, p - s);
    }

    if (o == buf) {
        *o++ = '/';
    }

    dst->data = buf;
    dst->len = o - buf;

    return NGX_OK;
}


/*
 * Whether any reading of a request's path that nginx or an upstream may
 * act on falls under a gated prefix:
 *
 *     the raw path as sent, which proxy_pass without a URI part forwards
 *     and Synapse routes on ("/_synapse/admin/v1/users/x%2F..%2F.." is an
 *     admin path there, whatever it resolves to);
 *     the raw path with dot segments resolved, not decoded;
 *     the raw path percent-decoded, dot segments kept;
 *     the raw path decoded and resolved: nginx's own normalized URI;
 *     the URI nginx has now, after rewrites, resolved.
 *
 * Returns 1 (gated), 0 or NGX_ERROR.
 */

ngx_int_t
ngx_http_admin_path_gated(ngx_pool_t *pool, ngx_str_t *raw, ngx_str_t *uri,
    ngx_array_t *prefixes)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   decoded;

    if (ngx_http_admin_path_match(raw, prefixes)) {
        return 1;
    }

    if (!ngx_http_admin_path_is_plain(raw, 1)) {

        rc = ngx_http_admin_path_read(pool, raw, 0, prefixes);
        if (rc != 0) {
            return rc;
        }

        if (ngx_strlchr(raw->data, raw->data + raw->len, '%') != NULL) {

            p = ngx_pnalloc(pool, raw->len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            decoded.data = p;
            decoded.len = ngx_http_admin_path_unescape(p, raw->data,
                                                       raw->len, 0)
                          - p;

            if (ngx_http_admin_path_match(&decoded, prefixes)) {
                return 1;
            }

            rc = ngx_http_admin_path_read(pool, &decoded, 0, prefixes);
            if (rc != 0) {
                return rc;
            }
        }
    }

    /* the URI of a plain request is the raw path itself */

    if (uri->len == raw->len
        && ngx_memcmp(uri->data, raw->data, raw->len) == 0)
    {
        return 0;
    }

    return ngx_http_admin_path_read(pool, uri, 0, prefixes);
}


/* the canonical form of "path" under a prefix: 1, 0 or NGX_ERROR */

static ngx_int_t
ngx_http_admin_path_read(ngx_pool_t *pool, ngx_str_t *path,
    ngx_uint_t decode, ngx_array_t *prefixes)
{
    ngx_str_t  canonical;

    if (ngx_http_admin_path_canonical(pool, path, decode, &canonical)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_admin_path_match(&canonical, prefixes);
}


/* a raw path that every reader reads the same way */

ngx_uint_t
ngx_http_admin_path_plain(ngx_str_t *raw)
{
    return ngx_http_admin_path_is_plain(raw, 1);
}


ngx_uint_t
ngx_http_admin_path_match(ngx_str_t *path, ngx_array_t *prefixes)
{
    u_char      *a, *b;
    size_t       k;
    ngx_str_t   *prefix;
    ngx_uint_t   i;

    prefix = prefixes->elts;

    for (i = 0; i < prefixes->nelts; i++) {

        if (path->len < prefix[i].len) {
            continue;
        }

        a = path->data;
        b = prefix[i].data;

        /* as configured, most often; then without regard to case */

        if (ngx_memcmp(a, b, prefix[i].len) == 0) {
            return 1;
        }

        for (k = 0; k < prefix[i].len; k++) {
            if (ngx_tolower(a[k]) != ngx_tolower(b[k])) {
                break;
            }
        }

        if (k == prefix[i].len) {
            return 1;
        }
    }

    return 0;
}


/*
 * A path is already canonical when nothing would be decoded and every "/"
 * starts a segment that is neither empty nor a dot segment.  Names that
 * merely begin with a dot (".well-known") take the slow path; that is only
 * slower, never wrong.
 */

static ngx_uint_t
ngx_http_admin_path_is_plain(ngx_str_t *src, ngx_uint_t decode)
{
    u_char  *p, *last;

    if (src->len == 0 || src->data[0] != '/') {
        return 0;
    }

    if (src->len == 1) {
        return 1;
    }

    last = src->data + src->len;

    for (p = src->data; p < last; p++) {

        if (*p == '%' && decode) {
            return 0;
        }

        if (*p == '/' && (p + 1 == last || p[1] == '/' || p[1] == '.')) {
            return 0;
        }
    }

    return 1;
}


/*
 * Percent-decoding as Python's unquote() does it: "%" followed by two hex
 * digits is the byte they spell, any other "%" is itself.  With "plus"
 * (query strings), "+" is a space.  "dst" may be "src".
 */

u_char *
ngx_http_admin_path_unescape(u_char *dst, u_char *src, size_t len,
    ngx_uint_t plus)
{
    u_char     *last;
    ngx_int_t   hi, lo;

    last = src + len;

    while (src < last) {

        if (*src == '%' && last - src >= 3) {
            hi = ngx_hextoi(&src[1], 1);
            lo = ngx_hextoi(&src[2], 1);

            if (hi != NGX_ERROR && lo != NGX_ERROR) {
                *dst++ = (u_char) (hi << 4 | lo);
                src += 3;
                continue;
            }
        }

        *dst++ = (*src == '+' && plus) ? ' ' : *src;
        src++;
    }

    return dst;
}
