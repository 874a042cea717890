
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "ngx_http_admin_digest.h"


/* where the keys live, until exit */
static ngx_pool_t  *ngx_fuzz_conf_pool;


/*
 * An HMAC key as "admin_gate_secret_file" makes it: the secret goes into a
 * file of mode 0600 (mkstemp's), and the directive's handler reads it;
 * the key stays in a pool of its own until exit.
 */

ngx_http_admin_hmac_t *
ngx_fuzz_secret(const char *secret)
{
    int                     fd;
    char                   *rv;
    size_t                  len;
    ngx_log_t               log;
    ngx_str_t               args[2];
    ngx_conf_t              cf;
    ngx_array_t             a;
    ngx_command_t           cmd;
    ngx_http_admin_hmac_t  *key;
    char                    name[] = "/tmp/ngx_fuzz_secret.XXXXXX";

    fd = mkstemp(name);
    if (fd == -1) {
        perror("ngx_fuzz_secret: mkstemp");
        abort();
    }

    len = strlen(secret);

    if (write(fd, secret, len) != (ssize_t) len) {
        perror("ngx_fuzz_secret: write");
        abort();
    }

    close(fd);

    ngx_memzero(&log, sizeof(ngx_log_t));
    ngx_memzero(&cf, sizeof(ngx_conf_t));
    ngx_memzero(&a, sizeof(ngx_array_t));
    ngx_memzero(&cmd, sizeof(ngx_command_t));

    ngx_str_set(&args[0], "admin_gate_secret_file");
    args[1].data = (u_char *) name;
    args[1].len = strlen(name);

    a.elts = args;
    a.nelts = 2;
    a.size = sizeof(ngx_str_t);
    a.nalloc = 2;

    log.log_level = NGX_LOG_WARN;

    if (ngx_fuzz_conf_pool == NULL) {
        ngx_fuzz_conf_pool = ngx_create_pool(1024, NULL);
        if (ngx_fuzz_conf_pool == NULL) {
            abort();
        }
    }

    cf.args = &a;
    cf.log = &log;
    cf.pool = ngx_fuzz_conf_pool;
    cf.temp_pool = ngx_create_pool(1024, &log);

    if (cf.temp_pool == NULL) {
        abort();
    }

    key = NGX_CONF_UNSET_PTR;
    cmd.offset = 0;

    rv = ngx_http_admin_secret_file(&cf, &cmd, &key);

    unlink(name);
    ngx_destroy_pool(cf.temp_pool);

    if (rv != NGX_CONF_OK) {
        fprintf(stderr, "ngx_fuzz_secret: the secret was refused\n");
        abort();
    }

    return key;
}
