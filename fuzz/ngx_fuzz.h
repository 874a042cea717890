
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * What the harnesses share: the pool stand-in's allocation counter and
 * its failure switch, and an HMAC key made the way admin_gate_secret_file
 * makes one.
 */


#ifndef _NGX_FUZZ_H_INCLUDED_
#define _NGX_FUZZ_H_INCLUDED_


#include "ngx_http_admin_module.h"


/* the keys admin_gate_secret_file reads in the harnesses: 32, 98 bytes */
#define NGX_FUZZ_SECRET_SHORT                                                 \
    "fuzz-secret-0123456789abcdefghij"
#define NGX_FUZZ_SECRET_LONG                                                  \
    "fuzz-secret-longer-than-a-sha256-block-so-that-it-is-hashed-first-"     \
    "0123456789abcdefghijklmnopqrstuv"


/* pool allocations made since the counter was last cleared */
extern ngx_uint_t  ngx_fuzz_allocs;

/* 0, or the number of the pool allocation that fails (1: the next one) */
extern ngx_uint_t  ngx_fuzz_fail_at;


ngx_http_admin_hmac_t *ngx_fuzz_secret(const char *secret);
void ngx_fuzz_fail(const char *what, const u_char *data, size_t size);


/* the check the harnesses make: abort, with what failed, on a violation */

#define ngx_fuzz_assert(cond, data, size)                                     \
    if (!(cond)) {                                                            \
        ngx_fuzz_fail(__FILE__ ":" NGX_FUZZ_STR(__LINE__) ": " #cond,         \
                      data, size);                                            \
    }

#define NGX_FUZZ_STR(x)   NGX_FUZZ_STR2(x)
#define NGX_FUZZ_STR2(x)  #x


#endif /* _NGX_FUZZ_H_INCLUDED_ */
