
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <openssl/crypto.h>

#include "ngx_http_admin_digest.h"
#include "ngx_http_admin_value.h"


/*
 * A verdict as Redis keeps it, version 1 of a compact format read without
 * a JSON parser:
 *
 *     AG1 <v> <expire> <ulen> <blen> <tag>\n<user><body>
 *
 *     <v>       "a" allow, "f" forbidden, "u" unknown token
 *     <expire>  when it stops being valid, ms since the epoch
 *     <ulen>    the length of the user id that follows (0: none)
 *     <blen>    the length of Synapse's own refusal that follows the user
 *               (0: the gate answers with its own words)
 *     <tag>     with admin_gate_secret_file, the hex HMAC-SHA256 of the
 *               Redis key, a LF, the line before " <tag>", the user and
 *               the body; "-" without a secret
 *
 * Numbers are decimal, without leading zeros.  Anything else, a value
 * whose lengths do not add up, a verdict whose parts do not fit it (an
 * allow without a user, an unknown token without Synapse's answer), is
 * INVALID; the caller takes it for a miss.  A value signed under another
 * key, or copied from another key, is FORGED; one past its expiry, also
 * kept alive with PERSIST, is EXPIRED.
 */


#define NGX_HTTP_ADMIN_VALUE_MAGIC    "AG1 "
#define NGX_HTTP_ADMIN_VALUE_TAG_LEN  (2 * NGX_HTTP_ADMIN_DIGEST_LEN)


static u_char *ngx_http_admin_value_number(u_char *p, u_char *last,
    uint64_t *n);
static void ngx_http_admin_value_tag(ngx_http_admin_hmac_t *secret,
    ngx_str_t *key, ngx_str_t *head, ngx_http_admin_value_t *v, u_char *tag);


/* the letters of the verdicts, indexed by ngx_http_admin_verdict_e */

static u_char  ngx_http_admin_value_letters[] = "-a-uf--";


