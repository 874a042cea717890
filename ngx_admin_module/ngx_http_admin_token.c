
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_digest.h"
#include "ngx_http_admin_path.h"
#include "ngx_http_admin_token.h"


/* the longest parameter name we look for, fully percent-encoded */
#define NGX_HTTP_ADMIN_ARG_NAME_MAX  (3 * (sizeof("access_token") - 1))


typedef struct {
    u_char                   *start;
    u_char                   *eq;            /* first "=", or NULL */
    u_char                   *end;
} ngx_http_admin_arg_t;


static u_char *ngx_http_admin_token_arg(u_char *p, u_char *last,
    ngx_http_admin_arg_t *arg);
static ngx_uint_t ngx_http_admin_token_arg_is(ngx_http_admin_arg_t *arg,
    ngx_str_t *name);
static ngx_uint_t ngx_http_admin_token_hidden(ngx_http_admin_arg_t *arg);
static u_char *ngx_http_admin_token_mask(u_char *o, u_char *start,
    u_char *end);
static ngx_uint_t ngx_http_admin_token_alnum(u_char c);
static ngx_http_admin_token_e ngx_http_admin_token_bearer(ngx_str_t *value,
    ngx_str_t *token);
static ngx_int_t ngx_http_admin_token_unescape(ngx_pool_t *pool,
    u_char *start, u_char *end, ngx_str_t *out);


static ngx_str_t  ngx_http_admin_access_token = ngx_string("access_token");

