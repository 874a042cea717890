
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_JSON_H_INCLUDED_
#define _NGX_HTTP_ADMIN_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the answers the gate gives on its own, in the order of the table */

typedef enum {
    NGX_HTTP_ADMIN_ERR_MISSING = 0,
    NGX_HTTP_ADMIN_ERR_INVALID_HEADER,
    NGX_HTTP_ADMIN_ERR_TOO_MANY,
    NGX_HTTP_ADMIN_ERR_MIXING,
    NGX_HTTP_ADMIN_ERR_UNKNOWN_TOKEN,
    NGX_HTTP_ADMIN_ERR_FORBIDDEN,
    NGX_HTTP_ADMIN_ERR_UNRECOGNIZED,
    NGX_HTTP_ADMIN_ERR_UNAVAILABLE
} ngx_http_admin_err_e;


typedef enum {
    NGX_HTTP_ADMIN_JSON_OK = 0,
    NGX_HTTP_ADMIN_JSON_INVALID,            /* not the document expected */
    NGX_HTTP_ADMIN_JSON_NOMEM
} ngx_http_admin_json_e;


ngx_http_admin_json_e ngx_http_admin_json_whoami(ngx_pool_t *pool,
    ngx_str_t *body, ngx_str_t *user, const char **why);
ngx_http_admin_json_e ngx_http_admin_json_matrix_error(ngx_pool_t *pool,
    ngx_str_t *body);


ngx_int_t ngx_http_admin_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_http_admin_json_send_error(ngx_http_request_t *r,
    ngx_http_admin_err_e err);


#endif /* _NGX_HTTP_ADMIN_JSON_H_INCLUDED_ */
