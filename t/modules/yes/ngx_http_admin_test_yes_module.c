
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * For t/018-satisfy-any.t only: an access module that says yes (NGX_OK)
 * to every request carrying an "X-Let-Me-In" header, and has no opinion
 * otherwise.  Loaded after ngx_http_admin_module and declaring no module
 * order, its ACCESS handler runs before the gate's, so under "satisfy
 * any" it ends the ACCESS phase before the gate has run.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


static ngx_int_t ngx_http_admin_test_yes_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_admin_test_yes_init(ngx_conf_t *cf);


static ngx_http_module_t  ngx_http_admin_test_yes_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_admin_test_yes_init,          /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_admin_test_yes_module = {
    NGX_MODULE_V1,
    &ngx_http_admin_test_yes_module_ctx,   /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_admin_test_yes_handler(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("X-Let-Me-In") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Let-Me-In",
                               sizeof("X-Let-Me-In") - 1) == 0)
        {
            return NGX_OK;
        }
    }
}


static ngx_int_t
ngx_http_admin_test_yes_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_admin_test_yes_handler;

    return NGX_OK;
}
