
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * OpenSSL 3 deprecates its low-level SHA-256 in favour of EVP, whose
 * provider lookup on every call costs more than hashing a token does
 * (EVP_Q_digest: about 5.8k instructions, most of them the fetch).  The
 * low-level functions stay in OpenSSL 3; they need no allocation, and
 * their state is a plain struct that an HMAC key can keep precomputed.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "ngx_http_admin_module.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ngx_http_admin_digest.h"


/* HMAC-SHA256 (RFC 2104) with its two keyed states computed once */

struct ngx_http_admin_hmac_s {
    SHA256_CTX                  inner;        /* after key ^ ipad */
    SHA256_CTX                  outer;        /* after key ^ opad */
};


/* SipHash-2-4 with a 128-bit result (Aumasson and Bernstein, 2012) */

typedef struct {
    uint64_t                    v[4];
    uint64_t                    tail;         /* bytes not yet a word */
    size_t                      len;          /* of all input */
} ngx_http_admin_sip_t;


#define NGX_HTTP_ADMIN_ROTL(x, b)  (((x) << (b)) | ((x) >> (64 - (b))))


static ngx_int_t ngx_http_admin_secret_read(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret);
static ngx_inline void ngx_http_admin_sip_round(uint64_t *v);
static ngx_inline uint64_t ngx_http_admin_sip_word(const u_char *p);
static void ngx_http_admin_sip_update(ngx_http_admin_sip_t *sip,
    const u_char *p, size_t len);


/* SHA-256 of the concatenation of "n" parts */

void
ngx_http_admin_sha256(ngx_str_t *parts, ngx_uint_t n, u_char *md)
{
    ngx_uint_t  i;
    SHA256_CTX  sha;

    SHA256_Init(&sha);

    for (i = 0; i < n; i++) {
        SHA256_Update(&sha, parts[i].data, parts[i].len);
    }

    SHA256_Final(md, &sha);
}


/* HMAC-SHA256 under "key" of the concatenation of "n" parts */

void
ngx_http_admin_hmac(ngx_http_admin_hmac_t *key, ngx_str_t *parts,
    ngx_uint_t n, u_char *md)
{
    ngx_uint_t  i;
    SHA256_CTX  sha;
    u_char      inner[NGX_HTTP_ADMIN_DIGEST_LEN];

    sha = key->inner;

    for (i = 0; i < n; i++) {
        SHA256_Update(&sha, parts[i].data, parts[i].len);
    }

    SHA256_Final(inner, &sha);

    sha = key->outer;
    SHA256_Update(&sha, inner, sizeof(inner));
    SHA256_Final(md, &sha);

    OPENSSL_cleanse(&sha, sizeof(SHA256_CTX));
}


/* "n" random bytes from OpenSSL's generator, for the SipHash key */

ngx_int_t
ngx_http_admin_random(u_char *buf, size_t n)
{
    return (RAND_bytes(buf, (int) n) == 1) ? NGX_OK : NGX_ERROR;
}


/*
 * SipHash-2-4-128 under the 16-byte "key" of the concatenation of "n"
 * parts; the caller frames the parts so that the input is unambiguous.
 * It indexes the verdict zone and the lookups in flight: a keyed hash
 * that an attacker who does not know the key cannot aim at, at a tenth
 * of the cost of SHA-256.
 */

void
ngx_http_admin_siphash(const u_char *key, ngx_str_t *parts, ngx_uint_t n,
    uint64_t *out)
{
    uint64_t               k0, k1, m;
    ngx_uint_t             i, r;
    ngx_http_admin_sip_t   sip;

    k0 = ngx_http_admin_sip_word(key);
    k1 = ngx_http_admin_sip_word(key + 8);

    sip.v[0] = k0 ^ 0x736f6d6570736575;
    sip.v[1] = k1 ^ 0x646f72616e646f6d ^ 0xee;
    sip.v[2] = k0 ^ 0x6c7967656e657261;
    sip.v[3] = k1 ^ 0x7465646279746573;
    sip.tail = 0;
    sip.len = 0;

    for (i = 0; i < n; i++) {
        ngx_http_admin_sip_update(&sip, parts[i].data, parts[i].len);
    }

    m = sip.tail | ((uint64_t) (sip.len & 0xff) << 56);

    sip.v[3] ^= m;
    ngx_http_admin_sip_round(sip.v);
    ngx_http_admin_sip_round(sip.v);
    sip.v[0] ^= m;

    sip.v[2] ^= 0xee;

    for (r = 0; r < 4; r++) {
        ngx_http_admin_sip_round(sip.v);
    }

    out[0] = sip.v[0] ^ sip.v[1] ^ sip.v[2] ^ sip.v[3];

    sip.v[1] ^= 0xdd;

    for (r = 0; r < 4; r++) {
        ngx_http_admin_sip_round(sip.v);
    }

    out[1] = sip.v[0] ^ sip.v[1] ^ sip.v[2] ^ sip.v[3];
}


