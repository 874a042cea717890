
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * The few nginx core functions that the module's pure files call, written
 * anew for the fuzz harnesses (Debian's nginx-dev ships headers only).
 * They keep nginx's signatures and semantics, not its code:
 *
 *     the pool hands out one malloc() per allocation, exactly the size
 *     asked for, and frees them all with the pool, after running its
 *     cleanups last-added first; so AddressSanitizer sees a byte written
 *     past any block, and LeakSanitizer whatever a cleanup forgot;
 *     ngx_fuzz_fail_at makes one chosen allocation fail, as nginx's does
 *     when memory runs out;
 *     ngx_vslprintf knows the conversions the fuzzed files use and
 *     aborts on any other, so a new one cannot slip by unnoticed.
 *
 * Only what the linker asks for when the fuzzed files are linked, and the
 * pool's create and destroy, which the harnesses call.
 */


#include "ngx_fuzz.h"

#include <stdio.h>
#include <stdlib.h>


static u_char *ngx_fuzz_number(u_char *buf, u_char *last, uint64_t n,
    ngx_uint_t negative);
static void *ngx_fuzz_alloc(ngx_pool_t *pool, size_t size);


ngx_uint_t  ngx_fuzz_allocs;
ngx_uint_t  ngx_fuzz_fail_at;


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *pool;

    pool = calloc(1, sizeof(ngx_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->log = log;

    return pool;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *next;
    ngx_pool_cleanup_t  *c;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    for (l = pool->large; l; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_fuzz_alloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_fuzz_alloc(pool, size);

    if (p != NULL) {
        memset(p, 0, size);
    }

    return p;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_fuzz_alloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;

    if (size) {
        c->data = ngx_fuzz_alloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


/* one block, and the record the pool frees it by */

static void *
ngx_fuzz_alloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    ngx_fuzz_allocs++;

    if (ngx_fuzz_fail_at && --ngx_fuzz_fail_at == 0) {
        return NULL;
    }

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        return NULL;
    }

    /* malloc(0) gives a block no byte of which may be touched */

    l->alloc = malloc(size);
    if (l->alloc == NULL) {
        free(l);
        return NULL;
    }

    l->next = pool->large;
    pool->large = l;

    return l->alloc;
}


/* n hex digits, either case; NGX_ERROR for none, another byte, overflow */

ngx_int_t
ngx_hextoi(u_char *line, size_t n)
{
    u_char     c;
    ngx_int_t  value, digit;

    if (n == 0) {
        return NGX_ERROR;
    }

    value = 0;

    while (n--) {
        c = *line++;

        if (c >= '0' && c <= '9') {
            digit = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;

        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;

        } else {
            return NGX_ERROR;
        }

        if (value > (NGX_MAX_INT_T_VALUE - digit) / 16) {
            return NGX_ERROR;
        }

        value = value * 16 + digit;
    }

    return value;
}


/* lowercase hex, two digits a byte; returns the end of what it wrote */

u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static const char  digits[] = "0123456789abcdef";

    while (len--) {
        *dst++ = digits[*src >> 4];
        *dst++ = digits[*src & 0x0f];
        src++;
    }

    return dst;
}


/* at most n bytes, ASCII letters folded; a NUL in both ends the compare */

ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  a, b;

    for ( /* void */ ; n; n--) {
        a = *s1++;
        b = *s2++;

        if (a >= 'A' && a <= 'Z') {
            a += 'a' - 'A';
        }

        if (b >= 'A' && b <= 'Z') {
            b += 'a' - 'A';
        }

        if (a != b) {
            return (ngx_int_t) a - (ngx_int_t) b;
        }

        if (a == 0) {
            return 0;
        }
    }

    return 0;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, (void *) -1, fmt, args);
    va_end(args);

    return p;
}


/*
 * nginx's format, the part the fuzzed files and the harnesses use: %c,
 * %V, %d, %O, %z, %L, each signed or with "u" unsigned, and %%.  No
 * widths.
 */

u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    int          c;
    u_char      *s;
    int64_t      i64;
    uint64_t     u64;
    ngx_str_t   *v;
    ngx_uint_t   sign;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;
        sign = 1;

        if (*fmt == 'u') {
            sign = 0;
            fmt++;
        }

        switch (*fmt++) {

        case '%':
            *buf++ = '%';
            continue;

        case 'c':
            c = va_arg(args, int);
            *buf++ = (u_char) c;
            continue;

        case 'V':
            v = va_arg(args, ngx_str_t *);

            for (s = v->data; s < v->data + v->len && buf < last; s++) {
                *buf++ = *s;
            }

            continue;

        case 'd':
            i64 = sign ? va_arg(args, int) : va_arg(args, u_int);
            u64 = sign ? (uint64_t) i64 : (uint64_t) (u_int) i64;
            break;

        case 'O':
            i64 = va_arg(args, off_t);
            u64 = (uint64_t) i64;
            break;

        case 'z':
            i64 = sign ? va_arg(args, ssize_t) : 0;
            u64 = sign ? (uint64_t) i64 : va_arg(args, size_t);
            break;

        case 'L':
            i64 = sign ? va_arg(args, int64_t) : 0;
            u64 = sign ? (uint64_t) i64 : va_arg(args, uint64_t);
            break;

        default:
            fprintf(stderr, "ngx_fuzz_core: format \"%s\" unsupported\n",
                    fmt - 1);
            abort();
        }

        if (sign && i64 < 0) {
            buf = ngx_fuzz_number(buf, last, 0 - (uint64_t) i64, 1);

        } else {
            buf = ngx_fuzz_number(buf, last, u64, 0);
        }
    }

    return buf;
}


static u_char *
ngx_fuzz_number(u_char *buf, u_char *last, uint64_t n, ngx_uint_t negative)
{
    u_char  *p;
    u_char   digits[NGX_INT64_LEN + 1];

    p = digits + sizeof(digits);

    do {
        *--p = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    if (negative) {
        *--p = '-';
    }

    while (p < digits + sizeof(digits) && buf < last) {
        *buf++ = *p++;
    }

    return buf;
}


/* the harnesses give absolute names only */

ngx_int_t
ngx_conf_full_name(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_uint_t conf_prefix)
{
    return (name->len && name->data[0] == '/') ? NGX_OK : NGX_ERROR;
}


void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    buf[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf) - 1, fmt, args);
    va_end(args);

    fprintf(stderr, "ngx_fuzz_core: conf error: %.*s (errno %d)\n",
            (int) (p - buf), buf, (int) err);
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    buf[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf) - 1, fmt, args);
    va_end(args);

    fprintf(stderr, "ngx_fuzz_core: log: %.*s (errno %d)\n",
            (int) (p - buf), buf, (int) err);
}
