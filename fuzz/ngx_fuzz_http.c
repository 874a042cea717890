
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_json.c answers requests too (ngx_http_admin_json_send),
 * which needs nginx's HTTP runtime; the harness fuzzes only its parsers.
 * These stand in for what the linker asks for, and abort if ever called.
 */


#include "ngx_fuzz.h"

#include <stdio.h>
#include <stdlib.h>


static void ngx_fuzz_http_called(const char *name);


ngx_int_t
ngx_http_discard_request_body(ngx_http_request_t *r)
{
    ngx_fuzz_http_called("ngx_http_discard_request_body");
    return NGX_ERROR;
}


void *
ngx_list_push(ngx_list_t *list)
{
    ngx_fuzz_http_called("ngx_list_push");
    return NULL;
}


ngx_int_t
ngx_http_send_header(ngx_http_request_t *r)
{
    ngx_fuzz_http_called("ngx_http_send_header");
    return NGX_ERROR;
}


ngx_int_t
ngx_http_output_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_fuzz_http_called("ngx_http_output_filter");
    return NGX_ERROR;
}


static void
ngx_fuzz_http_called(const char *name)
{
    fprintf(stderr, "ngx_fuzz_http: %s() called: the HTTP runtime is not "
            "part of the harness\n", name);
    abort();
}
