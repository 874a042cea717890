
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_token.c: token extraction, query stripping, request line
 * redaction, log line masking, the Redis key and the log tag.
 *
 * Input: fields separated by LF: the query string, then up to three
 * Authorization header values.  Each field is copied into a block of its
 * own size, so that a read past it is caught.  Every function is checked
 * against this file's own reading of the query string, written from the
 * comments of token.c (Twisted's parsing: "&" and ";" separate entries,
 * the name is percent-decoded with "+" a space, an entry without "=" has
 * no value, the first value wins):
 *
 *     extract: the same verdict, token, user_id and count of access_token
 *     entries; an accepted token is visible ASCII, and a header's is a
 *     piece of the header;
 *     strip: the entries that are not access_token, in order, each with
 *     the separator before it; no access_token entry is left;
 *     redact, on "GET /p?<query> HTTP/1.1" and on the first field taken
 *     as a whole request line: every access_token entry with a value has
 *     "***" for it and nothing else changes; redacting twice changes
 *     nothing more;
 *     redact_text, on those lines and the first header: never longer than
 *     the line, masking twice changes nothing more; and a token planted
 *     between the first two fields after an access_token name (plain or
 *     percent-encoded) and "=", or after "Bearer" and blanks, leaves no
 *     8 bytes of itself in the masked line;
 *     key: the prefix and the hex SHA-256 (HMAC-SHA256 under a secret,
 *     both computed here with OpenSSL's one-shot functions) of the token,
 *     or of token, NUL, user_id; tag: the first 8 hex digits of SHA-256.
 *
 * Then each pool allocation in turn fails: the answer is an error or the
 * same as before.
 */


#include "ngx_fuzz.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_http_admin_path.h"
#include "ngx_http_admin_token.h"


#define NGX_FUZZ_FIELDS   4


typedef struct {
    u_char                   *start;
    u_char                   *eq;
    u_char                   *end;
    u_char                    sep;           /* before it; 0 for the first */
    ngx_uint_t                token;         /* named access_token */
} ngx_fuzz_entry_t;


static ngx_fuzz_entry_t *ngx_fuzz_entries(u_char *p, u_char *last,
    ngx_uint_t *n);
static ngx_uint_t ngx_fuzz_named(ngx_fuzz_entry_t *e, const char *name);
static size_t ngx_fuzz_unescape(u_char *dst, u_char *src, size_t len);
static void ngx_fuzz_extract(ngx_str_t *args, ngx_str_t *headers,
    ngx_uint_t n);
static ngx_http_admin_token_e ngx_fuzz_bearer(ngx_str_t *h, ngx_str_t *t);
static void ngx_fuzz_strip(ngx_str_t *args);
static void ngx_fuzz_redact(ngx_str_t *line);
static size_t ngx_fuzz_redacted(ngx_str_t *line, u_char *out);
static void ngx_fuzz_redact_text(ngx_str_t *text);
static void ngx_fuzz_planted(ngx_str_t *a, ngx_str_t *b);
static void ngx_fuzz_key(ngx_str_t *token, ngx_str_t *as_user);
static ngx_uint_t ngx_fuzz_hex(u_char *p, size_t len);
static ngx_uint_t ngx_fuzz_eq(ngx_str_t *a, u_char *b, size_t len);


static const uint8_t         *ngx_fuzz_data;
static size_t                 ngx_fuzz_size;

static ngx_http_admin_hmac_t  *ngx_fuzz_key_short;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_key_short = ngx_fuzz_secret(NGX_FUZZ_SECRET_SHORT);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t       n;
    u_char      *p, *last, *lf;
    ngx_str_t    field[NGX_FUZZ_FIELDS], line;
    ngx_pool_t  *pool;

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

    ngx_fuzz_extract(&field[0], &field[1], n - 1);
    ngx_fuzz_strip(&field[0]);

    /* the query string in a request line, and the field as a line */

    line.len = sizeof("GET /p?") - 1 + field[0].len + sizeof(" HTTP/1.1") - 1;
    line.data = ngx_pnalloc(pool, line.len);
    if (line.data == NULL) {
        abort();
    }

    p = ngx_cpymem(line.data, "GET /p?", sizeof("GET /p?") - 1);
    p = ngx_cpymem(p, field[0].data, field[0].len);
    ngx_memcpy(p, " HTTP/1.1", sizeof(" HTTP/1.1") - 1);

    ngx_fuzz_redact(&line);
    ngx_fuzz_redact(&field[0]);

    ngx_fuzz_redact_text(&line);
    ngx_fuzz_redact_text(&field[0]);

    if (n > 1) {
        ngx_fuzz_redact_text(&field[1]);
    }

    ngx_fuzz_planted(&field[0], (n > 1) ? &field[1] : &field[0]);

    ngx_destroy_pool(pool);

    return 0;
}