/* words are read little-endian, whatever the machine */

static void
ngx_http_admin_sip_update(ngx_http_admin_sip_t *sip, const u_char *p,
    size_t len)
{
    uint64_t    m;
    ngx_uint_t  fill;

    fill = sip->len & 7;
    sip->len += len;

    while (len) {

        if (fill == 0 && len >= 8) {
            m = ngx_http_admin_sip_word(p);
            p += 8;
            len -= 8;

        } else {
            sip->tail |= (uint64_t) *p++ << (8 * fill);
            len--;

            if (++fill < 8) {
                continue;
            }

            m = sip->tail;
            sip->tail = 0;
            fill = 0;
        }

        sip->v[3] ^= m;
        ngx_http_admin_sip_round(sip->v);
        ngx_http_admin_sip_round(sip->v);
        sip->v[0] ^= m;
    }
}


/* 8 bytes as a little-endian word */

static ngx_inline uint64_t
ngx_http_admin_sip_word(const u_char *p)
{
    uint64_t  m;

#if (NGX_HAVE_LITTLE_ENDIAN)

    ngx_memcpy(&m, p, 8);

#else

    ngx_uint_t  i;

    m = 0;

    for (i = 0; i < 8; i++) {
        m |= (uint64_t) p[i] << (8 * i);
    }

#endif

    return m;
}


static ngx_inline void
ngx_http_admin_sip_round(uint64_t *v)
{
    v[0] += v[1];
    v[1] = NGX_HTTP_ADMIN_ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = NGX_HTTP_ADMIN_ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = NGX_HTTP_ADMIN_ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = NGX_HTTP_ADMIN_ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = NGX_HTTP_ADMIN_ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = NGX_HTTP_ADMIN_ROTL(v[2], 32);
}


/*
 * admin_gate_secret_file path;
 *
 * The file's bytes are the key.  It is read now, when the configuration
 * loads; nginx -t refuses a file that others can read, or that is shorter
 * than 32 bytes.  Only the keyed states are kept.
 */

char *
ngx_http_admin_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t              *value, secret;
    ngx_uint_t              i;
    ngx_http_admin_hmac_t  *key, **field;
    u_char                  pad[SHA256_CBLOCK];
    u_char                  md[NGX_HTTP_ADMIN_DIGEST_LEN];

    field = (ngx_http_admin_hmac_t **) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_admin_secret_read(cf, &value[1], &secret) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    key = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_hmac_t));
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    /* a key longer than a block is hashed first */

    if (secret.len > SHA256_CBLOCK) {
        ngx_http_admin_sha256(&secret, 1, md);
        OPENSSL_cleanse(secret.data, secret.len);
        secret.data = md;
        secret.len = sizeof(md);
    }

    ngx_memzero(pad, sizeof(pad));
    ngx_memcpy(pad, secret.data, secret.len);

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36;
    }

    SHA256_Init(&key->inner);
    SHA256_Update(&key->inner, pad, sizeof(pad));

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }

    SHA256_Init(&key->outer);
    SHA256_Update(&key->outer, pad, sizeof(pad));

    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(md, sizeof(md));
    OPENSSL_cleanse(secret.data, secret.len);

    *field = key;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_admin_secret_read(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_str_t        name;
    ngx_file_info_t  fi;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto done;
    }

    if (fi.st_mode & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is readable by others: "
                           "chmod o-r it", &name);
        goto done;
    }

    if (ngx_file_size(&fi) < NGX_HTTP_ADMIN_SECRET_MIN
        || ngx_file_size(&fi) > NGX_HTTP_ADMIN_SECRET_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" has %O bytes: it needs "
                           "%d to %d", &name, ngx_file_size(&fi),
                           NGX_HTTP_ADMIN_SECRET_MIN,
                           NGX_HTTP_ADMIN_SECRET_MAX);
        goto done;
    }

    secret->len = (size_t) ngx_file_size(&fi);
    secret->data = ngx_pnalloc(cf->temp_pool, secret->len);
    if (secret->data == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, secret->data, secret->len);

    if (n != (ssize_t) secret->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, (n == -1) ? ngx_errno : 0,
                           ngx_read_fd_n " \"%V\" failed", &name);
        goto done;
    }

    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    return rc;
}
