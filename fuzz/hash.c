
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_digest.c: ngx_http_admin_siphash(), SipHash-2-4 with a
 * 128-bit result, of the concatenation of parts, streamed across them.
 *
 * The reference is this file's own SipHash-2-4-128, written from the
 * paper (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012; the 128-bit variant xors 0xee into v1 at the start and into v2
 * at the end in place of 0xff, and squeezes a second word after xoring
 * 0xdd into v1): the key and every word are put together byte by byte,
 * little-endian, and the message is padded with zeros up to the byte
 * that holds its length modulo 256, the last of a word.  The result is
 * the 16 bytes of the two words, each little-endian.
 *
 * At start: the reference gives the published vectors known here (key
 * 00 01 .. 0f, message 00 01 .. n-1, for n = 0, 1, 2 and 63), and the
 * module gives what the reference gives for all 64 of them (n = 0..63),
 * whole and cut in two at every position.
 *
 * Input: a byte h, a key of 16 bytes, the message (what the input is too
 * short to hold is a zero byte, or empty).  The message under that key,
 * and the whole input under the vectors' key, are each hashed by the
 * reference, by the module in one part, and by the module in parts: h
 * says how (1 to 64 parts, empty parts between them, or a part per
 * byte), the cuts and each part's alignment are drawn from the input's
 * hash.  All three are the same.  The key, every part and the result are
 * blocks of their own size, so that ASan sees a byte read or written
 * past them; an empty part has no data (NULL), as nginx's empty strings
 * may.
 */


#include "ngx_fuzz.h"

#include <stdlib.h>

#include "ngx_http_admin_digest.h"


#define NGX_FUZZ_HASH_LEN  16

/* the most parts one hash is given: a part per byte of 256, the rest,
 * and an empty part before each and at the end */
#define NGX_FUZZ_BYTES     256
#define NGX_FUZZ_PARTS     (2 * (NGX_FUZZ_BYTES + 1) + 1)


typedef struct {
    size_t                    len;
    const char               *hash;        /* hex */
} ngx_fuzz_vector_t;


static void ngx_fuzz_vectors(void);
static void ngx_fuzz_check(const u_char *key, const u_char *m, size_t len,
    u_char h, uint32_t seed);
static void ngx_fuzz_module(const u_char *key, ngx_str_t *parts,
    ngx_uint_t n, u_char *md);
static void ngx_fuzz_reference(const u_char *key, const u_char *m,
    size_t len, u_char *md);
static ngx_inline u_char ngx_fuzz_padded(const u_char *m, size_t len,
    size_t i);
static ngx_inline uint64_t ngx_fuzz_rotl(uint64_t x, int b);
static void ngx_fuzz_sipround(uint64_t *v0, uint64_t *v1, uint64_t *v2,
    uint64_t *v3);
static uint32_t ngx_fuzz_hash(const uint8_t *data, size_t size);


static const uint8_t   *ngx_fuzz_data;
static size_t           ngx_fuzz_size;

/* the vectors' key and messages: 00 01 02 .. */
static u_char           ngx_fuzz_counting[64];

/* vectors_sip128 of the SipHash reference code, four of its 64 */
static ngx_fuzz_vector_t  ngx_fuzz_known[] = {
    { 0, "a3817f04ba25a8e66df67214c7550293" },
    { 1, "da87c1d86b99af44347659119b22fc45" },
    { 2, "8177228da4a45dc7fca38bdef60affe4" },
    { 63, "5150d1772f50834a503e069a973fbd7c" }
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_vectors();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     h, *key;
    uint32_t   seed;

    ngx_fuzz_data = data;
    ngx_fuzz_size = size;

    seed = ngx_fuzz_hash(data, size);
    h = (size > 0) ? data[0] : 0;

    /* the key of the input, zero bytes where the input is too short */

    key = calloc(1, NGX_FUZZ_HASH_LEN);
    if (key == NULL) {
        abort();
    }

    if (size > 1) {
        ngx_memcpy(key, data + 1, ngx_min(size - 1, NGX_FUZZ_HASH_LEN));
    }

    if (size > 1 + NGX_FUZZ_HASH_LEN) {
        ngx_fuzz_check(key, data + 1 + NGX_FUZZ_HASH_LEN,
                       size - 1 - NGX_FUZZ_HASH_LEN, h, seed);

    } else {
        ngx_fuzz_check(key, NULL, 0, h, seed);
    }

    /* the whole input, under the vectors' key */

    ngx_memcpy(key, ngx_fuzz_counting, NGX_FUZZ_HASH_LEN);

    ngx_fuzz_check(key, data, size, h, seed ^ 0x9e3779b9);

    free(key);

    return 0;
}


/* the published vectors, then the module against the reference on all */