/*
 * The entries of a query string, "&" or ";" before each but the first;
 * the caller frees them.
 */

static ngx_fuzz_entry_t *
ngx_fuzz_entries(u_char *p, u_char *last, ngx_uint_t *n)
{
    ngx_uint_t         i;
    ngx_fuzz_entry_t  *e;

    e = malloc((last - p + 1) * sizeof(ngx_fuzz_entry_t));
    if (e == NULL) {
        abort();
    }

    i = 0;
    e[0].sep = 0;

    for ( ;; ) {
        e[i].start = p;
        e[i].eq = NULL;

        while (p < last && *p != '&' && *p != ';') {
            if (*p == '=' && e[i].eq == NULL) {
                e[i].eq = p;
            }

            p++;
        }

        e[i].end = p;
        e[i].token = ngx_fuzz_named(&e[i], "access_token");
        i++;

        if (p == last) {
            *n = i;
            return e;
        }

        e[i].sep = *p++;
    }
}


static ngx_uint_t
ngx_fuzz_named(ngx_fuzz_entry_t *e, const char *name)
{
    u_char      *buf;
    size_t       len;
    ngx_uint_t   rc;

    len = (e->eq ? e->eq : e->end) - e->start;

    buf = malloc(len + 1);
    if (buf == NULL) {
        abort();
    }

    len = ngx_fuzz_unescape(buf, e->start, len);
    rc = len == strlen(name) && ngx_memcmp(buf, name, len) == 0;

    free(buf);

    return rc;
}


/* Python's unquote_plus(), written for this harness */

static size_t
ngx_fuzz_unescape(u_char *dst, u_char *src, size_t len)
{
    size_t  i, out;
    char    hex[3];

    out = 0;

    for (i = 0; i < len; i++) {
        if (src[i] == '%' && len - i >= 3
            && isxdigit(src[i + 1]) && isxdigit(src[i + 2]))
        {
            hex[0] = src[i + 1];
            hex[1] = src[i + 2];
            hex[2] = '\0';
            dst[out++] = (u_char) strtoul(hex, NULL, 16);
            i += 2;
            continue;
        }

        dst[out++] = (src[i] == '+') ? ' ' : src[i];
    }

    return out;
}