ngx_int_t
ngx_http_admin_value_encode(ngx_pool_t *pool, ngx_http_admin_value_t *v,
    ngx_str_t *key, ngx_http_admin_hmac_t *secret, ngx_str_t *out)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   head;

    if (v->body.len > NGX_HTTP_ADMIN_VALUE_BODY_MAX) {
        return NGX_DECLINED;
    }

    len = sizeof(NGX_HTTP_ADMIN_VALUE_MAGIC "a    \n") - 1
          + 3 * NGX_INT64_LEN + NGX_HTTP_ADMIN_VALUE_TAG_LEN
          + v->user.len + v->body.len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_sprintf(p, NGX_HTTP_ADMIN_VALUE_MAGIC "%c %uL %uz %uz",
                    ngx_http_admin_value_letters[v->verdict], v->expire,
                    v->user.len, v->body.len);

    head.data = out->data;
    head.len = p - out->data;

    *p++ = ' ';

    if (secret) {
        ngx_http_admin_value_tag(secret, key, &head, v, p);
        p += NGX_HTTP_ADMIN_VALUE_TAG_LEN;

    } else {
        *p++ = '-';
    }

    *p++ = LF;

    /* an empty string may have no data at all: memcpy() wants some */

    if (v->user.len) {
        p = ngx_cpymem(p, v->user.data, v->user.len);
    }

    if (v->body.len) {
        p = ngx_cpymem(p, v->body.data, v->body.len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * Reads a value.  The user and the body point into "in": the caller
 * copies what it keeps.
 */

ngx_http_admin_value_e
ngx_http_admin_value_decode(ngx_str_t *in, ngx_str_t *key,
    ngx_http_admin_hmac_t *secret, uint64_t now, ngx_http_admin_value_t *v)
{
    u_char     *p, *last, *tag;
    uint64_t    ulen, blen;
    ngx_str_t   head;
    u_char      md[NGX_HTTP_ADMIN_VALUE_TAG_LEN];

    p = in->data;
    last = p + in->len;

    if (in->len < sizeof(NGX_HTTP_ADMIN_VALUE_MAGIC "a 0 0 0 -\n") - 1
        || ngx_memcmp(p, NGX_HTTP_ADMIN_VALUE_MAGIC,
                      sizeof(NGX_HTTP_ADMIN_VALUE_MAGIC) - 1) != 0)
    {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p += sizeof(NGX_HTTP_ADMIN_VALUE_MAGIC) - 1;

    switch (*p) {

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

    if (p[1] != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p = ngx_http_admin_value_number(p + 2, last, &v->expire);

    if (p == NULL || p == last || *p++ != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p = ngx_http_admin_value_number(p, last, &ulen);

    if (p == NULL || p == last || *p++ != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    p = ngx_http_admin_value_number(p, last, &blen);

    if (p == NULL || p == last || *p != ' ') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    head.data = in->data;
    head.len = p++ - in->data;

    tag = p;

    if (secret) {
        p += NGX_HTTP_ADMIN_VALUE_TAG_LEN;

    } else {
        p++;
    }

    if (p >= last || *p++ != LF) {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    if (ulen > NGX_HTTP_ADMIN_USER_MAX
        || blen > NGX_HTTP_ADMIN_VALUE_BODY_MAX
        || (uint64_t) (last - p) != ulen + blen)
    {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    v->user.data = p;
    v->user.len = (size_t) ulen;
    v->body.data = p + ulen;
    v->body.len = (size_t) blen;

    if (secret == NULL && *tag != '-') {
        return NGX_HTTP_ADMIN_VALUE_INVALID;
    }

    if (secret) {
        ngx_http_admin_value_tag(secret, key, &head, v, md);

        if (CRYPTO_memcmp(md, tag, NGX_HTTP_ADMIN_VALUE_TAG_LEN) != 0) {
            return NGX_HTTP_ADMIN_VALUE_FORGED;
        }
    }

    switch (v->verdict) {

    case NGX_HTTP_ADMIN_ALLOW:
        if (v->body.len || !ngx_http_admin_value_user_valid(&v->user)) {
            return NGX_HTTP_ADMIN_VALUE_INVALID;
        }

        break;

    case NGX_HTTP_ADMIN_FORBIDDEN:
        if (v->user.len
            ? !ngx_http_admin_value_user_valid(&v->user) : v->body.len == 0)
        {
            return NGX_HTTP_ADMIN_VALUE_INVALID;
        }

        break;

    default: /* NGX_HTTP_ADMIN_UNKNOWN_TOKEN */
        if (v->body.len == 0
            || (v->user.len && !ngx_http_admin_value_user_valid(&v->user)))
        {
            return NGX_HTTP_ADMIN_VALUE_INVALID;
        }

        break;
    }

    if (v->expire <= now) {
        return NGX_HTTP_ADMIN_VALUE_EXPIRED;
    }

    return NGX_HTTP_ADMIN_VALUE_OK;
}


/* a decimal without leading zeros that fits 64 bits; NULL: none */

static u_char *
ngx_http_admin_value_number(u_char *p, u_char *last, uint64_t *n)
{
    u_char    *start, *fast;
    uint64_t   v, d;

    start = p;
    v = 0;

    /* 19 digits cannot overflow 64 bits: no test for them */

    fast = (last - p > 19) ? p + 19 : last;

    while (p < fast && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
    }

    while (p < last && *p >= '0' && *p <= '9') {
        d = *p - '0';

        if (v > ((uint64_t) -1 - d) / 10) {
            return NULL;
        }

        v = v * 10 + d;
        p++;
    }

    if (p == start || (*start == '0' && p - start > 1)) {
        return NULL;
    }

    *n = v;

    return p;
}


/*
 * A Synapse user id as the gate takes one, from whoami or from a cached
 * value: "@", then visible ASCII, at most 255 bytes.
 */

ngx_uint_t
ngx_http_admin_value_user_valid(ngx_str_t *user)
{
    size_t  i;

    if (user->len < 2 || user->len > NGX_HTTP_ADMIN_USER_MAX
        || user->data[0] != '@')
    {
        return 0;
    }

    for (i = 1; i < user->len; i++) {
        if (user->data[i] < 0x21 || user->data[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


/* the hex tag of a value under "key" */

static void
ngx_http_admin_value_tag(ngx_http_admin_hmac_t *secret, ngx_str_t *key,
    ngx_str_t *head, ngx_http_admin_value_t *v, u_char *tag)
{
    ngx_str_t  parts[5];
    u_char     md[NGX_HTTP_ADMIN_DIGEST_LEN];

    parts[0] = *key;
    ngx_str_set(&parts[1], "\n");
    parts[2] = *head;
    parts[3] = v->user;
    parts[4] = v->body;

    ngx_http_admin_hmac(secret, parts, 5, md);

    ngx_hex_dump(tag, md, sizeof(md));
}