static void
ngx_fuzz_vectors(void)
{
    u_char      *key;
    size_t       n, cut;
    ngx_str_t    parts[2];
    ngx_uint_t   i;
    u_char       ref[NGX_FUZZ_HASH_LEN], md[NGX_FUZZ_HASH_LEN];
    u_char       hex[2 * NGX_FUZZ_HASH_LEN];

    for (i = 0; i < sizeof(ngx_fuzz_counting); i++) {
        ngx_fuzz_counting[i] = (u_char) i;
    }

    key = malloc(NGX_FUZZ_HASH_LEN);
    if (key == NULL) {
        abort();
    }

    ngx_memcpy(key, ngx_fuzz_counting, NGX_FUZZ_HASH_LEN);

    for (i = 0; i < sizeof(ngx_fuzz_known) / sizeof(ngx_fuzz_vector_t); i++) {
        n = ngx_fuzz_known[i].len;

        ngx_fuzz_reference(key, ngx_fuzz_counting, n, ref);
        ngx_hex_dump(hex, ref, NGX_FUZZ_HASH_LEN);

        ngx_fuzz_assert(ngx_memcmp(hex, ngx_fuzz_known[i].hash, sizeof(hex))
                        == 0, ngx_fuzz_counting, n);
    }

    for (n = 0; n < sizeof(ngx_fuzz_counting); n++) {
        ngx_fuzz_reference(key, ngx_fuzz_counting, n, ref);

        parts[0].data = ngx_fuzz_counting;
        parts[0].len = n;

        ngx_fuzz_module(key, parts, 1, md);

        ngx_fuzz_assert(ngx_memcmp(md, ref, NGX_FUZZ_HASH_LEN) == 0,
                        ngx_fuzz_counting, n);

        for (cut = 0; cut <= n; cut++) {
            parts[0].data = (cut > 0) ? ngx_fuzz_counting : NULL;
            parts[0].len = cut;
            parts[1].data = (cut < n) ? ngx_fuzz_counting + cut : NULL;
            parts[1].len = n - cut;

            ngx_fuzz_module(key, parts, 2, md);

            ngx_fuzz_assert(ngx_memcmp(md, ref, NGX_FUZZ_HASH_LEN) == 0,
                            ngx_fuzz_counting, n);
        }
    }

    free(key);
}


/*
 * [m, m + len) under "key": the reference, the module in one part, and
 * in the parts that "h" and "seed" say: all the same.
 */

static void
ngx_fuzz_check(const u_char *key, const u_char *m, size_t len, u_char h,
    uint32_t seed)
{
    u_char      *block[NGX_FUZZ_PARTS];
    size_t       pos, cut, off;
    ngx_str_t    parts[NGX_FUZZ_PARTS];
    ngx_uint_t   i, k, n, nblocks;
    u_char       ref[NGX_FUZZ_HASH_LEN], whole[NGX_FUZZ_HASH_LEN];
    u_char       split[NGX_FUZZ_HASH_LEN];

    ngx_fuzz_reference(key, m, len, ref);

    /* one part, in a block of its own size */

    block[0] = malloc(len);
    if (block[0] == NULL && len > 0) {
        abort();
    }

    if (len > 0) {
        ngx_memcpy(block[0], m, len);
    }

    parts[0].data = (len > 0) ? block[0] : NULL;
    parts[0].len = len;

    ngx_fuzz_module(key, parts, 1, whole);

    free(block[0]);

    ngx_fuzz_assert(ngx_memcmp(whole, ref, NGX_FUZZ_HASH_LEN) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);

    /*
     * Parts: h & 0x80, one per byte of the first 256 and the rest; else
     * 1 + (h & 0x3f) of them, cut where "seed" says (empty ones too);
     * h & 0x40, an empty part before each and at the end
     */

    n = 0;
    pos = 0;
    k = (h & 0x80) ? ngx_min(len, NGX_FUZZ_BYTES) + 1 : 1 + (h & 0x3f);

    for (i = 0; i < k; i++) {

        if (h & 0x80) {
            cut = (i + 1 < k) ? 1 : len - pos;

        } else if (i + 1 < k) {
            seed = seed * 1103515245 + 12345;
            cut = (len - pos == 0) ? 0 : (seed >> 8) % (len - pos + 1);

            /* more often short: the words of a part, and its tail */

            if (seed & 1) {
                cut = ngx_min(cut, (seed >> 4) % 17);
            }

        } else {
            cut = len - pos;
        }

        if (h & 0x40) {
            parts[n].data = NULL;
            parts[n].len = 0;
            n++;
        }

        parts[n].data = (m != NULL) ? (u_char *) m + pos : NULL;
        parts[n].len = cut;
        n++;

        pos += cut;
    }

    if (h & 0x40) {
        parts[n].data = NULL;
        parts[n].len = 0;
        n++;
    }

    /* each part a block of its own, from 0 to 7 bytes off an alignment */

    nblocks = 0;

    for (i = 0; i < n; i++) {
        if (parts[i].data == NULL) {
            continue;
        }

        seed = seed * 1103515245 + 12345;
        off = (seed >> 16) & 7;

        block[nblocks] = malloc(off + parts[i].len);
        if (block[nblocks] == NULL) {
            abort();
        }

        if (parts[i].len > 0) {
            ngx_memcpy(block[nblocks] + off, parts[i].data, parts[i].len);
        }

        parts[i].data = block[nblocks] + off;
        nblocks++;
    }

    ngx_fuzz_module(key, parts, n, split);

    for (i = 0; i < nblocks; i++) {
        free(block[i]);
    }

    ngx_fuzz_assert(ngx_memcmp(split, whole, NGX_FUZZ_HASH_LEN) == 0,
                    ngx_fuzz_data, ngx_fuzz_size);
}