static void
ngx_fuzz_extract(ngx_str_t *args, ngx_str_t *headers, ngx_uint_t n)
{
    u_char                  *p, *user, *token;
    size_t                   ulen, tlen;
    ngx_int_t                has_user;
    ngx_str_t                bearer;
    ngx_uint_t               i, entries, in_query, first, allocs;
    ngx_pool_t              *pool;
    ngx_fuzz_entry_t        *e;
    ngx_http_admin_token_t   out;
    ngx_http_admin_token_e   rc, expected;

    e = ngx_fuzz_entries(args->data, args->data + args->len, &entries);

    in_query = 0;
    first = entries;
    has_user = 0;
    ulen = 0;

    user = malloc(args->len + 1);
    token = malloc(args->len + 1);
    if (user == NULL || token == NULL) {
        abort();
    }

    tlen = 0;

    for (i = 0; i < entries; i++) {
        if (e[i].token) {
            in_query++;

            if (e[i].eq && first == entries) {
                first = i;
            }

        } else if (e[i].eq && !has_user
                   && ngx_fuzz_named(&e[i], "user_id"))
        {
            has_user = 1;
            ulen = ngx_fuzz_unescape(user, e[i].eq + 1,
                                     e[i].end - e[i].eq
                                     - 1);
        }
    }

    bearer.data = NULL;
    bearer.len = 0;

    if (n) {
        if (first != entries) {
            expected = NGX_HTTP_ADMIN_TOKEN_MIXING;

        } else if (n > 1) {
            expected = NGX_HTTP_ADMIN_TOKEN_TOO_MANY;

        } else {
            expected = ngx_fuzz_bearer(&headers[0], &bearer);
        }

    } else if (first == entries) {
        expected = NGX_HTTP_ADMIN_TOKEN_MISSING;

    } else {
        expected = NGX_HTTP_ADMIN_TOKEN_OK;
        tlen = ngx_fuzz_unescape(token, e[first].eq + 1,
                                 e[first].end - e[first].eq
                                 - 1);
        bearer.data = token;
        bearer.len = tlen;
    }

    free(e);

    if (expected == NGX_HTTP_ADMIN_TOKEN_OK) {
        if (bearer.len == 0) {
            expected = NGX_HTTP_ADMIN_TOKEN_BAD;
        }

        for (p = bearer.data; p < bearer.data + bearer.len; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                expected = NGX_HTTP_ADMIN_TOKEN_BAD;
            }
        }
    }

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_token_extract(pool, headers, n, args, &out);

    allocs = ngx_fuzz_allocs;

    ngx_fuzz_assert(rc == expected, ngx_fuzz_data, ngx_fuzz_size);
    ngx_fuzz_assert(out.in_query == in_query, ngx_fuzz_data, ngx_fuzz_size);
    ngx_fuzz_assert((out.as_user.data != NULL) == has_user
                    && (!has_user || ngx_fuzz_eq(&out.as_user, user, ulen)),
                    ngx_fuzz_data, ngx_fuzz_size);

    if (rc == NGX_HTTP_ADMIN_TOKEN_OK) {
        ngx_fuzz_assert(ngx_fuzz_eq(&out.token, bearer.data, bearer.len),
                        ngx_fuzz_data, ngx_fuzz_size);

        /* a header's token is a piece of the header, not a copy */

        ngx_fuzz_assert(n == 0
                        || (out.token.data >= headers[0].data
                            && out.token.data + out.token.len
                               <= headers[0].data + headers[0].len),
                        ngx_fuzz_data, ngx_fuzz_size);

        ngx_fuzz_key(&out.token, &out.as_user);
    }

    ngx_destroy_pool(pool);

    for (i = 1; i <= allocs; i++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = i;

        rc = ngx_http_admin_token_extract(pool, headers, n, args, &out);

        ngx_fuzz_fail_at = 0;
        ngx_destroy_pool(pool);

        ngx_fuzz_assert(rc == NGX_HTTP_ADMIN_TOKEN_NOMEM || rc == expected,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    free(user);
    free(token);
}


/*
 * Synapse's reading of an Authorization header, as token.c describes it:
 * blanks (space, tab) around the value do not count, the scheme is
 * "Bearer" in any case, blanks follow it, and the rest, which has no
 * space, is the token.
 */

static ngx_http_admin_token_e
ngx_fuzz_bearer(ngx_str_t *h, ngx_str_t *t)
{
    size_t  i, j, k;

    i = 0;
    j = h->len;

    while (i < j && (h->data[i] == ' ' || h->data[i] == '\t')) {
        i++;
    }

    while (j > i && (h->data[j - 1] == ' ' || h->data[j - 1] == '\t')) {
        j--;
    }

    if (j - i < 7 || strncasecmp((char *) h->data + i, "bearer", 6) != 0
        || (h->data[i + 6] != ' ' && h->data[i + 6] != '\t'))
    {
        return NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER;
    }

    for (i += 6; i < j && (h->data[i] == ' ' || h->data[i] == '\t'); i++) {
        /* void */
    }

    for (k = i; k < j; k++) {
        if (h->data[k] == ' ') {
            return NGX_HTTP_ADMIN_TOKEN_INVALID_HEADER;
        }
    }

    t->data = h->data + i;
    t->len = j - i;

    return NGX_HTTP_ADMIN_TOKEN_OK;
}


static void
ngx_fuzz_strip(ngx_str_t *args)
{
    u_char            *expected, *p;
    ngx_int_t          rc;
    ngx_str_t          out;
    ngx_uint_t         i, n, kept, allocs;
    ngx_pool_t        *pool;
    ngx_fuzz_entry_t  *e;

    e = ngx_fuzz_entries(args->data, args->data + args->len, &n);

    expected = malloc(args->len + 1);
    if (expected == NULL) {
        abort();
    }

    p = expected;
    kept = 0;

    for (i = 0; i < n; i++) {
        if (e[i].token) {
            continue;
        }

        if (kept++) {
            *p++ = e[i].sep;
        }

        p = ngx_cpymem(p, e[i].start,
                       e[i].end - e[i].start);
    }

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_token_strip(pool, args, &out);

    allocs = ngx_fuzz_allocs;

    ngx_fuzz_assert(rc == NGX_OK && ngx_fuzz_eq(&out, expected, p - expected),
                    ngx_fuzz_data, ngx_fuzz_size);

    /* no access_token entry is left */

    free(e);
    e = ngx_fuzz_entries(out.data, out.data + out.len, &n);

    for (i = 0; i < n; i++) {
        ngx_fuzz_assert(!e[i].token, ngx_fuzz_data, ngx_fuzz_size);
    }

    free(e);

    ngx_destroy_pool(pool);

    for (i = 1; i <= allocs; i++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = i;

        rc = ngx_http_admin_token_strip(pool, args, &out);

        ngx_fuzz_fail_at = 0;

        ngx_fuzz_assert(rc == NGX_ERROR
                        || (rc == NGX_OK
                            && ngx_fuzz_eq(&out, expected, p - expected)),
                        ngx_fuzz_data, ngx_fuzz_size);

        ngx_destroy_pool(pool);
    }

    free(expected);
}


static void
ngx_fuzz_redact(ngx_str_t *line)
{
    u_char            *expected, *q, *end, *last;
    size_t             len;
    ngx_int_t          rc;
    ngx_str_t          out, again;
    ngx_uint_t         i, n, allocs;
    ngx_pool_t        *pool;
    ngx_fuzz_entry_t  *e;

    /* each access_token value may grow to "***" */

    expected = malloc(3 * line->len + 3);
    if (expected == NULL) {
        abort();
    }

    len = ngx_fuzz_redacted(line, expected);

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_token_redact(pool, line, &out);

    allocs = ngx_fuzz_allocs;

    ngx_fuzz_assert(rc == NGX_OK && ngx_fuzz_eq(&out, expected, len),
                    ngx_fuzz_data, ngx_fuzz_size);

    /* in what it takes for the query, every token is "***" */

    last = out.data + out.len;
    q = ngx_strlchr(out.data, last, '?');

    if (q != NULL) {
        for (end = last; end > q && end[-1] != ' '; end--) {
            /* void */
        }

        if (end > q && last - end > 5 && ngx_strncmp(end, "HTTP/", 5) == 0) {
            end--;

        } else {
            end = last;
        }

        e = ngx_fuzz_entries(q + 1, end, &n);

        for (i = 0; i < n; i++) {
            ngx_fuzz_assert(!e[i].token || e[i].eq == NULL
                            || (e[i].end - e[i].eq == 4
                                && ngx_memcmp(e[i].eq, "=***", 4)
                                   == 0),
                            ngx_fuzz_data, ngx_fuzz_size);
        }

        free(e);
    }

    /* twice is once */

    ngx_fuzz_assert(ngx_http_admin_token_redact(pool, &out, &again) == NGX_OK
                    && ngx_fuzz_eq(&again, out.data, out.len),
                    ngx_fuzz_data, ngx_fuzz_size);

    ngx_destroy_pool(pool);

    for (i = 1; i <= allocs; i++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = i;

        rc = ngx_http_admin_token_redact(pool, line, &out);

        ngx_fuzz_fail_at = 0;

        ngx_fuzz_assert(rc == NGX_ERROR
                        || (rc == NGX_OK && ngx_fuzz_eq(&out, expected, len)),
                        ngx_fuzz_data, ngx_fuzz_size);

        ngx_destroy_pool(pool);
    }

    free(expected);
}


/*
 * The redacted line as token.c's comment describes it: the query runs
 * from the first "?" to the last space when "HTTP/" and more follow it,
 * else to the end; an access_token entry with "=" has "***" for a value.
 */

static size_t
ngx_fuzz_redacted(ngx_str_t *line, u_char *out)
{
    u_char            *o, *q, *end, *last;
    ngx_uint_t         i, n;
    ngx_fuzz_entry_t  *e;

    last = line->data + line->len;
    q = memchr(line->data, '?', line->len);

    if (q == NULL) {
        ngx_memcpy(out, line->data, line->len);
        return line->len;
    }

    end = last;

    while (end > q && end[-1] != ' ') {
        end--;
    }

    if (end > q && last - end > 5 && memcmp(end, "HTTP/", 5) == 0) {
        end--;

    } else {
        end = last;
    }

    e = ngx_fuzz_entries(q + 1, end, &n);

    o = ngx_cpymem(out, line->data, q + 1 - line->data);

    for (i = 0; i < n; i++) {
        if (i) {
            *o++ = e[i].sep;
        }

        if (e[i].token && e[i].eq) {
            o = ngx_cpymem(o, e[i].start, e[i].eq + 1 - e[i].start);
            o = ngx_cpymem(o, "***", 3);

        } else {
            o = ngx_cpymem(o, e[i].start, e[i].end - e[i].start);
        }
    }

    free(e);

    o = ngx_cpymem(o, end, last - end);

    return o - out;
}


/* log masking: never longer, and masking twice changes nothing more */

static void
ngx_fuzz_redact_text(ngx_str_t *text)
{
    u_char  *once, *twice;
    size_t   n, m;

    once = malloc(text->len);
    twice = malloc(text->len);
    if (once == NULL || twice == NULL) {
        abort();
    }

    n = ngx_http_admin_token_redact_text(once, text->data, text->len);

    ngx_fuzz_assert(n <= text->len, ngx_fuzz_data, ngx_fuzz_size);

    m = ngx_http_admin_token_redact_text(twice, once, n);

    ngx_fuzz_assert(m == n && (n == 0 || ngx_memcmp(once, twice, n) == 0),
                    ngx_fuzz_data, ngx_fuzz_size);

    free(once);
    free(twice);
}


/*
 * A token planted in a log line between two fields: after an access_token
 * name (plain or percent-encoded) and "=", or after "Bearer" and a blank,
 * with a byte no name has before it and a byte that ends a value after
 * it.  No 8 bytes of it may be left in the masked line.
 */

static void
ngx_fuzz_planted(ngx_str_t *a, ngx_str_t *b)
{
    u_char      *line, *out, *p;
    size_t       len, n, i, j, k;
    uint32_t     h;
    ngx_str_t   *name;

    static u_char     token[] = "syt_bWFza21l_S3cr3tT0k3nV4lu3";
    static ngx_str_t  names[] = {
        ngx_string("access_token="),
        ngx_string("%61ccess_token="),
        ngx_string("access%5Ftoken="),
        ngx_string("access%5ftoken="),
        ngx_string("Bearer "),
        ngx_string("bearer\t\t"),
        ngx_string("BEARER  ")
    };
    static u_char     before[] = "&;? \"',\t\r\n:(";
    static u_char     after[] = "&; \"',\t\r\n";

    /* no window of the token in the fields themselves */

    for (i = 0; i + 8 <= sizeof(token) - 1; i++) {
        if (memmem(a->data, a->len, token + i, 8) != NULL
            || memmem(b->data, b->len, token + i, 8) != NULL)
        {
            return;
        }
    }

    h = 2166136261u;

    for (i = 0; i < ngx_fuzz_size; i++) {
        h = (h ^ ngx_fuzz_data[i]) * 16777619u;
    }

    for (k = 0; k < sizeof(names) / sizeof(ngx_str_t); k++) {
        name = &names[(h + k) % (sizeof(names) / sizeof(ngx_str_t))];

        len = a->len + 1 + name->len + sizeof(token) - 1 + 1 + b->len;

        line = malloc(len);
        out = malloc(len);
        if (line == NULL || out == NULL) {
            abort();
        }

        p = ngx_cpymem(line, a->data, a->len);
        *p++ = before[(h >> 8) % (sizeof(before) - 1)];
        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_cpymem(p, token, sizeof(token) - 1);
        *p++ = after[(h >> 16) % (sizeof(after) - 1)];
        p = ngx_cpymem(p, b->data, b->len);

        /* and at the end of the line, with nothing after it */

        for (i = 0; i < 2; i++) {
            n = ngx_http_admin_token_redact_text(out, line,
                                                 i ? (size_t) (p - line)
                                                   : a->len + 1 + name->len
                                                     + sizeof(token) - 1);

            for (j = 0; j + 8 <= sizeof(token) - 1; j++) {
                ngx_fuzz_assert(memmem(out, n, token + j, 8) == NULL,
                                ngx_fuzz_data, ngx_fuzz_size);
            }
        }

        free(line);
        free(out);
    }
}


static void
ngx_fuzz_key(ngx_str_t *token, ngx_str_t *as_user)
{
    u_char         *in;
    size_t          len;
    ngx_str_t       prefix, key;
    ngx_uint_t      i, allocs;
    ngx_pool_t     *pool;
    unsigned int    mdlen;
    u_char          md[SHA256_DIGEST_LENGTH];
    u_char          hex[2 * SHA256_DIGEST_LENGTH];
    u_char          tag[NGX_HTTP_ADMIN_TOKEN_TAG_LEN];

    ngx_str_set(&prefix, "admin_gate:fuzz:");

    len = token->len + (as_user->data ? 1 + as_user->len : 0);

    in = malloc(len + 1);
    if (in == NULL) {
        abort();
    }

    ngx_memcpy(in, token->data, token->len);

    if (as_user->data) {
        in[token->len] = '\0';
        ngx_memcpy(in + token->len + 1, as_user->data, as_user->len);
    }

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    /* without a secret: SHA-256 */

    SHA256(in, len, md);
    ngx_hex_dump(hex, md, sizeof(md));

    ngx_fuzz_allocs = 0;

    ngx_fuzz_assert(ngx_http_admin_token_key(pool, &prefix, token, as_user,
                                             NULL, &key)
                    == NGX_OK, ngx_fuzz_data, ngx_fuzz_size);

    allocs = ngx_fuzz_allocs;

    ngx_fuzz_assert(key.len == prefix.len + sizeof(hex)
                    && ngx_memcmp(key.data, prefix.data, prefix.len) == 0
                    && ngx_memcmp(key.data + prefix.len, hex, sizeof(hex))
                       == 0
                    && ngx_fuzz_hex(key.data + prefix.len, sizeof(hex)),
                    ngx_fuzz_data, ngx_fuzz_size);

    /* the tag: the first 8 hex digits of the token's own SHA-256 */

    SHA256(token->data, token->len, md);
    ngx_hex_dump(hex, md, sizeof(md));

    ngx_http_admin_token_tag(token, tag);

    ngx_fuzz_assert(ngx_memcmp(tag, hex, sizeof(tag)) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    /* with a secret: HMAC-SHA256 under it */

    HMAC(EVP_sha256(), NGX_FUZZ_SECRET_SHORT,
         sizeof(NGX_FUZZ_SECRET_SHORT) - 1, in, len, md, &mdlen);
    ngx_hex_dump(hex, md, sizeof(md));

    ngx_fuzz_assert(ngx_http_admin_token_key(pool, &prefix, token, as_user,
                                             ngx_fuzz_key_short, &key)
                    == NGX_OK
                    && key.len == prefix.len + sizeof(hex)
                    && ngx_memcmp(key.data + prefix.len, hex, sizeof(hex))
                       == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    ngx_destroy_pool(pool);

    for (i = 1; i <= allocs; i++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = i;

        ngx_fuzz_assert(ngx_http_admin_token_key(pool, &prefix, token,
                                                 as_user, NULL, &key)
                        == NGX_ERROR, ngx_fuzz_data, ngx_fuzz_size);

        ngx_fuzz_fail_at = 0;
        ngx_destroy_pool(pool);
    }

    free(in);
}


static ngx_uint_t
ngx_fuzz_hex(u_char *p, size_t len)
{
    while (len--) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }

        p++;
    }

    return 1;
}


static ngx_uint_t
ngx_fuzz_eq(ngx_str_t *a, u_char *b, size_t len)
{
    return a->len == len && ngx_memcmp(a->data, b, len) == 0;
}