/* the lowercase hex of every byte, "00" to "ff" */
static const u_char  ngx_http_admin_hex_pairs[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static ngx_str_t  ngx_http_admin_user_id = ngx_string("user_id");


/*
 * Finds the access token the way Synapse does (synapse/api/auth.py),
 * with the query string parsed as Twisted parses it: "&" and ";" separate
 * parameters, names and values are percent-decoded, "+" is a space, an
 * entry without "=" does not exist, and the first value wins.  Unlike
 * Synapse, the scheme's letter case and the amount of blank space around
 * the token do not matter.  A token that is empty or has a byte outside
 * visible ASCII can never be valid: it is refused here.
 */

ngx_http_admin_token_e
ngx_http_admin_token_extract(ngx_pool_t *pool, ngx_str_t *headers,
    ngx_uint_t nheaders, ngx_str_t *args, ngx_http_admin_token_t *out)
{
    u_char                  *p, *last;
    ngx_http_admin_arg_t     arg, *query;
    ngx_http_admin_arg_t     qarg;

    ngx_memzero(out, sizeof(ngx_http_admin_token_t));

    query = NULL;

    /*
     * no arguments: their data may be NULL, or anything (try_files
     * without "?" leaves it unset)
     */

    last = args->len ? args->data + args->len : NULL;

    for (p = args->data; args->len; p++) {

        p = ngx_http_admin_token_arg(p, last, &arg);

        if (ngx_http_admin_token_arg_is(&arg, &ngx_http_admin_access_token)) {
            out->in_query++;

            if (arg.eq != NULL && query == NULL) {
                qarg = arg;
                query = &qarg;
            }

        } else if (arg.eq != NULL
                   && out->as_user.data == NULL
                   && ngx_http_admin_token_arg_is(&arg,
                                                  &ngx_http_admin_user_id))
        {
            if (ngx_http_admin_token_unescape(pool, arg.eq + 1, arg.end,
                                              &out->as_user)
                != NGX_OK)
            {
                return NGX_HTTP_ADMIN_TOKEN_NOMEM;
            }
        }

        if (p >= last) {
            break;
        }
    }

    if (nheaders) {

        if (query != NULL) {
            return NGX_HTTP_ADMIN_TOKEN_MIXING;
        }

        if (nheaders > 1) {
            return NGX_HTTP_ADMIN_TOKEN_TOO_MANY;
        }

        /* checked as the "Bearer" header is read */

        return ngx_http_admin_token_bearer(&headers[0], &out->token);
    }

    if (query == NULL) {
        return NGX_HTTP_ADMIN_TOKEN_MISSING;
    }

    if (ngx_http_admin_token_unescape(pool, query->eq + 1, query->end,
                                      &out->token)
        != NGX_OK)
    {
        return NGX_HTTP_ADMIN_TOKEN_NOMEM;
    }

    if (out->token.len == 0) {
        return NGX_HTTP_ADMIN_TOKEN_BAD;
    }

    last = out->token.data + out->token.len;

    for (p = out->token.data; p < last; p++) {
        if (*p < 0x21 || *p > 0x7e) {
            return NGX_HTTP_ADMIN_TOKEN_BAD;
        }
    }

    return NGX_HTTP_ADMIN_TOKEN_OK;
}


/*
 * The query string without its access_token entries.  Every other entry
 * keeps its bytes and the separator that came before it.
 */

ngx_int_t
ngx_http_admin_token_strip(ngx_pool_t *pool, ngx_str_t *args, ngx_str_t *out)
{
    u_char                *p, *o, *last, *sep;
    ngx_uint_t             kept;
    ngx_http_admin_arg_t   arg;

    o = ngx_pnalloc(pool, args->len + 1);
    if (o == NULL) {
        return NGX_ERROR;
    }

    out->data = o;

    kept = 0;
    sep = NULL;
    last = args->data + args->len;

    for (p = args->data; /* void */ ; p++) {

        p = ngx_http_admin_token_arg(p, last, &arg);

        if (!ngx_http_admin_token_arg_is(&arg, &ngx_http_admin_access_token)) {

            /* "sep" is the separator before this entry, never the first */

            if (kept++) {
                *o++ = *sep;
            }

            o = ngx_cpymem(o, arg.start, arg.end - arg.start);
        }

        if (p >= last) {
            break;
        }

        sep = p;
    }

    out->len = o - out->data;

    return NGX_OK;
}


/*
 * A request line with the value of every access_token entry of its query
 * string replaced by "***": "GET /x?access_token=***&a=1 HTTP/1.1".
 * The line is returned as is when there is nothing to hide, also when it
 * was redacted before.
 */

ngx_int_t
ngx_http_admin_token_redact(ngx_pool_t *pool, ngx_str_t *line, ngx_str_t *out)
{
    u_char                *p, *o, *q, *end, *last;
    ngx_uint_t             n;
    ngx_http_admin_arg_t   arg;

    *out = *line;

    if (line->len == 0) {
        return NGX_OK;
    }

    last = line->data + line->len;

    q = memchr(line->data, '?', line->len);
    if (q == NULL) {
        return NGX_OK;
    }

    /* the query ends where " HTTP/x.y" begins; a raw space may precede */

    end = last;

    for (p = last; p > q; p--) {
        if (p[-1] == ' ') {
            if (last - p > 5 && ngx_strncmp(p, "HTTP/", 5) == 0) {
                end = p - 1;
            }

            break;
        }
    }

    n = 0;

    for (p = q + 1; /* void */ ; p++) {
        p = ngx_http_admin_token_arg(p, end, &arg);

        if (arg.eq != NULL
            && ngx_http_admin_token_arg_is(&arg, &ngx_http_admin_access_token)
            && !ngx_http_admin_token_hidden(&arg))
        {
            n++;
        }

        if (p >= end) {
            break;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    o = ngx_pnalloc(pool, line->len + n * (sizeof("***") - 1));
    if (o == NULL) {
        return NGX_ERROR;
    }

    out->data = o;
    o = ngx_cpymem(o, line->data, q + 1 - line->data);

    for (p = q + 1; /* void */ ; p++) {
        p = ngx_http_admin_token_arg(p, end, &arg);

        if (arg.eq != NULL
            && ngx_http_admin_token_arg_is(&arg, &ngx_http_admin_access_token))
        {
            o = ngx_cpymem(o, arg.start, arg.eq + 1 - arg.start);
            o = ngx_cpymem(o, "***", sizeof("***") - 1);

        } else {
            o = ngx_cpymem(o, arg.start, arg.end - arg.start);
        }

        if (p >= end) {
            break;
        }

        *o++ = *p;
    }

    o = ngx_cpymem(o, end, last - end);

    out->len = o - out->data;

    return NGX_OK;
}


/*
 * A log line (or any text) with tokens masked: every token after "Bearer"
 * (any case), to the end of its quoted value, and then the value of every
 * access_token parameter (also with an encoded name).  In that order, so
 * that neither hides the other: "access_token=x?Bearer t" and "Bearer
 * a:Bearer t" lose "t" too.  A value becomes "***", or as many "*" as it
 * has bytes when it is shorter, so the output never outgrows the input:
 * "dst" needs "len" bytes.  Returns the output length.
 */

size_t
ngx_http_admin_token_redact_text(u_char *dst, u_char *src, size_t len)
{
    u_char                *p, *o, *q, *last, *end;
    ngx_http_admin_arg_t   arg;

    o = dst;
    p = src;
    last = src + len;

    while (p < last) {

        if ((*p == 'B' || *p == 'b')
            && (p == src || !ngx_http_admin_token_alnum(p[-1]))
            && last - p > 7
            && ngx_strncasecmp(p, (u_char *) "bearer", 6) == 0
            && (p[6] == ' ' || p[6] == '\t'))
        {
            for (q = p + 6; q < last && (*q == ' ' || *q == '\t'); q++) {
                /* void */
            }

            for (end = q;
                 end < last && *end != '"' && *end != '\'' && *end != CR
                 && *end != LF && *end != ',' && *end != ';';
                 end++)
            {
                /* void */
            }

            o = ngx_cpymem(o, p, q - p);
            o = ngx_http_admin_token_mask(o, q, end);
            p = end;
            continue;
        }

        *o++ = *p++;
    }

    /* the parameters, in place: the output never overtakes the input */

    last = o;
    o = dst;
    p = dst;

    while (p < last) {

        if (*p == '=') {

            /*
             * the name before it, as written out already (the input
             * behind "p" is overwritten): back to the first byte no name
             * has
             */

            for (q = o;
                 q > dst
                 && (ngx_http_admin_token_alnum(q[-1]) || q[-1] == '%'
                     || q[-1] == '_'
                     || q[-1] == '+' || q[-1] == '.' || q[-1] == '-');
                 q--)
            {
                /* void */
            }

            arg.start = q;
            arg.eq = o;
            arg.end = o;

            if (ngx_http_admin_token_arg_is(&arg,
                                            &ngx_http_admin_access_token))
            {
                for (end = p + 1;
                     end < last && *end != '&' && *end != ';' && *end != ' '
                     && *end != '"' && *end != '\'' && *end != '\t'
                     && *end != CR && *end != LF && *end != ',';
                     end++)
                {
                    /* void */
                }

                *o++ = '=';
                o = ngx_http_admin_token_mask(o, p + 1, end);
                p = end;
                continue;
            }
        }

        *o++ = *p++;
    }

    return o - dst;
}


/* the token's stand-in in logs: 8 hex digits of its SHA-256 */

void
ngx_http_admin_token_tag(ngx_str_t *token, u_char *tag)
{
    u_char  md[NGX_HTTP_ADMIN_DIGEST_LEN];

    ngx_http_admin_sha256(token, 1, md);

    ngx_hex_dump(tag, md, NGX_HTTP_ADMIN_TOKEN_TAG_LEN / 2);
}


/*
 * The Redis key of a token: the prefix and the lowercase hex SHA-256 of
 * the token, or of the token, a NUL and the appservice user id, so that
 * masquerading requests do not share a verdict; with a secret, their
 * HMAC-SHA256 under it, so that whoever reads Redis cannot test guessed
 * tokens.  A token never holds a NUL, so the two forms cannot meet.
 */

ngx_int_t
ngx_http_admin_token_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *token, ngx_str_t *as_user, ngx_http_admin_hmac_t *secret,
    ngx_str_t *key)
{
    u_char      *p;
    ngx_str_t    in[3];
    ngx_uint_t   i, n;
    u_char       md[NGX_HTTP_ADMIN_DIGEST_LEN];

    in[0] = *token;
    n = 1;

    if (as_user->data != NULL) {
        ngx_str_set(&in[1], "\0");
        in[2] = *as_user;
        n = 3;
    }

    if (secret) {
        ngx_http_admin_hmac(secret, in, n, md);

    } else {
        ngx_http_admin_sha256(in, n, md);
    }

    p = ngx_pnalloc(pool, prefix->len + 2 * NGX_HTTP_ADMIN_DIGEST_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    p = ngx_cpymem(p, prefix->data, prefix->len);

    /* two hex digits per byte at a time: a quarter of ngx_hex_dump() */

    for (i = 0; i < NGX_HTTP_ADMIN_DIGEST_LEN; i++) {
        ngx_memcpy(p, &ngx_http_admin_hex_pairs[2 * md[i]], 2);
        p += 2;
    }

    key->len = p - key->data;

    return NGX_OK;
}


static u_char *
ngx_http_admin_token_arg(u_char *p, u_char *last, ngx_http_admin_arg_t *arg)
{
    arg->start = p;
    arg->eq = NULL;

    for ( /* void */ ; p < last && *p != '&' && *p != ';'; p++) {
        if (*p == '=' && arg->eq == NULL) {
            arg->eq = p;
        }
    }

    arg->end = p;

    return p;
}


static ngx_uint_t
ngx_http_admin_token_arg_is(ngx_http_admin_arg_t *arg, ngx_str_t *name)
{
    u_char  *last;
    size_t   len;
    u_char   buf[NGX_HTTP_ADMIN_ARG_NAME_MAX];

    last = (arg->eq != NULL) ? arg->eq : arg->end;
    len = last - arg->start;

    if (len < name->len || len > 3 * name->len) {
        return 0;
    }

    len = ngx_http_admin_path_unescape(buf, arg->start, len, 1) - buf;

    return len == name->len && ngx_memcmp(buf, name->data, len) == 0;
}


/* "***" for a value, or one "*" a byte for a shorter one */

static u_char *
ngx_http_admin_token_mask(u_char *o, u_char *start, u_char *end)
{
    size_t  n;

    n = ngx_min((size_t) (end - start), sizeof("***") - 1);

    return ngx_cpymem(o, "***", n);
}


static ngx_uint_t
ngx_http_admin_token_alnum(u_char c)
{
    u_char  l;

    l = (u_char) (c | 0x20);

    return (c >= '0' && c <= '9') || (l >= 'a' && l <= 'z');
}


/* the value of an entry with "=" is "***" already */

static ngx_uint_t
ngx_http_admin_token_hidden(ngx_http_admin_arg_t *arg)
{
    return arg->end - arg->eq == sizeof("=***") - 1
           && ngx_strncmp(arg->eq, "=***", sizeof("=***") - 1) == 0;
}


static ngx_http_admin_token_e
ngx_http_admin_token_bearer(ngx_str_t *value, ngx_str_t *token)
{
    u_char      *p, *last;
    ngx_uint_t   bad;

    p = value->data;
    last = p + value->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    /* "Bearer" as clients write it, then in any case */

    if (last - p < 7
        || (ngx_strncmp(p, "Bearer", 6) != 0
            && ngx_strncasecmp(p, (u_char *) "bearer", 6) != 0))
    {
        return NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER;
    }

    p += 6;

    if (*p != ' ' && *p != '\t') {
        return NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER;
    }

    while (*p == ' ' || *p == '\t') {
        p++;
    }

    token->data = p;

    /*
     * Synapse splits the value on spaces only: a third part makes the
     * header invalid, while a tab inside the token belongs to it (and
     * makes it one that cannot be valid)
     */

    bad = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p == ' ') {
            return NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER;
        }

        /* the check of ngx_http_admin_token_extract(), in the same pass */

        bad |= (*p < 0x21 || *p > 0x7e);
    }

    token->len = p - token->data;

    return bad ? NGX_HTTP_ADMIN_TOKEN_BAD : NGX_HTTP_ADMIN_TOKEN_OK;
}


static ngx_int_t
ngx_http_admin_token_unescape(ngx_pool_t *pool, u_char *start, u_char *end,
    ngx_str_t *out)
{
    u_char  *p;

    p = ngx_pnalloc(pool, end - start + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    out->len = ngx_http_admin_path_unescape(p, start, end - start, 1) - p;

    return NGX_OK;
}