/* the module's hash, as bytes: its two words, each little-endian */

static void
ngx_fuzz_module(const u_char *key, ngx_str_t *parts, ngx_uint_t n,
    u_char *md)
{
    u_char      *k;
    uint64_t    *out;
    ngx_uint_t   i;

    k = malloc(NGX_FUZZ_HASH_LEN);
    out = malloc(2 * sizeof(uint64_t));
    if (k == NULL || out == NULL) {
        abort();
    }

    ngx_memcpy(k, key, NGX_FUZZ_HASH_LEN);

    ngx_http_admin_siphash(k, parts, n, out);

    for (i = 0; i < 8; i++) {
        md[i] = (u_char) (out[0] >> (8 * i));
        md[8 + i] = (u_char) (out[1] >> (8 * i));
    }

    free(out);
    free(k);
}


/* SipHash-2-4-128, as the paper describes it, a byte at a time */

static void
ngx_fuzz_reference(const u_char *key, const u_char *m, size_t len,
    u_char *md)
{
    size_t      i, j, words;
    uint64_t    k0, k1, v0, v1, v2, v3, w, h;
    ngx_uint_t  r;

    k0 = 0;
    k1 = 0;

    for (j = 0; j < 8; j++) {
        k0 |= (uint64_t) key[j] << (8 * j);
        k1 |= (uint64_t) key[8 + j] << (8 * j);
    }

    /* "somepseudorandomlygeneratedbytes" */

    v0 = k0 ^ 0x736f6d6570736575;
    v1 = k1 ^ 0x646f72616e646f6d;
    v2 = k0 ^ 0x6c7967656e657261;
    v3 = k1 ^ 0x7465646279746573;

    /* the 128-bit output */

    v1 ^= 0xee;

    /* compression: the padded message, w words; c = 2 rounds each */

    words = len / 8 + 1;

    for (i = 0; i < words; i++) {
        w = 0;

        for (j = 0; j < 8; j++) {
            w |= (uint64_t) ngx_fuzz_padded(m, len, 8 * i + j) << (8 * j);
        }

        v3 ^= w;

        for (r = 0; r < 2; r++) {
            ngx_fuzz_sipround(&v0, &v1, &v2, &v3);
        }

        v0 ^= w;
    }

    /* finalization: d = 4 rounds per output word */

    v2 ^= 0xee;

    for (r = 0; r < 4; r++) {
        ngx_fuzz_sipround(&v0, &v1, &v2, &v3);
    }

    h = v0 ^ v1 ^ v2 ^ v3;

    for (j = 0; j < 8; j++) {
        md[j] = (u_char) (h >> (8 * j));
    }

    v1 ^= 0xdd;

    for (r = 0; r < 4; r++) {
        ngx_fuzz_sipround(&v0, &v1, &v2, &v3);
    }

    h = v0 ^ v1 ^ v2 ^ v3;

    for (j = 0; j < 8; j++) {
        md[8 + j] = (u_char) (h >> (8 * j));
    }
}


/* byte "i" of the message padded: zeros, then its length modulo 256 */

static ngx_inline u_char
ngx_fuzz_padded(const u_char *m, size_t len, size_t i)
{
    if (i < len) {
        return m[i];
    }

    if (i == (len / 8 + 1) * 8 - 1) {
        return (u_char) (len & 0xff);
    }

    return 0;
}


static ngx_inline uint64_t
ngx_fuzz_rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}


/* the paper's figure: two half-rounds side by side */

static void
ngx_fuzz_sipround(uint64_t *v0, uint64_t *v1, uint64_t *v2, uint64_t *v3)
{
    *v0 += *v1;
    *v2 += *v3;
    *v1 = ngx_fuzz_rotl(*v1, 13);
    *v3 = ngx_fuzz_rotl(*v3, 16);
    *v1 ^= *v0;
    *v3 ^= *v2;
    *v0 = ngx_fuzz_rotl(*v0, 32);

    *v2 += *v1;
    *v0 += *v3;
    *v1 = ngx_fuzz_rotl(*v1, 17);
    *v3 = ngx_fuzz_rotl(*v3, 21);
    *v1 ^= *v2;
    *v3 ^= *v0;
    *v2 = ngx_fuzz_rotl(*v2, 32);
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
